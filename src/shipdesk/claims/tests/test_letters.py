"""The claim document: the carrier's claim with the item's data and the parcel's whole
history as PDF text; sent by e-mail through the organization's own SMTP server with the
claim, the label and the payout rows attached, and recorded; a print pack."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from shipdesk.claims import letters, services
from shipdesk.claims.models import ClaimLetter
from shipdesk.documents.tests.pdfcheck import page_texts

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _parcel_with_history(org: Any) -> Any:
    from shipdesk.finance.models import PayoutReport, PayoutRow
    from shipdesk.shipments.models import SenderProfile, Shipment, State
    from shipdesk.tracking.models import TrackingEvent, TrackingState

    sender = SenderProfile.objects.create(organization=org, name="Склад", company="ООО Ромашка",
                                          index="101000", city="Москва")
    s = Shipment.objects.create(
        organization=org, order_number="Z-1", tracking_number="80085412345678",
        carrier_code="russian_post", state=State.HANDED_OVER, sender=sender,
        service_code="POSTAL_PARCEL", weight_g=1200, declared_value=Decimal("3000.00"),
        cod_amount=Decimal("3000.00"), shipping_cost=Decimal("412.50"), index="630099",
        city="Новосибирск", street="Ленина", house="1", recipient_surname="Сидоров",
        recipient_given_name="Пётр")
    TrackingState.objects.create(organization=org, shipment=s, public_token="tok-z1",
                                 carrier_code="russian_post", status="lost", final=True,
                                 accepted_at=T0, status_at=T0 + dt.timedelta(days=9))
    for k, (code, text, place) in enumerate((("1.2", "Приём", "Москва 101000"),
                                             ("8.3", "Прибыло в сортировочный центр",
                                              "Подольск СЦ"),
                                             ("5.1", "Утрачено", "Подольск СЦ"))):
        TrackingEvent.objects.create(organization=org, shipment=s,
                                     tracking_number=s.tracking_number,
                                     occurred_at=T0 + dt.timedelta(days=k * 4), raw_code=code,
                                     raw_text=text, status="", place=place)
    report = PayoutReport.objects.create(organization=org, source="upload", filename="r.xlsx",
                                         sha256="1" * 64, content=b"", status="posted")
    PayoutRow.objects.create(organization=org, report=report, row_number=7,
                             tracking_number=s.tracking_number, cod_amount=Decimal("0"),
                             fee=Decimal("0"), paid_amount=Decimal("0"), outcome="unknown",
                             message="Нет оплаты")
    return s


@pytest.mark.django_db
def test_claim_pdf_and_email_with_attachments_through_the_shops_smtp(
        actor: Any, org: Any, smtp_server: Any, settings: Any) -> None:
    from shipdesk.notifications.models import ChannelConfig

    s = _parcel_with_history(org)
    # the shop's own SMTP server (the test server); the installation's points nowhere
    ChannelConfig.objects.create(organization=org, gateway="smtp", config={
        "host": "127.0.0.1", "port": settings.EMAIL_PORT, "from_email": "claims@romashka.test"})
    settings.EMAIL_PORT = 9
    with time_machine.travel(T0 + dt.timedelta(days=20), tick=False):
        services.candidates_detect(actor=actor)
        claim = services.claim_create(actor=actor, shipment_id=s.pk, kind="lost")
    text = "\n".join(page_texts(letters.claim_pdf(actor=actor, claim=claim)))
    for expected in ("АО «Почта России»", "ПРЕТЕНЗИЯ", "80085412345678", "Z-1",
                     "3 000,00 ₽", "412,50 ₽", "из 101000 в 630099", "1200 г",
                     "Прибыло в сортировочный центр", "Утрачено", "[5.1]",
                     "Прошу возместить ущерб за утрату", "Сумма требования: 3 412,50 ₽",
                     "Отчёт", "строка 7"):
        assert expected in text, expected

    letter = letters.claim_send_email(actor=actor, claim=claim, to="claims@pochta.test")
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["From"] == "claims@romashka.test"
    assert message["X-Envelope-To"] == "claims@pochta.test"
    assert "80085412345678" in message["Subject"]
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(files) == {f"claim_{claim.pk}.pdf", "label_80085412345678.pdf",
                          "payout_rows_80085412345678.csv"}
    attached = "\n".join(page_texts(files[f"claim_{claim.pk}.pdf"]))
    assert "Утрачено" in attached and "label_80085412345678.pdf" in attached
    assert "Нет оплаты" in str(files["payout_rows_80085412345678.csv"])
    assert letter.message_id == message["Message-ID"]
    assert ClaimLetter.objects.get(claim=claim).attachments == list(files)

    from pypdf import PdfReader

    pack = letters.claim_print_pack(actor=actor, claim=claim)
    assert len(PdfReader(io.BytesIO(pack)).pages) >= 2  # the claim and the label
