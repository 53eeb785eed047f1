"""Demo shipments for embedded mode: a warehouse and a few hundred parcels in various
states, made through the same intake pipeline as real ones."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from shipdesk.core.errors import ServiceError
from shipdesk.shipments import services
from shipdesk.shipments.models import Registration, SenderProfile, Shipment, State
from shipdesk.tenancy.services import system_actor

log = logging.getLogger(__name__)

_SURNAMES = ("Иванов", "Петрова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев",
             "Новикова", "Морозов", "Волкова")
_NAMES = ("Алексей", "Мария", "Иван", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена")
_CITIES = (("101000", "Москва", "г. Москва"), ("190000", "Санкт-Петербург", "г. Санкт-Петербург"),
           ("644010", "Омск", "Омская обл."), ("630099", "Новосибирск", "Новосибирская обл."),
           ("620014", "Екатеринбург", "Свердловская обл."), ("420111", "Казань", "Респ. Татарстан"),
           ("344002", "Ростов-на-Дону", "Ростовская обл."), ("690091", "Владивосток", "Приморский край"))
_STREETS = ("ул. Ленина", "пр-кт Мира", "ул. Гагарина", "ул. Советская", "пер. Садовый")
_SERVICES = ("POSTAL_PARCEL", "ONLINE_PARCEL", "EMS", "PARCEL_CLASS_1")


# Parcels of the couriers go to their pickup points in these cities (the emulators' points).
_PICKUP_POINTS = {"cdek": {"101000": "MSK5", "190000": "SPB12", "644010": "OMS3"},
                  "pickpoint": {"101000": "7701-001", "190000": "7801-035", "644010": "5501-003"}}
_CARRIERS = (("russian_post", 0.5), ("cdek", 0.2), ("pickpoint", 0.15), ("sandbox", 0.15))
# The demo's autopilot hands over registered parcels this long after they were created,
# except those whose order number ends in these digits: the operator's to try.
AUTOPILOT_AFTER = timedelta(minutes=2)
LEFT_FOR_THE_OPERATOR = ("0", "5")


def _carrier_fields(rng: random.Random, index: str) -> dict[str, Any]:
    roll, total = rng.random(), 0.0
    carrier = "russian_post"
    for code, share in _CARRIERS:
        total += share
        if roll < total:
            carrier = code
            break
    if carrier in _PICKUP_POINTS:
        if index not in _PICKUP_POINTS[carrier]:
            return {"carrier_code": "russian_post", "service_code": rng.choice(_SERVICES)}
        return {"carrier_code": carrier, "service_code": "136" if carrier == "cdek" else "STD",
                "pickup_point_code": _PICKUP_POINTS[carrier][index]}
    if carrier == "sandbox":
        return {"carrier_code": "sandbox", "service_code": rng.choice(("standard", "express"))}
    return {"carrier_code": "russian_post", "service_code": rng.choice(_SERVICES)}


def demo_shipments_create(*, organization: Any, count: int = 300, seed: int = 7) -> int:
    """Idempotent: an organization that already has shipments gets none. The shipments go
    to the organization's sandbox carriers (connected by the carriers' demo hook before this
    one): the sweep registers them once the emulators run, the autopilot hands most of them
    over and the emulators move them on, so the demo shows the whole journey."""
    if Shipment.objects.filter(organization=organization).exists():
        return 0
    rng = random.Random(seed)
    actor = system_actor(organization)
    try:  # number pools first, whichever app's demo hook runs first (idempotent)
        from shipdesk.numbering.services import demo_pools_create
    except ImportError:
        pass
    else:
        demo_pools_create(organization=organization)
    SenderProfile.objects.get_or_create(
        organization=organization, name="Склад на Мясницкой", defaults=dict(
            company=organization.name, phone="+74951234567", index="101000",
            region="г. Москва", city="Москва", street="ул. Мясницкая", house="1",
            is_default=True))
    items = []
    for n in range(count):
        index, city, region = rng.choice(_CITIES)
        weight = rng.choice((300, 800, 1200, 2100, 4500))
        value = rng.choice((0, 990, 2500, 4990))
        items.append({
            "order_number": f"DEMO-{n + 1:05d}", **_carrier_fields(rng, index),
            "recipient_surname": rng.choice(_SURNAMES), "recipient_given_name": rng.choice(_NAMES),
            "recipient_phone": f"+79{rng.randrange(10**9):09d}", "index": index,
            "recipient_email": f"demo{n + 1}@example.test",
            "region": region, "city": city, "street": rng.choice(_STREETS),
            "house": str(rng.randrange(1, 120)), "apartment": str(rng.randrange(1, 300)),
            "weight_g": weight if weight <= 2000 else 1900, "declared_value": value,
            "cod_amount": value if rng.random() < 0.4 else 0,
        })
    # registered by the sweep once the emulators are up, not while the demo is loaded
    result = services.shipments_create_many(actor=actor, items=items, source="demo",
                                            draft=False, dispatch_registration=False)
    ids = [r.shipment_id for r in result.results if r.ok and r.shipment_id is not None]
    drafts = services.shipments_create_many(
        actor=actor, items=[{**item, "order_number": f"DRAFT-{n + 1:03d}"}
                            for n, item in enumerate(items[:10])], source="demo", draft=True)
    return len(ids) + drafts.created


def demo_autopilot(*, now: datetime | None = None) -> int:
    """Embedded mode's demo: hands over the demo parcels registered a while ago (one batch
    per carrier, mail type and drop-off point), leaving some for the operator to hand over
    by hand. Returns how many it handed over."""
    from shipdesk.documents.services import batch_close, batch_create

    now = now or timezone.now()
    rows = list(Shipment.objects.filter(
        source="demo", state=State.NUMBERED, registration=Registration.REGISTERED,
        created_at__lte=now - AUTOPILOT_AFTER, batch_entry__isnull=True)
        .select_related("organization").order_by("organization_id", "pk"))
    groups: dict[tuple[Any, ...], list[Shipment]] = {}
    for s in rows:
        if s.order_number.endswith(LEFT_FOR_THE_OPERATOR):
            continue
        groups.setdefault((s.organization_id, s.carrier_account_id, s.service_code,
                           s.mail_category), []).append(s)
    handed = 0
    for members in groups.values():
        actor = system_actor(members[0].organization)
        try:
            for batch in batch_create(actor=actor, shipment_ids=[s.pk for s in members]):
                batch_close(actor=actor, batch_id=batch.pk)
                handed += batch.entries.count()
        except ServiceError as exc:  # a carrier down: the next run tries again
            log.warning("demo autopilot: %s", exc.detail)
    _ask_the_carriers(now)
    return handed


def _ask_the_carriers(now: datetime) -> None:
    """The sandboxes move a parcel on every few minutes: the demo's parcels on their way are
    asked about every run instead of every few hours."""
    try:
        from shipdesk.tracking.polling import tracking_poll_soon
    except ImportError:
        return
    moving = list(Shipment.objects.filter(source="demo", state=State.HANDED_OVER)
                  .values_list("pk", flat=True))
    if moving:
        tracking_poll_soon(shipment_ids=moving, at=now)
