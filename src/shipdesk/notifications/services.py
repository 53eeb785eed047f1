"""Notifications: settings, rules, templates, unsubscribes (write side) and the outbox —
planning from the tracking feed, sending, delivery reports.

Exactly once: the outbox row (shipment, rule, occurrence, channel) is UNIQUE; planning
inserts with ``ignore_conflicts``. Sending claims due rows (``select_for_update(skip_locked)``
in one short transaction, status "sending" with a lease), renders them and *writes the
attempt* (text, ``attempt_at``) before handing them to the gateway, and marks them "sent"
only after the gateway accepted. If the worker dies in between, the lease runs out and the
row is *recovered* by what its gateway allows (``Gateway.after_crash``): the webhook (its
``Idempotency-Key``) and SMTP (the same Message-ID) send again; SMSC and SMS Aero are asked
whether they took this attempt (sent, or sent now); sms.ru cannot be asked and a repeat
would be a second SMS: "unknown", for a person — so it is handed one small chunk at a time
(``SmsRu.chunk_size``), all a crash can catch. See doc.md.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import re
import secrets
import signal
import uuid
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, cast

import phonenumbers
import psycopg
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.core.outbound import OutboundRefused, check_host, check_url
from shipdesk.notifications import rendering
from shipdesk.notifications.context import message_context, parcel_facts, sample_context
from shipdesk.notifications.defaults import DEFAULT_RULES, DEFAULT_TEMPLATES
from shipdesk.notifications.gateways import GatewayError, Outgoing, SendResult, get_gateway
from shipdesk.notifications.gateways.base import ASK, RESEND, UNKNOWN
from shipdesk.notifications.models import (
    GATEWAY_CHANNEL,
    Channel,
    ChannelConfig,
    FeedCursor,
    Gateway,
    Message,
    MessageStatus,
    NotificationSettings,
    Rule,
    RuleKind,
    ShortLink,
    Suppression,
    Template,
)
from shipdesk.notifications.regions import next_in_window
from shipdesk.shipments.regions import zone_for_index
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 5
BACKOFF_BASE = dt.timedelta(minutes=1)
FEED = "notifications"
SMS_GATEWAYS = (Gateway.SMSRU, Gateway.SMSC, Gateway.SMSAERO)


# --- settings, rules, templates ----------------------------------------------------------
def settings_ensure(*, organization: Organization) -> NotificationSettings:
    """The organization's settings, creating them and the default rules on first use."""
    obj = NotificationSettings.objects.filter(organization=organization).first()
    if obj is None:
        try:
            with transaction.atomic():
                obj = NotificationSettings.objects.create(organization=organization)
        except IntegrityError:
            obj = NotificationSettings.objects.get(organization=organization)
    Rule.objects.bulk_create(
        [Rule(organization=organization, kind=kind, **spec)
         for kind, spec in DEFAULT_RULES.items()], ignore_conflicts=True)
    return obj


SETTINGS_FIELDS = ("window_start", "window_end", "sms_segment_warn", "sms_segment_limit",
                   "review_url", "shop_phone", "staff_email", "sms_gateway")


def settings_update(*, actor: Actor, **values: Any) -> NotificationSettings:
    actor.require(Perm.MANAGE_SETTINGS)
    obj = settings_ensure(organization=actor.organization)
    errors = []
    for name, value in values.items():
        if name not in SETTINGS_FIELDS:
            errors.append(FieldError((name,), _("Неизвестное поле")))
        else:
            setattr(obj, name, value if value is not None else "")
    if obj.window_start >= obj.window_end:
        errors.append(FieldError(("window_end",), _("Окно отправки должно заканчиваться "
                                                    "позже, чем начинается")))
    if obj.sms_segment_limit < 1 or obj.sms_segment_warn > obj.sms_segment_limit:
        errors.append(FieldError(("sms_segment_limit",), _("Лимит частей SMS должен быть не "
                                                           "меньше порога предупреждения")))
    if obj.sms_gateway and obj.sms_gateway not in SMS_GATEWAYS:
        errors.append(FieldError(("sms_gateway",), _("Неизвестный SMS-шлюз")))
    if errors:
        raise ValidationFailed(_("Настройки уведомлений не сохранены"), errors=errors)
    obj.save()
    audit(actor, "notifications.settings_update", obj, **{k: str(v) for k, v in values.items()})
    return obj


def rule_update(*, actor: Actor, kind: str, enabled: bool | None = None,
                channels: list[str] | None = None, fallback: bool | None = None,
                interval_days: int | None = None, max_reminders: int | None = None) -> Rule:
    actor.require(Perm.MANAGE_SETTINGS)
    settings_ensure(organization=actor.organization)
    rule = Rule.objects.filter(organization=actor.organization, kind=kind).first()
    if rule is None:
        raise NotFound(_("Нет такого правила"))
    errors = []
    if channels is not None:
        bad = [i for i, c in enumerate(channels) if c not in Channel.values]
        errors += [FieldError(("channels", i), _("Неизвестный канал")) for i in bad]
        if len(set(channels)) != len(channels):
            errors.append(FieldError(("channels",), _("Канал указан дважды")))
        rule.channels = list(channels)
    if interval_days is not None:
        if not 1 <= interval_days <= 60:
            errors.append(FieldError(("interval_days",), _("От 1 до 60 дней")))
        rule.interval_days = interval_days
    if max_reminders is not None:
        if not 0 <= max_reminders <= 10:
            errors.append(FieldError(("max_reminders",), _("От 0 до 10")))
        rule.max_reminders = max_reminders
    if errors:
        raise ValidationFailed(_("Правило не сохранено"), errors=errors)
    if enabled is not None:
        rule.enabled = enabled
    if fallback is not None:
        rule.fallback = fallback
    rule.save()
    audit(actor, "notifications.rule_update", rule, kind=kind)
    return rule


def template_source(*, organization_id: int, rule: str, channel: str) -> tuple[str, str]:
    t = Template.objects.filter(organization_id=organization_id, rule=rule,
                                channel=channel).first()
    return (t.subject, t.body) if t else DEFAULT_TEMPLATES[(rule, channel)]


def _template_errors(subject: str, body: str, channel: str) -> list[FieldError]:
    """Each field's problems: its size against its limit first (nothing else is looked at
    in an oversized field), then what :func:`rendering.validate_template` finds."""
    errors: list[FieldError] = []
    for name, source, limit, too_long in (
            ("subject", subject, rendering.SOURCE_LIMITS["subject"],
             _("Тема слишком длинная: %(n)s символов, можно не больше %(m)s")),
            ("body", body, rendering.SOURCE_LIMITS.get(channel, rendering.MAX_SOURCE_CHARS),
             _("Текст шаблона слишком длинный: %(n)s символов, можно не больше %(m)s"))):
        if len(source) > limit:
            errors.append(FieldError((name,), too_long % {"n": len(source), "m": limit},
                                     code="too_long"))
            continue
        errors += [FieldError((name,), str(p), code="template")
                   for p in rendering.validate_template(source)]
    return errors


def _render_field(name: str, source: str, ctx: dict[str, str]) -> str:
    try:
        return rendering.render(source, ctx)
    except rendering.TemplateRefused as exc:
        raise ValidationFailed(_("В шаблоне есть ошибки"), errors=[
            FieldError((name,), str(p), code="template") for p in exc.problems]) from None


@dataclass
class Preview:
    subject: str
    body: str
    sms: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    blocked: bool = False


def template_preview(*, actor: Actor, channel: str, subject: str, body: str) -> Preview:
    """Renders a template on a sample parcel; for SMS with length and segment count."""
    actor.require(Perm.VIEW)
    errors = _template_errors(subject, body, channel)
    if errors:
        raise ValidationFailed(_("В шаблоне есть ошибки"), errors=errors)
    ctx = sample_context(actor.organization, channel)
    preview = Preview(subject=_render_field("subject", subject, ctx),
                      body=_render_field("body", body, ctx))
    if channel == Channel.SMS:
        conf = settings_ensure(organization=actor.organization)
        length = rendering.sms_length(preview.body)
        preview.sms = {**length.as_dict(), "text": rendering.sms_length_text(length)}
        if length.segments > conf.sms_segment_limit:
            preview.blocked = True
            preview.warnings.append(_("SMS из %(n)s частей: больше лимита магазина (%(m)s), "
                                      "такое сообщение не будет отправлено") % {
                "n": length.segments, "m": conf.sms_segment_limit})
        elif length.segments > conf.sms_segment_warn:
            preview.warnings.append(_("SMS из %(n)s частей — каждое стоит как %(n)s SMS") % {
                "n": length.segments})
    return preview


def template_save(*, actor: Actor, rule: str, channel: str, subject: str, body: str) -> Template:
    """Validates (macros only, position of each problem) and saves a template."""
    actor.require(Perm.MANAGE_SETTINGS)
    errors = []
    if rule not in RuleKind.values:
        errors.append(FieldError(("rule",), _("Неизвестное событие")))
    if channel not in Channel.values:
        errors.append(FieldError(("channel",), _("Неизвестный канал")))
    if not body.strip():
        errors.append(FieldError(("body",), _("Текст не может быть пустым")))
    errors += _template_errors(subject, body, channel)
    if errors:
        raise ValidationFailed(_("Шаблон не сохранён"), errors=errors)
    preview = template_preview(actor=actor, channel=channel, subject=subject, body=body)
    if preview.blocked:
        raise ValidationFailed(_("Шаблон не сохранён"),
                               errors=[FieldError(("body",), preview.warnings[0], "too_long")])
    obj, _created = Template.objects.update_or_create(
        organization=actor.organization, rule=rule, channel=channel,
        defaults={"subject": subject, "body": body})
    audit(actor, "notifications.template_save", obj, rule=rule, channel=channel)
    return obj


# what each gateway needs (required keys) and may carry; every one may have a sandbox base_url
_GATEWAY_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Gateway.SMTP: ((), ("host", "port", "username", "password", "use_tls", "use_ssl",
                        "from_email", "timeout", "connections", "messages_per_connection")),
    Gateway.SMSRU: (("api_id",), ("sender", "timeout")),
    Gateway.SMSC: (("login", "password"), ("sender", "timeout", "concurrency")),
    Gateway.SMSAERO: (("email", "api_key"), ("sign", "timeout", "concurrency")),
    Gateway.WEBHOOK: (("url", "secret"), ("timeout",)),
}
_CONFIG_LABELS: dict[str, Any] = {
    "host": gettext_lazy("SMTP-сервер"), "port": gettext_lazy("Порт"),
    "username": gettext_lazy("Логин"), "password": gettext_lazy("Пароль"),
    "from_email": gettext_lazy("Адрес отправителя"), "use_ssl": "SSL", "api_id": "api_id",
    "sender": gettext_lazy("Имя отправителя"), "login": gettext_lazy("Логин"),
    "email": "E-mail", "api_key": "API key", "sign": gettext_lazy("Подпись"), "url": "URL",
    "secret": gettext_lazy("Секрет подписи"), "base_url": gettext_lazy("Адрес песочницы"),
    "timeout": gettext_lazy("Тайм-аут"),
}
_SENDER_NAME = re.compile(r"[A-Za-z0-9 ._-]{1,11}")


def _http_url(value: str) -> bool:
    return bool(re.fullmatch(r"https?://[^\s/]+(/\S*)?", value))


def channel_config_errors(gateway: str, config: dict[str, Any]) -> list[FieldError]:
    """Per-field problems of a gateway's settings (Russian, pointing at ``config.<key>``)."""
    required, optional = _GATEWAY_KEYS[gateway]
    errors = []

    def bad(key: str, message: str) -> None:
        label = str(_CONFIG_LABELS.get(key, key))
        errors.append(FieldError(("config", key), f"{label}: {message[0].lower()}{message[1:]}"))

    for key in config:
        if key not in (*required, *optional, "base_url", "callback_url"):
            bad(key, _("Неизвестное поле для этого шлюза"))
    for key in required:
        if not str(config.get(key) or "").strip():
            bad(key, _("Обязательное поле"))
        elif re.search(r"\s", str(config[key])) and key != "secret":
            bad(key, _("Без пробелов"))
    for key in ("sender", "sign"):
        if config.get(key) and not _SENDER_NAME.fullmatch(str(config[key])):
            bad(key, _("Имя отправителя: до 11 латинских букв, цифр, пробелов и «._-»"))
    if gateway == Gateway.SMSAERO and config.get("email"):
        try:
            validate_email(str(config["email"]))
        except DjangoValidationError:
            bad("email", _("Неверный e-mail (логин SMS Aero)"))
    if gateway == Gateway.WEBHOOK and config.get("url") and not _http_url(str(config["url"])):
        bad("url", _("Адрес вебхука: http:// или https://"))
    if gateway == Gateway.WEBHOOK and config.get("secret") and len(str(config["secret"])) < 16:
        bad("secret", _("Секрет подписи: не короче 16 символов"))
    if config.get("base_url") and not _http_url(str(config["base_url"])):
        bad("base_url", _("Адрес: http:// или https://"))
    # not into the installation's own network (SSRF): the gateway's address, the webhook's,
    # the SMTP server
    for key in ("url", "base_url"):
        if config.get(key) and _http_url(str(config[key])):
            try:
                check_url(str(config[key]))
            except OutboundRefused as exc:
                bad(key, str(exc))
    if gateway == Gateway.SMTP and str(config.get("host") or "").strip():
        port = str(config.get("port") or "").strip()
        try:
            check_host(str(config["host"]).strip(), int(port) if port.isdigit() else 25)
        except OutboundRefused as exc:
            bad("host", str(exc))
    if gateway == Gateway.SMTP:
        port = str(config.get("port") or "").strip()
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            bad("port", _("Порт: число от 1 до 65535"))
        if config.get("use_tls") and config.get("use_ssl"):
            bad("use_ssl", _("Выберите одно: STARTTLS или SSL"))
        sender = str(config.get("from_email") or "")
        if sender:
            from email.utils import parseaddr

            try:
                validate_email(parseaddr(sender)[1])
            except DjangoValidationError:
                bad("from_email", _("Неверный адрес отправителя"))
        if not config.get("host") and (config.get("username") or config.get("password")):
            bad("host", _("Укажите SMTP-сервер для этого логина"))
    for key in ("timeout", "concurrency", "connections", "messages_per_connection"):
        value = str(config.get(key) or "").strip()
        if value:
            try:
                ok = 0 < float(value) <= 1000
            except ValueError:
                ok = False
            if not ok:
                bad(key, _("Положительное число"))
    return errors


def channel_config_save(*, actor: Actor, gateway: str, config: dict[str, Any],
                        enabled: bool = True) -> ChannelConfig:
    """Saves a gateway's settings after checking each field for what that gateway needs."""
    actor.require(Perm.MANAGE_SETTINGS)
    if gateway not in Gateway.values:
        raise ValidationFailed(_("Неизвестный шлюз"),
                               errors=[FieldError(("gateway",), _("Неизвестный шлюз"))])
    obj = ChannelConfig.objects.filter(organization=actor.organization, gateway=gateway).first()
    if obj is None:
        obj = ChannelConfig(organization=actor.organization, gateway=gateway)
    # an empty secret in the form keeps the stored one
    merged: dict[str, Any] = dict(cast(dict[str, Any], obj.config) or {})
    merged.update({k: v for k, v in config.items() if v not in (None, "")})
    errors = channel_config_errors(gateway, merged)
    if errors:
        raise ValidationFailed(_("Настройки шлюза не сохранены"), errors=errors)
    obj.config = merged  # type: ignore[assignment]  # EncryptedJSONField holds a dict
    obj.enabled = enabled
    if not obj.callback_token and gateway in SMS_GATEWAYS:
        obj.callback_token = secrets.token_urlsafe(24)
    obj.save()
    audit(actor, "notifications.channel_save", obj, gateway=gateway)
    return obj


# the SMS emulator ``make run`` starts beside the demo shop (core.sandbox_ports names it so)
SANDBOX_SMS = "sms-smsru"


def sandbox_sms_usual_port() -> int:
    from shipdesk.notifications.gateways.emulators import SANDBOX_PORTS

    return SANDBOX_PORTS[Gateway.SMSRU]


def sandbox_sms_start(port: int) -> Any:
    """The demo shop's sms.ru emulator (``make run``), showing every SMS it accepts."""
    from shipdesk.notifications.gateways import emulators

    server, _config = emulators.sandbox(Gateway.SMSRU, port)
    server.on_message = lambda msg: print(emulators.sms_line(msg), flush=True)
    return server


def sandbox_sms_port() -> int:
    from shipdesk.core import sandbox_ports

    return sandbox_ports.port(SANDBOX_SMS, sandbox_sms_usual_port())


def demo_channels_connect(*, organization: Organization) -> ChannelConfig:
    """The demo shop of ``make run`` sends its SMS to the sms.ru emulator started beside it
    (``shipdesk emulate_sms smsru``), so its buyers' messages can be watched going out."""
    from shipdesk.tenancy.services import system_actor

    return channel_config_save(
        actor=system_actor(organization), gateway=Gateway.SMSRU,
        config={"api_id": "test-api-id", "base_url": f"http://127.0.0.1:{sandbox_sms_port()}"})


def demo_channels_repoint() -> int:
    """Moves sms.ru channels that talk to a local emulator onto this instance's one (see
    ``core.sandbox_ports``); returns how many moved."""
    url = f"http://127.0.0.1:{sandbox_sms_port()}"
    moved = 0
    for channel in ChannelConfig.objects.filter(gateway=Gateway.SMSRU):
        config: dict[str, Any] = dict(channel.config or {})  # type: ignore[arg-type]
        base_url = str(config.get("base_url", ""))
        if base_url.startswith("http://127.0.0.1:") and base_url != url:
            channel.config = {**config, "base_url": url}  # type: ignore[assignment]
            channel.save(update_fields=["config"])
            moved += 1
    return moved


def channel_test_send(*, actor: Actor, gateway: str, to: str) -> str:
    """Checks the gateway and sends one test message; returns what happened, in words."""
    actor.require(Perm.MANAGE_SETTINGS)
    config = _gateway_config(actor.organization_id, gateway)
    if config is None:
        raise ValidationFailed(_("Шлюз не настроен"),
                               errors=[FieldError(("gateway",), _("Шлюз не настроен"))])
    address, problem = normalise_address(GATEWAY_CHANNEL[gateway], to)
    if problem:
        raise ValidationFailed(problem, errors=[FieldError(("to",), problem)])
    gw = get_gateway(gateway, config)
    try:
        text = _("Тестовое сообщение Shipdesk от «%s»") % actor.organization.name
        [result] = gw.send_many([Outgoing(key=0, to=address, text=text, subject=text,
                                          attempt_id=str(uuid.uuid4()))])
    except GatewayError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(("gateway",), str(exc))]) from exc
    finally:
        gw.close()
    if not result.ok:
        raise ValidationFailed(result.error, errors=[FieldError(("to",), result.error)])
    audit(actor, "notifications.test_send", None, gateway=gateway)
    return _("Отправлено, идентификатор %s") % result.provider_id


def _gateway_config(organization_id: int, gateway: str) -> dict[str, Any] | None:
    conf = ChannelConfig.objects.filter(organization_id=organization_id, gateway=gateway,
                                        enabled=True).first()
    if conf is not None:
        config = dict(cast(dict[str, Any], conf.config))
        if conf.callback_token:  # SMS Aero takes it with every message
            config["callback_url"] = callback_url(gateway, conf.callback_token)
        return config
    if gateway == Gateway.SMTP:
        return {}  # the installation's SMTP settings
    return None


# --- recipients and unsubscribes ----------------------------------------------------------
def normalise_address(channel: str, raw: str) -> tuple[str, str]:
    """(address, problem): phones as digits without "+", e-mails lower-cased."""
    raw = (raw or "").strip()
    if channel == Channel.SMS:
        if not raw:
            return "", _("нет телефона получателя")
        try:
            num = phonenumbers.parse(raw, "RU")
        except phonenumbers.NumberParseException:
            return "", _("неверный телефон «%s»") % raw
        if not phonenumbers.is_valid_number(num):
            return "", _("неверный телефон «%s»") % raw
        return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)[1:], ""
    if channel == Channel.EMAIL:
        if not raw:
            return "", _("нет e-mail получателя")
        try:
            validate_email(raw)
        except DjangoValidationError:
            return "", _("неверный e-mail «%s»") % raw
        return raw.lower(), ""
    return raw, ""


def suppression_add(*, actor: Actor, channel: str, address: str,
                    source: str = "staff") -> Suppression:
    """Switches a recipient off for this organization (from the next message on)."""
    if source == "staff":
        actor.require(Perm.MANAGE_SHIPMENTS)
    if channel not in (Channel.SMS, Channel.EMAIL):
        problem = _("Выберите канал: SMS или e-mail")
        raise ValidationFailed(problem, errors=[FieldError(("channel",), problem)])
    norm, problem = normalise_address(channel, address)
    if problem:
        raise ValidationFailed(problem, errors=[FieldError(("address",), problem)])
    obj, _created = Suppression.objects.get_or_create(
        organization=actor.organization, channel=channel, address=norm,
        defaults={"source": source})
    audit(actor, "notifications.unsubscribe", obj, channel=channel, source=source)
    return obj


def suppression_remove(*, actor: Actor, suppression_id: int) -> None:
    """Switches a recipient back on (a person decided so: e.g. the buyer asked by phone)."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    obj = Suppression.objects.filter(organization=actor.organization, pk=suppression_id).first()
    if obj is None:
        raise NotFound(_("Запись об отписке не найдена"))
    audit(actor, "notifications.resubscribe", obj, channel=obj.channel, address=obj.address)
    obj.delete()


def _ensure_short_links(rows: list[Message]) -> None:
    """The table rows behind the SMS unsubscribe links of a batch (one idempotent insert)."""
    from shipdesk.notifications.links import short_code

    wanted = {(r.organization_id, r.recipient) for r in rows
              if r.channel == Channel.SMS and r.recipient}
    ShortLink.objects.bulk_create(
        [ShortLink(organization_id=org_id, channel=Channel.SMS, address=address,
                   code=short_code(organization_id=org_id, channel=Channel.SMS,
                                   address=address)) for org_id, address in wanted],
        ignore_conflicts=True, batch_size=1000)


def short_link_get(*, code: str) -> ShortLink:
    """The short SMS unsubscribe link. Unknown (mistyped, made up) code → NotFound."""
    link = ShortLink.objects.select_related("organization").filter(code=code).first() \
        if 8 <= len(code) <= 16 else None
    if link is None:
        raise NotFound(_("Ссылка для отписки не найдена"))
    return link


def unsubscribe_by_code(*, code: str) -> tuple[Organization, str, str]:
    from shipdesk.tenancy.services import system_actor

    link = short_link_get(code=code)
    Suppression.objects.get_or_create(organization=link.organization, channel=link.channel,
                                      address=link.address, defaults={"source": "link"})
    audit(system_actor(link.organization), "notifications.unsubscribe", None,
          channel=link.channel, source="short_link")
    return link.organization, link.channel, link.address


def unsubscribe_target(*, token: str) -> tuple[Organization, str, str]:
    """Whom a signed unsubscribe link is for, changing nothing. Raises
    ``signing.BadSignature`` on a tampered link, NotFound when the shop is gone."""
    from shipdesk.notifications.links import unsubscribe_parse

    target = unsubscribe_parse(token)
    org = Organization.objects.filter(pk=target.organization_id).first()
    if org is None:
        raise NotFound(_("Магазин не найден"))
    return org, target.channel, target.address


def unsubscribe_by_token(*, token: str) -> tuple[Organization, str, str]:
    """The one-click unsubscribe. Raises ``signing.BadSignature`` on a tampered link."""
    from shipdesk.tenancy.services import system_actor

    org, channel, address = unsubscribe_target(token=token)
    Suppression.objects.get_or_create(organization=org, channel=channel, address=address,
                                      defaults={"source": "link"})
    audit(system_actor(org), "notifications.unsubscribe", None, channel=channel, source="link")
    return org, channel, address


# --- planning: the status-change feed → outbox rows ----------------------------------------
_STATUS_RULE: dict[str, tuple[str, int]] = {
    "accepted": (RuleKind.ACCEPTED, 0),
    "arrived_at_pickup": (RuleKind.ARRIVED, 0),
    "delivered": (RuleKind.DELIVERED, 0),
    "refused": (RuleKind.RETURNING, 0),
    "returning": (RuleKind.RETURNING, 0),
    "returned": (RuleKind.RETURNING, 1),
}
# a message that is no longer true is not sent: which current statuses each rule needs
_RELEVANT: dict[str, frozenset[str]] = {
    RuleKind.ACCEPTED: frozenset({"accepted", "in_transit", "customs", "info_received"}),
    RuleKind.ARRIVED: frozenset({"arrived_at_pickup"}),
    RuleKind.REMINDER: frozenset({"arrived_at_pickup"}),
    RuleKind.DELIVERED: frozenset({"delivered"}),
    RuleKind.RETURNING: frozenset({"refused", "returning", "returned"}),
}


@dataclass
class _OrgPlan:
    settings: NotificationSettings
    rules: dict[str, Rule]


def _org_plans(org_ids: set[int]) -> dict[int, _OrgPlan]:
    settings = {s.organization_id: s for s in
                NotificationSettings.objects.filter(organization_id__in=org_ids)}
    missing = org_ids - set(settings)
    for org in Organization.objects.filter(pk__in=missing):
        settings[org.pk] = settings_ensure(organization=org)
    rules: dict[int, dict[str, Rule]] = defaultdict(dict)
    for r in Rule.objects.filter(organization_id__in=org_ids):
        rules[r.organization_id][r.kind] = r
    return {oid: _OrgPlan(settings[oid], rules[oid]) for oid in org_ids}


def _sms_gateway(plan: _OrgPlan, configured: set[tuple[int, str]], org_id: int) -> str:
    if plan.settings.sms_gateway:
        return plan.settings.sms_gateway
    for g in SMS_GATEWAYS:
        if (org_id, g) in configured:
            return g
    return Gateway.SMSRU


def _messages_for(shipment: Any, plan: _OrgPlan, rule_kind: str, occurrence: int,
                  due: dt.datetime, configured: set[tuple[int, str]]) -> list[Message]:
    rule = plan.rules.get(rule_kind)
    if rule is None or not rule.enabled or not rule.channels:
        return []
    org_id = shipment.organization_id
    staff = rule_kind == RuleKind.RETURNING
    candidates: list[tuple[str, str, str, str]] = []
    # an automation rule may have narrowed the parcel's channels (shipment options)
    only = None if staff else (shipment.options or {}).get("notify_channels")
    channels = [c for c in rule.channels if only is None or c in only]
    for channel in channels:
        if channel == Channel.WEBHOOK:
            raw = plan.settings.staff_email if staff else (shipment.recipient_email
                                                           or shipment.recipient_phone)
            candidates.append((channel, raw or "-", "", Gateway.WEBHOOK))
            continue
        if staff:
            raw = plan.settings.staff_email if channel == Channel.EMAIL else \
                plan.settings.shop_phone
        else:
            raw = shipment.recipient_email if channel == Channel.EMAIL else \
                shipment.recipient_phone
        address, problem = normalise_address(channel, raw)
        gateway = Gateway.SMTP if channel == Channel.EMAIL else _sms_gateway(plan, configured,
                                                                              org_id)
        candidates.append((channel, address, problem, gateway))
    chosen = candidates
    if rule.fallback:
        usable = [c for c in candidates if not c[2]]
        if usable:
            chosen = usable[:1]
        elif candidates:  # nothing usable: one row that says why, for every channel
            channel, address, _p, gateway = candidates[0]
            chosen = [(channel, address, "; ".join(c[2] for c in candidates), gateway)]
    zone = zone_for_index(shipment.index or "")
    when = next_in_window(due, zone, plan.settings.window_start, plan.settings.window_end)
    out = []
    for channel, address, problem, gateway in chosen:
        msg = Message(organization_id=org_id, shipment_id=shipment.pk, rule=rule_kind,
                      occurrence=occurrence, channel=channel, gateway=gateway,
                      recipient=address, due_at=when)
        if problem:
            msg.status, msg.error, msg.due_at = MessageStatus.SKIPPED, problem, None
        out.append(msg)
    return out


# statuses that show the carrier has the parcel and it is still on its way to the buyer:
# the first of them a parcel reaches is its "accepted" moment, also when the carrier never
# said "accepted" (the first answer already shows movement: a change '' → in_transit)
_ACCEPTED_FROM = frozenset({"accepted", "in_transit", "customs"})
_BEFORE_ACCEPTANCE = frozenset({"", "info_received"})
# a parcel keeps at most this many reminders whatever its storage term (a runaway guard)
REMINDERS_CEILING = 20


def reminder_times(*, arrived_at: dt.datetime, deadline: dt.date | None, zone: Any,
                   interval_days: int, max_reminders: int) -> list[dt.datetime]:
    """When the reminders of a parcel waiting since ``arrived_at`` are due. With the storage
    deadline known (the carrier's date or our rule; the last free day on the office's
    calendar, ``zone``) one every ``interval_days`` while the deadline is ahead, and the last
    one on the eve of the deadline — however long the item is kept (15 or 30 days, extended,
    CDEK's ``keep_free_until``). Without a deadline ``max_reminders`` of them. A rule with
    ``max_reminders == 0`` sends none."""
    if max_reminders <= 0:
        return []
    step = dt.timedelta(days=max(interval_days, 1))
    if deadline is None:
        return [arrived_at + step * k for k in range(1, max_reminders + 1)]
    times: list[dt.datetime] = []
    k = 1
    while len(times) < REMINDERS_CEILING - 1 and (
            (due := arrived_at + step * k).astimezone(zone).date() < deadline):
        times.append(due)
        k += 1
    # the eve of the deadline, at noon on the office's calendar: the last call
    eve = dt.datetime.combine(deadline - dt.timedelta(days=1), dt.time(12, 0),
                              tzinfo=zone).astimezone(dt.UTC)
    last = times[-1] if times else arrived_at
    if eve - last >= dt.timedelta(days=1):
        times.append(eve)
    return times


def _reminder_rows(shipment: Any, plan: _OrgPlan, *, arrived_at: dt.datetime,
                   deadline: dt.date | None, now: dt.datetime,
                   configured: set[tuple[int, str]], after: int = 0) -> list[Message]:
    reminder = plan.rules.get(RuleKind.REMINDER)
    if reminder is None or not reminder.enabled:
        return []
    rows: list[Message] = []
    times = reminder_times(arrived_at=arrived_at, deadline=deadline,
                           zone=zone_for_index(shipment.index or ""),
                           interval_days=reminder.interval_days,
                           max_reminders=reminder.max_reminders)
    for k, due in enumerate(times, start=1):
        if k <= after or due < now - dt.timedelta(days=1):
            continue  # already planned, or a backlog of old changes: no old reminders
        rows += _messages_for(shipment, plan, RuleKind.REMINDER, k, max(due, now), configured)
    return rows


def outbox_plan(*, changes: list[Any], now: dt.datetime | None = None) -> int:
    """Plans the messages for status changes (rows of the tracking feed); returns how many
    rows were offered to the outbox (a row already there is left alone)."""
    from shipdesk.shipments.models import Shipment

    now = now or timezone.now()
    if not changes:
        return 0
    shipments = Shipment.objects.in_bulk({c.shipment_id for c in changes})
    plans = _org_plans({c.organization_id for c in changes})
    configured = set(ChannelConfig.objects.filter(
        organization_id__in=list(plans), enabled=True).values_list("organization_id",
                                                                   "gateway"))
    arrivals = [shipments[c.shipment_id] for c in changes
                if c.status == "arrived_at_pickup" and c.shipment_id in shipments]
    facts = parcel_facts(arrivals) if arrivals else {}
    rows: list[Message] = []
    for change in changes:
        shipment = shipments.get(change.shipment_id)
        if shipment is None:
            continue
        plan = plans[change.organization_id]
        if change.status in _ACCEPTED_FROM and (
                change.previous_status or "") in _BEFORE_ACCEPTANCE and (
                change.status != "accepted"):
            # the first status at or after acceptance: the "accepted" message (the row's
            # UNIQUE key keeps it to one per parcel)
            rows += _messages_for(shipment, plan, RuleKind.ACCEPTED, 0,
                                  max(change.changed_at, now), configured)
        target = _STATUS_RULE.get(change.status)
        if target is None:
            continue
        kind, occurrence = target
        rows += _messages_for(shipment, plan, kind, occurrence, max(change.changed_at, now),
                              configured)
        if kind == RuleKind.ARRIVED:
            fact = facts.get(shipment.pk)
            rows += _reminder_rows(shipment, plan, arrived_at=change.changed_at,
                                   deadline=fact.storage_deadline if fact else None,
                                   now=now, configured=configured)
    Message.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def outbox_plan_from_feed(*, limit: int = 5000, now: dt.datetime | None = None) -> int:
    """Reads the tracking status-change feed after our cursor and plans messages."""
    from shipdesk.tracking.selectors import status_changes_after

    with transaction.atomic():
        cursor, _created = FeedCursor.objects.get_or_create(name=FEED)
        cursor = FeedCursor.objects.select_for_update().get(pk=cursor.pk)
        changes = list(status_changes_after(last_id=cursor.last_id, limit=limit))
        if not changes:
            return 0
        planned = outbox_plan(changes=changes, now=now)
        cursor.last_id = changes[-1].pk
        cursor.save(update_fields=["last_id"])
    return planned


# --- sending ------------------------------------------------------------------------------
@dataclass
class SendStats:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry: int = 0
    unknown: int = 0
    deferred: int = 0
    recovered: int = 0


def _after_crash(gateway: str) -> str:
    from shipdesk.notifications.gateways import gateway_class

    return gateway_class(gateway).after_crash if gateway else UNKNOWN


RECOVER_ASK_LIMIT = 500
ASK_GIVE_UP = dt.timedelta(days=1)


def outbox_recover(*, now: dt.datetime, http: Any = None) -> int:
    """Rows whose sender died mid-send (lease ran out). Never handed over (no attempt
    written): sent normally. Otherwise by the gateway's ``after_crash``: RESEND — sent again
    with the same attempt id / Message-ID; ASK — the gateway is asked about this attempt;
    UNKNOWN — flagged for a person (a repeat could be a second message)."""
    by_policy: dict[str, list[str]] = defaultdict(list)
    for g in Gateway.values:
        by_policy[_after_crash(g)].append(g)
    expired = Message.objects.filter(status=MessageStatus.SENDING, lease_until__lt=now)
    n = expired.filter(attempt_at__isnull=True).update(
        status=MessageStatus.PENDING, due_at=now, lease_until=None)
    n += expired.filter(gateway__in=by_policy[RESEND]).update(
        status=MessageStatus.PENDING, due_at=now, lease_until=None)
    n += expired.filter(gateway__in=by_policy[UNKNOWN]).update(
        status=MessageStatus.UNKNOWN, due_at=None, lease_until=None,
        error=_("Отправка прервана сбоем: шлюз мог принять сообщение, а спросить его нельзя; "
                "повтор не делаем (не более одного раза)"))
    return n + _recover_by_asking(now=now, gateways=by_policy[ASK], http=http)


def _recover_by_asking(*, now: dt.datetime, gateways: list[str], http: Any) -> int:
    with transaction.atomic():
        rows = list(Message.objects.filter(status=MessageStatus.SENDING, lease_until__lt=now,
                                           gateway__in=gateways)
                    .select_for_update(skip_locked=True)
                    .only("organization_id", "gateway", "recipient", "body", "attempt_id",
                          "attempt_at")[:RECOVER_ASK_LIMIT])
        # this recovery holds them now: another worker's recovery leaves them alone
        Message.objects.filter(pk__in=[r.pk for r in rows]).update(lease_until=now + LEASE)
    groups: dict[tuple[int, str, dt.datetime], list[Message]] = defaultdict(list)
    for r in rows:
        groups[(r.organization_id, r.gateway, cast(dt.datetime, r.attempt_at))].append(r)
    done = 0
    for (org_id, gateway, since), items in groups.items():
        config = _gateway_config(org_id, gateway)
        try:
            if config is None:
                raise GatewayError(_("шлюз «%s» выключен или не настроен") % gateway)
            gw = get_gateway(gateway, config, http=http)
            try:
                found = gw.lookup([Outgoing(key=r.pk, to=r.recipient, text=r.body,
                                            attempt_id=str(r.attempt_id)) for r in items], since)
            finally:
                gw.close()
        except GatewayError as exc:
            # cannot tell now: asked again after a backoff, never sent blindly; after a day
            # of no answer it is left to a person
            log.warning("cannot ask %s about interrupted messages: %s", gateway, exc)
            ids = [r.pk for r in items]
            if since < now - ASK_GIVE_UP:
                Message.objects.filter(pk__in=ids).update(
                    status=MessageStatus.UNKNOWN, due_at=None, lease_until=None,
                    error=(_("Отправка прервана сбоем, шлюз сутки не отвечает, ушло ли "
                             "сообщение; повтор не делаем: %s") % exc)[:500])
            else:
                Message.objects.filter(pk__in=ids).update(lease_until=now + BACKOFF_BASE,
                                                          error=str(exc)[:500])
            continue
        with transaction.atomic():
            for r in items:
                provider_id = found.get(r.pk)
                if provider_id is not None:
                    Message.objects.filter(pk=r.pk, status=MessageStatus.SENDING).update(
                        status=MessageStatus.SENT, provider_id=provider_id, sent_at=since,
                        due_at=None, lease_until=None, error="")
                else:  # the gateway has no such attempt: it was never taken, send it now
                    Message.objects.filter(pk=r.pk, status=MessageStatus.SENDING).update(
                        status=MessageStatus.PENDING, due_at=now, lease_until=None)
                done += 1
    return done


def outbox_claim(*, now: dt.datetime, limit: int) -> list[int]:
    with transaction.atomic():
        ids = list(Message.objects.filter(status=MessageStatus.PENDING, due_at__lte=now)
                   .order_by("due_at").select_for_update(skip_locked=True)
                   .values_list("pk", flat=True)[:limit])
        if ids:
            Message.objects.filter(pk__in=ids).update(status=MessageStatus.SENDING,
                                                      lease_until=now + LEASE, attempt_at=None)
    return ids


def outbox_send_due(*, now: dt.datetime | None = None, limit: int = 1000,
                    http: Any = None) -> SendStats:
    """Claims due messages and sends them; safe to run in any number of workers."""
    now = now or timezone.now()
    stats = SendStats(recovered=outbox_recover(now=now, http=http))
    ids = outbox_claim(now=now, limit=limit)
    stats.claimed = len(ids)
    if ids:
        outbox_send_claimed(ids=ids, now=now, stats=stats, http=http)
    return stats


_RESULT_FIELDS = ("status", "due_at", "lease_until", "attempts", "subject", "body", "segments",
                  "provider_id", "cost", "error", "sent_at", "attempt_at")
_MESSAGE_FIELDS = ("organization_id", "shipment_id", "rule", "occurrence", "channel", "gateway",
                   "recipient", "attempt_id", *_RESULT_FIELDS)
# what the macros and the checks read of a shipment
_SHIPMENT_FIELDS = ("organization_id", "order_number", "recipient_surname",
                    "recipient_given_name", "recipient_patronymic", "recipient_company",
                    "recipient_email", "recipient_phone", "pickup_point_code",
                    "index", "city", "street", "house", "cod_amount", "tracking_number",
                    "tracking_status")


def outbox_send_claimed(*, ids: list[int], now: dt.datetime, stats: SendStats | None = None,
                        http: Any = None) -> SendStats:
    stats = stats or SendStats()
    rows = list(Message.objects.filter(pk__in=ids, status=MessageStatus.SENDING)
                .select_related("shipment")
                .only(*_MESSAGE_FIELDS, *(f"shipment__{f}" for f in _SHIPMENT_FIELDS)))
    if not rows:
        return stats
    org_ids = {r.organization_id for r in rows}
    organizations = Organization.objects.only("name", "phone").in_bulk(org_ids)
    plans = _org_plans(org_ids)
    suppressed = set(Suppression.objects.filter(
        organization_id__in=org_ids, address__in={r.recipient for r in rows})
        .values_list("organization_id", "channel", "address"))
    templates = {(t.organization_id, t.rule, t.channel): (t.subject, t.body)
                 for t in Template.objects.filter(organization_id__in=org_ids)}
    facts = parcel_facts([r.shipment for r in rows])
    _ensure_short_links(rows)
    done: list[Message] = []
    later: list[Message] = []  # reminders the current storage deadline asks for
    configured: set[tuple[int, str]] | None = None
    batches: dict[tuple[int, str], list[tuple[Message, Outgoing]]] = defaultdict(list)
    for row in rows:
        plan = plans[row.organization_id]
        row.attempts += 1
        problem, status = _precheck(row, suppressed, facts, plan, now)
        if status == MessageStatus.PENDING:  # outside the window: back to the queue
            row.status, row.due_at, row.attempts = status, problem, row.attempts - 1
            row.lease_until = None
            stats.deferred += 1
            done.append(row)
            continue
        if problem:
            _finish(row, status, str(problem))
            stats.skipped += 1
            done.append(row)
            continue
        fact = facts[row.shipment_id]
        if row.rule in (RuleKind.ARRIVED, RuleKind.REMINDER) and fact.arrived_at and (
                fact.storage_deadline):
            # the deadline may have moved since the arrival (extended storage, a carrier's
            # new date): the reminders follow it, the last one still before it
            if configured is None:
                configured = set(ChannelConfig.objects.filter(
                    organization_id__in=org_ids, enabled=True).values_list(
                    "organization_id", "gateway"))
            later += _reminder_rows(
                row.shipment, plan, arrived_at=fact.arrived_at, deadline=fact.storage_deadline,
                now=now, configured=configured,
                after=row.occurrence if row.rule == RuleKind.REMINDER else 0)
        subject, body = templates.get((row.organization_id, row.rule, row.channel)) or \
            DEFAULT_TEMPLATES[(row.rule, row.channel)]
        ctx = message_context(shipment=row.shipment,
                              organization=organizations[row.organization_id],
                              facts=facts[row.shipment_id], channel=row.channel,
                              address=row.recipient, shop_phone=plan.settings.shop_phone,
                              review_url=plan.settings.review_url, now=now)
        try:
            row.subject = rendering.render(subject, ctx)[:300]
            row.body = rendering.render(body, ctx)
        except (rendering.TemplateRefused, Exception) as exc:
            _finish(row, MessageStatus.FAILED, _("Шаблон не отрисован: %s") % exc)
            stats.failed += 1
            done.append(row)
            continue
        if not row.body:
            _finish(row, MessageStatus.SKIPPED, _("Пустой текст: шаблон не задан"))
            stats.skipped += 1
            done.append(row)
            continue
        if row.channel == Channel.SMS:
            row.segments = rendering.sms_length(row.body).segments
            if row.segments > plan.settings.sms_segment_limit:
                _finish(row, MessageStatus.FAILED, _(
                    "SMS из %(n)s частей больше лимита магазина (%(m)s)") % {
                    "n": row.segments, "m": plan.settings.sms_segment_limit})
                stats.failed += 1
                done.append(row)
                continue
        headers = {}
        if row.channel == Channel.EMAIL:
            headers = {"List-Unsubscribe": f"<{ctx['unsubscribe_link']}>",
                       "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        batches[(row.organization_id, row.gateway)].append((row, Outgoing(
            key=row.pk, to=row.recipient, text=row.body, subject=row.subject,
            attempt_id=str(row.attempt_id), headers=headers)))
    jobs = []
    for (org_id, gateway), items in batches.items():
        config = _gateway_config(org_id, gateway)
        if config is None:
            for row, _o in items:
                _finish(row, MessageStatus.FAILED, _("Шлюз «%s» не настроен") % gateway)
                stats.failed += 1
                done.append(row)
            continue
        jobs.append((get_gateway(gateway, config, http=http), items))
    _save_results(done)
    if later:
        Message.objects.bulk_create(later, ignore_conflicts=True, batch_size=1000)
    if not jobs:
        return stats
    _send_in_chunks(jobs, now, stats)
    return stats


def _chunks(gw: Any, items: list[tuple[Message, Outgoing]]
            ) -> list[tuple[Any, list[tuple[Message, Outgoing]]]]:
    """A gateway's share cut into chunks of its ``chunk_size`` (at most ``COMMIT_EVERY``)."""
    size = min(COMMIT_EVERY, gw.chunk_size)
    return [(gw, items[i:i + size]) for i in range(0, len(items), size)]


def _send_in_chunks(jobs: list[tuple[Any, list[tuple[Message, Outgoing]]]], now: dt.datetime,
                    stats: SendStats) -> None:
    """Each gateway's share goes out in chunks (``Gateway.chunk_size``), gateways side by side,
    each up to its ``parallel`` chunks at once. A chunk's attempt (rendered text and
    ``attempt_at``, one UPDATE) is written just before it is handed over — recovery asks a
    gateway about exactly this text — and its outcome as soon as it is back, all from this
    thread:
    a crash catches only the chunks in flight, and a row with no ``attempt_at`` surely
    never reached its gateway."""
    per_gateway = [_chunks(gw, items) for gw, items in jobs]
    # round-robin over gateways, so that one big share does not hold the others back
    waiting = [c for row in itertools.zip_longest(*per_gateway) for c in row if c is not None]
    busy: dict[int, int] = defaultdict(int)  # chunks in flight per gateway
    in_flight: dict[Future[list[SendResult]], tuple[Any, list[tuple[Message, Outgoing]]]] = {}
    try:
        with ThreadPoolExecutor(max_workers=min(len(waiting), MAX_THREADS)) as pool:
            while waiting or in_flight:
                for chunk in [c for c in waiting]:
                    gw, items = chunk
                    if busy[id(gw)] >= gw.parallel or len(in_flight) >= MAX_THREADS:
                        continue
                    waiting.remove(chunk)
                    for row, _o in items:
                        row.attempt_at = now
                    _save_results([row for row, _o in items], _ATTEMPT_FIELDS)
                    busy[id(gw)] += 1
                    in_flight[pool.submit(_send_chunk, chunk)] = chunk
                finished_futures, _rest = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished_futures:
                    gw, items = in_flight.pop(future)
                    busy[id(gw)] -= 1
                    by_key = {row.pk: row for row, _o in items}
                    finished = []
                    for res in future.result():
                        row = by_key[res.key]
                        _apply_result(row, res, now, after_crash=gw.after_crash, stats=stats)
                        finished.append(row)
                    fault_point("after_gateway." + gw.name)
                    _save_results(finished, _OUTCOME_FIELDS)
    finally:
        for gw, _items in jobs:
            gw.close()


COMMIT_EVERY = 100
MAX_THREADS = 12


def fault_point(name: str) -> None:
    """Crash injection for the kill -9 tests only: with ``SHIPDESK_FAULT_INJECT=<name>:<n>``
    in the environment this process SIGKILLs itself the n-th time it passes ``name`` (here:
    after a gateway accepted messages, before that is written). Unset: does nothing."""
    spec = os.environ.get("SHIPDESK_FAULT_INJECT")
    if not spec:
        return
    target, _sep, nth = spec.partition(":")
    if target != name:
        return
    _FAULT_HITS[name] = _FAULT_HITS.get(name, 0) + 1
    if _FAULT_HITS[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_FAULT_HITS: dict[str, int] = {}
# written just before a chunk is handed over (the text recovery asks a gateway about), and
# when the gateway has answered
_ATTEMPT_FIELDS = ("attempts", "subject", "body", "segments", "attempt_at")
_OUTCOME_FIELDS = ("status", "due_at", "lease_until", "provider_id", "cost", "error", "sent_at")


def _save_results(rows: list[Message], names: tuple[str, ...] = _RESULT_FIELDS) -> None:
    """Writes some fields of many rows, each row its own values: on PostgreSQL one UPDATE
    joined to the values as arrays (``unnest``), elsewhere one parameterised UPDATE per
    row sent with ``executemany``; both far cheaper than ``bulk_update``'s CASE."""
    if not rows:
        return
    fields: list[Any] = [Message._meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    table = qn(Message._meta.db_table)
    # only our own table and column names and types go into the text; values are parameters
    if connection.vendor == "postgresql":
        columns = ", ".join(qn(f.column) for f in fields)
        arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
        assignments = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields)
        sql = (f"UPDATE {table} SET {assignments} FROM unnest(%b::bigint[], {arrays}) "  # noqa: S608
               f"AS v(id, {columns}) WHERE {table}.id = v.id")
        connection.ensure_connection()
        # A plain psycopg cursor binds on the server, each array in binary: Django's cursor
        # binds on the client, quoting and escaping every body text in Python (a tenth of a
        # sending worker's time).
        with psycopg.Cursor(connection.connection) as cursor:
            for start in range(0, len(rows), 1000):
                part = rows[start:start + 1000]
                # psycopg adapts str, int, Decimal, datetime and None as PostgreSQL wants
                cursor.execute(sql, [[row.pk for row in part]]
                               + [[getattr(row, f.attname) for row in part] for f in fields])
        return
    assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    sql = f"UPDATE {table} SET {assignments} WHERE id = %s"  # noqa: S608
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
              + [row.pk] for row in rows]
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(params), 1000):
            cursor.executemany(sql, params[start:start + 1000])


def _send_chunk(job: tuple[Any, list[tuple[Message, Outgoing]]]) -> list[SendResult]:
    gw, items = job
    try:
        return gw.send_many([o for _r, o in items])
    except GatewayError as exc:
        return [SendResult(o.key, False, error=str(exc), permanent=exc.permanent,
                           uncertain=exc.uncertain) for _r, o in items]
    except Exception as exc:  # a gateway bug must not leave the batch claimed
        log.exception("gateway %s failed", gw.name)
        return [SendResult(o.key, False, error=f"{gw.name}: {exc}", uncertain=True)
                for _r, o in items]


def _precheck(row: Message, suppressed: set[tuple[int, str, str]], facts: dict[int, Any],
              plan: _OrgPlan, now: dt.datetime) -> tuple[Any, str]:
    if (row.organization_id, row.channel, row.recipient) in suppressed:
        return _("Получатель отписался от уведомлений"), MessageStatus.SKIPPED
    rule = plan.rules.get(row.rule)
    if rule is None or not rule.enabled:
        return _("Правило выключено"), MessageStatus.SKIPPED
    fact = facts[row.shipment_id]
    status = fact.status or row.shipment.tracking_status
    if status and status not in _RELEVANT[row.rule]:
        return _("Неактуально: статус отправления теперь «%s»") % status, MessageStatus.SKIPPED
    zone = zone_for_index(row.shipment.index or "")
    # the deadline is a day on the office's calendar: today is the office's today too (in
    # UTC+10 a 09:00 morning is still yesterday in UTC)
    if row.rule in (RuleKind.REMINDER, RuleKind.ARRIVED) and fact.storage_deadline and \
            now.astimezone(zone).date() > fact.storage_deadline:
        return _("Срок хранения истёк %s") % fact.storage_deadline.strftime("%d.%m.%Y"), \
            MessageStatus.SKIPPED
    if row.rule != RuleKind.RETURNING:
        when = next_in_window(now, zone, plan.settings.window_start, plan.settings.window_end)
        if when > now:
            return when, MessageStatus.PENDING
    return "", ""


def _finish(row: Message, status: str, error: str) -> None:
    row.status, row.error, row.due_at, row.lease_until = status, error[:500], None, None


def _apply_result(row: Message, res: SendResult, now: dt.datetime, *, after_crash: str,
                  stats: SendStats) -> None:
    row.lease_until = None
    if res.ok:
        row.status, row.provider_id, row.cost = MessageStatus.SENT, res.provider_id, res.cost
        row.sent_at, row.due_at, row.error = now, None, ""
        stats.sent += 1
    elif res.uncertain and after_crash == ASK:
        # no clear answer (timeout): the same as a crash — recovery asks the gateway later
        row.error, row.lease_until = res.error[:500], now + BACKOFF_BASE
        stats.retry += 1
    elif res.uncertain and after_crash == UNKNOWN:
        _finish(row, MessageStatus.UNKNOWN, _("Шлюз не ответил: сообщение могло уйти, повтор "
                                              "не делаем (%s)") % res.error)
        stats.unknown += 1
    elif res.permanent or row.attempts >= MAX_ATTEMPTS:
        _finish(row, MessageStatus.FAILED, res.error if res.permanent else _(
            "Не отправлено за %(n)s попыток: %(e)s") % {"n": row.attempts, "e": res.error})
        stats.failed += 1
    else:  # a definite refusal, or uncertain where a repeat is recognised (RESEND)
        row.status, row.error = MessageStatus.PENDING, res.error[:500]
        row.due_at = now + BACKOFF_BASE * (2 ** (row.attempts - 1))
        stats.retry += 1


def outbox_requeue(*, actor: Actor, message_id: int) -> Message:
    """A person decides to send an "unknown" or failed message again."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    msg = Message.objects.filter(organization=actor.organization, pk=message_id).first()
    if msg is None:
        raise NotFound(_("Сообщение не найдено"))
    if msg.status not in (MessageStatus.UNKNOWN, MessageStatus.FAILED):
        raise ValidationFailed(_("Повторить можно только сообщение с ошибкой или в неизвестном "
                                 "состоянии"))
    msg.status, msg.due_at, msg.attempts, msg.attempt_id = (MessageStatus.PENDING,
                                                            timezone.now(), 0, uuid.uuid4())
    msg.attempt_at = None
    msg.save(update_fields=["status", "due_at", "attempts", "attempt_id", "attempt_at"])
    audit(actor, "notifications.requeue", msg)
    return msg


# --- delivery reports -------------------------------------------------------------------
def callback_url(gateway: str, token: str) -> str:
    """Where a gateway pushes delivery reports for one organization's account: the secret
    token in the path is what proves the caller knows this account's setup."""
    from django.conf import settings
    from django.urls import reverse

    return settings.PUBLIC_URL + reverse("notifications:callback",
                                         kwargs={"gateway": gateway, "token": token})


# each gateway's status codes are mapped in its module (gateways.smsru / smsc / smsaero)


@dataclass(frozen=True)
class CallbackReport:
    provider_id: str
    state: str  # delivered | undelivered | pending
    detail: str = ""


def _parse_callback(gateway: str, form: dict[str, str], body: Any) -> list[CallbackReport]:
    """The reports in one callback request, in each gateway's own shape."""
    from shipdesk.notifications.gateways import smsaero, smsc, smsru

    out = []
    if gateway == Gateway.SMSRU:
        # data[N] = "sms_status\n<sms_id>\n<status code>\n<unix time>" (other kinds ignored)
        for key, value in form.items():
            lines = value.splitlines()
            if key.startswith("data[") and len(lines) >= 3 and lines[0] == "sms_status":
                code = int(lines[2]) if lines[2].lstrip("-").isdigit() else 0
                state = smsru.report_state(code)
                out.append(CallbackReport(lines[1], "pending" if state == "gone" else state,
                                          f"sms.ru {code}"))
    elif gateway == Gateway.SMSC:
        status = int(form["status"]) if form.get("status", "").lstrip("-").isdigit() else 0
        state = smsc.report_state(status)
        state = "pending" if state == "gone" else state
        if form.get("id"):
            out.append(CallbackReport(form["id"], state, f"SMSC {status} {form.get('err', '')}"))
    elif gateway == Gateway.SMSAERO:
        data = body if isinstance(body, dict) else form
        status = int(data.get("status", -1)) if str(data.get("status", "")).isdigit() else -1
        state = smsaero.report_state(status)
        if data.get("id"):
            out.append(CallbackReport(str(data["id"]), state,
                                      str(data.get("extendStatus", ""))))
    return out


def delivery_callback(*, gateway: str, token: str, form: dict[str, str],
                      body: Any = None) -> int:
    """A gateway's delivery-report callback: finds the account by the secret token in the
    URL (unknown → NotFound), sets each reported message delivered / undelivered. Safe to
    receive twice: only a message still "sent" changes. Returns messages changed."""
    import hmac as _hmac

    conf = ChannelConfig.objects.filter(gateway=gateway, callback_token=token).first() \
        if token and gateway in SMS_GATEWAYS else None
    if conf is None or not _hmac.compare_digest(conf.callback_token, token):
        raise NotFound(_("Неизвестный адрес для отчётов о доставке"))
    now = timezone.now()
    changed = 0
    for rep in _parse_callback(gateway, form, body):
        if rep.state == "pending":
            continue
        delivered = rep.state == "delivered"
        changed += Message.objects.filter(
            organization_id=conf.organization_id, gateway=gateway,
            provider_id=rep.provider_id, status=MessageStatus.SENT,
        ).update(status=MessageStatus.DELIVERED if delivered else MessageStatus.UNDELIVERED,
                 delivered_at=now if delivered else None,
                 error="" if delivered else rep.detail[:500])
    return changed


def outbox_poll_delivery(*, now: dt.datetime | None = None, limit: int = 2000,
                         http: Any = None) -> int:
    """Asks the SMS gateways what became of sent messages; returns rows updated."""
    now = now or timezone.now()
    # a message the gateway said it does not know (sms.ru -1) keeps that note in ``error``
    # and is not asked about again
    rows = list(Message.objects.filter(status=MessageStatus.SENT, gateway__in=SMS_GATEWAYS,
                                       sent_at__gte=now - dt.timedelta(days=3), error="")
                .exclude(provider_id="").order_by("sent_at")[:limit])
    groups: dict[tuple[int, str], list[Message]] = defaultdict(list)
    for r in rows:
        groups[(r.organization_id, r.gateway)].append(r)
    changed: list[Message] = []
    for (org_id, gateway), items in groups.items():
        config = _gateway_config(org_id, gateway)
        if config is None:
            continue
        gw = get_gateway(gateway, config, http=http)
        try:
            reports = {rep.provider_id: rep for rep in
                       gw.delivery_reports([(r.provider_id, r.recipient) for r in items])}
        except Exception:
            log.warning("delivery reports from %s failed", gateway, exc_info=True)
            continue
        for r in items:
            rep = reports.get(r.provider_id)
            if rep is None or rep.state == "pending":
                continue
            if rep.state == "gone":  # accepted, but the gateway will never tell more
                r.error = (_("Шлюз не знает это сообщение (%s): статус больше не "
                             "запрашиваем") % (rep.detail or "−1"))[:500]
                changed.append(r)
                continue
            r.status = (MessageStatus.DELIVERED if rep.state == "delivered"
                        else MessageStatus.UNDELIVERED)
            r.delivered_at = now if rep.state == "delivered" else None
            if rep.cost is not None:
                r.cost = rep.cost
            if rep.state != "delivered":
                r.error = rep.detail[:500]
            changed.append(r)
    Message.objects.bulk_update(changed, ["status", "delivered_at", "cost", "error"],
                                batch_size=500)
    return len(changed)


def outbox_send_ids(*, ids: list[int], now: dt.datetime | None = None,
                    http: Any = None) -> SendStats:
    """Sends the given messages (handed out by the due-work sweep) if still pending."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = list(Message.objects.filter(pk__in=ids, status=MessageStatus.PENDING)
                       .select_for_update(skip_locked=True).values_list("pk", flat=True))
        if claimed:
            Message.objects.filter(pk__in=claimed).update(status=MessageStatus.SENDING,
                                                          lease_until=now + LEASE,
                                                          attempt_at=None)
    stats = SendStats(claimed=len(claimed))
    if claimed:
        outbox_send_claimed(ids=claimed, now=now, stats=stats, http=http)
    return stats


JOB_FEED = FEED
JOB_DELIVERY = "notifications.delivery"
JOB_INTERVAL = {JOB_FEED: dt.timedelta(seconds=30), JOB_DELIVERY: dt.timedelta(minutes=5)}


def jobs_run(*, ids: list[int], now: dt.datetime | None = None) -> None:
    """The periodic jobs of this domain: read the feed, poll delivery reports, recover
    interrupted sends. Each sets its next run when done."""
    now = now or timezone.now()
    for job in FeedCursor.objects.filter(pk__in=ids):
        if job.name == JOB_FEED:
            while outbox_plan_from_feed(now=now):
                pass
            outbox_recover(now=now)
        elif job.name == JOB_DELIVERY:
            outbox_poll_delivery(now=now)
        FeedCursor.objects.filter(pk=job.pk).update(
            due_at=timezone.now() + JOB_INTERVAL.get(job.name, dt.timedelta(minutes=1)))


def organization_mail_connection(*, organization_id: int) -> tuple[Any, str]:
    """The organization's own SMTP (its e-mail channel settings, else the installation's) as
    a Django mail connection and the From address, for letters other domains send on the
    shop's behalf (a claim to the carrier)."""
    from shipdesk.notifications.gateways.email import Email

    gateway = Email(config=_gateway_config(organization_id, Gateway.SMTP) or {})
    return gateway._connection(), gateway.from_email
