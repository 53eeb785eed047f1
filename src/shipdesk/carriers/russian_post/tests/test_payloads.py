"""Request built / response parsed / error parsed, on restated public payloads (no server: a recorded
answer is handed to the adapter through httpx's mock transport, the request it sent is inspected)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from shipdesk.carriers.base import AuthenticationFailed, CarrierError
from shipdesk.carriers.russian_post.adapter import Adapter
from shipdesk.carriers.russian_post.tests.conftest import parcel
from shipdesk.tracking.statuses import Status

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class Recorder:
    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.body, self.content_type = status, body, content_type

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, content=self.body, headers={"Content-Type": self.content_type})


def adapter_with(handler: Callable[[httpx.Request], httpx.Response]) -> Adapter:
    return Adapter(
        credentials={"token": "tok-123", "login": "shop@example.test", "password": "secret"},
        base_url="https://otpravka-api.pochta.ru",
        settings={"index_from": "109440", "tracking_url": "https://tracking.russianpost.ru"},
        http=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def json_recorder(name: str, status: int = 200) -> Recorder:
    return Recorder(status, fixture(name), "application/json;charset=UTF-8")


# -- auth headers -----------------------------------------------------------------------------------
def test_every_otpravka_request_carries_both_authorization_headers() -> None:
    rec = json_recorder("otpravka_tariff.json")
    adapter_with(rec).rate(parcel())
    headers = rec.requests[0].headers
    assert headers["Authorization"] == "AccessToken tok-123"
    assert (
        headers["X-User-Authorization"] == "Basic " + base64.b64encode(b"shop@example.test:secret").decode()
    )


def test_auth_error_payload_becomes_authentication_failed_in_russian() -> None:
    rec = json_recorder("otpravka_auth_error.json", status=401)
    with pytest.raises(AuthenticationFailed, match="токен приложения"):
        adapter_with(rec).test_connection()


# -- tariff -----------------------------------------------------------------------------------------
def test_tariff_request_is_kebab_case_in_kopecks_and_grams() -> None:
    rec = json_recorder("otpravka_tariff.json")
    adapter_with(rec).rate(parcel(weight_g=1000))
    request = rec.requests[0]
    assert (request.method, request.url.path) == ("POST", "/1.0/tariff")
    body = json.loads(request.content)
    assert body["index-from"] == "109440"
    assert body["index-to"] == "644015"
    assert body["mass"] == 1000
    assert body["declared-value"] == 150000
    assert body["mail-type"] == "POSTAL_PARCEL"
    assert body["mail-category"] == "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY"
    assert body["fragile"] is True


def test_published_tariff_sample_parses_to_rubles_with_vat() -> None:
    quotes = adapter_with(json_recorder("otpravka_tariff.json")).rate(parcel())
    assert len(quotes) == 1
    quote = quotes[0]
    assert quote.total == Decimal("367.90")  # 30658 + 6132 kopecks
    # parts without VAT; the sample itemises a fragile mark its total-rate leaves out, so an
    # explicit line closes the gap; the VAT on its own line: they add up to the total
    assert [(line.name, line.amount) for line in quote.lines] == [
        ("Пересылка", Decimal("306.58")),
        ("Отметка «Осторожно»", Decimal("70.75")),
        ("Поправка до итога перевозчика", Decimal("-70.75")),
        ("НДС 20 %", Decimal("61.32")),
    ]
    assert sum(line.amount for line in quote.lines) == quote.total
    assert (quote.days_min, quote.days_max) == (1, 3)
    assert quote.service_name == "Посылка нестандартная"


# -- orders -----------------------------------------------------------------------------------------
def test_order_request_has_the_otpravka_fields() -> None:
    order = adapter_with(json_recorder("otpravka_tariff.json")).build_order(parcel())
    assert order["order-num"] == "A-1"
    assert order["mail-direct"] == 643
    assert order["index-to"] == 644015
    assert order["place-to"] == "Омск"
    assert order["room-to"] == "5"
    assert order["tel-address"] == 79001234567
    assert order["insr-value"] == 150000
    assert order["payment"] == 150000
    assert order["postoffice-code"] == "109440"
    assert order["fragile"] is True
    assert order["goods"]["items"][0] == {
        "description": "Книга",
        "quantity": 2,
        "value": 75000,
        "vat-rate": -1,
        "weight": 500,
    }


def test_partial_create_response_maps_errors_to_the_parcel_and_field() -> None:
    rec = json_recorder("otpravka_backlog_partial.json")
    result = adapter_with(rec).create_parcels([parcel("A-1"), parcel("A-2")])
    assert [(c.reference, c.carrier_id) for c in result.created] == [("A-1", "415151263")]
    assert [(e.reference, e.code, e.field) for e in result.errors] == [
        ("A-2", "EMPTY_INDEX_TO", "recipient.address.index"),
        ("A-2", "NOT_INSURED_PAYMENT", "cod_amount"),
    ]
    assert result.errors[1].message == "Наложенный платёж больше объявленной ценности"
    assert rec.requests[0].method == "PUT"
    assert rec.requests[0].url.path == "/1.0/user/backlog"


def test_create_response_with_mismatched_ids_is_a_clear_error() -> None:
    rec = Recorder(200, b'{"result-ids": []}', "application/json")
    with pytest.raises(CarrierError, match="идентификаторов"):
        adapter_with(rec).create_parcels([parcel("A-1")])


def test_delete_errors_point_at_the_order() -> None:
    rec = json_recorder("otpravka_delete_errors.json")
    errors = adapter_with(rec).cancel_parcels(["415151263", "415151264"])
    assert [(e.reference, e.code) for e in errors] == [("415151264", "NOT_FOUND")]
    assert rec.requests[0].method == "DELETE"
    assert json.loads(rec.requests[0].content) == [415151263, 415151264]


def test_clean_address_sample_is_good_enough_to_ship() -> None:
    rec = json_recorder("otpravka_clean_address.json")
    [result] = adapter_with(rec).normalize_addresses(["Москва, Варшавское шоссе, 37"])
    assert result.good
    assert (result.address.index, result.address.street, result.address.house) == (
        "115127",
        "ш Варшавское",
        "37",
    )
    assert json.loads(rec.requests[0].content) == [
        {"id": "0", "original-address": "Москва, Варшавское шоссе, 37"}
    ]


# -- tracking ---------------------------------------------------------------------------------------
def test_single_history_request_is_soap12_with_the_auth_block() -> None:
    rec = Recorder(200, fixture("tracking_rtm34_history.xml"), "application/soap+xml;charset=UTF-8")
    a = adapter_with(rec)
    a.credentials.update(tracking_login="trk", tracking_password="pw")
    a.track_single("10944022440321")
    request = rec.requests[0]
    assert str(request.url) == "https://tracking.russianpost.ru/rtm34"
    assert request.headers["Content-Type"].startswith("application/soap+xml")
    root = etree.fromstring(request.content)
    data = "{http://russianpost.org/operationhistory/data}"
    call = root.find(".//{http://russianpost.org/operationhistory}getOperationHistory")
    assert call is not None
    assert call.findtext(f"{data}OperationHistoryRequest/{data}Barcode") == "10944022440321"
    assert call.findtext(f"{data}OperationHistoryRequest/{data}MessageType") == "0"
    assert call.findtext(f"{data}AuthorizationHeader/{data}login") == "trk"
    assert call.findtext(f"{data}AuthorizationHeader/{data}password") == "pw"


def test_single_history_sample_parses_with_statuses_and_utc_times() -> None:
    rec = Recorder(200, fixture("tracking_rtm34_history.xml"), "application/soap+xml;charset=UTF-8")
    events = adapter_with(rec).track_single("10944022440321")
    assert [(e.raw_code, e.status) for e in events] == [
        ("1.2", Status.ACCEPTED),
        ("8.2", Status.ARRIVED_AT_PICKUP),
        ("8.77", None),
    ]
    assert events[0].occurred_at == datetime(2015, 7, 9, 15, 8, tzinfo=UTC)
    assert events[1].occurred_at == datetime(2015, 7, 12, 3, 41, tzinfo=UTC)
    assert events[0].office_index == "109440"
    assert events[0].raw_text == "Прием: Партионный"


def test_ticket_request_lists_the_barcodes() -> None:
    rec = Recorder(200, fixture("tracking_fc_ticket.xml"), "text/xml;charset=UTF-8")
    ticket = adapter_with(rec).request_ticket(["80084740397510", "29014562148754"])
    assert ticket == "20150917162048476CLIENTID"
    body = rec.requests[0].content.decode()
    assert 'Barcode="80084740397510"' in body and 'Barcode="29014562148754"' in body
    assert rec.requests[0].headers["SOAPAction"] == '"getTicket"'


def test_ticket_answer_sample_parses_events_and_per_item_errors() -> None:
    rec = Recorder(200, fixture("tracking_fc_answer.xml"), "text/xml;charset=UTF-8")
    result = adapter_with(rec).fetch_ticket("20150917162048476CLIENTID")
    assert result is not None
    assert [(e.tracking_number, e.raw_code, e.status) for e in result.events] == [
        ("80084740397510", "1.1", Status.ACCEPTED),
        ("80084740397510", "8.2", Status.ARRIVED_AT_PICKUP),
        ("80084740397510", "2.1", Status.DELIVERED),
    ]
    assert result.events[2].occurred_at == datetime(2015, 9, 17, 12, 30, tzinfo=UTC)  # Moscow time → UTC
    assert result.errors == {"29014562148754": "Отсутствуют данные для указанного идентификатора"}


@pytest.mark.parametrize(
    ("body", "content_type", "match"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "text/html", "HTML"),
        (
            b'<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Bo',
            "text/xml",
            "повреждённый XML",
        ),
    ],
)
def test_broken_tracking_answers_are_clear_errors(body: bytes, content_type: str, match: str) -> None:
    rec = Recorder(200, body, content_type)
    with pytest.raises(CarrierError, match=match):
        adapter_with(rec).fetch_ticket("T")


def test_invalid_numbers_are_reported_not_sent() -> None:
    calls: list[Any] = []
    result = adapter_with(lambda r: calls.append(r) or httpx.Response(500)).track(["123", "RA644000001RU"])
    assert calls == []
    assert set(result.errors) == {"123", "RA644000001RU"}
