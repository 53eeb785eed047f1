"""Web pages: outbox, settings (rules, channels with a test-send button, templates with
preview), reports, and the public one-click unsubscribe page."""

from __future__ import annotations

import datetime as dt
import json

from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from shipdesk.core.errors import NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, service_action
from shipdesk.notifications import selectors, services
from shipdesk.notifications.defaults import DEFAULT_TEMPLATES
from shipdesk.notifications.models import Channel, Gateway, MessageStatus, RuleKind
from shipdesk.notifications.rendering import MACROS
from shipdesk.tenancy.permissions import Perm


def _error_text(exc: ServiceError) -> str:
    parts = [str(exc.detail or exc.title)] + [e.message for e in exc.errors]
    return "; ".join(p for p in parts if p)


@actor_required
def outbox(request: ActorRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    before = request.GET.get("before")
    items = selectors.outbox_list(actor=request.actor, status=status,
                                  before_id=int(before) if before and before.isdigit() else None,
                                  limit=50)
    return render(request, "notifications/outbox.html", {
        "items": items, "status": status, "statuses": MessageStatus.choices,
        "next_before": items[-1].pk if len(items) == 50 else None})


@actor_required
@require_POST
def requeue(request: ActorRequest, message_id: int) -> HttpResponse:
    service_action(request, lambda: services.outbox_requeue(
        actor=request.actor, message_id=message_id), success=_("Сообщение поставлено в очередь"))
    return redirect("notifications:outbox")


@actor_required
@require_POST
def suppression_remove(request: ActorRequest, suppression_id: int) -> HttpResponse:
    service_action(request, lambda: services.suppression_remove(
        actor=request.actor, suppression_id=suppression_id),
        success=_("Уведомления получателю снова включены"))
    return redirect("notifications:settings")


@actor_required
def settings_page(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    conf = services.settings_ensure(organization=actor.organization)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "settings":  # the general settings and every rule: one form
                with transaction.atomic():
                    _settings_and_rules_save(request)
            elif action == "rule":
                _rule_save(request, kind=request.POST["kind"], prefix="")
            elif action == "channel":
                gateway = request.POST["gateway"]
                config = {k[4:]: v for k, v in request.POST.items() if k.startswith("cfg_")}
                services.channel_config_save(actor=actor, gateway=gateway, config=config,
                                             enabled=request.POST.get("enabled") == "on")
            elif action == "suppress":
                services.suppression_add(actor=actor, channel=request.POST.get("channel", ""),
                                         address=request.POST.get("address", ""))
            elif action == "test":
                result = services.channel_test_send(actor=actor,
                                                    gateway=request.POST["gateway"],
                                                    to=request.POST.get("to", ""))
                messages.success(request, result)
                return redirect("notifications:settings")
            messages.success(request, _("Сохранено"))
        except ServiceError as exc:
            messages.error(request, _error_text(exc))
        except (ValueError, KeyError):
            messages.error(request, _("Проверьте заполнение полей"))
        return redirect("notifications:settings")
    return render(request, "notifications/settings.html", {
        "conf": conf, "rules": [(rule, _channel_choices(rule.channels))
                                for rule in selectors.rules_list(actor=actor)],
        "channels": {c.gateway: c for c in selectors.channels_list(actor=actor)},
        "gateways": Gateway.choices, "q": request.GET.get("q", ""),
        # the addresses carry their secret tokens: owners only
        "callback_urls": {c.gateway: services.callback_url(c.gateway, c.callback_token)
                          for c in selectors.channels_list(actor=actor) if c.callback_token}
        if actor.can(Perm.VIEW_SECRETS) else {},
        "suppressions": selectors.suppressions_list(actor=actor, q=request.GET.get("q", ""))})


def _channel_choices(chosen: list[str]) -> list[tuple[str, str, bool]]:
    """A rule's channels as checkboxes: the chosen ones first, in their order (the order
    counts: with «only the first available» the first one that reaches the recipient wins),
    then the others."""
    labels = dict(Channel.choices)
    order = [c for c in chosen if c in labels] + [c for c in labels if c not in chosen]
    return [(c, str(labels[c]), c in chosen) for c in order]


def _settings_and_rules_save(request: ActorRequest) -> None:
    post = request.POST
    services.settings_update(
        actor=request.actor,
        window_start=dt.time.fromisoformat(post["window_start"]),
        window_end=dt.time.fromisoformat(post["window_end"]),
        sms_segment_warn=int(post["sms_segment_warn"]),
        sms_segment_limit=int(post["sms_segment_limit"]),
        review_url=post.get("review_url", ""),
        shop_phone=post.get("shop_phone", ""),
        staff_email=post.get("staff_email", ""),
        sms_gateway=post.get("sms_gateway", ""))
    for kind in RuleKind.values:
        if f"rule-{kind}" in post:  # the rule's row was on the form
            _rule_save(request, kind=kind, prefix=f"rule-{kind}-")


def _rule_save(request: ActorRequest, *, kind: str, prefix: str) -> None:
    """One rule from the form: its fields named ``prefix + name``; the channels ticked, in
    the order the form lists them (or a comma-separated ``channels`` field)."""
    post = request.POST
    channels = [c for c in post.getlist(f"{prefix}channel") if c]
    if not channels:
        channels = [c for c in post.get(f"{prefix}channels", "").replace(" ", "").split(",") if c]
    services.rule_update(
        actor=request.actor, kind=kind, enabled=post.get(f"{prefix}enabled") == "on",
        channels=channels, fallback=post.get(f"{prefix}fallback") == "on",
        interval_days=int(post.get(f"{prefix}interval_days") or 5))


@actor_required
def template_edit(request: ActorRequest, rule: str, channel: str) -> HttpResponse:
    actor = request.actor
    if rule not in RuleKind.values or channel not in Channel.values:
        return render(request, "notifications/error.html",
                      {"message": _("Нет такого шаблона")}, status=404)
    subject, body = services.template_source(organization_id=actor.organization_id, rule=rule,
                                             channel=channel)
    errors: list[str] = []
    preview = None
    if request.method == "POST":
        subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
        try:
            if request.POST.get("action") == "save":
                services.template_save(actor=actor, rule=rule, channel=channel, subject=subject,
                                       body=body)
                messages.success(request, _("Шаблон сохранён"))
                return redirect("notifications:template", rule=rule, channel=channel)
            preview = services.template_preview(actor=actor, channel=channel, subject=subject,
                                                body=body)
        except ServiceError as exc:
            errors = [e.message for e in exc.errors] or [str(exc.detail)]
    return render(request, "notifications/template.html", {
        "rule": RuleKind(rule), "channel": Channel(channel), "subject": subject, "body": body,
        "errors": errors, "preview": preview, "macros": MACROS,
        "default": DEFAULT_TEMPLATES[(rule, channel)]})


@actor_required
def templates_index(request: ActorRequest) -> HttpResponse:
    saved = {(t.rule, t.channel) for t in selectors.templates_list(actor=request.actor)}
    rows = [{"rule": r, "channels": [(c, (r.value, c.value) in saved) for c in Channel]}
            for r in RuleKind]
    return render(request, "notifications/templates.html", {"rows": rows})


@actor_required
def reports(request: ActorRequest) -> HttpResponse:
    return render(request, "notifications/reports.html",
                  {"report": selectors.notifications_report(actor=request.actor),
                   "rules": dict(RuleKind.choices)})


@csrf_exempt  # a gateway's server calls it, with the account's secret token in the URL
@require_POST
def delivery_callback(request: HttpRequest, gateway: str, token: str) -> HttpResponse:
    body = None
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return HttpResponse("bad json", status=400, content_type="text/plain")
    try:
        services.delivery_callback(gateway=gateway, token=token, form=request.POST.dict(),
                                   body=body)
    except NotFound:
        return HttpResponse("not found", status=404, content_type="text/plain")
    # what each gateway expects back: sms.ru "100", the others any 200
    answer = "100" if gateway == Gateway.SMSRU else "OK"
    return HttpResponse(answer, content_type="text/plain")


@csrf_exempt  # opened from an SMS, without our cookie
def short_unsubscribe(request: HttpRequest, code: str) -> HttpResponse:
    """GET asks, POST unsubscribes: messengers fetch links in SMS for previews, and a
    preview must not switch anybody off."""
    try:
        if request.method != "POST":
            link = services.short_link_get(code=code)
            return render(request, "notifications/unsubscribe_confirm.html", {
                "shop": link.organization.name, "address": _masked(link.address)})
        org, channel, address = services.unsubscribe_by_code(code=code)
    except NotFound:
        return render(request, "notifications/unsubscribe_invalid.html", status=404)
    return render(request, "notifications/unsubscribed.html",
                  {"shop": org.name, "address": address, "channel": Channel(channel).label})


def _masked(phone: str) -> str:
    """+7 900 ***-**-67: enough for the owner to recognise, little for anybody else."""
    return f"+{phone[:1]} {phone[1:4]} ***-**-{phone[-2:]}" if len(phone) >= 6 else phone


@csrf_exempt  # RFC 8058 one-click POST comes from the mail client, without our cookie
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link in every e-mail. Mail security scanners open every link of a message,
    so a GET changes nothing: its page posts itself back at once (the buyer's one click is
    enough; a fetch that runs no script does nothing), with a button when scripts are off.
    A POST unsubscribes — the page's, or a mail client's RFC 8058 one-click
    (``List-Unsubscribe=One-Click``), which carries no CSRF token."""
    try:
        if request.method != "POST":
            org, channel, address = services.unsubscribe_target(token=token)
            return render(request, "notifications/unsubscribe_email.html",
                          {"shop": org.name, "address": address})
        org, channel, address = services.unsubscribe_by_token(token=token)
    except signing.BadSignature:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    except ServiceError:
        return render(request, "notifications/unsubscribe_invalid.html", status=404)
    return render(request, "notifications/unsubscribed.html",
                  {"shop": org.name, "address": address, "channel": Channel(channel).label})
