"""The weekly statistics e-mailed to the members an owner chose (due work on the
organization's :class:`AnalyticsSettings`: Monday 08:00 in its zone, last week's figures
against the week before)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.analytics import selectors
from shipdesk.analytics.models import AnalyticsSettings
from shipdesk.core.errors import FieldError, ValidationFailed
from shipdesk.tenancy.models import Membership, Organization, Role
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor


def next_report_at(now: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The next Monday 08:00 in ``tz`` after ``now``."""
    local = now.astimezone(tz)
    at = (local + timedelta(days=(7 - local.weekday()) % 7)).replace(
        hour=8, minute=0, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=7)
    return at.astimezone(zoneinfo.ZoneInfo("UTC"))


def weekly_report_recipients_set(*, actor: Actor, emails: Sequence[str]) -> AnalyticsSettings:
    """Chooses who gets the weekly report: members of the organization only."""
    actor.require(Perm.MANAGE_SETTINGS)
    wanted = sorted({e.strip().lower() for e in emails if e.strip()})
    members = {e.lower() for e in Membership.objects.filter(
        organization=actor.organization, user__email__in=wanted).values_list(
        "user__email", flat=True)}
    strangers = [e for e in wanted if e not in members]
    if strangers:
        raise ValidationFailed(_("Отчёт можно отправлять только сотрудникам организации"),
                               errors=[FieldError(("emails",), _("Не сотрудник: %(e)s") % {
                                   "e": ", ".join(strangers)})])
    row, _created = AnalyticsSettings.objects.get_or_create(organization=actor.organization)
    row.weekly_emails = ",".join(wanted)
    if row.next_report_at is None:
        row.next_report_at = next_report_at(timezone.now(), actor.organization.zone)
    row.save()
    return row


def weekly_report_settings(*, actor: Actor) -> dict[str, Any]:
    """The members who may get the weekly report, which of them do, and when it goes next."""
    actor.require(Perm.VIEW)
    row = AnalyticsSettings.objects.filter(organization=actor.organization).first()
    chosen = set((row.weekly_emails if row else "").split(","))
    emails = sorted(Membership.objects.filter(organization=actor.organization)
                    .values_list("user__email", flat=True))
    return {"members": [(e, e.lower() in chosen) for e in emails],
            "next_report_at": row.next_report_at if row and row.weekly_emails else None}


def _cod_week(days: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The week's cash on delivery: collected, paid out to us, and what the carriers owed
    at its last day (None for a shop without COD that week)."""
    if not days:
        return None
    return {"collected": sum((d["collected"] for d in days), Decimal("0")),
            "paid": sum((d["paid"] for d in days), Decimal("0")),
            "owed": days[-1]["owed"]}


def weekly_reports_send(*, settings_ids: Sequence[int]) -> int:
    orgs = AnalyticsSettings.objects.filter(pk__in=list(settings_ids)).values_list(
        "organization_id", flat=True)
    return sum(weekly_report_send(organization_id=o) for o in orgs)


def weekly_report_send(*, organization_id: int, now: datetime | None = None) -> bool:
    """Sends last week's figures (Monday to Sunday, against the week before) once per
    week; True when sent."""
    now = now or timezone.now()
    org = Organization.objects.get(pk=organization_id)
    row, _created = AnalyticsSettings.objects.get_or_create(organization=org)
    today = now.astimezone(org.zone).date()
    row.next_report_at = next_report_at(now, org.zone)
    monday = today - timedelta(days=today.weekday())
    if row.last_report_on == monday or not row.weekly_emails:
        row.save(update_fields=["next_report_at", "updated_at"])
        return False
    owner = Membership.objects.filter(organization=org, role=Role.OWNER).first()
    actor = Actor(organization=org, role=Role.OWNER, user=owner.user if owner else None)
    f = selectors.Filters(date_from=monday - timedelta(days=7),
                          date_to=monday - timedelta(days=1), compare="previous")
    context = {"organization": org, "f": f, "totals": selectors.totals(actor=actor, f=f),
               "carriers": selectors.by_carrier(actor=actor, f=f),
               "reasons": selectors.return_reasons(actor=actor, f=f),
               "notified": selectors.notified_effect(actor=actor, f=f),
               "cod": _cod_week(selectors.cod_by_day(actor=actor, f=f))}
    message = EmailMultiAlternatives(
        subject=_("Статистика за неделю %(start)s–%(end)s") % {
            "start": f.date_from.strftime("%d.%m.%Y"), "end": f.date_to.strftime("%d.%m.%Y")},
        body=render_to_string("analytics/weekly_email.txt", context),
        to=row.weekly_emails.split(","))
    message.attach_alternative(render_to_string("analytics/weekly_email.html", context),
                               "text/html")
    message.send()
    row.last_report_on = monday
    row.save(update_fields=["last_report_on", "next_report_at", "updated_at"])
    return True
