"""``{% delivery_office shipment %}``: the office block of another domain's page (the
shipment page), read through the tracking selector."""

from __future__ import annotations

from typing import Any

from django import template

from shipdesk.tracking import selectors

register = template.Library()


@register.inclusion_tag("tracking/_delivery_office.html")
def delivery_office(shipment: Any) -> dict[str, Any]:
    """The office the shipment waits at or is bound for; nothing for a parcel to the door
    whose events name no office. ``shipment`` is one the page already scoped to its
    organization."""
    office = selectors.delivery_offices(shipment_ids=[shipment.pk]).get(shipment.pk)
    return {"office": office}
