"""The organization's web pages, as a person uses them."""

import re

import pytest
from django.test import Client

from shipdesk.conftest import actor_with_role
from shipdesk.tenancy import services
from shipdesk.tenancy.models import ApiKey, AuditEntry, Invitation, Membership, Organization, Role

pytestmark = pytest.mark.django_db

VALID_INN = "7707083893"  # Sberbank's INN: a real, valid control digit


def test_login_page_is_russian_and_logs_in(owner):
    client = Client()
    page = client.get("/login/")
    assert "Войти" in page.content.decode()
    response = client.post("/login/", {"username": owner.username, "password": "Vkusnyi-Pirog-42"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_is_explained(owner):
    response = Client().post("/login/", {"username": owner.username, "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_english_is_switchable(web):
    web.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = web.get("/organization/settings/").content.decode()
    assert "Save" in page and "Сохранить" not in page


def test_settings_error_is_shown_beside_the_field(web, org):
    data = {"name": "Ромашка", "inn": "1234567890", "timezone": "Europe/Moscow"}
    response = web.post("/organization/settings/", data)
    assert response.status_code == 422
    html = response.content.decode()
    assert re.search(r'id="id_inn_errors"><li>[^<]+</li>', html)
    org.refresh_from_db()
    assert org.inn == ""


def test_settings_are_saved_and_audited(web, org):
    response = web.post("/organization/settings/",
                        {"name": "Ромашка-2", "inn": VALID_INN, "timezone": "Europe/Moscow"})
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.name, org.inn) == ("Ромашка-2", VALID_INN)
    assert AuditEntry.objects.filter(organization=org, action="organization.update").exists()


def test_viewer_sees_settings_read_only_and_cannot_post(org, make_user):
    viewer = actor_with_role(org, Role.VIEWER, make_user)
    client = Client()
    client.force_login(viewer.user)
    page = client.get("/organization/settings/").content.decode()
    assert "disabled" in page and "Сохранить" not in page
    response = client.post("/organization/settings/", {"name": "Взлом", "timezone": "UTC"})
    assert response.status_code == 403
    org.refresh_from_db()
    assert org.name == "Ромашка"
    assert client.get("/organization/api-keys/").status_code == 403


def test_owner_changes_role_and_removes_member(web, org, make_user):
    operator = actor_with_role(org, Role.OPERATOR, make_user)
    membership = Membership.objects.get(user=operator.user, organization=org)
    web.post(f"/organization/members/{membership.pk}/role/", {"role": Role.ACCOUNTANT})
    membership.refresh_from_db()
    assert membership.role == Role.ACCOUNTANT
    web.post(f"/organization/members/{membership.pk}/remove/")  # asks first
    assert Membership.objects.filter(pk=membership.pk).exists()
    web.post(f"/organization/members/{membership.pk}/remove/", {"confirmed": "1"})
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_last_owner_cannot_be_demoted(web, org, owner):
    membership = Membership.objects.get(user=owner, organization=org)
    response = web.post(f"/organization/members/{membership.pk}/role/", {"role": Role.VIEWER},
                        follow=True)
    assert "владелец" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_invitation_mail_link_lets_a_new_person_join(web, org, smtp_server,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post("/organization/members/", {"email": "New.Person@Example.test",
                                                       "role": Role.OPERATOR})
    assert response.status_code == 302
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "new.person@example.test"
    assert org.name in message["Subject"]
    link = re.search(r"https?://\S+/organization/invitations/accept/\S+/", smtp_server.body()).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]

    stranger = Client()
    page = stranger.get("/" + path)
    assert page.status_code == 200 and "Придумайте пароль" in page.content.decode()
    mismatch = stranger.post("/" + path, {"password": "Dlinnyi-Parol-77", "password2": "other"})
    assert mismatch.status_code == 422
    assert not Membership.objects.filter(user__username="new.person@example.test").exists()
    done = stranger.post("/" + path, {"first_name": "Анна", "password": "Dlinnyi-Parol-77",
                                      "password2": "Dlinnyi-Parol-77"})
    assert done.status_code == 302
    membership = Membership.objects.get(user__username="new.person@example.test")
    assert (membership.organization, membership.role) == (org, Role.OPERATOR)
    assert stranger.get("/").status_code == 200  # logged in
    assert stranger.get("/" + path).status_code == 404  # a link works once


def test_existing_user_joins_after_login(actor, make_user, other_org):
    invitation, token = services.invitation_create(actor=actor, email="known@example.test",
                                                   role=Role.VIEWER)
    known = make_user("known@example.test")
    client = Client()
    page = client.get(f"/organization/invitations/accept/{token}/").content.decode()
    assert "Войдите" in page
    client.force_login(known)
    assert client.post(f"/organization/invitations/accept/{token}/").status_code == 302
    assert Membership.objects.filter(user=known, organization=actor.organization,
                                     role=Role.VIEWER).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_invitation_is_accepted_only_by_the_invited_address(actor, make_user):
    invitation, token = services.invitation_create(actor=actor, email="Invited@Example.test",
                                                   role=Role.OPERATOR)
    stranger = make_user("stranger@example.test")
    client = Client()
    client.force_login(stranger)
    page = client.get(f"/organization/invitations/accept/{token}/").content.decode()
    assert "Присоединиться" not in page
    assert "Приглашение выслано на invited@example.test, а вы вошли как stranger@example.test" \
        in page.replace("Invited@Example.test", "invited@example.test")
    answer = client.post(f"/organization/invitations/accept/{token}/", follow=True)
    assert "а вы вошли как stranger@example.test" in answer.content.decode()
    assert not Membership.objects.filter(user=stranger, organization=actor.organization).exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None
    # the invited address, in another case, joins with the same link
    invited = make_user("invited@example.test")
    client.force_login(invited)
    assert client.post(f"/organization/invitations/accept/{token}/").status_code == 302
    assert Membership.objects.filter(user=invited, organization=actor.organization,
                                     role=Role.OPERATOR).exists()


def test_revoked_invitation_link_is_dead(web, actor):
    invitation, token = services.invitation_create(actor=actor, email="x@example.test",
                                                   role=Role.VIEWER)
    web.post(f"/organization/invitations/{invitation.pk}/revoke/")
    assert not Invitation.objects.filter(pk=invitation.pk).exists()
    assert Client().get(f"/organization/invitations/accept/{token}/").status_code == 404


def test_api_key_is_shown_once_then_revoked(web, org):
    response = web.post("/organization/api-keys/", {"name": "МойСклад", "role": Role.OPERATOR})
    html = response.content.decode()
    plain = re.search(r'id="new-api-key">(sd_[^<]+)<', html).group(1)
    assert response["Cache-Control"] == "no-store"
    assert Client(headers={"X-API-Key": plain}).get("/api/v1/organization").status_code == 200
    listing = web.get("/organization/api-keys/").content.decode()
    assert plain not in listing and "МойСклад" in listing
    key = ApiKey.objects.get(organization=org, name="МойСклад")
    assert key.last_used_at is not None
    web.post(f"/organization/api-keys/{key.pk}/revoke/", {"confirmed": "1"})
    assert Client(headers={"X-API-Key": plain}).get("/api/v1/organization").status_code == 401


def test_audit_log_is_paged(web, actor):
    for i in range(60):
        services.audit(actor, "test.action", None, n=i)
    first = web.get("/organization/audit/").content.decode()
    assert "n: 59" in first and "n: 0<" not in first and "?page=2" in first
    second = web.get("/organization/audit/?page=2").content.decode()
    assert "n: 0" in second


def test_password_reset_mail_leads_to_new_password(owner, smtp_server):
    client = Client()
    client.post("/password-reset/", {"email": owner.email})
    assert len(smtp_server.messages) == 1
    link = re.search(r"https?://\S+/password-reset/\S+/\S+/", smtp_server.body()).group(0)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    form = client.get(path, follow=True)
    assert "Новый пароль" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "Sovsem-Novyi-99",
                                                    "new_password2": "Sovsem-Novyi-99"})
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Sovsem-Novyi-99")


def test_switching_organization_changes_the_dashboard(org, owner, make_org):
    second = make_org("Второй магазин", owner=owner)
    client = Client()
    client.force_login(owner)
    client.post("/organization/switch/", {"organization_id": second.pk, "next": "/"})
    assert "Второй магазин</h1>" in client.get("/").content.decode()
    foreign = Organization.objects.create(name="Не мой")
    client.post("/organization/switch/", {"organization_id": foreign.pk, "next": "/"})
    assert "Не мой</h1>" not in client.get("/").content.decode()
