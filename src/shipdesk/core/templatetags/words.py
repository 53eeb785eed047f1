"""``{% load words %}``: words and numbers as people read them, on every page, document and
e-mail.

- ``{{ value|label:"shipment_state" }}`` — a stored code in words (``core.labels``);
- ``{{ shipment|carrier }}`` — the carrier of a shipment or batch: its account's name, else
  the carrier's name, never ``russian_post``;
- ``{{ shipment|service }}`` — its mail type or tariff («Посылка онлайн»);
- ``{{ amount|money }}`` — «1 234,50 ₽» in Russian, «1,234.50 ₽» in English;
- ``{{ n|number }}`` — «12 345» / «12,345»;
- ``{{ moment|when }}`` / ``{{ day|day }}`` — a date and time / a date in the organization's
  format (its time zone, the language's order).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils import formats, timezone
from django.utils.translation import get_language, gettext

from shipdesk.carriers import names
from shipdesk.core import labels

register = template.Library()

NBSP = "\u00a0"


@register.filter(name="label")
def label_filter(value: Any, kind: str) -> str:
    return labels.label(kind, value)


@register.filter(name="carrier")
def carrier_filter(obj: Any) -> str:
    """An object with ``carrier_account`` / ``carrier_code`` (a shipment, a batch, a pool),
    or a bare carrier code."""
    if obj is None or obj == "":
        return ""
    if isinstance(obj, str):
        return names.carrier_name(obj)
    account = getattr(obj, "carrier_account", None) if getattr(
        obj, "carrier_account_id", None) else None
    if account is not None:
        return str(account.name)
    return names.carrier_name(getattr(obj, "carrier_code", "") or "")


@register.filter(name="service")
def service_filter(obj: Any, carrier_code: str = "") -> str:
    """A shipment's (``service_code``) or a batch's (``mail_type``) service, or a bare
    service code (with the carrier code as the argument)."""
    if obj is None or obj == "":
        return ""
    if isinstance(obj, str):
        return names.service_name(obj, carrier_code=carrier_code)
    code = getattr(obj, "service_code", None) or getattr(obj, "mail_type", "") or ""
    return names.service_name(code, carrier_code=getattr(obj, "carrier_code", "") or "")


@register.filter(name="quote_service")
def quote_service_filter(quote: Any, carrier_code: str = "") -> str:
    """A rate quote's service: our name for its code, else the name the carrier gave."""
    return names.service_name(getattr(quote, "service_code", "") or "", carrier_code=carrier_code,
                              fallback=getattr(quote, "service_name", "") or "")


@register.filter(name="category")
def category_filter(code: Any) -> str:
    return names.mail_category_name(str(code or ""))


def _english() -> bool:
    return (get_language() or "ru").startswith("en")


def number_text(value: Any, places: int = 0) -> str:
    """A number grouped by thousands in the current language's way."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{amount:,.{places}f}"
    if _english():
        return text
    return text.replace(",", NBSP).replace(".", ",")


def money_text(value: Any) -> str:
    """«1 234,50 ₽» (Russian) or «1,234.50 ₽» (English); "" for no amount."""
    if value is None or value == "":
        return ""
    return f"{number_text(value, 2)}{NBSP}₽"


@register.filter(name="money")
def money_filter(value: Any) -> str:
    return money_text(value)


@register.filter(name="number")
def number_filter(value: Any, places: int = 0) -> str:
    if value is None or value == "":
        return ""
    return number_text(value, int(places))


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter(name="when")
def when_filter(value: Any, seconds: str = "") -> str:
    """A moment: «06.12.2026 14:05» in Russian, «Dec 6, 2026 14:05» in English, in the time
    zone the request runs in (the organization's)."""
    if not isinstance(value, dt.datetime):
        return "" if value in (None, "") else str(value)
    time_format = "H:i:s" if seconds else "H:i"
    day_format = "M j, Y" if _english() else "d.m.Y"
    return formats.date_format(_local(value), f"{day_format} {time_format}")


@register.filter(name="day")
def day_filter(value: Any) -> str:
    if isinstance(value, dt.datetime):
        value = _local(value).date()
    if not isinstance(value, dt.date):
        return "" if value in (None, "") else str(value)
    return formats.date_format(value, "M j, Y" if _english() else "d.m.Y")


@register.filter(name="translated")
def translated_filter(text: Any) -> str:
    """A sentence the system stored in the language of the moment it was written (a
    shipment's history reason, why it is not rated): shown in the reader's language when
    the catalogue knows it, as stored otherwise."""
    if not text:
        return ""
    return gettext(str(text))


_VAT_LINE = re.compile(r"^(?:НДС|VAT) (\S+) %$")


@register.filter(name="charge_name")
def charge_name_filter(name: Any) -> str:
    """A line of a price breakdown, stored in the language it was rated in."""
    text = str(name or "")
    vat = _VAT_LINE.match(text)
    if vat:
        return gettext("НДС %(rate)s %%") % {"rate": vat.group(1)}
    return gettext(text) if text else ""


@register.filter(name="audit_details")
def audit_details_filter(entry: Any) -> str:
    return labels.audit_details(object_type=getattr(entry, "object_type", ""),
                                data=getattr(entry, "data", {}) or {})
