"""Mail-in of payout reports: an IMAP mailbox the shop forwards the carriers' e-mails to,
polled as due work. Each new message's spreadsheet attachments go through the same import as
an upload; the last seen UID is kept (per UIDVALIDITY) so no message is taken twice."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import imaplib
import logging
from collections.abc import Callable
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ServiceError, ValidationFailed
from shipdesk.finance.models import Mailbox
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit, system_actor

log = logging.getLogger(__name__)
EXTENSIONS = (".xlsx", ".xls", ".ods", ".csv")
TIMEOUT = 30
# Other domains' readers of attachments this mailbox also receives (postage: a bank's
# statements in 1C "Client Bank" text): ``handler(actor, name, content) -> taken``.
AttachmentHandler = Callable[[Actor, str, bytes], bool]
_handlers: list[AttachmentHandler] = []
HANDLED_EXTENSIONS = (".txt",)


def register_attachment_handler(handler: AttachmentHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def mailbox_set(*, actor: Actor, host: str, port: int, username: str, password: str,
                use_ssl: bool = True, folder: str = "INBOX", poll_minutes: int = 15) -> Mailbox:
    actor.require(Perm.MANAGE_FINANCE)
    errors = []
    if not host.strip():
        errors.append(FieldError(("host",), _("Укажите сервер IMAP")))
    if not 0 < port < 65536:
        errors.append(FieldError(("port",), _("Порт от 1 до 65535")))
    if not username.strip():
        errors.append(FieldError(("username",), _("Укажите логин")))
    if errors:
        raise ValidationFailed(_("Почтовый ящик не сохранён"), errors=errors)
    with transaction.atomic():
        box = Mailbox.objects.filter(organization=actor.organization).first() or Mailbox(
            organization=actor.organization)
        box.host, box.port, box.username = host.strip(), port, username.strip()
        box.use_ssl, box.folder, box.poll_minutes = use_ssl, folder or "INBOX", poll_minutes
        if password:
            box.secret = {"password": password}  # type: ignore[assignment]
        box.due_at = timezone.now()
        box.save()
        audit(actor, "finance.mailbox_set", box, host=box.host, username=box.username)
    return box


def _connect(box: Mailbox) -> imaplib.IMAP4:
    cls = imaplib.IMAP4_SSL if box.use_ssl else imaplib.IMAP4
    conn = cls(box.host, box.port, timeout=TIMEOUT)
    secret: Any = box.secret or {}
    conn.login(box.username, str(secret.get("password", "")))
    return conn


def _attachments(msg: Message) -> list[tuple[str, bytes]]:
    found = []
    for part in msg.walk():
        name = part.get_filename() or ""
        if name.lower().endswith(EXTENSIONS + HANDLED_EXTENSIONS):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.append((name, payload))
    return found


def mailbox_poll(*, mailbox_id: int, now: dt.datetime | None = None) -> int:
    """Takes the new messages' reports; returns how many reports were imported."""
    from shipdesk.finance.services import report_import

    now = now or timezone.now()
    box = Mailbox.objects.filter(pk=mailbox_id).select_related("organization").first()
    if box is None:
        raise NotFound(_("Почтовый ящик не найден"))
    actor = system_actor(box.organization)
    imported = 0
    try:
        conn = _connect(box)
        try:
            status, _data = conn.select(box.folder, readonly=True)
            if status != "OK":
                raise imaplib.IMAP4.error(_("Нет папки «%(f)s»") % {"f": box.folder})
            raw_validity: Any = (conn.untagged_responses.get("UIDVALIDITY") or [b"0"])[0]
            validity = int(raw_validity)
            if validity != box.uid_validity:
                box.uid_validity, box.last_uid = validity, 0
            status, found = conn.uid("SEARCH", f"UID {box.last_uid + 1}:*")
            uids = sorted(int(u) for u in (found[0] or b"").split() if int(u) > box.last_uid)
            for uid in uids:
                status, parts = conn.uid("FETCH", str(uid), "(RFC822)")
                raw = next((p[1] for p in parts if isinstance(p, tuple)), b"")
                msg = email.message_from_bytes(raw, policy=default_policy)
                for name, content in _attachments(msg):
                    try:
                        if any(handler(actor, name, content) for handler in _handlers):
                            imported += 1
                            continue
                        if not name.lower().endswith(EXTENSIONS):
                            continue
                        report_import(actor=actor, filename=name, content=content, source="mail")
                        imported += 1
                    except ServiceError as exc:  # an unreadable attachment: noted, not fatal
                        log.warning("mail-in %s: %s: %s", box.pk, name, exc)
                box.last_uid = uid
                box.save(update_fields=["last_uid", "uid_validity"])
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):  # it may have hung up
                conn.logout()
        box.last_error = ""
    except (OSError, imaplib.IMAP4.error) as exc:
        box.last_error = str(exc)[:500]
    box.last_polled_at = now
    box.due_at = now + dt.timedelta(minutes=box.poll_minutes)
    box.save(update_fields=["last_error", "last_polled_at", "due_at", "last_uid",
                            "uid_validity"])
    return imported
