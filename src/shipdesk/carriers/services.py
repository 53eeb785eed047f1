"""Carrier accounts (write side): create, update, delete, test the connection, connect the
sandbox carriers, and take carrier webhooks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.carriers import registry
from shipdesk.carriers.base import AuthenticationFailed, CarrierError, RateLimited, TrackingEvent
from shipdesk.carriers.models import CarrierAccount, CarrierExchange, WebhookInbox
from shipdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from shipdesk.core.outbound import OutboundRefused, check_url
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

log = logging.getLogger(__name__)

SETTINGS_KEYS = {
    "rate_per_second": float,
    "timeout": float,
    "connect_timeout": float,
    "max_attempts": int,
    "fail_max": int,
    "reset_timeout": float,
    "daily_track_quota": int,
}


def _account(actor: Actor, account_id: int) -> CarrierAccount:
    account = CarrierAccount.objects.filter(organization=actor.organization, pk=account_id).first()
    if account is None:
        raise NotFound(_("Договор с перевозчиком не найден"))
    return account


def _adapter_class(code: str) -> Any:
    try:
        return registry.adapter_class(code)
    except registry.UnknownCarrier:
        raise ValidationFailed(
            _("Неизвестный перевозчик"),
            errors=[
                FieldError(
                    loc=("carrier_code",),
                    message=_("Неизвестный перевозчик «%(code)s». Доступны: %(codes)s")
                    % {"code": code, "codes": ", ".join(registry.all_codes())},
                )
            ],
        ) from None


def _clean_base_url(value: str) -> str:
    value = (value or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(value)
    except DjangoValidationError:
        raise ValidationFailed(
            _("Неверный адрес API"),
            errors=[FieldError(loc=("base_url",), message=_("Укажите адрес вида https://api.example.ru"))],
        ) from None
    try:
        check_url(value)  # not into the installation's own network (SSRF)
    except OutboundRefused as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(loc=("base_url",), message=str(exc))]
                               ) from exc
    return value.rstrip("/")


def _clean_settings(values: dict[str, Any] | None) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    errors = []
    for key, value in (values or {}).items():
        kind = SETTINGS_KEYS.get(key)
        if kind is None:
            cleaned[key] = value  # carrier-specific settings pass through
            continue
        try:
            number = kind(value)
        except (TypeError, ValueError):
            errors.append(FieldError(loc=("settings", key), message=_("Нужно число")))
            continue
        if number < 0:
            errors.append(FieldError(loc=("settings", key), message=_("Не может быть отрицательным")))
            continue
        cleaned[key] = number
    if errors:
        raise ValidationFailed(_("Неверные настройки"), errors=errors)
    return cleaned


def _check_credentials(adapter_cls: Any, credentials: dict[str, Any]) -> dict[str, str]:
    fields = adapter_cls.credential_fields
    known = {name for name, _label, _secret in fields}
    clean = {
        k: str(v).strip() for k, v in credentials.items() if (k in known or not fields) and v is not None
    }
    missing = [
        FieldError(
            loc=("credentials", name),
            message=_("Обязательное поле: %(label)s") % {"label": label},
            code="required",
        )
        for name, label, _secret in fields
        if not clean.get(name) and name not in adapter_cls.optional_credentials
    ]
    if missing:
        raise ValidationFailed(_("Не хватает учётных данных"), errors=missing)
    return clean


@transaction.atomic
def carrier_account_create(
    *,
    actor: Actor,
    carrier_code: str,
    name: str,
    credentials: dict[str, Any],
    base_url: str = "",
    settings: dict[str, Any] | None = None,
    is_sandbox: bool = False,
) -> CarrierAccount:
    actor.require(Perm.MANAGE_SETTINGS)
    adapter_cls = _adapter_class(carrier_code)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(
            _("Укажите название"),
            errors=[FieldError(loc=("name",), message=_("Обязательное поле"), code="required")],
        )
    account = CarrierAccount.objects.create(  # type: ignore[misc]
        organization=actor.organization,
        carrier_code=carrier_code,
        name=name[:100],
        base_url=_clean_base_url(base_url or adapter_cls.default_base_url),
        credentials=_check_credentials(adapter_cls, credentials),
        settings=_clean_settings(settings),
        is_sandbox=is_sandbox,
    )
    audit(actor, "carrier_account.create", account, carrier_code=carrier_code, name=account.name)
    return account


@transaction.atomic
def carrier_account_update(
    *,
    actor: Actor,
    account_id: int,
    name: str | None = None,
    base_url: str | None = None,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    is_active: bool | None = None,
) -> CarrierAccount:
    """Credentials merge: a field left empty keeps its stored value (secrets are never sent
    back to the form, so an empty field means "unchanged")."""
    actor.require(Perm.MANAGE_SETTINGS)
    account = _account(actor, account_id)
    account = CarrierAccount.objects.select_for_update().get(pk=account.pk)
    changed: list[str] = []
    if name is not None:
        if not name.strip():
            raise ValidationFailed(
                _("Укажите название"), errors=[FieldError(loc=("name",), message=_("Обязательное поле"))]
            )
        account.name = name.strip()[:100]
        changed.append("name")
    if base_url is not None:
        account.base_url = _clean_base_url(base_url)
        changed.append("base_url")
    if credentials is not None:
        merged: dict[str, Any] = dict(account.credentials or {})  # type: ignore[arg-type]
        merged.update({k: v for k, v in credentials.items() if v not in (None, "")})
        account.credentials = _check_credentials(_adapter_class(account.carrier_code), merged)  # type: ignore[assignment]
        changed.append("credentials")
    if settings is not None:
        account.settings = _clean_settings(settings)
        changed.append("settings")
    if is_active is not None:
        account.is_active = is_active
        changed.append("is_active")
    account.save()
    audit(actor, "carrier_account.update", account, fields=changed)  # never the values
    return account


@transaction.atomic
def carrier_account_delete(*, actor: Actor, account_id: int) -> None:
    actor.require(Perm.MANAGE_SETTINGS)
    account = _account(actor, account_id)
    audit(actor, "carrier_account.delete", account, name=account.name)
    try:
        with transaction.atomic():
            account.delete()
    except ProtectedError:
        raise Conflict(
            _("По этому договору уже есть отправления: удалить его нельзя, отключите его")
        ) from None


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    code: str = ""


def _explain(exc: CarrierError) -> str:
    if isinstance(exc, AuthenticationFailed):
        return _("Перевозчик не принял учётные данные: %(detail)s") % {"detail": exc}
    if isinstance(exc, RateLimited):
        return _("Перевозчик ограничил частоту запросов, попробуйте через минуту")
    if exc.transient:
        return _("Перевозчик сейчас недоступен: %(detail)s") % {"detail": exc}
    return _("Перевозчик ответил ошибкой: %(detail)s") % {"detail": exc}


def carrier_account_test(*, actor: Actor, account_id: int) -> ConnectionCheck:
    """Calls the carrier with the stored credentials and says clearly what is wrong."""
    actor.require(Perm.MANAGE_SETTINGS)
    account = _account(actor, account_id)
    try:
        adapter = registry.adapter_for_account(account)
        adapter.test_connection()
        check = ConnectionCheck(ok=True, message=_("Соединение работает"))
    except registry.UnknownCarrier:
        check = ConnectionCheck(
            ok=False, message=_("Модуль перевозчика не установлен"), code="unknown_carrier"
        )
    except NotImplementedError:
        check = ConnectionCheck(
            ok=False, message=_("Перевозчик не поддерживает проверку соединения"), code="not_supported"
        )
    except CarrierError as exc:
        check = ConnectionCheck(ok=False, message=_explain(exc), code=exc.code or "carrier_error")
    except ValueError as exc:  # credentials cannot be decrypted with the configured keys
        log.exception("carrier account %s: credentials unreadable", account.pk)
        check = ConnectionCheck(ok=False, message=str(exc), code="credentials")
    CarrierAccount.objects.filter(pk=account.pk).update(
        last_checked_at=timezone.now(), last_check_error="" if check.ok else check.message[:500]
    )
    audit(actor, "carrier_account.test", account, ok=check.ok, code=check.code)
    return check


def carrier_webhooks_subscribe(*, actor: Actor, account_id: int, url: str) -> None:
    """Asks the carrier to post this account's events to ``url`` (our webhook receiver)."""
    actor.require(Perm.MANAGE_SETTINGS)
    account = _account(actor, account_id)
    adapter = registry.adapter_for_account(account)
    try:
        adapter.subscribe_webhooks(url)
    except NotImplementedError:
        raise Conflict(_("Перевозчик не поддерживает уведомления")) from None
    except CarrierError as exc:
        raise Conflict(_explain(exc)) from exc
    audit(actor, "carrier_account.webhooks_subscribe", account)


def sandbox_emulators() -> dict[str, Any]:
    """The carriers whose emulator has sandbox credentials, by code: their modules."""
    found = {}
    for code in registry.all_codes():
        try:
            emulator = registry.emulator_module(code)
        except ImportError:
            continue
        if getattr(emulator, "SANDBOX_CREDENTIALS", None) is not None and \
                getattr(emulator, "DEFAULT_PORT", None) is not None:
            found[code] = emulator
    return found


def _sandbox_base_url(code: str, emulator: Any, host: str = "127.0.0.1") -> str:
    from shipdesk.core import sandbox_ports

    port = sandbox_ports.port(code, emulator.DEFAULT_PORT)
    return f"http://{host}:{port}{getattr(emulator, 'SANDBOX_BASE_PATH', '')}"


def sandbox_accounts_connect(*, organization: Organization, host: str = "127.0.0.1") -> list[CarrierAccount]:
    """Connects one sandbox account per carrier that ships an emulator with sandbox
    credentials, pointing at this instance's emulator (``make run`` starts them).
    Running it again changes nothing."""
    accounts = []
    for code, emulator in sandbox_emulators().items():
        adapter_cls = registry.adapter_class(code)
        account, _created = CarrierAccount.objects.get_or_create(  # type: ignore[misc]
            organization=organization,
            carrier_code=code,
            is_sandbox=True,
            defaults={
                "name": _("%(name)s (песочница)") % {"name": adapter_cls.name},
                "base_url": _sandbox_base_url(code, emulator, host),
                "credentials": dict(emulator.SANDBOX_CREDENTIALS),
                # e.g. tracking tickets answered on the emulator's faster clock
                "settings": getattr(emulator, "sandbox_settings", dict)(),
            },
        )
        accounts.append(account)
    return accounts


def sandbox_accounts_repoint() -> int:
    """Points every sandbox account that talks to a local emulator at this instance's
    emulator (``shipdesk embedded`` calls it on start, after choosing the ports): an account
    left on another port could reach another instance's emulator. Returns how many moved."""
    moved = 0
    for code, emulator in sandbox_emulators().items():
        url = _sandbox_base_url(code, emulator)
        moved += (CarrierAccount.objects
                  .filter(carrier_code=code, is_sandbox=True, base_url__startswith="http://127.0.0.1:")
                  .exclude(base_url=url).update(base_url=url))
    return moved


# --- webhooks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookOutcome:
    accepted: int
    stored_in_inbox: bool


def carrier_webhook_receive(*, token: str, headers: dict[str, str], body: bytes) -> WebhookOutcome:
    """A carrier's webhook, authenticated by the unguessable token in its URL. Unknown or
    inactive token: NotFound. A body the adapter cannot parse: ValidationFailed (logged).
    Parsed events go to the tracking domain, which checks them and derives statuses."""
    account = CarrierAccount.objects.filter(webhook_token=token, is_active=True).first() if token else None
    if account is None:
        log.warning("carrier webhook with an unknown token rejected")
        raise NotFound(_("Неизвестный адрес уведомлений"))
    try:
        adapter = registry.adapter_class(account.carrier_code)(
            credentials={}, base_url=account.base_url, settings=dict(account.settings or {})
        )
        events = adapter.parse_webhook(headers, body)
    except NotImplementedError:
        raise NotFound(_("Перевозчик не присылает уведомлений")) from None
    except (CarrierError, ValueError, KeyError, TypeError) as exc:
        log.warning("carrier webhook for account %s not understood: %s", account.pk, exc)
        _log_webhook(account, headers, body, status=422, error=str(exc))
        raise ValidationFailed(
            _("Уведомление перевозчика не разобрано: %(detail)s") % {"detail": exc}
        ) from exc
    _log_webhook(account, headers, body, status=200)
    if not events:
        return WebhookOutcome(accepted=0, stored_in_inbox=False)
    return _hand_over(account, events)


def _log_webhook(
    account: CarrierAccount, headers: dict[str, str], body: bytes, *, status: int, error: str = ""
) -> None:
    """Incoming webhooks go to the same exchange log as our requests (secrets masked)."""
    from shipdesk.carriers.http import _body_for_log, mask_headers

    CarrierExchange.objects.create(
        organization_id=account.organization_id,
        account=account,
        method="HOOK",
        url=_("входящее уведомление"),
        status=status,
        request_headers=mask_headers(headers),
        request_body=_body_for_log(body, headers.get("content-type", ""), []),
        error=error[:500],
    )


def _hand_over(account: CarrierAccount, events: list[TrackingEvent]) -> WebhookOutcome:
    try:
        from shipdesk.tracking import services as tracking
    except ImportError:
        tracking = None  # type: ignore[assignment]
    ingest = getattr(tracking, "tracking_events_ingest", None)
    if ingest is not None:
        ingest(events=events, account=account, source="webhook")
        return WebhookOutcome(accepted=len(events), stored_in_inbox=False)
    WebhookInbox.objects.bulk_create(
        [
            WebhookInbox(
                organization_id=account.organization_id,
                account=account,
                tracking_number=e.tracking_number,
                occurred_at=e.occurred_at,
                raw_code=e.raw_code,
                status=e.status.value if e.status else "",
                payload=e.raw,
            )
            for e in events
        ]
    )
    return WebhookOutcome(accepted=len(events), stored_in_inbox=True)
