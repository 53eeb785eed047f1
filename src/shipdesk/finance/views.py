"""Owner's and accountant's pages: money overview (debt, ageing chart, forecast, P&L,
funnel, returns), payout reports (upload, rows, column mapping), orders' economics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shipdesk.carriers.names import carrier_name
from shipdesk.core.errors import Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    form_add_service_error,
    message_service_error,
)
from shipdesk.finance import charts, exports, formats, mailin, selectors, services
from shipdesk.finance.models import FeesMode, ReportStatus
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
        "report": item, "outcome": request.GET.get("outcome", ""),
        "rows": selectors.report_rows(actor=request.actor, report_id=report_id,
                                      outcome=request.GET.get("outcome", "")),
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
    orders = list(selectors.orders(actor=request.actor, state=request.GET.get("state", "")))
    operations = selectors.operations_by_shipment(
        actor=request.actor, shipment_ids=[r.shipment_id for r in orders])
    for r in orders:
        r.operations = operations.get(r.shipment_id, [])  # type: ignore[attr-defined]
    return render(request, "finance/orders.html", {"orders": orders})


@actor_required
def ledger_xlsx(request: ActorRequest) -> HttpResponse:
    start, end = _period(request)
    response = HttpResponse(exports.ledger_xlsx(actor=request.actor, start=start, end=end),
                            content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="ledger-{start}-{end}.xlsx"'
    return response


# --- resolving «amount differs» rows ----------------------------------------------------------
@actor_required
@require_POST
def row_resolve(request: ActorRequest, report_id: int, row_id: int) -> HttpResponse:
    from shipdesk.core.views_support import service_action
    from shipdesk.finance import resolution

    choice = request.POST.get("resolution", "")
    service_action(request, lambda: resolution.row_resolve(
        actor=request.actor, row_id=row_id, resolution=choice),
        success=_("Сумма перевозчика принята и проведена") if choice == "accepted"
        else _("Строка отмечена как спорная"))
    return redirect(f"{reverse('finance:report', args=[report_id])}#row-{row_id}")


# --- settings: contract terms per carrier account, the report mailbox ----------------------------
class TermsForm(forms.Form):
    cod_commission_pct = forms.DecimalField(label=gettext_lazy("Комиссия за наложенный платёж, %"),
                                            min_value=0, max_value=100, decimal_places=3)
    delivery_fee = forms.DecimalField(label=gettext_lazy("Доставка, ₽ (если тариф не рассчитан)"),
                                      min_value=0, decimal_places=2)
    insurance_pct = forms.DecimalField(label=gettext_lazy("Страховка, % объявленной ценности"),
                                       min_value=0, max_value=100, decimal_places=3)
    return_fee = forms.DecimalField(label=gettext_lazy("Возврат, ₽"), min_value=0,
                                    decimal_places=2)
    fees_mode = forms.ChoiceField(label=gettext_lazy("Услуги перевозчика"),
                                  choices=FeesMode.choices)
    agent_reports = forms.BooleanField(
        label=gettext_lazy("Перевозчик присылает отчёты агента"), required=False,
        help_text=gettext_lazy("услуги в проводках отмечаются как принятые по отчёту агента"))
    payout_lag_days = forms.IntegerField(label=gettext_lazy("Выплата через, дней"),
                                         min_value=0, max_value=365)
    payout_weekdays = forms.CharField(
        label=gettext_lazy("Дни выплат"), required=False, max_length=20,
        help_text=gettext_lazy("числа 1–7 через запятую (1 — понедельник); пусто: любой день"))
    pull_registries = forms.BooleanField(
        label=gettext_lazy("Забирать реестры выплат через API каждый день"), required=False)


class MailboxForm(forms.Form):
    host = forms.CharField(label=gettext_lazy("Сервер IMAP"), max_length=200)
    port = forms.IntegerField(label=gettext_lazy("Порт"), min_value=1, max_value=65535,
                              initial=993)
    use_ssl = forms.BooleanField(label=gettext_lazy("SSL"), required=False, initial=True)
    username = forms.CharField(label=gettext_lazy("Логин"), max_length=200)
    password = forms.CharField(label=gettext_lazy("Пароль"), required=False,
                               widget=forms.PasswordInput,
                               help_text=gettext_lazy("пусто: оставить прежний"))
    folder = forms.CharField(label=gettext_lazy("Папка"), max_length=100, initial="INBOX")


def _terms_initial(terms: Any) -> dict[str, Any]:
    if terms is None:
        return {"cod_commission_pct": 0, "delivery_fee": 0, "insurance_pct": 0,
                "return_fee": 0, "fees_mode": FeesMode.DEDUCTED, "payout_lag_days": 7}
    return {name: getattr(terms, name) for name in services.TERMS_FIELDS}


@actor_required
def settings(request: ActorRequest) -> HttpResponse:
    """Each carrier contract's money terms and the mailbox the shop forwards reports to:
    accountants and owners edit, everyone else reads."""
    actor = request.actor
    can_edit = actor.can(Perm.MANAGE_FINANCE)
    accounts = list(selectors.terms_by_account(actor=actor))
    box = selectors.mailbox(actor=actor)
    posted = request.POST.get("form", "") if request.method == "POST" else ""
    if posted and not can_edit:
        raise Forbidden(_("Недостаточно прав"))
    forms_by_account = []
    status = 200
    for account, terms in accounts:
        mine = posted == f"terms-{account.pk}"
        # «pull now» and the daily pull only where the carrier's API gives the registries
        pullable = selectors.pulls_registries(account.carrier_code)
        form = TermsForm(request.POST if mine else None, initial=_terms_initial(terms),
                         prefix=f"t{account.pk}")
        if not pullable:
            del form.fields["pull_registries"]
        if mine and form.is_valid():
            try:
                services.terms_set(actor=actor, carrier_account_id=account.pk,
                                   **form.cleaned_data)
            except ServiceError as exc:
                if exc.status in (403, 404):
                    raise
                form_add_service_error(form, exc)
            else:
                messages.success(request, _("Условия договора «%(name)s» сохранены") % {
                    "name": account.name})
                return redirect("finance:settings")
        if mine and form.errors:
            status = 422
        forms_by_account.append((account, terms, form, pullable))
    initial = {"host": box.host, "port": box.port, "use_ssl": box.use_ssl,
               "username": box.username, "folder": box.folder} if box else None
    mail_form = MailboxForm(request.POST if posted == "mailbox" else None, initial=initial,
                            prefix="m")
    if posted == "mailbox" and mail_form.is_valid():
        try:
            mailin.mailbox_set(actor=actor, **mail_form.cleaned_data)
        except ServiceError as exc:
            if exc.status in (403, 404):
                raise
            form_add_service_error(mail_form, exc)
        else:
            messages.success(request, _("Почтовый ящик сохранён: проверим его в ближайшие минуты"))
            return redirect("finance:settings")
    if posted == "mailbox" and mail_form.errors:
        status = 422
    return render(request, "finance/settings.html", {
        "accounts": forms_by_account, "mail_form": mail_form, "mailbox": box,
        "can_edit": can_edit, "start": timezone.localdate(), "end": timezone.localdate()},
        status=status)


@actor_required
@require_POST
def registries_pull(request: ActorRequest, account_id: int) -> HttpResponse:
    """The button: yesterday's payout registries pulled now."""
    from shipdesk.core.views_support import service_action

    day = timezone.localdate() - dt.timedelta(days=1)
    result = service_action(request, lambda: services.report_pull(
        actor=request.actor, carrier_account_id=account_id, day=day))
    if result is not None:
        return redirect("finance:report", report_id=result.report.pk)
    return redirect("finance:settings")
