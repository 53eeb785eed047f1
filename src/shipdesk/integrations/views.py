"""Integrations' pages."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shipdesk.core.errors import ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, service_action
from shipdesk.tenancy.permissions import Perm


# MoySklad
def _status_labels() -> list[tuple[str, str]]:
    from shipdesk.tracking.statuses import Status, status_label

    labels = {"numbered": _("Номер присвоен (зарегистрировано у перевозчика)")}
    from shipdesk.integrations.moysklad.services import MAPPABLE

    return [(s, str(labels.get(s) or status_label(Status(s)))) for s in MAPPABLE]


@actor_required
def moysklad(request: ActorRequest) -> HttpResponse:
    """The MoySklad connection: token, trigger state, the map of our statuses to the
    account's states, the tracking-number field; the orders that reached us and problems;
    labels of the chosen orders in one PDF."""
    from shipdesk.integrations.moysklad import selectors, services
    from shipdesk.integrations.moysklad.demo import is_sandbox

    connection = services.connection_get(actor=request.actor)
    problems = request.GET.get("problems") == "1"
    return render(request, "integrations/moysklad.html", {
        "connection": connection,
        "webhook_url": services.webhook_url(connection) if connection else "",
        "statuses": [(code, label, (connection.state_map.get(code, "") if connection else ""))
                     for code, label in _status_labels()],
        "delivery_map": "\n".join(f"{k} = {v}" for k, v in (
            connection.delivery_map.items() if connection else [])),
        "orders": selectors.order_rows(actor=request.actor, problems_only=problems, limit=200),
        "counts": selectors.order_counts(actor=request.actor), "problems": problems,
        "can_manage": request.actor.can(Perm.MANAGE_SETTINGS),
        "sandbox": is_sandbox(connection),
        "trigger_name": connection.state_name(connection.trigger_state_id) if connection else "",
    })


@require_POST
@actor_required
def moysklad_connect(request: ActorRequest) -> HttpResponse:
    from shipdesk.integrations.moysklad import services

    try:
        services.connection_connect(
            actor=request.actor, base_url=request.POST.get("base_url", "").strip(),
            token=request.POST.get("token", "").strip(),
            login=request.POST.get("login", "").strip(),
            password=request.POST.get("password", ""))
    except ServiceError as exc:
        for error in exc.errors or []:
            messages.error(request, error.message)
        if not exc.errors:
            messages.error(request, str(exc.detail or exc.title))
    else:
        messages.success(request, _("МойСклад подключён: выберите состояние-триггер"))
    return redirect("integrations:moysklad")


def _delivery_map(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            pairs[key.strip()] = value.strip()
    return pairs


@require_POST
@actor_required
def moysklad_rule(request: ActorRequest) -> HttpResponse:
    from shipdesk.integrations.moysklad import services

    post = request.POST
    try:
        services.connection_configure(
            actor=request.actor, trigger_state_id=post.get("trigger_state_id", ""),
            problem_state_id=post.get("problem_state_id", ""),
            completed_state_id=post.get("completed_state_id", ""),
            returned_state_id=post.get("returned_state_id", ""),
            state_map={code: post.get(f"map_{code}", "") for code in services.MAPPABLE},
            tracking_attribute_id=post.get("tracking_attribute_id", ""),
            delivery_attribute_id=post.get("delivery_attribute_id", ""),
            delivery_map=_delivery_map(post.get("delivery_map", "")))
    except ServiceError as exc:
        for error in exc.errors or []:
            messages.error(request, error.message)
        if not exc.errors:
            messages.error(request, str(exc.detail or exc.title))
    else:
        messages.success(request, _("Правило сохранено"))
    return redirect("integrations:moysklad")


@require_POST
@actor_required
def moysklad_accept_edit(request: ActorRequest, moysklad_order_id: int) -> HttpResponse:
    from shipdesk.integrations.moysklad import services

    service_action(request, lambda: services.order_edit_accept(actor=request.actor,
                                                               order_id=moysklad_order_id),
                   success=_("Изменения заказа приняты"))
    return redirect("integrations:moysklad")


@require_POST
@actor_required
def moysklad_labels(request: ActorRequest) -> HttpResponse:
    from shipdesk.integrations.moysklad import services

    ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
    pdf = service_action(request, lambda: services.orders_labels_pdf(actor=request.actor,
                                                                     order_ids=ids))
    if pdf is None:
        return redirect("integrations:moysklad")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="moysklad-labels.pdf"'
    return response


@require_POST
@actor_required
def moysklad_sandbox_move(request: ActorRequest) -> HttpResponse:
    """The sandbox's stand-in for MoySklad's own screen (see moysklad.demo)."""
    from shipdesk.integrations.moysklad.demo import demo_order_move

    service_action(request, lambda: demo_order_move(actor=request.actor), success=lambda n: (
        _("Заказ переведён в состояние-триггер: отправление появится через несколько секунд")
        if n else _("В песочнице не осталось новых заказов")))
    return redirect("integrations:moysklad")
