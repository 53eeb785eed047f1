"""Demo shipments for embedded mode: a warehouse and a few hundred parcels in various
states, made through the same intake pipeline as real ones."""

from __future__ import annotations

import random
from typing import Any

from shipdesk.shipments import services
from shipdesk.shipments.models import SenderProfile, Shipment, State
from shipdesk.tenancy.services import system_actor

_SURNAMES = ("Иванов", "Петрова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев",
             "Новикова", "Морозов", "Волкова")
_NAMES = ("Алексей", "Мария", "Иван", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена")
_CITIES = (("101000", "Москва", "г. Москва"), ("190000", "Санкт-Петербург", "г. Санкт-Петербург"),
           ("644010", "Омск", "Омская обл."), ("630099", "Новосибирск", "Новосибирская обл."),
           ("620014", "Екатеринбург", "Свердловская обл."), ("420111", "Казань", "Респ. Татарстан"),
           ("344002", "Ростов-на-Дону", "Ростовская обл."), ("690091", "Владивосток", "Приморский край"))
_STREETS = ("ул. Ленина", "пр-кт Мира", "ул. Гагарина", "ул. Советская", "пер. Садовый")
_SERVICES = ("POSTAL_PARCEL", "ONLINE_PARCEL", "EMS", "PARCEL_CLASS_1")


def demo_shipments_create(*, organization: Any, count: int = 300, seed: int = 7) -> int:
    """Idempotent: an organization that already has shipments gets none."""
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
            "order_number": f"DEMO-{n + 1:05d}", "service_code": rng.choice(_SERVICES),
            "recipient_surname": rng.choice(_SURNAMES), "recipient_given_name": rng.choice(_NAMES),
            "recipient_phone": f"+79{rng.randrange(10**9):09d}", "index": index,
            "region": region, "city": city, "street": rng.choice(_STREETS),
            "house": str(rng.randrange(1, 120)), "apartment": str(rng.randrange(1, 300)),
            "weight_g": weight if weight <= 2000 else 1900, "declared_value": value,
            "cod_amount": value if rng.random() < 0.4 else 0,
        })
    result = services.shipments_create_many(actor=actor, items=items, source="demo",
                                            draft=False)
    ids = [r.shipment_id for r in result.results if r.ok and r.shipment_id is not None]
    # spread them over the lifecycle
    numbered = list(Shipment.objects.filter(pk__in=ids, state=State.NUMBERED)
                    .values_list("pk", flat=True))
    plan = ((State.HANDED_OVER, 0.5), (State.DELIVERED, 0.4), (State.RETURNED, 0.1))
    remaining = numbered[len(numbered) // 3:]
    for state, share in plan:
        take, remaining = remaining[: int(len(remaining) * share) or 1], remaining
        if not take:
            continue
        if state != State.HANDED_OVER:
            services.shipments_transition(actor=actor, shipment_ids=take,
                                          to_state=State.HANDED_OVER, reason="демо")
        services.shipments_transition(actor=actor, shipment_ids=take, to_state=state,
                                      reason="демо")
        remaining = [i for i in remaining if i not in set(take)]
    waiting = list(Shipment.objects.filter(pk__in=ids, state__in=(State.READY, State.NUMBERED))
                   .order_by("pk").values_list("pk", flat=True)[:5])
    if waiting:
        services.shipments_transition(actor=actor, shipment_ids=waiting,
                                      to_state=State.CANCELLED, reason="демо")
    drafts = services.shipments_create_many(
        actor=actor, items=[{**item, "order_number": f"DRAFT-{n + 1:03d}"}
                            for n, item in enumerate(items[:10])], source="demo", draft=True)
    return len(ids) + drafts.created
