"""Tracking-number formats and their check digits (pure functions, no database).

* Russian Post domestic identifier (ШПИ, "rp14"): 14 digits ``IIIIII MM NNNNN C`` — the
  6-digit index of the issuing office (or of an electronic range), a 2-digit range code,
  a 5-digit serial and a check digit: weights 3,1,3,1,… from the left over digits 1–13,
  ``C = (10 − S mod 10) mod 10``.
* UPU S10 ("s10"): 13 characters ``AA NNNNNNNN C BB`` — a 2-letter service indicator, an
  8-digit serial, a check digit (weights 8,6,4,2,3,5,9,7; ``C = 11 − S mod 11``, 10 → 0,
  11 → 5) and the ISO 3166-1 alpha-2 country of the issuing operator.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

Kind = Literal["rp14", "s10"]

RP14_LENGTH = 14
S10_LENGTH = 13
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
# Service-indicator first letters the S10 standard reserves (never assigned to items).
S10_RESERVED_FIRST_LETTERS = frozenset("JKSTW")

_SPACES = re.compile(r"[\s\-]+")
_S10_SHAPE = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")


def normalize(value: str) -> str:
    """Removes spaces and dashes (numbers are printed grouped) and upper-cases letters."""
    return _SPACES.sub("", value or "").upper()


def rp14_check_digit(first13: str) -> int:
    if len(first13) != RP14_LENGTH - 1 or not first13.isdigit() or not first13.isascii():
        raise ValueError(_("Для контрольной цифры нужны ровно 13 цифр, получено «%(value)s»")
                         % {"value": first13})
    odd = sum(int(c) for c in first13[0::2])
    even = sum(int(c) for c in first13[1::2])
    return (10 - (3 * odd + even) % 10) % 10


def s10_check_digit(serial8: str) -> int:
    if len(serial8) != 8 or not serial8.isdigit() or not serial8.isascii():
        raise ValueError(_("Для контрольной цифры S10 нужны ровно 8 цифр, получено «%(value)s»")
                         % {"value": serial8})
    total = sum(int(c) * w for c, w in zip(serial8, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 10:
        return 0
    if check == 11:
        return 5
    return check


def rp14_compose(index: str, range_code: str, serial: int | str) -> str:
    """The full 14-digit number from the office index (6 digits), the 2-digit range
    ("month") code and the serial (0–99999)."""
    index, range_code = str(index), str(range_code)
    if len(index) != 6 or not index.isdigit():
        raise ValueError(_("Индекс в номере должен состоять из 6 цифр"))
    if len(range_code) != 2 or not range_code.isdigit():
        raise ValueError(_("Код диапазона в номере должен состоять из 2 цифр"))
    serial_int = int(serial)
    if not 0 <= serial_int <= 99999:
        raise ValueError(_("Порядковый номер должен быть от 0 до 99999"))
    body = f"{index}{range_code}{serial_int:05d}"
    return f"{body}{rp14_check_digit(body)}"


def s10_compose(service: str, serial: int | str, country: str) -> str:
    """The full S10 identifier from the 2-letter service indicator, the serial (0–99999999)
    and the 2-letter country of the issuing operator."""
    service, country = str(service).upper(), str(country).upper()
    if len(service) != 2 or not (service.isalpha() and service.isascii()):
        raise ValueError(_("Код услуги S10 должен состоять из 2 латинских букв"))
    if service[0] in S10_RESERVED_FIRST_LETTERS:
        raise ValueError(_("Код услуги S10 не может начинаться с букв J, K, S, T, W"))
    if len(country) != 2 or not (country.isalpha() and country.isascii()):
        raise ValueError(_("Код страны S10 должен состоять из 2 латинских букв"))
    serial_int = int(serial)
    if not 0 <= serial_int <= 99_999_999:
        raise ValueError(_("Порядковый номер S10 должен быть от 0 до 99999999"))
    digits = f"{serial_int:08d}"
    return f"{service}{digits}{s10_check_digit(digits)}{country}"


def tracking_number_kind(value: str) -> Kind | None:
    """``"rp14"`` or ``"s10"`` when the value has the shape of one (check digit not
    verified), else ``None``."""
    value = normalize(value)
    if len(value) == RP14_LENGTH and value.isdigit() and value.isascii():
        return "rp14"
    if _S10_SHAPE.match(value):
        return "s10"
    return None


def validate_tracking_number(value: str, *, carrier_code: str = "") -> str:
    """The normalised number, or ``ValueError`` with a Russian message naming the problem,
    by the format of the carrier's own numbers: its adapter's ``validate_number`` (found
    through the carriers registry, never by name). Without a carrier, or for a carrier
    Shipdesk has no adapter for, the postal formats: a Russian Post 14-digit number or an
    S10 identifier, check digit verified (:func:`validate_postal_number`)."""
    if carrier_code:
        adapter = _adapter_class(carrier_code)
        if adapter is not None:
            return adapter.validate_number(value)
    return validate_postal_number(value)


def _adapter_class(carrier_code: str) -> Any:
    try:
        from shipdesk.carriers import registry
    except ImportError:  # the carriers domain not installed: postal formats only
        return None
    try:
        return registry.adapter_class(carrier_code)
    except LookupError:
        return None


def validate_postal_number(value: str) -> str:
    """A Russian Post domestic 14-digit number or a UPU S10 identifier, normalised, with its
    check digit verified; else ``ValueError`` with a Russian message naming the problem."""
    number = normalize(value)
    if not number:
        raise ValueError(_("Трек-номер не указан"))
    if number.isdigit():
        if not number.isascii():
            raise ValueError(_("Трек-номер должен состоять из цифр 0–9"))
        if len(number) != RP14_LENGTH:
            raise ValueError(
                _("Неверная длина трек-номера: %(got)d цифр, а номер Почты России состоит из 14")
                % {"got": len(number)})
        expected = rp14_check_digit(number[:13])
        if int(number[13]) != expected:
            raise ValueError(
                _("Неверная контрольная цифра трек-номера %(number)s: %(got)s, должна быть %(want)d")
                % {"number": number, "got": number[13], "want": expected})
        return number
    if len(number) >= 2 and number[:2].isalpha() and any(c.isdigit() for c in number):
        if len(number) != S10_LENGTH:
            raise ValueError(
                _("Неверная длина международного трек-номера: %(got)d знаков, а номер S10 "
                  "состоит из 13 (2 буквы, 9 цифр, 2 буквы)") % {"got": len(number)})
        if not _S10_SHAPE.match(number):
            raise ValueError(_("Международный трек-номер должен иметь вид AA123456785RU: "
                               "2 латинские буквы, 9 цифр, 2 латинские буквы"))
        expected = s10_check_digit(number[2:10])
        if int(number[10]) != expected:
            raise ValueError(
                _("Неверная контрольная цифра трек-номера %(number)s: %(got)s, должна быть %(want)d")
                % {"number": number, "got": number[10], "want": expected})
        return number
    raise ValueError(_("Трек-номер «%(value)s» не похож ни на номер Почты России (14 цифр), "
                       "ни на международный номер S10 (AA123456785RU)") % {"value": value})


# --- S10 service indicators by mail type --------------------------------------------------

# First letters of S10 service indicators (UPU S10; shared/domain.md §3.2) and what they
# mark, for messages.
S10_SERVICE_LETTERS: dict[str, Any] = {
    "E": gettext_lazy("EMS"),
    "C": gettext_lazy("посылки"),
    "H": gettext_lazy("посылки электронной торговли"),
    "R": gettext_lazy("заказные письма, бандероли и мелкие пакеты"),
    "V": gettext_lazy("письма и бандероли с объявленной ценностью"),
    "L": gettext_lazy("отслеживаемые письма"),
    "U": gettext_lazy("прочие письма со штрихкодом"),
}
_LETTER_POST = ("LETTER", "BANDEROL", "SMALL_PACKET", "PRINTED", "POSTCARD")


def s10_service_letters(service_code: str) -> frozenset[str] | None:
    """The S10 service-indicator letters an international item of this mail type may carry
    (``EMS…`` → E, ``ECOM…`` → H, ``…PARCEL…`` → C, letter post → R, or V with a declared
    value), from the service code (a mail type, optionally ``/category``); ``None`` when
    the code does not tell (any S10 range will do)."""
    mail_type, _sep, category = (service_code or "").upper().partition("/")
    if "EMS" in mail_type:
        return frozenset("E")
    if "ECOM" in mail_type:
        return frozenset("H")
    if "PARCEL" in mail_type:
        return frozenset("C")
    if any(word in mail_type for word in _LETTER_POST):
        return frozenset("V") if "DECLARED_VALUE" in category else frozenset("R")
    return None
