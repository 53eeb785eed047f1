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


# --- one process serves them all (``shipdesk emulate_sandboxes``, ``make run``) ---------


def _free_ports(count: int) -> list[int]:
    holders = [socket.socket() for _ in range(count)]
    try:
        for holder in holders:
            holder.bind(("127.0.0.1", 0))
        return [holder.getsockname()[1] for holder in holders]
    finally:
        for holder in holders:
            holder.close()


def test_embedded_starts_every_emulator_in_one_child(clean_env: None) -> None:
    from shipdesk.core.management.commands.embedded import child_processes

    names = [emulator.name for emulator in sandbox_ports.declared()]
    assert {"sandbox", "cdek", "pickpoint", "russian_post", "sms-smsru", "moysklad"} <= set(names)
    children = dict(child_processes(host="127.0.0.1", port=8000))
    assert sorted(children) == ["beat", "emulators", "web", "worker"]
    assert children["emulators"][-1] == "emulate_sandboxes"


def test_russian_post_beside_the_others_keeps_the_demo_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """As when it was a process of its own: its ticket delay and pace from ``make run``'s env."""
    from shipdesk.core import demo

    for name, value in demo.DEMO_PACE.items():
        monkeypatch.setenv(name, value)
    [russian_post] = [e for e in sandbox_ports.declared() if e.name == "russian_post"]
    server = russian_post.start(_free_ports(1)[0])
    try:
        config = server.state.config  # type: ignore[attr-defined]
        assert (config.ticket_delay_seconds, config.step_seconds) == (2.5, 20.0)
    finally:
        server.stop()


def test_emulate_sandboxes_serves_them_all_from_one_process(tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    import shipdesk
    from shipdesk.notifications.gateways import Outgoing, get_gateway

    names = sorted(sandbox_ports.wanted())
    chosen = dict(zip(names, _free_ports(len(names)), strict=True))
    env = {**os.environ, sandbox_ports.ENV: ",".join(f"{k}={v}" for k, v in chosen.items()),
           "SHIPDESK_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(Path(shipdesk.__file__).resolve().parents[1])}
    process = subprocess.Popen([sys.executable, "-m", "shipdesk.cli", "emulate_sandboxes"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    try:
        announced: dict[str, int] = {}
        while len(announced) < len(names):
            line = process.stdout.readline()
            assert line, process.communicate(timeout=10)[0]
            name, sep, port = line.strip().partition(" :")
            if sep and port.isdigit():
                announced[name] = int(port)
        assert announced == chosen
        base = "http://127.0.0.1:{}".format
        assert httpx.get(base(chosen["sandbox"]) + "/__emulator__/state").status_code == 200
        assert httpx.get(base(chosen["moysklad"]) + "/__emulator__/state").status_code == 200
        assert httpx.get(base(chosen["russian_post"]) + "/fc?wsdl").status_code == 200
        sms = get_gateway("smsru", {"api_id": "test-api-id",
                                    "base_url": base(chosen["sms-smsru"])})
        [result] = sms.send_many([Outgoing(key=1, to="79161234567", text="Посылка ждёт вас",
                                           attempt_id="a-1")])
        assert result.ok, result
        assert "SMS 1 to +79161234567" in process.stdout.readline()
    finally:
        process.send_signal(signal.SIGTERM)  # as the supervisor stops it
        rest, _ = process.communicate(timeout=20)
    assert process.returncode == 0, rest
    for port in chosen.values():  # every one stopped with it
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
