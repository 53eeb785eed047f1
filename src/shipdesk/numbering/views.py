from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shipdesk.core.errors import NotFound, ServiceError, ValidationFailed
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, service_action
from shipdesk.numbering import selectors, services


def _context(request: ActorRequest, **extra: Any) -> dict[str, Any]:
    pools = list(selectors.pool_list(actor=request.actor))
    return {
        "pools": pools,
        "low": selectors.carriers_low(actor=request.actor),
        "remaining": selectors.remaining_by_carrier(actor=request.actor),
        "accounts": selectors.accounts_allotting_numbers(actor=request.actor),
        "carriers": selectors.carrier_choices(),
        "form": {},
        **extra,
    }


@actor_required
def pool_list(request: ActorRequest) -> HttpResponse:
    check = None
    if "number" in request.GET:
        check = services.number_check(value=request.GET["number"],
                                      carrier_code=request.GET.get("carrier_code", ""))
    return render(request, "numbering/pools.html", _context(request, check=check))


@actor_required
@require_POST
def pool_add(request: ActorRequest) -> HttpResponse:
    try:
        threshold = int(request.POST.get("low_threshold") or 1000)
    except ValueError:
        threshold = -1
    try:
        services.pool_create(
            actor=request.actor, carrier_code=request.POST.get("carrier_code", ""),
            first_number=request.POST.get("first_number", ""),
            last_number=request.POST.get("last_number", ""),
            low_threshold=threshold, comment=request.POST.get("comment", ""))
    except ServiceError as exc:
        return render(request, "numbering/pools.html", _context(
            request, form=request.POST, error=exc.detail,
            field_errors={str(e.loc[0]): e.message for e in exc.errors}), status=422)
    messages.success(request, _("Диапазон номеров добавлен"))
    return redirect("numbering:pools")


@actor_required
@require_POST
def pool_request(request: ActorRequest) -> HttpResponse:
    account_id, count = request.POST.get("account_id", ""), request.POST.get("count", "")
    try:
        if not (account_id.isdigit() and count.isdigit()):
            raise ValidationFailed(_("Выберите договор и укажите количество номеров"))
        pools = services.pools_request_from_carrier(
            actor=request.actor, carrier_account_id=int(account_id), count=int(count))
    except ServiceError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("Получено диапазонов от перевозчика: %(n)d") % {"n": len(pools)})
    return redirect("numbering:pools")


@actor_required
@require_POST
def pool_toggle(request: ActorRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_get(actor=request.actor, pool_id=pool_id)
    if pool is None:
        raise NotFound(_("Пул номеров не найден"))  # a 404 page, never another org's pool
    service_action(request, lambda: services.pool_update(
        actor=request.actor, pool_id=pool_id, is_active=not pool.is_active))
    return redirect("numbering:pools")
