"""Franking pages: balances with their movements, payee details, advance invoices, bank
statements and the accountant's queue, marks (issue, cancel, envelope fronts), hand-over,
downloads for 1C; and the public page that verifies a mark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from shipdesk.core.errors import Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, public_route
from shipdesk.postage import marks, printing, selectors, services
from shipdesk.postage.models import MarkState
from shipdesk.tenancy.permissions import Perm

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _day(value: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return default


def _ids(text: str) -> list[int]:
    return [int(t) for t in text.replace(",", " ").split() if t.isdigit()]


def _run(request: ActorRequest, action: object, success: str) -> bool:
    try:
        action()  # type: ignore[operator]
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        messages.error(request, str(exc.detail or exc.title))
        for e in exc.errors:
            messages.error(request, e.message)
        return False
    messages.success(request, success)
    return True


@actor_required
def index(request: ActorRequest) -> HttpResponse:
    from shipdesk.carriers.selectors import carrier_account_list

    actor, today = request.actor, timezone.localdate()
    start = _day(request.GET.get("start", ""), today.replace(day=1))
    end = _day(request.GET.get("end", ""), today)
    accounts = list(selectors.account_list(actor=actor))
    statements = [selectors.balance_statement(actor=actor, account_id=a.pk, start=start, end=end)
                  for a in accounts]
    opened = {a.carrier_account_id for a in accounts}
    return render(request, "postage/index.html", {
        "statements": statements, "start": start, "end": end, "today": today,
        "contracts": [c for c in carrier_account_list(actor=actor) if c.pk not in opened],
        "invoices": selectors.invoice_list(actor=actor)[:50],
        "queue": selectors.payment_queue(actor=actor)[:200],
        "uploads": selectors.statement_list(actor=actor)[:20],
        "marks": selectors.mark_list(actor=actor)[:100],
        "can_money": actor.can(Perm.MANAGE_FINANCE),
        "can_ship": actor.can(Perm.MANAGE_SHIPMENTS), "issued": MarkState.ISSUED,
        "sizes": list(printing.rendering.ENVELOPES),
    })


@actor_required
@require_POST
def action(request: ActorRequest, name: str) -> HttpResponseBase:
    actor, post = request.actor, request.POST
    account_id = int(post.get("account_id") or 0)

    def amount(field: str) -> Decimal:
        try:
            return Decimal(post.get(field, "").replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            return Decimal("0")

    if name == "open":
        _run(request, lambda: services.account_open(
            actor=actor, carrier_account_id=int(post.get("carrier_account_id") or 0)),
            _("Баланс открыт"))
    elif name == "payee":
        _run(request, lambda: services.account_set_payee(
            actor=actor, account_id=account_id,
            **{k: post.get(k, "") for k in services.PAYEE_FIELDS}), _("Реквизиты сохранены"))
    elif name == "invoice":
        _run(request, lambda: services.invoice_create(
            actor=actor, account_id=account_id, amount=amount("amount")), _("Счёт выставлен"))
    elif name == "correct":
        _run(request, lambda: services.balance_correct(
            actor=actor, account_id=account_id, amount=amount("amount"),
            reason=post.get("reason", "")), _("Корректировка проведена"))
    elif name == "statement":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Выберите файл выписки"))
        else:
            def take() -> None:
                st = services.statement_import(actor=actor, filename=upload.name or "",
                                               content=upload.read())
                messages.info(request, _(
                    "Выписка: зачислено %(c)s, ждут бухгалтера %(q)s, повторов %(d)s") % {
                    "c": st.credited, "q": st.queued, "d": st.duplicates})
            _run(request, take, _("Выписка загружена"))
    elif name == "assign":
        _run(request, lambda: services.payment_assign(
            actor=actor, payment_id=int(post.get("payment_id") or 0),
            invoice_id=int(post.get("invoice_id") or 0)), _("Платёж зачислен"))
    elif name == "dismiss":
        _run(request, lambda: services.payment_dismiss(
            actor=actor, payment_id=int(post.get("payment_id") or 0),
            reason=post.get("reason", "")), _("Платёж убран из очереди"))
    elif name == "issue":
        _run(request, lambda: services.marks_issue(
            actor=actor, account_id=account_id, shipment_ids=_ids(post.get("shipment_ids", ""))),
            _("Знаки выпущены"))
    elif name == "cancel":
        _run(request, lambda: services.mark_cancel(
            actor=actor, mark_id=int(post.get("mark_id") or 0)),
            _("Знак отменён, деньги вернулись на баланс"))
    elif name == "handover":
        _run(request, lambda: services.handover_accept(
            actor=actor, batch_id=int(post.get("batch_id") or 0)),
            _("Партия принята: знаки использованы, проводки сделаны"))
    elif name == "envelopes":
        try:
            pdf = printing.envelopes_pdf(actor=actor, shipment_ids=_ids(post.get("shipment_ids", "")),
                                         size=post.get("size", "DL"))
        except (NotFound, Forbidden):
            raise
        except ServiceError as exc:
            messages.error(request, str(exc.detail or exc.title))
            for e in exc.errors:
                messages.error(request, e.message)
        else:
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = 'inline; filename="envelopes.pdf"'
            return response
    else:
        raise NotFound(_("Нет такого действия"))
    return redirect("postage:index")


@actor_required
def invoice_pdf(request: ActorRequest, invoice_id: int) -> HttpResponse:
    response = HttpResponse(printing.invoice_pdf(actor=request.actor, invoice_id=invoice_id),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="invoice-{invoice_id}.pdf"'
    return response


@actor_required
def reconciliation_xlsx(request: ActorRequest) -> HttpResponse:
    day = _day(request.GET.get("day", ""), timezone.localdate())
    response = HttpResponse(printing.reconciliation_xlsx(actor=request.actor, day=day),
                            content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="postage-marks-{day}.xlsx"'
    return response


@actor_required
def statement_xlsx(request: ActorRequest, account_id: int) -> HttpResponse:
    today = timezone.localdate()
    start = _day(request.GET.get("start", ""), today.replace(day=1))
    end = _day(request.GET.get("end", ""), today)
    response = HttpResponse(printing.statement_xlsx(actor=request.actor, account_id=account_id,
                                                    start=start, end=end), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="balance-{start}-{end}.xlsx"'
    return response


@public_route
@require_safe
def verify(request: HttpRequest) -> HttpResponse:
    """Anyone (a post office clerk, a recipient) checks a mark by its text: no login."""
    code = request.GET.get("code", "").strip()[:1000]
    verdict = selectors.mark_verify(code) if code else None
    return render(request, "postage/verify.html", {"code": code, "verdict": verdict})


@csrf_exempt  # reads an uploaded image and changes nothing: no session, nothing to forge
def verify_image(request: HttpRequest) -> HttpResponse:
    """The same check from a photo or scan of the mark (POST: the whole middleware chain)."""
    if request.method != "POST":
        return redirect("postage:verify")
    upload = request.FILES.get("image")
    codes = marks.read_codes(upload.read()) if upload is not None else []
    if not codes:
        return render(request, "postage/verify.html", {
            "code": "", "verdict": None,
            "error": _("На изображении не найден код DataMatrix")}, status=422)
    return render(request, "postage/verify.html", {
        "code": codes[0], "verdict": selectors.mark_verify(codes[0])})
