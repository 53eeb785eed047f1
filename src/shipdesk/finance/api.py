"""/api/v1/finance/: payout reports (upload, mapping, rows), receivables, debt and its
ageing, forecast, P&L, contract terms, mailbox, the ledger for 1C (XLSX)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpResponse
from django.utils import timezone
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from shipdesk.core.apitypes import DbId, PositiveInt, PositiveSmallInt
from shipdesk.core.errors import NotFound
from shipdesk.core.typing import ApiRequest
from shipdesk.finance import exports, mailin, selectors, services

router = Router(tags=["finance"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportOut(Schema):
    id: int
    source: str
    filename: str
    status: str
    format_code: str
    format_name: str
    carrier_code: str
    confidence: Decimal
    registry_number: str
    headers: list[str]
    error: str
    totals: dict[str, Any]
    created_at: dt.datetime


class RowOut(Schema):
    id: int
    row_number: int
    tracking_number: str
    order_number: str
    cod_amount: Decimal
    fee: Decimal
    paid_amount: Decimal
    returned_amount: Decimal
    paid_on: dt.date | None
    outcome: str
    expected_amount: Decimal | None
    difference: Decimal | None
    message: str
    resolution: str

    @staticmethod
    def resolve_message(obj: Any) -> str:
        return str(obj.explanation)


class MappingIn(Schema):
    carrier_code: str
    name: str = ""
    columns: dict[str, str]


class ReceivableOut(Schema):
    shipment_id: int
    order_number: str
    tracking_number: str
    carrier_code: str
    cod_amount: Decimal
    fee_commission: Decimal
    fee_delivery: Decimal
    fee_insurance: Decimal
    fee_return: Decimal
    state: str
    order_state: str
    collected_on: dt.date | None
    expected_on: dt.date | None
    paid_on: dt.date | None
    paid_amount: Decimal
    refused_amount: Decimal


class DebtOut(Schema):
    carrier_code: str
    days_0_7: Decimal
    days_8_14: Decimal
    days_15_30: Decimal
    days_over_30: Decimal
    total: Decimal
    net_of_fees: Decimal
    count: int


class ForecastOut(Schema):
    carrier_code: str
    lag_days: int
    next_2_days: Decimal
    next_7_days: Decimal
    late: Decimal
    backtest_error_2_days_pct: Decimal | None
    backtest_error_7_days_pct: Decimal | None
    backtest_days: int


class PnlOut(Schema):
    revenue: Decimal
    returns: Decimal
    delivery: Decimal
    margin: Decimal


class TermsIn(Schema):
    cod_commission_pct: Decimal | None = None
    delivery_fee: Decimal | None = None
    insurance_pct: Decimal | None = None
    return_fee: Decimal | None = None
    fees_mode: str | None = None
    payout_lag_days: PositiveSmallInt | None = None
    payout_weekdays: str | None = None
    agent_reports: bool | None = None
    pull_registries: bool | None = None


class TermsOut(Schema):
    carrier_account_id: int
    cod_commission_pct: Decimal
    delivery_fee: Decimal
    insurance_pct: Decimal
    return_fee: Decimal
    fees_mode: str
    payout_lag_days: int
    payout_weekdays: str
    agent_reports: bool
    pull_registries: bool


class MailboxIn(Schema):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 993
    use_ssl: bool = True
    username: str
    password: str = ""
    folder: str = "INBOX"


class MailboxOut(Schema):
    host: str
    port: int
    use_ssl: bool
    username: str
    folder: str
    last_polled_at: dt.datetime | None
    last_error: str


@router.post("/reports/", response={201: ReportOut, 200: ReportOut},
             summary="Загрузить отчёт перевозчика о выплатах (XLSX, XLS, ODS, CSV)")
def upload_report(request: ApiRequest, file: File[UploadedFile]) -> Status[Any]:
    result = services.report_import(actor=request.auth, filename=file.name or "report",
                                    content=file.read())
    return Status(201 if result.created else 200, result.report)


@router.get("/reports/", response=list[ReportOut], summary="Отчёты о выплатах")
def list_reports(request: ApiRequest) -> Any:
    return list(selectors.reports(actor=request.auth))


@router.get("/reports/{report_id}/", response=ReportOut, summary="Отчёт о выплатах")
def get_report(request: ApiRequest, report_id: DbId) -> Any:
    report = selectors.report_get(actor=request.auth, report_id=report_id)
    if report is None:
        raise NotFound()
    return report


@router.get("/reports/{report_id}/rows/", response=list[RowOut], summary="Строки отчёта")
def report_rows(request: ApiRequest, report_id: DbId) -> Any:
    if selectors.report_get(actor=request.auth, report_id=report_id) is None:
        raise NotFound()
    return list(selectors.report_rows(actor=request.auth, report_id=report_id, limit=100_000))


@router.post("/reports/{report_id}/mapping/", response=ReportOut,
             summary="Сопоставить колонки нераспознанного отчёта (запоминается)")
def map_report(request: ApiRequest, report_id: DbId, payload: MappingIn) -> Any:
    return services.report_map(actor=request.auth, report_id=report_id,
                               columns=payload.columns, carrier_code=payload.carrier_code,
                               name=payload.name).report


@router.get("/receivables/", response=list[ReceivableOut], summary="Заказы с наложенным платежом")
def list_receivables(request: ApiRequest, state: str = "", offset: PositiveInt = 0) -> Any:
    return list(selectors.orders(actor=request.auth, state=state, offset=max(offset, 0)))


@router.get("/debt/", response=list[DebtOut], summary="Долг перевозчиков по возрасту")
def debt(request: ApiRequest) -> Any:
    today = timezone.localdate()
    return [DebtOut(carrier_code=d.carrier_code, days_0_7=d.buckets[0], days_8_14=d.buckets[1],
                    days_15_30=d.buckets[2], days_over_30=d.buckets[3], total=d.total,
                    net_of_fees=d.net, count=d.count)
            for d in selectors.debt_ageing_now(organization_id=request.auth.organization_id,
                                               today=today)]


@router.get("/forecast/", response=list[ForecastOut], summary="Прогноз поступлений")
def forecast(request: ApiRequest) -> Any:
    return [ForecastOut(carrier_code=f.carrier_code, lag_days=f.lag_days, next_2_days=f.next_2,
                        next_7_days=f.next_7, late=f.late, backtest_error_2_days_pct=f.error_2,
                        backtest_error_7_days_pct=f.error_7, backtest_days=f.backtest_days)
            for f in selectors.forecast(organization_id=request.auth.organization_id,
                                        today=timezone.localdate())]


@router.get("/pnl/", response=PnlOut, summary="Прибыли и убытки за период")
def pnl(request: ApiRequest, start: dt.date, end: dt.date) -> Any:
    p = selectors.pnl(actor=request.auth, start=start, end=end)
    return PnlOut(revenue=p.revenue, returns=p.returns, delivery=p.delivery, margin=p.margin)


@router.get("/ledger.xlsx", summary="Проводки за период (XLSX для 1С)")
def ledger_xlsx(request: ApiRequest, start: dt.date, end: dt.date) -> HttpResponse:
    response = HttpResponse(exports.ledger_xlsx(actor=request.auth, start=start, end=end),
                            content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="ledger-{start}-{end}.xlsx"'
    return response


@router.put("/terms/{account_id}/", response=TermsOut, summary="Условия договора с перевозчиком")
def set_terms(request: ApiRequest, account_id: DbId, payload: TermsIn) -> Any:
    return services.terms_set(actor=request.auth, carrier_account_id=account_id,
                              **payload.dict(exclude_none=True))


@router.put("/mailbox/", response=MailboxOut, summary="Почтовый ящик для отчётов (IMAP)")
def set_mailbox(request: ApiRequest, payload: MailboxIn) -> Any:
    return mailin.mailbox_set(actor=request.auth, **payload.dict())


class PullIn(Schema):
    carrier_account_id: DbId
    day: dt.date


@router.post("/reports/pull/", response={201: ReportOut, 200: ReportOut},
             summary="Запросить реестры выплат у перевозчика (API)")
def pull_report(request: ApiRequest, payload: PullIn) -> Status[Any]:
    result = services.report_pull(actor=request.auth, carrier_account_id=payload.carrier_account_id,
                                  day=payload.day)
    return Status(201 if result.created else 200, result.report)


class ResolveIn(Schema):
    resolution: Annotated[str, Field(description="accepted — принять сумму перевозчика "
                                                 "(с корректирующей проводкой); disputed — "
                                                 "оспорить, ничего не проводя",
                                     examples=["accepted"])]


@router.post("/rows/{row_id}/resolve/", response=RowOut,
             summary="Решение по строке «сумма отличается»: принять или оспорить")
def resolve_row(request: ApiRequest, row_id: DbId, payload: ResolveIn) -> Any:
    from shipdesk.finance import resolution

    return resolution.row_resolve(actor=request.auth, row_id=row_id,
                                  resolution=payload.resolution)
