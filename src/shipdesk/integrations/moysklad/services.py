"""MoySklad connections (write side): connect, receive webhooks, turn orders that reach the
trigger state into registered shipments, write numbers and statuses back, post the money.

The work of a connection runs as one idempotent pass (:func:`connection_run`), due when a
webhook names orders and periodically while orders are on their way:

1. **fetch**: the orders webhooks named are read from MoySklad, 100 a request (with their
   buyer and goods); one that is in the trigger state and has no shipment yet becomes one
   through the shipments intake service (the organization's delivery rules choose carrier
   and service; registration with the carrier follows as the intake dispatches it); an
   order without an address or with an unknown delivery type becomes a problem instead;
   one whose address or goods changed while its shipment is on its way is flagged for the
   operator;
2. **push**: tracking number, carrier status (mapped to the account's states) and problems
   are written back, 1000 orders a request, never overwriting a state a person set after
   ours;
3. **money**: finance's receivables of these orders become MoySklad documents, each with a
   ``syncId`` of its own (payment in, services accepted, services paid, "Completed"; on a
   refusal a return based on the demand and "Returned").

A revoked token pauses the connection (the organization sees why on the page) until a new
token is saved; MoySklad's 5xx and 429 are retried by the transport and the pass, nothing is
lost.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from shipdesk.integrations.models import (
    MoySkladConnection,
    MoySkladOrder,
    MoySkladWebhookDelivery,
)
from shipdesk.integrations.moysklad.base import FINAL, MAPPABLE, RunOutcome
from shipdesk.integrations.moysklad.client import (
    Credentials,
    MoySkladClient,
    MoySkladError,
    TokenRevoked,
    id_of,
)
from shipdesk.integrations.moysklad.flowback import push_back
from shipdesk.integrations.moysklad.intake import fetch_due_orders, order_to_shipment
from shipdesk.integrations.moysklad.money import post_money
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit, system_actor

log = logging.getLogger(__name__)

RUN_AGAIN = timedelta(minutes=2)  # while orders are on their way
SOON = timedelta(seconds=20)  # while shipments are being registered
LOCK_SECONDS = 600
__all__ = ["MAPPABLE", "RunOutcome", "order_to_shipment"]


# --- the connection ----------------------------------------------------------------------

def webhook_url(connection: MoySkladConnection, public_url: str = "") -> str:
    path = reverse("api:moysklad_webhook", kwargs={"token": connection.webhook_token})
    return f"{(public_url or settings.PUBLIC_URL).rstrip('/')}{path}"


def webhook_prefix() -> str:
    return f"{settings.PUBLIC_URL}/api/v1/integrations/moysklad/"


def client_for(connection: MoySkladConnection) -> MoySkladClient:
    creds: dict[str, Any] = dict(connection.credentials or {})  # type: ignore[arg-type]
    return MoySkladClient(
        base_url=connection.base_url, key=f"conn-{connection.pk}",
        credentials=Credentials(token=creds.get("token", ""), login=creds.get("login", ""),
                                password=creds.get("password", "")),
        webhook_prefix=webhook_prefix(), options=creds.get("options") or None)


def _read_account(connection: MoySkladConnection, client: MoySkladClient) -> None:
    metadata = client.order_metadata()
    connection.states = [{"id": s["id"], "name": s["name"], "stateType": s.get("stateType", "")}
                         for s in metadata.get("states", [])]
    connection.attributes = [{"id": a["id"], "name": a["name"], "type": a.get("type", "")}
                             for a in metadata.get("attributes", [])]
    seller = client.first("organization")
    if seller is not None:
        connection.organization_href = seller["meta"]["href"]
        connection.account_id = seller.get("accountId", "")


def _guess(connection: MoySkladConnection) -> None:
    """Sensible first choices by the states' and fields' usual names (changed on the page)."""
    by_name = {s["name"].lower(): s["id"] for s in connection.states}
    attrs = {a["name"].lower(): a["id"] for a in connection.attributes}

    def pick(*names: str) -> str:
        return next((by_name[n] for n in names if n in by_name), "")

    connection.problem_state_id = connection.problem_state_id or pick("проблема доставки",
                                                                      "проблема")
    connection.completed_state_id = connection.completed_state_id or pick("выполнен")
    connection.returned_state_id = connection.returned_state_id or pick("возврат")
    connection.tracking_attribute_id = connection.tracking_attribute_id or attrs.get(
        "трек-номер", "")
    connection.delivery_attribute_id = connection.delivery_attribute_id or attrs.get(
        "способ доставки", "")
    if not connection.state_map:
        guesses = {"numbered": pick("передан в доставку"), "in_transit": pick("в пути"),
                   "delivered": pick("доставлен"), "returned": pick("возврат")}
        connection.state_map = {k: v for k, v in guesses.items() if v}


def connection_connect(*, actor: Actor, base_url: str = "", token: str = "", login: str = "",
                       password: str = "", name: str = "",
                       public_url: str = "") -> MoySkladConnection:
    """Connects (or reconnects, with a new token) the organization's MoySklad account: the
    token is checked by reading the account's states and fields, and we subscribe to its
    customer orders' changes (at ``public_url``, the installation's address by default)."""
    actor.require(Perm.MANAGE_SETTINGS)
    if not token and not (login and password):
        raise ValidationFailed(errors=[FieldError(("token",), _(
            "Укажите токен МоегоСклада или логин и пароль"))])
    connection = MoySkladConnection.objects.filter(organization=actor.organization).first()
    if connection is None:
        connection = MoySkladConnection(organization=actor.organization)
    connection.base_url = (base_url or connection.base_url).rstrip("/")
    connection.name = name or connection.name
    connection.credentials = {"token": token}  # type: ignore[assignment]
    if not token:
        connection.credentials = {"login": login, "password": password}  # type: ignore[assignment]
    connection.save()
    client = client_for(connection)
    try:
        if not token:
            connection.credentials = {"token": client.token_issue()}  # type: ignore[assignment]
            client = client_for(connection)
        _read_account(connection, client)
        hook_url = webhook_url(connection, public_url)
        hook_ids = {h["id"] for h in client.webhooks() if h["url"] == hook_url}
        for action in ("UPDATE", "CREATE"):
            hook = client.webhook_subscribe(url=hook_url, action=action)
            hook_ids.add(hook["id"])
    except TokenRevoked as exc:
        raise ValidationFailed(errors=[FieldError(("token",), _(
            "МойСклад не принял токен: %(e)s") % {"e": exc.message})]) from exc
    except MoySkladError as exc:
        raise ValidationFailed(errors=[FieldError(("base_url",), _(
            "МойСклад недоступен: %(e)s") % {"e": exc.message})]) from exc
    finally:
        client.close()
    connection.webhook_ids = sorted(hook_ids)
    _guess(connection)
    connection.is_active = True
    connection.paused_reason, connection.paused_at, connection.last_error = "", None, ""
    if MoySkladOrder.objects.filter(connection=connection, fetch_due=True).exists():
        connection.due_at = timezone.now()  # what came while paused is taken now
    connection.save()
    audit(actor, "moysklad.connect", connection, base_url=connection.base_url)
    return connection


def connection_get(*, actor: Actor) -> MoySkladConnection | None:
    return MoySkladConnection.objects.filter(organization=actor.organization).first()


def connection_configure(*, actor: Actor, trigger_state_id: str, problem_state_id: str = "",
                         completed_state_id: str = "", returned_state_id: str = "",
                         state_map: dict[str, str] | None = None,
                         tracking_attribute_id: str = "", delivery_attribute_id: str = "",
                         delivery_map: dict[str, str] | None = None) -> MoySkladConnection:
    """The rule "an order reaching state X is shipped" and what is written back where."""
    actor.require(Perm.MANAGE_SETTINGS)
    connection = connection_get(actor=actor)
    if connection is None:
        raise NotFound(_("МойСклад не подключён"))
    states = {s["id"] for s in connection.states}
    attributes = {a["id"] for a in connection.attributes}
    errors: list[FieldError] = []
    if not trigger_state_id:
        errors.append(FieldError(("trigger_state_id",), _(
            "Выберите состояние заказа, с которого начинается доставка")))
    for name, value in (("trigger_state_id", trigger_state_id),
                        ("problem_state_id", problem_state_id),
                        ("completed_state_id", completed_state_id),
                        ("returned_state_id", returned_state_id)):
        if value and value not in states:
            errors.append(FieldError((name,), _("Такого состояния нет в вашем МоёмСкладе")))
    clean_map = {k: v for k, v in (state_map or {}).items() if v}
    for status, value in clean_map.items():
        if status not in MAPPABLE:
            errors.append(FieldError(("state_map", status), _("Неизвестный статус Shipdesk")))
        elif value not in states:
            errors.append(FieldError(("state_map", status), _(
                "Такого состояния нет в вашем МоёмСкладе")))
    for name, value in (("tracking_attribute_id", tracking_attribute_id),
                        ("delivery_attribute_id", delivery_attribute_id)):
        if value and value not in attributes:
            errors.append(FieldError((name,), _("Такого доп. поля нет у заказов покупателей")))
    if trigger_state_id and trigger_state_id in clean_map.values():
        errors.append(FieldError(("state_map",), _(
            "Состояние-триггер не может быть и состоянием доставки: заказ ушёл бы по кругу")))
    if errors:
        raise ValidationFailed(errors=errors)
    connection.trigger_state_id = trigger_state_id
    connection.problem_state_id = problem_state_id
    connection.completed_state_id = completed_state_id
    connection.returned_state_id = returned_state_id
    connection.state_map = clean_map
    connection.tracking_attribute_id = tracking_attribute_id
    connection.delivery_attribute_id = delivery_attribute_id
    connection.delivery_map = {k.strip(): v.strip() for k, v in (delivery_map or {}).items()
                               if k.strip() and v.strip()}
    connection.save()
    audit(actor, "moysklad.configure", connection, trigger_state_id=trigger_state_id,
          state_map=clean_map)
    return connection


# --- webhooks in -----------------------------------------------------------------------------

@dataclass
class WebhookOutcome:
    accepted: int = 0
    duplicate: bool = False


def webhook_receive(*, token: str, request_id: str, body: bytes) -> WebhookOutcome:
    """A notification from MoySklad: only remembered (the orders it names are due to be
    read) and answered at once; the work runs after. The same ``requestId`` again (MoySklad
    repeats a notification it thinks failed) changes nothing. An unknown address, or events
    of another account, are refused and logged."""
    connection = MoySkladConnection.objects.filter(webhook_token=token).first() if token else None
    if connection is None:
        log.warning("moysklad webhook with an unknown token refused")
        raise NotFound(_("Неизвестный адрес уведомлений"))
    try:
        data = json.loads(body.decode("utf-8"))
        events = data["events"]
        if not isinstance(events, list):
            raise TypeError("events")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        log.warning("moysklad webhook for connection %s not understood: %s", connection.pk, exc)
        raise ValidationFailed(_("Уведомление МоегоСклада не разобрано")) from exc
    foreign = [e for e in events if connection.account_id
               and e.get("accountId") not in (None, connection.account_id)]
    if foreign:
        log.warning("moysklad webhook for connection %s names another account %s: refused",
                    connection.pk, foreign[0].get("accountId"))
        raise Forbidden(_("Уведомление относится к другому аккаунту МоегоСклада"))
    order_ids = list(dict.fromkeys(
        id_of(e) for e in events if (e.get("meta") or {}).get("type") == "customerorder"))
    request_id = (request_id or "")[:64] or str(uuid.uuid4())
    with transaction.atomic():
        _delivery, created = MoySkladWebhookDelivery.objects.get_or_create(
            organization_id=connection.organization_id, connection=connection,
            request_id=request_id, defaults={"events": len(events)})
        if not created:
            return WebhookOutcome(accepted=0, duplicate=True)
        orders_mark_due(connection, order_ids)
        MoySkladConnection.objects.filter(pk=connection.pk).update(due_at=timezone.now())
        transaction.on_commit(lambda: _dispatch(connection.pk))
    return WebhookOutcome(accepted=len(order_ids))


def orders_mark_due(connection: MoySkladConnection, order_ids: Sequence[str]) -> None:
    if not order_ids:
        return
    known = set(MoySkladOrder.objects.filter(connection=connection, order_id__in=order_ids)
                .values_list("order_id", flat=True))
    MoySkladOrder.objects.bulk_create([
        MoySkladOrder(organization_id=connection.organization_id, connection=connection,
                      order_id=order_id, fetch_due=True)
        for order_id in order_ids if order_id not in known], ignore_conflicts=True)
    if known:
        MoySkladOrder.objects.filter(connection=connection, order_id__in=list(known)).update(
            fetch_due=True)


def _dispatch(connection_id: int) -> None:
    from shipdesk.integrations.tasks import moysklad_run

    moysklad_run.delay([connection_id])


# --- the pass ----------------------------------------------------------------------------------

def connections_run(connection_ids: Iterable[int]) -> list[RunOutcome]:
    return [connection_run(connection_id=pk) for pk in connection_ids]


def connection_run(*, connection_id: int) -> RunOutcome:
    """One pass over a connection's due work (idempotent; one at a time per connection: a
    pass that finds another running leaves the work to it, which loops while orders are
    due)."""
    outcome = RunOutcome()
    lock = f"moysklad-run-{connection_id}"
    if not cache.add(lock, 1, LOCK_SECONDS):
        return outcome
    try:
        connection = MoySkladConnection.objects.select_related("organization").get(
            pk=connection_id)
        if not connection.is_active or connection.paused_at is not None:
            outcome.paused = connection.paused_at is not None
            return outcome
        client = client_for(connection)
        try:
            for _round in range(100):  # webhooks arriving meanwhile are taken in this pass
                fetched = fetch_due_orders(connection, client, outcome)
                if not fetched:
                    break
            push_back(connection, client, outcome)
            post_money(connection, client, outcome)
        except TokenRevoked as exc:
            _pause(connection, exc)
            outcome.paused = True
            return outcome
        except MoySkladError as exc:
            log.warning("moysklad connection %s: %s", connection.pk, exc.message)
            outcome.error = exc.message
            connection.last_error = exc.message[:1000]
            connection.due_at = timezone.now() + timedelta(minutes=1)
            connection.save(update_fields=["last_error", "due_at", "updated_at"])
            return outcome
        finally:
            client.close()
        active = MoySkladOrder.objects.filter(connection=connection, shipment__isnull=False
                                              ).exclude(pushed_status__in=FINAL).exists()
        connection.due_at = timezone.now() + RUN_AGAIN if active else None
        if outcome.waiting:  # their numbers go to the orders as soon as the carrier gives them
            connection.due_at = timezone.now() + SOON
        if MoySkladOrder.objects.filter(connection=connection, fetch_due=True).exists():
            # named by a webhook after our last read (its own dispatch found us running)
            connection.due_at = timezone.now()
        connection.last_error = ""
        connection.save(update_fields=["due_at", "last_error", "updated_at"])
        return outcome
    finally:
        cache.delete(lock)


def _pause(connection: MoySkladConnection, exc: MoySkladError) -> None:
    """A revoked token: the connection waits for a new one; the organization is told on the
    connection page (and in the audit log)."""
    log.warning("moysklad connection %s paused: %s", connection.pk, exc.message)
    connection.paused_at = timezone.now()
    connection.paused_reason = _(
        "МойСклад отклонил токен (%(e)s): обмен приостановлен. Выпустите новый токен в "
        "МоёмСкладе и сохраните его здесь — заказы, пришедшие за это время, будут взяты.") % {
        "e": exc.message}
    connection.due_at = None
    connection.save(update_fields=["paused_at", "paused_reason", "due_at", "updated_at"])
    audit(system_actor(connection.organization), "moysklad.paused", connection,
          reason=exc.message)


# --- operator actions ------------------------------------------------------------------------

def order_edit_accept(*, actor: Actor, order_id: int) -> MoySkladOrder:
    """The operator checked an order edited while its shipment was on its way."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    row = MoySkladOrder.objects.filter(organization=actor.organization, pk=order_id).first()
    if row is None:
        raise NotFound(_("Заказ не найден"))
    row.edited_in_flight = False
    row.problem_kind = row.problem = ""
    row.fetch_due = True  # read again: the accepted content becomes the reference
    row.content_hash = ""
    row.save(update_fields=["edited_in_flight", "problem_kind", "problem", "fetch_due",
                            "content_hash", "updated_at"])
    audit(actor, "moysklad.edit_accepted", row, order=row.name)
    return row


def orders_labels_pdf(*, actor: Actor, order_ids: Sequence[int]) -> bytes:
    """The labels of the chosen MoySklad orders' shipments, every carrier, one PDF."""
    from shipdesk.documents.services import shipment_labels_pdf

    rows = list(MoySkladOrder.objects.filter(organization=actor.organization, pk__in=list(
        order_ids), shipment__isnull=False).values_list("shipment_id", flat=True))
    if not rows:
        raise ValidationFailed(errors=[FieldError(("order_ids",), _(
            "Выберите заказы, по которым созданы отправления"))])
    return shipment_labels_pdf(actor=actor, shipment_ids=[r for r in rows if r is not None])

