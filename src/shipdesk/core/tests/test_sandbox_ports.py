"""Two embedded instances on one machine each get emulators of their own."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from shipdesk.carriers import services as carriers
from shipdesk.carriers.models import CarrierAccount
from shipdesk.core import sandbox_ports
from shipdesk.notifications import services as notifications


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sandbox_ports.ENV, raising=False)


def test_ports_follow_the_web_port(clean_env: None) -> None:
    usual = sandbox_ports.wanted()
    assert usual["russian_post"] == 18100 and usual["sms-smsru"] == 18300
    chosen = sandbox_ports.allocate(host="127.0.0.1", web_port=8000 + 4321)
    # each moved with the web port, unless that one was taken by something else
    moved = [name for name in usual if chosen[name] == usual[name] + 4321]
    assert len(moved) >= len(usual) - 1
    assert len(set(chosen.values())) == len(chosen)
    assert sandbox_ports.current() == chosen


def test_a_taken_port_is_replaced_by_a_free_one(clean_env: None) -> None:
    usual = sandbox_ports.wanted()["sandbox"]
    with socket.socket() as holder:  # another instance's emulator, say
        holder.bind(("127.0.0.1", usual + 1111))
        holder.listen()
        chosen = sandbox_ports.allocate(host="127.0.0.1", web_port=8000 + 1111)["sandbox"]
        assert chosen != usual + 1111
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", chosen))  # it was free


def test_sandbox_accounts_and_sms_follow_this_instances_ports(
        clean_env: None, org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = carriers.sandbox_accounts_connect(organization=org)
    channel = notifications.demo_channels_connect(organization=org)
    assert channel.config["base_url"] == "http://127.0.0.1:18300"
    monkeypatch.setenv(sandbox_ports.ENV, "sandbox=28200,russian_post=28100,sms-smsru=28300")
    assert carriers.sandbox_accounts_repoint() >= 2
    assert notifications.demo_channels_repoint() == 1
    urls = {a.carrier_code: a.base_url for a in CarrierAccount.objects.filter(
        pk__in=[a.pk for a in accounts])}
    assert urls["sandbox"] == "http://127.0.0.1:28200"
    assert urls["russian_post"].startswith("http://127.0.0.1:28100")
    channel.refresh_from_db()
    assert channel.config["base_url"] == "http://127.0.0.1:28300"
    # a second start with the same ports moves nothing
    assert carriers.sandbox_accounts_repoint() == 0
