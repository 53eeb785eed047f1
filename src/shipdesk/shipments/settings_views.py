"""Pages «Отправители» and «Правила выбора перевозчика»: thin, every rule is in
shipments/senders.py and shipments/delivery_rules.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from shipdesk.carriers import selectors as carrier_selectors
from shipdesk.carriers.names import service_choices, service_name
from shipdesk.core.errors import ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    confirm_page,
    confirmed,
    form_add_service_error,
    service_action,
)
from shipdesk.shipments import delivery_rules as rules
from shipdesk.shipments import senders
from shipdesk.shipments.models import DeliveryRule
from shipdesk.tenancy.permissions import Perm

# --- senders -------------------------------------------------------------------------------


class SenderForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Название"), max_length=200,
                           help_text=gettext_lazy("напр. «Склад на Мясницкой»"))
    company = forms.CharField(label=gettext_lazy("Организация"), max_length=300, required=False)
    contact_name = forms.CharField(label=gettext_lazy("Контактное лицо"), max_length=200,
                                   required=False)
    phone = forms.CharField(label=gettext_lazy("Телефон"), max_length=40, required=False)
    email = forms.CharField(label=gettext_lazy("E-mail"), max_length=254, required=False)
    index = forms.CharField(label=gettext_lazy("Индекс"), max_length=10)
    region = forms.CharField(label=gettext_lazy("Регион"), max_length=200, required=False,
                             help_text=gettext_lazy("пусто: по индексу"))
    district = forms.CharField(label=gettext_lazy("Район"), max_length=200, required=False)
    city = forms.CharField(label=gettext_lazy("Населённый пункт"), max_length=200)
    street = forms.CharField(label=gettext_lazy("Улица"), max_length=200, required=False)
    house = forms.CharField(label=gettext_lazy("Дом"), max_length=50, required=False)
    building = forms.CharField(label=gettext_lazy("Корпус/строение"), max_length=50,
                               required=False)
    apartment = forms.CharField(label=gettext_lazy("Квартира/офис"), max_length=50,
                                required=False)
    drop_off_point = forms.CharField(
        label=gettext_lazy("Место сдачи"), max_length=64, required=False,
        help_text=gettext_lazy("индекс отделения или код пункта перевозчика, где сдаются "
                               "отправления; пусто: индекс отправителя"))


@actor_required
def sender_list(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    return render(request, "shipments/settings/senders.html", {
        "senders": senders.sender_list(actor=actor),
        "can_edit": actor.can(Perm.MANAGE_SETTINGS),
    })


@actor_required
def sender_form(request: ActorRequest, sender_profile_id: int | None = None) -> HttpResponse:
    actor = request.actor
    sender = (senders.sender_get(actor=actor, sender_id=sender_profile_id)
              if sender_profile_id is not None else None)
    initial = ({name: getattr(sender, name) for name in senders.SENDER_FIELDS}
               if sender is not None else {})
    form = SenderForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if sender is None:
                senders.sender_create(actor=actor, **form.cleaned_data)
            else:
                senders.sender_update(actor=actor, sender_id=sender.pk, **form.cleaned_data)
        except ServiceError as exc:
            if exc.status in (403, 404):
                raise
            form_add_service_error(form, exc)
        else:
            messages.success(request, _("Отправитель сохранён"))
            return redirect("shipments:senders")
    return render(request, "shipments/settings/sender_form.html",
                  {"form": form, "sender": sender}, status=422 if form.errors else 200)


@actor_required
def sender_delete(request: ActorRequest, sender_profile_id: int) -> HttpResponse:
    if not confirmed(request):
        sender = senders.sender_get(actor=request.actor, sender_id=sender_profile_id)
        return confirm_page(
            request, title=_("Удалить отправителя?"),
            message=_("Адрес отправителя «%(name)s» будет удалён.") % {"name": sender.name},
            action=request.path, button=_("Удалить"), back=reverse("shipments:senders"))
    service_action(request, lambda: senders.sender_delete(
        actor=request.actor, sender_id=sender_profile_id), success=_("Отправитель удалён"))
    return redirect("shipments:senders")


@actor_required
@require_POST
def sender_default(request: ActorRequest, sender_profile_id: int) -> HttpResponse:
    service_action(request, lambda: senders.sender_set_default(
        actor=request.actor, sender_id=sender_profile_id),
        success=lambda s: _("«%(name)s» — отправитель по умолчанию") % {"name": s.name})
    return redirect("shipments:senders")


# --- delivery rules ------------------------------------------------------------------------

NOTIFY_CHOICES = [
    ("", gettext_lazy("как в настройках уведомлений")),
    ("sms", gettext_lazy("только SMS")), ("email", gettext_lazy("только e-mail")),
    ("sms,email", gettext_lazy("SMS и e-mail")), ("none", gettext_lazy("не уведомлять")),
]
DRY_RUN_LABELS = {
    "weight_g": gettext_lazy("вес, г"), "length_cm": gettext_lazy("длина, см"),
    "width_cm": gettext_lazy("ширина, см"), "height_cm": gettext_lazy("высота, см"),
    "declared_value": gettext_lazy("объявленная ценность, ₽"),
    "sender_id": gettext_lazy("отправитель"), "options": gettext_lazy("доп. услуги"),
}

class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Название"), max_length=200)
    index_prefixes = forms.CharField(
        label=gettext_lazy("Индексы получателя начинаются с"), max_length=500, required=False,
        help_text=gettext_lazy("через запятую, напр. 101, 102, 190; пусто: любые"))
    min_weight_g = forms.IntegerField(label=gettext_lazy("Вес от, г"), min_value=0,
                                      required=False)
    max_weight_g = forms.IntegerField(label=gettext_lazy("Вес до, г"), min_value=0,
                                      required=False)
    cod = forms.ChoiceField(label=gettext_lazy("Наложенный платёж"),
                            choices=DeliveryRule.Cod.choices, required=False)
    delivery = forms.ChoiceField(label=gettext_lazy("Доставка"),
                                 choices=DeliveryRule.Delivery.choices, required=False)
    destination = forms.ChoiceField(label=gettext_lazy("Направление"),
                                    choices=DeliveryRule.Destination.choices, required=False)
    carrier_account_id = forms.TypedChoiceField(label=gettext_lazy("Договор с перевозчиком"),
                                                coerce=int)
    service_code = forms.ChoiceField(
        label=gettext_lazy("Вид отправления / тариф"), required=False,
        help_text=gettext_lazy("пусто: вид по умолчанию у договора"))
    is_active = forms.BooleanField(label=gettext_lazy("Действует"), required=False, initial=True)
    sources = forms.MultipleChoiceField(
        label=gettext_lazy("Откуда заказ"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=list(rules.SOURCE_NAMES.items()), help_text=gettext_lazy("ничего не отмечено: откуда угодно"))
    min_value = forms.DecimalField(label=gettext_lazy("Сумма заказа от, ₽"), min_value=0,
                                   decimal_places=2, required=False)
    max_value = forms.DecimalField(label=gettext_lazy("Сумма заказа до, ₽"), min_value=0,
                                   decimal_places=2, required=False)
    default_weight_g = forms.IntegerField(
        label=gettext_lazy("Вес, если в заказе нет, г"), min_value=1, required=False)
    default_length_cm = forms.IntegerField(label=gettext_lazy("Упаковка: длина, см"),
                                           min_value=1, required=False)
    default_width_cm = forms.IntegerField(label=gettext_lazy("Упаковка: ширина, см"),
                                          min_value=1, required=False)
    default_height_cm = forms.IntegerField(label=gettext_lazy("Упаковка: высота, см"),
                                           min_value=1, required=False,
                                           help_text=gettext_lazy("если в заказе размеров нет"))
    options = forms.MultipleChoiceField(
        label=gettext_lazy("Доп. услуги"), required=False, widget=forms.CheckboxSelectMultiple)
    insure = forms.BooleanField(
        label=gettext_lazy("Объявленная ценность = сумма заказа"), required=False,
        help_text=gettext_lazy("страховка, если в заказе ценность не указана"))
    sender_id = forms.TypedChoiceField(label=gettext_lazy("Отправитель"), coerce=int,
                                       required=False, empty_value=None)
    notify = forms.ChoiceField(label=gettext_lazy("Уведомления получателю"), required=False,
                               choices=NOTIFY_CHOICES)

    def __init__(self, *args: Any, accounts: list[Any], senders: list[Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["options"].choices = [  # type: ignore[attr-defined]
            (key, rules.option_name(key)) for key in rules.RULE_OPTIONS]
        self.fields["sender_id"].choices = [("", _("из заказа или по умолчанию"))] + [  # type: ignore[attr-defined]
            (s.pk, s.name) for s in senders or []]
        field = self.fields["carrier_account_id"]
        field.choices = [("", "—")] + [  # type: ignore[attr-defined]
            (a.pk, a.name if a.is_active else _("%(name)s (отключён)") % {"name": a.name})
            for a in accounts]
        # the mail types and tariffs of the accounts' carriers, by name (a stored code no
        # carrier lists any more stays choosable)
        codes: dict[str, list[str]] = {}
        for (carrier, code) in rules.service_names():
            codes.setdefault(carrier, []).append(code)
        for account in accounts:
            codes.setdefault(account.carrier_code, [])
        groups: list[Any] = [("", "—"), *service_choices(
            {c: v for c, v in codes.items() if c in {a.carrier_code for a in accounts}})]
        current = self.data.get("service_code") or self.initial.get("service_code") or ""
        if current and not any(current == code for _n, options in groups[1:] for code, _l in options):
            groups.append((current, service_name(current)))
        self.fields["service_code"].choices = groups  # type: ignore[attr-defined]


CONDITION_FIELDS = ("index_prefixes", "min_weight_g", "max_weight_g", "cod", "delivery",
                    "destination", "sources", "min_value", "max_value")
ACTION_FIELDS = ("carrier_account_id", "service_code", "default_weight_g", "default_length_cm",
                 "default_width_cm", "default_height_cm", "options", "insure", "sender_id",
                 "notify")


def _rules_context(actor: Any) -> dict[str, Any]:
    names = rules.service_names()
    rows = []
    for rule in rules.delivery_rule_list(actor=actor):
        facts = rules.delivery_rule_facts(rule)
        rows.append({"rule": rule, "facts": facts,
                     "text": rules.rule_describe(facts, service_names=names)})
    return {"rows": rows, "can_edit": actor.can(Perm.MANAGE_SETTINGS)}


@actor_required
def rule_list(request: ActorRequest) -> HttpResponse:
    return render(request, "shipments/settings/rules.html", _rules_context(request.actor))


@actor_required
def rule_form(request: ActorRequest, delivery_rule_id: int | None = None) -> HttpResponse:
    actor = request.actor
    rule = (rules.delivery_rule_get(actor=actor, rule_id=delivery_rule_id)
            if delivery_rule_id is not None else None)
    initial: dict[str, Any] = {}
    if rule is not None:
        initial = {name: getattr(rule, name) for name in rules.RULE_FIELDS}
        initial["index_prefixes"] = rule.index_prefixes.replace(",", ", ")
        initial["sources"] = [s for s in rule.sources.split(",") if s]
        initial["options"] = sorted(rule.options or {})
        initial["notify"] = ("" if rule.notify_channels is None
                             else ",".join(rule.notify_channels) or "none")
    accounts = list(carrier_selectors.carrier_account_list(actor=actor))
    form = RuleForm(request.POST or None, initial=initial, accounts=accounts,
                    senders=list(senders.sender_list(actor=actor)))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        notify = data.pop("notify") or ""
        data["notify_channels"] = (None if not notify else
                                   [] if notify == "none" else notify.split(","))
        try:
            if rule is None:
                rules.delivery_rule_create(actor=actor, **data)
            else:
                rules.delivery_rule_update(actor=actor, rule_id=rule.pk, **data)
        except ServiceError as exc:
            if exc.status in (403, 404):
                raise
            form_add_service_error(form, exc)
        else:
            messages.success(request, _("Правило сохранено"))
            return redirect("shipments:delivery_rules")
    return render(request, "shipments/settings/rule_form.html", {
        "form": form, "rule": rule, "has_accounts": bool(accounts),
        "condition_fields": [form[name] for name in CONDITION_FIELDS],
        "action_fields": [form[name] for name in ACTION_FIELDS]},
                  status=422 if form.errors else 200)


@actor_required
def rule_dry_run(request: ActorRequest) -> HttpResponse:
    """The rules tried on the last N orders: which would match each and what it would set;
    nothing is changed."""
    raw = request.GET.get("limit", "")
    limit = int(raw) if raw.isdecimal() else 50
    limit = max(1, min(limit, rules.DRY_RUN_MAX))
    rows = rules.delivery_rules_dry_run(actor=request.actor, limit=limit)
    labels = {name: str(DRY_RUN_LABELS.get(name, name)) for row in rows for name in row.fills}
    return render(request, "shipments/settings/rules_dry_run.html", {
        "rows": [{"row": row, "source": str(rules.SOURCE_NAMES.get(row.source, row.source)),
                  "fills": [
            (labels[k], row.rule.sender_name if k == "sender_id" and row.rule else _fill_text(v))
            for k, v in row.fills.items()]} for row in rows],
        "limit": limit, "matched": sum(1 for r in rows if r.rule is not None)})


def _fill_text(value: Any) -> str:
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if key == "notify_channels":
                parts.append(_("уведомления: %(list)s") % {"list": ", ".join(
                    str(rules.NOTIFY_CHANNELS.get(c, c)) for c in item) or _("не отправлять")})
            else:
                parts.append(rules.option_name(key) if item is True
                             else f"{key}: {item}")
        return ", ".join(parts)
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    return str(value)


@actor_required
def rule_delete(request: ActorRequest, delivery_rule_id: int) -> HttpResponse:
    if not confirmed(request):
        rule = rules.delivery_rule_get(actor=request.actor, rule_id=delivery_rule_id)
        return confirm_page(
            request, title=_("Удалить правило?"),
            message=_("Правило выбора перевозчика «%(name)s» будет удалено.") % {
                "name": rules.rule_describe(rules.delivery_rule_facts(rule))},
            action=request.path, button=_("Удалить"),
            back=reverse("shipments:delivery_rules"))
    service_action(request, lambda: rules.delivery_rule_delete(
        actor=request.actor, rule_id=delivery_rule_id), success=_("Правило удалено"))
    return redirect("shipments:delivery_rules")


@actor_required
@require_POST
def rule_move(request: ActorRequest, delivery_rule_id: int) -> HttpResponse:
    """«↑» / «↓» (``direction=up|down``) or a given ``position``; htmx gets the table back."""
    actor = request.actor
    position = request.POST.get("position", "")
    if position.isdecimal():
        service_action(request, lambda: rules.delivery_rule_move(
            actor=actor, rule_id=delivery_rule_id, position=int(position)))
    else:
        up = request.POST.get("direction") != "down"
        service_action(request, lambda: rules.delivery_rule_step(
            actor=actor, rule_id=delivery_rule_id, up=up))
    if request.htmx:
        return render(request, "shipments/settings/_rules.html", _rules_context(actor))
    return redirect("shipments:delivery_rules")
