"""What a postal operator checks before it accepts a parcel, as pure functions.

``validate_shipment(data, ctx)`` takes one shipment as the caller gave it (API JSON or one
spreadsheet row mapped to our field names) and returns the cleaned model values and a list
of :class:`FieldError` pointing at the field. No database access here: what is needed from
the database (mail-type limits, the office directory, sender profiles) is loaded once into a
:class:`ValidationContext` by the service, so validating 100,000 rows costs no query.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import phonenumbers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shipdesk.core.errors import FieldError
from shipdesk.shipments.addresses import (
    DISTRICT_TYPES,
    PLACE_TYPES,
    REGION_TYPES,
    STREET_TYPES,
    parse_address,
)
from shipdesk.shipments.delivery_rules import rule_apply
from shipdesk.shipments.regions import region_for_index, region_matches

WEIGHT = gettext_lazy("Вес")
SIZE = gettext_lazy("Размер")
QUANTITY = gettext_lazy("Количество")
VAT = gettext_lazy("НДС")
SENDER = gettext_lazy("Отправитель")

DEFAULT_CARRIER = "russian_post"
DEFAULT_SERVICE = "POSTAL_PARCEL"
MAX_MONEY = Decimal("9999999999.99")
VAT_RATES = frozenset({0, 5, 7, 10, 20})

STR_FIELDS: dict[str, int] = {
    "order_number": 64, "carrier_code": 32, "service_code": 64, "mail_category": 64,
    "recipient_surname": 100, "recipient_given_name": 100, "recipient_patronymic": 100,
    "recipient_company": 300, "recipient_email": 254, "region": 200, "district": 200,
    "city": 200, "street": 200, "house": 50, "building": 50, "apartment": 50,
    "pickup_point_code": 64, "comment": 500,
}
ADDRESS_FIELDS = ("region", "district", "city", "street", "house", "building", "apartment")
_AREA_FIELDS = ("region", "district", "city", "street")
# which of those a row gives on its own → the parser's ``known`` (made once, not per row)
_KNOWN = {flags: frozenset(f for f, given in zip(_AREA_FIELDS, flags, strict=True) if given)
          for flags in itertools.product((False, True), repeat=len(_AREA_FIELDS))}


@dataclass(frozen=True)
class Limit:
    """A mail type's limits (a MailTypeLimit row, detached from the ORM)."""

    carrier_code: str
    service_code: str
    name: str
    min_weight_g: int
    max_weight_g: int
    max_side_cm: int | None
    max_dimensions_sum_cm: int | None
    dimensions_allowed: bool
    requires_phone: bool
    cod_allowed: bool
    cod_within_declared_value: bool
    international: bool


@dataclass
class ValidationContext:
    limits: dict[tuple[str, str], Limit] = field(default_factory=dict)
    # carriers whose mail types are known: an unknown service of theirs is an error
    limited_carriers: frozenset[str] = frozenset()
    # indexes of Russian Post's directory when loaded (None: only the prefix table)
    offices: frozenset[str] | None = None
    sender_ids: frozenset[int] = frozenset()
    default_sender_id: int | None = None
    # (number, carrier_code=...) -> the cleaned number, or ValueError in the user's words
    tracking_validator: Callable[..., str] | None = None
    # the organization's active carrier accounts: id -> carrier code; by lower-cased name;
    # the one a carrier code alone means (its oldest real account, else its sandbox)
    accounts: dict[int, str] = field(default_factory=dict)
    accounts_by_name: dict[str, int] = field(default_factory=dict)
    default_accounts: dict[str, int] = field(default_factory=dict)
    # accounts whose carrier registers parcels through its API (their shipments are sent)
    registering_accounts: frozenset[int] = frozenset()
    # (number, carrier_code, carrier_account_id) -> whether a typed number is the
    # organization's own: from its pools, or given by a carrier that numbers its parcels
    # itself (None: not checked)
    number_owned: Callable[[str, str, int | None], bool] | None = None
    # the organization's automation rules: (index, weight_g, cod, pickup, international,
    # source, value) -> the first matching rule (delivery_rules.RuleFacts) or None
    route: Callable[..., Any] | None = None
    # where the orders of this intake come from (Shipment.source), for the rules
    source: str = ""
    # whether the matching rule's actions beyond the carrier fill the order's blanks: at
    # intake, not when a stored shipment is edited (a person's removal of an extra
    # service or a weight must not be undone by the rule)
    rule_actions: bool = True


# --- scalar parsers: each returns (value, error message or None) -----------------------

def _text(value: Any) -> str:
    if value is None:
        return ""
    if type(value) is str:
        text = value.strip()
        if "  " in text or "\t" in text or "\n" in text or "\u00a0" in text:
            return " ".join(text.split())
        return text
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets give numbers for "12345" cells
    return " ".join(str(value).split())


def text(value: Any) -> str:
    """A cell or field as text the way validation reads it: trimmed, inner spaces
    collapsed, a whole-number float without ".0"."""
    return _text(value)


_MONEY_JUNK = re.compile(r"[\s\u00a0₽]|руб\.?|р\.")


# Amounts and counts repeat a lot across the rows of a file (prices, quantities, weights):
# what a value parsed to is kept (only when it parsed: messages depend on the language).
_PARSED_CACHE_SIZE = 50_000
_money_parsed: dict[tuple[type, Any], Decimal] = {}
_int_parsed: dict[tuple[type, Any], int] = {}
_CACHEABLE = frozenset({str, int, float})


def parse_money(value: Any) -> tuple[Decimal | None, str | None]:
    """Rubles with at most two decimals (kopecks); "1 234,50" and 1234.5 are accepted."""
    if value is None or value == "":
        return None, None
    if value.__class__ not in _CACHEABLE:
        return _parse_money(value)
    key = (value.__class__, value)
    known = _money_parsed.get(key)
    if known is not None:
        return known, None
    amount, error = _parse_money(value)
    if amount is not None:
        if len(_money_parsed) >= _PARSED_CACHE_SIZE:
            _money_parsed.clear()
        _money_parsed[key] = amount
    return amount, error


def _parse_money(value: Any) -> tuple[Decimal | None, str | None]:
    if isinstance(value, bool):
        return None, _("Ожидается сумма в рублях")
    if isinstance(value, float):
        value = repr(value)  # the shortest exact text: 1.005 stays 1.005
    text = _MONEY_JUNK.sub("", str(value)).replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None, _("«%(value)s» — не сумма в рублях") % {"value": value}
    if not amount.is_finite():
        return None, _("«%(value)s» — не сумма в рублях") % {"value": value}
    exponent = amount.as_tuple().exponent  # an int: finite amounts only reach here
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(
            Decimal("0.01")):
        return None, _("Сумма %(value)s: не больше двух знаков после запятой (копейки)") % {
            "value": value}
    if amount < 0:
        return None, _("Сумма не может быть отрицательной")
    if amount > MAX_MONEY:
        return None, _("Слишком большая сумма")
    return amount.quantize(Decimal("0.01")), None


def parse_int(value: Any, *, what: Any) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return None, None
    if value.__class__ is int:
        if 0 <= value <= 2_000_000_000:
            return value, None
    elif value.__class__ in _CACHEABLE:
        key = (value.__class__, value)
        known = _int_parsed.get(key)
        if known is not None:
            return known, None
        number, error = _parse_int(value, what=what)
        if number is not None:
            if len(_int_parsed) >= _PARSED_CACHE_SIZE:
                _int_parsed.clear()
            _int_parsed[key] = number
        return number, error
    return _parse_int(value, what=what)


def _parse_int(value: Any, *, what: Any) -> tuple[int | None, str | None]:
    if isinstance(value, bool):
        return None, _("%(what)s: ожидается целое число") % {"what": what}
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            as_decimal = Decimal(text)
        except InvalidOperation:
            return None, _("%(what)s: «%(value)s» — не число") % {"what": what, "value": value}
        if not as_decimal.is_finite() or as_decimal != as_decimal.to_integral_value():
            return None, _("%(what)s: ожидается целое число") % {"what": what}
        number = int(as_decimal)
    if number < 0:
        return None, _("%(what)s не может быть отрицательным") % {"what": what}
    if number > 2_000_000_000:
        return None, _("%(what)s: слишком большое число") % {"what": what}
    return number, None


_PHONE_DIGITS = re.compile(r"\D+")


def parse_phone(value: Any, region: str = "RU") -> tuple[str, str | None]:
    """E.164. A Russian mobile in any usual spelling takes a fast path; anything else goes
    through libphonenumber (landlines, foreign numbers, extensions)."""
    text = _text(value)
    if not text:
        return "", None
    digits = _PHONE_DIGITS.sub("", text)
    plus = text.startswith("+")
    if len(digits) == 11 and digits[1] == "9" and (
        digits[0] == "7" or (digits[0] == "8" and not plus)) and (plus or region == "RU"):
        return "+7" + digits[1:], None
    if len(digits) == 10 and digits[0] == "9" and not plus and region == "RU":
        return "+7" + digits, None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "", _("«%(value)s» — не номер телефона") % {"value": text}
    if not phonenumbers.is_valid_number(parsed):
        return "", _("Номер телефона «%(value)s» не существует") % {"value": text}
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), None


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- address normalisation ------------------------------------------------------------

# Type words → the abbreviation Russian Post prints (the tables are addresses.py's).
# Matched as whole words, any case, with or without the dot.
_STREET_TYPES = STREET_TYPES
_PLACE_TYPES = PLACE_TYPES
_REGION_TYPES = REGION_TYPES
_DISTRICT_TYPES = DISTRICT_TYPES
_PREFIXES = {
    "house": re.compile(r"^(?:дом|д)\.?\s*(?=\w)", re.IGNORECASE),
    "apartment": re.compile(r"^(?:квартира|кв)\.?\s*(?=\w)", re.IGNORECASE),
}
_BUILDING = re.compile(r"^(?:корпус|корп|кор|к)\.?\s*(?=\d)", re.IGNORECASE)
_STRUCTURE = re.compile(r"^(?:строение|стр|с)\.?\s*(?=\d)", re.IGNORECASE)
# Words that stay lower-case inside a name when a name typed all in one case is given
# capitals ("наб. реки Мойки", "ул. им. 50-летия Октября", "Ростов-на-Дону"), and
# abbreviations that are written in capitals.
_SMALL_WORDS = frozenset({
    "на", "де", "ла", "ле", "и", "в", "во", "под", "при", "у", "за", "над", "от", "до", "по",
    "о", "об", "из", "со", "фон", "ван", "да", "дель",
    "реки", "р", "канала", "канал", "им", "имени", "летия", "лет", "года", "съезда", "км",
    "острова", "остров", "пруда", "озера", "станции", "совхоза", "колхоза", "завода"})
_CAPITAL_WORDS = frozenset({"жк", "гск", "тц", "снт", "днт", "днп", "тсн", "кп", "пмк",
                            "вч", "в/ч", "ссср", "рф", "ао", "нии"})
_ROMAN = re.compile(r"[ivxl]+", re.IGNORECASE)


def _type_pattern(types: Mapping[str, str]) -> re.Pattern[str]:
    words = sorted(types, key=len, reverse=True)
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![\w-])({alternatives})(?:\.|(?![\w-]))", re.IGNORECASE)


_TYPE_PATTERNS = {
    "street": (_type_pattern(_STREET_TYPES), _STREET_TYPES),
    "city": (_type_pattern(_PLACE_TYPES), _PLACE_TYPES),
    "region": (_type_pattern(_REGION_TYPES), _REGION_TYPES),
    "district": (_type_pattern(_DISTRICT_TYPES), _DISTRICT_TYPES),
}


def _capitalised(part: str) -> str:
    for i, char in enumerate(part):
        if char.isalpha():
            return part[:i] + char.upper() + part[i + 1:]
    return part


def _recase(word: str) -> str:
    """A word of a name typed all in one case ("ЛЕНИНА", "мойки"), as names are written:
    a proper name capitalised, small words and descriptors lower-case, abbreviations and
    Roman numerals in capitals."""
    low = word.lower()
    bare = low.rstrip(".")
    if bare in _SMALL_WORDS:
        return low
    if bare in _CAPITAL_WORDS or (len(bare) > 1 and _ROMAN.fullmatch(bare)):
        return word.upper()
    if sum(c.isalpha() for c in word) < 2:
        return word
    return "-".join(p if p.rstrip(".") in _SMALL_WORDS else _capitalised(p)
                    for p in low.split("-"))


@lru_cache(maxsize=200_000)  # cities, regions, streets and house numbers repeat a lot
def normalize_address_part(kind: str, value: str) -> str:
    """One address part in the form Russian Post prints: spaces collapsed, type words
    abbreviated ("улица" → "ул."). Words are kept as typed when the part was typed in mixed
    case ("наб. реки Мойки"); a part typed all in one case ("УЛ ЛЕНИНА", "наб. реки мойки")
    gets capitals on its proper names only (:func:`_recase`)."""
    text = " ".join(value.replace("\u00a0", " ").split()).strip(" ,;")
    if not text:
        return ""
    if kind in _PREFIXES:
        return _PREFIXES[kind].sub("", text, count=1).strip()
    if kind == "building":
        text = _BUILDING.sub("корп. ", text, count=1)
        return _STRUCTURE.sub("стр. ", text, count=1)
    if kind in _TYPE_PATTERNS:
        pattern, types = _TYPE_PATTERNS[kind]
        one_case = text.islower() or text.isupper()
        text = pattern.sub(lambda m: "\x00" + types[m.group(1).lower()] + "\x00", text)
        words = []
        for token in re.split(r"(\x00[^\x00]*\x00)", text):
            if token.startswith("\x00"):
                words.append(token.strip("\x00"))
            elif one_case:
                words.extend(_recase(w) for w in token.split())
            else:
                words.extend(token.split())
        return " ".join(w for w in words if w).replace(" ,", ",")
    return text


def normalize_address(parts: Mapping[str, str]) -> dict[str, str]:
    return {k: normalize_address_part(k, parts.get(k, "") or "") for k in ADDRESS_FIELDS}


def address_warnings(values: Mapping[str, Any]) -> list[FieldError]:
    """What the operator should look at in an address that passed validation (warnings,
    not errors): a street without a house number, which is how an address that could not
    be split into street, house and flat is kept. ``values``: a shipment's cleaned values
    or its stored fields (see :func:`shipment_warnings`)."""
    if (values.get("street") and not values.get("house") and not values.get(
            "pickup_point_code") and (values.get("country") or "RU") == "RU"):
        return [FieldError(("street",), _(
            "Адрес не разобран на улицу, дом и квартиру (нет номера дома): он сохранён как "
            "указан. Проверьте адрес"), "address_not_split")]
    return []


def shipment_warnings(shipment: Any) -> list[FieldError]:
    """The warnings of a stored shipment (the detail page, the API's answers)."""
    return address_warnings({name: getattr(shipment, name, "") for name in (
        "street", "house", "pickup_point_code", "country")})


def limit_from_row(row: Any) -> Limit:
    return Limit(**{f: getattr(row, f) for f in Limit.__dataclass_fields__})


# --- the shipment ----------------------------------------------------------------------

def _money_field(data: Mapping[str, Any], name: str, loc: tuple[str | int, ...],
                 errors: list[FieldError]) -> Decimal:
    amount, error = parse_money(data.get(name))
    if error:
        errors.append(FieldError((*loc, name), error))
    return amount if amount is not None else Decimal("0")


def _validate_items(raw_items: Any, *, international: bool, errors: list[FieldError]
                    ) -> list[dict[str, Any]]:
    if raw_items in (None, ""):
        return []
    if not isinstance(raw_items, list | tuple):
        errors.append(FieldError(("items",), _("Вложения передаются списком")))
        return []
    cleaned: list[dict[str, Any]] = []
    for i, item in enumerate(raw_items):
        loc: tuple[str | int, ...] = ("items", i)
        if not isinstance(item, Mapping):
            errors.append(FieldError(loc, _("Вложение описывается объектом")))
            continue
        name = _text(item.get("name"))[:500]
        if not name:
            errors.append(FieldError((*loc, "name"), _("Укажите наименование вложения")))
        quantity, error = parse_int(item.get("quantity", 1), what=QUANTITY)
        if error:
            errors.append(FieldError((*loc, "quantity"), error))
        elif not quantity:
            errors.append(FieldError((*loc, "quantity"), _("Количество должно быть больше 0")))
        price, error = parse_money(item.get("unit_price"))
        if error:
            errors.append(FieldError((*loc, "unit_price"), error))
        weight, error = parse_int(item.get("weight_g"), what=WEIGHT)
        if error:
            errors.append(FieldError((*loc, "weight_g"), error))
        vat, error = parse_int(item.get("vat_rate"), what=VAT)
        if error or (vat is not None and vat not in VAT_RATES):
            errors.append(FieldError((*loc, "vat_rate"), error or _(
                "Ставка НДС %(value)s%% не существует (0, 5, 7, 10, 20 или пусто — без НДС)")
                % {"value": vat}))
        hs_code = _text(item.get("hs_code")).replace(" ", "")
        origin = _text(item.get("origin_country")).upper()
        if hs_code and not re.fullmatch(r"\d{6,10}", hs_code):
            errors.append(FieldError((*loc, "hs_code"), _("Код ТН ВЭД — от 6 до 10 цифр")))
        if origin and not re.fullmatch(r"[A-Z]{2}", origin):
            errors.append(FieldError((*loc, "origin_country"),
                                     _("Страна происхождения — двухбуквенный код ISO (CN, RU)")))
        if international:
            if not hs_code:
                errors.append(FieldError((*loc, "hs_code"),
                                         _("Для международного отправления нужен код ТН ВЭД")))
            if not origin:
                errors.append(FieldError((*loc, "origin_country"), _(
                    "Для международного отправления нужна страна происхождения")))
            if not weight:
                errors.append(FieldError((*loc, "weight_g"), _(
                    "Для таможенной декларации нужен вес каждого вложения")))
            if price is None:
                errors.append(FieldError((*loc, "unit_price"), _(
                    "Для таможенной декларации нужна цена каждого вложения")))
        cleaned.append({
            "position": i, "name": name, "article": _text(item.get("article"))[:100],
            "quantity": quantity or 1, "unit_price": price or Decimal("0"),
            "weight_g": weight or 0, "vat_rate": vat, "hs_code": hs_code,
            "origin_country": origin,
        })
    return cleaned


def _rule_for(data: Mapping[str, Any], ctx: ValidationContext) -> Any:
    """The organization's first automation rule matching the order, or None."""
    if ctx.route is None:
        return None
    weight, _error = parse_int(data.get("weight_g"), what=WEIGHT)
    cod, _error = parse_money(data.get("cod_amount"))
    country = (_text(data.get("country")) or "RU").upper()
    return ctx.route(index=_text(data.get("index")).replace(" ", ""), weight_g=weight,
                     cod=bool(cod), pickup=bool(_text(data.get("pickup_point_code"))),
                     international=country not in ("RU", "РФ", "РОССИЯ", "RUS", "643"),
                     source=ctx.source, order=data)


def _choose_carrier(data: Mapping[str, Any], out: dict[str, Any], ctx: ValidationContext,
                    errors: list[FieldError], rule: Any = None) -> None:
    """The carrier account and carrier of the shipment: the account named (by id, or by its
    name in a spreadsheet), else the carrier's default account for a carrier code, else the
    organization's first matching delivery rule, else Russian Post as before."""
    out["carrier_account_id"] = None
    named = data.get("carrier_account_id")
    if named in (None, ""):
        named = data.get("carrier_account")
    code = out["carrier_code"].lower()
    if named not in (None, ""):
        account_id = ctx.accounts_by_name.get(_text(named).lower())
        if account_id is None:
            number, error = parse_int(named, what=_("Договор"))
            account_id = number if not error else None
        if account_id is None or account_id not in ctx.accounts:
            errors.append(FieldError(("carrier_account_id",), _(
                "Договора «%(v)s» нет среди действующих договоров организации") % {
                "v": _text(named)}))
        else:
            account_code = ctx.accounts[account_id]
            if code and code != account_code:
                errors.append(FieldError(("carrier_code",), _(
                    "Договор «%(v)s» — с другим перевозчиком (%(code)s)") % {
                    "v": _text(named), "code": account_code}))
            out["carrier_account_id"], code = account_id, account_code
    elif code:
        out["carrier_account_id"] = ctx.default_accounts.get(code)
    elif rule is not None:
        out["carrier_account_id"] = rule.carrier_account_id
        code = ctx.accounts[rule.carrier_account_id]
        if rule.service_code and not out["service_code"]:
            out["service_code"] = rule.service_code
    if not code:
        code = DEFAULT_CARRIER
        out["carrier_account_id"] = ctx.default_accounts.get(code)
    out["carrier_code"] = code


def _split_address(line: str, given: dict[str, str], index: str, country: str,
                   warnings: list[FieldError] | None) -> str:
    """A one-line address (the API's ``address``, a spreadsheet's «Адрес» column, or a whole
    address typed into the street) split into ``given``'s empty parts: the parts given on
    their own win. A line that cannot be split is kept whole as the street. Returns the
    index (the one given, or the line's)."""
    if not line and given["street"] and not given["house"]:
        line, given["street"] = given["street"], ""  # "ул. Ленина, д. 5, кв. 12" as the street
    if not line:
        return index
    if country != "RU":  # a foreign address is kept as written
        given["street"] = given["street"] or line
        return index
    parsed = parse_address(line, _KNOWN[
        bool(given["region"]), bool(given["district"]), bool(given["city"]),
        bool(given["street"])])
    if parsed.split:
        for name in ADDRESS_FIELDS:
            if not given[name]:
                given[name] = getattr(parsed, name)
        if parsed.unplaced and warnings is not None:
            warnings.append(FieldError(("address",), _(
                "Часть адреса не разобрана: «%(rest)s». Проверьте адрес") % {
                "rest": ", ".join(parsed.unplaced)}, "address_unplaced"))
    else:
        for name in ("region", "district", "city"):
            given[name] = given[name] or getattr(parsed, name)
        given["street"] = given["street"] or line
    return index or parsed.postcode


def validate_shipment(data: Mapping[str, Any], ctx: ValidationContext, *,
                      require_order_number: bool = True,
                      warnings: list[FieldError] | None = None
                      ) -> tuple[dict[str, Any], list[FieldError]]:
    """Returns the cleaned model values (``items`` a list of item dicts,
    ``sender_id``, ``tracking_number``) and the errors, each pointing at its field.
    ``warnings``, when given, receives what the operator should check although the
    shipment is valid (an address that could not be split)."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    rule = _rule_for(data, ctx)
    if rule is not None and ctx.rule_actions:  # its actions fill what the order left empty
        data = rule_apply(rule, data)
    get = data.get
    for name, max_len in STR_FIELDS.items():
        value = get(name)
        if value is None:  # most optional columns are absent
            out[name] = ""
            continue
        value = _text(value)
        if len(value) > max_len:
            errors.append(FieldError((name,), _("Не длиннее %(n)s символов") % {"n": max_len}))
            value = value[:max_len]
        out[name] = value

    if require_order_number and not out["order_number"]:
        errors.append(FieldError(("order_number",), _("Укажите номер заказа")))
    _choose_carrier(data, out, ctx, errors, rule)
    if not out["service_code"] and out["carrier_code"] == DEFAULT_CARRIER:
        out["service_code"] = DEFAULT_SERVICE
    if out["carrier_code"] in ctx.limited_carriers or out["carrier_code"] == DEFAULT_CARRIER:
        out["service_code"] = out["service_code"].upper()  # its mail types' codes
    limit = ctx.limits.get((out["carrier_code"], out["service_code"]))
    if limit is None and out["carrier_code"] in ctx.limited_carriers:
        errors.append(FieldError(("service_code",), _(
            "Неизвестный вид отправления «%(code)s»") % {"code": out["service_code"]}))

    # recipient
    full_name = _text(data.get("recipient_name"))
    if full_name and not (out["recipient_surname"] or out["recipient_given_name"]):
        parts = full_name.split(" ", 2)
        out["recipient_surname"] = parts[0][:100]
        out["recipient_given_name"] = parts[1][:100] if len(parts) > 1 else ""
        out["recipient_patronymic"] = parts[2][:100] if len(parts) > 2 else ""
    if not (out["recipient_surname"] or out["recipient_company"]):
        errors.append(FieldError(("recipient_surname",),
                                 _("Укажите получателя: фамилию или организацию")))
    country = (_text(data.get("country")) or "RU").upper()
    if country in ("РФ", "РОССИЯ", "RUS", "643"):
        country = "RU"
    if country != "RU" and not re.fullmatch(r"[A-Z]{2}", country):
        errors.append(FieldError(("country",), _("Страна — двухбуквенный код ISO (RU, KZ)")))
        country = "RU"
    out["country"] = country
    phone, error = parse_phone(data.get("recipient_phone"), country)
    if error:
        errors.append(FieldError(("recipient_phone",), error))
    elif not phone and (limit is None or limit.requires_phone):
        errors.append(FieldError(("recipient_phone",), _("Укажите телефон получателя")))
    out["recipient_phone"] = phone
    email = out["recipient_email"]
    if email and not _EMAIL.match(email):
        errors.append(FieldError(("recipient_email",), _("«%(v)s» — не адрес e-mail") % {
            "v": email}))
    out["recipient_email"] = email.lower()

    # address: what was given is kept beside the normalised form
    raw_address = _text(data.get("address"))
    given = {k: out[k] for k in ADDRESS_FIELDS}
    index = _text(data.get("index")).replace(" ", "")
    as_given = raw_address or ", ".join(v for v in (index, *given.values()) if v)
    out["address_as_given"] = as_given[:500]
    index = _split_address(raw_address, given, index, country, warnings)
    for name, value in normalize_address(given).items():
        out[name] = value[:STR_FIELDS[name]]
    if country == "RU":
        if index and not (len(index) == 6 and index.isdecimal()):  # as \d{6}, cheaper
            errors.append(FieldError(("index",), _(
                "Индекс «%(v)s»: нужно ровно 6 цифр") % {"v": index}))
        elif index:
            region = region_for_index(index)
            if region is None:
                errors.append(FieldError(("index",), _(
                    "Индекса %(v)s не существует: нет региона с таким началом индекса") % {
                    "v": index}))
            elif ctx.offices is not None and index not in ctx.offices:
                errors.append(FieldError(("index",), _(
                    "Отделения с индексом %(v)s нет в справочнике Почты России") % {"v": index}))
            elif out["region"] and not region_matches(region, out["region"]):
                errors.append(FieldError(("index",), _(
                    "Индекс %(v)s относится к региону «%(r)s», а указан «%(given)s»") % {
                    "v": index, "r": region, "given": out["region"]}))
            elif not out["region"]:
                out["region"] = region
        elif not out["pickup_point_code"]:
            errors.append(FieldError(("index",), _("Укажите индекс или пункт выдачи")))
    elif index and not re.fullmatch(r"[A-Za-z0-9 \-]{2,12}", index):
        errors.append(FieldError(("index",), _("Почтовый код: буквы и цифры, до 12 знаков")))
    out["index"] = index
    if not out["city"] and not out["pickup_point_code"]:
        errors.append(FieldError(("city",), _("Укажите населённый пункт")))
    if warnings is not None:
        warnings.extend(address_warnings(out))

    # parcel
    weight, error = parse_int(data.get("weight_g"), what=WEIGHT)
    if error:
        errors.append(FieldError(("weight_g",), error))
    elif not weight:
        errors.append(FieldError(("weight_g",), _("Укажите вес в граммах (больше 0)")))
    elif limit is not None and not (limit.min_weight_g <= weight <= limit.max_weight_g):
        errors.append(FieldError(("weight_g",), _(
            "Вес %(w)s г вне пределов для «%(name)s»: от %(lo)s до %(hi)s г") % {
            "w": weight, "name": limit.name, "lo": limit.min_weight_g,
            "hi": limit.max_weight_g}))
    out["weight_g"] = weight
    dims: list[int] = []
    for name in ("length_cm", "width_cm", "height_cm"):
        size, error = parse_int(data.get(name), what=SIZE)
        if error:
            errors.append(FieldError((name,), error))
        out[name] = size or None
        if size:
            dims.append(size)
    if dims and limit is not None:
        if not limit.dimensions_allowed:
            errors.append(FieldError(("length_cm",), _(
                "Для «%(name)s» размеры не указываются") % {"name": limit.name}))
        elif limit.max_side_cm and max(dims) > limit.max_side_cm:
            errors.append(FieldError(("length_cm",), _(
                "Сторона %(s)s см больше допустимой для «%(name)s» (%(max)s см)") % {
                "s": max(dims), "name": limit.name, "max": limit.max_side_cm}))
        elif limit.max_dimensions_sum_cm and sum(dims) > limit.max_dimensions_sum_cm:
            errors.append(FieldError(("length_cm",), _(
                "Сумма сторон %(s)s см больше допустимой для «%(name)s» (%(max)s см)") % {
                "s": sum(dims), "name": limit.name, "max": limit.max_dimensions_sum_cm}))

    declared = _money_field(data, "declared_value", (), errors)
    cod = _money_field(data, "cod_amount", (), errors)
    out["declared_value"], out["cod_amount"] = declared, cod
    if cod and limit is not None:
        if not limit.cod_allowed:
            errors.append(FieldError(("cod_amount",), _(
                "Для «%(name)s» наложенный платёж невозможен") % {"name": limit.name}))
        elif limit.cod_within_declared_value and cod > declared:
            errors.append(FieldError(("cod_amount",), _(
                "Наложенный платёж %(cod)s ₽ больше объявленной ценности %(dv)s ₽") % {
                "cod": cod, "dv": declared}))
    if out["carrier_code"] == DEFAULT_CARRIER and not out["mail_category"]:
        out["mail_category"] = (
            "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY" if cod else
            "WITH_DECLARED_VALUE" if declared else "ORDINARY")

    international = country != "RU"
    if limit is not None and international != limit.international:
        errors.append(FieldError(("service_code",), _(
            "«%(name)s» — только для международных отправлений") % {"name": limit.name}
            if limit.international else _(
            "«%(name)s» — только по России; для страны %(c)s выберите международный вид")
            % {"name": limit.name, "c": country}))
    items = _validate_items(data.get("items"), international=international, errors=errors)
    if international and not items:
        errors.append(FieldError(("items",), _(
            "Для международного отправления нужен список вложений (таможенная декларация)")))
    if items and weight:
        items_weight = sum(i["weight_g"] * i["quantity"] for i in items)
        if items_weight > weight:
            errors.append(FieldError(("items",), _(
                "Вес вложений %(iw)s г больше веса отправления %(w)s г") % {
                "iw": items_weight, "w": weight}))
    if international and items and declared:
        value = sum(i["unit_price"] * i["quantity"] for i in items)
        if value != declared:
            errors.append(FieldError(("declared_value",), _(
                "Объявленная ценность %(dv)s ₽ не равна стоимости вложений %(v)s ₽") % {
                "dv": declared, "v": value}))
    out["items"] = items

    options = data.get("options") or {}
    if not isinstance(options, Mapping):
        errors.append(FieldError(("options",), _("Доп. услуги передаются объектом")))
        options = {}
    out["options"] = dict(options)

    sender = data.get("sender_id")
    if sender in (None, ""):
        out["sender_id"] = ctx.default_sender_id
    else:
        sender_id, error = parse_int(sender, what=SENDER)
        if error or sender_id not in ctx.sender_ids:
            errors.append(FieldError(("sender_id",), _("Нет такого адреса отправителя")))
        out["sender_id"] = sender_id if not error else None

    tracking = _text(data.get("tracking_number"))
    out["tracking_number"] = None
    if tracking:
        if ctx.tracking_validator is None:
            out["tracking_number"] = tracking.replace(" ", "").upper()
        else:
            try:
                out["tracking_number"] = ctx.tracking_validator(
                    tracking, carrier_code=out["carrier_code"])
            except ValueError as exc:
                errors.append(FieldError(("tracking_number",), str(exc)))
        number = out["tracking_number"]
        if number and ctx.number_owned is not None and not ctx.number_owned(
                number, out["carrier_code"], out["carrier_account_id"]):
            # says nothing of whose the number is, only that it is not ours
            errors.append(FieldError(("tracking_number",), _(
                "Номер %(n)s не из ваших диапазонов номеров перевозчика «%(carrier)s»: добавьте "
                "свой диапазон в разделе «Трек-номера» или оставьте поле пустым — номер выдаст "
                "Shipdesk") % {"n": number, "carrier": out["carrier_code"]}, "not_own_number"))
    return out, errors
