"""The demo shop of ``make run`` is connected to the MoySklad emulator started beside it: the
seeding writes the emulator's address and demo token, the start reads its states and sets
the rule, and the page shows a working connection whose trigger can be tried at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from shipdesk.carriers.emulation import Running, start
from shipdesk.core import demo, sandbox_ports
from shipdesk.integrations.models import MoySkladConnection
from shipdesk.integrations.moysklad import demo as moysklad_demo
from shipdesk.integrations.moysklad.emulator import PREFIX, SANDBOX_TOKEN, MoySkladEmulator


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    """This instance's MoySklad emulator, on the port ``core.sandbox_ports`` gave it."""
    running = start(MoySkladEmulator())
    running.app.seed_orders(3)  # type: ignore[attr-defined]
    monkeypatch.setenv(sandbox_ports.ENV, f"moysklad={running.server.server_address[1]}")
    yield running
    running.stop()


@pytest.mark.django_db
def test_demo_seeding_connects_the_demo_org_to_this_instances_emulator(
        org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sandbox_ports.ENV, "moysklad=18455")
    demo.demo_load(organization=org)
    connection = MoySkladConnection.objects.get(organization=org)
    assert connection.base_url == f"http://127.0.0.1:18455{PREFIX}"
    assert connection.credentials == {"token": SANDBOX_TOKEN}
    # a second start on another port moves it there, never to the internet
    monkeypatch.setenv(sandbox_ports.ENV, "moysklad=18466")
    assert moysklad_demo.demo_connections_repoint() == 1
    connection.refresh_from_db()
    assert connection.base_url == f"http://127.0.0.1:18466{PREFIX}"


@pytest.mark.django_db(transaction=True)
def test_started_demo_shows_a_working_connection_and_the_trigger_can_be_tried(
        org: Any, web: Client, emulator: Running) -> None:
    moysklad_demo.demo_connection_create(organization=org)
    # what `make run` does once the web app answers (nobody listens on :9 here)
    moysklad_demo.demo_connection_start(organization=org, public_url="http://127.0.0.1:9")
    page = web.get("/integrations/moysklad/").content.decode()
    assert 'id="sandbox"' in page and "песочница МоегоСклада" in page
    assert f'value="{emulator.url}{PREFIX}"' in page
    collected = next(s["id"] for s in MoySkladConnection.objects.get(organization=org).states
                     if s["name"] == "Собран")
    assert f'<option value="{collected}" selected>Собран</option>' in page
    answer = web.post("/integrations/moysklad/sandbox/move/", follow=True)
    assert "Заказ переведён в состояние-триггер" in answer.content.decode()
    app: Any = emulator.app
    states = [app.order_state_name(i) for i in app.entities["customerorder"]]
    assert states.count("Собран") == 1 and states.count("Новый") == 2
    # its notification went to the address subscribed (the webhook of the connection)
    assert any("/api/v1/integrations/moysklad/webhook/" in h["url"]
               for h in app.webhooks.values())


@pytest.mark.django_db
def test_a_connection_to_the_real_moysklad_is_left_alone_and_has_no_sandbox_button(
        actor: Any, web: Client, emulator: Running) -> None:
    MoySkladConnection.objects.create(organization=actor.organization,
                                      base_url="https://api.moysklad.ru/api/remap/1.2",
                                      credentials={"token": "real"})
    assert moysklad_demo.demo_connection_start(organization=actor.organization,
                                               public_url="http://127.0.0.1:9") is None
    assert 'id="sandbox"' not in web.get("/integrations/moysklad/").content.decode()
    answer = web.post("/integrations/moysklad/sandbox/move/", follow=True)
    assert "только с песочницей" in answer.content.decode()
