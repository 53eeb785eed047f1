from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from shipdesk.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from shipdesk.tenancy import validators
from shipdesk.tenancy.models import ApiKey, AuditEntry, Invitation, Membership, Organization, Role
from shipdesk.tenancy.permissions import ROLE_PERMISSIONS, Perm

API_KEY_PREFIX = "sd_"
INVITATION_TTL = timedelta(days=7)
# last_used_at is written at most this often per key, so that a busy integration does not
# turn every read into a write.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    """Who is acting, for which organization, with which role: passed to every service."""

    organization: Organization
    role: str
    user: Any = None  # a User, or None for an API key or the system
    api_key: ApiKey | None = None

    @property
    def organization_id(self) -> int:
        return self.organization.pk

    def can(self, perm: Perm) -> bool:
        return perm in ROLE_PERMISSIONS.get(self.role, frozenset())

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise Forbidden(_("Роль «%(role)s» не позволяет это действие") % {
                "role": Role(self.role).label})


def system_actor(organization: Organization) -> Actor:
    """The actor for background work done on the organization's behalf."""
    return Actor(organization=organization, role=Role.OWNER)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(actor: Actor, action: str, obj: Any = None, **data: Any) -> None:
    AuditEntry.objects.create(
        organization=actor.organization,
        user=actor.user if getattr(actor.user, "pk", None) else None,
        api_key=actor.api_key,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        data=data,
    )


# --- organizations -------------------------------------------------------------------

ORGANIZATION_FIELDS = (
    "name", "legal_name", "inn", "kpp", "ogrn", "legal_address", "postal_address", "phone",
    "email", "bank_name", "bik", "bank_account", "correspondent_account", "timezone",
)


def _validate_organization(org: Organization) -> None:
    errors: list[FieldError] = []
    try:
        org.full_clean(exclude=["logo"])
    except DjangoValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.extend(FieldError((field,), m) for m in messages)
    if org.bank_account and org.bik and not validators.bank_account_is_valid(
        org.bank_account, org.bik
    ):
        errors.append(FieldError(("bank_account",),
                                 _("Расчётный счёт не сходится с БИК (контрольный ключ)")))
    if errors:
        raise ValidationFailed(_("Проверьте реквизиты организации"), errors=errors)


@transaction.atomic
def organization_create(*, owner: User, name: str, **details: Any) -> Organization:
    org = Organization(name=name, **{k: v for k, v in details.items() if k in ORGANIZATION_FIELDS})
    _validate_organization(org)
    org.save()
    Membership.objects.create(user=owner, organization=org, role=Role.OWNER)
    audit(Actor(organization=org, role=Role.OWNER, user=owner), "organization.create", org)
    return org


@dataclass(frozen=True)
class NewOrganization:
    organization: Organization
    owner: Any
    password: str  # the new owner's password when one was made here; "" for an existing user


@transaction.atomic
def organization_create_for_owner(*, operator: Any, name: str, owner_email: str,
                                  password: str = "") -> NewOrganization:
    """The installation operator's first-run step: an organization and its owner. A new
    owner gets the given password (checked by the password rules) or a generated one; an
    existing user simply becomes the owner. Only staff (or the command line, ``operator``
    None) may do it."""
    if operator is not None and not (operator.is_staff or operator.is_superuser):
        raise Forbidden(_("Создавать организации может только оператор установки"))
    errors: list[FieldError] = []
    name = name.strip()
    email = owner_email.strip().lower()
    if not name:
        errors.append(FieldError(("name",), _("Укажите название организации")))
    try:
        validate_email(email)
    except DjangoValidationError:
        errors.append(FieldError(("owner_email",), _("Укажите e-mail владельца")))
    users = get_user_model().objects
    user = users.filter(username=email).first() if email else None
    if user is None and password:
        try:
            password_validation.validate_password(password)
        except DjangoValidationError as exc:
            errors.extend(FieldError(("password",), str(m)) for m in exc.messages)
    if errors:
        raise ValidationFailed(_("Организация не создана"), errors=errors)
    made = ""
    if user is None:
        made = password or secrets.token_urlsafe(12)
        user = users.create_user(username=email, email=email, password=made)
    organization = organization_create(owner=user, name=name)
    return NewOrganization(organization=organization, owner=user, password=made)


@transaction.atomic
def organization_update(*, actor: Actor, **details: Any) -> Organization:
    actor.require(Perm.MANAGE_SETTINGS)
    org = Organization.objects.select_for_update().get(pk=actor.organization_id)
    changed = {k: v for k, v in details.items() if k in ORGANIZATION_FIELDS and getattr(org, k) != v}
    for field, value in changed.items():
        setattr(org, field, value)
    _validate_organization(org)
    org.save()
    audit(actor, "organization.update", org, fields=sorted(changed))
    return org


# --- members and invitations -----------------------------------------------------------

@transaction.atomic
def membership_set_role(*, actor: Actor, membership_id: int, role: str) -> Membership:
    actor.require(Perm.MANAGE_MEMBERS)
    membership = Membership.objects.select_for_update().filter(
        organization=actor.organization, pk=membership_id).first()
    if membership is None:
        raise NotFound(_("Участник не найден"))
    if role not in Role.values:
        raise ValidationFailed(errors=[FieldError(("role",), _("Неизвестная роль"))])
    if membership.role == Role.OWNER and role != Role.OWNER and not Membership.objects.filter(
        organization=actor.organization, role=Role.OWNER).exclude(pk=membership.pk).exists():
        raise Conflict(_("В организации должен остаться хотя бы один владелец"))
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit(actor, "membership.set_role", membership, role=role)
    return membership


@transaction.atomic
def membership_remove(*, actor: Actor, membership_id: int) -> None:
    actor.require(Perm.MANAGE_MEMBERS)
    target = Membership.objects.filter(organization=actor.organization, pk=membership_id).first()
    if target is None:
        raise NotFound(_("Участник не найден"))
    if target.role == Role.OWNER and Membership.objects.filter(
        organization=actor.organization, role=Role.OWNER).count() == 1:
        raise Conflict(_("Нельзя удалить последнего владельца"))
    audit(actor, "membership.remove", target, user_id=target.user_id)
    target.delete()


def invitation_url(token: str) -> str:
    return settings.PUBLIC_URL + reverse("tenancy:invitation_accept", args=[token])


def _send_invitation(invitation_id: int, token: str, language: str) -> None:
    invitation = Invitation.objects.select_related("organization", "invited_by").get(pk=invitation_id)
    with translation.override(language):
        context = {"invitation": invitation, "organization": invitation.organization,
                   "url": invitation_url(token), "inviter": invitation.invited_by}
        subject = render_to_string("tenancy/email/invitation_subject.txt", context).strip()
        body = render_to_string("tenancy/email/invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])


@transaction.atomic
def invitation_create(*, actor: Actor, email: str, role: str) -> tuple[Invitation, str]:
    """Creates the invitation and, after commit, e-mails the link to accept it.

    Returns the invitation and its one-time token (only its hash is stored)."""
    actor.require(Perm.MANAGE_MEMBERS)
    email = email.strip().lower()
    errors = []
    try:
        validate_email(email)
    except DjangoValidationError:
        errors.append(FieldError(("email",), _("Введите правильный адрес e-mail")))
    if role not in Role.values:
        errors.append(FieldError(("role",), _("Неизвестная роль")))
    if errors:
        raise ValidationFailed(_("Проверьте приглашение"), errors=errors)
    if Membership.objects.filter(organization=actor.organization, user__username=email).exists():
        raise Conflict(_("Этот пользователь уже состоит в организации"),
                       errors=[FieldError(("email",), _("Уже участник организации"))])
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=actor.organization, email=email, role=role,
        token_hash=_hash(token), invited_by=actor.user if actor.user else None,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    audit(actor, "invitation.create", invitation, email=invitation.email, role=role)
    language = translation.get_language() or settings.LANGUAGE_CODE
    transaction.on_commit(lambda: _send_invitation(invitation.pk, token, language))
    return invitation, token


@transaction.atomic
def invitation_revoke(*, actor: Actor, invitation_id: int) -> None:
    actor.require(Perm.MANAGE_MEMBERS)
    invitation = Invitation.objects.filter(organization=actor.organization, pk=invitation_id,
                                           accepted_at__isnull=True).first()
    if invitation is None:
        raise NotFound(_("Приглашение не найдено"))
    audit(actor, "invitation.revoke", invitation, email=invitation.email)
    invitation.delete()


def invitation_get_valid(*, token: str) -> Invitation:
    """The pending invitation a link leads to (for the accept page), or ``NotFound``."""
    invitation = (Invitation.objects.select_related("organization")
                  .filter(token_hash=_hash(token)).first())
    if invitation is None or invitation.accepted_at or invitation.expires_at < timezone.now():
        raise NotFound(_("Приглашение недействительно или истекло"))
    return invitation


@transaction.atomic
def invitation_accept_new_user(*, token: str, password: str, first_name: str = "",
                               last_name: str = "") -> Membership:
    """A person without an account accepts: the account is made with the invited e-mail."""
    invitation = invitation_get_valid(token=token)
    User = get_user_model()
    if User.objects.filter(username=invitation.email).exists():
        raise Conflict(_("Пользователь с этим e-mail уже есть: войдите и примите приглашение"))
    candidate = User(username=invitation.email, email=invitation.email, first_name=first_name,
                     last_name=last_name)
    try:
        password_validation.validate_password(password, candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed(_("Пароль не подходит"), errors=[
            FieldError(("password",), m) for m in exc.messages]) from exc
    user = user_create(email=invitation.email, password=password, first_name=first_name,
                       last_name=last_name)
    return invitation_accept(token=token, user=user)


def invitation_is_for(*, invitation: Invitation, user: Any) -> bool:
    """Whether the user is the one invited: their e-mail is the invited one (any case)."""
    mine = (getattr(user, "email", "") or getattr(user, "username", "") or "").strip()
    return bool(mine) and mine.casefold() == invitation.email.strip().casefold()


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    """Joins the invited organization. Only the invited address may: a link forwarded, or
    opened by someone else logged in, lets no one else in."""
    invitation = Invitation.objects.select_for_update().filter(token_hash=_hash(token)).first()
    if invitation is None or invitation.accepted_at or invitation.expires_at < timezone.now():
        raise NotFound(_("Приглашение недействительно или истекло"))
    if not invitation_is_for(invitation=invitation, user=user):
        raise Forbidden(_("Приглашение выслано на %(invited)s, а вы вошли как %(me)s. Выйдите и "
                          "войдите с адресом из приглашения или попросите владельца пригласить "
                          "ваш адрес") % {"invited": invitation.email,
                                          "me": user.email or user.username})
    membership, _created = Membership.objects.get_or_create(
        user=user, organization=invitation.organization, defaults={"role": invitation.role})
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at", "updated_at"])
    audit(Actor(organization=invitation.organization, role=membership.role, user=user),
          "invitation.accept", invitation)
    return membership


# --- API keys --------------------------------------------------------------------------

@transaction.atomic
def api_key_create(*, actor: Actor, name: str, role: str = Role.OPERATOR) -> tuple[ApiKey, str]:
    """Returns the key row and the plain key, which is never stored nor shown again."""
    actor.require(Perm.MANAGE_API_KEYS)
    if role not in Role.values:
        raise ValidationFailed(errors=[FieldError(("role",), _("Неизвестная роль"))])
    if not name.strip():
        raise ValidationFailed(errors=[FieldError(("name",), _("Укажите название ключа"))])
    plain = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organization=actor.organization, name=name.strip(), prefix=plain[:10],
        key_hash=_hash(plain), role=role, created_by=actor.user if actor.user else None,
    )
    audit(actor, "api_key.create", key, name=key.name, role=role)
    return key, plain


@transaction.atomic
def api_key_revoke(*, actor: Actor, api_key_id: int) -> ApiKey:
    actor.require(Perm.MANAGE_API_KEYS)
    key = ApiKey.objects.filter(organization=actor.organization, pk=api_key_id).first()
    if key is None:
        raise NotFound(_("Ключ не найден"))
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit(actor, "api_key.revoke", key)
    return key


def api_key_authenticate(plain: str) -> Actor | None:
    if not plain.startswith(API_KEY_PREFIX):
        return None
    key = (ApiKey.objects.select_related("organization")
           .filter(key_hash=_hash(plain), revoked_at__isnull=True).first())
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Actor(organization=key.organization, role=key.role, api_key=key)


def actor_for_user(user: User, organization_id: int | None) -> Actor | None:
    """The user's actor in the given organization, or in their first one."""
    memberships = Membership.objects.select_related("organization").filter(user=user)
    membership = (memberships.filter(organization_id=organization_id).first()
                  if organization_id else None) or memberships.order_by("pk").first()
    if membership is None:
        return None
    return Actor(organization=membership.organization, role=membership.role, user=user)


def user_create(*, email: str, password: str, first_name: str = "", last_name: str = "") -> Any:
    User = get_user_model()
    email = email.strip().lower()
    if User.objects.filter(username=email).exists():
        raise Conflict(_("Пользователь с таким e-mail уже есть"))
    return User.objects.create_user(username=email, email=email, password=password,
                                    first_name=first_name, last_name=last_name)


def user_exists(*, email: str) -> bool:
    return get_user_model().objects.filter(username=email.strip().lower()).exists()
