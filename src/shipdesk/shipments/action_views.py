"""The operator's actions on a shipment's page and on the list: print the label, put into a
batch, register or cancel at the carrier, bulk actions and export. Thin: every rule is in
the services (shipments', documents')."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shipdesk.carriers.names import carrier_name
from shipdesk.core.errors import Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    confirm_page,
    confirmed,
    message_service_error,
    service_action,
)
from shipdesk.shipments import export, registration, selectors, services
from shipdesk.tenancy.permissions import Perm

# "All matching the filter" takes at most this many shipments in one bulk action.
BULK_LIMIT = 10_000
FILTER_KEYS = ("state", "carrier", "q", "created_from", "created_to")


def _detail(shipment_id: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("shipments:detail", args=[shipment_id]))


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _error_text(exc: ServiceError) -> str:
    lines = [str(exc.detail or exc.title)] + [str(e.message) for e in exc.errors[:20]]
    return "; ".join(dict.fromkeys(lines))


@actor_required
@require_GET
def shipment_label(request: ActorRequest, shipment_id: int) -> HttpResponseBase:
    """The shipment's label as a PDF (thermal 100×150, or A4 with ``?layout=a4``)."""
    from shipdesk.documents.services import shipment_labels_pdf

    shipment = selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
    layout = "a4" if request.GET.get("layout") == "a4" else "thermal"
    try:
        pdf = shipment_labels_pdf(actor=request.actor, shipment_ids=[shipment.pk], layout=layout)
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return _detail(shipment_id)
    return _pdf(pdf, f"label-{shipment.tracking_number}.pdf")


@actor_required
def shipment_batch(request: ActorRequest, shipment_id: int) -> HttpResponse:
    """Into a batch: choose one of the open batches that fit, or a new one."""
    from shipdesk.documents import services as documents

    shipment = selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
    if request.method == "POST":
        choice = request.POST.get("batch_id", "new")
        batch = service_action(request, lambda: documents.shipment_add_to_batch(
            actor=request.actor, shipment_id=shipment.pk,
            batch_id=int(choice) if choice.isdigit() else None),
            success=lambda b: _("Отправление добавлено в партию %(n)s") % {
                "n": b.display_number})
        if batch is not None:
            return _detail(shipment.pk)
    return render(request, "shipments/batch_choose.html", {
        "s": shipment,
        "batches": documents.batches_open_for(actor=request.actor, shipment_id=shipment.pk)})


@actor_required
def shipment_cancel_registration(request: ActorRequest, shipment_id: int) -> HttpResponse:
    shipment = selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
    if not confirmed(request):
        return confirm_page(
            request, title=_("Отменить у перевозчика?"),
            message=_("Заказ %(order)s будет отменён у перевозчика «%(carrier)s». Отправление "
                      "останется здесь: его можно будет исправить и передать снова.") % {
                "order": shipment.order_number,
                "carrier": shipment.carrier_account.name if shipment.carrier_account
                else carrier_name(shipment.carrier_code)},
            action=request.path, button=_("Отменить у перевозчика"),
            back=reverse("shipments:detail", args=[shipment.pk]))
    service_action(request, lambda: registration.shipment_cancel_registration(
        actor=request.actor, shipment_id=shipment.pk),
        success=_("Заказ отменён у перевозчика"))
    return _detail(shipment.pk)


# --- the list: bulk actions and export ---------------------------------------------------

def _filters(source: Any) -> dict[str, str]:
    return {k: source.get(k, "").strip() for k in FILTER_KEYS}


def _chosen_ids(request: ActorRequest) -> list[int]:
    """The ticked rows, every shipment matching the list's filter ("all matching"), or a
    batch's shipments (its page's actions)."""
    batch_id = request.POST.get("batch", "")
    if batch_id.isdigit() and not request.POST.getlist("ids"):
        from shipdesk.documents import selectors as batches

        try:
            batch = batches.batch_get(actor=request.actor, batch_id=int(batch_id))
        except NotFound as exc:
            raise Http404 from exc
        return list(batches.batch_shipments(batch).values_list("pk", flat=True)[:BULK_LIMIT])
    if request.POST.get("all_matching") == "1":
        return list(selectors.shipment_list(actor=request.actor, filters=_filters(request.POST))
                    .values_list("pk", flat=True)[:BULK_LIMIT])
    return [int(i) for i in request.POST.getlist("ids") if i.isdigit()][:BULK_LIMIT]


def _back_to_list(request: ActorRequest) -> HttpResponseRedirect:
    query = "&".join(f"{k}={v}" for k, v in _filters(request.POST).items() if v)
    return HttpResponseRedirect(reverse("shipments:list") + (f"?{query}" if query else ""))


@actor_required
@require_POST
def shipment_bulk_action(request: ActorRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = _chosen_ids(request)
    if not ids:
        messages.error(request, _("Отметьте отправления в списке или «все по фильтру»"))
        return _back_to_list(request)
    if action == "labels":
        return _bulk_labels(request, ids)
    if action == "batch":
        from shipdesk.documents.views import batch_form_preview

        return batch_form_preview(request, ids)
    if action == "register":
        return _bulk_register(request, ids)
    if action == "cancel":
        return _bulk_cancel(request, ids)
    if action == "marks":
        return _bulk_marks(request, ids)
    messages.error(request, _("Выберите действие"))
    return _back_to_list(request)


def _bulk_labels(request: ActorRequest, ids: list[int]) -> HttpResponse:
    from shipdesk.documents.services import shipment_labels_pdf

    try:
        pdf = shipment_labels_pdf(actor=request.actor, shipment_ids=ids,
                                  layout="a4" if request.POST.get("layout") == "a4"
                                  else "thermal")
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        messages.error(request, _error_text(exc))
        return _back_to_list(request)
    return _pdf(pdf, "labels.pdf")


def _bulk_register(request: ActorRequest, ids: list[int]) -> HttpResponse:
    request.actor.require(Perm.MANAGE_SHIPMENTS)
    sent, refused = 0, []
    for shipment_id in ids:
        try:
            registration.shipment_register(actor=request.actor, shipment_id=shipment_id)
        except (NotFound, Forbidden):
            raise
        except ServiceError as exc:
            refused.append(str(exc.detail or exc.title))
        else:
            sent += 1
    if sent:
        messages.success(request, _("Передаются перевозчику: %(n)d") % {"n": sent})
    if refused:
        counts: dict[str, int] = {}
        for reason in refused:
            counts[reason] = counts.get(reason, 0) + 1
        messages.error(request, _("Не переданы: %(n)d — %(why)s") % {
            "n": len(refused), "why": "; ".join(f"{r} ({c})" for r, c in counts.items())})
    return _back_to_list(request)


def _bulk_cancel(request: ActorRequest, ids: list[int]) -> HttpResponse:
    request.actor.require(Perm.MANAGE_SHIPMENTS)
    if not confirmed(request):
        return confirm_page(
            request, title=_("Отменить отправления?"),
            message=_("Будет отменено отправлений: %(n)d. Зарегистрированные у перевозчика "
                      "сначала отменяются у него. Отменённое не вернуть.") % {"n": len(ids)},
            action=reverse("shipments:bulk"), button=_("Отменить отправления"),
            back=reverse("shipments:list"), fields={"action": "cancel", "ids": ids})
    try:
        services.shipments_cancel(actor=request.actor, shipment_ids=ids,
                                  reason=_("Отменено списком"))
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        message_service_error(request, exc)
    else:
        messages.success(request, _("Отменено: %(n)d") % {"n": len(ids)})
    return HttpResponseRedirect(reverse("shipments:list"))


def _bulk_marks(request: ActorRequest, ids: list[int]) -> HttpResponse:
    """Postage marks for the chosen shipments, each paid from its contract's prepaid balance
    (after a confirmation: the money leaves the balance)."""
    from shipdesk.documents.rendering.common import money
    from shipdesk.postage.services import marks_issue_chosen

    request.actor.require(Perm.MANAGE_SHIPMENTS)
    # from a batch's page: back to that batch (its id was checked choosing the shipments)
    batch_id = request.POST.get("batch", "")
    back = (reverse("documents:batch", args=[int(batch_id)]) if batch_id.isdigit()
            else reverse("shipments:list"))
    if not confirmed(request):
        return confirm_page(
            request, title=_("Выпустить знаки онлайн-оплаты?"),
            message=_("Знаки будут выпущены на отправлений: %(n)d. Их стоимость спишется с "
                      "балансов франкирования договоров; неиспользованный знак можно "
                      "отменить, деньги вернутся на баланс.") % {"n": len(ids)},
            action=reverse("shipments:bulk"), button=_("Выпустить знаки"),
            back=back, fields={"action": "marks", "ids": ids, "batch": batch_id})
    try:
        issued = marks_issue_chosen(actor=request.actor, shipment_ids=ids)
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        message_service_error(request, exc)
        for error in exc.errors[:10]:  # which items, and why
            messages.error(request, error.message)
        if len(exc.errors) > 10:
            messages.error(request, _("…и ещё %(n)d") % {"n": len(exc.errors) - 10})
        return HttpResponseRedirect(back)
    messages.success(request, _("Знаки выпущены: %(n)d на %(sum)s ₽; печать конвертов и "
                                "сверка — на странице «Франкирование»") % {
        "n": len(issued), "sum": money(sum((m.amount for m in issued), Decimal(0)))})
    return HttpResponseRedirect(back)


def _export_name(ext: str) -> str:
    return f"shipments-{timezone.localdate():%Y-%m-%d}.{ext}"


@actor_required
@require_GET
def shipment_export(request: ActorRequest, fmt: str) -> HttpResponseBase:
    """The list with its filters as XLSX or CSV, streamed."""
    filters = _filters(request.GET)
    try:
        selectors.shipment_list(actor=request.actor, filters=filters).exists()
    except ValueError:  # a malformed date in the filter
        messages.error(request, _("Дата в фильтре: ГГГГ-ММ-ДД"))
        return HttpResponseRedirect(reverse("shipments:list"))
    if fmt == "csv":
        response = StreamingHttpResponse(export.csv_chunks(actor=request.actor, filters=filters),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_export_name("csv")}"'
        return response
    # XLSX is a zip: written to a temporary file first, then streamed from it
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
    export.write_xlsx(actor=request.actor, filters=filters, out=handle)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=_export_name("xlsx"),
                        content_type="application/vnd.openxmlformats-officedocument."
                                     "spreadsheetml.sheet")



