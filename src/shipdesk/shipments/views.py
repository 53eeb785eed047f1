"""Shipments web UI: thin views over services/selectors."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from shipdesk.carriers.names import carrier_name, service_choices, service_name
from shipdesk.carriers.selectors import active_accounts
from shipdesk.core.errors import FieldError, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, service_action
from shipdesk.shipments import importing, registration, selectors, services
from shipdesk.shipments.models import ImportJob, Registration, State
from shipdesk.shipments.validation import shipment_warnings, validate_shipment

FORM_FIELDS = (
    ("order_number", gettext_lazy("Номер заказа")),
    ("carrier_account_id", gettext_lazy("Договор с перевозчиком")),
    ("service_code", gettext_lazy("Вид отправления / тариф")),
    ("recipient_surname", gettext_lazy("Фамилия")),
    ("recipient_given_name", gettext_lazy("Имя")),
    ("recipient_patronymic", gettext_lazy("Отчество")),
    ("recipient_company", gettext_lazy("Организация")),
    ("recipient_phone", gettext_lazy("Телефон")),
    ("recipient_email", gettext_lazy("E-mail")),
    ("country", gettext_lazy("Страна")),
    ("index", gettext_lazy("Индекс")),
    ("region", gettext_lazy("Регион")),
    ("district", gettext_lazy("Район")),
    ("city", gettext_lazy("Населённый пункт")),
    ("street", gettext_lazy("Улица")),
    ("house", gettext_lazy("Дом")),
    ("building", gettext_lazy("Корпус/строение")),
    ("apartment", gettext_lazy("Квартира/офис")),
    ("pickup_point_code", gettext_lazy("Пункт выдачи")),
    ("weight_g", gettext_lazy("Вес, г")),
    ("length_cm", gettext_lazy("Длина, см")),
    ("width_cm", gettext_lazy("Ширина, см")),
    ("height_cm", gettext_lazy("Высота, см")),
    ("declared_value", gettext_lazy("Объявленная ценность, ₽")),
    ("cod_amount", gettext_lazy("Наложенный платёж, ₽")),
    ("tracking_number", gettext_lazy("Трек-номер")),
    ("comment", gettext_lazy("Комментарий")),
)
FILTER_KEYS = ("state", "carrier", "q", "created_from", "created_to")


def _filters(request: ActorRequest) -> dict[str, Any]:
    return {k: request.GET.get(k, "").strip() for k in FILTER_KEYS}


@actor_required
def shipment_list(request: ActorRequest) -> HttpResponse:
    filters = _filters(request)
    after = request.GET.get("after", "")
    try:
        rows, next_id = selectors.shipment_page(
            actor=request.actor, filters=filters,
            after_id=int(after) if after.isdigit() else None)
    except ValueError:  # a malformed date in the filter
        messages.error(request, _("Дата в фильтре: ГГГГ-ММ-ДД"))
        filters.update(created_from="", created_to="")
        rows, next_id = selectors.shipment_page(actor=request.actor, filters=filters)
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(request, "shipments/list.html", {
        "rows": rows, "next_id": next_id, "filters": filters, "states": State.choices,
        "query": query, "first_page": not after, "carriers": _carrier_choices(request),
    })


def _carrier_choices(request: ActorRequest) -> list[tuple[str, str]]:
    """The list's carrier filter: the carriers of the organization's accounts, by name."""
    accounts = active_accounts(organization_id=request.actor.organization_id)
    codes = {account.carrier_code for account in accounts}
    return sorted(((code, carrier_name(code)) for code in codes), key=lambda c: c[1])


@actor_required
@require_POST
def shipment_bulk_action(request: ActorRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    if request.POST.get("action") == "cancel" and ids:
        try:
            services.shipments_cancel(actor=request.actor, shipment_ids=ids,
                                      reason=_("Отменено списком"))
            messages.success(request, _("Отменено: %(n)d") % {"n": len(ids)})
        except ServiceError as exc:
            messages.error(request, str(exc.detail))
    return HttpResponseRedirect(reverse("shipments:list"))


@actor_required
def shipment_detail(request: ActorRequest, shipment_id: int) -> HttpResponse:
    shipment = selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
    return render(request, "shipments/detail.html", {
        "s": shipment, "items": list(shipment.items.all()),
        "warnings": shipment_warnings(shipment),
        "events": selectors.shipment_history(actor=request.actor, shipment_id=shipment_id),
        "editable": shipment.state in (State.DRAFT, State.READY),
        "cancellable": State.CANCELLED in services.TRANSITIONS[shipment.state],
        "can_register": (shipment.state == State.READY and shipment.carrier_account_id
                         and shipment.registration in (Registration.NONE, Registration.REJECTED)),
    })


@actor_required
@require_POST
def shipment_register(request: ActorRequest, shipment_id: int) -> HttpResponse:
    service_action(request, lambda: registration.shipment_register(
        actor=request.actor, shipment_id=shipment_id),
        success=_("Отправление передаётся перевозчику"))
    return HttpResponseRedirect(reverse("shipments:detail", args=[shipment_id]))


@actor_required
@require_POST
def shipment_choose_offer(request: ActorRequest, shipment_id: int) -> HttpResponse:
    """Applies an offer of the rate comparison: its carrier account and service."""
    service_action(request, lambda: services.shipment_update(
        actor=request.actor, shipment_id=shipment_id,
        data={"carrier_account_id": request.POST.get("account_id", ""),
              "carrier_code": "", "service_code": request.POST.get("service_code", ""),
              "ready": True}),
        success=_("Перевозчик выбран"))
    return HttpResponseRedirect(reverse("shipments:detail", args=[shipment_id]))


@actor_required
@require_POST
def shipment_cancel(request: ActorRequest, shipment_id: int) -> HttpResponse:
    service_action(request, lambda: services.shipment_cancel(
        actor=request.actor, shipment_id=shipment_id, reason=request.POST.get("reason", "")),
        success=_("Отправление отменено"))
    return HttpResponseRedirect(reverse("shipments:detail", args=[shipment_id]))


def _form_data(request: ActorRequest) -> dict[str, Any]:
    data: dict[str, Any] = {name: request.POST.get(name, "") for name, _label in FORM_FIELDS}
    item_name = request.POST.get("item_name", "").strip()
    if item_name:
        data["items"] = [{"name": item_name, "quantity": request.POST.get("item_quantity") or 1,
                          "unit_price": request.POST.get("item_unit_price") or None,
                          "weight_g": request.POST.get("item_weight_g") or None,
                          "hs_code": request.POST.get("item_hs_code", ""),
                          "origin_country": request.POST.get("item_origin_country", "")}]
    return data


def _errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for error in errors:
        key = str(error.loc[0]) if error.loc else "__all__"
        if key == "items" and len(error.loc) > 2:
            key = f"item_{error.loc[2]}"
        out.setdefault(key, []).append(str(error.message))
    return out


def _form_context(request: ActorRequest, data: dict[str, Any], errors: list[FieldError],
                  **extra: Any) -> dict[str, Any]:
    by_field = _errors_by_field(errors)
    return {
        "fields": [{"name": n, "label": label, "value": data.get(n, "") or "",
                    "errors": by_field.get(n, [])} for n, label in FORM_FIELDS],
        "item": (data.get("items") or [{}])[0], "item_errors": by_field,
        "other_errors": [m for k, ms in by_field.items() for m in ms
                         if k not in dict(FORM_FIELDS) and not k.startswith("item_")],
        "service_groups": _service_groups(request, data.get("service_code") or ""),
        "accounts": active_accounts(organization_id=request.actor.organization.pk),
        **extra,
    }


def _service_groups(request: ActorRequest, current: str) -> list[Any]:
    """The mail types and tariffs of the organization's carriers, by name; a current code no
    carrier lists stays choosable."""
    codes: dict[str, list[str]] = {}
    for carrier, code in services.validation_context(organization=request.actor.organization).limits:
        codes.setdefault(carrier, []).append(code)
    for account in active_accounts(organization_id=request.actor.organization_id):
        codes.setdefault(account.carrier_code, [])
    groups = service_choices(codes)
    if current and not any(current == code for _name, options in groups for code, _label in options):
        groups.append(("", [(current, service_name(current))]))
    return groups


@actor_required
def shipment_form(request: ActorRequest, shipment_id: int | None = None) -> HttpResponse:
    shipment = (selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
                if shipment_id else None)
    errors: list[FieldError] = []
    if request.method == "POST":
        data = _form_data(request)
        try:
            if shipment is None:
                shipment = services.shipment_create(actor=request.actor, data=data,
                                                    source="ui",
                                                    draft=bool(request.POST.get("draft")))
            else:
                data.pop("order_number", None)
                data["ready"] = not request.POST.get("draft")
                services.shipment_update(actor=request.actor, shipment_id=shipment.pk,
                                         data=data)
            messages.success(request, _("Сохранено"))
            return HttpResponseRedirect(reverse("shipments:detail", args=[shipment.pk]))
        except ServiceError as exc:
            errors = exc.errors or [FieldError(("__all__",), str(exc.detail))]
    elif shipment is not None:
        data = services._shipment_data(shipment)
    else:
        data = {"country": "RU"}
    return render(request, "shipments/form.html",
                  _form_context(request, data, errors, shipment=shipment))


@actor_required
@require_POST
def shipment_validate(request: ActorRequest) -> HttpResponse:
    """Live validation for the form (htmx): the same checks as saving, nothing stored."""
    data = _form_data(request)
    ctx = services.validation_context(organization=request.actor.organization)
    warnings: list[FieldError] = []
    cleaned, errors = validate_shipment(data, ctx,
                                        require_order_number="order_number" in request.POST,
                                        warnings=warnings)
    return render(request, "shipments/_validation.html", {
        "errors": errors, "warnings": warnings, "cleaned": cleaned,
        "normalized": ", ".join(v for v in (cleaned["index"], cleaned["region"],
                                            cleaned["city"], cleaned["street"],
                                            cleaned["house"], cleaned["apartment"]) if v),
    })


@actor_required
def shipment_rates(request: ActorRequest, shipment_id: int) -> HttpResponse:
    """The rate comparison panel: every connected carrier's price and days for the parcel."""
    shipment = selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
    quotes: list[Any] = []
    error = ""
    try:
        from shipdesk.tariffs.services import rate_shop
    except ImportError:
        error = _("Тарифы пока не подключены")
    else:
        try:
            sender = shipment.sender
            quotes = list(rate_shop(actor=request.actor,
                                    request=services.parcel_request(shipment, sender)))
        except ServiceError as exc:
            error = str(exc.detail)
    return render(request, "shipments/_rates.html", {
        "quotes": quotes, "error": error, "s": shipment,
        "choosable": shipment.state in (State.DRAFT, State.READY)})


# --- uploads ----------------------------------------------------------------------------

@actor_required
def import_upload(request: ActorRequest) -> HttpResponse:
    errors: list[str] = []
    upload = request.FILES.get("file")
    if request.method == "POST" and upload:
        try:
            job, created = importing.import_job_create(
                actor=request.actor, upload=upload,
                mode=request.POST.get("mode", "valid_rows"), run=False)
        except ServiceError as exc:
            errors = [str(exc.detail)] + [str(e.message) for e in exc.errors[1:20]]
        else:
            if not created:
                messages.info(request, _("Этот файл уже загружался: показываем ту загрузку, "
                                         "дубликаты не созданы"))
            return HttpResponseRedirect(reverse("shipments:import_job", args=[job.pk]))
    elif request.method == "POST":
        errors = [_("Выберите файл")]
    return render(request, "shipments/upload.html", {
        "errors": errors, "jobs": selectors.import_job_list(actor=request.actor),
        "modes": ImportJob.Mode.choices,
    })


def _job_context(request: ActorRequest, job: ImportJob) -> dict[str, Any]:
    processed, total = importing.import_job_progress(job)
    return {"job": job, "processed": processed, "total": total,
            "percent": min(100, int(processed * 100 / total)) if total else 0}


@actor_required
def import_job(request: ActorRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(actor=request.actor, job_id=job_id)
    context = _job_context(request, job)
    if job.status == ImportJob.Status.PENDING:
        try:
            with importing.local_file(job.file) as path:
                context["preview"] = importing.preview(importing.open_sheet(path, job.filename))
        except ServiceError as exc:
            context["preview_error"] = str(exc.detail)
        context["modes"] = ImportJob.Mode.choices
    return render(request, "shipments/import_job.html", context)


@actor_required
@require_POST
def import_start(request: ActorRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(actor=request.actor, job_id=job_id)
    if job.status == ImportJob.Status.PENDING:
        mode = request.POST.get("mode", job.mode)
        if mode in ImportJob.Mode.values:
            ImportJob.objects.filter(pk=job.pk).update(mode=mode)
        from shipdesk.shipments.tasks import import_job_run_task

        import_job_run_task.delay(job.pk)
    return HttpResponseRedirect(reverse("shipments:import_job", args=[job.pk]))


@actor_required
@require_GET
def import_progress(request: ActorRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(actor=request.actor, job_id=job_id)
    return render(request, "shipments/_progress.html", _job_context(request, job))


@actor_required
def import_error_report(request: ActorRequest, job_id: int) -> FileResponse:
    job = selectors.import_job_get(actor=request.actor, job_id=job_id)
    if not job.error_report:
        raise Http404
    return FileResponse(job.error_report.open("rb"), as_attachment=True,
                        filename=f"errors-{job.filename.rsplit('.', 1)[0]}.xlsx")


@actor_required
def import_template(request: ActorRequest) -> HttpResponse:
    response = HttpResponse(
        importing.template_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="shipdesk-template.xlsx"'
    return response
