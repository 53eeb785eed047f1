"""E-mail over SMTP through Django's mail API: one connection for a whole batch.
SMTP has no idempotency: a message is either marked sent after the server accepted it, or
(crash in between) left "unknown" and not repeated — at most once."""

from __future__ import annotations

import contextlib
import smtplib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from shipdesk.notifications.gateways.base import Gateway, GatewayError, Outgoing, SendResult


class Email(Gateway):
    name = "smtp"

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
                msg = EmailMultiAlternatives(m.subject, m.text, self.from_email, [m.to],
                                             connection=conn,
                                             headers={"Message-ID": f"<{m.attempt_id}@shipdesk>",
                                                      **m.headers})
                if m.html:
                    msg.attach_alternative(m.html, "text/html")
                try:
                    conn.send_messages([msg])
                    results.append(SendResult(m.key, True, provider_id=m.attempt_id))
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
