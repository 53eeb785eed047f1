"""Owner's and accountant's pages: money overview (debt, ageing chart, forecast, P&L,
funnel, returns), payout reports (upload, rows, column mapping), orders' economics."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shipdesk.carriers.names import carrier_name
from shipdesk.core.errors import Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, message_service_error
from shipdesk.finance import charts, exports, formats, selectors, services
from shipdesk.finance.models import ReportStatus
from shipdesk.tenancy.permissions import Perm

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(request: ActorRequest) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    try:
        start = dt.date.fromisoformat(request.GET.get("start", ""))
        end = dt.date.fromisoformat(request.GET.get("end", ""))
    except ValueError:
        start, end = today.replace(day=1), today
    return start, end


@actor_required
def index(request: ActorRequest) -> HttpResponse:
    """What the carriers owe now, how that debt aged over time, what comes in next."""
    org_id, today = request.actor.organization_id, timezone.localdate()
    start, end = _period(request)
    return render(request, "finance/index.html", {
        "debt": selectors.debt_ageing_now(organization_id=org_id, today=today),
        "chart": mark_safe(charts.ageing_svg(  # noqa: S308 - built from numbers and escaped text
            selectors.debt_history(organization_id=org_id, today=today))),
        "forecast": selectors.forecast(organization_id=org_id, today=today),
        "start": start, "end": end, "labels": selectors.BUCKET_LABELS,
    })


@actor_required
def pnl(request: ActorRequest) -> HttpResponse:
    """P&L by cost item over a period, the order funnel, returns with reasons and costs."""
    start, end = _period(request)
    return render(request, "finance/pnl.html", {
        "pnl": selectors.pnl(actor=request.actor, start=start, end=end),
        "start": start, "end": end,
        "funnel": selectors.funnel(actor=request.actor),
        "returns": selectors.returns(actor=request.actor, limit=100),
    })


@actor_required
def reports(request: ActorRequest) -> HttpResponse:
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Выберите файл отчёта"))
        else:
            try:
                result = services.report_import(actor=request.actor, filename=upload.name or "",
                                                content=upload.read())
            except (NotFound, Forbidden):
                raise
            except ServiceError as exc:
                message_service_error(request, exc)
                for e in exc.errors:
                    messages.error(request, e.message)
            else:
                if not result.created:
                    messages.info(request, _("Этот отчёт уже загружен: ничего не изменилось"))
                return redirect("finance:report", report_id=result.report.pk)
        return redirect("finance:reports")
    return render(request, "finance/reports.html", {
        "reports": selectors.reports(actor=request.actor),
        "can_post": request.actor.can(Perm.MANAGE_FINANCE)})


@actor_required
def report(request: ActorRequest, report_id: int) -> HttpResponse:
    item = selectors.report_get(actor=request.actor, report_id=report_id)
    if item is None:
        raise Http404
    return render(request, "finance/report.html", {
        "report": item, "rows": selectors.report_rows(actor=request.actor, report_id=report_id),
        "needs_mapping": item.status == ReportStatus.NEEDS_MAPPING,
        "roles": [(r, _ROLE_LABELS[r]) for r in formats.ROLES],
        "carriers": [(code, carrier_name(code) if code != "other" else _("Другой перевозчик"))
                     for code in sorted({f.carrier for f in formats.catalogue()} | {"other"})],
        "can_post": request.actor.can(Perm.MANAGE_FINANCE)})


# lazy: a module-level dict is built once, the words are read in the request's language
_ROLE_LABELS = {
    "tracking_number": gettext_lazy("Трек-номер"), "order_number": gettext_lazy("Номер заказа"),
    "cod_amount": gettext_lazy("Сумма наложенного платежа"), "fee": gettext_lazy("Удержано перевозчиком"),
    "paid_amount": gettext_lazy("Сумма к перечислению"), "returned_amount": gettext_lazy("Сумма возврата"),
    "paid_on": gettext_lazy("Дата"),
}


@actor_required
@require_POST
def report_map(request: ActorRequest, report_id: int) -> HttpResponse:
    columns = {r: request.POST.get(f"role_{r}", "") for r in formats.ROLES}
    try:
        services.report_map(actor=request.actor, report_id=report_id, columns=columns,
                            carrier_code=request.POST.get("carrier_code", ""),
                            name=request.POST.get("name", ""))
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        message_service_error(request, exc)
        for e in exc.errors:
            messages.error(request, e.message)
    return redirect("finance:report", report_id=report_id)


@actor_required
def orders(request: ActorRequest) -> HttpResponse:
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(exports.orders_xlsx(actor=request.actor), content_type=XLSX)
        response["Content-Disposition"] = 'attachment; filename="orders-economics.xlsx"'
        return response
    return render(request, "finance/orders.html", {
        "orders": selectors.orders(actor=request.actor, state=request.GET.get("state", "")),
    })


@actor_required
def ledger_xlsx(request: ActorRequest) -> HttpResponse:
    start, end = _period(request)
    response = HttpResponse(exports.ledger_xlsx(actor=request.actor, start=start, end=end),
                            content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="ledger-{start}-{end}.xlsx"'
    return response
