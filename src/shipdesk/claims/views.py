"""Claims pages: candidates (found by the rules, with their evidence), claims and their
documents, the rules in words, first-day audits, the control room. Thin: services and
selectors do the work."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shipdesk.claims import audits, charts, letters, selectors, services
from shipdesk.claims.models import ClaimState, Kind, Verdict
from shipdesk.core.errors import FieldError, ValidationFailed
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, service_action

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _amount(raw: str, field: str) -> Decimal:
    try:
        return Decimal((raw or "").replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise ValidationFailed(_("Неверная сумма"), errors=[
            FieldError((field,), _("Неверная сумма: «%(v)s»") % {"v": raw})]) from None


@actor_required
@require_GET
def index(request: ActorRequest) -> HttpResponse:
    """Candidates found by the rules, each with its evidence; a claim in one click."""
    actor = request.actor
    row = services.claims_settings(actor.organization.pk)
    kind, carrier = request.GET.get("kind", ""), request.GET.get("carrier", "")
    found = list(selectors.candidates(actor=actor, kind=kind, carrier=carrier))
    return render(request, "claims/index.html", {
        "settings": row, "summary": selectors.candidate_summary(actor=actor),
        "candidates": [(c, services.evidence_words(c)) for c in found],
        "kinds": Kind.choices, "kind": kind, "carrier": carrier})


@actor_required
@require_POST
def detect(request: ActorRequest) -> HttpResponse:
    service_action(request, lambda: services.candidates_detect(actor=request.actor),
                   success=lambda counts: _("Найдено кандидатов: %(n)d") % {
                       "n": sum(counts.values())})
    return redirect("claims:index")


@actor_required
@require_POST
def candidates_claim(request: ActorRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("candidate_ids") if i.isdigit()]
    if not ids:
        messages.error(request, _("Отметьте кандидатов, по которым создать претензии"))
        return redirect("claims:index")
    made, refused = services.claims_create_from_candidates(actor=request.actor,
                                                           candidate_ids=ids)
    if made:
        messages.success(request, _("Создано претензий: %(n)d") % {"n": len(made)})
    for text in refused:
        messages.error(request, text)
    return redirect("claims:list" if made else "claims:index")


@actor_required
@require_POST
def candidate_dismiss(request: ActorRequest, candidate_id: int) -> HttpResponse:
    service_action(request, lambda: services.candidate_dismiss(
        actor=request.actor, candidate_id=candidate_id), success=_("Кандидат отклонён"))
    return redirect("claims:index")


@actor_required
@require_GET
def claim_list(request: ActorRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    return render(request, "claims/list.html", {
        "claims": selectors.claims(actor=request.actor, state=state), "state": state,
        "states": ClaimState.choices})


@actor_required
def claim_detail(request: ActorRequest, claim_id: int) -> HttpResponse:
    actor = request.actor
    claim = selectors.claim_get(actor=actor, claim_id=claim_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        post = request.POST
        actions = {
            "file": lambda: services.claim_file(actor=actor, claim_id=claim.pk,
                                                reference=post.get("reference", "")),
            "review": lambda: services.claim_review(actor=actor, claim_id=claim.pk),
            "extend": lambda: services.claim_extend(actor=actor, claim_id=claim.pk),
            "decide": lambda: services.claim_decide(
                actor=actor, claim_id=claim.pk,
                approved_amount=_amount(post.get("approved_amount", "0"), "approved_amount"),
                note=post.get("note", "")),
            "pay": lambda: services.claim_pay(
                actor=actor, claim_id=claim.pk, amount=_amount(post.get("amount", ""), "amount"),
                paid_on=_day(post.get("paid_on", ""))),
            "email": lambda: letters.claim_send_email(actor=actor, claim=claim,
                                                      to=post.get("to", "")),
        }
        if action in actions:
            service_action(request, actions[action], success=_("Сделано"))
        return redirect("claims:claim", claim_id=claim.pk)
    return render(request, "claims/claim.html", {
        "claim": claim, "events": claim.events.order_by("id"),
        "reminders": claim.reminders.order_by("id"), "letters": claim.letters.order_by("id"),
        "ledger": selectors.claim_ledger(actor=actor, claim=claim),
        "next_states": services.TRANSITIONS[claim.state],
        "claims_email": selectors.claims_email(actor=actor),
        "today": timezone.localdate()})


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return timezone.localdate()


@actor_required
@require_GET
def claim_pdf(request: ActorRequest, claim_id: int) -> HttpResponse:
    claim = selectors.claim_get(actor=request.actor, claim_id=claim_id)
    response = HttpResponse(letters.claim_pdf(actor=request.actor, claim=claim),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="claim_{claim.pk}.pdf"'
    return response


@actor_required
@require_POST
def claim_print(request: ActorRequest, claim_id: int) -> HttpResponse:
    claim = selectors.claim_get(actor=request.actor, claim_id=claim_id)
    response = HttpResponse(letters.claim_print_pack(actor=request.actor, claim=claim),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="claim_{claim.pk}_pack.pdf"'
    return response


@actor_required
def rules_page(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    if request.method == "POST":
        p = request.POST

        def save() -> object:
            def num(name: str) -> int:
                try:
                    return int(p.get(name, ""))
                except ValueError:
                    raise ValidationFailed(_("Правило не сохранено"), errors=[
                        FieldError((name,), _("Нужно целое число дней"))]) from None
            return services.rule_set(
                actor=actor, kind=p.get("kind", ""), carrier_code=p.get("carrier_code", ""),
                enabled=p.get("enabled") == "on", margin_days=num("margin_days"),
                file_window_days=num("file_window_days"), answer_days=num("answer_days"),
                remind_days=num("remind_days"),
                min_amount=_amount(p.get("min_amount", "0") or "0", "min_amount"))

        service_action(request, save, success=_("Правило сохранено"))
        return redirect("claims:rules")
    return render(request, "claims/rules.html", {"rules": selectors.rules_table(actor=actor)})


# --- first-day audit ----------------------------------------------------------------------
@actor_required
def audit_list(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is not None:
            made = service_action(request, lambda: audits.audit_create_from_file(
                actor=actor, filename=upload.name or "", content=upload.read()),
                success=_("Список принят, проверка запущена"))
        else:
            made = service_action(request, lambda: audits.audit_create_for_period(
                actor=actor, date_from=_day(request.POST.get("date_from", "")),
                date_to=_day(request.POST.get("date_to", ""))),
                success=_("Проверка за период запущена"))
        if made is not None:
            return redirect("claims:audit", audit_id=made.pk)
        return redirect("claims:audits")
    return render(request, "claims/audits.html", {
        "audits": selectors.audits_recent(actor=actor),
        "today": timezone.localdate()})


@actor_required
@require_GET
def audit_detail(request: ActorRequest, audit_id: int) -> HttpResponse:
    report = audits.audit_report(actor=request.actor, audit_id=audit_id)
    return render(request, "claims/audit.html", {"r": report, "verdicts": Verdict})


@actor_required
@require_GET
def audit_pdf(request: ActorRequest, audit_id: int) -> HttpResponse:
    report = audits.audit_report(actor=request.actor, audit_id=audit_id)
    response = HttpResponse(audits.audit_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="audit_{audit_id}.pdf"'
    return response


# --- the control room ---------------------------------------------------------------------
@actor_required
@require_GET
def control(request: ActorRequest) -> HttpResponse:
    f = selectors.control_filters(request.GET)
    data = selectors.control_room(actor=request.actor, f=f)
    return render(request, "claims/control.html", {
        "f": f, "d": data, "charts": charts.control_charts(data),
        "carriers": sorted({r["carrier_code"] for r in data["rows"]} | _own_carriers(request)),
        "query": urlencode({"date_from": f.date_from, "date_to": f.date_to,
                            "carrier": f.carrier, "older_than_days": f.older_than_days})})


def _own_carriers(request: ActorRequest) -> set[str]:
    from shipdesk.carriers.selectors import carrier_account_list

    return {a.carrier_code for a in carrier_account_list(actor=request.actor)}


@actor_required
@require_GET
def control_xlsx(request: ActorRequest) -> HttpResponse:
    from shipdesk.analytics.exports import to_xlsx
    from shipdesk.carriers.names import carrier_name

    f = selectors.control_filters(request.GET)
    data = selectors.control_room(actor=request.actor, f=f)
    headers = [_("Месяц"), _("Перевозчик"), _("Под риском, ₽"), _("Заявлено, ₽"),
               _("Возмещено, ₽"), _("Претензий")]
    rows = [[r["month"], carrier_name(r["carrier_code"]), r["at_risk"], r["claimed"],
             r["recovered"], r["claims"]] for r in data["rows"]]
    response = HttpResponse(to_xlsx(_("Претензии"), headers, rows), content_type=XLSX)
    response["Content-Disposition"] = (
        f'attachment; filename="claims_{f.date_from.isoformat()}_{f.date_to.isoformat()}.xlsx"')
    return response



