"""Post offices: the adapter's ``pickup_points`` against the emulator's post-office service
(``/postoffice/1.0/{index}``, ``/postoffice/1.0/by-address``) over real HTTP, and the office
object's parsing (address on one line, the week's hours in a few words)."""

from __future__ import annotations

from typing import Any

import pytest

from shipdesk.carriers.base import AuthenticationFailed, Capability, CarrierError
from shipdesk.carriers.russian_post.adapter import Adapter, office_hours
from shipdesk.carriers.russian_post.emulator import EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import Admin, make_adapter


def _calls(server: EmulatorServer) -> int:
    return sum(n for key, n in server.state.counts.items() if ":otpravka:" in key)


def test_the_office_of_an_index_with_its_address_and_hours(server: EmulatorServer) -> None:
    [office] = make_adapter(server.url).pickup_points(index="620014")
    assert office.code == "620014"
    assert office.name == "Отделение Почты России 620014"
    assert office.address.raw == "620014, Екатеринбург, ул. Малышева, д. 31"
    assert (office.address.index, office.address.city) == ("620014", "Екатеринбург")
    assert office.address.region == "Свердловская обл."
    assert office.work_hours == ("пн–пт 08:00–20:00 (перерыв 13:00–14:00), сб 09:00–18:00, "
                                 "вс выходной")
    assert (office.latitude, office.longitude) == (56.8349, 60.5979)
    assert not office.is_locker


def test_a_locker_is_a_locker(server: EmulatorServer) -> None:
    [locker] = make_adapter(server.url).pickup_points(index="630132")
    assert locker.is_locker and locker.name == "Почтомат 630132"
    assert locker.work_hours == "пн–вс 00:00–23:59"


def test_an_index_without_an_office_has_none(server: EmulatorServer) -> None:
    assert make_adapter(server.url).pickup_points(index="999999") == []


def test_a_code_that_is_no_postal_index_is_not_asked(server: EmulatorServer) -> None:
    adapter = make_adapter(server.url)
    before = _calls(server)
    assert adapter.pickup_points(index="MSK5") == []
    assert adapter.pickup_points(index="12345") == []
    assert _calls(server) == before


def test_offices_of_a_city_most_relevant_first(server: EmulatorServer) -> None:
    offices = make_adapter(server.url).pickup_points(city="Новосибирск")
    assert [o.code for o in offices] == ["630099", "630132"]
    assert offices[0].address.raw == "630099, Новосибирск, ул. Ленина, д. 5"
    assert make_adapter(server.url).pickup_points(city="Атлантида") == []


def test_all_offices_at_once_are_never_asked_for(server: EmulatorServer) -> None:
    with pytest.raises(CarrierError) as caught:
        make_adapter(server.url).pickup_points()
    assert caught.value.code == "index_required"


def test_the_service_asks_for_the_account_credentials(server: EmulatorServer) -> None:
    with pytest.raises(AuthenticationFailed):
        make_adapter(server.url, token="wrong").pickup_points(index="620014")


def test_a_failing_service_is_a_transient_error(server: EmulatorServer, admin: Admin) -> None:
    admin.fault(mode="status", status=503, count=5)
    with pytest.raises(CarrierError) as caught:
        make_adapter(server.url).pickup_points(index="620014")
    assert caught.value.transient


def test_russian_post_declares_its_offices_one_index_at_a_time() -> None:
    assert Capability.PICKUP_POINTS in Adapter.capabilities
    assert Adapter.pickup_points_on_demand


def _day(n: int, begin: str, end: str, *lunches: tuple[str, str]) -> dict[str, Any]:
    return {"weekday-id": n, "begin-worktime": begin, "end-worktime": end,
            "lunches": [{"begin-lunchtime": a, "end-lunchtime": b} for a, b in lunches]}


def test_hours_join_days_alike_and_name_days_off() -> None:
    rows = [_day(1, "09:00:00.000", "18:00:00.000", ("13:00:00.000", "13:45:00.000")),
            _day(2, "09:00:00.000", "18:00:00.000", ("13:00:00.000", "13:45:00.000")),
            _day(3, "10:00", "19:00"),
            _day(6, "10:00:00", "14:00:00")]
    assert office_hours(rows) == ("пн–вт 09:00–18:00 (перерыв 13:00–13:45), ср 10:00–19:00, "
                                  "чт–пт выходной, сб 10:00–14:00, вс выходной")


def test_hours_unknown_are_empty_not_every_day_off() -> None:
    assert office_hours([]) == "" and office_hours(None) == ""
    assert office_hours([{"weekday-id": 1}]) == ""


def test_a_closed_office_says_so_instead_of_its_hours() -> None:
    data = {"postal-code": "620014", "settlement": "Екатеринбург",
            "address-source": "г Екатеринбург, ул Малышева, д 31",
            "working-hours": [_day(1, "08:00", "20:00")],
            "is-temporary-closed": True, "temporary-closed-reason": "ремонт"}
    office = Adapter.parse_post_office(data)
    assert office is not None
    assert office.work_hours == "временно закрыто (ремонт)"
    # the settlement already in the address is not said twice
    assert office.address.raw == "620014, г Екатеринбург, ул Малышева, д 31"
    assert Adapter.parse_post_office({"is-closed": False}) is None
