"""The organization's rules choosing the carrier for a shipment that names none.

The rules are ordered (``position`` 1, 2, …); the first active rule whose conditions all
hold gives the carrier account and, when set, the service. The matching is a pure core over
:class:`RuleFacts` (no ORM): intake loads the rules once with :func:`delivery_rules_for`
and calls :func:`choose_rule` per shipment. The write side checks every rule and keeps the
positions 1..n without gaps; each change needs ``Perm.MANAGE_SETTINGS`` and is audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

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


def rule_matches(rule: RuleFacts, *, index: str, weight_g: int | None, cod: bool, pickup: bool,
                 international: bool) -> bool:
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
    wanted = ((_COD.get(rule.cod), cod), (_PICKUP.get(rule.delivery), pickup),
              (_INTERNATIONAL.get(rule.destination), international))
    return all(want is None or want == fact for want, fact in wanted)


def choose_rule(rules: Iterable[RuleFacts], *, index: str, weight_g: int | None, cod: bool,
                pickup: bool, international: bool) -> RuleFacts | None:
    """The first active rule by position (then id) that matches the parcel; None if none."""
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if rule.is_active and rule_matches(rule, index=index, weight_g=weight_g, cod=cod,
                                           pickup=pickup, international=international):
            return rule
    return None


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
    condition = "; ".join(parts) if parts else _("Все отправления")
    condition = condition[:1].upper() + condition[1:]
    action = rule.carrier_account_name or rule.carrier_code
    if rule.service_code:
        from shipdesk.carriers.names import service_name

        action += ", " + service_name(
            rule.service_code, carrier_code=rule.carrier_code,
            fallback=(service_names or {}).get((rule.carrier_code, rule.service_code), ""))
    return f"{condition} → {action}"


def service_names() -> dict[tuple[str, str], str]:
    """(carrier code, service code) → the mail type's name, for :func:`rule_describe`."""
    return {(c, s): n for c, s, n in MailTypeLimit.objects.values_list(
        "carrier_code", "service_code", "name")}


# --- read side -----------------------------------------------------------------------------

def _facts(rule: DeliveryRule) -> RuleFacts:
    account = rule.carrier_account
    return RuleFacts(
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
            .select_related("carrier_account").order_by("position", "id")]


def delivery_rule_list(*, actor: Actor) -> QuerySet[DeliveryRule]:
    actor.require(Perm.VIEW)
    return DeliveryRule.objects.filter(organization=actor.organization).select_related(
        "carrier_account").order_by("position", "id")


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
               "delivery", "destination", "carrier_account_id", "service_code")
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


def _weight_value(value: Any, name: str, errors: list[FieldError]) -> int | None:
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
        errors.append(FieldError((name,), _("Вес в граммах: целое число не меньше 0")))
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
    if errors:
        raise ValidationFailed(_("Проверьте правило"), errors=errors)
    return out


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
