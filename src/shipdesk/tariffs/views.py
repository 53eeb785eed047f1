from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from shipdesk.core.errors import ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required
from shipdesk.tariffs import selectors, services
from shipdesk.tariffs.api import parcel_from
from shipdesk.tariffs.models import RatingPreference
from shipdesk.tariffs.schemas import RateIn
from shipdesk.tenancy.permissions import Perm

FIELD_LABELS = {
    "from_index": gettext_lazy("Индекс отправителя"), "to_index": gettext_lazy("Индекс получателя"),
    "weight_g": gettext_lazy("Вес"), "declared_value": gettext_lazy("Объявленная ценность"),
    "cod_amount": gettext_lazy("Наложенный платёж"),
}


@actor_required
def compare(request: ActorRequest) -> HttpResponse:
    """The comparison page: the parcel form (GET, so a result can be bookmarked) and the
    offers of every connected carrier."""
    offers = None
    errors: dict[str, str] = {}
    form = request.GET
    if "weight_g" in form:
        raw = {key: form.get(key, "") for key in (
            "from_index", "to_index", "weight_g", "declared_value", "cod_amount", "service_code")}
        data: dict[str, Any] = {k: v.strip().replace(",", ".") for k, v in raw.items()
                                if v.strip()}
        for key in ("fragile", "careful", "sms_notice", "inventory"):
            data[key] = bool(form.get(key))
        try:
            parcel = parcel_from(RateIn(**data))
        except ValidationError as exc:
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else ""
                errors[field] = _("Проверьте значение поля «%(field)s»") % {
                    "field": FIELD_LABELS.get(field, field)}
        else:
            try:
                offers = services.rate_shop(actor=request.actor, request=parcel)
            except ServiceError as exc:
                errors["__all__"] = str(exc.detail)
    template = "tariffs/_offers.html" if request.htmx and offers is not None else "tariffs/compare.html"
    return render(request, template, {
        "form": form, "offers": offers, "errors": errors,
        "rule": services.rating_rule_get(organization=request.actor.organization),
        "rule_choices": RatingPreference.choices,
        "tables": selectors.tables_in_force(actor=request.actor),
        "can_upload": request.actor.can(Perm.MANAGE_SETTINGS),
    })


@actor_required
@require_POST
def rule_set(request: ActorRequest) -> HttpResponse:
    try:
        services.rating_rule_set(actor=request.actor, prefer=request.POST.get("prefer", ""))
        messages.success(request, _("Правило выбора сохранено"))
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    return redirect("tariffs:compare")


@actor_required
@require_POST
def table_upload(request: ActorRequest) -> HttpResponse:
    """A tariff table (JSON, shipdesk-tariff/1) uploaded from the Tariffs page."""
    request.actor.require(Perm.MANAGE_SETTINGS)
    upload = request.FILES.get("file")
    try:
        row = services.tariff_table_upload(
            actor=request.actor, filename=(upload.name or "") if upload else "",
            content=upload.read() if upload else b"")
    except ServiceError as exc:
        messages.error(request, "; ".join(dict.fromkeys(
            [str(exc.detail)] + [str(e.message) for e in exc.errors[:20]])))
    else:
        messages.success(request, _("Таблица «%(name)s» загружена: %(carrier)s, действует с "
                                    "%(date)s") % {"name": row.name or row.source,
                                                   "carrier": row.carrier_code,
                                                   "date": row.effective_from.strftime("%d.%m.%Y")})
    return redirect("tariffs:compare")
