"""E-mail over SMTP (the connection from Django's mail API): one connection for many messages.

SMTP cannot be asked afterwards whether it took a message. Every attempt of one outbox row
carries the same ``Message-ID`` (derived from the row, see :func:`message_id`), so a message
re-sent after a crash is the *same* message to the receiving system: at least once at the
SMTP level, one message per Message-ID in the mailbox (RFC 5322 §3.6.4)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.quoprimime import body_encode
from email.utils import formatdate, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.message import sanitize_address

from shipdesk.notifications.gateways.base import RESEND, Gateway, GatewayError, Outgoing, SendResult


def _header(value: str) -> str:
    """A header value: ASCII as it is, anything else as RFC 2047 encoded words (UTF-8,
    base64), each at most 75 characters and never splitting a character; line breaks in
    the value become spaces (a rendered subject must not add headers)."""
    value = " ".join(value.splitlines())
    if value.isascii():
        return value
    words: list[str] = []
    part, size = "", 0
    for ch in value:
        n = len(ch.encode())
        if size + n > 45:  # 45 bytes → 60 base64 characters + 12 of "=?utf-8?b?" "?="
            words.append(part)
            part, size = "", 0
        part += ch
        size += n
    words.append(part)
    return "\r\n ".join("=?utf-8?b?" + base64.b64encode(w.encode()).decode() + "?="
                         for w in words)


def message_bytes(m: Outgoing, from_header: str, to: str, mid: str, date: str) -> bytes:
    """The message as it goes over the wire: plain text in UTF-8 (8bit, or quoted-printable
    when a line is longer than SMTP allows). Built directly, since the ``email`` package's
    parsing and folding of every header cost more than the rest of the send."""
    body = m.text.replace("\r\n", "\n").replace("\r", "\n")
    if any(len(line.encode()) > 998 for line in body.split("\n")):
        # quoprimime works on characters below 256: the UTF-8 bytes, one character each
        encoding = "quoted-printable"
        payload = body_encode(body.encode().decode("latin-1"), eol="\r\n")
    else:
        encoding, payload = "8bit", body.replace("\n", "\r\n")
    head = [f"Subject: {_header(m.subject)}", f"From: {from_header}", f"To: {to}",
            f"Date: {date}", f"Message-ID: {mid}",
            *(f"{name}: {_header(value)}" for name, value in m.headers.items()),
            "MIME-Version: 1.0", 'Content-Type: text/plain; charset="utf-8"',
            f"Content-Transfer-Encoding: {encoding}"]
    return ("\r\n".join(head) + "\r\n\r\n" + payload).encode()


def _transaction(smtp: smtplib.SMTP, sender: str, to: str, data: bytes) -> None:
    """One mail transaction (MAIL, RCPT, DATA) for addresses already checked, raising what
    ``smtplib.SMTP.sendmail`` raises (without its re-parsing of both addresses)."""
    code, resp = smtp.docmd("MAIL", f"FROM:<{sender}>")
    if code != 250:
        smtp.rset()
        raise smtplib.SMTPSenderRefused(code, resp, sender)
    code, resp = smtp.docmd("RCPT", f"TO:<{to}>")
    if code not in (250, 251):
        smtp.rset()
        raise smtplib.SMTPRecipientsRefused({to: (code, resp)})
    code, resp = smtp.data(data)
    if code != 250:
        smtp.rset()
        raise smtplib.SMTPDataError(code, resp)


def message_id(m: Outgoing, from_email: str) -> str:
    """The Message-ID of an outbox row: the same on every attempt (a re-send after a crash
    is recognised as the same message), unique per installation (keyed by the secret key),
    in the sender's domain. A test message (no row) gets one from its attempt id."""
    domain = from_email.rsplit("@", 1)[-1].strip(" >") or "shipdesk.local"
    if m.key <= 0:
        return f"<test.{m.attempt_id}@{domain}>"
    digest = hmac.new(settings.SECRET_KEY.encode(), f"notifications.message-id:{m.key}".encode(),
                      hashlib.sha256).hexdigest()[:20]
    return f"<n{m.key}.{digest}@{domain}>"


class Email(Gateway):
    name = "smtp"
    after_crash = RESEND

    def __init__(self, *, config: dict[str, Any], http: Any = None) -> None:
        self.config = config
        self.base_url = ""
        self.http = None  # type: ignore[assignment]

    def _connection(self) -> Any:
        c = self.config
        if not c.get("host"):
            return get_connection(fail_silently=False, timeout=int(c.get("timeout", 10)))
        # the organization's own server: public addresses only, checked when connecting
        return get_connection("shipdesk.core.outbound.GuardedEmailBackend", fail_silently=False,
                              host=c["host"], port=int(c.get("port") or 25),
                              username=c.get("username") or "", password=c.get("password") or "",
                              use_tls=bool(c.get("use_tls")), use_ssl=bool(c.get("use_ssl")),
                              timeout=int(c.get("timeout", 10)))

    @property
    def parallel(self) -> int:  # type: ignore[override]  # one chunk = one SMTP connection
        return max(1, int(self.config.get("connections", 4)))

    @property
    def from_email(self) -> str:
        return self.config.get("from_email") or settings.DEFAULT_FROM_EMAIL

    def send_many(self, messages: list[Outgoing]) -> list[SendResult]:
        """Large batches go over a few SMTP connections at once (``connections``, default
        4), each connection carrying many messages."""
        per = int(self.config.get("messages_per_connection", 250))
        chunks = [messages[i:i + per] for i in range(0, len(messages), per)]
        if len(chunks) <= 1:
            return self._send_over_one_connection(messages)
        workers = min(len(chunks), int(self.config.get("connections", 4)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return [r for part in pool.map(self._send_over_one_connection, chunks) for r in part]

    def _send_over_one_connection(self, messages: list[Outgoing]) -> list[SendResult]:
        conn = self._connection()
        try:
            conn.open()
            smtp = getattr(conn, "connection", None)
            if isinstance(smtp, smtplib.SMTP):
                smtp.ehlo_or_helo_if_needed()
        except (OSError, smtplib.SMTPException) as exc:
            return [SendResult(m.key, False, error=f"SMTP недоступен: {exc}") for m in messages]
        # what is the same for every message of the connection is worked out once
        from_header = sanitize_address(self.from_email, "utf-8")
        envelope_from = parseaddr(from_header)[1]
        date = formatdate(localtime=True)

        def send(m: Outgoing, mid: str) -> None:
            if not isinstance(smtp, smtplib.SMTP):  # the installation's console/file backend
                conn.send_messages([EmailMessage(m.subject, m.text, self.from_email, [m.to],
                                                 headers={"Message-ID": mid, **m.headers})])
                return
            to = m.to if m.to.isascii() else sanitize_address(m.to, "utf-8")
            _transaction(smtp, envelope_from, to, message_bytes(m, from_header, to, mid, date))

        results: list[SendResult] = []
        try:
            for i, m in enumerate(messages):
                mid = message_id(m, self.from_email)
                try:
                    send(m, mid)
                    results.append(SendResult(m.key, True, provider_id=mid[1:-1][:64]))
                except ValueError as exc:  # an address Django's mail cannot encode
                    results.append(SendResult(m.key, False, error=f"адрес отклонён: {exc}",
                                              permanent=True))
                except smtplib.SMTPRecipientsRefused as exc:
                    results.append(SendResult(m.key, False, error=f"адрес отклонён: {exc}",
                                              permanent=True))
                except smtplib.SMTPResponseException as exc:
                    results.append(SendResult(m.key, False,
                                              error=f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                              permanent=500 <= exc.smtp_code < 600))
                except (OSError, smtplib.SMTPException) as exc:
                    # the connection broke mid-message: this one is uncertain, the rest not sent
                    results.append(SendResult(m.key, False, error=f"SMTP: {exc}",
                                              uncertain=True))
                    results.extend(SendResult(r.key, False, error="SMTP: соединение прервано")
                                   for r in messages[i + 1:])
                    break
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                conn.close()
        return results

    def check(self) -> str:
        conn = self._connection()
        try:
            conn.open()
            conn.close()
        except (OSError, smtplib.SMTPException) as exc:
            raise GatewayError(f"SMTP недоступен: {exc}") from exc
        return "SMTP-сервер отвечает"

    def close(self) -> None:
        return None
