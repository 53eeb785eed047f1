"""Carrier account pages: thin, every rule is in services/selectors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shipdesk.carriers import registry, selectors, services
from shipdesk.carriers.names import carrier_name, credential_label
from shipdesk.core.errors import Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    confirm_page,
    confirmed,
    message_service_error,
)
from shipdesk.tenancy.permissions import Perm


class AccountForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Название"), max_length=100)
    base_url = forms.CharField(label=gettext_lazy("Адрес API"), max_length=300, required=False)
    is_active = forms.BooleanField(label=gettext_lazy("Активен"), required=False, initial=True)

    def __init__(self, *args: Any, adapter_cls: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credential_names = []
        for name, label, secret in adapter_cls.credential_fields:
            key = f"cred_{name}"
            widget = forms.PasswordInput(render_value=False) if secret else forms.TextInput()
            help_text = _("Оставьте пустым, чтобы не менять") if editing and secret else ""
            self.fields[key] = forms.CharField(
                label=credential_label(label), widget=widget, help_text=help_text,
                required=not editing and name not in adapter_cls.optional_credentials,
            )
            self.credential_names.append(name)
        if not editing:
            del self.fields["is_active"]

    def credentials(self) -> dict[str, str]:
        return {name: self.cleaned_data.get(f"cred_{name}", "") for name in self.credential_names}

    def add_service_error(self, exc: ServiceError) -> None:
        placed = False
        for error in exc.errors:
            loc = [str(x) for x in error.loc]
            field = (
                f"cred_{loc[1]}" if loc[:1] == ["credentials"] and len(loc) > 1 else (loc[0] if loc else "")
            )
            if field in self.fields:
                self.add_error(field, str(error.message))
                placed = True
            else:
                self.add_error(None, str(error.message))
        if not placed and (exc.detail or not exc.errors):
            self.add_error(None, str(exc.detail or exc.title))


def _adapter_cls(code: str) -> Any:
    try:
        return registry.adapter_class(code)
    except registry.UnknownCarrier:
        raise Http404 from None


@actor_required
def account_list(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    accounts = [selectors.carrier_account_public(a) for a in selectors.carrier_account_list(actor=actor)]
    return render(
        request,
        "carriers/accounts.html",
        {
            "accounts": accounts,
            "carriers": selectors.carrier_choices(),
            "can_edit": actor.can(Perm.MANAGE_SETTINGS),
        },
    )


@actor_required
def account_create(request: ActorRequest, carrier_code: str) -> HttpResponse:
    actor = request.actor
    adapter_cls = _adapter_cls(carrier_code)
    form = AccountForm(
        request.POST or None,
        adapter_cls=adapter_cls,
        initial={"name": carrier_name(carrier_code), "base_url": adapter_cls.default_base_url},
    )
    if request.method == "POST" and form.is_valid():
        try:
            account = services.carrier_account_create(
                actor=actor,
                carrier_code=carrier_code,
                name=form.cleaned_data["name"],
                base_url=form.cleaned_data["base_url"],
                credentials=form.credentials(),
            )
        except Forbidden as exc:
            return render(request, "carriers/forbidden.html", {"message": str(exc.detail)}, status=403)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Договор подключён. Проверьте соединение."))
            return redirect("carriers:account", account_id=account.pk)
    return render(
        request,
        "carriers/account_form.html",
        {"form": form, "carrier_name": carrier_name(carrier_code), "account": None},
        status=422 if form.errors else 200,
    )


@actor_required
def account_detail(request: ActorRequest, account_id: int) -> HttpResponse:
    actor = request.actor
    try:
        account = selectors.carrier_account_get(actor=actor, account_id=account_id)
    except NotFound:
        raise Http404 from None
    adapter_cls = _adapter_cls(account.carrier_code)
    public = selectors.carrier_account_public(account)
    initial = {
        "name": account.name,
        "base_url": account.base_url,
        "is_active": account.is_active,
        # logins and ids too are for the owners' eyes only
        **({f"cred_{k}": v for k, v in public["credentials_shown"].items()}
           if actor.can(Perm.VIEW_SECRETS) else {}),
    }
    form = AccountForm(request.POST or None, adapter_cls=adapter_cls, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.carrier_account_update(
                actor=actor,
                account_id=account.pk,
                name=form.cleaned_data["name"],
                base_url=form.cleaned_data["base_url"],
                credentials=form.credentials(),
                is_active=form.cleaned_data["is_active"],
            )
        except Forbidden as exc:
            return render(request, "carriers/forbidden.html", {"message": str(exc.detail)}, status=403)
        except ServiceError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, _("Сохранено"))
            return redirect("carriers:account", account_id=account.pk)
    return render(
        request,
        "carriers/account_form.html",
        {
            "form": form,
            "carrier": adapter_cls,
            "account": public,
            "webhook_url": request.build_absolute_uri(f"/api/v1/carriers/webhooks/{account.webhook_token}")
            if actor.can(Perm.VIEW_SECRETS)
            else "",
            "exchanges": selectors.carrier_exchange_list(actor=actor, account_id=account.pk, limit=20),
        },
        status=422 if form.errors else 200,
    )


@actor_required
@require_POST
def account_test(request: ActorRequest, account_id: int) -> HttpResponse:
    actor = request.actor
    try:
        check = services.carrier_account_test(actor=actor, account_id=account_id)
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        if request.htmx:
            return render(
                request, "carriers/_check.html", {"check": {"ok": False, "message": str(exc.detail)}}
            )
        message_service_error(request, exc)
        return redirect("carriers:account", account_id=account_id)
    if request.htmx:
        return render(request, "carriers/_check.html", {"check": check})
    (messages.success if check.ok else messages.error)(request, check.message)
    return redirect("carriers:account", account_id=account_id)


@actor_required
def account_delete(request: ActorRequest, account_id: int) -> HttpResponse:
    actor = request.actor
    if not confirmed(request):
        try:
            account = selectors.carrier_account_get(actor=actor, account_id=account_id)
        except NotFound:
            raise Http404 from None
        return confirm_page(
            request, title=_("Удалить договор?"),
            message=_("Договор «%(name)s» будет удалён вместе с его ключами доступа.") % {
                "name": account.name},
            action=request.path, button=_("Удалить договор"),
            back=reverse("carriers:account", args=[account_id]))
    try:
        services.carrier_account_delete(actor=actor, account_id=account_id)
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        message_service_error(request, exc)
        return redirect("carriers:account", account_id=account_id)
    messages.success(request, _("Договор удалён"))
    return redirect("carriers:accounts")


@actor_required
def exchange_list(request: ActorRequest) -> HttpResponse:
    actor = request.actor

    def number(name: str) -> int | None:
        value = request.GET.get(name, "")
        return int(value) if value.isdigit() else None

    rows = selectors.carrier_exchange_list(
        actor=actor, account_id=number("account"), shipment_id=number("shipment"), limit=200
    )
    return render(
        request,
        "carriers/exchanges.html",
        {"rows": rows, "account_id": number("account"), "shipment_id": number("shipment")},
    )


@actor_required
def exchange_detail(request: ActorRequest, exchange_id: int) -> HttpResponse:
    try:
        row = selectors.carrier_exchange_get(actor=request.actor, exchange_id=exchange_id)
    except NotFound:
        raise Http404 from None
    return render(request, "carriers/exchange.html", {"row": row})
