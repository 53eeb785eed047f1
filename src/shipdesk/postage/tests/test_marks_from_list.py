"""Postage marks issued from the shipments list: the chosen items, each paid from its own
contract's balance, after a confirmation; a foreign organization's id is refused and
nothing is issued."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shipdesk.postage import services
from shipdesk.postage.models import Mark, PostageAccount
from shipdesk.postage.tests.conftest import fast_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(actor: Any, postage_account: PostageAccount) -> PostageAccount:
    services.balance_correct(actor=actor, account_id=postage_account.pk,
                             amount=Decimal("1000.00"), reason="Аванс",
                             today=dt.date(2026, 12, 6))
    return postage_account


def _balance(account: PostageAccount) -> Decimal:
    return PostageAccount.objects.get(pk=account.pk).balance


def test_marks_issued_for_the_chosen_shipments_after_a_confirmation(
        web: Client, funded: PostageAccount, letters: Any) -> None:
    ids = letters(3)
    listing = web.get("/shipments/").content.decode()
    assert 'value="marks"' in listing and "Выпустить знаки онлайн-оплаты" in listing
    confirm = web.post("/shipments/bulk/", {"action": "marks", "ids": ids[:2]})
    assert confirm.status_code == 200 and "отправлений: 2" in confirm.content.decode()
    assert Mark.objects.count() == 0  # nothing before the confirmation
    done = web.post("/shipments/bulk/", {"action": "marks", "ids": ids[:2], "confirmed": "1"},
                    follow=True).content.decode()
    assert "Знаки выпущены: 2 на 175,00 ₽" in done
    assert sorted(Mark.objects.values_list("shipment_id", flat=True)) == sorted(ids[:2])
    assert _balance(funded) == Decimal("825.00")
    postage = web.get("/postage/").content.decode()
    assert all(f"8008{i:010d}" in postage for i in (0, 1))


def test_a_foreign_shipment_or_one_without_a_balance_issues_nothing(
        web: Client, actor: Any, funded: PostageAccount, letters: Any, make_org: Any) -> None:
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.shipments.models import Shipment

    [mine] = letters(1)
    other = make_org(owner=fast_user("stranger@postage.test"))
    [foreign] = letters(1, org_id=other.pk, start=100)
    answer = web.post("/shipments/bulk/", {"action": "marks", "ids": [mine, foreign],
                                           "confirmed": "1"}, follow=True).content.decode()
    assert "Знаки не выпущены" in answer
    assert f"Отправление {foreign} не найдено в этой организации" in answer
    # a contract with no prepaid balance: said so, with where to open one
    courier = CarrierAccount.objects.create(organization=actor.organization,
                                            carrier_code="cdek", name="СДЭК",
                                            base_url="http://127.0.0.1:9/")
    parcel = Shipment.objects.create(organization=actor.organization, order_number="C1",
                                     tracking_number="1000000001", carrier_code="cdek",
                                     carrier_account=courier, shipping_cost=Decimal("300"))
    answer = web.post("/shipments/bulk/", {"action": "marks", "ids": [mine, parcel.pk],
                                           "confirmed": "1"}, follow=True).content.decode()
    assert "У договора отправления 1000000001 нет баланса франкирования" in answer
    assert Mark.objects.count() == 0 and _balance(funded) == Decimal("1000.00")


def test_the_list_offers_no_marks_without_a_postage_balance(web: Client) -> None:
    assert 'value="marks"' not in web.get("/shipments/").content.decode()


def test_a_batch_page_issues_its_shipments_marks_and_comes_back(
        web: Client, actor: Any, funded: PostageAccount, letters: Any, make_org: Any) -> None:
    from shipdesk.documents.services import batch_create

    ids = letters(2)
    [batch] = batch_create(actor=actor, shipment_ids=ids)
    page = web.get(f"/documents/batches/{batch.pk}/").content.decode()
    assert 'id="batch-marks"' in page and f'name="batch" value="{batch.pk}"' in page
    confirm = web.post("/shipments/bulk/", {"action": "marks", "batch": batch.pk})
    text = confirm.content.decode()
    assert "отправлений: 2" in text and f'href="/documents/batches/{batch.pk}/"' in text
    done = web.post("/shipments/bulk/", {"action": "marks", "ids": ids, "batch": batch.pk,
                                         "confirmed": "1"})
    assert done.status_code == 302 and done["Location"] == f"/documents/batches/{batch.pk}/"
    assert sorted(Mark.objects.values_list("shipment_id", flat=True)) == sorted(ids)
    assert _balance(funded) == Decimal("825.00")
    # another organization's batch is not found, and issues nothing
    other = make_org(owner=fast_user("batch-stranger@postage.test"))
    [theirs] = letters(1, org_id=other.pk, start=200)
    from shipdesk.tenancy.models import Role
    from shipdesk.tenancy.services import Actor

    [foreign] = batch_create(actor=Actor(organization=other, role=Role.OWNER, user=None),
                             shipment_ids=[theirs])
    assert web.post("/shipments/bulk/", {"action": "marks", "batch": foreign.pk,
                                         "confirmed": "1"}).status_code == 404
    assert not Mark.objects.filter(shipment_id=theirs).exists()
