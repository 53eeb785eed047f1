"""The organization's automation rules: conditions on an order → actions.

The rules are ordered (``position`` 1, 2, …); the first active rule whose conditions all
hold gives the carrier account and, when set, the service (for a shipment that names no
carrier), and fills what the order left empty: the package (weight, dimensions), extra
services, the declared value (insurance), the sender, the recipient's notification
channels (:func:`rule_apply`). Every intake path (API, bulk, spreadsheet, shop webhooks,
the MoySklad trigger) goes through ``shipments_intake`` and so through these rules.

The matching is a pure core over :class:`RuleFacts` (no ORM): intake loads the rules once
with :func:`delivery_rules_for` and calls :func:`choose_rule` per shipment. The write side
checks every rule and keeps the positions 1..n without gaps; each change needs
``Perm.MANAGE_SETTINGS`` and is audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shipdesk.carriers import selectors as carrier_selectors
from shipdesk.core.errors import FieldError, NotFound, ValidationFailed, refuse_unknown_fields
from shipdesk.shipments.models import DeliveryRule, MailTypeLimit
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

COD_WITH, COD_WITHOUT = DeliveryRule.Cod.WITH.value, DeliveryRule.Cod.WITHOUT.value
PICKUP, DOOR = DeliveryRule.Delivery.PICKUP.value, DeliveryRule.Delivery.DOOR.value
DOMESTIC = DeliveryRule.Destination.DOMESTIC.value
INTERNATIONAL = DeliveryRule.Destination.INTERNATIONAL.value
MAX_WEIGHT_G = 2_000_000_000
# where an order came from (Shipment.source): the rules' «откуда заказ» condition
SOURCE_NAMES = {
    "api": gettext_lazy("API"), "upload": gettext_lazy("файл"), "ui": gettext_lazy("вручную"),
    "insales": gettext_lazy("InSales"), "bitrix": gettext_lazy("1С-Битрикс"),
    "shopscript": gettext_lazy("Shop-Script"), "amocrm": gettext_lazy("amoCRM"),
    "shop_webhook": gettext_lazy("вебхук магазина"), "moysklad": gettext_lazy("МойСклад"),
}
# the extra services a rule may add: the option keys the carriers' adapters read
RULE_OPTIONS = ("fragile", "sms_notice", "inventory", "completeness_checking", "courier",
                "with_simple_notice", "with_order_of_notice")


def option_name(key: str) -> str:
    """An extra service's name («with_simple_notice» is the carriers' «simple_notice»)."""
    from shipdesk.carriers.names import OPTIONS, words_of

    name = OPTIONS.get(key) or OPTIONS.get(key.removeprefix("with_"))
    return str(name) if name else words_of(key)


NOTIFY_CHANNELS = {"sms": gettext_lazy("SMS"), "email": gettext_lazy("e-mail"),
                   "webhook": gettext_lazy("вебхук")}
MAX_SIZE_CM = 500
# a condition's value -> the fact it requires (an empty value requires nothing)
_COD = {COD_WITH: True, COD_WITHOUT: False}
_PICKUP = {PICKUP: True, DOOR: False}
_INTERNATIONAL = {INTERNATIONAL: True, DOMESTIC: False}


# --- the pure core -------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleFacts:
    """One rule, detached from the ORM. An empty condition holds for every parcel.

    ``is_active`` is false when the rule is switched off or its carrier account is."""

    id: int
    position: int
    name: str
    carrier_account_id: int
    carrier_code: str
    carrier_account_name: str = ""
    service_code: str = ""
    index_prefixes: tuple[str, ...] = ()
    min_weight_g: int | None = None
    max_weight_g: int | None = None
    cod: str = ""  # "", "with", "without"
    delivery: str = ""  # "", "pickup", "door"
    destination: str = ""  # "", "domestic", "international"
    is_active: bool = True
    sources: tuple[str, ...] = ()
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    # actions beside the carrier (each fills only what the order left empty)
    default_weight_g: int | None = None
    default_dims_cm: tuple[int, int, int] | None = None
    options: tuple[tuple[str, Any], ...] = ()
    insure: bool = False
    sender_id: int | None = None
    sender_name: str = ""
    notify_channels: tuple[str, ...] | None = None


def rule_matches(rule: RuleFacts, *, index: str, weight_g: int | None, cod: bool, pickup: bool,
                 international: bool, source: str = "", value: Decimal | None = None
                 ) -> bool:
    """Whether every condition of ``rule`` holds for the parcel (``is_active`` is not looked
    at here). Index prefixes are Russian postal indexes: they never hold for a parcel going
    abroad (a foreign postcode may start with the same digits). A weight condition never
    holds for a parcel of unknown weight. Weight bounds are inclusive."""
    if rule.index_prefixes:
        if international:
            return False
        compact = (index or "").replace(" ", "")
        if not compact.startswith(rule.index_prefixes):
            return False
    if rule.min_weight_g is not None or rule.max_weight_g is not None:
        if weight_g is None:
            return False
        if rule.min_weight_g is not None and weight_g < rule.min_weight_g:
            return False
        if rule.max_weight_g is not None and weight_g > rule.max_weight_g:
            return False
    if rule.sources and source not in rule.sources:
        return False
    if rule.min_value is not None or rule.max_value is not None:
        amount = value or Decimal("0")
        if rule.min_value is not None and amount < rule.min_value:
            return False
        if rule.max_value is not None and amount > rule.max_value:
            return False
    wanted = ((_COD.get(rule.cod), cod), (_PICKUP.get(rule.delivery), pickup),
              (_INTERNATIONAL.get(rule.destination), international))
    return all(want is None or want == fact for want, fact in wanted)


def choose_rule(rules: Iterable[RuleFacts], *, index: str, weight_g: int | None, cod: bool,
                pickup: bool, international: bool, source: str = "",
                value: Decimal | None = None) -> RuleFacts | None:
    """The first active rule by position (then id) that matches the parcel; None if none."""
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if rule.is_active and rule_matches(rule, index=index, weight_g=weight_g, cod=cod,
                                           pickup=pickup, international=international,
                                           source=source, value=value):
            return rule
    return None


def _amount(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).replace(",", ".").replace(" ", "").replace("\u00a0", ""))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def order_value(data: Mapping[str, Any]) -> Decimal:
    """What an order is worth for the rules: its declared value, else its cash on delivery,
    else the sum of its items (quantity × unit price)."""
    for name in ("declared_value", "cod_amount"):
        amount = _amount(data.get(name))
        if amount:
            return amount
    total = Decimal("0")
    items = data.get("items")
    if isinstance(items, list | tuple):
        for item in items:
            if isinstance(item, Mapping):
                price = _amount(item.get("unit_price")) or Decimal("0")
                quantity = _amount(item.get("quantity")) or Decimal("1")
                total += price * quantity
    return total


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == 0


def rule_apply(rule: RuleFacts, data: Mapping[str, Any]) -> dict[str, Any]:
    """The order with the rule's actions beside the carrier applied: each fills only what
    the order left empty (an order's own weight, sender or extra service wins). Pure."""
    out = dict(data)
    if rule.default_weight_g and _empty(out.get("weight_g")):
        out["weight_g"] = rule.default_weight_g
    if rule.default_dims_cm and all(_empty(out.get(n))
                                    for n in ("length_cm", "width_cm", "height_cm")):
        out["length_cm"], out["width_cm"], out["height_cm"] = rule.default_dims_cm
    if rule.insure and _empty(_amount(out.get("declared_value"))):
        value = order_value(out)
        if value:
            out["declared_value"] = value
    if rule.sender_id is not None and _empty(out.get("sender_id")):
        out["sender_id"] = rule.sender_id
    given = out.get("options")
    if rule.options or rule.notify_channels is not None:
        options = dict(given) if isinstance(given, Mapping) else {}
        for key, value in rule.options:
            options.setdefault(key, value)
        if rule.notify_channels is not None:
            options.setdefault("notify_channels", list(rule.notify_channels))
        if isinstance(given, Mapping) or given in (None, ""):
            out["options"] = options
    return out


def rule_effects(rule: RuleFacts, data: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`rule_apply` would change on the order: field → new value (a dry run)."""
    after = rule_apply(rule, data)
    return {name: value for name, value in after.items() if data.get(name) != value}


def _weight(grams: int) -> str:
    if grams % 1000 == 0:
        return _("%(n)s кг") % {"n": grams // 1000}
    if grams >= 1000 and grams % 100 == 0:
        return _("%(n)s кг") % {"n": f"{grams / 1000:.1f}".replace(".", ",")}
    return _("%(n)s г") % {"n": grams}


def rule_describe(rule: RuleFacts, *, service_names: Mapping[tuple[str, str], str] | None = None
                  ) -> str:
    """The rule in plain words, e.g. «Индексы 101, 190; вес до 2 кг; с НП → СДЭК, тариф 136»."""
    parts: list[str] = []
    if rule.index_prefixes:
        parts.append(_("Индексы %(list)s") % {"list": ", ".join(rule.index_prefixes)})
    low, high = rule.min_weight_g, rule.max_weight_g
    if low is not None and high is not None:
        parts.append(_("вес от %(low)s до %(high)s") % {"low": _weight(low), "high": _weight(high)})
    elif low is not None:
        parts.append(_("вес от %(low)s") % {"low": _weight(low)})
    elif high is not None:
        parts.append(_("вес до %(high)s") % {"high": _weight(high)})
    if rule.cod:
        parts.append(_("с НП") if rule.cod == COD_WITH else _("без НП"))
    if rule.delivery:
        parts.append(_("в пункт выдачи") if rule.delivery == PICKUP else _("до двери / в отделение"))
    if rule.destination:
        parts.append(_("по России") if rule.destination == DOMESTIC else _("за рубеж"))
    if rule.sources:
        parts.append(_("из %(list)s") % {"list": ", ".join(
            str(SOURCE_NAMES.get(s, s)) for s in rule.sources)})
    if rule.min_value is not None and rule.max_value is not None:
        parts.append(_("сумма от %(low)s до %(high)s ₽") % {"low": rule.min_value,
                                                             "high": rule.max_value})
    elif rule.min_value is not None:
        parts.append(_("сумма от %(low)s ₽") % {"low": rule.min_value})
    elif rule.max_value is not None:
        parts.append(_("сумма до %(high)s ₽") % {"high": rule.max_value})
    condition = "; ".join(parts) if parts else _("Все отправления")
    condition = condition[:1].upper() + condition[1:]
    action = rule.carrier_account_name or rule.carrier_code
    if rule.service_code:
        from shipdesk.carriers.names import service_name

        action += ", " + service_name(
            rule.service_code, carrier_code=rule.carrier_code,
            fallback=(service_names or {}).get((rule.carrier_code, rule.service_code), ""))
    extras = rule_actions_describe(rule)
    if extras:
        action += "; " + "; ".join(extras)
    return f"{condition} → {action}"


def rule_actions_describe(rule: RuleFacts) -> list[str]:
    """The actions beside the carrier, in words («вес 500 г», «Хрупкое», «без SMS»)."""
    out: list[str] = []
    if rule.default_weight_g:
        out.append(_("вес по умолчанию %(w)s") % {"w": _weight(rule.default_weight_g)})
    if rule.default_dims_cm:
        out.append(_("упаковка %(l)s×%(w)s×%(h)s см") % dict(
            zip("lwh", rule.default_dims_cm, strict=True)))
    for key, _value in rule.options:
        out.append(option_name(key))
    if rule.insure:
        out.append(_("объявленная ценность = сумма заказа"))
    if rule.sender_id is not None:
        out.append(_("отправитель «%(name)s»") % {"name": rule.sender_name})
    if rule.notify_channels is not None:
        out.append(_("уведомления: %(list)s") % {"list": ", ".join(
            str(NOTIFY_CHANNELS.get(c, c)) for c in rule.notify_channels)}
            if rule.notify_channels else _("без уведомлений получателю"))
    return out


def service_names() -> dict[tuple[str, str], str]:
    """(carrier code, service code) → the mail type's name, for :func:`rule_describe`."""
    return {(c, s): n for c, s, n in MailTypeLimit.objects.values_list(
        "carrier_code", "service_code", "name")}


# --- read side -----------------------------------------------------------------------------

def _facts(rule: DeliveryRule) -> RuleFacts:
    account = rule.carrier_account
    dims = (rule.default_length_cm, rule.default_width_cm, rule.default_height_cm)
    sender = rule.sender if rule.sender_id is not None else None
    return RuleFacts(
        sources=tuple(s for s in rule.sources.split(",") if s),
        min_value=rule.min_value, max_value=rule.max_value,
        default_weight_g=rule.default_weight_g,
        default_dims_cm=(dims[0], dims[1], dims[2]) if all(dims) else None,  # type: ignore[arg-type]
        options=tuple(sorted((k, v) for k, v in (rule.options or {}).items() if v)),
        insure=rule.insure, sender_id=rule.sender_id,
        sender_name=sender.name if sender is not None else "",
        notify_channels=(None if rule.notify_channels is None
                         else tuple(rule.notify_channels)),
        id=rule.pk, position=rule.position, name=rule.name,
        carrier_account_id=rule.carrier_account_id, carrier_code=account.carrier_code,
        carrier_account_name=account.name, service_code=rule.service_code,
        index_prefixes=tuple(p for p in rule.index_prefixes.split(",") if p),
        min_weight_g=rule.min_weight_g, max_weight_g=rule.max_weight_g, cod=rule.cod,
        delivery=rule.delivery, destination=rule.destination,
        is_active=rule.is_active and account.is_active)


def delivery_rules_for(organization: Organization | int) -> list[RuleFacts]:
    """All the organization's rules in order (one query), for :func:`choose_rule`."""
    org_id = organization if isinstance(organization, int) else organization.pk
    return [_facts(rule) for rule in DeliveryRule.objects.filter(organization_id=org_id)
            .select_related("carrier_account", "sender").order_by("position", "id")]


def delivery_rule_list(*, actor: Actor) -> QuerySet[DeliveryRule]:
    actor.require(Perm.VIEW)
    return DeliveryRule.objects.filter(organization=actor.organization).select_related(
        "carrier_account", "sender").order_by("position", "id")


def delivery_rule_get(*, actor: Actor, rule_id: int) -> DeliveryRule:
    actor.require(Perm.VIEW)
    rule = delivery_rule_list(actor=actor).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("Правило не найдено"))
    return rule


def delivery_rule_facts(rule: DeliveryRule) -> RuleFacts:
    return _facts(rule)


# --- validation ----------------------------------------------------------------------------

RULE_FIELDS = ("name", "is_active", "index_prefixes", "min_weight_g", "max_weight_g", "cod",
               "delivery", "destination", "carrier_account_id", "service_code",
               "sources", "min_value", "max_value", "default_weight_g", "default_length_cm",
               "default_width_cm", "default_height_cm", "options", "insure", "sender_id",
               "notify_channels")
_PREFIX_SPLIT = re.compile(r"[,;\s]+")


def parse_index_prefixes(value: Any) -> tuple[tuple[str, ...], list[str]]:
    """«101, 190;125» → ("101", "190", "125"), and the messages about bad prefixes."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    found: list[str] = []
    bad: list[str] = []
    for prefix in _PREFIX_SPLIT.split(str(value or "")):
        if not prefix:
            continue
        if not (prefix.isdecimal() and prefix.isascii() and 1 <= len(prefix) <= 6):
            bad.append(_("«%(v)s» — не начало индекса: от 1 до 6 цифр") % {"v": prefix})
        elif prefix not in found:
            found.append(prefix)
    return tuple(found), bad


def _weight_value(value: Any, name: str, errors: list[FieldError],
                  message: str = "") -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        number = None
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
    if number is None or number < 0 or number > MAX_WEIGHT_G:
        errors.append(FieldError((name,), message or _(
            "Вес в граммах: целое число не меньше 0")))
        return None
    return number


def _choice(value: Any, choices: Any, name: str, errors: list[FieldError]) -> str:
    value = "" if value is None else str(value).strip()
    if value not in choices.values:
        allowed = ", ".join(f"«{v}»" for v in choices.values if v)
        errors.append(FieldError((name,), _("Допустимо: %(list)s или пусто") % {"list": allowed}))
    return value


def _clean(actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    out["name"] = str(values.get("name") or "").strip()
    if not out["name"]:
        errors.append(FieldError(("name",), _("Обязательное поле"), code="required"))
    elif len(out["name"]) > 200:
        errors.append(FieldError(("name",), _("Не длиннее %(n)s знаков") % {"n": 200}))
    out["is_active"] = bool(values.get("is_active", True))
    prefixes, bad = parse_index_prefixes(values.get("index_prefixes"))
    errors.extend(FieldError(("index_prefixes",), message) for message in bad)
    out["index_prefixes"] = ",".join(prefixes)
    if len(out["index_prefixes"]) > 500:
        errors.append(FieldError(("index_prefixes",), _("Слишком много индексов")))
    low = _weight_value(values.get("min_weight_g"), "min_weight_g", errors)
    high = _weight_value(values.get("max_weight_g"), "max_weight_g", errors)
    if low is not None and high is not None and low > high:
        errors.append(FieldError(("max_weight_g",), _(
            "Вес «до» (%(high)s г) меньше веса «от» (%(low)s г)") % {"high": high, "low": low}))
    out["min_weight_g"], out["max_weight_g"] = low, high
    out["cod"] = _choice(values.get("cod"), DeliveryRule.Cod, "cod", errors)
    out["delivery"] = _choice(values.get("delivery"), DeliveryRule.Delivery, "delivery", errors)
    out["destination"] = _choice(values.get("destination"), DeliveryRule.Destination,
                                 "destination", errors)
    account_id = values.get("carrier_account_id")
    if account_id in (None, ""):
        errors.append(FieldError(("carrier_account_id",), _("Выберите договор с перевозчиком"),
                                 code="required"))
        account = None
    elif not str(account_id).strip().isdecimal():
        errors.append(FieldError(("carrier_account_id",), _("Выберите договор с перевозчиком")))
        account = None
    else:
        # another organization's account is "not found", exactly as a missing one
        account = carrier_selectors.carrier_account_get(actor=actor, account_id=int(account_id))
    out["carrier_account"] = account
    out["service_code"] = str(values.get("service_code") or "").strip()
    if account is not None and out["service_code"]:
        _check_service(account.carrier_code, out, errors)
    _clean_actions(actor, values, out, errors)
    if errors:
        raise ValidationFailed(_("Проверьте правило"), errors=errors)
    return out


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v for v in _PREFIX_SPLIT.split(value.strip()) if v]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def _money_bound(value: Any, name: str, errors: list[FieldError]) -> Decimal | None:
    if value is None or value == "":
        return None
    amount = _amount(value)
    if amount is None or amount < 0 or amount >= Decimal("1e10"):
        errors.append(FieldError((name,), _("Сумма в рублях: число не меньше 0")))
        return None
    return amount.quantize(Decimal("0.01"))


def _clean_actions(actor: Actor, values: dict[str, Any], out: dict[str, Any],
                   errors: list[FieldError]) -> None:
    """The order conditions (source, value) and the actions beside the carrier."""
    sources = _list(values.get("sources"))
    bad = [s for s in sources if s not in SOURCE_NAMES]
    if bad:
        errors.append(FieldError(("sources",), _(
            "Неизвестный источник «%(v)s». Допустимо: %(list)s") % {
            "v": bad[0], "list": ", ".join(SOURCE_NAMES)}))
    out["sources"] = ",".join(dict.fromkeys(s for s in sources if s in SOURCE_NAMES))
    low = _money_bound(values.get("min_value"), "min_value", errors)
    high = _money_bound(values.get("max_value"), "max_value", errors)
    if low is not None and high is not None and low > high:
        errors.append(FieldError(("max_value",), _(
            "Сумма «до» (%(high)s) меньше суммы «от» (%(low)s)") % {"high": high, "low": low}))
    out["min_value"], out["max_value"] = low, high
    out["default_weight_g"] = _weight_value(values.get("default_weight_g"), "default_weight_g",
                                            errors) or None
    dims = []
    for name in ("default_length_cm", "default_width_cm", "default_height_cm"):
        size = _weight_value(values.get(name), name, errors,
                             _("Размер в сантиметрах: целое число не меньше 0"))
        if size is not None and size > MAX_SIZE_CM:
            errors.append(FieldError((name,), _("Не больше %(n)s см") % {"n": MAX_SIZE_CM}))
        dims.append(size or None)
        out[name] = size or None
    if any(dims) and not all(dims):
        missing = [n for n, d in zip(("default_length_cm", "default_width_cm",
                                      "default_height_cm"), dims, strict=True) if not d]
        errors.append(FieldError((missing[0],), _(
            "Упаковка задаётся тремя размерами: длина, ширина и высота")))
    options = values.get("options") or {}
    if isinstance(options, list | tuple | str):
        options = {key: True for key in _list(options)}
    if not isinstance(options, Mapping):
        errors.append(FieldError(("options",), _("Доп. услуги — список или объект")))
        options = {}
    unknown = [k for k in options if k not in RULE_OPTIONS]
    if unknown:
        errors.append(FieldError(("options",), _(
            "Неизвестная доп. услуга «%(v)s». Допустимо: %(list)s") % {
            "v": unknown[0], "list": ", ".join(RULE_OPTIONS)}))
    out["options"] = {k: True for k in RULE_OPTIONS if options.get(k)}
    out["insure"] = bool(values.get("insure", False))
    sender_id = values.get("sender_id")
    out["sender"] = None
    if sender_id not in (None, ""):
        from shipdesk.shipments.models import SenderProfile

        sender = (SenderProfile.objects.filter(organization=actor.organization,
                                               pk=int(sender_id)).first()
                  if str(sender_id).strip().isdecimal() else None)
        if sender is None:
            errors.append(FieldError(("sender_id",), _("Нет такого адреса отправителя")))
        out["sender"] = sender
    channels = values.get("notify_channels")
    if channels is None:
        out["notify_channels"] = None
    else:
        listed = _list(channels)
        wrong = [c for c in listed if c not in NOTIFY_CHANNELS]
        if wrong:
            errors.append(FieldError(("notify_channels",), _(
                "Неизвестный канал «%(v)s». Допустимо: %(list)s") % {
                "v": wrong[0], "list": ", ".join(NOTIFY_CHANNELS)}))
        out["notify_channels"] = [c for c in NOTIFY_CHANNELS if c in listed]


def _check_service(carrier_code: str, out: dict[str, Any], errors: list[FieldError]) -> None:
    """A service must be one of the carrier's known mail types (when they are known), and
    fit the rule's own conditions."""
    limits = {row.service_code: row for row in MailTypeLimit.objects.filter(
        carrier_code=carrier_code)}
    code = out["service_code"]
    if len(code) > 64:
        errors.append(FieldError(("service_code",), _("Не длиннее %(n)s знаков") % {"n": 64}))
        return
    if not limits:
        return
    limit = limits.get(code)
    if limit is None:
        errors.append(FieldError(("service_code",), _(
            "У этого перевозчика нет вида отправления «%(code)s». Известные: %(known)s") % {
            "code": code, "known": ", ".join(sorted(limits))}))
        return
    if out["min_weight_g"] is not None and out["min_weight_g"] > limit.max_weight_g:
        errors.append(FieldError(("service_code",), _(
            "«%(name)s» принимается до %(max)s г, а правило — для веса от %(low)s г") % {
            "name": limit.name, "max": limit.max_weight_g, "low": out["min_weight_g"]}))
    if out["destination"] == DOMESTIC and limit.international:
        errors.append(FieldError(("service_code",), _(
            "«%(name)s» — международный вид, а правило — для отправлений по России") % {
            "name": limit.name}))
    if out["destination"] == INTERNATIONAL and not limit.international:
        errors.append(FieldError(("service_code",), _(
            "«%(name)s» — только по России, а правило — для отправлений за рубеж") % {
            "name": limit.name}))
    if out["cod"] == COD_WITH and not limit.cod_allowed:
        errors.append(FieldError(("service_code",), _(
            "«%(name)s» не принимается с наложенным платежом") % {"name": limit.name}))


# --- write side ----------------------------------------------------------------------------

def _locked_rules(actor: Actor) -> list[DeliveryRule]:
    """The organization's rules in order, locked (the positions change together)."""
    Organization.objects.select_for_update().filter(pk=actor.organization_id).first()
    return list(DeliveryRule.objects.select_for_update().filter(
        organization=actor.organization).order_by("position", "id"))


def _renumber(rules: list[DeliveryRule]) -> None:
    changed = []
    for number, rule in enumerate(rules, start=1):
        if rule.position != number:
            rule.position = number
            changed.append(rule)
    if changed:
        DeliveryRule.objects.bulk_update(changed, ["position"])


def _find(rules: list[DeliveryRule], rule_id: int) -> DeliveryRule:
    for rule in rules:
        if rule.pk == rule_id:
            return rule
    raise NotFound(_("Правило не найдено"))


@transaction.atomic
def delivery_rule_create(*, actor: Actor, position: int | None = None, **values: Any
                         ) -> DeliveryRule:
    """A new rule, last unless ``position`` (1-based) puts it before others."""
    actor.require(Perm.MANAGE_SETTINGS)
    refuse_unknown_fields(values, RULE_FIELDS)
    clean = _clean(actor, values)
    rules = _locked_rules(actor)
    last = max((r.position for r in rules), default=0)
    rule = DeliveryRule.objects.create(organization=actor.organization, position=last + 1,
                                       **clean)
    rules.append(rule)
    if position is not None:
        rules.remove(rule)
        rules.insert(max(0, min(position - 1, len(rules))), rule)
    _renumber(rules)
    audit(actor, "delivery_rule.create", rule, name=rule.name, position=rule.position)
    return rule


@transaction.atomic
def delivery_rule_update(*, actor: Actor, rule_id: int, **changes: Any) -> DeliveryRule:
    """Changes the given fields; the rule is checked as a whole."""
    actor.require(Perm.MANAGE_SETTINGS)
    refuse_unknown_fields(changes, RULE_FIELDS)
    rule = _find(_locked_rules(actor), rule_id)
    current = {name: getattr(rule, name) for name in RULE_FIELDS}
    clean = _clean(actor, {**current, **changes})
    clean["carrier_account_id"] = clean.pop("carrier_account").pk
    sender = clean.pop("sender")
    clean["sender_id"] = sender.pk if sender is not None else None
    changed = sorted(name for name, value in clean.items() if current[name] != value)
    for name in changed:
        setattr(rule, name, clean[name])
    if changed:
        rule.save(update_fields=changed)
    audit(actor, "delivery_rule.update", rule, fields=changed)
    return delivery_rule_get(actor=actor, rule_id=rule.pk)


@transaction.atomic
def delivery_rule_delete(*, actor: Actor, rule_id: int) -> None:
    actor.require(Perm.MANAGE_SETTINGS)
    rules = _locked_rules(actor)
    rule = _find(rules, rule_id)
    audit(actor, "delivery_rule.delete", rule, name=rule.name, position=rule.position)
    rule.delete()
    rules.remove(rule)
    _renumber(rules)


def _place(actor: Actor, rules: list[DeliveryRule], rule: DeliveryRule, index: int) -> None:
    was = rule.position
    rules.remove(rule)
    rules.insert(max(0, min(index, len(rules))), rule)
    _renumber(rules)
    audit(actor, "delivery_rule.move", rule, position_from=was, position_to=rule.position)


@transaction.atomic
def delivery_rule_move(*, actor: Actor, rule_id: int, position: int) -> DeliveryRule:
    """Puts the rule at ``position`` (1-based; beyond the ends means first / last); the
    others keep their order."""
    actor.require(Perm.MANAGE_SETTINGS)
    rules = _locked_rules(actor)
    rule = _find(rules, rule_id)
    _place(actor, rules, rule, position - 1)
    return rule


@transaction.atomic
def delivery_rule_step(*, actor: Actor, rule_id: int, up: bool) -> DeliveryRule:
    """One place up (towards the first) or down; at the end it stays."""
    actor.require(Perm.MANAGE_SETTINGS)
    rules = _locked_rules(actor)
    rule = _find(rules, rule_id)
    _place(actor, rules, rule, rules.index(rule) + (-1 if up else 1))
    return rule


# --- dry run -------------------------------------------------------------------------------

DRY_RUN_MAX = 200


@dataclass(frozen=True)
class DryRunRow:
    """Which rule would match one recent order and what it would set (nothing is changed)."""

    shipment_id: int
    order_number: str
    source: str
    rule: RuleFacts | None
    carrier: str  # the account (and service) the rule would choose; "" when none
    fills: dict[str, Any]  # the fields it would fill on the order as stored: name → value
    note: str = ""


def _order_of(shipment: Any) -> dict[str, Any]:
    """A stored shipment as the order the rules look at."""
    return {
        "index": shipment.index, "weight_g": shipment.weight_g,
        "length_cm": shipment.length_cm, "width_cm": shipment.width_cm,
        "height_cm": shipment.height_cm, "cod_amount": shipment.cod_amount,
        "declared_value": shipment.declared_value, "country": shipment.country,
        "pickup_point_code": shipment.pickup_point_code, "sender_id": shipment.sender_id,
        "options": dict(shipment.options or {}),
        "items": [{"unit_price": i.unit_price, "quantity": i.quantity}
                  for i in shipment.items.all()],
    }


def delivery_rules_dry_run(*, actor: Actor, limit: int = 50) -> list[DryRunRow]:
    """The organization's rules tried on its last ``limit`` orders (newest first): the rule
    that would match each and what it would set. Reads only."""
    from shipdesk.carriers.names import service_name
    from shipdesk.shipments.models import Shipment

    actor.require(Perm.VIEW)
    limit = max(1, min(int(limit), DRY_RUN_MAX))
    rules = delivery_rules_for(actor.organization)
    shipments = list(Shipment.objects.filter(organization=actor.organization)
                     .order_by("-id").prefetch_related("items")[:limit])
    rows: list[DryRunRow] = []
    for shipment in shipments:
        order = _order_of(shipment)
        rule = choose_rule(
            rules, index=(shipment.index or "").replace(" ", ""), weight_g=shipment.weight_g,
            cod=bool(shipment.cod_amount), pickup=bool(shipment.pickup_point_code),
            international=shipment.country != "RU", source=shipment.source,
            value=order_value(order))
        if rule is None:
            rows.append(DryRunRow(shipment.pk, shipment.order_number, shipment.source, None,
                                  "", {}, _("Ни одно правило не подходит")))
            continue
        carrier = rule.carrier_account_name or rule.carrier_code
        if rule.service_code:
            carrier += ", " + service_name(rule.service_code, carrier_code=rule.carrier_code)
        fills = rule_effects(rule, order)
        note = "" if shipment.carrier_account_id in (None, rule.carrier_account_id) else _(
            "Перевозчик указан в самом заказе: правило его не меняет")
        rows.append(DryRunRow(shipment.pk, shipment.order_number, shipment.source, rule,
                              carrier, fills, note))
    return rows
