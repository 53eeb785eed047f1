"""Organization A cannot hinder organization B (the walker of test_tenant_isolation shows it
reads and changes nothing of B; this shows it cannot get in B's way either).

B's everyday actions through the API are run once, then A's owner does every hostile thing
a tenant can do with numbers, ranges, invitations and outbound addresses, then B's actions
are run again: each must answer as it did the first time, and B's numbering go on where it
was. Nothing A is told names B.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from shipdesk.numbering.validation import rp14_compose
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Membership, Organization, Role

pytestmark = pytest.mark.django_db

B_NAME = "Организация-Б-harm"
INDEX, RANGE = "800997", "21"  # B's range of Russian Post numbers


def _number(serial: int) -> str:
    return rp14_compose(INDEX, RANGE, serial)


def _client(org: Organization) -> tuple[Client, tenancy.Actor]:
    owner = Membership.objects.filter(organization=org, role=Role.OWNER).first()
    assert owner is not None
    actor = tenancy.Actor(organization=org, role=Role.OWNER, user=owner.user)
    _key, plain = tenancy.api_key_create(actor=actor, name="harm", role=Role.OWNER)
    return Client(headers={"X-API-Key": plain}), actor


@pytest.fixture
def b(make_org: Any) -> tuple[Organization, Client, tenancy.Actor]:
    org = make_org(B_NAME)
    client, actor = _client(org)
    answer = client.post("/api/v1/numbering/pools", {
        "carrier_code": "russian_post", "first_number": _number(0),
        "last_number": _number(9999), "low_threshold": 10}, content_type="application/json")
    assert answer.status_code == 201, answer.content
    return org, client, actor


@pytest.fixture
def a(org: Organization) -> tuple[Organization, Client, tenancy.Actor]:
    client, actor = _client(org)
    return org, client, actor


def _b_actions(client: Client, round_: int) -> dict[str, tuple[int, Any]]:
    """B's everyday actions; what each answered (status, the part that matters)."""
    out: dict[str, tuple[int, Any]] = {}

    def json_of(response: Any) -> Any:
        return response.json() if response.content else None

    one = client.post("/api/v1/shipments/", shipment_data(order_number=f"B-{round_}-1"),
                      content_type="application/json")
    out["create one"] = (one.status_code, json_of(one).get("state"))
    many = client.post("/api/v1/shipments/bulk", {"items": [
        shipment_data(order_number=f"B-{round_}-bulk-{n}") for n in range(3)]},
        content_type="application/json")
    body = json_of(many)
    out["create many"] = (many.status_code, (body.get("created"), body.get("rejected")))
    typed = client.post("/api/v1/shipments/", shipment_data(
        order_number=f"B-{round_}-typed", tracking_number=_number(5000 + round_)),
        content_type="application/json")
    out["type own number"] = (typed.status_code, json_of(typed).get("tracking_number")
                              == _number(5000 + round_))
    issued = client.post("/api/v1/numbering/issue", {"carrier_code": "russian_post", "count": 2},
                         content_type="application/json")
    out["issue for outside parcels"] = (issued.status_code, len(json_of(issued)["numbers"]))
    pool = client.post("/api/v1/numbering/pools", {
        "carrier_code": "russian_post", "first_number": rp14_compose(INDEX, f"{30 + round_}", 0),
        "last_number": rp14_compose(INDEX, f"{30 + round_}", 99)},
        content_type="application/json")
    out["add a range"] = (pool.status_code, None)
    hook = client.post("/api/v1/tracking/webhooks/", {"url": "https://93.184.216.34/hook"},
                       content_type="application/json")
    out["add a webhook"] = (hook.status_code, None)
    return out


def _b_numbers(actor: tenancy.Actor) -> list[str]:
    from shipdesk.shipments.models import Shipment

    return list(Shipment.objects.filter(organization=actor.organization)
                .exclude(tracking_number=None).order_by("pk")
                .values_list("tracking_number", flat=True))


def test_nothing_organization_a_does_hinders_organization_b(a, b, make_user) -> None:
    _a_org, a_client, a_actor = a
    b_org, b_client, b_actor = b
    before = _b_actions(b_client, 1)
    assert all(200 <= status < 300 for status, _v in before.values()), before
    numbered = _b_numbers(b_actor)
    from shipdesk.numbering.models import NumberPool

    b_pool = NumberPool.objects.get(organization=b_org, prefix=INDEX + RANGE)
    next_serial = b_pool.next_serial

    told: list[str] = []  # everything A's attempts answered

    def hostile(name: str, call: Callable[[], Any], *statuses: int) -> Any:
        response = call()
        told.append(response.content.decode())
        assert response.status_code in statuses, (name, response.status_code, response.content)
        return response

    # 1. types B's next numbers without any range of its own: refused, naming no one
    hostile("type B's next numbers", lambda: a_client.post("/api/v1/shipments/bulk", {"items": [
        shipment_data(tracking_number=_number(next_serial + n)) for n in range(5)]},
        content_type="application/json"), 200)
    # 2. registers B's whole range as its own: allowed (nothing tells it B holds it)
    hostile("register B's range", lambda: a_client.post("/api/v1/numbering/pools", {
        "carrier_code": "russian_post", "first_number": _number(0),
        "last_number": _number(9999)}, content_type="application/json"), 201)
    # 3. ... then types B's next numbers into its shipments and burns the rest of them
    hostile("type B's next numbers from the claimed range", lambda: a_client.post(
        "/api/v1/shipments/bulk", {"items": [shipment_data(
            tracking_number=_number(next_serial + n)) for n in range(20)]},
        content_type="application/json"), 200)
    hostile("type B's typed-ahead number", lambda: a_client.post("/api/v1/shipments/", shipment_data(
        tracking_number=_number(5002)), content_type="application/json"), 201)
    hostile("burn B's numbers", lambda: a_client.post("/api/v1/numbering/issue", {
        "carrier_code": "russian_post", "count": 5000}, content_type="application/json"), 201)
    # 4. B's next ranges claimed ahead
    for code in (31, 32):
        hostile("claim B's next range", lambda code=code: a_client.post("/api/v1/numbering/pools", {
            "carrier_code": "russian_post", "first_number": rp14_compose(INDEX, f"{code}", 0),
            "last_number": rp14_compose(INDEX, f"{code}", 99)},
            content_type="application/json"), 201)
    # 5. a link to B's invitation, forwarded to A's owner: refused
    invitation, token = tenancy.invitation_create(actor=b_actor, email="b-new@example.test",
                                                  role=Role.OPERATOR)
    a_session = Client()
    a_session.force_login(a_actor.user)
    hostile("accept B's invitation", lambda: a_session.post(
        f"/organization/invitations/accept/{token}/"), 302)
    assert not Membership.objects.filter(user=a_actor.user, organization=b_org).exists()
    # 6. outbound requests into the installation's network: refused on save
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/hook",
                "http://[::ffff:169.254.169.254]/"):
        hostile("webhook into the internal network", lambda url=url: a_client.post(
            "/api/v1/tracking/webhooks/", {"url": url}, content_type="application/json"), 422)

    for text in told:
        assert B_NAME not in text
        for hint in ("другой организац", "другим запросом", "чуж"):
            assert hint not in text, text

    # B: every action answers as before, numbering goes on where it was
    after = _b_actions(b_client, 2)
    assert after == before
    # its shipments took the next 4 numbers (1 + 3), the outside parcels the 2 after them
    new = [n for n in _b_numbers(b_actor) if n not in numbered and int(n[8:13]) < 5000]
    assert sorted(int(n[8:13]) for n in new) == list(range(next_serial, next_serial + 4))
    b_pool.refresh_from_db()
    assert b_pool.next_serial == next_serial + 6
    # B's invitee joins with the link A could not use
    invitee = make_user("B-New@example.test")
    joiner = Client()
    joiner.force_login(invitee)
    assert joiner.post(f"/organization/invitations/accept/{token}/").status_code == 302
    assert Membership.objects.filter(user=invitee, organization=b_org).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_b_events_are_matched_to_bs_parcel_when_a_carries_the_same_number(a, b) -> None:
    """A types B's number into its own parcel: the carrier's events for B's account still
    reach B's parcel, and never A's."""
    from shipdesk.carriers.base import TrackingEvent
    from shipdesk.shipments.models import Shipment
    from shipdesk.tracking.models import TrackingEvent as Stored
    from shipdesk.tracking.services import tracking_events_ingest

    _a_org, a_client, _a = a
    b_org, b_client, _b = b
    mine = b_client.post("/api/v1/shipments/", shipment_data(), content_type="application/json")
    number = mine.json()["tracking_number"]
    a_client.post("/api/v1/numbering/pools", {"carrier_code": "russian_post",
                                              "first_number": _number(0),
                                              "last_number": _number(9999)},
                  content_type="application/json")
    theirs = a_client.post("/api/v1/shipments/", shipment_data(tracking_number=number),
                           content_type="application/json")
    assert theirs.status_code == 201
    from datetime import timedelta

    from django.utils import timezone

    from shipdesk.tracking.statuses import Status

    class Account:
        organization_id = b_org.pk

    event = TrackingEvent(tracking_number=number, occurred_at=timezone.now() - timedelta(hours=1),
                          raw_code="1.1", raw_text="Приём", status=Status.ACCEPTED)
    result = tracking_events_ingest(events=[event], account=Account())
    assert result.stored == 1
    assert list(Stored.objects.values_list("shipment__organization_id", flat=True)) == [b_org.pk]
    assert Shipment.objects.filter(tracking_number=number).count() == 2
