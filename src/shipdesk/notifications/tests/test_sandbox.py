"""The SMS gateways' emulators as sandboxes: ``shipdesk emulate_sms`` and the demo shop of
``make run``, whose SMS go to the sms.ru emulator started beside it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shipdesk.notifications import services
from shipdesk.notifications.gateways import emulators
from shipdesk.notifications.models import ChannelConfig
from shipdesk.tenancy.services import system_actor

SRC = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_the_demo_shop_sends_its_sms_to_the_emulator_started_beside_it(org):
    channel = services.demo_channels_connect(organization=org)
    assert channel.config["base_url"] == (
        f"http://127.0.0.1:{emulators.SANDBOX_PORTS['smsru']}")
    assert channel.enabled and channel.callback_token
    # the same settings, on a port of this test's own (the fixed one may be taken here)
    server, config = emulators.sandbox("smsru", port=0)
    try:
        services.channel_config_save(actor=system_actor(org), gateway="smsru",
                                     config={"base_url": config["base_url"]})
        assert ChannelConfig.objects.get(organization=org, gateway="smsru"
                                         ).config["api_id"] == config["api_id"]
        services.channel_test_send(actor=system_actor(org), gateway="smsru",
                                   to="+7 916 123-45-67")
        [sms] = server.messages
        assert sms["phone"] == "79161234567" and org.name in sms["text"]
    finally:
        server.stop()


@pytest.mark.parametrize("gateway", ["smsc", "smsaero"])
def test_emulate_sms_serves_the_gateway_and_prints_what_it_accepts(gateway):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "shipdesk.cli", "emulate_sms", gateway,
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first, proc.stderr.read() if proc.poll() else first
        # the printed settings are what a shop enters: take them from the line itself
        printed = dict(part.split("=", 1) for part in
                       first[first.index("(") + 1:first.rindex(")")].split(", "))
        from shipdesk.notifications.gateways import Outgoing, get_gateway

        [result] = get_gateway(gateway, printed).send_many(
            [Outgoing(key=1, to="79161234567", text="Посылка ждёт вас", attempt_id="a-1")])
        assert result.ok, result
        line = proc.stdout.readline()
        assert "+79161234567" in line and "Посылка ждёт вас" in line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
