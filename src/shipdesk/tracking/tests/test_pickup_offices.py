from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command

from shipdesk.carriers.cdek.adapter import Adapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.models import CarrierAccount
from shipdesk.tracking.models import PickupOffice
from shipdesk.tracking.services import tracking_pickup_offices_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def cdek() -> Iterator[Running]:
    Adapter.tokens._local.clear()
    running = start(CdekEmulator())
    yield running
    running.stop()


def _account(org, url: str, **kw) -> CarrierAccount:
    return CarrierAccount.objects.create(
        organization=org, carrier_code="cdek", name="СДЭК", base_url=f"{url}/v2",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, **kw)


def test_cdek_pickup_points_land_in_the_office_directory_with_address_and_hours(org, cdek):
    _account(org, cdek.url)
    PickupOffice.objects.create(carrier_code="cdek", code="MSK5", address="старый адрес")
    assert tracking_pickup_offices_sync() == 4
    offices = {o.code: o for o in PickupOffice.objects.filter(carrier_code="cdek")}
    assert set(offices) == {"MSK5", "MSK142", "SPB12", "OMS3"}
    assert "Большая Дмитровка, 7/5" in offices["MSK5"].address  # refreshed, not duplicated
    assert offices["MSK5"].work_hours == "Пн-Вс 09:00-21:00"
    assert tracking_pickup_offices_sync() == 4
    assert PickupOffice.objects.filter(carrier_code="cdek").count() == 4


def test_a_carrier_is_asked_once_and_a_failing_account_is_skipped(org, other_org, cdek):
    _account(org, "http://127.0.0.1:9")  # nothing listens there
    _account(other_org, cdek.url)
    assert tracking_pickup_offices_sync() == 4
    assert cdek.app.token_requests == 1


def test_inactive_accounts_are_not_asked(org, cdek):
    _account(org, cdek.url, is_active=False)
    assert tracking_pickup_offices_sync() == 0
    assert not PickupOffice.objects.exists()


def test_management_command_loads_the_points(org, cdek):
    account = _account(org, cdek.url)
    out = StringIO()
    call_command("sync_pickup_offices", account=[account.pk], stdout=out)
    assert "4" in out.getvalue()
    assert PickupOffice.objects.filter(carrier_code="cdek").count() == 4
