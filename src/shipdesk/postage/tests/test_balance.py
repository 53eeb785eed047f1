"""Prepaid balance: advance invoice (PDF: details, words, ST00012 QR), statements in 1C
"Client Bank" format topping it up once, the accountant's queue and corrections."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
import zxingcpp
from pypdf import PdfReader

from shipdesk.core.errors import Conflict, ValidationFailed
from shipdesk.postage import printing, selectors, services
from shipdesk.postage.models import InvoiceStatus, PaymentStatus, QueueReason
from shipdesk.postage.tests.conftest import statement
from shipdesk.tenancy.models import AuditEntry

pytestmark = pytest.mark.django_db


def _invoice(actor: Any, account: Any, amount: str = "1000.00") -> Any:
    return services.invoice_create(actor=actor, account_id=account.pk, amount=Decimal(amount))


def test_invoice_pdf_shows_payee_amount_in_words_and_a_payment_qr(actor, postage_account):
    import pypdfium2

    invoice = _invoice(actor, postage_account, "1521.05")
    pdf = printing.invoice_pdf(actor=actor, invoice_id=invoice.pk)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "ПМ-000001" in text and "044525225" in text and "40702810900000000001" in text
    assert "Одна тысяча пятьсот двадцать один рубль 05 копеек" in text
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=3).to_pil()
    qr = [r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(qr) == 1
    assert qr[0].startswith("ST00012|Name=АО «Франкинг»|PersonalAcc=40702810900000000001|")
    assert "|Sum=152105|" in qr[0] and "ПМ-000001" in qr[0] and "BIC=044525225" in qr[0]


def test_invoice_needs_the_payees_details(actor, postage_account):
    postage_account.payee_account = ""
    postage_account.save()
    with pytest.raises(ValidationFailed) as exc:
        _invoice(actor, postage_account)
    assert exc.value.errors[0].loc == ("payee_account",)


def test_payment_in_two_overlapping_statements_tops_up_once(actor, postage_account):
    invoice = _invoice(actor, postage_account)
    paid = {"Номер": "512", "Сумма": "1000.00"}
    other = {"Номер": "513", "Сумма": "10.00", "ПлательщикИНН": "500100732259",
             "НазначениеПлатежа": "За услуги"}
    first = services.statement_import(actor=actor, filename="a.txt",
                                      content=statement([paid]))
    second = services.statement_import(actor=actor, filename="b.txt",
                                       content=statement([paid, other], encoding="DOS"))
    assert (first.credited, first.duplicates) == (1, 0)
    assert (second.credited, second.duplicates, second.queued) == (0, 1, 1)
    assert second.encoding == "cp866"
    postage_account.refresh_from_db()
    invoice.refresh_from_db()
    assert postage_account.balance == Decimal("1000.00")
    assert invoice.status == InvoiceStatus.PAID
    queued = list(selectors.payment_queue(actor=actor))
    assert [(p.number, p.reason, p.payer_name) for p in queued] == [
        ("513", QueueReason.UNKNOWN_PAYER, 'ООО "Рога и копыта"')]


def test_payment_without_invoice_number_waits_then_accountant_credits_it(actor,
                                                                         postage_account):
    invoice = _invoice(actor, postage_account, "500.00")
    services.statement_import(actor=actor, filename="s.txt", content=statement([
        {"Номер": "77", "Сумма": "500.00", "НазначениеПлатежа": "Пополнение баланса"}]))
    [payment] = selectors.payment_queue(actor=actor)
    assert payment.reason == QueueReason.NO_INVOICE
    services.payment_assign(actor=actor, payment_id=payment.pk, invoice_id=invoice.pk)
    postage_account.refresh_from_db()
    assert postage_account.balance == Decimal("500.00")
    assert AuditEntry.objects.filter(action="postage.payment_assign").count() == 1
    with pytest.raises(Conflict):
        services.payment_assign(actor=actor, payment_id=payment.pk, invoice_id=invoice.pk)


def test_top_up_larger_than_invoice_is_credited_whole_and_explained(actor, postage_account):
    invoice = _invoice(actor, postage_account, "1000.00")
    services.statement_import(actor=actor, filename="s.txt", content=statement([
        {"Номер": "9", "Сумма": "1500.00", "НазначениеПлатежа": "Оплата сч. № 1 аванс"}]))
    invoice.refresh_from_db()
    postage_account.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERPAID
    assert postage_account.balance == Decimal("1500.00")
    payment = invoice.payments.get()
    assert payment.status == PaymentStatus.CREDITED
    assert "переплата 500,00 ₽" in payment.explanation


def test_broken_statement_names_its_line(actor, postage_account):
    bad = statement([{}]).replace("КонецДокумента".encode("cp1251"), b"")
    with pytest.raises(ValidationFailed) as exc:
        services.statement_import(actor=actor, filename="s.txt", content=bad)
    assert exc.value.errors[0].loc[:2] == ("file", "line")
    with pytest.raises(ValidationFailed):
        services.statement_import(actor=actor, filename="s.txt", content=b"hello")


def test_correction_is_audited_and_cannot_overdraw(actor, postage_account):
    services.balance_correct(actor=actor, account_id=postage_account.pk,
                             amount=Decimal("300.00"), reason="Остаток из старой системы")
    with pytest.raises(Conflict) as exc:
        services.balance_correct(actor=actor, account_id=postage_account.pk,
                                 amount=Decimal("-300.01"), reason="ошибка")
    assert "300,01" in str(exc.value)
    postage_account.refresh_from_db()
    assert postage_account.balance == Decimal("300.00")
    entry = AuditEntry.objects.get(action="postage.balance_correct")
    assert entry.data["reason"] == "Остаток из старой системы"
