"""Property-based fuzzing of every API operation (schemathesis over the OpenAPI document).

Each operation of ``/api/v1/openapi.json`` gets a bounded number of generated requests, both
valid by the schema and not (wrong types, out-of-range ids, missing fields), sent as the
organization's owner; every answer must be no server error (5xx) and, where the document
describes the status, match the documented response schema. Runs on both databases with
the rest of the suite; ``SHIPDESK_FUZZ_EXAMPLES`` raises the examples per operation for a
longer hunt. No network: user-given addresses do not resolve and connections out are
refused (as a machine without internet would answer).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from shipdesk.core import outbound
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import ApiKey, Role

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SHIPDESK_FUZZ_EXAMPLES", "8"))
CHECKS = [not_a_server_error, response_schema_conformance]
# far from the small ids hypothesis favours: a generated DELETE never revokes the caller
CALLER_KEY_ID = 2_000_000_001
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.create_connection

    def local_only(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] not in LOOPBACK:  # the database, Redis and the test's own servers
            raise ConnectionRefusedError(f"no network in tests: {address[0]}")
        return real(address, *args, **kwargs)

    def unresolvable(host: str, port: int) -> list[Any]:
        literal = outbound._literal(host)
        if literal is None:
            raise OSError(f"{host}: no DNS in tests")
        return [literal]

    monkeypatch.setattr(socket, "create_connection", local_only)
    monkeypatch.setattr(outbound, "resolve", unresolvable)


@pytest.fixture
def owner_client(actor: tenancy.Actor) -> Client:
    key, plain = tenancy.api_key_create(actor=actor, name="fuzz", role=Role.OWNER)
    ApiKey.objects.filter(pk=key.pk).update(id=CALLER_KEY_ID)
    return Client(headers={"X-API-Key": plain})


def _django_response(client: Client, prepared: requests.PreparedRequest) -> Response:
    """Sends a prepared request through Django's test client (the test's transaction), and
    gives the answer as the response schemathesis validates."""
    url = urlsplit(prepared.url or "")
    path = url.path + (f"?{url.query}" if url.query else "")
    headers = {k: v for k, v in prepared.headers.items()
               if k.lower() not in ("content-type", "content-length", "host", "cookie")}
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    started = time.monotonic()
    answer = client.generic(prepared.method or "GET", path, data=body,
                            content_type=prepared.headers.get("Content-Type", ""),
                            headers=headers)
    content = b"".join(answer.streaming_content) if answer.streaming else answer.content
    return Response(status_code=answer.status_code,
                    headers={k.lower(): [v] for k, v in answer.items()}, content=content,
                    request=prepared, elapsed=time.monotonic() - started, verify=True,
                    encoding="utf-8")


def test_every_api_operation_survives_generated_input(owner_client: Client,
                                                      no_network: None) -> None:
    document = owner_client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    schema = schemathesis.openapi.from_dict(document.json())
    failures: list[str] = []
    took: dict[str, float] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        raw = operation.definition.raw
        modes = [GenerationMode.POSITIVE]
        if raw.get("parameters") or raw.get("requestBody"):  # something to make invalid
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            strategy = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case: Any) -> None:
                kwargs = case.as_transport_kwargs(base_url="http://testserver")
                kwargs.pop("timeout", None)
                kwargs.pop("verify", None)
                kwargs.pop("allow_redirects", None)
                prepared = requests.Request(**kwargs).prepare()
                response = _django_response(owner_client, prepared)
                case.validate_response(response, checks=CHECKS)

            started = time.monotonic()
            try:
                run()
            except Unsatisfiable:
                # nothing to make invalid (an operation without parameters or body)
                assert mode == GenerationMode.NEGATIVE
            except (Exception, BaseExceptionGroup) as exc:  # every failing operation, not the first
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): "
                                f"{str(exc)[:1500]}")
            finally:
                took[f"{operation.method.upper()} {operation.path} ({mode.value})"] = (
                    time.monotonic() - started)
    slowest = sorted(took.items(), key=lambda kv: -kv[1])[:8]
    print("fuzzing: slowest operations", ", ".join(f"{k} {v:.1f}s" for k, v in slowest))
    assert operations >= 90
    assert not failures, "\n\n".join(failures)


def test_a_sending_window_with_an_offset_is_422_naming_it(api: Client) -> None:
    """Found by the fuzzing above: an aware time was a 500."""
    response = api.patch("/api/v1/notifications/settings/", {"window_start": "18:54:42+13:44"},
                         content_type="application/json")
    assert response.status_code == 422, response.content
    assert [e["loc"] for e in response.json()["errors"]] == [["window_start"]]
    assert api.get("/api/v1/notifications/settings/").json()["window_start"] == "09:00:00"
