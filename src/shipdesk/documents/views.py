"""Batch pages: list (auto-group), detail (close, "print the batch" in one click with
progress, each document). Thin: rules are in services/selectors."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shipdesk.core.errors import Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    confirm_page,
    confirmed,
    message_service_error,
)
from shipdesk.documents import courier, selectors, services
from shipdesk.documents.models import BatchState, DocumentKind, GeneratedDocument
from shipdesk.postage.selectors import marks_offered
from shipdesk.tenancy.permissions import Perm


@actor_required
def batch_list(request: ActorRequest) -> HttpResponse:
    state = request.GET.get("state") or None
    batches = selectors.batch_list(actor=request.actor, state=state)[:200]
    return render(request, "documents/batches.html", {
        "batches": batches, "state": state, "states": BatchState.choices,
        "can_edit": request.actor.can(Perm.MANAGE_SHIPMENTS)})


@actor_required
@require_POST
def batch_auto_group(request: ActorRequest) -> HttpResponse:
    try:
        batches = services.batch_auto_group(actor=request.actor)
    except ServiceError as exc:
        message_service_error(request, exc)
    else:
        if batches:
            messages.success(request, _("Отправления распределены по партиям: %(n)s")
                             % {"n": ", ".join(b.display_number for b in batches)})
        else:
            messages.info(request, _("Нет отправлений с номером, ожидающих партии"))
    return redirect("documents:batches")


FORM_PAGE_SIZE = 500


@actor_required
def batch_form(request: ActorRequest) -> HttpResponse:
    """«Сформировать партии» step by step: tick the numbered shipments (filtered by carrier,
    mail type, search), see which batches they would make (counts, weight, sums), confirm."""
    request.actor.require(Perm.MANAGE_SHIPMENTS)
    ids = [int(x) for x in request.POST.getlist("ids") if x.isdigit()]
    if request.method == "POST" and request.POST.get("step") == "confirm":
        try:
            batches = services.batch_auto_group(actor=request.actor, shipment_ids=ids)
        except NotFound as exc:
            raise Http404 from exc
        except Forbidden:
            raise
        except ServiceError as exc:
            message_service_error(request, exc)
            return batch_form_preview(request, ids)
        messages.success(request, _("Отправления распределены по партиям: %(n)s")
                         % {"n": ", ".join(b.display_number for b in batches)})
        return redirect("documents:batches")
    if request.method == "POST":
        return batch_form_preview(request, ids)
    filters = {k: request.GET.get(k, "").strip() for k in ("carrier", "service", "q")}
    candidates = selectors.batch_candidates(actor=request.actor, **filters)
    return render(request, "documents/batch_form.html", {
        "candidates": candidates[:FORM_PAGE_SIZE], "more": len(candidates) > FORM_PAGE_SIZE,
        "filters": filters, "carriers": selectors.candidate_choices(actor=request.actor)})


def batch_form_preview(request: ActorRequest, ids: list[int]) -> HttpResponse:
    """The preview of forming batches of ``ids`` (also the list's bulk action «В партии»)."""
    error = ""
    plan: list[services.PlannedBatch] = []
    try:
        plan = services.batch_auto_group_preview(actor=request.actor, shipment_ids=ids)
    except NotFound as exc:
        raise Http404 from exc
    except Forbidden:
        raise
    except ServiceError as exc:
        error = "; ".join(dict.fromkeys(
            [str(exc.detail or exc.title)] + [str(e.message) for e in exc.errors[:30]]))
    return render(request, "documents/batch_preview.html", {
        "plan": plan, "ids": ids, "error": error,
        "total": sum(p.count for p in plan)}, status=422 if error else 200)


def _batch_or_404(request: ActorRequest, batch_id: int):
    try:
        return selectors.batch_get(actor=request.actor, batch_id=batch_id)
    except NotFound as exc:
        raise Http404 from exc


@actor_required
def batch_detail(request: ActorRequest, batch_id: int) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    documents = {d.kind: d for d in GeneratedDocument.objects.filter(batch=batch)}
    kinds = [(value, label, documents.get(value))
             for value, label in services.batch_document_kinds(batch)]
    return render(request, "documents/batch.html", {
        "batch": batch, "shipments": selectors.batch_shipments(batch)[:1000],
        "count": batch.entries.count(), "kinds": kinds,
        "print_doc": documents.get(DocumentKind.BATCH_PRINT),
        "courier_supported": courier.courier_supported(batch),
        "pickups": courier.courier_pickups(batch)[:20], "courier_day": batch.shipping_date,
        "can_edit": request.actor.can(Perm.MANAGE_SHIPMENTS),
        "can_mark": bool(batch.carrier_account_id) and marks_offered(
            actor=request.actor, carrier_account_id=batch.carrier_account_id)})


@actor_required
def batch_close(request: ActorRequest, batch_id: int) -> HttpResponse:
    found = _batch_or_404(request, batch_id)
    if not confirmed(request):
        return confirm_page(
            request, title=_("Передать партию %(n)s?") % {"n": found.display_number},
            message=_("Партия %(n)s закрывается: её отправления считаются переданными "
                      "перевозчику, состав больше не меняется.") % {
                "n": found.display_number},
            action=request.path, button=_("Передать партию (закрыть)"),
            back=reverse("documents:batch", args=[batch_id]))
    try:
        batch = services.batch_close(actor=request.actor, batch_id=batch_id)
    except ServiceError as exc:
        message_service_error(request, exc)
    else:
        messages.success(request, _("Партия %(n)s передана") % {"n": batch.display_number})
    return redirect("documents:batch", batch_id=batch_id)


@actor_required
@require_POST
def batch_remove(request: ActorRequest, batch_id: int) -> HttpResponse:
    _batch_or_404(request, batch_id)
    ids = [int(x) for x in request.POST.getlist("shipment_id") if x.isdigit()]
    try:
        services.batch_remove(actor=request.actor, batch_id=batch_id, shipment_ids=ids)
    except ServiceError as exc:
        message_service_error(request, exc)
    return redirect("documents:batch", batch_id=batch_id)


@actor_required
@require_POST
def courier_order(request: ActorRequest, batch_id: int) -> HttpResponse:
    _batch_or_404(request, batch_id)
    try:
        day = date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        messages.error(request, _("Укажите дату вызова курьера"))
        return redirect("documents:batch", batch_id=batch_id)
    try:
        pickup = courier.courier_order(
            actor=request.actor, batch_id=batch_id, day=day,
            time_from=request.POST.get("time_from", ""), time_to=request.POST.get("time_to", ""))
    except ServiceError as exc:
        message_service_error(request, exc)
    else:
        messages.success(request, _("Курьер вызван: %(s)s") % {
            "s": pickup.error or pickup.state_name or pickup.state})
    return redirect("documents:batch", batch_id=batch_id)


@actor_required
@require_POST
def courier_refresh(request: ActorRequest, pickup_id: int) -> HttpResponse:
    try:
        pickup = courier.courier_refresh(actor=request.actor, pickup_id=pickup_id)
    except NotFound as exc:
        raise Http404 from exc
    except ServiceError as exc:
        message_service_error(request, exc)
        return redirect("documents:batches")
    return redirect("documents:batch", batch_id=pickup.batch_id)


@actor_required
@require_POST
def document_request(request: ActorRequest, batch_id: int) -> HttpResponse:
    _batch_or_404(request, batch_id)
    kind = request.POST.get("kind", DocumentKind.BATCH_PRINT)
    try:
        doc = services.document_request(actor=request.actor, batch_id=batch_id, kind=kind)
    except ServiceError as exc:
        if request.htmx:
            return render(request, "documents/_document.html",
                          {"error": str(exc.detail or exc.title), "batch_id": batch_id})
        message_service_error(request, exc)
        return redirect("documents:batch", batch_id=batch_id)
    if request.htmx:
        doc.refresh_from_db()
        return render(request, "documents/_document.html", {"doc": doc, "batch_id": batch_id})
    return redirect("documents:batch", batch_id=batch_id)


@actor_required
def document_status(request: ActorRequest, document_id: int) -> HttpResponse:
    try:
        doc = selectors.document_get(actor=request.actor, document_id=document_id)
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "documents/_document.html", {"doc": doc, "batch_id": doc.batch_id})


@actor_required
def document_download(request: ActorRequest, document_id: int) -> HttpResponseBase:
    try:
        handle, filename, content_type = services.document_open(actor=request.actor,
                                                                document_id=document_id)
    except NotFound as exc:
        raise Http404 from exc
    except ServiceError as exc:
        message_service_error(request, exc)
        return redirect("documents:batches")
    return FileResponse(handle, as_attachment=False, filename=filename,
                        content_type=content_type)


@actor_required
def certificates(request: ActorRequest) -> HttpResponse:
    """The organization's signing certificate for the electronic registry: upload a
    PKCS#12 (.p12/.pfx) with its password, or make a demonstration one."""
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "demo":
                services.certificate_create_demo(actor=request.actor)
            else:
                upload = request.FILES.get("pkcs12")
                services.certificate_upload(
                    actor=request.actor, name=request.POST.get("name") or _("Сертификат"),
                    pkcs12_data=upload.read() if upload else b"",
                    password=request.POST.get("password", ""))
        except ServiceError as exc:
            error = str(exc.detail or exc.title)
        else:
            messages.success(request, _("Сертификат сохранён"))
            return redirect("documents:certificates")
    request.actor.require(Perm.VIEW)
    return render(request, "documents/certificates.html", {
        "certificates": selectors.certificate_list(actor=request.actor), "error": error,
        "can_edit": request.actor.can(Perm.MANAGE_SETTINGS)}, status=422 if error else 200)
