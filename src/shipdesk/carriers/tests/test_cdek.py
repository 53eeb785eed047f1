"""CDEK API v2: the adapter against the emulator over loopback HTTP, public fixtures, and
the published ``cdek`` SDK driving the emulator unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from shipdesk.carriers.base import AuthenticationFailed, CarrierError, RateLimited
from shipdesk.carriers.cdek import statuses
from shipdesk.carriers.cdek.adapter import Adapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, STEP_CODES, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.tests.helpers import control, fast_client, parcel, pdf_barcodes
from shipdesk.tracking.statuses import Status

FIXTURES = Path(__file__).resolve().parents[1] / "cdek" / "fixtures"


@pytest.fixture
def emulator() -> Iterator[Running]:
    running = start(CdekEmulator())
    yield running
    running.stop()


@pytest.fixture
def adapter(emulator: Running) -> Adapter:
    Adapter.tokens._local.clear()
    return Adapter(
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        base_url=f"{emulator.url}/v2",
        http=fast_client(),
    )


def cdek_parcel(reference: str, scenario: str = "delivered", **changes: object) -> object:
    return parcel(reference, service_code="136", comment=f"scenario:{scenario}", **changes)


# --- status map --------------------------------------------------------------------------


def test_every_documented_code_is_mapped() -> None:
    documented = {
        "ACCEPTED",
        "CREATED",
        "REMOVED",
        "RECEIVED_AT_SHIPMENT_WAREHOUSE",
        "READY_TO_SHIP_AT_SENDING_OFFICE",
        "READY_FOR_SHIPMENT_IN_SENDER_CITY",
        "RETURNED_TO_SENDER_CITY_WAREHOUSE",
        "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY",
        "PASSED_TO_CARRIER_AT_SENDING_OFFICE",
        "SENT_TO_TRANSIT_CITY",
        "SEND_TO_TRANSIT_OFFICE",
        "ACCEPTED_IN_TRANSIT_CITY",
        "MET_AT_TRANSIT_OFFICE",
        "ACCEPTED_AT_TRANSIT_WAREHOUSE",
        "RETURNED_TO_TRANSIT_WAREHOUSE",
        "READY_FOR_SHIPMENT_IN_TRANSIT_CITY",
        "READY_TO_SHIP_IN_TRANSIT_OFFICE",
        "TAKEN_BY_TRANSPORTER_FROM_TRANSIT_CITY",
        "PASSED_TO_CARRIER_AT_TRANSIT_OFFICE",
        "SENT_TO_SENDER_CITY",
        "SENT_TO_RECIPIENT_CITY",
        "ACCEPTED_IN_SENDER_CITY",
        "MET_AT_SENDING_OFFICE",
        "ACCEPTED_IN_RECIPIENT_CITY",
        "MET_AT_RECIPIENT_OFFICE",
        "ACCEPTED_AT_RECIPIENT_CITY_WAREHOUSE",
        "ACCEPTED_AT_PICK_UP_POINT",
        "TAKEN_BY_COURIER",
        "RETURNED_TO_RECIPIENT_CITY_WAREHOUSE",
        "DELIVERED",
        "NOT_DELIVERED",
        "INVALID",
        "IN_CUSTOMS_INTERNATIONAL",
        "SHIPPED_TO_DESTINATION",
        "PASSED_TO_TRANSIT_CARRIER",
        "IN_CUSTOMS_LOCAL",
        "CUSTOMS_COMPLETE",
        "POSTOMAT_POSTED",
        "POSTOMAT_SEIZED",
        "POSTOMAT_RECEIVED",
        "ENTERED_TO_OFFICE_TRANSIT_WAREHOUSE",
        "ENTERED_TO_DELIVERY_WAREHOUSE",
        "ENTERED_TO_WAREHOUSE_ON_DEMAND",
    }
    unmapped = {code for code in documented if statuses.status_of(code)[0] is None}
    assert unmapped == set()
    assert set(statuses.LEGACY_CODES.values()) <= set(statuses.STATUS_MAP)
    assert {code for code, _reason in STEP_CODES.values()} <= set(statuses.STATUS_MAP)


def test_unknown_code_is_flagged_not_guessed() -> None:
    assert statuses.status_of("SOMETHING_NEW") == (None, "")


def test_reason_codes_change_the_meaning() -> None:
    assert statuses.status_of("NOT_DELIVERED", "11")[0] == Status.REFUSED
    assert statuses.status_of("NOT_DELIVERED", "23") == (Status.RETURNING, "storage_expired")
    assert statuses.status_of("DELIVERED", "20") == (Status.DELIVERED, "partial")
    assert statuses.status_of("DELIVERED", is_return=True)[0] == Status.RETURNED


# --- public fixtures ---------------------------------------------------------------------


def test_sdk_webhook_fixture_with_legacy_code_parses() -> None:
    adapter = Adapter(credentials={}, base_url="http://127.0.0.1:9/v2")
    events = adapter.parse_webhook({}, (FIXTURES / "webhook_order_status_sdk.json").read_bytes())
    assert len(events) == 1
    event = events[0]
    assert event.tracking_number == "1106153417"
    assert event.status == Status.DELIVERED and event.raw_code == "DELIVERED"
    assert event.occurred_at.isoformat() == "2019-07-11T12:41:43+07:00"
    assert event.location == "Новосибирск"


def test_v2_webhook_fixture_with_reason_parses() -> None:
    adapter = Adapter(credentials={}, base_url="http://127.0.0.1:9/v2")
    event = adapter.parse_webhook({}, (FIXTURES / "webhook_order_status_v2.json").read_bytes())[0]
    assert (event.status, event.substatus, event.raw_code) == (
        Status.RETURNING,
        "storage_expired",
        "NOT_DELIVERED/23",
    )


def test_print_form_webhook_is_not_a_tracking_event() -> None:
    adapter = Adapter(credentials={}, base_url="http://127.0.0.1:9/v2")
    assert adapter.parse_webhook({}, (FIXTURES / "webhook_print_form_sdk.json").read_bytes()) == []


def test_sdk_tariff_fixture_parses() -> None:
    quote = Adapter.quote_from_tariff("139", json.loads((FIXTURES / "tariff_sdk.json").read_text()))
    assert quote.total == Decimal("1578.00")
    assert [line.amount for line in quote.lines] == [Decimal("1315.00"), Decimal("263.00")]


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"<xml/>",
        b'{"type":"ORDER_STATUS","attributes":[]}',
        b'{"type":"ORDER_STATUS","attributes":{"code":"DELIVERED"}}',
    ],
)
def test_broken_webhooks_are_clear_errors(body: bytes) -> None:
    adapter = Adapter(credentials={}, base_url="http://127.0.0.1:9/v2")
    with pytest.raises(CarrierError):
        adapter.parse_webhook({}, body)


# --- against the emulator ----------------------------------------------------------------


def test_token_is_fetched_once_and_reused(adapter: Adapter, emulator: Running) -> None:
    adapter.rate(parcel(service_code=""))
    adapter.pickup_points(city="Москва")
    assert emulator.app.token_requests == 1


def test_expired_token_is_refreshed_on_401(adapter: Adapter, emulator: Running) -> None:
    adapter.rate(parcel(service_code=""))
    control(emulator.url, "expire_tokens")
    assert adapter.rate(parcel(service_code=""))  # got a 401, fetched a new token, repeated
    assert emulator.app.token_requests == 2


def test_bad_credentials(emulator: Running) -> None:
    Adapter.tokens._local.clear()
    adapter = Adapter(
        credentials={"client_id": CLIENT_ID, "client_secret": "wrong"},
        base_url=f"{emulator.url}/v2",
        http=fast_client(),
    )
    with pytest.raises(AuthenticationFailed) as caught:
        adapter.test_connection()
    assert caught.value.code == "bad_credentials" and "Bad credentials" in str(caught.value)


def test_no_access_to_a_method(adapter: Adapter, emulator: Running) -> None:
    emulator.app.forbidden_paths.add("/v2/location/regions")
    with pytest.raises(AuthenticationFailed) as caught:
        adapter.test_connection()
    assert caught.value.code == "no_access" and "/location/regions" in str(caught.value)


def test_tariff_list_and_single_tariff(adapter: Adapter) -> None:
    quotes = adapter.rate(parcel(service_code=""))
    assert {"136", "139"} <= {q.service_code for q in quotes}
    assert all(isinstance(q.total, Decimal) for q in quotes)
    one = adapter.rate(parcel(service_code="136"))
    assert len(one) == 1 and one[0].lines[0].name == "Доставка"
    assert one[0].total == sum((line.amount for line in one[0].lines), Decimal("0"))


def test_create_track_and_deliver(adapter: Adapter, emulator: Running) -> None:
    result = adapter.create_parcels([cdek_parcel("SHOP-1")])
    assert not result.errors
    created = result.created[0]
    assert created.tracking_number.isdigit()
    control(emulator.url, "clock", advance_hours=50)
    track = adapter.track([created.tracking_number])
    assert [e.status for e in track.events] == [
        Status.INFO_RECEIVED,
        Status.INFO_RECEIVED,
        Status.ACCEPTED,
        Status.IN_TRANSIT,
        Status.ARRIVED_AT_PICKUP,
        Status.DELIVERED,
    ]
    assert track.events == tuple(sorted(track.events, key=lambda e: e.occurred_at))


def test_not_picked_up_comes_back_through_the_return_order(adapter: Adapter, emulator: Running) -> None:
    created = adapter.create_parcels([cdek_parcel("SHOP-2", "not_picked_up")]).created[0]
    control(emulator.url, "clock", advance_hours=24 * 14)
    events = adapter.track([created.tracking_number]).events
    assert any(e.substatus == "storage_expired" for e in events)
    assert events[-1].status == Status.RETURNED
    assert {e.tracking_number for e in events} == {created.tracking_number}


def test_validation_errors_in_cdek_shape_point_at_fields(adapter: Adapter) -> None:
    bad = parcel(
        "SHOP-3", service_code="136", weight_g=0, recipient=parcel().recipient.__class__(name="", phone="")
    )
    result = adapter.create_parcels([bad, cdek_parcel("SHOP-4")])
    assert [c.reference for c in result.created] == ["SHOP-4"]
    fields = {e.field for e in result.errors}
    assert {"recipient.name", "recipient.phones", "packages[0].weight"} <= fields
    assert all(e.code.startswith("v2_") for e in result.errors)


def test_duplicate_shop_number_is_refused(adapter: Adapter) -> None:
    adapter.create_parcels([cdek_parcel("SHOP-5")])
    result = adapter.create_parcels([cdek_parcel("SHOP-5")])
    assert result.errors[0].code == "v2_order_number_duplicate"


def test_non_numeric_tariff_is_an_item_error(adapter: Adapter) -> None:
    result = adapter.create_parcels([parcel("SHOP-6", service_code="standard")])
    assert result.errors[0].field == "service_code"


def test_cancel_before_and_after_acceptance(adapter: Adapter, emulator: Running) -> None:
    first = adapter.create_parcels([cdek_parcel("SHOP-7")]).created[0]
    assert adapter.cancel_parcels([first.carrier_id]) == []
    second = adapter.create_parcels([cdek_parcel("SHOP-8")]).created[0]
    control(emulator.url, "clock", advance_hours=5)
    errors = adapter.cancel_parcels([second.carrier_id, "no-such-uuid"])
    assert [e.code for e in errors] == ["v2_order_forbidden_to_delete", "v2_entity_not_found"]
    assert adapter.track([first.tracking_number]).events[-1].status == Status.CANCELLED


def test_barcode_labels_are_polled_then_downloaded(adapter: Adapter) -> None:
    created = adapter.create_parcels([cdek_parcel("SHOP-9"), cdek_parcel("SHOP-10")]).created
    document = adapter.labels([c.carrier_id for c in created])
    assert sorted(pdf_barcodes(document.content)) == sorted(c.tracking_number for c in created)
    waybill = adapter.waybills([created[0].carrier_id])
    assert waybill.content.startswith(b"%PDF")


def test_pickup_points_by_city_and_index(adapter: Adapter) -> None:
    moscow = adapter.pickup_points(city="Москва")
    assert {p.code for p in moscow} == {"MSK5", "MSK142"} and any(p.is_locker for p in moscow)
    assert [p.code for p in adapter.pickup_points(index="644099")] == ["OMS3"]
    assert adapter.pickup_points(city="Атлантида") == []


def test_rate_limit_on_create_is_reported(adapter: Adapter, emulator: Running) -> None:
    adapter.rate(parcel(service_code=""))  # the token first
    control(emulator.url, "fail", mode="rate_limit", count=1)
    with pytest.raises(RateLimited):
        adapter.create_parcels([cdek_parcel("SHOP-11")])


def test_outage_is_transient(adapter: Adapter, emulator: Running) -> None:
    adapter.rate(parcel(service_code=""))
    control(emulator.url, "fail", mode="outage", count=20)
    with pytest.raises(CarrierError) as caught:
        adapter.track(["1106000001"])
    assert caught.value.transient


@pytest.mark.parametrize("mode", ["html", "truncated"])
def test_malformed_answers(adapter: Adapter, emulator: Running, mode: str) -> None:
    adapter.rate(parcel(service_code=""))
    control(emulator.url, "fail", mode=mode, count=1)
    with pytest.raises(CarrierError) as caught:
        adapter.create_parcels([cdek_parcel("SHOP-12")])
    assert caught.value.code == "bad_response"


def test_slow_answer_beyond_timeout(emulator: Running) -> None:
    Adapter.tokens._local.clear()
    adapter = Adapter(
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        base_url=f"{emulator.url}/v2",
        http=fast_client(timeout=0.3, max_attempts=1),
    )
    control(emulator.url, "fail", mode="slow", count=1, seconds=1.0)
    with pytest.raises(CarrierError) as caught:
        adapter.test_connection()
    assert caught.value.code == "timeout"


def test_webhooks_posted_by_the_emulator_parse(adapter: Adapter, emulator: Running) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[bytes] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        adapter.subscribe_webhooks(f"http://127.0.0.1:{sink.server_address[1]}/hook")
        created = adapter.create_parcels([cdek_parcel("SHOP-13", "refused")]).created[0]
        control(emulator.url, "clock", advance_hours=24 * 7)
    finally:
        sink.shutdown()
    events = [e for body in received for e in adapter.parse_webhook({}, body)]
    assert {e.tracking_number for e in events} == {created.tracking_number}
    statuses_seen = [e.status for e in sorted(events, key=lambda e: e.occurred_at)]
    assert Status.REFUSED in statuses_seen and statuses_seen[-1] == Status.RETURNED


def test_cod_registry_round_trip(adapter: Adapter, emulator: Running) -> None:
    created = adapter.create_parcels([cdek_parcel("SHOP-14")]).created[0]
    control(emulator.url, "clock", advance_hours=24 * 6)
    info = adapter.order_info(created.carrier_id)
    paid_on = date.fromisoformat(info["entity"]["delivery_detail"]["date"]).toordinal() + 3
    report = adapter.registries(date.fromordinal(paid_on))
    assert Adapter.recognizes_payout_report("cdek.json", report[:200])
    lines = Adapter.parse_payout_report("cdek.json", report)
    assert [(ln.tracking_number, ln.cod_amount, ln.fee, ln.paid_amount) for ln in lines] == [
        (created.tracking_number, Decimal("1500.00"), Decimal("45.00"), Decimal("1455.00"))
    ]


# --- the published SDK against our emulator ----------------------------------------------


def test_published_cdek_sdk_works_against_the_emulator(emulator: Running) -> None:
    from cdek import CdekClient
    from cdek.apps.form.requests import PrintBarcodeRequest
    from cdek.apps.office import OfficeFilter
    from cdek.apps.order.requests import OrderRequest
    from cdek.apps.tariff.requests import TariffCodeRequest, TariffListRequest

    client = CdekClient(CLIENT_ID, CLIENT_SECRET)
    client.base_url = f"{emulator.url}/v2/"  # the SDK only knows the real hosts; nothing else changes

    order = OrderRequest.model_validate(
        {
            "number": "SDK-1",
            "tariff_code": 136,
            "comment": "scenario:delivered",
            "recipient": {
                "name": "Витька Балотоев",
                "email": "v@example.test",
                "phones": [{"number": "+79531234567"}],
            },
            "sender": {"name": "Иван Васильев", "phones": [{"number": "+79531234567"}]},
            "from_location": {"code": 270, "address": "Ленина 23-1"},
            "to_location": {"code": 137, "address": "Марата, 47-49"},
            "packages": [
                {
                    "number": "SDK-1",
                    "weight": 1000,
                    "length": 10,
                    "width": 11,
                    "height": 11,
                    "items": [
                        {
                            "name": "item name",
                            "ware_key": "YUQT23DA8734",
                            "payment": {"value": 0},
                            "cost": 0,
                            "weight": 100,
                            "amount": 10,
                        }
                    ],
                }
            ],
        }
    )
    created = client.order.create(order)
    order_uuid = created.get_entry_uuid()
    assert order_uuid and created.get_requests()[0].state == "ACCEPTED"

    info = client.order.get_by_uuid(order_uuid)
    number = info.entity.cdek_number
    assert number and info.entity.statuses[0].code in ("CREATED", "ACCEPTED")
    assert client.order.get_by_cdek_number(str(number)).entity.uuid == order_uuid

    tariffs = client.tariff.calc_list(
        TariffListRequest.model_validate(
            {"from_location": {"code": 270}, "to_location": {"code": 44}, "packages": [{"weight": 4000}]}
        )
    )
    assert any(t.tariff_code == 136 for t in tariffs.tariff_codes)
    tariff = client.tariff.calc(
        TariffCodeRequest.model_validate(
            {
                "tariff_code": 139,
                "from_location": {"code": 270},
                "to_location": {"code": 44},
                "packages": [{"weight": 4000}],
            }
        )
    )
    assert tariff.weight_calc == 4000 and tariff.total_sum >= tariff.delivery_sum

    offices = client.office.get(OfficeFilter(city_code=44))["result"]
    assert {o.code for o in offices} == {"MSK5", "MSK142"}

    job = client.barcode.set(PrintBarcodeRequest.model_validate({"orders": [{"order_uuid": order_uuid}]}))
    job_uuid = job.get_entry_uuid()
    client.barcode.get(job_uuid)
    client.barcode.get(job_uuid)
    pdf = client.barcode.get_pdf(job_uuid)
    assert pdf_barcodes(pdf) == [str(number)]

    deleted = client.order.delete(order_uuid)
    assert deleted.get_entry_uuid() == order_uuid


def test_published_sdk_sees_validation_errors(emulator: Running) -> None:
    from cdek import CdekClient
    from cdek.apps.order.requests import OrderRequest
    from cdek.exceptions import CdekRequestException

    client = CdekClient(CLIENT_ID, CLIENT_SECRET)
    client.base_url = f"{emulator.url}/v2/"
    bad = OrderRequest.model_validate(
        {
            "tariff_code": 136,
            "recipient": {"name": "Кто-то"},
            "to_location": {"code": 44, "address": "ул. Тверская, 1"},
            "packages": [{"number": "1", "weight": 500}],
        }
    )
    with pytest.raises(CdekRequestException) as caught:
        client.order.create(bad)
    assert "recipient.phones" in str(caught.value)


def test_published_sdk_rejects_bad_credentials(emulator: Running) -> None:
    from cdek import CdekClient
    from cdek.apps.office import OfficeFilter
    from cdek.exceptions import CdekAuthException

    client = CdekClient(CLIENT_ID, "nope")
    client.base_url = f"{emulator.url}/v2/"
    with pytest.raises(CdekAuthException):
        client.office.get(OfficeFilter(city_code=44))
