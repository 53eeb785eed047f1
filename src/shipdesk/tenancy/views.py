"""Web pages of the organization: thin, every rule is in ``services``."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shipdesk.core.errors import Forbidden, NotFound, ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import (
    actor_required,
    confirm_page,
    confirmed,
    forbidden_page,
    form_add_service_error,
    message_service_error,
    service_action,
)
from shipdesk.shipments import selectors as shipment_selectors
from shipdesk.tenancy import selectors, services
from shipdesk.tenancy.checklist import setup_checklist
from shipdesk.tenancy.forms import (
    AcceptNewUserForm,
    ApiKeyForm,
    InvitationForm,
    OrganizationCreateForm,
    OrganizationForm,
    RoleForm,
)
from shipdesk.tenancy.middleware import SESSION_ORGANIZATION_KEY
from shipdesk.tenancy.models import Role
from shipdesk.tenancy.permissions import Perm

AUDIT_PAGE_SIZE = 50
DASHBOARD_PERIODS = ("7", "30", "90")


@actor_required
def dashboard(request: ActorRequest) -> HttpResponse:
    # the period of the tiles: the last 7 / 30 / 90 days or all time; each tile links to
    # the shipments list with the same filter
    period = request.GET.get("period", "")
    days = int(period) if period in DASHBOARD_PERIODS else None
    today = timezone.now().astimezone(request.actor.organization.zone).date()
    since = today - timedelta(days=days - 1) if days else None
    counts = shipment_selectors.shipment_counts_by_state(actor=request.actor, since=since)
    steps = setup_checklist(actor=request.actor)
    return render(request, "tenancy/dashboard.html", {
        "counts": counts, "period": period, "periods": DASHBOARD_PERIODS,
        "since": since.isoformat() if since else "",
        "steps": steps if not all(step.done for step in steps) else [],
        "steps_done": sum(step.done for step in steps),
        "total": sum(c["count"] for c in counts),
        "members": selectors.membership_list(actor=request.actor).count(),
    })


@login_required
@require_POST
def organization_switch(request: HttpRequest) -> HttpResponse:
    organization_id = request.POST.get("organization_id", "")
    if organization_id.isdigit() and selectors.organizations_of_user(user=request.user).filter(
        pk=int(organization_id)).exists():
        request.session[SESSION_ORGANIZATION_KEY] = int(organization_id)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("dashboard")
    return HttpResponseRedirect(next_url)


# --- organization details ---------------------------------------------------------------

@actor_required
def organization_settings(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    can_edit = actor.can(Perm.MANAGE_SETTINGS)
    form = OrganizationForm(request.POST or None, instance=actor.organization)
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    if request.method == "POST":
        if not can_edit:
            return forbidden_page(request, Forbidden())
        if form.is_valid():
            try:
                services.organization_update(actor=actor, **{
                    name: form.cleaned_data[name] for name in form.fields})
            except ServiceError as exc:
                form_add_service_error(form, exc)
            else:
                messages.success(request, _("Реквизиты сохранены"))
                return redirect("tenancy:settings")
    return render(request, "tenancy/settings.html", {"form": form, "can_edit": can_edit,
                                                     "section": "settings"},
                  status=422 if form.errors else 200)


# --- members and invitations ------------------------------------------------------------

@actor_required
def member_list(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    can_manage = actor.can(Perm.MANAGE_MEMBERS)
    form = InvitationForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if form is None:
            return forbidden_page(request, Forbidden())
        if form.is_valid():
            try:
                invitation, _token = services.invitation_create(
                    actor=actor, email=form.cleaned_data["email"], role=form.cleaned_data["role"])
            except ServiceError as exc:
                form_add_service_error(form, exc)
            else:
                messages.success(request, _("Приглашение отправлено на %(email)s") % {
                    "email": invitation.email})
                return redirect("tenancy:members")
    return render(request, "tenancy/members.html", {
        "memberships": selectors.membership_list(actor=actor).order_by("user__username"),
        "invitations": selectors.invitation_list(actor=actor).order_by("-created_at")
        if can_manage else [],
        "form": form, "can_manage": can_manage, "roles": Role.choices, "section": "members",
    }, status=422 if form is not None and form.errors else 200)


@actor_required
@require_POST
def member_set_role(request: ActorRequest, membership_id: int) -> HttpResponse:
    form = RoleForm(request.POST)
    role = form.cleaned_data["role"] if form.is_valid() else request.POST.get("role", "")
    service_action(request, lambda: services.membership_set_role(
        actor=request.actor, membership_id=membership_id, role=role), success=_("Роль изменена"))
    return redirect("tenancy:members")


@actor_required
def member_remove(request: ActorRequest, membership_id: int) -> HttpResponse:
    if not confirmed(request):
        member = selectors.membership_list(actor=request.actor).filter(pk=membership_id).first()
        if member is None:
            raise NotFound(_("Участник не найден"))
        return confirm_page(
            request, title=_("Удалить участника?"),
            message=_("%(user)s больше не войдёт в организацию «%(org)s».") % {
                "user": member.user.get_username(), "org": request.actor.organization.name},
            action=request.path, button=_("Удалить из организации"),
            back=reverse("tenancy:members"))
    service_action(request, lambda: services.membership_remove(
        actor=request.actor, membership_id=membership_id),
        success=_("Участник удалён из организации"))
    return redirect("tenancy:members")


@actor_required
@require_POST
def invitation_revoke(request: ActorRequest, invitation_id: int) -> HttpResponse:
    service_action(request, lambda: services.invitation_revoke(
        actor=request.actor, invitation_id=invitation_id), success=_("Приглашение отозвано"))
    return redirect("tenancy:members")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The page the e-mailed link opens: join as the logged-in user, or make an account."""
    try:
        invitation = services.invitation_get_valid(token=token)
    except NotFound:
        return render(request, "tenancy/invitation_invalid.html", status=404)
    user_exists = services.user_exists(email=invitation.email)
    form = None
    if not request.user.is_authenticated and not user_exists:
        form = AcceptNewUserForm(request.POST or None)
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                membership = services.invitation_accept(token=token, user=request.user)
            elif form is not None and form.is_valid():
                membership = services.invitation_accept_new_user(
                    token=token, password=form.cleaned_data["password"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"])
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                membership = None
        except ServiceError as exc:
            if form is None:
                message_service_error(request, exc)
                return redirect("tenancy:invitation_accept", token=token)
            form_add_service_error(form, exc)
            membership = None
        if membership is not None:
            request.session[SESSION_ORGANIZATION_KEY] = membership.organization_id
            messages.success(request, _("Добро пожаловать в «%(org)s»") % {
                "org": membership.organization.name})
            return redirect("dashboard")
    return render(request, "tenancy/invitation_accept.html", {
        "invitation": invitation, "form": form, "user_exists": user_exists,
        "for_me": request.user.is_authenticated and services.invitation_is_for(
            invitation=invitation, user=request.user),
        "login_url": reverse("login") + "?next=" + request.path,
    }, status=422 if form is not None and form.errors else 200)


# --- API keys ---------------------------------------------------------------------------

@actor_required
def api_key_list(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    if not actor.can(Perm.MANAGE_API_KEYS):
        return forbidden_page(request, Forbidden(_("Ключами API управляет владелец организации")))
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, plain = services.api_key_create(actor=actor, name=form.cleaned_data["name"],
                                                 role=form.cleaned_data["role"])
        except ServiceError as exc:
            form_add_service_error(form, exc)
        else:
            created = {"key": key, "plain": plain}
            form = ApiKeyForm()
    response = render(request, "tenancy/api_keys.html", {
        "keys": selectors.api_key_list(actor=actor), "form": form, "created": created,
        "section": "api_keys"}, status=422 if form.errors else 200)
    if created:
        response["Cache-Control"] = "no-store"  # the key is shown once; never cache that page
    return response


@actor_required
def api_key_revoke(request: ActorRequest, api_key_id: int) -> HttpResponse:
    if not confirmed(request):
        key = selectors.api_key_list(actor=request.actor).filter(pk=api_key_id).first()
        if key is None:
            raise NotFound(_("Ключ не найден"))
        return confirm_page(
            request, title=_("Отозвать ключ?"),
            message=_("Интеграции с ключом «%(name)s» перестанут работать.") % {"name": key.name},
            action=request.path, button=_("Отозвать"), back=reverse("tenancy:api_keys"))
    service_action(request, lambda: services.api_key_revoke(
        actor=request.actor, api_key_id=api_key_id),
        success=lambda key: _("Ключ «%(name)s» отозван") % {"name": key.name})
    return redirect("tenancy:api_keys")


# --- audit log --------------------------------------------------------------------------

@actor_required
def audit_log(request: ActorRequest) -> HttpResponse:
    page = Paginator(selectors.audit_list(actor=request.actor), AUDIT_PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "tenancy/audit.html", {"page": page, "section": "audit"})


# --- the installation operator: organizations and their owners ----------------------------

@login_required
def installation_organizations(request: HttpRequest) -> HttpResponse:
    """Staff only: every organization of the installation, and a new one with its owner."""
    if not (request.user.is_staff or request.user.is_superuser):
        return forbidden_page(request, Forbidden(
            _("Эта страница — для оператора установки")))
    form = OrganizationCreateForm(request.POST or None)
    made = None
    if request.method == "POST" and form.is_valid():
        try:
            made = services.organization_create_for_owner(
                operator=request.user, name=form.cleaned_data["name"],
                owner_email=form.cleaned_data["owner_email"],
                password=form.cleaned_data["password"])
        except ServiceError as exc:
            form_add_service_error(form, exc)
        else:
            messages.success(request, _("Организация «%(name)s» создана, id %(id)s") % {
                "name": made.organization.name, "id": made.organization.pk})
            form = OrganizationCreateForm()
    return render(request, "tenancy/installation.html", {
        "form": form, "made": made, "organizations": selectors.organization_overview()},
        status=422 if form.errors else 200)
