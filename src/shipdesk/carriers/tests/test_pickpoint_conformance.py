"""PickPoint as its public material shows it (fixtures/README.md: the public Ruby client's
recorded answers): each recorded request replayed against the emulator, whose answer must
have the recorded fields with the recorded JSON types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.pickpoint.emulator import IKN, LOGIN, PASSWORD, PickpointEmulator
from shipdesk.carriers.pickpoint.statuses import STATES, status_of
from shipdesk.core.conformance import mismatches

FIXTURES = Path(__file__).resolve().parents[1] / "pickpoint" / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def emulator() -> Iterator[Running]:
    running = start(PickpointEmulator())
    yield running
    running.stop()


def post(emulator: Running, action: str, body: Any) -> Any:
    return httpx.post(f"{emulator.url}/api/{action}", json=body, timeout=10).json()


def test_login_answers_as_recorded(emulator: Running) -> None:
    ok = post(emulator, "login", {"Login": LOGIN, "Password": PASSWORD})
    assert mismatches(fixture("login_ok.json"), ok) == []
    failed = post(emulator, "login", {"Login": LOGIN, "Password": "wrong"})
    assert mismatches(fixture("login_failed.json"), failed) == []


def test_the_recorded_sending_is_created_and_tracked_as_recorded(emulator: Running) -> None:
    session = post(emulator, "login", {"Login": LOGIN, "Password": PASSWORD})["SessionId"]
    sendings = fixture("createsending_request.json")
    for sending in sendings:  # our contract number and a locker of the emulator's directory
        sending["IKN"] = IKN
        sending["Invoice"]["PostamatNumber"] = "7701-001"
    created = post(emulator, "createsending", {"SessionId": session, "Sendings": sendings})
    assert mismatches(fixture("createsending_ok.json"), created) == [], created
    [sending] = created["CreatedSendings"]
    states = post(emulator, "tracksending", {"SessionId": session,
                                             "InvoiceNumber": sending["InvoiceNumber"]})
    assert mismatches(fixture("tracksending.json"), states) == [], states
    # every state the emulator reports is one of the published list, mapped
    assert all(status_of(row["State"])[0] is not None for row in states)


def test_an_unknown_state_is_kept_unmapped_never_guessed() -> None:
    assert max(STATES) < 999
    assert status_of(999) == (None, "")
