"""The shop connections' pages and the webhook endpoint: thin, every rule is in
shops/intake.py and the platform modules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shipdesk.core.errors import ServiceError
from shipdesk.core.problems import problem_response
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    confirm_page,
    confirmed,
    form_add_service_error,
    service_action,
)
from shipdesk.integrations.models import ShopPlatform
from shipdesk.integrations.shops import intake
from shipdesk.tenancy.permissions import Perm

# what each platform's settings mean (the form shows only these)
PLATFORM_FIELDS: dict[str, tuple[str, ...]] = {
    ShopPlatform.INSALES: ("trigger_status", "api_url", "api_login", "api_password",
                           "tracking_field", "order_prefix"),
    ShopPlatform.BITRIX: ("application_token", "api_url", "trigger_status", "order_prefix"),
    ShopPlatform.SHOPSCRIPT: ("trigger_status", "api_url", "api_token", "order_prefix"),
    ShopPlatform.AMOCRM: ("account_id", "pipeline_id", "trigger_status", "api_url",
                          "api_token", "tracking_field_id", "order_prefix"),
    ShopPlatform.GENERIC: ("order_prefix",),
}
HELP: dict[str, dict[str, Any]] = {
    ShopPlatform.INSALES: {"trigger_status": gettext_lazy(
        "fulfillment_status, в котором заказ отправляется (напр. accepted); пусто: сразу"),
        "api_url": gettext_lazy("https://магазин.myinsales.ru — для записи трек-номера")},
    ShopPlatform.BITRIX: {"trigger_status": gettext_lazy(
        "код статуса заказа (напр. P — оплачен); пусто: любой"),
        "api_url": gettext_lazy("REST-адрес входящего вебхука: https://портал/rest/1/ключ")},
    ShopPlatform.SHOPSCRIPT: {"trigger_status": gettext_lazy("state_id (напр. paid)"),
                              "api_url": gettext_lazy("https://магазин.ru — Webasyst API")},
    ShopPlatform.AMOCRM: {"trigger_status": gettext_lazy("status_id этапа сделки"),
                          "api_url": gettext_lazy("https://поддомен.amocrm.ru")},
}


class ConnectionForm(forms.Form):
    platform = forms.ChoiceField(label=gettext_lazy("Платформа"), choices=ShopPlatform.choices)
    name = forms.CharField(label=gettext_lazy("Название"), max_length=200)
    is_active = forms.BooleanField(label=gettext_lazy("Включено"), required=False, initial=True)
    trigger_status = forms.CharField(label=gettext_lazy("Статус, в котором создаётся отправление"),
                                     max_length=100, required=False)
    account_id = forms.CharField(label=gettext_lazy("ID аккаунта amoCRM"), max_length=30,
                                 required=False)
    pipeline_id = forms.CharField(label=gettext_lazy("ID воронки"), max_length=30,
                                  required=False)
    api_url = forms.CharField(label=gettext_lazy("Адрес API магазина"), max_length=300,
                              required=False)
    api_login = forms.CharField(label=gettext_lazy("Логин API"), max_length=200,
                                required=False)
    api_password = forms.CharField(label=gettext_lazy("Пароль API"), max_length=300,
                                   required=False, widget=forms.PasswordInput,
                                   help_text=gettext_lazy("пусто: не менять"))
    api_token = forms.CharField(label=gettext_lazy("Токен API"), max_length=2000,
                                required=False, widget=forms.PasswordInput,
                                help_text=gettext_lazy("пусто: не менять"))
    application_token = forms.CharField(
        label=gettext_lazy("Токен исходящего вебхука (application_token)"), max_length=200,
        required=False, widget=forms.PasswordInput, help_text=gettext_lazy("пусто: не менять"))
    tracking_field = forms.CharField(label=gettext_lazy("Поле заказа для трек-номера"),
                                     max_length=100, required=False)
    tracking_field_id = forms.CharField(label=gettext_lazy("ID поля сделки «Трек-номер»"),
                                        max_length=30, required=False)
    order_prefix = forms.CharField(label=gettext_lazy("Приставка к номеру заказа"),
                                   max_length=20, required=False,
                                   help_text=gettext_lazy("напр. IS- — номера разных магазинов "
                                                          "не совпадут"))


def _hook_url(request: HttpRequest, connection: Any) -> str:
    url = request.build_absolute_uri(reverse("integrations:shop_hook",
                                             args=[connection.token]))
    if connection.platform in (ShopPlatform.INSALES, ShopPlatform.AMOCRM,
                               ShopPlatform.SHOPSCRIPT):
        url += "?key=" + str(intake.connection_secrets(connection).get("secret", ""))
    return url


@actor_required
def connection_list(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    return render(request, "integrations/shops/list.html", {
        "connections": intake.shop_connection_list(actor=actor),
        "platforms": ShopPlatform.choices, "can_edit": actor.can(Perm.MANAGE_SETTINGS)})


@actor_required
def connection_detail(request: ActorRequest, shop_connection_id: int) -> HttpResponse:
    actor = request.actor
    connection = intake.shop_connection_get(actor=actor, connection_id=shop_connection_id)
    can_edit = actor.can(Perm.MANAGE_SETTINGS)
    return render(request, "integrations/shops/detail.html", {
        "connection": connection, "can_edit": can_edit,
        "hook_url": _hook_url(request, connection),
        # the key is shown to those who may change the connection
        "secret": intake.connection_secrets(connection).get("secret", "") if can_edit else "",
        "events": intake.shop_connection_events(actor=actor, connection_id=connection.pk)})


@actor_required
def connection_form(request: ActorRequest, shop_connection_id: int | None = None
                    ) -> HttpResponse:
    actor = request.actor
    connection = (intake.shop_connection_get(actor=actor, connection_id=shop_connection_id)
                  if shop_connection_id is not None else None)
    initial: dict[str, Any] = {"platform": request.GET.get("platform", "")}
    if connection is not None:
        initial = {"platform": connection.platform, "name": connection.name,
                   "is_active": connection.is_active, **(connection.config or {})}
    form = ConnectionForm(request.POST or None, initial=initial)
    if connection is not None:
        form.fields["platform"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        platform = data.pop("platform")
        try:
            if connection is None:
                data.pop("is_active")
                connection = intake.shop_connection_create(actor=actor, platform=platform,
                                                           **data)
            else:
                intake.shop_connection_update(actor=actor, connection_id=connection.pk, **data)
        except ServiceError as exc:
            if exc.status in (403, 404):
                raise
            form_add_service_error(form, exc)
        else:
            messages.success(request, _("Подключение сохранено"))
            return redirect("integrations:shop_detail", connection.pk)
    platform = connection.platform if connection else (form["platform"].value() or "")
    return render(request, "integrations/shops/form.html", {
        "form": form, "connection": connection,
        "fields": PLATFORM_FIELDS.get(platform, ()), "help": HELP.get(platform, {}),
        "platform": platform},
        status=422 if form.errors else 200)


@actor_required
@require_POST
def connection_new_secret(request: ActorRequest, shop_connection_id: int) -> HttpResponse:
    service_action(request, lambda: intake.shop_connection_new_secret(
        actor=request.actor, connection_id=shop_connection_id),
        success=_("Новый ключ выдан: обновите адрес вебхука в магазине"))
    return redirect("integrations:shop_detail", shop_connection_id)


@actor_required
def connection_delete(request: ActorRequest, shop_connection_id: int) -> HttpResponse:
    if not confirmed(request):
        connection = intake.shop_connection_get(actor=request.actor,
                                                connection_id=shop_connection_id)
        return confirm_page(
            request, title=_("Удалить подключение?"),
            message=_("Заказы из «%(name)s» больше не будут приниматься.") % {
                "name": connection.name},
            action=request.path, button=_("Удалить"), back=reverse("integrations:shops"))
    service_action(request, lambda: intake.shop_connection_delete(
        actor=request.actor, connection_id=shop_connection_id), success=_("Подключение удалено"))
    return redirect("integrations:shops")


@csrf_exempt
@require_POST
def shop_hook(request: HttpRequest, token: str) -> HttpResponse:
    """The webhook every shop platform calls (no session, no API key: the platform's own
    check, in intake)."""
    reply = intake.shop_webhook_receive(
        token=token, body=request.body, headers=request.headers,
        query=request.GET.dict(), content_type=request.content_type or "")
    if reply.problem:
        return problem_response(request, status=reply.status, code=reply.body["code"],
                                title=reply.body["title"], errors=reply.body["errors"])
    return JsonResponse(reply.body, status=reply.status)
