"""Shipments web UI: thin views over services/selectors."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from shipdesk.carriers.names import carrier_name, service_choices, service_name
from shipdesk.carriers.selectors import active_accounts
from shipdesk.core.errors import FieldError, Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    confirm_page,
    confirmed,
    service_action,
)
from shipdesk.postage.selectors import marks_offered
from shipdesk.shipments import importing, registration, selectors, services
from shipdesk.shipments.models import ImportJob, State
from shipdesk.shipments.validation import shipment_warnings, validate_shipment
from shipdesk.tenancy.permissions import Perm

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
FILTER_KEYS = ("state", "carrier", "q", "created_from", "created_to",
               "account", "region", "sender", "kind")  # the last four: statistics links


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
        "can_manage": request.actor.can(Perm.MANAGE_SHIPMENTS),
        "can_mark": marks_offered(actor=request.actor),
    })


def _carrier_choices(request: ActorRequest) -> list[tuple[str, str]]:
    """The list's carrier filter: the carriers of the organization's accounts, by name."""
    accounts = active_accounts(organization_id=request.actor.organization_id)
    codes = {account.carrier_code for account in accounts}
    return sorted(((code, carrier_name(code)) for code in codes), key=lambda c: c[1])


@actor_required
def shipment_detail(request: ActorRequest, shipment_id: int) -> HttpResponse:
    shipment = selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
    return render(request, "shipments/detail.html", {
        "s": shipment, "items": list(shipment.items.all()),
        "warnings": shipment_warnings(shipment),
        "events": selectors.shipment_history(actor=request.actor, shipment_id=shipment_id),
        **vars(selectors.shipment_actions(actor=request.actor, shipment=shipment)),
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
def shipment_cancel(request: ActorRequest, shipment_id: int) -> HttpResponse:
    if not confirmed(request):
        shipment = selectors.shipment_get(actor=request.actor, shipment_id=shipment_id)
        return confirm_page(
            request, title=_("Отменить отправление?"),
            message=_("Отправление %(order)s будет отменено%(carrier)s. Отменённое не вернуть: "
                      "его трек-номер больше не выдаётся.") % {
                "order": shipment.order_number,
                "carrier": _(", а его заказ — отменён у перевозчика")
                if shipment.registration in registration.AT_CARRIER
                else ""},
            action=request.path, button=_("Отменить отправление"),
            back=reverse("shipments:detail", args=[shipment_id]),
            fields={"reason": request.POST.get("reason", "")})
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
            elif services.shipment_needs_amend(shipment):
                messages.success(request, _amended_message(services.shipment_amend(
                    actor=request.actor, shipment_id=shipment.pk, data=data)))
                return HttpResponseRedirect(reverse("shipments:detail", args=[shipment.pk]))
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


def _amended_message(result: services.AmendResult) -> str:
    """What saving a numbered shipment did: the price again, the carrier's order again."""
    s = result.shipment
    parts = [_("Сохранено")]
    if s.shipping_cost is None:
        parts.append(_("стоимость не рассчитана: %(why)s") % {"why": s.unrated_reason or "—"})
    elif s.shipping_cost != result.cost_before:
        parts.append(_("стоимость пересчитана: %(old)s → %(new)s ₽") % {
            "old": result.cost_before if result.cost_before is not None else "—",
            "new": s.shipping_cost})
    else:
        parts.append(_("стоимость не изменилась: %(cost)s ₽") % {"cost": s.shipping_cost})
    if result.reregistered:
        parts.append(_("заказ у перевозчика отменён и передаётся заново с новыми данными; "
                       "если перевозчик даст новый номер, перепечатайте ярлык"))
    return "; ".join(parts)


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

ERROR_PAGE_SIZE = 100
HISTORY_PAGE_SIZE = 50


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
                messages.info(request, _("Этот файл уже загружался в этом режиме: показываем "
                                         "ту загрузку, дубликаты не созданы"))
            return HttpResponseRedirect(reverse("shipments:import_job", args=[job.pk]))
    elif request.method == "POST":
        errors = [_("Выберите файл")]
    return render(request, "shipments/upload.html", {
        "errors": errors, "jobs": selectors.import_job_list(actor=request.actor, limit=10),
        "modes": ImportJob.Mode.choices,
    }, status=422 if errors else 200)


def _job_context(request: ActorRequest, job: ImportJob) -> dict[str, Any]:
    errors = Paginator(job.errors or [], ERROR_PAGE_SIZE).get_page(request.GET.get("page"))
    other = next(m for m in ImportJob.Mode if m != job.mode)
    return {"job": job, "progress": importing.import_job_progress(job), "errors_page": errors,
            "errors_cut": job.rejected_count and len(job.errors or []) >= importing.ERROR_LIST_LIMIT,
            "other_mode": other, "other_mode_label": other.label}


def _preview_context(job: ImportJob, mapping: dict[str, str] | None,
                     units: dict[str, str] | None) -> dict[str, Any]:
    try:
        with importing.local_file(job.file) as path:
            sheet = importing.open_sheet(path, job.filename, accepted=True)
            return {"preview": importing.preview(sheet, mapping=mapping, units=units),
                    "fields": importing.field_choices(), "units": importing.UNIT_CHOICES,
                    "modes": ImportJob.Mode.choices}
    except ServiceError as exc:
        return {"preview_error": str(exc.detail)}


@actor_required
def import_job(request: ActorRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(actor=request.actor, job_id=job_id)
    context = _job_context(request, job)
    if job.status == ImportJob.Status.PENDING and job.confirmed_at is None:
        context.update(_preview_context(job, job.mapping or None, job.units))
    return render(request, "shipments/import_job.html", context)


@actor_required
@require_POST
def import_start(request: ActorRequest, job_id: int) -> HttpResponse:
    """«Загрузить» on the preview: the columns as the operator chose them."""
    job = selectors.import_job_get(actor=request.actor, job_id=job_id)
    posted = {key: str(request.POST.get(key, "")) for key in request.POST}
    mapping = {key.removeprefix("col_"): value for key, value in posted.items()
               if key.startswith("col_")}
    units = {key.removeprefix("unit_"): value for key, value in posted.items()
             if key.startswith("unit_") and value}
    mode = request.POST.get("mode") or None
    try:
        importing.import_job_confirm(actor=request.actor, job_id=job.pk,
                                     mapping=mapping or dict(job.mapping), units=units,
                                     mode=mode)
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        context = _job_context(request, job)
        context.update(_preview_context(job, mapping or None, units))
        context["start_errors"] = [str(e.message) for e in exc.errors] or [str(exc.detail)]
        if mode in ImportJob.Mode.values:
            job.mode = mode
        return render(request, "shipments/import_job.html", context, status=422)
    return HttpResponseRedirect(reverse("shipments:import_job", args=[job.pk]))


@actor_required
@require_POST
def import_retry(request: ActorRequest, job_id: int) -> HttpResponse:
    """The same file again in the other mode: a new job."""
    selectors.import_job_get(actor=request.actor, job_id=job_id)  # another's job: a 404
    job = service_action(request, lambda: importing.import_job_retry(
        actor=request.actor, job_id=job_id, mode=request.POST.get("mode", "")))
    return HttpResponseRedirect(reverse("shipments:import_job",
                                        args=[job.pk if job else job_id]))


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
@require_GET
def import_error_list(request: ActorRequest, job_id: int, fmt: str) -> HttpResponse:
    """Every error of a job, a row each (file row, column, field, message)."""
    job = selectors.import_job_get(actor=request.actor, job_id=job_id)
    if fmt not in ("csv", "xlsx") or not (job.error_list or job.errors):
        raise Http404
    types = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    response = HttpResponse(importing.error_list_file(job, fmt), content_type=types[fmt])
    response["Content-Disposition"] = f'attachment; filename="errors-{job.pk}.{fmt}"'
    return response


@actor_required
@require_GET
def import_history(request: ActorRequest) -> HttpResponse:
    page = Paginator(selectors.import_job_history(actor=request.actor),
                     HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "shipments/import_history.html", {"page": page})


@actor_required
def import_template(request: ActorRequest) -> HttpResponse:
    response = HttpResponse(
        importing.template_xlsx(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="shipdesk-template.xlsx"'
    return response
