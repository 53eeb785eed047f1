"""E-mail over SMTP through Django's mail API: one connection for a whole batch.

SMTP cannot be asked afterwards whether it took a message. Every attempt of one outbox row
carries the same ``Message-ID`` (derived from the row, see :func:`message_id`), so a message
re-sent after a crash is the *same* message to the receiving system: at least once at the
SMTP level, one message per Message-ID in the mailbox (RFC 5322 §3.6.4)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import smtplib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from shipdesk.notifications.gateways.base import RESEND, Gateway, GatewayError, Outgoing, SendResult


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
        return get_connection("django.core.mail.backends.smtp.EmailBackend", fail_silently=False,
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
        except (OSError, smtplib.SMTPException) as exc:
            return [SendResult(m.key, False, error=f"SMTP недоступен: {exc}") for m in messages]
        results: list[SendResult] = []
        try:
            for i, m in enumerate(messages):
                mid = message_id(m, self.from_email)
                msg = EmailMultiAlternatives(m.subject, m.text, self.from_email, [m.to],
                                             connection=conn, headers={"Message-ID": mid,
                                                                       **m.headers})
                if m.html:
                    msg.attach_alternative(m.html, "text/html")
                try:
                    conn.send_messages([msg])
                    results.append(SendResult(m.key, True, provider_id=mid[1:-1][:64]))
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
