"""The postage REST API (/api/v1/postage/): balances, payee details, advance invoices (PDF),
bank statements (1C "Client Bank"), the payments queue, corrections, online postage marks
(issue, cancel, verify), envelope fronts, hand-over, the balance statement and the day's
reconciliation (XLSX for 1C)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from shipdesk.core.apitypes import DbId
from shipdesk.core.typing import ApiRequest
from shipdesk.postage import letters, printing, selectors, services

router = Router(tags=["postage"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PostageAccountOut(Schema):
    id: int
    carrier_account_id: int
    balance: Decimal
    payee_name: str
    payee_inn: str
    payee_kpp: str
    payee_account: str
    payee_bank: str
    payee_bik: str
    payee_corr_account: str


class PostageAccountIn(Schema):
    carrier_account_id: DbId


class PayeeIn(Schema):
    payee_name: str = Field(max_length=300)
    payee_inn: str = Field("", max_length=12)
    payee_kpp: str = Field("", max_length=9)
    payee_account: str = Field(max_length=20)
    payee_bank: str = Field("", max_length=300)
    payee_bik: str = Field(max_length=9)
    payee_corr_account: str = Field("", max_length=20)


class InvoiceIn(Schema):
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)


class InvoiceOut(Schema):
    id: int
    account_id: int
    number: str
    amount: Decimal
    paid: Decimal
    status: str
    issued_on: dt.date


class StatementOut(Schema):
    id: int
    filename: str
    encoding: str
    documents: int
    credited: int
    queued: int
    duplicates: int


class PaymentOut(Schema):
    id: int
    number: str
    paid_on: dt.date
    amount: Decimal
    payer_inn: str
    payer_name: str
    purpose: str
    status: str
    reason: str
    explanation: str
    invoice_id: int | None


class AssignIn(Schema):
    invoice_id: DbId


class DismissIn(Schema):
    reason: str = Field(min_length=1, max_length=500)


class CorrectionIn(Schema):
    amount: Decimal = Field(max_digits=14, decimal_places=2)
    reason: str = Field(max_length=500)


class MovementOut(Schema):
    id: int
    kind: str
    amount: Decimal
    balance_after: Decimal
    marks_count: int
    note: str
    posted_on: dt.date


class PostageIssueIn(Schema):
    account_id: DbId
    shipment_ids: list[DbId] = Field(min_length=1, max_length=20000)


class MarkOut(Schema):
    id: int
    number: str
    shipment_id: int
    tracking_number: str
    amount: Decimal
    issued_on: dt.date
    state: str
    payload: str
    used_on: dt.date | None
    cancelled_on: dt.date | None


class VerifyIn(Schema):
    payload: str = Field(max_length=1000)


class VerifyOut(Schema):
    valid: bool
    message: str
    state: str
    number: str
    tracking_number: str
    amount: Decimal | None
    issued_on: dt.date | None


class EnvelopesIn(Schema):
    shipment_ids: list[DbId] = Field(min_length=1, max_length=5000)
    size: str = "DL"


class StatementReportOut(Schema):
    opening: Decimal
    closing: Decimal
    credits: Decimal
    debits: Decimal
    movements: list[MovementOut]


@router.get("/accounts/", response=list[PostageAccountOut], summary="Балансы франкирования")
def list_accounts(request: ApiRequest) -> Any:
    return list(selectors.account_list(actor=request.auth))


@router.post("/accounts/", response={201: PostageAccountOut}, summary="Открыть баланс по договору")
def open_account(request: ApiRequest, payload: PostageAccountIn) -> Status[Any]:
    return Status(201, services.account_open(actor=request.auth,
                                             carrier_account_id=payload.carrier_account_id))


@router.put("/accounts/{account_id}/payee/", response=PostageAccountOut,
            summary="Реквизиты получателя для счетов")
def set_payee(request: ApiRequest, account_id: DbId, payload: PayeeIn) -> Any:
    return services.account_set_payee(actor=request.auth, account_id=account_id,
                                      **payload.dict())


@router.post("/accounts/{account_id}/corrections/", response={201: MovementOut},
             summary="Корректировка баланса бухгалтером")
def correct(request: ApiRequest, account_id: DbId, payload: CorrectionIn) -> Status[Any]:
    return Status(201, services.balance_correct(actor=request.auth, account_id=account_id,
                                                amount=payload.amount, reason=payload.reason))


@router.get("/accounts/{account_id}/statement/", response=StatementReportOut,
            summary="Выписка по балансу: входящий и исходящий остаток, движения")
def balance_statement(request: ApiRequest, account_id: DbId, start: dt.date | None = None,
                      end: dt.date | None = None) -> Any:
    start, end = _period(start, end)
    return selectors.balance_statement(actor=request.auth, account_id=account_id,
                                       start=start, end=end)


@router.get("/accounts/{account_id}/statement.xlsx", summary="Выписка по балансу (XLSX)")
def balance_statement_xlsx(request: ApiRequest, account_id: DbId, start: dt.date | None = None,
                           end: dt.date | None = None) -> HttpResponse:
    start, end = _period(start, end)
    return _xlsx(printing.statement_xlsx(actor=request.auth, account_id=account_id,
                                         start=start, end=end), "postage-statement.xlsx")


@router.post("/accounts/{account_id}/invoices/", response={201: InvoiceOut},
             summary="Выставить счёт на пополнение")
def create_invoice(request: ApiRequest, account_id: DbId, payload: InvoiceIn) -> Status[Any]:
    return Status(201, services.invoice_create(actor=request.auth, account_id=account_id,
                                               amount=payload.amount))


@router.get("/invoices/", response=list[InvoiceOut], summary="Счета на пополнение")
def list_invoices(request: ApiRequest) -> Any:
    return list(selectors.invoice_list(actor=request.auth)[:500])


@router.get("/invoices/{invoice_id}/pdf", summary="Счёт на пополнение (PDF с QR для оплаты)")
def invoice_pdf(request: ApiRequest, invoice_id: DbId) -> HttpResponse:
    return HttpResponse(printing.invoice_pdf(actor=request.auth, invoice_id=invoice_id),
                        content_type="application/pdf")


@router.post("/statements/", response={201: StatementOut},
             summary="Загрузить выписку банка (1С «Клиент-банк»)")
def upload_statement(request: ApiRequest, file: File[UploadedFile]) -> Status[Any]:
    return Status(201, services.statement_import(actor=request.auth,
                                                 filename=file.name or "statement.txt",
                                                 content=file.read()))


@router.get("/payments/queue/", response=list[PaymentOut], summary="Платежи для бухгалтера")
def payment_queue(request: ApiRequest) -> Any:
    return list(selectors.payment_queue(actor=request.auth)[:1000])


@router.post("/payments/{payment_id}/assign/", response=PaymentOut,
             summary="Зачесть платёж по счёту")
def assign_payment(request: ApiRequest, payment_id: DbId, payload: AssignIn) -> Any:
    return services.payment_assign(actor=request.auth, payment_id=payment_id,
                                   invoice_id=payload.invoice_id)


@router.post("/payments/{payment_id}/dismiss/", response=PaymentOut,
             summary="Отметить платёж как не относящийся к балансу")
def dismiss_payment(request: ApiRequest, payment_id: DbId, payload: DismissIn) -> Any:
    return services.payment_dismiss(actor=request.auth, payment_id=payment_id,
                                    reason=payload.reason)


@router.post("/marks/", response={201: list[MarkOut]},
             summary="Выпустить знаки онлайн-оплаты (списание с баланса)")
def issue_marks(request: ApiRequest, payload: PostageIssueIn) -> Status[Any]:
    return Status(201, services.marks_issue(actor=request.auth, account_id=payload.account_id,
                                            shipment_ids=payload.shipment_ids))


@router.get("/marks/", response=list[MarkOut], summary="Знаки онлайн-оплаты")
def list_marks(request: ApiRequest, state: str = "", day: dt.date | None = None) -> Any:
    return list(selectors.mark_list(actor=request.auth, state=state, day=day)[:1000])


@router.post("/marks/{mark_id}/cancel/", response=MarkOut,
             summary="Отменить знак (деньги — на баланс)")
def cancel_mark(request: ApiRequest, mark_id: DbId) -> Any:
    return services.mark_cancel(actor=request.auth, mark_id=mark_id)


@router.post("/marks/verify/", response=VerifyOut, summary="Проверить знак по его тексту")
def verify_mark(request: ApiRequest, payload: VerifyIn) -> Any:
    return _verdict(selectors.mark_verify(payload.payload))


def _verdict(v: selectors.Verdict) -> dict[str, Any]:
    d = v.data
    return {"valid": v.valid, "message": v.message, "state": v.state,
            "number": d.number if d else "", "tracking_number": d.tracking_number if d else "",
            "amount": d.amount if d else None, "issued_on": d.issued_on if d else None}


class LetterKindOut(Schema):
    code: str
    name: str
    registered: bool
    max_weight_g: int
    step_g: int
    first: Decimal
    per_step: Decimal


@router.get("/letters/kinds/", response=list[LetterKindOut],
            summary="Виды писем и мелких пакетов с тарифами")
def letter_kinds(request: ApiRequest) -> Any:
    return list(letters.KINDS.values())


@router.get("/reconciliation.xlsx", summary="Сверка знаков за день (XLSX для 1С)")
def reconciliation_xlsx(request: ApiRequest, day: dt.date) -> HttpResponse:
    return _xlsx(printing.reconciliation_xlsx(actor=request.auth, day=day),
                 f"postage-{day}.xlsx")


@router.post("/envelopes.pdf", summary="Лицевые стороны конвертов со знаками (PDF)")
def envelopes(request: ApiRequest, payload: EnvelopesIn) -> HttpResponse:
    return HttpResponse(printing.envelopes_pdf(actor=request.auth,
                                               shipment_ids=payload.shipment_ids,
                                               size=payload.size),
                        content_type="application/pdf")


@router.post("/batches/{batch_id}/handover/", response=list[MarkOut],
             summary="Партия писем принята: знаки использованы, проводки в учёт")
def handover(request: ApiRequest, batch_id: DbId) -> Any:
    return services.handover_accept(actor=request.auth, batch_id=batch_id)


def _period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The period asked for; by default the month so far."""
    today = timezone.localdate()
    return start or today.replace(day=1), end or today


def _xlsx(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
