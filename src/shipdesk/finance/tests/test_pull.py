"""CDEK's payment registries pulled through its API (the emulator's ``/v2/registries``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.carriers.cdek.adapter import Adapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.tests.helpers import control, fast_client, parcel
from shipdesk.finance import ledger, services
from shipdesk.finance.models import ReportStatus
from shipdesk.finance.tests.conftest import make_shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def emulator() -> Iterator[Running]:
    running = start(CdekEmulator())
    yield running
    running.stop()


def test_cdek_registries_pulled_matched_and_posted_once(emulator: Running, actor: Any,
                                                         org: Any) -> None:
    Adapter.tokens._local.clear()
    adapter = Adapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                      base_url=f"{emulator.url}/v2", http=fast_client())
    created = adapter.create_parcels([parcel("SHOP-14", service_code="136",
                                             comment="scenario:delivered")]).created[0]
    control(emulator.url, "clock", advance_hours=24 * 6)
    info = adapter.order_info(created.carrier_id)
    paid_on = date.fromordinal(
        date.fromisoformat(info["entity"]["delivery_detail"]["date"]).toordinal() + 3)
    account = CarrierAccount.objects.create(
        organization=org, carrier_code="cdek", name="СДЭК", base_url=f"{emulator.url}/v2",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    s = make_shipment(org, tracking=created.tracking_number, order="SHOP-14", cod="1500",
                      account=account)
    result = services.report_pull(actor=actor, carrier_account_id=account.pk, day=paid_on)
    assert result.created and result.report.status == ReportStatus.POSTED
    assert result.counts == {"matched": 1}
    assert ledger.balances(org.pk, shipment_id=s.pk) == {
        "51": Decimal("1455.00"), "44": Decimal("45.00"), "90.1": Decimal("-1500.00")}
    again = services.report_pull(actor=actor, carrier_account_id=account.pk, day=paid_on)
    assert not again.created
    assert ledger.balances(org.pk, shipment_id=s.pk)["51"] == Decimal("1455.00")


def test_registries_pulled_every_day_as_due_work(emulator: Running, actor: Any, org: Any
                                                 ) -> None:
    import datetime as dt

    from django.utils import timezone

    from shipdesk.core import duework
    from shipdesk.finance.models import PayoutReport

    Adapter.tokens._local.clear()
    adapter = Adapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                      base_url=f"{emulator.url}/v2", http=fast_client())
    created = adapter.create_parcels([parcel("SHOP-15", service_code="136",
                                             comment="scenario:delivered")]).created[0]
    control(emulator.url, "clock", advance_hours=24 * 6)
    info = adapter.order_info(created.carrier_id)
    paid_on = date.fromordinal(
        date.fromisoformat(info["entity"]["delivery_detail"]["date"]).toordinal() + 3)
    account = CarrierAccount.objects.create(
        organization=org, carrier_code="cdek", name="СДЭК", base_url=f"{emulator.url}/v2",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    s = make_shipment(org, tracking=created.tracking_number, order="SHOP-15", cod="1500",
                      account=account)
    terms = services.terms_set(actor=actor, carrier_account_id=account.pk, pull_registries=True)
    now = timezone.now()
    assert terms.pk in duework.claim_due(duework.registered()["finance.registries"], now=now,
                                         limit=10)
    # the day after the payout: yesterday's registries are taken, the next pull a day later
    morning = dt.datetime.combine(paid_on + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC)
    services.registries_pull_due(terms_id=terms.pk, now=morning)
    report = PayoutReport.objects.get(organization=org, source="api")
    assert report.status == ReportStatus.POSTED
    assert ledger.balances(org.pk, shipment_id=s.pk)["51"] == Decimal("1455.00")
    terms.refresh_from_db()
    assert terms.pull_due_at == morning + dt.timedelta(days=1) and terms.pull_error == ""
    services.registries_pull_due(terms_id=terms.pk, now=morning)  # again: nothing new
    assert ledger.balances(org.pk, shipment_id=s.pk)["51"] == Decimal("1455.00")


def test_pull_now_is_offered_only_for_carriers_whose_api_gives_registries(
        web: Any, api: Any, carrier_account: Any) -> None:
    cdek, post = carrier_account("cdek"), carrier_account("russian_post")
    page = web.get("/finance/settings/").content.decode()
    cdek_card = page.split(f'id="terms-{cdek.pk}"')[1].split("</section>")[0]
    post_card = page.split(f'id="terms-{post.pk}"')[1].split("</section>")[0]
    assert "Забрать реестры выплат за вчера сейчас" in cdek_card
    assert f'action="/finance/settings/{cdek.pk}/pull/"' in cdek_card
    assert "Забрать реестры выплат за вчера сейчас" not in post_card
    assert "приходят файлами" in post_card
    # nor is the daily pull: no such box on the card, and the API refuses it at its field
    assert "pull_registries" in cdek_card and "pull_registries" not in post_card
    refused = api.put(f"/api/v1/finance/terms/{post.pk}/", {"pull_registries": True},
                      content_type="application/json")
    assert refused.status_code == 422, refused.content
    assert "не отдаёт реестры выплат через API" in refused.content.decode()
    assert refused.json()["errors"][0]["loc"][-1] == "pull_registries"
    # the address itself still answers in words, not with an error page
    answer = web.post(f"/finance/settings/{post.pk}/pull/", follow=True)
    assert "не отдаёт отчёты о выплатах через API" in answer.content.decode()
