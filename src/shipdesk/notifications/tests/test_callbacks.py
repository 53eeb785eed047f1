"""Delivery reports pushed by the gateways (sms.ru callback, SMSC, SMS Aero ``callbackUrl``)
and per-field checks of gateway settings with the test-send button's real answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client

from shipdesk.core.errors import ValidationFailed
from shipdesk.notifications import services
from shipdesk.notifications.models import ChannelConfig, Message, MessageStatus
from shipdesk.notifications.tests.conftest import NOON

pytestmark = pytest.mark.django_db


def _configure(actor: Any, gateway: str, emu: Any) -> ChannelConfig:
    config: dict[str, Any] = {"base_url": emu.base_url, "timeout": 2}
    if gateway == "smsru":
        config.update(api_id=emu.api_id, sender="Romashka")
    elif gateway == "smsc":
        config.update(login=emu.login, password=emu.password)
    else:
        config.update(email=emu.email, api_key=emu.api_key, sign="Romashka")
    services.settings_update(actor=actor, sms_gateway=gateway)
    return services.channel_config_save(actor=actor, gateway=gateway, config=config)


def _sent_sms(actor: Any, make_shipment: Any, status_change: Any) -> Message:
    status_change(make_shipment(recipient_email=""), "accepted")
    services.outbox_plan_from_feed(now=NOON)
    services.outbox_send_due(now=NOON)
    row = Message.objects.get()
    assert row.status == MessageStatus.SENT and row.provider_id, row.error
    return row


def _post(gateway: str, url: str, row: Message, delivered: bool) -> Any:
    client = Client()
    path = urlparse(url).path
    if gateway == "smsru":
        code = 103 if delivered else 106
        return client.post(path, {"data[0]": f"sms_status\n{row.provider_id}\n{code}\n1700000000",
                                  "data[1]": "callcheck_status\n201937-1000\n401\n1700000000"})
    if gateway == "smsc":
        return client.post(path, {"id": row.provider_id, "phone": row.recipient,
                                  "status": "1" if delivered else "20", "err": "0"})
    return client.post(path, {"id": int(row.provider_id), "status": 1 if delivered else 2,
                              "extendStatus": "delivery" if delivered else "undeliverable"},
                       content_type="application/json")


@pytest.mark.parametrize("gateway", ["smsru", "smsc", "smsaero"])
def test_gateway_callback_marks_the_message_delivered_once(
        gateway: str, actor: Any, notif_settings: Any, smsru: Any, smsc: Any, smsaero: Any,
        make_shipment: Any, status_change: Any) -> None:
    emu = {"smsru": smsru, "smsc": smsc, "smsaero": smsaero}[gateway]
    conf = _configure(actor, gateway, emu)
    assert len(conf.callback_token) >= 32
    row = _sent_sms(actor, make_shipment, status_change)
    url = services.callback_url(gateway, conf.callback_token)
    if gateway == "smsaero":  # SMS Aero is told where to report with every message
        assert emu.messages[0]["callback_url"] == url
    resp = _post(gateway, url, row, delivered=True)
    assert resp.status_code == 200
    assert resp.content.decode() == ("100" if gateway == "smsru" else "OK")
    row.refresh_from_db()
    assert row.status == MessageStatus.DELIVERED and row.delivered_at is not None
    # a repeated or late report changes nothing
    assert _post(gateway, url, row, delivered=False).status_code == 200
    row.refresh_from_db()
    assert row.status == MessageStatus.DELIVERED
    # polling (the fallback) leaves a reported message alone
    assert services.outbox_poll_delivery() == 0


def test_undelivered_report_keeps_the_reason(
        actor: Any, notif_settings: Any, smsc: Any, make_shipment: Any,
        status_change: Any) -> None:
    conf = _configure(actor, "smsc", smsc)
    row = _sent_sms(actor, make_shipment, status_change)
    _post("smsc", services.callback_url("smsc", conf.callback_token), row, delivered=False)
    row.refresh_from_db()
    assert row.status == MessageStatus.UNDELIVERED and "SMSC 20" in row.error


def test_callback_with_a_wrong_token_or_another_shops_id_changes_nothing(
        actor: Any, notif_settings: Any, other_org: Any, smsc: Any, make_shipment: Any,
        status_change: Any) -> None:
    conf = _configure(actor, "smsc", smsc)
    row = _sent_sms(actor, make_shipment, status_change)
    good = services.callback_url("smsc", conf.callback_token)
    forged = good.replace(conf.callback_token, conf.callback_token[:-2] + "xx")
    assert _post("smsc", forged, row, delivered=True).status_code == 404
    assert _post("smsc", good.replace("/smsc/", "/smsru/"), row, True).status_code == 404
    # another shop's valid token cannot touch this shop's messages
    other = ChannelConfig.objects.create(organization=other_org, gateway="smsc",
                                         callback_token="another-shop-token-0123456789abcd")
    assert _post("smsc", services.callback_url("smsc", other.callback_token), row,
                 True).status_code == 200
    row.refresh_from_db()
    assert row.status == MessageStatus.SENT
    assert Client().get(good).status_code == 405


@pytest.mark.parametrize(("gateway", "config", "field", "text"), [
    ("smsru", {}, "api_id", "Обязательное поле"),
    ("smsru", {"api_id": "abc def"}, "api_id", "Без пробелов"),
    ("smsru", {"api_id": "x", "sender": "Очень длинное имя"}, "sender", "до 11"),
    ("smsc", {"login": "shop"}, "password", "Обязательное поле"),
    ("smsaero", {"email": "not-an-email", "api_key": "k"}, "email", "Неверный e-mail"),
    ("smsaero", {"email": "a@b.test"}, "api_key", "Обязательное поле"),
    ("webhook", {"url": "ftp://x", "secret": "0123456789abcdef"}, "url", "http"),
    ("webhook", {"url": "https://x.test/h", "secret": "short"}, "secret", "16"),
    ("smtp", {"host": "smtp.x.test", "port": "99999"}, "port", "65535"),
    ("smtp", {"from_email": "shop at x"}, "from_email", "Неверный адрес"),
    ("smtp", {"username": "u"}, "host", "SMTP-сервер"),
    ("smsc", {"login": "a", "password": "b", "colour": "red"}, "colour", "Неизвестное поле"),
])
def test_gateway_settings_are_checked_field_by_field(
        actor: Any, gateway: str, config: dict[str, Any], field: str, text: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.channel_config_save(actor=actor, gateway=gateway, config=config)
    problems = {e.loc: e.message for e in err.value.errors}
    assert text.lower() in problems[("config", field)].lower(), problems
    assert not ChannelConfig.objects.filter(gateway=gateway).exists()


@pytest.mark.parametrize("gateway", ["smsru", "smsc", "smsaero"])
def test_test_send_reports_the_gateways_own_error(
        gateway: str, api: Any, actor: Any, smsru: Any, smsc: Any, smsaero: Any) -> None:
    emu = {"smsru": smsru, "smsc": smsc, "smsaero": smsaero}[gateway]
    wrong = {"smsru": {"api_id": "wrong-id"}, "smsc": {"login": "shop", "password": "wrong"},
             "smsaero": {"email": "shop@example.test", "api_key": "wrong"}}[gateway]
    services.channel_config_save(actor=actor, gateway=gateway,
                                 config={**wrong, "base_url": emu.base_url})
    resp = api.post(f"/api/v1/notifications/channels/{gateway}/test/",
                    data={"to": "+79001234567"}, content_type="application/json")
    assert resp.status_code in (400, 422)
    expected = {"smsru": "Неправильный api_id", "smsc": "authorise error",
                "smsaero": "Your credentials are incorrect"}[gateway]
    assert expected in resp.content.decode()
    assert emu.messages == []


def test_settings_page_names_the_field_that_is_wrong(web: Client, org: Any) -> None:
    resp = web.post("/notifications/settings/", {
        "action": "channel", "gateway": "smsaero", "cfg_email": "shop", "cfg_api_key": "",
        "enabled": "on"}, follow=True)
    text = resp.content.decode()
    assert "E-mail: неверный e-mail" in text and "API key: обязательное поле" in text
    assert not ChannelConfig.objects.filter(organization=org).exists()
