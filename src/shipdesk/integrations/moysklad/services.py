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

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection as db
from django.db import transaction
from django.db.models import Field
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.integrations.models import (
    MoySkladConnection,
    MoySkladOperation,
    MoySkladOrder,
    MoySkladWebhookDelivery,
)
from shipdesk.integrations.moysklad.client import (
    Credentials,
    MoySkladClient,
    MoySkladError,
    TokenRevoked,
    attribute_value,
    entity_meta,
    id_of,
    kopecks,
    state_meta,
)
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit, system_actor

log = logging.getLogger(__name__)

RUN_AGAIN = timedelta(minutes=2)  # while orders are on their way
LOCK_SECONDS = 600
NOTE = "[Shipdesk] "
# Shipdesk statuses a connection can map to the account's states (in this order on the page)
MAPPABLE = ("numbered", "accepted", "in_transit", "arrived_at_pickup", "out_for_delivery",
            "delivered", "returning", "returned", "lost")
FINAL = frozenset({"delivered", "returned", "lost", "cancelled"})
PACKAGING_G = 100


# --- the connection ----------------------------------------------------------------------

def webhook_url(connection: MoySkladConnection) -> str:
    path = reverse("api:moysklad_webhook", kwargs={"token": connection.webhook_token})
    return f"{settings.PUBLIC_URL}{path}"


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
                       password: str = "", name: str = "") -> MoySkladConnection:
    """Connects (or reconnects, with a new token) the organization's MoySklad account: the
    token is checked by reading the account's states and fields, and we subscribe to its
    customer orders' changes."""
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
        hook_ids = {h["id"] for h in client.webhooks() if h["url"] == webhook_url(connection)}
        for action in ("UPDATE", "CREATE"):
            hook = client.webhook_subscribe(url=webhook_url(connection), action=action)
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
        from shipdesk.core.errors import Forbidden

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

@dataclass
class RunOutcome:
    fetched: int = 0
    shipments: int = 0
    problems: int = 0
    edited: int = 0
    pushed: int = 0
    operations: int = 0
    paused: bool = False
    error: str = ""


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
                fetched = _fetch(connection, client, outcome)
                if not fetched:
                    break
            _push(connection, client, outcome)
            _money(connection, client, outcome)
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


def _save_rows(rows: Sequence[MoySkladOrder], fields: Sequence[str]) -> None:
    """Writes these fields of many orders: one ``UPDATE … FROM (VALUES …)`` per 1,000 on
    PostgreSQL (Django's ``bulk_update`` builds a CASE per field and row: minutes for
    10,000), ``bulk_update`` elsewhere."""
    if not rows:
        return
    if db.vendor != "postgresql":
        MoySkladOrder.objects.bulk_update(rows, list(fields), batch_size=500)
        return
    columns = [c for c in (MoySkladOrder._meta.get_field(f) for f in fields)
               if isinstance(c, Field)]
    types = [c.db_type(db) for c in columns]
    names = ", ".join(f'"{c.column}"' for c in columns)
    assign = ", ".join(f'"{c.column}" = v."{c.column}"' for c in columns)
    row_sql = "(%s::bigint, " + ", ".join(f"%s::{t}" for t in types) + ")"
    table = MoySkladOrder._meta.db_table
    with db.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start:start + 1000]
            params: list[Any] = []
            for row in chunk:
                params.append(row.pk)
                params.extend(c.get_db_prep_save(getattr(row, c.attname), db)
                              for c in columns)
            cursor.execute(
                f'UPDATE "{table}" AS t SET {assign} FROM (VALUES '  # noqa: S608 - our columns
                f'{", ".join([row_sql] * len(chunk))}) AS v(id, {names}) WHERE t.id = v.id',
                params)


# --- 1. fetch and intake -------------------------------------------------------------------------

def _fetch(connection: MoySkladConnection, client: MoySkladClient, outcome: RunOutcome) -> int:
    due = list(MoySkladOrder.objects.filter(connection=connection, fetch_due=True)
               .order_by("pk")[:1000])
    if not due:
        return 0
    orders = {o["id"]: o for o in client.orders_by_id([d.order_id for d in due])}
    outcome.fetched += len(orders)
    to_ship: list[tuple[MoySkladOrder, dict[str, Any], str]] = []
    now_changed: list[MoySkladOrder] = []
    for row in due:
        row.fetch_due = False
        order = orders.get(row.order_id)
        if order is None:  # deleted meanwhile
            now_changed.append(row)
            continue
        row.name = str(order.get("name", ""))[:64]
        row.state_id = id_of(order.get("state"))
        row.description = str(order.get("description") or "")
        row.sum_kop = int(order.get("sum") or 0)
        row.agent_href = ((order.get("agent") or {}).get("meta") or {}).get("href", "")
        digest = _content_hash(order)
        if row.shipment_id is not None:
            if row.content_hash and digest != row.content_hash and not row.edited_in_flight:
                row.edited_in_flight = True
                row.problem_kind = "edited"
                row.problem = _(
                    "Заказ изменён в МоёмСкладе после создания отправления (адрес или товары): "
                    "проверьте отправление и подтвердите или отмените его")
                outcome.edited += 1
        elif row.state_id == connection.trigger_state_id and connection.trigger_state_id:
            to_ship.append((row, order, digest))
        now_changed.append(row)
    _save_rows(now_changed, [
        "fetch_due", "name", "state_id", "description", "sum_kop", "agent_href",
        "edited_in_flight", "problem_kind", "problem"])
    if to_ship:
        _intake(connection, to_ship, outcome)
    return len(due)


def _content_hash(order: dict[str, Any]) -> str:
    address = order.get("shipmentAddressFull") or {}
    positions = [(id_of(p.get("assortment")), p.get("quantity"), p.get("price"))
                 for p in ((order.get("positions") or {}).get("rows") or [])]
    text = json.dumps([{k: v for k, v in address.items() if k in (
        "postalCode", "city", "street", "house", "apartment", "addInfo")},
        order.get("shipmentAddress", ""), positions], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _attribute(order: dict[str, Any], attribute_id: str) -> Any:
    for attribute in order.get("attributes") or []:
        if attribute.get("id") == attribute_id or id_of(attribute).endswith(attribute_id):
            value = attribute.get("value")
            if isinstance(value, dict):  # a custom directory's element
                return value.get("name", "")
            return value
    return None


@dataclass
class Mapped:
    data: dict[str, Any] | None = None
    kind: str = ""
    problem: str = ""


def order_to_shipment(connection: MoySkladConnection, order: dict[str, Any]) -> Mapped:
    """A MoySklad customer order as the shipments intake takes it, or the problem why not."""
    from shipdesk.carriers import registry

    address = order.get("shipmentAddressFull") or {}
    if not (address.get("postalCode") or address.get("city")):
        return Mapped(kind="address", problem=_("В заказе нет адреса доставки"))
    data: dict[str, Any] = {"order_number": str(order.get("name", ""))}
    if connection.delivery_attribute_id:
        value = str(_attribute(order, connection.delivery_attribute_id) or "").strip()
        if value:
            target = connection.delivery_map.get(value) or (
                value if value.split(":")[0] in registry.all_codes() else "")
            if not target:
                return Mapped(kind="delivery", problem=_(
                    "Неизвестный способ доставки «%(v)s»: сопоставьте его с перевозчиком на "
                    "странице подключения МоегоСклада") % {"v": value})
            code, _sep, service = target.partition(":")
            data["carrier_code"] = code
            if service:
                data["service_code"] = service
    agent = order.get("agent") or {}
    data.update({
        "recipient_name": agent.get("legalTitle") or agent.get("name", ""),
        "recipient_phone": agent.get("phone", ""), "recipient_email": agent.get("email", ""),
        "index": address.get("postalCode", ""), "city": address.get("city", ""),
        "street": address.get("street", ""), "house": address.get("house", ""),
        "apartment": address.get("apartment", ""),
        "comment": str(order.get("description") or "")[:500]})
    items, weight = [], 0
    for position in (order.get("positions") or {}).get("rows") or []:
        goods = position.get("assortment") or {}
        quantity = max(1, round(float(position.get("quantity") or 1)))
        grams = round(float(goods.get("weight") or 0) * 1000)
        price = Decimal(kopecks(position.get("price") or 0)) / 10_000  # kopecks → rubles
        discount = Decimal(str(position.get("discount") or 0))
        price = (price * (100 - discount) / 100).quantize(Decimal("0.01"))
        items.append({"name": goods.get("name", "") or _("Товар"), "quantity": quantity,
                      "unit_price": price, "weight_g": grams, "article": goods.get("code", "")})
        weight += grams * quantity
    total = Decimal(int(order.get("sum") or 0)) / 100
    paid = Decimal(int(order.get("payedSum") or 0)) / 100
    data.update({"items": items, "weight_g": weight + PACKAGING_G, "declared_value": total,
                 "cod_amount": max(Decimal(0), total - paid)})
    return Mapped(data=data)


def _intake(connection: MoySkladConnection,
            batch: list[tuple[MoySkladOrder, dict[str, Any], str]], outcome: RunOutcome) -> None:
    from shipdesk.shipments.services import shipments_intake

    actor = system_actor(connection.organization)
    rows: list[tuple[int, dict[str, Any]]] = []
    by_ref: dict[int, tuple[MoySkladOrder, str]] = {}
    problems: list[MoySkladOrder] = []
    for n, (row, order, digest) in enumerate(batch):
        mapped = order_to_shipment(connection, order)
        if mapped.data is None:
            row.problem_kind, row.problem, row.push_due = mapped.kind, mapped.problem, True
            problems.append(row)
            continue
        rows.append((n, mapped.data))
        by_ref[n] = (row, digest)
    result = shipments_intake(actor=actor, rows=iter(rows), source="moysklad",
                              loc_prefix=("orders",))
    for item in result.results:
        row, digest = by_ref[item.ref]
        if item.ok:
            row.shipment_id, row.content_hash = item.shipment_id, digest
            row.problem_kind = row.problem = ""
            row.push_due = True
            outcome.shipments += 1
        elif item.errors:
            row.problem_kind = "invalid"
            row.problem = "; ".join(e.message for e in item.errors)[:2000]
            row.push_due = True
            problems.append(row)
    outcome.problems += len(problems)
    _save_rows(
        [r for r, _d in by_ref.values()] + problems,
        ["shipment", "content_hash", "problem_kind", "problem", "push_due"])


# --- 2. push back -------------------------------------------------------------------------------

@dataclass
class _Wanted:
    row: MoySkladOrder
    tracking: str = ""
    status: str = ""
    problem: str = ""
    changes: dict[str, Any] = field(default_factory=dict)


def _shipment_facts(connection: MoySkladConnection, shipment_ids: list[int]
                    ) -> dict[int, dict[str, Any]]:
    from shipdesk.shipments.selectors import shipment_list

    actor = system_actor(connection.organization)
    facts: dict[int, dict[str, Any]] = {}
    for start in range(0, len(shipment_ids), 5000):
        for fact in shipment_list(actor=actor).filter(
                pk__in=shipment_ids[start:start + 5000]).values(
                "pk", "tracking_number", "tracking_status", "registration",
                "registration_error", "state", "carrier_code"):
            facts[fact["pk"]] = dict(fact)
    return facts


def _status_of(fact: dict[str, Any]) -> str:
    if fact["state"] == "cancelled":
        return "cancelled"
    if fact["tracking_status"] and fact["tracking_status"] in MAPPABLE:
        return str(fact["tracking_status"])
    if fact["tracking_number"] and fact["registration"] in ("registered", ""):
        return "numbered"
    return ""


def _push(connection: MoySkladConnection, client: MoySkladClient, outcome: RunOutcome) -> None:
    rows = list(MoySkladOrder.objects.filter(connection=connection).filter(
        push_due=True) | MoySkladOrder.objects.filter(
        connection=connection, shipment__isnull=False).exclude(pushed_status__in=FINAL))
    if not rows:
        return
    facts = _shipment_facts(connection, [r.shipment_id for r in rows if r.shipment_id])
    wanted: list[_Wanted] = []
    quiet = ("push_due", "problem_kind", "problem", "pushed_status", "pushed_tracking")
    before = {id(r): tuple(getattr(r, f) for f in quiet) for r in rows}
    for row in rows:
        want = _Wanted(row)
        fact = facts.get(row.shipment_id) if row.shipment_id else None
        if fact is not None:
            want.tracking = fact["tracking_number"] or ""
            want.status = _status_of(fact)
            if fact["registration"] == "rejected":
                want.problem = _("Перевозчик отклонил отправление: %(e)s") % {
                    "e": fact["registration_error"]}
                row.problem_kind, row.problem = "carrier", want.problem
            elif row.problem_kind == "carrier":
                row.problem_kind = row.problem = ""
        elif row.problem:
            want.problem = row.problem
        if row.problem_kind == "edited":
            want.problem = ""  # the operator decides in Shipdesk; nothing written to the order
        _changes(connection, want)
        row.push_due = False
        if want.changes:
            wanted.append(want)
    writing = {id(w.row) for w in wanted}
    _save_rows([r for r in rows if id(r) not in writing
                and before[id(r)] != tuple(getattr(r, f) for f in quiet)], list(quiet))
    if not wanted:
        return
    body = [{"meta": entity_meta(f"{connection.base_url}/entity/customerorder/{w.row.order_id}",
                                 "customerorder")["meta"], **w.changes} for w in wanted]
    client.update_many("customerorder", body)
    for w in wanted:
        row = w.row
        row.pushed_tracking = w.tracking or row.pushed_tracking
        row.pushed_status = w.status or row.pushed_status
        row.pushed_problem = w.problem
        if "state" in w.changes:
            row.state_we_set = row.state_id = id_of(w.changes["state"])
        if "description" in w.changes:
            row.description = w.changes["description"]
    _save_rows(
        [w.row for w in wanted],
        ["push_due", "problem_kind", "problem", "pushed_tracking", "pushed_status",
         "pushed_problem", "state_we_set", "state_id", "description"])
    outcome.pushed += len(wanted)


def _person_moved(row: MoySkladOrder, connection: MoySkladConnection) -> bool:
    """Whether a person set the order's state after us (then we leave the state alone)."""
    if row.state_we_set:
        return row.state_id != row.state_we_set
    return bool(row.state_id) and row.state_id != connection.trigger_state_id


def _changes(connection: MoySkladConnection, want: _Wanted) -> None:
    row, base = want.row, connection.base_url
    attributes = []
    if want.tracking and want.tracking != row.pushed_tracking and connection.tracking_attribute_id:
        attributes.append(attribute_value(base, connection.tracking_attribute_id, want.tracking))
    if attributes:
        want.changes["attributes"] = attributes
    state = ""
    if want.problem and want.problem != row.pushed_problem:
        state = connection.problem_state_id
        note = f"{NOTE}{want.problem}"
        if note not in row.description:
            want.changes["description"] = (f"{row.description}\n{note}" if row.description
                                           else note)[:4096]
    elif want.status and want.status != row.pushed_status:
        state = connection.state_map.get(want.status, "")
    if state and state != row.state_id and not _person_moved(row, connection):
        want.changes["state"] = state_meta(base, state)
    if not want.changes:  # nothing to write (a person's state kept): remember what we saw
        row.pushed_status = want.status or row.pushed_status
        row.pushed_tracking = want.tracking or row.pushed_tracking


# --- 3. money -----------------------------------------------------------------------------------

def _money(connection: MoySkladConnection, client: MoySkladClient, outcome: RunOutcome) -> None:
    """Finance's paid and refused receivables of this connection's orders, posted once."""
    from shipdesk.finance import selectors as finance

    actor = system_actor(connection.organization)
    linked = dict(MoySkladOrder.objects.filter(connection=connection, shipment__isnull=False)
                  .values_list("shipment_id", "pk"))
    if not linked:
        return
    done = set(MoySkladOperation.objects.filter(connection=connection).exclude(entity_id="")
               .values_list("order_id", "kind"))
    receivables = [r for r in list(finance.orders(actor=actor, state="paid", limit=10_000))
                   + list(finance.returns(actor=actor, limit=10_000))
                   if r.shipment_id in linked]
    if not receivables:
        return
    orders = {o.pk: o for o in MoySkladOrder.objects.filter(pk__in=[linked[r.shipment_id]
                                                                    for r in receivables])}
    for receivable in receivables:
        order = orders[linked[receivable.shipment_id]]
        outcome.operations += _post_order_money(connection, client, order, receivable, done)


def _operation(connection: MoySkladConnection, order: MoySkladOrder, kind: str
               ) -> MoySkladOperation:
    operation, _created = MoySkladOperation.objects.get_or_create(
        connection=connection, order=order, kind=kind,
        defaults={"organization_id": connection.organization_id, "sync_id": uuid.uuid4()})
    return operation


def _create_once(connection: MoySkladConnection, client: MoySkladClient, order: MoySkladOrder,
                 kind: str, data: dict[str, Any], done: set[tuple[int, str]]) -> str:
    """Creates the document with its own ``syncId`` (kept before sending: a lost answer is
    sent again with the same one and MoySklad answers with the document already made)."""
    operation = _operation(connection, order, kind)
    if operation.entity_id:
        return operation.entity_id
    answer = client.create(kind, {**data, "syncId": str(operation.sync_id)})
    operation.entity_id = answer["id"]
    operation.sum_kop = int(answer.get("sum") or data.get("sum") or 0)
    operation.save(update_fields=["entity_id", "sum_kop", "updated_at"])
    done.add((order.pk, kind))
    return operation.entity_id


def _post_order_money(connection: MoySkladConnection, client: MoySkladClient,
                      order: MoySkladOrder, receivable: Any, done: set[tuple[int, str]]) -> int:
    kinds_before = len(done)
    base = connection.base_url
    order_meta = entity_meta(f"{base}/entity/customerorder/{order.order_id}", "customerorder")
    seller = entity_meta(connection.organization_href, "organization")
    agent = entity_meta(order.agent_href, "counterparty")
    demand_id = order.demand_id
    if not demand_id:
        template = client.demand_template(order_meta["meta"]["href"])
        positions = (template.pop("positions", None) or {}).get("rows", [])
        demand_id = _create_once(connection, client, order, "demand",
                                 {**template, "positions": positions}, done)
        order.demand_id = demand_id
        order.save(update_fields=["demand_id", "updated_at"])
    demand_meta = entity_meta(f"{base}/entity/demand/{demand_id}", "demand")
    fees = sum((Decimal(receivable.fee_commission), Decimal(receivable.fee_delivery),
                Decimal(receivable.fee_insurance), Decimal(receivable.fee_return)), Decimal(0))
    returned = receivable.order_state == "returned"
    store = client.first("store")
    if returned:
        _create_once(connection, client, order, "salesreturn", {
            "organization": seller, "agent": agent, "demand": demand_meta,
            "store": {"meta": store["meta"]} if store else None,
            "positions": (client.request("GET", f"/entity/demand/{demand_id}",
                                         params={"expand": "positions"}).get("positions") or {}
                          ).get("rows", [])}, done)
    else:
        # the buyer paid the whole cash on delivery; what the carrier kept is its services
        paid = kopecks(receivable.cod_amount)
        _create_once(connection, client, order, "paymentin", {
            "organization": seller, "agent": agent, "sum": paid,
            "paymentPurpose": _("Наложенный платёж по заказу %(o)s (трек %(t)s)") % {
                "o": order.name, "t": receivable.tracking_number},
            "operations": [{**order_meta, "linkedSum": paid},
                           {**demand_meta, "linkedSum": paid}]}, done)
    if fees and not returned:
        carrier = _carrier_counterparty(client, receivable.carrier_code)
        _create_once(connection, client, order, "supply", {
            "organization": seller, "agent": carrier,
            "store": {"meta": store["meta"]} if store else None, "sum": kopecks(fees),
            "description": _("Услуги перевозчика по заказу %(o)s") % {"o": order.name}}, done)
    if fees and not returned and receivable.fees_mode == "deducted":
        expense = client.first("expenseitem")
        _create_once(connection, client, order, "paymentout", {
            "organization": seller, "agent": carrier, "sum": kopecks(fees),
            "expenseItem": {"meta": expense["meta"]} if expense else None,
            "paymentPurpose": _("Услуги доставки по заказу %(o)s (удержаны из наложенного "
                                "платежа)") % {"o": order.name}}, done)
    state_kind, state_id = (("returned", connection.returned_state_id) if returned
                            else ("completed", connection.completed_state_id))
    operation = _operation(connection, order, state_kind)
    if state_id and not operation.entity_id:
        client.update_many("customerorder", [{**order_meta, "state": state_meta(base, state_id)}])
        operation.entity_id = state_id
        operation.save(update_fields=["entity_id", "updated_at"])
        order.state_we_set = order.state_id = state_id
        order.pushed_status = "returned" if returned else "delivered"
        order.save(update_fields=["state_we_set", "state_id", "pushed_status", "updated_at"])
        done.add((order.pk, state_kind))
    return len(done) - kinds_before


def _carrier_counterparty(client: MoySkladClient, carrier_code: str) -> dict[str, Any]:
    from shipdesk.carriers.names import carrier_name

    name = str(carrier_name(carrier_code))
    found = list(client.rows("counterparty", filters=[f"name={name}"], limit=1))
    if found:
        return {"meta": found[0]["meta"]}
    created = client.create("counterparty", {"name": name, "companyType": "legal"})
    return {"meta": created["meta"]}


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


def organization_of(connection: MoySkladConnection) -> Organization:
    return connection.organization
