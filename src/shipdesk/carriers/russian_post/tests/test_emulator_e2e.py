"""End to end: the adapter against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp

from shipdesk.carriers.base import Address, AuthenticationFailed, CarrierError, Party, RateLimited
from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.adapter import MSK, Adapter
from shipdesk.carriers.russian_post.emulator import EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import (
    Admin,
    free_port,
    make_adapter,
    parcel,
    start_emulator,
)
from shipdesk.tracking.statuses import Status

DAY = 86400


def today() -> datetime:
    return datetime.now(MSK)


def decode_pdf_barcodes(pdf: bytes) -> list[str]:
    doc = pypdfium2.PdfDocument(pdf)
    found = []
    for page in doc:
        image = page.render(scale=4).to_pil()
        found.extend(r.text for r in zxingcpp.read_barcodes(image))
    return found


def ship(adapter: Adapter, *parcels_: object) -> tuple[str, dict[str, str]]:
    created = adapter.create_parcels(list(parcels_))  # type: ignore[arg-type]
    assert created.errors == ()
    ids = [c.carrier_id for c in created.created]
    batch = adapter.create_batch(ids, shipping_date=today().date())
    adapter.close_batch(batch.batch_id)
    refs = {c.carrier_id: c.reference for c in created.created}
    return batch.batch_id, {refs[cid]: number for cid, number in batch.tracking_numbers.items()}


# -- account ----------------------------------------------------------------------------------------
def test_connection_succeeds_with_good_credentials(adapter: Adapter) -> None:
    adapter.test_connection()
    allowed, used = adapter.request_limit()
    assert allowed > 0 and used >= 1


def test_wrong_token_is_reported_as_a_bad_token(server: EmulatorServer) -> None:
    with pytest.raises(AuthenticationFailed, match="токен приложения"):
        make_adapter(server.url, token="wrong").test_connection()


def test_wrong_password_is_reported_as_bad_login(server: EmulatorServer) -> None:
    with pytest.raises(AuthenticationFailed, match="логин или пароль"):
        make_adapter(server.url, password="wrong").test_connection()


def test_no_access_to_a_method_is_reported_as_such(adapter: Adapter, admin: Admin) -> None:
    admin.config(forbidden=["/1.0/settings"])
    with pytest.raises(AuthenticationFailed, match="Нет доступа к этому методу") as err:
        adapter.test_connection()
    assert err.value.code == "ACCESS_VIOLATION" and err.value.status == 403


# -- rate -------------------------------------------------------------------------------------------
def test_rate_end_to_end(adapter: Adapter) -> None:
    [quote] = adapter.rate(parcel(weight_g=1200, declared_value=Decimal("1000"), options={"fragile": True}))
    # emulator tariff: 16500 + 2·4500 ground, 4 % of 100000 insurance, 30 % fragile; VAT 20 % of the total
    assert quote.total == Decimal("371.50") + Decimal("74.30")  # 25500 + 4000 + 7650 kopecks, + 20 %
    assert quote.days_min == 2 and quote.days_max == 5
    assert [(line.name, line.amount) for line in quote.lines] == [
        ("Пересылка", Decimal("255.00")),
        ("Плата за объявленную ценность", Decimal("40.00")),
        ("Отметка «Осторожно»", Decimal("76.50")),
        ("НДС 20 %", Decimal("74.30")),  # the total's VAT (the parts' own VAT omit insurance's)
    ]
    assert sum(line.amount for line in quote.lines) == quote.total


def test_rate_from_an_office_not_in_the_contract_is_refused(server: EmulatorServer, admin: Admin) -> None:
    admin.config(shipping_points=["101000", "109440"])
    adapter = make_adapter(server.url, index_from="190000")
    with pytest.raises(CarrierError) as err:
        adapter.rate(parcel())
    assert err.value.code == "ILLEGAL_POSTOFFICE_CODE"
    assert not err.value.transient
    result = adapter.create_parcels([parcel("O-1")])
    assert [(e.code, e.field) for e in result.errors] == [("ILLEGAL_POSTOFFICE_CODE", "sender.address.index")]


# -- orders -----------------------------------------------------------------------------------------
def test_create_reports_each_bad_parcel_with_its_field(adapter: Adapter) -> None:
    no_index = parcel(
        "B-2",
        recipient=Party(
            name="Петров", phone="+79001112233", address=Address(region="Омская обл", city="Омск")
        ),
    )
    cod_over_value = parcel("B-3", declared_value=Decimal("100"), cod_amount=Decimal("500"))
    heavy = parcel("B-4", weight_g=25_000)
    result = adapter.create_parcels([parcel("B-1"), no_index, cod_over_value, heavy])
    assert [c.reference for c in result.created] == ["B-1"]
    assert {(e.reference, e.code, e.field) for e in result.errors} == {
        ("B-2", "EMPTY_INDEX_TO", "recipient.address.index"),
        ("B-3", "NOT_INSURED_PAYMENT", "cod_amount"),
        ("B-4", "ILLEGAL_MASS_EXCESS", "weight_g"),
    }


def test_cancel_deletes_new_orders_and_reports_unknown_ones(adapter: Adapter) -> None:
    created = adapter.create_parcels([parcel("C-1")]).created
    errors = adapter.cancel_parcels([created[0].carrier_id, "999"])
    assert [(e.reference, e.code) for e in errors] == [("999", "NOT_FOUND")]
    assert adapter.cancel_parcels([created[0].carrier_id])[0].code == "NOT_FOUND"


# -- batches and documents --------------------------------------------------------------------------
def test_batch_assigns_valid_barcodes_and_prints_documents(adapter: Adapter) -> None:
    created = adapter.create_parcels([parcel("D-1"), parcel("D-2")]).created
    ids = [c.carrier_id for c in created]
    batch = adapter.create_batch(ids, shipping_date=today().date())
    assert batch.errors == ()
    assert sorted(batch.carrier_ids) == sorted(ids)
    assert set(batch.tracking_numbers) == set(ids)
    assert all(barcodes.is_valid(n) and len(n) == 14 for n in batch.tracking_numbers.values())

    adapter.close_batch(batch.batch_id)
    with pytest.raises(CarrierError, match="уже отправлена"):
        adapter.close_batch(batch.batch_id)

    docs = adapter.batch_documents(batch.batch_id)
    assert docs.content_type == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(docs.content)).namelist()
    assert "F103.pdf" in names and "Export.csv" in names

    label = adapter.labels([ids[0]])
    assert label.content_type == "application/pdf"
    assert decode_pdf_barcodes(label.content) == [batch.tracking_numbers[ids[0]]]


def test_batch_for_unknown_orders_and_past_date_is_refused(adapter: Adapter) -> None:
    result = adapter.create_batch(["12345"], shipping_date=today().date())
    assert [(e.reference, e.code) for e in result.errors] == [("12345", "NOT_FOUND")]
    created = adapter.create_parcels([parcel("E-1")]).created
    past = adapter.create_batch([created[0].carrier_id], shipping_date=today().date().replace(year=2020))
    assert [e.code for e in past.errors] == ["PAST_DUE_DATE"]


# -- tracking ---------------------------------------------------------------------------------------
def test_batch_tracking_follows_each_scenario_on_the_clock(adapter: Adapter, admin: Admin) -> None:
    scenarios = ["delivered", "not_picked_up", "lost", "stuck", "customs", "partial_refusal"]
    _, numbers = ship(adapter, *[parcel(s, comment=f"scenario={s}") for s in scenarios])
    before = adapter.track(list(numbers.values()))
    assert before.events == ()
    assert set(before.errors) == set(numbers.values())

    admin.clock(advance=60 * DAY)
    result = adapter.track(list(numbers.values()))
    assert result.errors == {}
    last = {}
    for event in sorted(result.events, key=lambda e: e.occurred_at):
        assert event.status is not None
        last[event.tracking_number] = (event.status, event.substatus)
    assert last == {
        numbers["delivered"]: (Status.DELIVERED, "delivered"),
        numbers["not_picked_up"]: (Status.RETURNED, "returned_to_sender"),
        numbers["lost"]: (Status.LOST, "lost"),
        numbers["stuck"]: (Status.IN_TRANSIT, "processing_3"),
        numbers["customs"]: (Status.CUSTOMS, "customs_hold_1054"),
        numbers["partial_refusal"]: (Status.DELIVERED, "partial"),
    }
    not_picked = [e.raw_code for e in result.events if e.tracking_number == numbers["not_picked_up"]]
    assert "8.40" in not_picked and "3.1" in not_picked


def test_events_advance_with_the_clock(adapter: Adapter, admin: Admin) -> None:
    _, numbers = ship(adapter, parcel("F-1", comment="scenario=delivered"))
    admin.clock(advance=1 * DAY)
    first = adapter.track(list(numbers.values()))
    admin.clock(advance=5 * DAY)
    later = adapter.track(list(numbers.values()))
    assert Status.DELIVERED not in {e.status for e in first.events}
    assert len(later.events) > len(first.events)
    assert later.events[-1].status == Status.DELIVERED


def test_single_tracking_reads_the_history(server: EmulatorServer, admin: Admin) -> None:
    adapter = make_adapter(server.url, tracking_mode="single")
    _, numbers = ship(adapter, parcel("G-1", comment="scenario=delivered"))
    admin.clock(advance=10 * DAY)
    result = adapter.track([numbers["G-1"]])
    assert [e.raw_code for e in result.events][:2] == ["1.2", "8.1"]
    assert result.events[-1].status == Status.DELIVERED
    assert result.events[-1].office_index == "644015"


def test_single_tracking_daily_limit_is_a_rate_limit(server: EmulatorServer, admin: Admin) -> None:
    admin.config(single_tracking_daily_limit=1)
    adapter = make_adapter(server.url, tracking_mode="single")
    admin.clock(advance=20 * DAY)
    partial = adapter.track(["80084740397510", "10944022440321"])  # the 2nd call is over the limit
    assert {e.tracking_number for e in partial.events} == {"80084740397510"}
    assert "лимит" in partial.errors["10944022440321"]
    with pytest.raises(RateLimited):
        adapter.track(["80084740397510"])


def test_ticket_not_ready_is_none_then_the_answer(adapter: Adapter, admin: Admin) -> None:
    admin.config(ticket_delay_seconds=900)
    ticket = adapter.request_ticket(["80084740397510"])
    assert adapter.fetch_ticket(ticket) is None
    result = adapter.track(["80084740397510"])
    assert "ещё не готов" in result.errors["80084740397510"]
    admin.clock(advance=901)
    answer = adapter.fetch_ticket(ticket)
    assert answer is not None and answer.events


def test_wrong_tracking_password_is_authentication_failed(server: EmulatorServer) -> None:
    adapter = make_adapter(server.url)
    adapter.credentials["tracking_password"] = "nope"
    with pytest.raises(AuthenticationFailed):
        adapter.track(["80084740397510", "10944022440321"])
    adapter.settings["tracking_mode"] = "single"
    with pytest.raises(AuthenticationFailed):
        adapter.track(["80084740397510"])


def test_more_than_3000_numbers_per_ticket_is_refused_before_sending(adapter: Adapter) -> None:
    numbers = [barcodes.rp14_make(f"8008474{i:06d}") for i in range(3001)]
    with pytest.raises(CarrierError, match="3000"):
        adapter.request_ticket(numbers)
    result = adapter.track(numbers)  # track() splits into tickets of 3000
    assert len({e.tracking_number for e in result.events} | set(result.errors)) == 3001


# -- limits -----------------------------------------------------------------------------------------
def test_requests_over_the_per_second_limit_get_429(adapter: Adapter, admin: Admin) -> None:
    admin.config(rate_per_second=2)
    with pytest.raises(RateLimited) as err:
        for _ in range(5):
            adapter.test_connection()
    assert err.value.retry_after == 1.0


def test_daily_quota_exhausted_is_a_rate_limit(adapter: Adapter, admin: Admin) -> None:
    admin.config(daily_limit=2)
    adapter.test_connection()
    adapter.test_connection()
    with pytest.raises(RateLimited, match="суточный лимит"):
        adapter.test_connection()


# -- outages ----------------------------------------------------------------------------------------
def test_server_down_is_a_transient_error() -> None:
    srv = start_emulator()
    url = srv.url
    srv.shutdown()
    with pytest.raises(CarrierError) as err:
        make_adapter(url).test_connection()
    assert err.value.code == "unavailable" and err.value.transient


@pytest.mark.parametrize(
    ("fault", "code", "match"),
    [
        ({"mode": "html", "status": 502}, "server_error", "HTML-страницу"),
        ({"mode": "status", "status": 503}, "server_error", "HTTP 503"),
        ({"mode": "truncated"}, "bad_response", "повреждённый JSON"),
    ],
)
def test_otpravka_outages_are_clear_transient_errors(
    adapter: Adapter, admin: Admin, fault: dict[str, object], code: str, match: str
) -> None:
    admin.fault(**fault)
    with pytest.raises(CarrierError, match=match) as err:
        adapter.create_parcels([parcel("H-1")])
    assert err.value.code == code and err.value.transient
    assert adapter.create_parcels([parcel("H-2")]).created  # the next call works again


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ({"mode": "soap_fault"}, "ошибку SOAP"),
        ({"mode": "truncated"}, "повреждённый XML"),
        ({"mode": "html", "status": 502}, "HTML-страницу"),
    ],
)
def test_tracking_outages_are_clear_errors(
    adapter: Adapter, admin: Admin, fault: dict[str, object], match: str
) -> None:
    admin.fault(**fault)
    with pytest.raises(CarrierError, match=match):
        adapter.track(["80084740397510", "10944022440321"])


def test_slow_response_beyond_the_timeout_is_a_timeout(server: EmulatorServer, admin: Admin) -> None:
    admin.fault(mode="slow", delay=1.5)
    with pytest.raises(CarrierError) as err:
        make_adapter(server.url, timeout=0.3).test_connection()
    assert err.value.code == "timeout" and err.value.transient


def test_address_normalisation_end_to_end(adapter: Adapter) -> None:
    good, bad = adapter.normalize_addresses(["644015, Омск, ул. Ленина, 10", "где-то"])
    assert good.good and good.address.index == "644015"
    assert not bad.good


def test_an_injected_test_clock_may_run_faster_than_real_time() -> None:
    """A test hook only: served, the emulator runs on the real clock (test_demo_pace.py)."""
    from datetime import UTC, timedelta

    from shipdesk.carriers.russian_post import emulator

    real = [datetime(2026, 1, 1, tzinfo=UTC)]
    srv = emulator.serve("127.0.0.1", free_port(), now=lambda: real[0], speed=360)
    try:
        start = srv.state.clock()
        real[0] += timedelta(seconds=10)
        assert srv.state.clock() - start == timedelta(hours=1)
    finally:
        srv.shutdown()


def test_cod_transfer_is_accepted_then_paid_out(adapter: Adapter, admin: Admin) -> None:
    _, numbers = ship(adapter, parcel("K-1", comment="scenario=delivered", cod_amount=Decimal("1234.50")))
    number = numbers["K-1"]
    assert adapter.cod_events(number) == []
    admin.clock(advance=5 * DAY)  # delivered (84 h after acceptance), transfer accepted
    [accepted] = adapter.cod_events(number)
    assert (accepted.event_type, accepted.amount, accepted.paid_out) == (1, Decimal("1234.50"), False)
    admin.clock(advance=5 * DAY)
    events = adapter.cod_events(number)
    assert [e.event_type for e in events] == [1, 3]
    assert events[1].paid_out and events[1].occurred_at > events[0].occurred_at
    assert events[1].occurred_at.tzinfo is not None


def test_lost_create_answer_is_reconciled_by_order_number(adapter: Adapter, admin: Admin) -> None:
    admin.fault(mode="slow", delay=1.0)  # the orders get created, the answer comes too late
    slow = make_adapter(adapter.base_url, timeout=0.3)
    with pytest.raises(CarrierError) as err:
        slow.create_parcels([parcel("L-1")])
    assert err.value.code == "timeout"
    found_orders = adapter.find_orders("L-1")
    for _ in range(50):  # the server finishes the late request on its own time
        if found_orders:
            break
        time.sleep(0.1)
        found_orders = adapter.find_orders("L-1")
    [found] = found_orders
    assert found.reference == "L-1" and found.carrier_id
    assert adapter.find_orders("L-404") == []


def test_f103_lists_every_parcel_of_the_batch(adapter: Adapter) -> None:
    from pypdf import PdfReader

    batch_id, numbers = ship(adapter, parcel("M-1"), parcel("M-2"))
    pdf = adapter.f103(batch_id)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "ф.103" in text
    for number in numbers.values():
        assert number in text
    assert "Всего отправлений: 2" in text
