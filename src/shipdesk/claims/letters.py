"""The claim as a document: the carrier's claim (Russian Post's claim with the item's data,
the F103 list and the receipt it was accepted by, the declared value and the postage;
CDEK's claim with the order's data) followed by the parcel's whole event history, as PDF;
sent by e-mail through the organization's SMTP with its attachments (the label, the F103
list when one was made, the payout report rows), or given as a print pack."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4

from shipdesk.claims.models import Claim, ClaimLetter, Kind
from shipdesk.core.errors import FieldError, ValidationFailed
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

# the addressee of each carrier's claim (a letter to another carrier says "the carrier")
ADDRESSEE = {"russian_post": "АО «Почта России»", "cdek": "ООО «СДЭК-Глобал»"}
TITLE = {"russian_post": "ПРЕТЕНЗИЯ (заявление о возмещении) по внутреннему почтовому "
                         "отправлению",
         "cdek": "ПРЕТЕНЗИЯ по договору транспортной экспедиции"}
REQUEST = {
    Kind.STUCK: "Прошу провести розыск отправления и, если оно не будет найдено, возместить "
                "ущерб.",
    Kind.LOST: "Прошу возместить ущерб за утрату отправления.",
    Kind.DAMAGED: "Прошу возместить ущерб за повреждение (недостачу) вложения.",
    Kind.PARTIAL: "Прошу возместить стоимость невручённой части вложения.",
    Kind.COD_UNPAID: "Прошу перечислить полученный наложенный платёж.",
    Kind.RETURN_MISSING: "Прошу вернуть отправление отправителю или возместить ущерб.",
    Kind.OVERCHARGE: "Прошу вернуть излишне удержанную сумму.",
}


@dataclass
class ClaimDocument:
    """Everything the document shows (plain data, built once from the database)."""

    claim_id: int
    carrier_code: str
    kind: str
    organization: str
    tracking_number: str
    order_number: str
    accepted_at: dt.datetime | None
    sender: str
    recipient: str
    route: str
    weight_g: int | None
    declared_value: Decimal
    cod_amount: Decimal
    postage: Decimal | None
    mail_type: str
    f103: str
    claimed_amount: Decimal
    evidence: list[str]
    events: list[tuple[dt.datetime, str, str, str]] = field(default_factory=list)
    payout_rows: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)


def _batch_of(shipment_id: int) -> Any:
    from shipdesk.documents.models import BatchEntry

    entry = BatchEntry.objects.filter(shipment_id=shipment_id).select_related("batch").first()
    return entry.batch if entry else None


def _f103_file(batch: Any) -> bytes | None:
    from shipdesk.documents.models import DocumentStatus, GeneratedDocument

    doc = GeneratedDocument.objects.filter(batch=batch, kind="f103_pdf",
                                           status=DocumentStatus.DONE).first()
    if doc is None or not doc.file:
        return None
    with doc.file.open("rb") as fh:
        return bytes(fh.read())


def _payout_rows(claim: Claim) -> list[dict[str, Any]]:
    from shipdesk.finance.models import PayoutRow

    if not claim.tracking_number:
        return []
    return [dict(r) for r in PayoutRow.objects.filter(
        organization_id=claim.organization_id, tracking_number=claim.tracking_number).values(
        "report_id", "row_number", "tracking_number", "cod_amount", "fee", "paid_amount",
        "paid_on", "outcome", "difference", "message").order_by("report_id", "row_number")]


def claim_document(claim: Claim) -> ClaimDocument:
    from shipdesk.tracking.models import TrackingEvent

    s = claim.shipment
    sender = s.sender
    batch = _batch_of(s.pk)
    f103 = ""
    if batch is not None:
        f103 = _("Список ф.103 № %(n)s от %(d)s") % {
            "n": batch.carrier_batch_id or f"{batch.number}/{batch.year}",
            "d": batch.shipping_date.strftime("%d.%m.%Y")}
    events = [(e.occurred_at, e.raw_code, e.raw_text, e.place) for e in TrackingEvent.objects.filter(
        shipment_id=s.pk).order_by("occurred_at", "id")]
    recipient = " ".join(p for p in (s.recipient_surname, s.recipient_given_name,
                                     s.recipient_patronymic) if p) or s.recipient_company
    address = ", ".join(p for p in (s.index, s.region, s.city, s.street, s.house,
                                    s.apartment) if p)
    return ClaimDocument(
        claim_id=claim.pk, carrier_code=claim.carrier_code, kind=claim.kind,
        organization=claim.organization.name if hasattr(claim, "organization") else "",
        tracking_number=claim.tracking_number, order_number=s.order_number,
        accepted_at=claim.posted_at,
        sender=(f"{sender.company or sender.name}, {sender.index} {sender.city}"
                if sender else ""),
        recipient=f"{recipient}, {address}".strip(", "),
        route=_("из %(a)s в %(b)s") % {"a": sender.index if sender else "—", "b": s.index or "—"},
        weight_g=s.weight_g, declared_value=s.declared_value, cod_amount=s.cod_amount,
        postage=s.shipping_cost, mail_type=s.service_code, f103=f103,
        claimed_amount=claim.claimed_amount, evidence=list(claim.evidence or []),
        events=events, payout_rows=_payout_rows(claim))


def _money(v: Decimal | None) -> str:
    from shipdesk.documents.rendering.common import money

    return money(v) + " ₽" if v is not None else "—"


class _Writer:
    """Lines of text down A4 pages, wrapped to the width, a new page when one is full."""

    def __init__(self, title: str) -> None:
        from shipdesk.documents.rendering.common import new_canvas

        self.out = io.BytesIO()
        self.canvas = new_canvas(self.out, A4, title)
        self.width, self.height = A4
        self.margin = 42.0
        self.y = self.height - self.margin

    def line(self, text: str, *, size: float = 10, bold: bool = False, gap: float = 3) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        from shipdesk.documents.rendering.fonts import BOLD, REGULAR

        font = BOLD if bold else REGULAR
        room = self.width - 2 * self.margin
        words, current = text.split(" "), ""
        lines = []
        for word in words:
            trial = f"{current} {word}".strip()
            if stringWidth(trial, font, size) > room and current:
                lines.append(current)
                current = word
            else:
                current = trial
        lines.append(current)
        for ln in lines:
            if self.y < self.margin + size:
                self.canvas.showPage()
                self.y = self.height - self.margin
            self.canvas.setFont(font, size)
            self.canvas.drawString(self.margin, self.y - size, ln)
            self.y -= size + gap

    def space(self, points: float = 8) -> None:
        self.y -= points

    def finish(self) -> bytes:
        self.canvas.showPage()
        self.canvas.save()
        return self.out.getvalue()


def render_pdf(doc: ClaimDocument) -> bytes:
    w = _Writer(f"Претензия № {doc.claim_id}")
    w.line(_("В %(who)s") % {"who": ADDRESSEE.get(doc.carrier_code, _("службу доставки"))},
           size=10)
    w.line(_("от %(org)s") % {"org": doc.organization or doc.sender})
    w.space(10)
    w.line(TITLE.get(doc.carrier_code, "ПРЕТЕНЗИЯ"), size=13, bold=True)
    w.line(_("№ %(id)d от %(d)s. Повод: %(k)s") % {
        "id": doc.claim_id, "d": timezone.localdate().strftime("%d.%m.%Y"),
        "k": Kind(doc.kind).label}, bold=True)
    w.space()
    facts = [
        (_("Трек-номер (ШПИ)") if doc.carrier_code == "russian_post" else _("Номер заказа"),
         doc.tracking_number),
        (_("Номер заказа магазина"), doc.order_number),
        (_("Дата приёма"), doc.accepted_at.astimezone(timezone.get_current_timezone())
         .strftime("%d.%m.%Y") if doc.accepted_at else "—"),
        (_("Вид отправления"), doc.mail_type or "—"),
        (_("Отправитель"), doc.sender or "—"),
        (_("Получатель"), doc.recipient or "—"),
        (_("Маршрут (индексы)"), doc.route),
        (_("Вес"), f"{doc.weight_g} г" if doc.weight_g else "—"),
        (_("Объявленная ценность"), _money(doc.declared_value)),
        (_("Наложенный платёж"), _money(doc.cod_amount)),
        (_("Плата за пересылку"), _money(doc.postage)),
        (_("Список ф.103 / квитанция"), doc.f103 or _("нет (сдано без списка ф.103)")),
    ]
    for name, value in facts:
        w.line(f"{name}: {value}")
    w.space()
    w.line(_("Обстоятельства"), bold=True)
    for sentence in doc.evidence or [str(Kind(doc.kind).label)]:
        w.line(f"• {sentence}")
    w.space()
    w.line(REQUEST.get(Kind(doc.kind), ""))
    w.line(_("Сумма требования: %(s)s") % {"s": _money(doc.claimed_amount)}, bold=True)
    if doc.attachments:
        w.space()
        w.line(_("Приложения"), bold=True)
        for i, name in enumerate(doc.attachments, 1):
            w.line(f"{i}. {name}")
    w.space()
    w.line(_("Подпись: ______________________   Дата: ____________"))
    w.space(14)
    w.line(_("История отправления %(n)s (все операции перевозчика)") % {
        "n": doc.tracking_number}, bold=True, size=11)
    if not doc.events:
        w.line(_("Операций нет"))
    for at, code, text, place in doc.events:
        local = at.astimezone(timezone.get_current_timezone())
        w.line(f"{local:%d.%m.%Y %H:%M}  [{code}]  {text}" + (f" — {place}" if place else ""),
               size=9, gap=2)
    if doc.payout_rows:
        w.space()
        w.line(_("Строки отчётов о выплате"), bold=True, size=11)
        for r in doc.payout_rows:
            w.line(_("Отчёт %(rep)s, строка %(row)s: НП %(cod)s, удержано %(fee)s, "
                     "перечислено %(paid)s %(msg)s") % {
                "rep": r["report_id"], "row": r["row_number"], "cod": _money(r["cod_amount"]),
                "fee": _money(r["fee"]), "paid": _money(r["paid_amount"]),
                "msg": r["message"]}, size=9, gap=2)
    return w.finish()


def _payout_csv(rows: list[dict[str, Any]]) -> bytes:
    from shipdesk.analytics.exports import to_csv

    headers = ["report", "row", "tracking_number", "cod_amount", "fee", "paid_amount",
               "paid_on", "outcome", "difference", "message"]
    keys = ["report_id", "row_number", "tracking_number", "cod_amount", "fee", "paid_amount",
            "paid_on", "outcome", "difference", "message"]
    return to_csv(headers, [[r[k] for k in keys] for r in rows])


def claim_files(*, actor: Actor, claim: Claim) -> list[tuple[str, bytes, str]]:
    """The claim PDF and its attachments: (file name, bytes, content type)."""
    from shipdesk.documents.services import shipment_labels_pdf

    doc = claim_document(claim)
    extra: list[tuple[str, bytes, str]] = []
    if claim.tracking_number:
        # no label can be drawn for a cancelled parcel: the letter goes without
        with contextlib.suppress(ValidationFailed):
            extra.append((f"label_{claim.tracking_number}.pdf",
                          shipment_labels_pdf(actor=actor, shipment_ids=[claim.shipment_id]),
                          "application/pdf"))
    batch = _batch_of(claim.shipment_id)
    f103 = _f103_file(batch) if batch is not None else None
    if f103:
        extra.append((f"f103_{batch.number}_{batch.year}.pdf", f103, "application/pdf"))
    if doc.payout_rows:
        extra.append((f"payout_rows_{claim.tracking_number}.csv", _payout_csv(doc.payout_rows),
                      "text/csv"))
    doc.attachments = [name for name, _b, _t in extra]
    return [(f"claim_{claim.pk}.pdf", render_pdf(doc), "application/pdf"), *extra]


def claim_pdf(*, actor: Actor, claim: Claim) -> bytes:
    actor.require(Perm.VIEW)
    return claim_files(actor=actor, claim=claim)[0][1]


def claim_print_pack(*, actor: Actor, claim: Claim) -> bytes:
    """The claim and every PDF attachment as one file to print; recorded as sent on paper."""
    from pypdf import PdfWriter

    actor.require(Perm.MANAGE_SHIPMENTS)
    files = claim_files(actor=actor, claim=claim)
    writer = PdfWriter()
    for _name, data, ctype in files:
        if ctype == "application/pdf":
            writer.append(io.BytesIO(data))
    out = io.BytesIO()
    writer.write(out)
    ClaimLetter.objects.create(claim=claim, channel="print", attachments=[
        n for n, _d, _t in files], user=actor.user if getattr(actor.user, "pk", None) else None)
    return out.getvalue()


def claim_send_email(*, actor: Actor, claim: Claim, to: str) -> ClaimLetter:
    """The claim e-mailed to the carrier's claims address through the organization's SMTP,
    with the PDF and attachments; recorded with its Message-ID."""
    from django.core.mail import make_msgid

    from shipdesk.notifications.services import organization_mail_connection

    actor.require(Perm.MANAGE_SHIPMENTS)
    to = (to or "").strip()
    try:
        validate_email(to)
    except DjangoValidationError:
        raise ValidationFailed(_("Неверный адрес"), errors=[
            FieldError(("to",), _("Неверный адрес e-mail: «%(a)s»") % {"a": to})]) from None
    files = claim_files(actor=actor, claim=claim)
    connection, from_email = organization_mail_connection(
        organization_id=claim.organization_id)
    subject = _("Претензия № %(id)d по отправлению %(n)s") % {
        "id": claim.pk, "n": claim.tracking_number}
    body = "\n".join([
        _("Направляем претензию по отправлению %(n)s (%(k)s) на сумму %(s)s ₽.") % {
            "n": claim.tracking_number, "k": Kind(claim.kind).label,
            "s": claim.claimed_amount},
        _("Претензия, история отправления и приложения — во вложении."), "",
        claim.organization.name])
    mid = make_msgid(domain=from_email.rsplit("@", 1)[-1] if "@" in from_email else None)
    message = EmailMessage(subject, body, from_email, [to], connection=connection,
                           headers={"Message-ID": mid})
    for name, data, ctype in files:
        message.attach(name, data, ctype)
    message.send(fail_silently=False)
    letter = ClaimLetter.objects.create(
        claim=claim, channel="email", to=to, subject=subject[:300], message_id=mid,
        attachments=[n for n, _d, _t in files],
        user=actor.user if getattr(actor.user, "pk", None) else None)
    audit(actor, "claims.claim_send", claim, to=to)
    return letter
