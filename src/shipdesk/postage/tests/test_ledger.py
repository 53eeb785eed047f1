"""The prepaid balance in the finance ledger: a payment crediting it is the advance paid to
the carrier (Dr 60.02 / Cr 51), posted once however often its statement comes; an
accountant's correction posts with its sign; the hand-over offsets the advance against the
postage used, so that the ledger's advances equal the balance (and the 1C export shows it)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from shipdesk.finance import exports, ledger
from shipdesk.finance.models import Posting
from shipdesk.postage import services
from shipdesk.postage.models import Movement, MovementKind
from shipdesk.postage.tests.conftest import statement

pytestmark = pytest.mark.django_db
D = Decimal
DAY = dt.date(2026, 12, 6)


def _batch(actor: Any, ids: list[int]) -> Any:
    from shipdesk.documents.models import Batch, BatchEntry

    batch = Batch.objects.create(organization=actor.organization, year=2026, number=7,
                                 carrier_code="russian_post", mail_type="LETTER",
                                 shipping_date=DAY)
    for n, pk in enumerate(ids):
        BatchEntry.objects.create(batch=batch, shipment_id=pk, position=n)
    return batch


def _advances(actor: Any) -> Decimal:
    return ledger.balances(actor.organization_id).get("60.02", D("0.00"))


def test_the_ledgers_advances_follow_the_balance_from_statement_to_handover(
        actor: Any, postage_account: Any, letters: Any) -> None:
    services.invoice_create(actor=actor, account_id=postage_account.pk, amount=D("1000.00"))
    paid = {"Номер": "512", "Сумма": "1000.00"}
    services.statement_import(actor=actor, filename="a.txt", content=statement([paid]))
    # the same payment in an overlapping statement: credited and posted once
    again = services.statement_import(actor=actor, filename="b.txt",
                                      content=statement([paid], encoding="DOS"))
    assert again.duplicates == 1
    assert ledger.balances(actor.organization_id) == {"60.02": D("1000.00"),
                                                      "51": D("-1000.00")}
    [topup] = Movement.objects.filter(account=postage_account, kind=MovementKind.TOPUP)
    assert set(Posting.objects.filter(entry=topup.ledger_entry).values_list(
        "kind", "account", "amount", "shipment_id", "posted_on")) == {
        ("advance", "60.02", D("1000.00"), None, dt.date(2026, 12, 5)),
        ("advance", "51", D("-1000.00"), None, dt.date(2026, 12, 5))}

    ids = letters(3)
    marks = {m.shipment_id: m for m in services.marks_issue(
        actor=actor, account_id=postage_account.pk, shipment_ids=ids, today=DAY)}
    services.mark_cancel(actor=actor, mark_id=marks[ids[2]].pk, today=DAY)
    # issued marks are postage paid for but not yet handed over: still the carrier's advance
    postage_account.refresh_from_db()
    assert _advances(actor) == postage_account.balance + D("175.00") == D("1000.00")
    services.handover_accept(actor=actor, batch_id=_batch(actor, ids[:2]).pk, today=DAY)
    postage_account.refresh_from_db()
    assert postage_account.balance == D("825.00")
    assert _advances(actor) == postage_account.balance
    # the postage used is a delivery cost; what is owed to the carrier for it is offset
    assert ledger.balances(actor.organization_id) == {
        "60.02": D("825.00"), "51": D("-1000.00"), "44": D("175.00")}
    assert ledger.balances(actor.organization_id, shipment_id=ids[0]) == {
        "44": D("87.50"), "60.02": D("-87.50")}

    # a correction posts with its sign: money taken back from the carrier
    services.balance_correct(actor=actor, account_id=postage_account.pk, amount=D("-25.00"),
                             reason="возврат переплаты", today=DAY)
    postage_account.refresh_from_db()
    assert _advances(actor) == postage_account.balance == D("800.00")
    assert ledger.balances(actor.organization_id)["51"] == D("-975.00")

    book = load_workbook(io.BytesIO(exports.ledger_xlsx(
        actor=actor, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31)))).active
    assert book is not None
    rows = list(book.iter_rows(values_only=True))[1:]
    lines = {(r[2], r[4], r[5], r[6], r[7]) for r in rows}
    assert ("Аванс перевозчику", "60.02", "Перевозчики: авансы выданные (60.02)", 1000,
            None) in lines
    assert ("Аванс перевозчику", "51", "Расчётный счёт (51)", None, 1000) in lines
    assert ("Аванс перевозчику", "60.02", "Перевозчики: авансы выданные (60.02)", None,
            25) in lines
    offsets = [r for r in rows if r[2] == "Зачёт аванса перевозчику"]
    assert sorted((r[3], r[4], r[6], r[7]) for r in offsets) == [
        ("L0", "60", 87.5, None), ("L0", "60.02", None, 87.5),
        ("L1", "60", 87.5, None), ("L1", "60.02", None, 87.5)]


def test_a_queued_payment_assigned_by_hand_posts_its_advance_once(
        actor: Any, postage_account: Any) -> None:
    invoice = services.invoice_create(actor=actor, account_id=postage_account.pk,
                                      amount=D("300.00"))
    stmt = services.statement_import(actor=actor, filename="a.txt", content=statement([
        {"Номер": "77", "Сумма": "300.00", "НазначениеПлатежа": "Аванс за франкирование"}]))
    assert stmt.queued == 1 and ledger.balances(actor.organization_id) == {}
    [payment] = stmt.payments.all()
    services.payment_assign(actor=actor, payment_id=payment.pk, invoice_id=invoice.pk)
    with pytest.raises(services.Conflict):
        services.payment_assign(actor=actor, payment_id=payment.pk, invoice_id=invoice.pk)
    postage_account.refresh_from_db()
    assert _advances(actor) == postage_account.balance == D("300.00")
