"""First run: the installation operator makes organizations and their owners (page and
``shipdesk org create``); a new organization's dashboard lists what to set up."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from shipdesk.tenancy.models import Membership, Organization, Role


def test_org_create_command_prints_the_id_and_makes_the_owner(db: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("org", "create", "--name", "Лавка", "--owner-email", "Boss@Example.test",
                 stdout=out, stderr=err)
    org = Organization.objects.get(name="Лавка")
    assert out.getvalue().strip() == str(org.pk)
    owner = Membership.objects.get(organization=org, role=Role.OWNER).user
    assert owner.username == "boss@example.test"
    password = err.getvalue().rsplit("пароль: ", 1)[1].strip()
    assert owner.check_password(password)


def test_org_create_command_refuses_bad_input_and_a_weak_password(db: Any) -> None:
    with pytest.raises(CommandError, match="owner_email"):
        call_command("org", "create", "--name", "Лавка", "--owner-email", "nope",
                     stdout=io.StringIO())
    with pytest.raises(CommandError, match="password"):
        call_command("org", "create", "--name", "Лавка", "--owner-email", "a@example.test",
                     "--password", "123", stdout=io.StringIO())
    assert not Organization.objects.filter(name="Лавка").exists()


def test_installation_page_is_for_staff_only(web: Client, db: Any) -> None:
    assert web.get("/organization/installation/").status_code == 403
    staff = get_user_model().objects.create_user("op@example.test", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    r = client.post("/organization/installation/", {"name": "Новая", "owner_email":
                                                     "new@example.test"})
    org = Organization.objects.get(name="Новая")
    html = r.content.decode()
    assert f"id {org.pk}" in html and 'data-testid="owner-password"' in html
    # an existing user becomes the owner; no password is made for them
    r = client.post("/organization/installation/", {"name": "Вторая", "owner_email":
                                                     "new@example.test"})
    assert 'data-testid="owner-password"' not in r.content.decode()
    assert Membership.objects.filter(user__username="new@example.test").count() == 2


def test_a_new_organizations_dashboard_lists_the_setup_steps(web: Client, org: Any,
                                                             actor: Any) -> None:
    page = web.get("/").content.decode()
    assert 'data-testid="checklist"' in page
    assert page.count('data-done="no"') == 5
    from shipdesk.tenancy import services

    services.organization_update(actor=actor, legal_name="ООО «Ромашка»", inn="7707083893")
    page = web.get("/").content.decode()
    assert 'data-step="requisites" data-done="yes"' in page
    assert page.count('data-done="no"') == 4
