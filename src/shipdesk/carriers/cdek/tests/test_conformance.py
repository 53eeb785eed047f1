"""CDEK conformance: request/response examples written from CDEK's published API v2
documentation (``conformance/*.json``, each naming its section), replayed against the
emulator over HTTP; the answers are then fed to the adapter's parsers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipdesk.carriers.base import CreatedParcel, ItemError
from shipdesk.carriers.cdek.adapter import Adapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET
from shipdesk.carriers.emulation import Running

CASES = Path(__file__).resolve().parent / "conformance"
MSK = timedelta(hours=3)


def _token(url: str) -> str:
    answer = httpx.post(f"{url}/v2/oauth/token", data={
        "grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert answer.status_code == 200
    return str(answer.json()["access_token"])


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in names.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def _matches(expected: Any, actual: Any, where: str = "") -> None:
    """``expected`` is a subset of ``actual``; ``"*"`` matches any present value."""
    if expected == "*":
        assert actual not in (None, ""), f"{where}: missing"
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: not an object: {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key}: missing in {actual!r}"
            _matches(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) >= len(expected), f"{where}: {actual!r}"
        for i, value in enumerate(expected):
            _matches(value, actual[i], f"{where}[{i}]")
    else:
        assert expected == actual, f"{where}: {expected!r} != {actual!r}"


def _error_codes(body: Any) -> set[str]:
    codes = {str(e.get("code")) for e in body.get("errors") or []} if isinstance(body, dict) else set()
    for request in (body.get("requests") or []) if isinstance(body, dict) else []:
        codes |= {str(e.get("code")) for e in request.get("errors") or []}
    return codes


def _check(spec: dict[str, Any], response: httpx.Response) -> Any:
    assert response.status_code == spec["status"], response.text
    body = response.json()
    if "json" in spec:
        _matches(spec["json"], body)
    for key in spec.get("has", []):
        assert key in body, f"{key} missing in {body}"
    if "list_len" in spec:
        assert isinstance(body, list) and len(body) == spec["list_len"], body
    for item in body if isinstance(body, list) else []:
        for key in spec.get("item_has", []):
            assert key in item, f"{key} missing in {item}"
        _matches(spec.get("item_values", {}), item)
    if "error_codes" in spec:
        assert set(spec["error_codes"]) <= _error_codes(body), body
    if "request_state" in spec:
        assert body["requests"][0]["state"] == spec["request_state"], body
    for key in spec.get("entity_has", []):
        assert key in body["entity"], f"{key} missing in {body['entity']}"
    for key in spec.get("entity_lacks", []):
        assert key not in body["entity"], f"{key} present in {body['entity']}"
    if "entity_values" in spec:
        _matches(spec["entity_values"], body["entity"])
    return body


def _send(client: httpx.Client, url: str, request: dict[str, Any]) -> httpx.Response:
    return client.request(request["method"], f"{url}{request['path']}", params=request.get("query"),
                          json=request.get("json"))


def _an_order(client: httpx.Client, url: str) -> str:
    body = {"type": 1, "number": "CONF-ORDER", "tariff_code": 136, "delivery_point": "MSK5",
            "recipient": {"name": "Иванов Иван", "phones": [{"number": "+79134637228"}]},
            "packages": [{"number": "1", "weight": 1000}]}
    return str(client.post(f"{url}/v2/orders", json=body).json()["entity"]["uuid"])


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("*.json")))
def test_documented_example_against_the_emulator(emulator: Running, case: str) -> None:
    spec = json.loads((CASES / case).read_text(encoding="utf-8"))
    assert spec["doc"].startswith("https://apidoc.cdek.ru/")
    tomorrow = (datetime.now(UTC) + MSK + timedelta(days=1)).date().isoformat()
    names = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tomorrow": tomorrow}
    headers = {} if case.startswith("oauth") else {"Authorization": f"Bearer {_token(emulator.url)}"}
    with httpx.Client(headers=headers) as client:
        if spec.get("needs_order"):
            names["order_uuid"] = _an_order(client, emulator.url)
        body = _check(spec["response"], _send(client, emulator.url, _fill(spec["request"], names)))
        if "jwt_claims" in spec["response"]:
            claims = json.loads(_b64(body["access_token"].split(".")[1]))
            assert set(spec["response"]["jwt_claims"]) <= set(claims)
            assert 0 < Adapter._jwt_lifetime(body["access_token"]) <= body["expires_in"]
        then = spec.get("then")
        if then:
            names["uuid"] = body["entity"]["uuid"]
            answer = _check(then, _send(client, emulator.url, {"method": then["method"],
                                                               "path": _fill(then["path"], names)}))
            _feed_adapter(case, names["uuid"], answer)


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _feed_adapter(case: str, uuid: str, answer: dict[str, Any]) -> None:
    """What the adapter makes of the documented answer."""
    if case.startswith("order_becomes_invalid"):
        outcome = Adapter._creation_outcome("INV-1", uuid, answer)
        assert isinstance(outcome, ItemError) and "NOSUCHPOINT" in outcome.message
        assert outcome.field == "delivery_point"
    elif case.startswith("order_create"):
        outcome = Adapter._creation_outcome("ddOererre7450813980068", uuid, answer)
        assert isinstance(outcome, CreatedParcel) and outcome.tracking_number.isdigit()
    elif case.startswith("intake"):
        pickup = Adapter._intake_outcome(uuid, answer)
        assert pickup.number and pickup.state in ("CREATED", "READY_FOR_APPOINTMENT") and not pickup.error
