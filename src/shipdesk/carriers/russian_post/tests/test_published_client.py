"""Protocol fidelity: fs-pochta-api (a Russian Post client published on PyPI, requests + zeep)
drives the emulator unchanged — only its host constants point at 127.0.0.1."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import httpx
import pytest
import requests
from pochta import Delivery
from pochta.enums import AddressType, MailCategory, MailType
from pochta.exceptions import APIError
from pochta.helpers import Order
from pochta.tracking import BatchTracker, SingleTracker

from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.adapter import MSK
from shipdesk.carriers.russian_post.emulator import EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import Admin, free_port, make_adapter, parcel


def delivery(url: str, password: str = "test") -> Delivery:
    client = Delivery(login="test", password=password, access_token="test-token")
    client.API_URL = url
    return client


def order(num: str) -> Order:
    o = Order(
        mass=900,
        order_num=num,
        fragile=False,
        mail_category=MailCategory.ORDINARY,
        mail_type=MailType.POSTAL_PARCEL,
    )
    o.address_type_to = AddressType.DEFAULT
    o.index_to = 644015
    o.region_to = "Омская обл"
    o.place_to = "Омск"
    o.street_to = "ул. Ленина"
    o.house_to = "10"
    o.mail_direct = 643
    o.recipient_name = "Иванов Иван"
    o.given_name, o.surname = "Иван", "Иванов"
    return o


def test_published_client_runs_the_order_to_documents_flow(server: EmulatorServer) -> None:
    client = delivery(server.url)
    assert client.settings.user_settings()["login"] == "test"
    created = client.orders.create_order([order("P-1"), order("P-2")])
    assert len(created["result-ids"]) == 2
    batches = client.batches.create_batch(created["result-ids"], sending_date=datetime.now(MSK).date())
    [batch] = batches["batches"]
    rows = client.batches.get_batch_orders_info(batch["batch-name"])
    assert all(barcodes.is_valid(row["barcode"]) for row in rows)
    assert client.documents.checkin(batch["batch-name"]) == {"f103-sent": True}  # it sends GET
    archive = client.documents.create_all_docs(batch["batch-name"])
    assert "F103.pdf" in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()


def test_published_client_sees_our_auth_error(server: EmulatorServer) -> None:
    with pytest.raises(requests.HTTPError) as err:
        delivery(server.url, password="wrong").settings.user_settings()
    assert err.value.response.status_code == 401
    assert err.value.response.json()["sub-code"] == "INVALID_USER_CREDENTIALS"


Tracker = TypeVar("Tracker", SingleTracker, BatchTracker)


def tracker(cls: type[Tracker], wsdl_url: str) -> Tracker:
    """The published tracker with its WSDL constant pointed at the emulator for construction."""
    original = cls.WSDL
    cls.WSDL = wsdl_url
    try:
        return cls("test", "test", caching=False)
    finally:
        cls.WSDL = original


@contextmanager
def serving(command: list[str], probe_url: str) -> Iterator[httpx.Response]:
    """Starts ``command``, waits until ``probe_url`` answers, yields that answer, stops it."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                response = httpx.get(probe_url, timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield response
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_published_trackers_load_our_wsdl_and_read_events(server: EmulatorServer, admin: Admin) -> None:
    admin.clock(advance=20 * 86400)
    single = tracker(SingleTracker, f"{server.url}/rtm34?wsdl")
    history = single.get_history("80084740397510")
    assert history and history[0]["OperationParameters"]["OperType"]["Id"] == 1

    batch = tracker(BatchTracker, f"{server.url}/fc?wsdl")
    ticket = batch.get_ticket(["80084740397510", "10944022440321"])
    items = batch.get_response_by_ticket(ticket)
    assert [item["Barcode"] for item in items] == ["80084740397510", "10944022440321"]
    assert items[0]["Operation"][0]["OperTypeID"] == 1
    with pytest.raises(APIError, match="3000"):
        batch.get_ticket([barcodes.rp14_make(f"8008474{i:06d}") for i in range(3001)])


def test_published_single_tracker_reads_cod_events(server: EmulatorServer, admin: Admin) -> None:
    ours = make_adapter(server.url)
    [created] = ours.create_parcels(
        [parcel("Q-1", comment="scenario=delivered", cod_amount=Decimal("990"))]
    ).created
    batch = ours.create_batch([created.carrier_id], shipping_date=datetime.now(MSK).date())
    ours.close_batch(batch.batch_id)
    admin.clock(advance=10 * 86400)
    single = tracker(SingleTracker, f"{server.url}/rtm34?wsdl")
    events = single.get_order_events_for_mail(batch.tracking_numbers[created.carrier_id])
    assert [(e["EventType"], e["SumPaymentForward"]) for e in events] == [(1, 99000), (3, 99000)]
    assert single.get_order_events_for_mail("80084740397510") is None  # no COD: an empty output


def test_emulator_runs_as_a_module() -> None:
    port = free_port()
    command = [sys.executable, "-m", "shipdesk.carriers.russian_post.emulator", "--port", str(port)]
    with serving(command, f"http://127.0.0.1:{port}/fc?wsdl") as response:
        assert response.status_code == 200
        assert f"http://127.0.0.1:{port}/fc" in response.text


def test_shipdesk_emulate_command_keeps_serving() -> None:
    port = free_port()
    command = [sys.executable, "-m", "shipdesk.cli", "emulate", "russian_post", "--port", str(port)]
    with serving(command, f"http://127.0.0.1:{port}/1.0/settings") as response:
        assert response.status_code == 401  # it answers, and wants the Otpravka headers
        assert response.json()["sub-code"] == "INVALID_TOKEN"
