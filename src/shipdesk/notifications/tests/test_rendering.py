from __future__ import annotations

import json
from typing import Any

import pytest

from shipdesk.core.errors import ValidationFailed
from shipdesk.notifications import rendering
from shipdesk.notifications.services import template_preview, template_save


@pytest.mark.parametrize("source, fragment", [
    ("{{ buyer_name.__class__ }}", "атрибут"),
    ("{{ order_number.upper() }}", "атрибут"),
    ("{{ lipsum() }}", "неизвестный макрос «lipsum»"),
    ("{{ cycler.__init__.__globals__ }}", "неизвестный макрос «cycler»"),
    ("{% for x in order_number %}{{ x }}{% endfor %}", "For"),
    ("{{ order_number * 100000000 }}", "Mul"),
    ("{{ buyer_name['__class__'] }}", "атрибут"),
    ("{{ buyer_name|attr('__class__') }}", "фильтр «attr»"),
])
def test_hostile_template_is_refused_on_save(source: str, fragment: str) -> None:
    problems = rendering.validate_template(source)
    assert problems, source
    assert any(fragment in p.message for p in problems)
    with pytest.raises(rendering.TemplateRefused):
        rendering.render(source, {"buyer_name": "Анна", "order_number": "1"})


def test_sandbox_refuses_attribute_access_even_if_validation_is_bypassed() -> None:
    from jinja2.exceptions import SecurityError

    template = rendering._TEXT_ENV.from_string("{{ buyer_name.__class__ }}")
    with pytest.raises(SecurityError):
        template.render({"buyer_name": "Анна"})


def test_unknown_macro_is_reported_with_line_and_column() -> None:
    problems = rendering.validate_template("Здравствуйте!\nЗаказ {{ order_numbr }} готов")
    assert [(p.line, p.column) for p in problems] == [(2, 10)]
    assert "order_numbr" in problems[0].message


def test_syntax_error_is_reported_with_line() -> None:
    [problem] = rendering.validate_template("строка\n{% if buyer_name %}без конца")
    assert problem.line == 2 or problem.line == 1
    assert "синтакс" in problem.message


def test_render_uses_only_macros_and_conditions() -> None:
    text = rendering.render("{{ buyer_name }}{% if amount_to_pay %}, к оплате "
                            "{{ amount_to_pay }} ₽{% endif %}",
                            {"buyer_name": "Анна", "amount_to_pay": ""})
    assert text == "Анна"


def test_html_rendering_escapes_values() -> None:
    html = rendering.render("<p>{{ buyer_name }}</p>", {"buyer_name": "<script>"}, html=True)
    assert html == "<p>&lt;script&gt;</p>"


@pytest.mark.parametrize("text, encoding, segments", [
    ("a" * 160, "GSM-7", 1),
    ("a" * 161, "GSM-7", 2),
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("{" * 80, "GSM-7", 1),  # extension characters count twice
    ("{" * 81, "GSM-7", 2),
    ("я" * 70, "UCS-2", 1),
    ("я" * 71, "UCS-2", 2),
    ("я" * 134, "UCS-2", 2),
    ("я" * 135, "UCS-2", 3),
    ("я" * 67 * 20, "UCS-2", 20),
])
def test_sms_segment_counter(text: str, encoding: str, segments: int) -> None:
    length = rendering.sms_length(text)
    assert (length.encoding, length.segments) == (encoding, segments)


def test_twenty_segment_template_is_blocked_above_the_shops_limit(actor: Any) -> None:
    body = "Уважаемый покупатель! " * 60 + "{{ order_number }}"
    preview = template_preview(actor=actor, channel="sms", subject="", body=body)
    assert preview.sms is not None and preview.sms["segments"] >= 20
    assert preview.blocked
    with pytest.raises(ValidationFailed) as exc:
        template_save(actor=actor, rule="arrived", channel="sms", subject="", body=body)
    assert "частей" in exc.value.errors[0].message


def test_long_sms_warns_below_the_limit(actor: Any) -> None:
    body = "Заказ {{ order_number }} ждёт вас в пункте выдачи. " * 6
    preview = template_preview(actor=actor, channel="sms", subject="", body=body)
    assert not preview.blocked
    assert preview.sms is not None and preview.sms["segments"] == 4
    assert preview.warnings


def test_api_refuses_template_with_unknown_macro_pointing_at_it(api: Any) -> None:
    resp = api.post("/api/v1/notifications/templates/",
                    data=json.dumps({"rule": "accepted", "channel": "email", "subject": "Заказ",
                                     "body": "Привет\n  {{ buyer }}"}),
                    content_type="application/json")
    assert resp.status_code == 422
    error = resp.json()["errors"][0]
    assert error["loc"] == ["body"]
    assert "строка 2, позиция 6" in error["message"] and "buyer" in error["message"]


def test_api_preview_renders_sample_parcel_with_sms_counter(api: Any) -> None:
    resp = api.post("/api/v1/notifications/templates/preview/",
                    data=json.dumps({"channel": "sms", "subject": "",
                                     "body": "Заказ {{ order_number }}: {{ pickup_address }}"}),
                    content_type="application/json")
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert data["body"].startswith("Заказ A-10042: 125009, Москва")
    assert data["sms"]["encoding"] == "UCS-2" and data["sms"]["segments"] == 1
