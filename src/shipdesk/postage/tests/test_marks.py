"""Online postage marks: paid from the balance when issued, printed as a DataMatrix that
decodes and verifies, refused when forged, cancelled with one refund, used once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.core.errors import Conflict, ValidationFailed
from shipdesk.postage import marks, printing, selectors, services
from shipdesk.postage.models import Mark, MarkState, Movement

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 12, 6)


@pytest.fixture
def funded(actor: Any, postage_account: Any) -> Any:
    services.balance_correct(actor=actor, account_id=postage_account.pk,
                             amount=Decimal("1000.00"), reason="Аванс", today=DAY)
    return postage_account


def test_marks_are_paid_from_the_balance_and_printed_codes_decode_and_verify(
        actor, funded, letters):
    ids = letters(3)
    issued = services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=ids,
                                  today=DAY)
    funded.refresh_from_db()
    assert funded.balance == Decimal("1000.00") - 3 * Decimal("87.50")
    pdf = printing.envelopes_pdf(actor=actor, shipment_ids=ids, size="DL")
    codes = marks.read_codes(pdf)  # what a scanner sees on the printed fronts
    assert sorted(codes) == sorted(m.payload for m in issued)
    for code in codes:
        verdict = selectors.mark_verify(code)
        assert verdict.valid, verdict.message
        assert verdict.data is not None and verdict.data.amount == Decimal("87.50")
        assert verdict.data.sender_inn == actor.organization.inn


def test_forged_or_altered_mark_fails(actor, funded, letters):
    [mark] = services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=letters(1),
                                  today=DAY)
    altered = mark.payload.replace("|87.50|", "|8.75|")
    assert not selectors.mark_verify(altered).valid
    data, _sig = marks.parse(mark.payload)
    private, _public = marks.new_key()  # someone else's key, our key id
    forged = marks.sign(data, marks.private_key(private))
    verdict = selectors.mark_verify(forged)
    assert not verdict.valid and "Подпись" in verdict.message
    assert not selectors.mark_verify("hello").valid
    png = marks.datamatrix_png(altered)
    assert marks.read_codes(png) == [altered]


def test_cancel_refunds_exactly_once(actor, funded, letters):
    [mark] = services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=letters(1),
                                  today=DAY)
    services.mark_cancel(actor=actor, mark_id=mark.pk, today=DAY)
    with pytest.raises(Conflict):
        services.mark_cancel(actor=actor, mark_id=mark.pk, today=DAY)
    funded.refresh_from_db()
    assert funded.balance == Decimal("1000.00")
    assert Movement.objects.filter(kind="refund").count() == 1
    verdict = selectors.mark_verify(mark.payload)
    assert not verdict.valid and verdict.state == MarkState.CANCELLED


def test_not_enough_money_issues_nothing(actor, funded, letters):
    ids = letters(12)  # 12 × 87.50 = 1050 > 1000
    with pytest.raises(Conflict) as exc:
        services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=ids, today=DAY)
    assert "1 050,00" in str(exc.value)
    assert not Mark.objects.exists()
    funded.refresh_from_db()
    assert funded.balance == Decimal("1000.00")


def test_second_mark_for_an_item_and_another_organizations_item_refused(
        actor, funded, letters, make_org):
    [first] = letters(1)
    services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=[first], today=DAY)
    from shipdesk.postage.tests.conftest import fast_user

    other = make_org(owner=fast_user("someone@postage.test"))
    [foreign] = letters(1, org_id=other.pk, start=100)
    with pytest.raises(ValidationFailed) as exc:
        services.marks_issue(actor=actor, account_id=funded.pk,
                             shipment_ids=[first, foreign], today=DAY)
    codes = {e.code for e in exc.value.errors}
    assert codes == {"duplicate", "not_found"}
    assert Mark.objects.count() == 1


def test_reconciliation_and_balance_statement(actor, funded, letters):
    from io import BytesIO

    from openpyxl import load_workbook

    issued = services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=letters(2),
                                  today=DAY)
    services.mark_cancel(actor=actor, mark_id=issued[0].pk, today=DAY)
    book = load_workbook(BytesIO(printing.reconciliation_xlsx(actor=actor, day=DAY)))
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert rows[0][0] == "Знак" and {r[1] for r in rows[1:3]} == {m.tracking_number
                                                                  for m in issued}
    assert rows[-3][:2] == ["Выпущено", 2] and rows[-1][:2] == ["Отменено (возврат)", 1]
    st = selectors.balance_statement(actor=actor, account_id=funded.pk, start=DAY, end=DAY)
    assert (st.opening, st.closing) == (Decimal("0.00"), Decimal("912.50"))
    assert st.credits - st.debits == st.closing - st.opening


def test_letters_without_a_price_pay_their_kinds_postage_by_weight(actor, funded, letters):
    from shipdesk.postage import letters as kinds
    from shipdesk.shipments.models import Shipment

    assert kinds.postage("LETTER", 20) == Decimal("87.50")
    assert kinds.postage("LETTER", 45) == Decimal("95.50")  # 2 further started 20 g steps
    with pytest.raises(kinds.NotALetter):
        kinds.postage("LETTER", 101)
    ids = letters(2)
    Shipment.objects.filter(pk__in=ids).update(shipping_cost=None, weight_g=45)
    Shipment.objects.filter(pk=ids[1]).update(service_code="POSTAL_PARCEL")
    with pytest.raises(ValidationFailed) as exc:  # a parcel needs its own price
        services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=ids, today=DAY)
    assert [e.loc for e in exc.value.errors] == [("shipment_ids", ids[1])]
    [mark] = services.marks_issue(actor=actor, account_id=funded.pk, shipment_ids=ids[:1],
                                  today=DAY)
    assert mark.amount == Decimal("95.50")
