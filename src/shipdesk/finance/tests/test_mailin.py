"""Mail-in against a real IMAP server: Debian's Dovecot, started here with a throw-away
configuration on a free port (``make install-test-system`` installs it)."""

from __future__ import annotations

import datetime as dt
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from shipdesk.core import duework
from shipdesk.finance import ledger, mailin
from shipdesk.finance.models import Mailbox, PayoutReport, ReportStatus
from shipdesk.finance.tests.conftest import at, feed, make_shipment, sample

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "shop@example.test", "Pochta-Otchet-7"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dovecot() -> Iterator[tuple[str, int]]:
    if not os.path.exists(DOVECOT):
        pytest.fail("Dovecot is not installed: run `make install-test-system`")
    root = Path(tempfile.mkdtemp(prefix="shipdesk-imap-"))
    root.chmod(0o755)
    port = _free_port()
    (root / "mail").mkdir()
    mail_user = "dovecot" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        shutil.chown(root / "mail", "dovecot", "dovecot")
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "dovecot.conf").write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%n
first_valid_uid = 0
default_internal_user = {mail_user}
default_login_user = {"dovenull" if os.geteuid() == 0 else mail_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={root}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"dovecot exited: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _deliver(port: int, msg: EmailMessage) -> None:
    conn = imaplib.IMAP4("127.0.0.1", port)
    conn.login(USER, PASSWORD)
    conn.append("INBOX", None, None, msg.as_bytes())
    conn.logout()


def _forwarded(attachment: bytes, filename: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = "owner@shop.example", USER
    msg["Subject"] = "Fwd: Реестр наложенных платежей"
    msg.set_content("Пересылаю реестр от СДЭК.")
    msg.add_attachment(attachment, maintype="application", subtype="vnd.ms-excel",
                       filename=filename)
    return msg


@pytest.mark.django_db
def test_a_report_forwarded_by_email_is_taken_once(
        dovecot: tuple[str, int], actor: Any, org: Any, carrier_account: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    host, port = dovecot
    account = carrier_account("cdek")
    s = make_shipment(org, tracking="1500000001", order="SHOP-1001", cod="1234.50",
                      account=account)
    feed(s, "delivered", at("2026-11-28"))
    note = EmailMessage()
    note["Subject"], note["From"], note["To"] = "Привет", "x@shop.example", USER
    note.set_content("без вложений")
    _deliver(port, note)
    _deliver(port, _forwarded(sample("cdek_registry.xls"), "Реестр_4711.xls"))

    box = mailin.mailbox_set(actor=actor, host=host, port=port, username=USER,
                             password=PASSWORD, use_ssl=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert duework.sweep(names=["finance.mailboxes"]) == {"finance.mailboxes": 1}
    report = PayoutReport.objects.get(organization=org)
    assert (report.source, report.status, report.registry_number) == (
        "mail", ReportStatus.POSTED, "4711")
    assert ledger.balances(org.pk, shipment_id=s.pk) == {
        "51": Decimal("1197.46"), "44": Decimal("37.04"), "90.1": Decimal("-1234.50")}
    box.refresh_from_db()
    assert box.last_error == "" and box.last_uid == 2
    assert box.due_at is not None and box.due_at > box.last_polled_at  # type: ignore[operator]

    # the next poll finds nothing new; a later message is taken
    assert mailin.mailbox_poll(mailbox_id=box.pk) == 0
    _deliver(port, _forwarded(sample("sandbox_payouts.csv"), "payouts.csv"))
    assert mailin.mailbox_poll(mailbox_id=box.pk, now=box.due_at + dt.timedelta(minutes=1)) == 1
    assert PayoutReport.objects.filter(organization=org, source="mail").count() == 2


@pytest.mark.django_db
def test_a_wrong_password_is_reported_on_the_mailbox(dovecot: tuple[str, int], actor: Any
                                                     ) -> None:
    host, port = dovecot
    box = mailin.mailbox_set(actor=actor, host=host, port=port, username=USER,
                             password="wrong", use_ssl=False)
    assert mailin.mailbox_poll(mailbox_id=box.pk) == 0
    box = Mailbox.objects.get(pk=box.pk)
    assert box.last_error and box.due_at is not None
