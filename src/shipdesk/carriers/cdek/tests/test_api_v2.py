"""CDEK API v2 as the real service speaks it: JWT tokens and their refusal, validation
after the 202, the published status list, paging, print options, courier pick-ups."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import httpx
import pytest
from pypdf import PdfReader

from shipdesk.carriers.base import AuthenticationFailed, CarrierError, CourierPickupRequest
from shipdesk.carriers.cdek import adapter as cdek_adapter
from shipdesk.carriers.cdek import statuses
from shipdesk.carriers.cdek.adapter import Adapter
from shipdesk.carriers.cdek.emulator import CITIES, CLIENT_ID, CLIENT_SECRET, MSK
from shipdesk.carriers.emulation import Running
from shipdesk.carriers.tests.helpers import control, parcel
from shipdesk.tracking.statuses import Status

# --- the published status list -------------------------------------------------------------


def test_every_code_of_the_published_list_maps_to_a_status() -> None:
    published = json.loads((statuses.DATA / "order_statuses.json").read_text(encoding="utf-8"))
    codes = [row["code"] for row in published["statuses"]]
    assert len(codes) == 35 and {"ENTERED_TO_PICK_UP_POINT", "ENTERED_TO_RECIPIENT_CITY_WAREHOUSE",
                                 "ENTERED_TO_TRANSIT_WAREHOUSE"} <= set(codes)
    assert [c for c in codes if statuses.status_of(c)[0] is None] == []
    assert set(statuses.STATUS_MAP) == set(codes)  # nothing mapped that CDEK does not publish


def test_new_codes_and_their_old_names() -> None:
    assert statuses.status_of("ENTERED_TO_PICK_UP_POINT")[0] == Status.ARRIVED_AT_PICKUP
    assert statuses.status_of("ENTERED_TO_RECIPIENT_CITY_WAREHOUSE")[0] == Status.IN_TRANSIT
    assert statuses.status_of("ENTERED_TO_TRANSIT_WAREHOUSE")[0] == Status.IN_TRANSIT
    for old, new in statuses.ALIASES.items():
        assert statuses.status_of(old) == statuses.status_of(new)


def test_an_unknown_code_is_kept_and_flagged(adapter: Adapter) -> None:
    body = json.dumps({"type": "ORDER_STATUS", "date_time": "2026-01-05T10:00:00+0300", "uuid": "u",
                       "attributes": {"cdek_number": "1106000001", "code": "TELEPORTED",
                                      "status_date_time": "2026-01-05T10:00:00+0300"}}).encode()
    event = adapter.parse_webhook({}, body)[0]
    assert (event.status, event.raw_code) == (None, "TELEPORTED")


# --- tokens --------------------------------------------------------------------------------


def test_token_in_the_query_string_is_a_jwt_with_exp(emulator: Running) -> None:
    answer = httpx.post(f"{emulator.url}/v2/oauth/token", params={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert answer.status_code == 200
    token = answer.json()["access_token"]
    assert token.count(".") == 2
    assert 3500 < Adapter._jwt_lifetime(token) <= 3600


def test_a_revoked_account_gets_one_refresh_then_a_clear_error(adapter: Adapter, emulator: Running) -> None:
    adapter.rate(parcel(service_code="136"))
    emulator.app.refuse_tokens = True
    with pytest.raises(AuthenticationFailed) as caught:
        adapter.rate(parcel(service_code="136"))
    assert caught.value.code == "bad_token" and "отозван или истёк" in str(caught.value)
    assert emulator.app.token_requests == 2  # the first token, then exactly one fresh one


def test_an_expired_jwt_is_refused_and_replaced_once(adapter: Adapter, emulator: Running) -> None:
    emulator.app.token_ttl = -5  # every token comes already past its exp
    with pytest.raises(AuthenticationFailed):
        adapter.rate(parcel(service_code="136"))
    assert emulator.app.token_requests == 2
    emulator.app.token_ttl = 3600
    assert adapter.rate(parcel(service_code="136"))  # nothing cached from the failure


def test_429_with_retry_after_is_waited_out_on_a_safe_request(adapter: Adapter, emulator: Running) -> None:
    adapter.rate(parcel(service_code="136"))
    control(emulator.url, "fail", mode="rate_limit", count=1)
    assert adapter.rate(parcel(service_code="234"))[0].service_code == "234"


# --- orders validated after the 202 ----------------------------------------------------------


def test_an_order_refused_after_the_202_is_an_error_never_created(adapter: Adapter) -> None:
    result = adapter.create_parcels([parcel("SHOP-X", service_code="136",
                                            recipient=parcel().recipient.__class__(
                                                name="Иван", phone="+79161234567",
                                                pickup_point="NOPE1"))])
    assert result.created == ()
    assert result.errors[0].field == "delivery_point" and "NOPE1" in result.errors[0].message


def test_validation_taking_time_is_read_back_later(adapter: Adapter, emulator: Running) -> None:
    emulator.app.validation_delay = timedelta(minutes=10)
    created = adapter.create_parcels([parcel("SHOP-L", service_code="999")]).created
    assert len(created) == 1 and created[0].tracking_number == ""  # accepted, not numbered yet
    assert adapter.registration_check([created[0].carrier_id]).errors == ()
    control(emulator.url, "clock", advance_hours=1)
    later = adapter.registration_check([created[0].carrier_id])
    assert later.created == () and "999" in later.errors[0].message
    assert later.errors[0].code == "v2_invalid_value"


def test_economy_tariff_234_is_offered_and_orders_go_through(adapter: Adapter) -> None:
    assert "234" in {q.service_code for q in adapter.rate(parcel(service_code=""))}
    created = adapter.create_parcels([parcel("SHOP-E", service_code="234")]).created[0]
    assert created.tracking_number.isdigit()


# --- directories and paging ------------------------------------------------------------------


def test_cities_are_read_page_by_page_to_the_end(adapter: Adapter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cdek_adapter, "CITY_PAGE_SIZE", 3)
    cities = adapter.cities()
    assert sorted(c["code"] for c in cities) == sorted(CITIES)  # each once, then the end
    assert [c["code"] for c in adapter.cities(postal_code="644024")] == [268]
    assert adapter.cities(code=999999) == []


def test_a_page_past_the_end_is_empty(emulator: Running, adapter: Adapter) -> None:
    assert adapter._json("GET", "/location/cities", params={"size": 5, "page": 50}) == []
    regions = adapter._json("GET", "/location/regions", params={"size": 2, "page": 0})
    assert len(regions) == 2 and {"region_code", "country_code", "region"} <= set(regions[0])


# --- print options ---------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "width_mm"), [("A4", 210), ("A5", 148), ("A6", 105), ("A7", 74)])
def test_barcode_print_honours_copies_and_format(adapter: Adapter, fmt: str, width_mm: int) -> None:
    order = adapter.create_parcels([parcel("SHOP-P", service_code="136")]).created[0]
    document = adapter._print("barcodes", [order.carrier_id], {"copy_count": 3, "format": fmt})
    pages = PdfReader(io.BytesIO(document.content)).pages
    assert len(pages) == 3
    assert round(float(pages[0].mediabox.width) / 72 * 25.4) == width_mm


def test_an_unknown_format_is_refused(adapter: Adapter) -> None:
    order = adapter.create_parcels([parcel("SHOP-F", service_code="136")]).created[0]
    with pytest.raises(CarrierError) as caught:
        adapter._print("barcodes", [order.carrier_id], {"format": "A3"})
    assert "format" in str(caught.value)


# --- courier pick-up -------------------------------------------------------------------------


def _pickup(day: date, start: str = "10:00", end: str = "15:00") -> CourierPickupRequest:
    return CourierPickupRequest(day=day, time_from=start, time_to=end, sender=parcel().sender,
                                cargo="Партия 1/2026: отправлений 2", weight_g=2400)


def test_courier_is_ordered_followed_and_cancelled(adapter: Adapter, emulator: Running) -> None:
    day = emulator.app.clock.now().astimezone(MSK).date() + timedelta(days=2)
    pickup = adapter.courier_pickup_create(_pickup(day))
    assert pickup.number and pickup.state == "READY_FOR_APPOINTMENT" and not pickup.error
    sent = emulator.app.intakes[pickup.carrier_id].body
    assert sent["from_location"]["address"].startswith("Москва, ул. Мясницкая")
    assert sent["sender"]["phones"] == [{"number": "+74951234567"}] and sent["weight"] == 2400
    control(emulator.url, "clock", now=f"{day.isoformat()}T09:00:00+03:00")  # the window's morning
    assert adapter.courier_pickup_get(pickup.carrier_id).state == "APPOINTED_COURIER"
    adapter.courier_pickup_cancel(pickup.carrier_id)
    assert adapter.courier_pickup_get(pickup.carrier_id).state == "REMOVED"


def test_a_second_courier_for_the_same_day_and_address_is_refused_later(
        adapter: Adapter, emulator: Running) -> None:
    day = emulator.app.clock.now().astimezone(MSK).date() + timedelta(days=2)
    adapter.courier_pickup_create(_pickup(day))
    again = adapter.courier_pickup_create(_pickup(day, "12:00", "18:00"))
    assert again.state == "INVALID" and "уже есть заявка" in again.error and not again.number


def test_a_window_outside_the_carriers_hours_is_a_clear_error(adapter: Adapter, emulator: Running) -> None:
    day = emulator.app.clock.now().astimezone(MSK).date() + timedelta(days=1)
    with pytest.raises(CarrierError) as caught:
        adapter.courier_pickup_create(_pickup(day, "07:00", "08:00"))
    assert caught.value.code == "v2_wrong_interval" and "09:00" in str(caught.value)
