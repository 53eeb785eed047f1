"""Notifications: reads (outbox, reports)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from shipdesk.core.errors import NotFound
from shipdesk.notifications.models import ChannelConfig, Message, MessageStatus, Rule, Suppression, Template
from shipdesk.tenancy.services import Actor

SENT_STATES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)


def outbox_list(*, actor: Actor, status: str = "", rule: str = "", shipment_id: int | None = None,
                before_id: int | None = None, limit: int = 50) -> list[Message]:
    qs: QuerySet[Message] = Message.objects.filter(organization=actor.organization)
    if status:
        qs = qs.filter(status=status)
    if rule:
        qs = qs.filter(rule=rule)
    if shipment_id:
        qs = qs.filter(shipment_id=shipment_id)
    if before_id:
        qs = qs.filter(pk__lt=before_id)
    return list(qs.select_related("shipment").order_by("-pk")[:limit])


def outbox_get(*, actor: Actor, message_id: int) -> Message:
    msg = Message.objects.filter(organization=actor.organization, pk=message_id).first()
    if msg is None:
        raise NotFound("Сообщение не найдено")
    return msg


def rules_list(*, actor: Actor) -> list[Rule]:
    from shipdesk.notifications.services import settings_ensure

    settings_ensure(organization=actor.organization)
    return list(Rule.objects.filter(organization=actor.organization).order_by("pk"))


def templates_list(*, actor: Actor) -> list[Template]:
    return list(Template.objects.filter(organization=actor.organization).order_by("rule",
                                                                                  "channel"))


def channels_list(*, actor: Actor) -> list[ChannelConfig]:
    return list(ChannelConfig.objects.filter(organization=actor.organization).order_by("gateway"))


def suppressions_list(*, actor: Actor, q: str = "") -> list[Suppression]:
    """The newest 500 switched-off recipients, optionally those whose address contains ``q``
    (digits of a phone, part of an e-mail)."""
    rows = Suppression.objects.filter(organization=actor.organization)
    if q.strip():
        rows = rows.filter(address__icontains=q.strip().lstrip("+").lower())
    return list(rows.order_by("-pk")[:500])


def notifications_report(*, actor: Actor) -> dict[str, Any]:
    """Sent/delivered per rule and channel, SMS cost, and picked up vs returned for
    shipments with and without notifications."""
    from shipdesk.shipments.models import Shipment

    org = actor.organization
    rows = (Message.objects.filter(organization=org)
            .values("rule", "channel")
            .annotate(total=Count("id"),
                      sent=Count("id", filter=Q(status__in=SENT_STATES)),
                      delivered=Count("id", filter=Q(status=MessageStatus.DELIVERED)),
                      failed=Count("id", filter=Q(status__in=(MessageStatus.FAILED,
                                                              MessageStatus.UNDELIVERED))),
                      skipped=Count("id", filter=Q(status=MessageStatus.SKIPPED)),
                      unknown=Count("id", filter=Q(status=MessageStatus.UNKNOWN)),
                      cost=Sum("cost"))
            .order_by("rule", "channel"))
    by_rule: list[dict[str, Any]] = [dict(r, cost=r["cost"] or Decimal("0")) for r in rows]
    sms_cost = sum((r["cost"] for r in by_rule if r["channel"] == "sms"), Decimal("0"))
    notified = Message.objects.filter(organization=org, status__in=SENT_STATES,
                                      rule__in=("arrived", "reminder")).values("shipment_id")
    done = Shipment.objects.filter(organization=org,
                                   tracking_status__in=("delivered", "returned"))
    outcome = []
    for label, qs in (("with", done.filter(pk__in=notified)),
                      ("without", done.exclude(pk__in=notified))):
        counts = qs.aggregate(total=Count("id"),
                              picked=Count("id", filter=Q(tracking_status="delivered")),
                              returned=Count("id", filter=Q(tracking_status="returned")))
        total = counts["total"] or 0
        outcome.append({"group": label, **counts,
                        "picked_share": round(100 * counts["picked"] / total, 1) if total else None,
                        "returned_share": round(100 * counts["returned"] / total, 1)
                        if total else None})
    return {"by_rule": by_rule, "sms_cost": sms_cost, "outcome": outcome}


# the messages that tell a recipient the parcel waits for them
_ARRIVAL_RULES = ("arrived", "reminder")


def arrival_rules() -> tuple[str, ...]:
    """The rules whose message tells a recipient the parcel waits (the statistics' rebuild
    asks the same question as :func:`shipments_notified_of_arrival` in SQL)."""
    return _ARRIVAL_RULES


def shipments_notified_of_arrival(*, shipment_ids: Sequence[int]) -> set[int]:
    """Which of these shipments' recipients were told (a message sent) that the parcel
    waits for them: the statistics compare their pickups and returns with the others'.
    One query, on the outbox's (shipment, ...) key."""
    found: set[int] = set()
    ids = sorted(set(shipment_ids))
    for i in range(0, len(ids), 5000):
        found.update(Message.objects.filter(
            shipment_id__in=ids[i:i + 5000], rule__in=_ARRIVAL_RULES,
            status__in=(MessageStatus.SENT, MessageStatus.DELIVERED),
        ).values_list("shipment_id", flat=True).distinct())
    return found
