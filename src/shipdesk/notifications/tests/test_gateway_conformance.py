"""The SMS gateways as their published documentation describes them: each documented
request replayed against our emulator (its answer has the documented fields, with the same
JSON types), each documented answer fed to our adapter, and every code of each gateway's
published list classified (permanent or transient; delivered, undelivered, pending, gone)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipdesk.core.conformance import mismatches
from shipdesk.notifications.gateways import smsaero, smsc, smsru
from shipdesk.notifications.gateways.base import GatewayError, Outgoing
from shipdesk.notifications.gateways.emulators import SmsAeroEmulator, SmscEmulator, SmsRuEmulator

FIXTURES = Path(smsru.__file__).resolve().parent / "fixtures"


def examples(gateway: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / f"{gateway}.json").read_text(encoding="utf-8"))["examples"]


def test_mismatches_sees_a_string_where_a_number_is_documented() -> None:
    assert mismatches({"sms": {"1-1": {"cost": 0.35}}}, {"sms": {"9-9": {"cost": "0.35"}}}) == [
        "$.sms[0].cost: str '0.35', documented number 0.35"]
    assert mismatches({"a": 1}, {}) == ["$.a: missing"]


# -- replaying the documented requests against the emulators --------------------------------
def test_sms_ru_emulator_answers_every_documented_request_in_the_documented_shape(
        smsru: SmsRuEmulator) -> None:
    sent = ""
    for ex in examples("smsru"):
        params = {"api_id": smsru.api_id, **{k: v.replace("{sent}", sent)
                                             for k, v in ex["params"].items()}}
        got = httpx.post(f"{smsru.base_url}{ex['path']}", data=params).json()
        assert mismatches(ex["response"], got) == [], (ex["name"], ex["doc"], got)
        if ex["name"] == "send_multi":
            sent = got["sms"]["79255070602"]["sms_id"]
    texts = {(m["phone"], m["text"]) for m in smsru.messages}
    # to[PHONE]=text sends each text to its number, as multi[...] does
    assert {("79255070602", "Текст 1"), ("74993221627", "Текст 2")} <= texts


def test_sms_ru_never_answers_ok_without_sending(smsru: SmsRuEmulator) -> None:
    got = httpx.post(f"{smsru.base_url}/sms/send",
                     data={"api_id": smsru.api_id, "phones": "79255070602", "text": "x",
                           "json": 1}).json()
    assert got["status"] == "ERROR" and got["status_code"] == 202
    assert smsru.messages == []


def test_smsc_emulator_answers_every_documented_request_in_the_documented_shape(
        smsc: SmscEmulator) -> None:
    for ex in examples("smsc"):
        params = {"login": smsc.login, "psw": smsc.password, **ex["params"]}
        got = httpx.post(f"{smsc.base_url}{ex['path']}", data=params).json()
        assert mismatches(ex["response"], got) == [], (ex["name"], ex["doc"], got)


def test_sms_aero_emulator_answers_every_documented_request_in_the_documented_shape(
        smsaero: SmsAeroEmulator) -> None:
    sent = ""
    for ex in examples("smsaero"):
        body = {k: (sent if v == "{sent}" else v) for k, v in ex["json"].items()}
        auth = tuple(ex.get("auth") or (smsaero.email, smsaero.api_key))
        resp = httpx.post(f"{smsaero.base_url}{ex['path']}", json=body, auth=auth)
        assert resp.status_code == ex.get("status", 200), ex["name"]
        assert mismatches(ex["response"], resp.json()) == [], (ex["name"], ex["doc"], resp.json())
        if ex["name"] == "send":
            sent = resp.json()["data"]["id"]


# -- feeding the documented answers to the adapters -----------------------------------------
def replaying(gateway: str, status: int = 200) -> httpx.Client:
    """A client that answers each request with the documented response of its path (the
    first example of that path, or of the name given in the request's ``X-Example``)."""
    by_path: dict[str, dict[str, Any]] = {}
    for ex in examples(gateway):
        by_path.setdefault(ex["path"], ex)
        by_path[ex["name"]] = ex

    def handler(request: httpx.Request) -> httpx.Response:
        ex = by_path[request.headers.get("X-Example") or request.url.path]
        return httpx.Response(ex.get("status", status), json=ex["response"])

    return httpx.Client(transport=httpx.MockTransport(handler))


def msg(key: int, to: str, text: str = "Привет") -> Outgoing:
    return Outgoing(key=key, to=to, text=text, attempt_id=f"0000-{key}")


def test_sms_ru_adapter_reads_the_documented_answers() -> None:
    http = replaying("smsru")
    gw = smsru.SmsRu(config={"api_id": "x", "base_url": "https://sms.ru"}, http=http)
    results = gw.send_many([msg(1, "79255070602", "Привет 1"), msg(2, "74993221627", "Привет 2")])
    assert [(r.ok, r.provider_id) for r in results] == [
        (True, "000000-10000000"), (True, "000000-10000001")]
    reports = gw.delivery_reports([("000000-10000000", ""), ("000000-99999999", "")])
    assert [(r.state, r.cost) for r in reports] == [("delivered", Decimal("0.35")), ("gone", None)]
    http.headers["X-Example"] = "send_bad_number"
    [refused] = gw.send_many([msg(3, "7925")])
    assert not refused.ok and refused.permanent and "202" in refused.error
    http.headers["X-Example"] = "wrong_api_id"
    with pytest.raises(GatewayError, match="Неправильный api_id"):
        gw.check()


def test_smsc_adapter_reads_the_documented_answers() -> None:
    http = replaying("smsc")
    gw = smsc.Smsc(config={"login": "l", "password": "p", "base_url": "https://smsc.ru"},
                   http=http)
    [sent] = gw.send_many([msg(1, "79999999999")])
    assert sent.ok and sent.cost == Decimal("1.40")
    [report] = gw.delivery_reports([("abc1", "79999999999")])
    assert report.state == "delivered"
    http.headers["X-Example"] = "status_not_found"
    [gone] = gw.delivery_reports([("nope", "79999999999")])
    assert gone.state == "gone"  # -3 is final: it is not asked about again
    http.headers["X-Example"] = "send_bad_phone"
    [refused] = gw.send_many([msg(2, "7999")])
    assert not refused.ok and refused.permanent
    http.headers["X-Example"] = "auth_error"
    with pytest.raises(GatewayError, match="SMSC 2"):
        gw.check()


def test_sms_aero_adapter_reads_the_documented_answers() -> None:
    http = replaying("smsaero")
    gw = smsaero.SmsAero(config={"email": "e", "api_key": "k",
                                 "base_url": "https://gate.smsaero.ru"}, http=http)
    [sent] = gw.send_many([msg(1, "79031234567", "Hello, World!")])
    assert (sent.ok, sent.provider_id, sent.cost) == (True, "12345", Decimal("5.49"))
    [report] = gw.delivery_reports([("12345", "79031234567")])
    assert report.state == "delivered"
    assert gw.check() == "баланс 337.03 ₽"
    http.headers["X-Example"] = "bad_credentials"
    with pytest.raises(GatewayError, match="credentials"):
        gw.check()


# -- every published code classified -------------------------------------------------------
# sms.ru's published list (https://sms.ru/api/status_codes), restated here from the page
SMS_RU_PUBLISHED = (-1, 100, 101, 102, 103, 104, 105, 106, 107, 108, 110, 150, 200, 201, 202,
                    203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 220,
                    230, 231, 232, 233, 300, 301, 302, 303, 304, 305, 500, 901, 902)
SMSC_ERRORS_PUBLISHED = (1, 2, 3, 4, 5, 6, 7, 8, 9)
SMSC_STATES_PUBLISHED = (-3, -2, -1, 0, 1, 2, 3, 4, 20, 22, 23, 24, 25)
SMS_AERO_STATES_PUBLISHED = (0, 1, 2, 3, 4, 6, 8)


@pytest.mark.parametrize("code", SMS_RU_PUBLISHED)
def test_every_sms_ru_code_has_a_meaning(code: int) -> None:
    text, kind = smsru.CODES[code]
    assert text and kind in {"ok", "pending", "delivered", "undelivered", "gone",
                             "permanent", "transient"}
    assert smsru.is_permanent(code) == (kind == "permanent")


def test_sms_ru_refusals_split_as_documented() -> None:
    assert smsru.is_permanent(202) and smsru.is_permanent(209) and smsru.is_permanent(207)
    assert not smsru.is_permanent(201) and not smsru.is_permanent(220)  # money, outage
    assert not smsru.is_permanent(999)  # not in the list: retried
    assert smsru.report_state(-1) == "gone" and smsru.report_state(103) == "delivered"
    assert smsru.report_state(150) == "undelivered" and smsru.report_state(102) == "pending"
    assert set(smsru.CODES) == set(SMS_RU_PUBLISHED)


@pytest.mark.parametrize("code", SMSC_ERRORS_PUBLISHED)
def test_every_smsc_error_is_permanent_or_transient(code: int) -> None:
    assert smsc.ERRORS[code][0]
    assert smsc.is_permanent(code) == (code in {1, 5, 6, 7, 8})


@pytest.mark.parametrize("state", SMSC_STATES_PUBLISHED)
def test_every_smsc_message_state_has_a_meaning(state: int) -> None:
    assert smsc.report_state(state) == smsc.STATUSES[state][1]
    assert smsc.STATUSES[state][1] in {"delivered", "undelivered", "pending", "gone"}


@pytest.mark.parametrize("state", SMS_AERO_STATES_PUBLISHED)
def test_every_sms_aero_message_state_has_a_meaning(state: int) -> None:
    assert smsaero.report_state(state) == smsaero.STATUSES[state][1]


@pytest.mark.parametrize(("status", "result", "permanent"), [
    (400, "", True), (401, "", False), (402, "", False), (403, "", False), (404, "", True),
    (422, "", True), (429, "", False), (500, "", False), (502, "", False), (503, "", False),
    (504, "", False), (200, "no credits", False), (200, "reject", True), (418, "", True),
    (599, "", False)])
def test_every_sms_aero_refusal_is_permanent_or_transient(status: int, result: str,
                                                         permanent: bool) -> None:
    assert smsaero.is_permanent(status, result) is permanent
