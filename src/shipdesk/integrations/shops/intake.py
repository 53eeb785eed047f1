"""The shop platforms' common intake: a webhook call → checked → the order → a shipment
through the shipments intake (and so the organization's automation rules), once per
external order; the connections (write side); writing back to the shops.

Every call leaves a :class:`ShopEvent` with its outcome (the connection page lists them);
a call for an unknown connection is refused and logged (it belongs to no organization)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.integrations.models import (
    ShopConnection,
    ShopEvent,
    ShopEventOutcome,
    ShopOrder,
    ShopPlatform,
)
from shipdesk.integrations.shops import amocrm, bitrix, generic, insales, shopscript
from shipdesk.integrations.shops.base import (
    Connection,
    FetchFailed,
    Incoming,
    PayloadProblem,
    Refused,
)
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit, system_actor

log = logging.getLogger(__name__)

PLATFORMS: dict[str, ModuleType] = {
    ShopPlatform.INSALES: insales, ShopPlatform.BITRIX: bitrix,
    ShopPlatform.SHOPSCRIPT: shopscript, ShopPlatform.AMOCRM: amocrm,
    ShopPlatform.GENERIC: generic,
}
EVENTS_KEPT_PER_PAGE = 50
PAYLOAD_KEEP_CHARS = 4000
PUSH_AGAIN = dt.timedelta(hours=1)
# refused calls kept per connection and hour (a flood of forged calls is logged, not stored)
REFUSED_KEPT_PER_HOUR = 100


@dataclass
class Reply:
    """What the webhook answers: a status and a JSON body (``problem`` true: problem+json
    with ``title`` and ``errors``)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    problem: bool = False


def connection_secrets(connection: ShopConnection) -> dict[str, Any]:
    """The connection's decrypted keys."""
    stored: Any = connection.secrets or {}
    return dict(stored) if isinstance(stored, dict) else {}


def _conn(connection: ShopConnection) -> Connection:
    return Connection(id=connection.pk, platform=connection.platform,
                      secrets=connection_secrets(connection),
                      config=dict(connection.config or {}))


def _trimmed(body: bytes) -> dict[str, Any]:
    return {"body": body[:PAYLOAD_KEEP_CHARS].decode("utf-8", "replace")}


def _record(connection: ShopConnection, outcome: str, message: str = "", *,
            external_id: str = "", shipment_id: int | None = None, body: bytes = b""
            ) -> None:
    ShopEvent.objects.create(connection=connection, outcome=outcome, message=message[:1000],
                             external_id=external_id[:100], shipment_id=shipment_id,
                             payload=_trimmed(body))
    ShopConnection.objects.filter(pk=connection.pk).update(last_event_at=timezone.now())


def _problem(status: int, title: str, errors: list[dict[str, Any]] | None = None,
             code: str = "invalid") -> Reply:
    return Reply(status, {"code": code, "title": title, "errors": errors or []}, problem=True)


def shop_webhook_receive(*, token: str, body: bytes, headers: Mapping[str, str],
                         query: Mapping[str, str], content_type: str = "",
                         http: httpx.Client | None = None, now: float | None = None) -> Reply:
    """One webhook call of a shop platform, answered."""
    connection = (ShopConnection.objects.select_related("organization")
                  .filter(token=token, is_active=True).first() if token else None)
    if connection is None:
        log.warning("shop webhook refused: no active connection for token %s…", token[:6])
        return _problem(404, _("Подключение магазина не найдено или выключено"),
                        code="unknown_connection")
    platform = PLATFORMS[connection.platform]
    conn = _conn(connection)
    try:
        platform.verify(conn, body=body, headers=headers, query=query,
                        now=time.time() if now is None else now)
    except Refused as exc:
        log.warning("shop webhook refused for connection %s: %s", connection.pk, exc)
        recent = ShopEvent.objects.filter(
            connection=connection, outcome=ShopEventOutcome.REFUSED,
            received_at__gte=timezone.now() - dt.timedelta(hours=1)).count()
        if recent < REFUSED_KEPT_PER_HOUR:
            _record(connection, ShopEventOutcome.REFUSED, str(exc), body=b"")
        return _problem(401, str(exc), code="refused")
    except PayloadProblem as exc:
        return _invalid(connection, exc, body)
    try:
        incoming = platform.parse(conn, body=body, content_type=content_type)
    except PayloadProblem as exc:
        return _invalid(connection, exc, body)
    known = ShopOrder.objects.filter(connection=connection,
                                     external_id=incoming.external_id).first()
    if known is not None:
        _record(connection, ShopEventOutcome.DUPLICATE, external_id=incoming.external_id,
                shipment_id=known.shipment_id, body=body)
        return Reply(200, {"status": "duplicate", "shipment_id": known.shipment_id})
    if not incoming.trigger:
        return _ignored(connection, incoming, body)
    if incoming.order is None:
        try:
            if http is None:
                from shipdesk.core.outbound import guarded_client

                with guarded_client(timeout=httpx.Timeout(10.0, connect=5.0)) as client:
                    platform.fetch(conn, incoming, client)
            else:
                platform.fetch(conn, incoming, http)
        except (FetchFailed, httpx.HTTPError) as exc:
            _record(connection, ShopEventOutcome.FAILED, str(exc),
                    external_id=incoming.external_id, body=body)
            # a 5xx: the platform calls again later
            return _problem(503, str(exc), code="fetch_failed")
        if not incoming.trigger:
            return _ignored(connection, incoming, body)
    try:
        data = platform.to_shipment(conn, incoming)
    except PayloadProblem as exc:
        return _invalid(connection, exc, body, external_id=incoming.external_id)
    return _create(connection, platform, incoming, data, body)


def _ignored(connection: ShopConnection, incoming: Incoming, body: bytes) -> Reply:
    _record(connection, ShopEventOutcome.IGNORED, incoming.reason,
            external_id=incoming.external_id, body=body)
    return Reply(200, {"status": "ignored", "reason": incoming.reason})


def _invalid(connection: ShopConnection, exc: PayloadProblem, body: bytes,
             external_id: str = "") -> Reply:
    message = f"{exc.loc}: {exc.message}" if exc.loc else exc.message
    _record(connection, ShopEventOutcome.INVALID, message, external_id=external_id, body=body)
    return _problem(422, _("Заказ не принят"), [{"loc": exc.loc, "message": exc.message}])


def _create(connection: ShopConnection, platform: ModuleType, incoming: Incoming,
            data: dict[str, Any], body: bytes) -> Reply:
    from shipdesk.shipments.services import Mode, shipments_intake

    prefix = str((connection.config or {}).get("order_prefix") or "")
    if prefix:
        data["order_number"] = f"{prefix}{data.get('order_number') or ''}"
    actor = system_actor(connection.organization)
    try:
        with transaction.atomic():
            result = shipments_intake(actor=actor, rows=[(0, data)], mode=Mode.ALL_OR_NOTHING,
                                      source=connection.platform, loc_prefix=())
            item = result.results[0]
            if item.errors or item.shipment_id is None:
                raise _Rejected(item.errors)
            ShopOrder.objects.create(connection=connection, external_id=incoming.external_id,
                                     shipment_id=item.shipment_id,
                                     push_due_at=timezone.now())
    except _Rejected as rejected:
        field_map: Mapping[str, str] = platform.field_map
        errors = []
        for error in rejected.errors:
            ours = ".".join(str(p) for p in error.loc[1:])  # (ref, field, ...)
            head = str(error.loc[1]) if len(error.loc) > 1 else ""
            theirs = field_map.get(head, f"order.{ours}" if platform is generic else ours)
            errors.append({"loc": theirs, "field": ours, "message": error.message})
        message = "; ".join(f"{e['loc']}: {e['message']}" for e in errors)
        _record(connection, ShopEventOutcome.INVALID, message,
                external_id=incoming.external_id, body=body)
        return _problem(422, _("Заказ не принят"), errors)
    except IntegrityError:  # the same order came twice at once: the other call took it
        known = ShopOrder.objects.filter(connection=connection,
                                         external_id=incoming.external_id).first()
        _record(connection, ShopEventOutcome.DUPLICATE, external_id=incoming.external_id,
                shipment_id=known.shipment_id if known else None, body=body)
        return Reply(200, {"status": "duplicate",
                           "shipment_id": known.shipment_id if known else None})
    _record(connection, ShopEventOutcome.CREATED, external_id=incoming.external_id,
            shipment_id=item.shipment_id, body=body)
    return Reply(201, {"status": "created", "shipment_id": item.shipment_id,
                       "order_number": item.order_number,
                       "tracking_number": item.tracking_number or ""})


class _Rejected(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("rejected")
        self.errors = errors


# --- connections ---------------------------------------------------------------------------

CONFIG_FIELDS = ("api_url", "api_login", "account_id", "pipeline_id", "trigger_status",
                 "order_prefix", "tracking_field", "tracking_field_id")
SECRET_FIELDS = ("api_password", "api_token", "application_token")


def shop_connection_list(*, actor: Actor) -> QuerySet[ShopConnection]:
    actor.require(Perm.VIEW)
    return ShopConnection.objects.filter(organization=actor.organization).order_by("id")


def shop_connection_get(*, actor: Actor, connection_id: int) -> ShopConnection:
    connection = shop_connection_list(actor=actor).filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(_("Подключение не найдено"))
    return connection


def shop_connection_events(*, actor: Actor, connection_id: int,
                           limit: int = EVENTS_KEPT_PER_PAGE) -> list[ShopEvent]:
    connection = shop_connection_get(actor=actor, connection_id=connection_id)
    return list(connection.events.order_by("-id")[:limit])


def _clean(platform: str, name: str, values: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                         dict[str, str]]:
    errors: list[FieldError] = []
    if platform not in PLATFORMS:
        errors.append(FieldError(("platform",), _("Платформа: %(list)s") % {
            "list": ", ".join(PLATFORMS)}))
    if not name.strip():
        errors.append(FieldError(("name",), _("Обязательное поле"), code="required"))
    config = {k: str(values.get(k) or "").strip()[:300] for k in CONFIG_FIELDS
              if values.get(k) not in (None, "")}
    url = config.get("api_url", "")
    if url:
        from shipdesk.core.outbound import OutboundRefused, check_url

        try:
            check_url(url, resolve_name=False)
        except OutboundRefused as exc:
            errors.append(FieldError(("api_url",), str(exc)))
    if platform == ShopPlatform.BITRIX and not values.get("application_token"):
        errors.append(FieldError(("application_token",), _(
            "Токен приложения (application_token) из настроек исходящего вебхука Битрикса"),
            code="required"))
    if errors:
        raise ValidationFailed(_("Проверьте подключение"), errors=errors)
    given = {k: str(values[k]).strip() for k in SECRET_FIELDS if values.get(k)}
    return config, given


@transaction.atomic
def shop_connection_create(*, actor: Actor, platform: str, name: str,
                           **values: Any) -> ShopConnection:
    """A new connection with its own address token and secret key (shown on its page)."""
    actor.require(Perm.MANAGE_SETTINGS)
    config, given = _clean(platform, name, values)
    connection = ShopConnection.objects.create(
        organization=actor.organization, platform=platform, name=name.strip()[:200],
        token=secrets.token_urlsafe(24), config=config,
        secrets={"secret": secrets.token_urlsafe(32), **given})  # type: ignore[misc]
    audit(actor, "shop_connection.create", connection, platform=platform)
    return connection


@transaction.atomic
def shop_connection_update(*, actor: Actor, connection_id: int, name: str,
                           is_active: bool = True, **values: Any) -> ShopConnection:
    """Changes the settings; a secret left empty keeps the one stored."""
    actor.require(Perm.MANAGE_SETTINGS)
    connection = shop_connection_get(actor=actor, connection_id=connection_id)
    stored = connection_secrets(connection)
    values = {k: v for k, v in values.items() if v or k not in SECRET_FIELDS}
    config, given = _clean(connection.platform, name,
                           {**{k: stored.get(k) for k in SECRET_FIELDS}, **values})
    connection.name, connection.is_active, connection.config = name.strip()[:200], is_active, config
    connection.secrets = {**stored, **given}  # type: ignore[assignment]
    connection.save(update_fields=["name", "is_active", "config", "secrets", "updated_at"])
    audit(actor, "shop_connection.update", connection)
    return connection


@transaction.atomic
def shop_connection_new_secret(*, actor: Actor, connection_id: int) -> ShopConnection:
    """A new secret key (the old one stops working at once)."""
    actor.require(Perm.MANAGE_SETTINGS)
    connection = shop_connection_get(actor=actor, connection_id=connection_id)
    connection.secrets = {  # type: ignore[assignment]
        **connection_secrets(connection), "secret": secrets.token_urlsafe(32)}
    connection.save(update_fields=["secrets", "updated_at"])
    audit(actor, "shop_connection.new_secret", connection)
    return connection


@transaction.atomic
def shop_connection_delete(*, actor: Actor, connection_id: int) -> None:
    actor.require(Perm.MANAGE_SETTINGS)
    connection = shop_connection_get(actor=actor, connection_id=connection_id)
    audit(actor, "shop_connection.delete", connection, name=connection.name)
    connection.delete()


# --- writing back --------------------------------------------------------------------------

FINAL = {"delivered", "returned", "lost", "cancelled"}


def shop_orders_push(*, ids: list[int], http: httpx.Client | None = None) -> int:
    """Writes the tracking number and the carrier's status of the shipments of these shop
    orders back to their shops, when changed since the last time; looks again in an hour
    until the shipment's state is final. Returns how many orders were written."""
    if http is None:
        from shipdesk.core.outbound import guarded_client

        with guarded_client(timeout=httpx.Timeout(10.0, connect=5.0)) as client:
            return shop_orders_push(ids=ids, http=client)
    from shipdesk.shipments.selectors import shipment_list

    orders = list(ShopOrder.objects.filter(pk__in=ids).select_related(
        "connection", "connection__organization"))
    written = 0
    for order in orders:
        connection = order.connection
        shipment = shipment_list(actor=system_actor(connection.organization)).filter(
            pk=order.shipment_id).values("tracking_number", "tracking_status", "state").first()
        if shipment is None:
            order.push_due_at = None
            order.save(update_fields=["push_due_at"])
            continue
        now = {"tracking_number": shipment["tracking_number"] or "",
               "status": shipment["tracking_status"] or ""}
        order.push_due_at = (None if shipment["state"] in FINAL
                             else timezone.now() + PUSH_AGAIN)
        if now != order.pushed and now["tracking_number"]:
            try:
                PLATFORMS[connection.platform].write_back(
                    _conn(connection), external_id=order.external_id,
                    tracking_number=now["tracking_number"], status=now["status"], http=http)
            except (FetchFailed, httpx.HTTPError) as exc:
                order.push_error = str(exc)[:500]
                order.push_due_at = timezone.now() + dt.timedelta(minutes=10)
            else:
                order.pushed, order.push_error = now, ""
                written += 1
        order.save(update_fields=["pushed", "push_due_at", "push_error"])
    return written
