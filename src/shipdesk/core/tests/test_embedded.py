"""Embedded mode: the supervisor, and ``shipdesk embedded`` started for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import shipdesk

SRC = str(Path(shipdesk.__file__).resolve().parents[1])
LOOP = "import time\nprint('up', flush=True)\nwhile True: time.sleep(0.1)"


def _supervise(children: list[tuple[str, list[str]]]) -> subprocess.Popen[str]:
    code = ("import sys; from shipdesk.core.supervisor import Supervisor; "
            f"sys.exit(Supervisor({children!r}).run())")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": SRC})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGHUP],
                         ids=["ctrl-c", "terminal-closed"])
def test_ctrl_c_stops_every_child_and_exits_zero(stop_signal: signal.Signals):
    py = sys.executable
    show_pid = "import os; print('pid', os.getpid(), flush=True)\n" + LOOP
    process = _supervise([("alpha", [py, "-c", show_pid]), ("beta", [py, "-c", show_pid])])
    assert process.stdout is not None
    lines: list[str] = []
    while sum("pid" in line for line in lines) < 2:
        lines.append(process.stdout.readline())
    process.send_signal(stop_signal)
    _output, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    pids = [int(line.split()[-1]) for line in lines if " pid " in line]
    assert any(line.startswith("alpha | pid") for line in lines)
    assert any(line.startswith("beta  | pid") for line in lines)
    time.sleep(0.2)
    assert not any(_pid_alive(pid) for pid in pids)


def test_nobody_reading_the_output_stops_every_child():
    """``shipdesk embedded | head``: once the reader is gone, the children are stopped, not
    left running in their own sessions holding their ports."""
    py = sys.executable
    chatty = "import os, time\nprint('pid', os.getpid(), flush=True)\n" \
             "while True:\n    print('tick', flush=True); time.sleep(0.05)"
    process = _supervise([("alpha", [py, "-c", chatty]), ("beta", [py, "-c", chatty])])
    assert process.stdout is not None
    lines: list[str] = []
    while sum(" pid " in line for line in lines) < 2:
        lines.append(process.stdout.readline())
    process.stdout.close()
    process.wait(timeout=30)
    pids = [int(line.split()[-1]) for line in lines if " pid " in line]
    deadline = time.monotonic() + 10
    while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_pid_alive(pid) for pid in pids)


def test_a_dying_child_stops_everything():
    py = sys.executable
    process = _supervise([("steady", [py, "-c", LOOP]),
                          ("crashy", [py, "-c", "import sys; print('bye'); sys.exit(3)"])])
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "crashy exited with code 3" in output
    assert "stopped" in output


def _answers(url: str, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=5).status_code == 200
        except httpx.TransportError:
            time.sleep(0.3)
    return False


def test_shipdesk_embedded_serves_and_stops_on_ctrl_c(tmp_path: Path):
    port = 18000 + (os.getpid() % 10)  # our range; one per xdist worker
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "REDIS_", "CELERY_", "SHIPDESK_"))}
    env.update(SHIPDESK_DATA_DIR=str(tmp_path), PYTHONPATH=SRC)
    process = subprocess.Popen([sys.executable, "-m", "shipdesk.cli", "embedded", "--port", str(port)],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Password:" in line:
                break
        output = "".join(lines)
        assert f"Shipdesk is running: http://127.0.0.1:{port}/" in output, output
        # this instance's emulators are its own: moved with its web port, never the usual
        # 18100.. a `make run` beside it holds, and they answer there
        emulators = dict(item.strip().split(" :") for item in output.split(
            "Sandbox emulators:")[1].splitlines()[0].split(","))
        assert int(emulators["russian_post"]) != 18100
        assert _answers(f"http://127.0.0.1:{emulators['sandbox']}/__emulator__/state")
        password = lines[-1].split("Password:")[1].strip()
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/healthz").status_code == 200
        ready = httpx.get(base + "/readyz")
        assert ready.status_code == 200, ready.text
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            login = browser.get("/login/")
            assert login.status_code == 200
            dashboard = browser.post("/login/", data={
                "username": "demo@shipdesk.local", "password": password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"]})
            assert dashboard.status_code == 200 and 'class="cards"' in dashboard.text
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest[-3000:]
    assert "shipdesk | stopped" in rest.replace("  ", " ") or "| stopped" in rest
