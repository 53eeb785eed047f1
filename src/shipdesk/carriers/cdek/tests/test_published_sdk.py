"""The published ``cdek`` SDK (a dev dependency) on the endpoints it offers beyond orders,
tariffs, offices and barcodes (those are in carriers/tests/test_cdek.py): directories,
webhooks, the tariff list, waybills, courier pick-ups. Only its base URL is changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, MSK, SHOP_TARIFFS
from shipdesk.carriers.emulation import Running
from shipdesk.carriers.tests.helpers import pdf_barcodes


@pytest.fixture
def client(emulator: Running) -> Any:
    from cdek import CdekClient

    sdk = CdekClient(CLIENT_ID, CLIENT_SECRET)
    sdk.base_url = f"{emulator.url}/v2/"
    return sdk


def test_sdk_directories(client: Any) -> None:
    from cdek.apps.location.filters import CityFilter, CityListFilter, RegionFilter

    regions = client.location.regions(RegionFilter(country_codes="RU", size=3, page=0))
    assert len(regions) == 3 and all(r.region_code for r in regions)
    assert client.location.regions(RegionFilter(size=3, page=100)) == []
    omsk = client.location.cities(CityListFilter(postal_code="644024"))
    assert [c.code for c in omsk] == [268] and omsk[0].region == "Омская обл."
    assert [c.code for c in client.location.city(CityFilter(name="Санкт"))] == [137]


def test_sdk_webhooks(client: Any) -> None:
    from cdek.apps.webhook.requests import WebhookRequest

    created = client.webhook.set(WebhookRequest.model_validate(
        {"type": "ORDER_STATUS", "url": "https://shop.example.test/cdek"}))
    hook_uuid = str(created.get_entry_uuid())
    assert str(client.webhook.get(hook_uuid).entity.uuid) == hook_uuid
    assert [str(h.uuid) for h in client.webhook.all()] == [hook_uuid]
    client.webhook.delete(hook_uuid)
    assert client.webhook.all() == []


def test_sdk_tariff_catalogue(client: Any) -> None:
    tariffs = client.tariff.all().tariff_codes
    names = {t.delivery_modes[0].tariff_code: t.tariff_name for t in tariffs}
    assert names[234] == "Экономичная посылка склад-склад" and set(SHOP_TARIFFS) <= set(names)


def _order(client: Any) -> str:
    from cdek.apps.order.requests import OrderRequest

    created = client.order.create(OrderRequest.model_validate({
        "number": "SDK-W", "tariff_code": 234,
        "recipient": {"name": "Витька Балотоев", "phones": [{"number": "+79531234567"}]},
        "from_location": {"code": 44, "address": "Ленина 23-1"},
        "to_location": {"code": 270, "address": "Марата, 47-49"},
        "packages": [{"number": "1", "weight": 1000}]}))
    return str(created.get_entry_uuid())


def test_sdk_waybill(client: Any) -> None:
    from cdek.apps.form.requests import PrintInvoiceRequest

    order_uuid = _order(client)
    number = str(client.order.get_by_uuid(order_uuid).entity.cdek_number)
    job = client.invoice.set(PrintInvoiceRequest.model_validate(
        {"orders": [{"order_uuid": order_uuid}], "copy_count": 2}))
    job_uuid = str(job.get_entry_uuid())
    client.invoice.get(job_uuid)
    assert client.invoice.get(job_uuid).entity.copy_count == 2
    assert pdf_barcodes(client.invoice.get_pdf(job_uuid)) == [number, number]


def test_sdk_courier_pick_up(client: Any, emulator: Running) -> None:
    from cdek.apps.intake.requests import IntakeRequest

    day = emulator.app.clock.now().astimezone(MSK).date() + timedelta(days=1)
    created = client.intake.create(IntakeRequest.model_validate({
        "intake_date": day, "intake_time_from": "10:00", "intake_time_to": "15:00",
        "name": "Консолидированный груз", "weight": 1000,
        "sender": {"name": "Петров Петр", "phones": [{"number": "+79589441654"}]},
        "from_location": {"address": "ул. Блюхера, 32", "code": 44}}))
    intake_uuid = str(created.get_entry_uuid())
    info = client.intake.get(intake_uuid)
    assert info.entity.intake_number and info.entity.statuses[0].code == "READY_FOR_APPOINTMENT"
    client.intake.delete(intake_uuid)
    assert client.intake.get(intake_uuid).entity.statuses[0].code == "REMOVED"
