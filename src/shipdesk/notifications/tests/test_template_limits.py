"""Shop-editable templates have limits by construction: size, nesting, output, and a
compiled-template cache bounded in bytes. Hostile sources are answered 422, never 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from shipdesk.notifications import rendering
from shipdesk.notifications.models import Template
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Role

pytestmark = pytest.mark.django_db
PREVIEW = "/api/v1/notifications/templates/preview/"
SAVE = "/api/v1/notifications/templates/"
CTX = {"buyer_name": "Анна", "order_number": "A-1", "status": "в пути"}


@pytest.fixture
def viewer_api(actor: Any) -> Client:
    _key, plain = tenancy.api_key_create(actor=actor, name="viewer", role=Role.VIEWER)
    return Client(headers={"X-API-Key": plain}, enforce_csrf_checks=True)


def _post(client: Client, url: str, payload: dict[str, str]) -> Any:
    return client.post(url, data=json.dumps(payload), content_type="application/json")


NESTED_IFS = "{%if status%}" * 800 + "x" + "{%endif%}" * 800  # 18,400 characters
HOSTILE_NESTING = {
    "800 nested ifs": NESTED_IFS,
    "5,000 nested brackets": "{{ " + "(" * 5000 + "status" + ")" * 5000 + " }}",
    "3,000 nots": "{{ " + "not " * 3000 + "status }}",
    "1,800 ands": "{{ status" + " and status" * 1800 + " }}",
    "2,000 filters": "{{ status" + "|upper" * 2000 + " }}",
}


@pytest.mark.parametrize("source", HOSTILE_NESTING.values(), ids=HOSTILE_NESTING.keys())
def test_deep_nesting_previewed_by_a_viewer_is_a_422_pointing_at_the_body(
        viewer_api: Client, source: str) -> None:
    assert len(source) <= rendering.SOURCE_LIMITS["email"]

    resp = _post(viewer_api, PREVIEW, {"channel": "email", "subject": "", "body": source})

    assert resp.status_code == 422, resp.content[:500]
    [error] = resp.json()["errors"]
    assert error["loc"] == ["body"]
    assert "вложенность" in error["message"]


def test_the_issues_5000_deep_template_is_refused_as_too_long(viewer_api: Client) -> None:
    source = "{% if status %}" * 5000 + "x" + "{% endif %}" * 5000

    resp = _post(viewer_api, PREVIEW, {"channel": "email", "subject": "", "body": source})

    assert resp.status_code == 422
    [error] = resp.json()["errors"]
    assert error["loc"] == ["body"] and "слишком длинный" in error["message"]


def test_deep_nesting_previewed_on_the_page_by_a_viewer_is_a_message(
        org: Any, make_user: Any) -> None:
    from shipdesk.conftest import actor_with_role

    viewer = actor_with_role(org, Role.VIEWER, make_user)
    client = Client()
    client.force_login(viewer.user)

    resp = client.post("/notifications/templates/accepted/email/",
                       {"action": "preview", "subject": "", "body": NESTED_IFS})

    assert resp.status_code == 200
    assert "слишком глубокая вложенность" in resp.content.decode()


def test_a_stored_template_above_every_limit_is_refused_when_rendered() -> None:
    cached = len(rendering._compiled)
    with pytest.raises(rendering.TemplateRefused) as exc:
        rendering.render("{{ order_number }}" * 120_000, CTX)  # 2 MB, stored before the limits
    assert "слишком длинный" in str(exc.value)
    assert len(rendering._compiled) == cached  # never compiled, never cached


def test_moderate_nesting_still_renders() -> None:
    source = "{% if status %}" * 10 + "{{ (buyer_name|upper) }}" + "{% endif %}" * 10
    assert rendering.render(source, CTX) == "АННА"


@pytest.mark.parametrize("source", HOSTILE_NESTING.values(), ids=HOSTILE_NESTING.keys())
def test_recursion_is_refused_at_the_render_boundary_even_if_validation_is_bypassed(
        monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    monkeypatch.setattr(rendering, "validate_template", lambda source: [])
    try:
        rendering.render(source, CTX)
    except rendering.TemplateRefused as exc:
        assert "вложенность" in str(exc) or "не отрисован" in str(exc)
    # a RecursionError (or any other) escaping here fails the test


@pytest.mark.parametrize("channel, limit", [("email", 20_000), ("sms", 2_000),
                                            ("webhook", 20_000)])
def test_oversized_template_is_refused_on_save_naming_the_body(
        api: Client, channel: str, limit: int) -> None:
    body = "{{ order_number }}" + "я" * (limit - len("{{ order_number }}") + 1)

    resp = _post(api, SAVE, {"rule": "accepted", "channel": channel, "subject": "", "body": body})

    assert resp.status_code == 422
    [error] = resp.json()["errors"]
    assert error["loc"] == ["body"] and error["code"] == "too_long"
    assert "Текст шаблона слишком длинный" in error["message"]
    assert f"{limit + 1} символов" in error["message"] and str(limit) in error["message"]
    assert not Template.objects.exists()


def test_template_at_its_limit_is_saved(api: Client) -> None:
    body = ("{{ order_number }} " * 2000)[:20_000]
    body = body[:body.rindex("{{")]
    resp = _post(api, SAVE, {"rule": "accepted", "channel": "email", "subject": "Заказ",
                             "body": body})
    assert resp.status_code == 201, resp.content[:300]
    assert Template.objects.get().body == body


def test_oversized_subject_is_refused_naming_the_subject(api: Client) -> None:
    resp = _post(api, SAVE, {"rule": "accepted", "channel": "email", "subject": "Т" * 301,
                             "body": "Заказ {{ order_number }}"})
    assert resp.status_code == 422
    [error] = resp.json()["errors"]
    assert error["loc"] == ["subject"] and "Тема слишком длинная" in error["message"]


def test_oversized_template_is_refused_on_preview_too(viewer_api: Client) -> None:
    resp = _post(viewer_api, PREVIEW, {"channel": "sms", "subject": "", "body": "a" * 2001})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["loc"] == ["body"]


def test_the_template_page_says_which_field_is_too_long(web: Client) -> None:
    resp = web.post("/notifications/templates/accepted/email/",
                    {"action": "save", "subject": "", "body": "x" * 20_001})
    assert resp.status_code == 200
    assert "Текст шаблона слишком длинный: 20001 символов" in resp.content.decode()
    assert not Template.objects.exists()


def test_rendered_output_is_bounded(monkeypatch: pytest.MonkeyPatch, viewer_api: Client) -> None:
    monkeypatch.setattr(rendering, "MAX_OUTPUT_CHARS", 1_000)
    body = "{{ pickup_address }}" * 200

    resp = _post(viewer_api, PREVIEW, {"channel": "email", "subject": "", "body": body})

    assert resp.status_code == 422
    [error] = resp.json()["errors"]
    assert error["loc"] == ["body"] and "длиннее 1000 символов" in error["message"]


def test_compiled_cache_never_exceeds_its_byte_bound(monkeypatch: pytest.MonkeyPatch,
                                                     viewer_api: Client) -> None:
    cache = rendering._CompiledCache(max_bytes=100_000)
    monkeypatch.setattr(rendering, "_compiled", cache)
    first = "Заказ {{ order_number }} №0 " + "ж" * 9_000
    for n in range(40):  # 40 distinct templates of ~18 KB each
        body = f"Заказ {{{{ order_number }}}} №{n} " + "ж" * 9_000
        resp = _post(viewer_api, PREVIEW, {"channel": "email", "subject": "", "body": body})
        assert resp.status_code == 200, resp.content[:300]
        assert cache.total_bytes <= cache.max_bytes
    assert 1 <= len(cache) <= 100_000 // 18_000 + 1  # the bodies that fit, the empty subject
    assert cache.get(rendering._cache_key(body, html=False)) is not None  # the latest stays
    assert cache.get(rendering._cache_key(first, html=False)) is None  # the oldest went


def test_cache_evicts_the_least_recently_used() -> None:
    cache = rendering._CompiledCache(max_bytes=30)
    cache.put(("a", False), "A", 10)
    cache.put(("b", False), "B", 10)
    cache.put(("c", False), "C", 10)
    assert cache.get(("a", False)) == "A"  # a is now the most recent
    cache.put(("d", False), "D", 10)
    assert cache.get(("b", False)) is None
    assert [cache.get((k, False)) for k in "acd"] == ["A", "C", "D"]
    assert cache.total_bytes == 30
    cache.put(("huge", False), "H", 31)  # larger than the whole cache: not kept
    assert cache.get(("huge", False)) is None and cache.total_bytes == 30
