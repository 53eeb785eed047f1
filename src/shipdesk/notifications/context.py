"""The macros of one message: what a template may show about a parcel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shipdesk.notifications.links import (
    short_code,
    short_unsubscribe_link,
    tracking_link,
    unsubscribe_link,
)


def recipient_unsubscribe_link(*, organization_id: int, channel: str, address: str) -> str:
    """SMS get the short link (its row is made before sending: ``ShortLink``), e-mail the
    signed one (also used for the List-Unsubscribe header)."""
    if channel == "sms":
        return short_unsubscribe_link(short_code(organization_id=organization_id,
                                                 channel=channel, address=address))
    return unsubscribe_link(organization_id=organization_id, channel=channel, address=address)


@dataclass(frozen=True)
class ParcelFacts:
    status: str = ""
    pickup_address: str = ""
    pickup_hours: str = ""
    storage_deadline: dt.date | None = None
    expected_delivery: dt.date | None = None
    arrived_at: dt.datetime | None = None
    tracking_token: str = ""


def _first(obj: Any, *names: str) -> Any:
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value:
            return value
    return None


def parcel_facts(shipments: list[Any]) -> dict[int, ParcelFacts]:
    """Facts from the tracking domain's summary when it is there, else from the shipment."""
    try:
        from shipdesk.tracking.selectors import shipment_tracking_summary
    except ImportError:
        summaries: dict[int, Any] = {}
    else:
        summaries = shipment_tracking_summary(shipment_ids=[s.pk for s in shipments]) or {}
    out: dict[int, ParcelFacts] = {}
    for s in shipments:
        x = summaries.get(s.pk)
        if x is None:
            out[s.pk] = ParcelFacts(status=s.tracking_status or "",
                                    pickup_address=_pickup_address(None))
            continue
        deadline = _first(x, "storage_deadline")
        expected = _first(x, "expected_delivery", "expected_delivery_date")
        out[s.pk] = ParcelFacts(
            status=str(_first(x, "status") or s.tracking_status or ""),
            pickup_address=_pickup_address(x),
            pickup_hours=str(_first(x, "pickup_office_hours") or ""),
            storage_deadline=_local_date(deadline, s.index),
            expected_delivery=_local_date(expected, s.index),
            arrived_at=_first(x, "arrived_at_pickup_at"),
            tracking_token=str(_first(x, "tracking_token", "public_token") or ""),
        )
    return out


def _local_date(value: Any, index: str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        from shipdesk.shipments.regions import zone_for_index

        return value.astimezone(zone_for_index(index or "")).date()
    return value


def _pickup_address(summary: Any) -> str:
    """Where the parcel waits: the office's address, or its code while the office is not
    loaded yet; never the recipient's own address (a parcel to the door may still be
    handed out at an office, and which one is not known until its events name it)."""
    from django.utils.translation import gettext

    if summary is not None:
        address = _first(summary, "pickup_office_address")
        if address:
            return str(address)
        code = _first(summary, "pickup_office_index")
        if code:
            return gettext("пункт выдачи %(code)s") % {"code": code}
    return gettext("адрес пункта выдачи уточняется")


def money(amount: Decimal | None) -> str:
    if not amount:
        return ""
    text = f"{amount:,.2f}".replace(",", " ").replace(".", ",")
    return text[:-3] if text.endswith(",00") else text


def _date(value: dt.date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def buyer_name(s: Any) -> str:
    name = " ".join(p for p in (s.recipient_given_name, s.recipient_patronymic) if p)
    return name or s.recipient_surname or s.recipient_company or "покупатель"


def days_left(deadline: dt.date | None, *, index: str, now: dt.datetime | None) -> int | None:
    """Whole days from today to the storage deadline, both on the office's calendar (the
    delivery region's zone): 0 on the deadline's own day."""
    if deadline is None:
        return None
    from django.utils import timezone

    from shipdesk.shipments.regions import zone_for_index

    today = (now or timezone.now()).astimezone(zone_for_index(index or "")).date()
    return (deadline - today).days


def message_context(*, shipment: Any, organization: Any, facts: ParcelFacts, channel: str,
                    address: str, shop_phone: str = "", review_url: str = "",
                    now: dt.datetime | None = None) -> dict[str, str]:
    from shipdesk.notifications.rendering import days_left_text
    from shipdesk.tracking.statuses import status_label

    return {
        "buyer_name": buyer_name(shipment),
        "order_number": shipment.order_number,
        "amount_to_pay": money(shipment.cod_amount),
        "tracking_number": shipment.tracking_number or "",
        "tracking_link": tracking_link(token=facts.tracking_token),
        "pickup_address": facts.pickup_address,
        "pickup_hours": facts.pickup_hours,
        "storage_deadline": _date(facts.storage_deadline),
        "days_left": days_left_text(days_left(facts.storage_deadline, index=shipment.index,
                                              now=now)),
        "expected_delivery": _date(facts.expected_delivery),
        "shop_name": organization.name,
        "shop_phone": shop_phone or organization.phone,
        "review_link": review_url,
        "unsubscribe_link": recipient_unsubscribe_link(
            organization_id=organization.pk, channel=channel, address=address) if address else "",
        "status": status_label(facts.status) or facts.status,
    }


SAMPLE_TRACKING_TOKEN = "Zk3v9QmT2xLp8WnR4cYb1HsD"  # a made-up public page token for previews  # noqa: S105


def sample_context(organization: Any, channel: str = "email") -> dict[str, str]:
    """A sample parcel for previews (with the link the channel really gets)."""
    return {
        "buyer_name": "Анна Сергеевна", "order_number": "A-10042", "amount_to_pay": "2 490",
        "tracking_number": "80082345678901",
        "tracking_link": tracking_link(token=SAMPLE_TRACKING_TOKEN),
        "pickup_address": "125009, Москва, ул. Тверская, 9",
        "pickup_hours": "пн–пт 8:00–20:00, сб 9:00–18:00",
        "storage_deadline": "30.11.2026", "days_left": "осталось 5 дней",
        "expected_delivery": "25.11.2026",
        "shop_name": organization.name, "shop_phone": organization.phone or "+7 495 000-00-00",
        "review_link": "https://example.ru/review",
        "unsubscribe_link": recipient_unsubscribe_link(
            organization_id=organization.pk, channel=channel,
            address="79000000000" if channel == "sms" else "anna@example.ru"),
        "status": "Ожидает в пункте выдачи",
    }
