"""Staff list, add and remove switched-off recipients — on the settings page and in the API,
within their own organization, audited, by permission."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from shipdesk.notifications import services
from shipdesk.notifications.models import Suppression
from shipdesk.tenancy.models import AuditEntry, Role

pytestmark = pytest.mark.django_db


def test_api_lists_adds_and_removes_a_suppression(api: Any, org: Any) -> None:
    made = api.post("/api/v1/notifications/suppressions/",
                    data={"channel": "email", "address": "Anna@Example.test"},
                    content_type="application/json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["channel"], body["address"], body["source"]) == ("email", "anna@example.test",
                                                                  "staff")
    api.post("/api/v1/notifications/suppressions/", data={"channel": "sms",
                                                          "address": "8 900 123-45-67"},
             content_type="application/json")
    found = api.get("/api/v1/notifications/suppressions/?q=anna").json()
    assert [s["address"] for s in found] == ["anna@example.test"]
    gone = api.delete(f"/api/v1/notifications/suppressions/{body['id']}/")
    assert gone.status_code == 204
    assert [s["address"] for s in api.get("/api/v1/notifications/suppressions/").json()] == [
        "79001234567"]
    actions = list(AuditEntry.objects.filter(organization=org).values_list("action", flat=True))
    assert actions.count("notifications.unsubscribe") == 2
    assert "notifications.resubscribe" in actions


def test_bad_input_points_at_the_field(api: Any) -> None:
    resp = api.post("/api/v1/notifications/suppressions/",
                    data={"channel": "sms", "address": "12"}, content_type="application/json")
    assert resp.status_code in (400, 422)
    assert "неверный телефон" in resp.content.decode()
    resp = api.post("/api/v1/notifications/suppressions/",
                    data={"channel": "pigeon", "address": "a@b.test"},
                    content_type="application/json")
    assert resp.status_code in (400, 422) and "канал" in resp.content.decode()


def test_another_organization_cannot_see_or_remove_it(
        api: Any, other_api: Any, actor: Any) -> None:
    s = services.suppression_add(actor=actor, channel="email", address="a@example.test")
    assert other_api.get("/api/v1/notifications/suppressions/").json() == []
    assert other_api.delete(f"/api/v1/notifications/suppressions/{s.pk}/").status_code == 404
    assert Suppression.objects.filter(pk=s.pk).exists()


def test_a_viewer_may_list_but_not_remove(org: Any, actor: Any, make_user: Any) -> None:
    from shipdesk.conftest import actor_with_role
    from shipdesk.core.errors import Forbidden

    s = services.suppression_add(actor=actor, channel="email", address="a@example.test")
    viewer = actor_with_role(org, Role.VIEWER, make_user)
    with pytest.raises(Forbidden):
        services.suppression_remove(actor=viewer, suppression_id=s.pk)
    with pytest.raises(Forbidden):
        services.suppression_add(actor=viewer, channel="email", address="b@example.test")
    assert Suppression.objects.filter(pk=s.pk).exists()


def test_settings_page_lists_and_switches_a_recipient_back_on(
        web: Client, actor: Any, other_org: Any) -> None:
    s = services.suppression_add(actor=actor, channel="email", address="anna@example.test")
    page = web.get("/notifications/settings/")
    assert "anna@example.test" in page.content.decode()
    assert "Включить снова" in page.content.decode()
    resp = web.post(f"/notifications/suppressions/{s.pk}/remove/", follow=True)
    assert "снова включены" in resp.content.decode()
    assert not Suppression.objects.filter(pk=s.pk).exists()
    foreign = Suppression.objects.create(organization=other_org, channel="sms",
                                         address="79001234567")
    resp = web.post(f"/notifications/suppressions/{foreign.pk}/remove/")
    assert resp.status_code == 404
    assert Suppression.objects.filter(pk=foreign.pk).exists()
