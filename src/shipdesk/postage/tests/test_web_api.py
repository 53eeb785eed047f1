"""The postage API, pages, the verify-mark command, the public verification page, statements
by e-mail, hand-over of a batch (ledger) and tracking's "accepted" using marks."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from email.message import EmailMessage

import pytest
from django.core.management import CommandError, call_command

from shipdesk.finance import ledger
from shipdesk.finance.tests.test_mailin import PASSWORD, USER, _deliver, dovecot  # noqa: F401
from shipdesk.postage import marks, services
from shipdesk.postage.models import Mark, MarkState
from shipdesk.postage.tests.conftest import statement

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 12, 6)


def test_api_from_invoice_to_statement_to_marks_to_verification(api, other_api, actor,
                                                                postage_account, letters):
    base = "/api/v1/postage"
    r = api.post(f"{base}/accounts/{postage_account.pk}/invoices/", {"amount": "500.00"},
                 content_type="application/json")
    assert r.status_code == 201, r.content
    invoice = r.json()
    assert api.get(f"{base}/invoices/{invoice['id']}/pdf")["Content-Type"] == "application/pdf"
    assert other_api.get(f"{base}/invoices/{invoice['id']}/pdf").status_code == 404
    upload = io.BytesIO(statement([{"Сумма": "500.00", "Номер": "41"}]))
    upload.name = "kl_to_1c.txt"
    r = api.post(f"{base}/statements/", {"file": upload})
    assert r.status_code == 201 and r.json()["credited"] == 1
    ids = letters(2)
    r = api.post(f"{base}/marks/", {"account_id": postage_account.pk, "shipment_ids": ids},
                 content_type="application/json")
    assert r.status_code == 201, r.content
    [first, second] = r.json()
    r = api.post(f"{base}/marks/verify/", {"payload": first["payload"]},
                 content_type="application/json")
    assert r.json()["valid"] is True and r.json()["tracking_number"] == first["tracking_number"]
    assert api.post(f"{base}/marks/{second['id']}/cancel/").json()["state"] == "cancelled"
    r = api.post(f"{base}/marks/{second['id']}/cancel/")
    assert r.status_code == 409
    assert other_api.post(f"{base}/marks/{first['id']}/cancel/").status_code == 404
    [account] = api.get(f"{base}/accounts/").json()
    assert Decimal(account["balance"]) == Decimal("500.00") - Decimal("87.50")
    r = api.get(f"{base}/accounts/{postage_account.pk}/statement/",
                {"start": "2026-01-01", "end": "2030-01-01"}).json()
    assert Decimal(r["closing"]) - Decimal(r["opening"]) == Decimal("412.50")
    r = api.post(f"{base}/envelopes.pdf", {"shipment_ids": ids, "size": "C6"},
                 content_type="application/json")
    assert marks.read_codes(r.content) == [first["payload"]]  # the cancelled one not printed


def test_verify_mark_command_and_public_page(client, actor, postage_account, letters,
                                             tmp_path):
    services.balance_correct(actor=actor, account_id=postage_account.pk,
                             amount=Decimal("100.00"), reason="аванс")
    [mark] = services.marks_issue(actor=actor, account_id=postage_account.pk,
                                  shipment_ids=letters(1))
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    good.write_bytes(marks.datamatrix_png(mark.payload))
    bad.write_bytes(marks.datamatrix_png(mark.payload.replace(mark.tracking_number,
                                                              "80080000000999")))
    out = io.StringIO()
    call_command("verify-mark", str(good), stdout=out)
    assert out.getvalue().startswith("OK ") and mark.number in out.getvalue()
    with pytest.raises(CommandError):
        call_command("verify-mark", str(bad), stdout=io.StringIO())
    page = client.get("/postage/verify/", {"code": mark.payload}).content.decode()
    assert "Знак подлинный" in page and mark.tracking_number in page
    with bad.open("rb") as image:
        page = client.post("/postage/verify/image/", {"image": image}).content.decode()
    assert "Знак не принят" in page and "Подпись не сходится" in page


def test_handover_posts_ledger_and_uses_marks_once_tracking_too(actor, postage_account,
                                                                letters):
    from shipdesk.documents.models import Batch, BatchEntry
    from shipdesk.tracking.models import ShipmentStatusChange

    services.balance_correct(actor=actor, account_id=postage_account.pk,
                             amount=Decimal("1000.00"), reason="аванс")
    ids = letters(3)
    services.marks_issue(actor=actor, account_id=postage_account.pk, shipment_ids=ids[:2])
    batch = Batch.objects.create(organization=actor.organization, year=2026, number=1,
                                 carrier_code="russian_post", mail_type="LETTER",
                                 shipping_date=DAY)
    for n, pk in enumerate(ids):
        BatchEntry.objects.create(batch=batch, shipment_id=pk, position=n)
    with pytest.raises(services.ValidationFailed) as exc:  # the third letter has no mark
        services.handover_accept(actor=actor, batch_id=batch.pk, today=DAY)
    assert [e.code for e in exc.value.errors] == ["no_mark"]
    assert not Mark.objects.filter(state=MarkState.USED).exists()  # all or nothing
    # tracking saw the third letter, marked later, accepted first: used, posted once
    [late] = services.marks_issue(actor=actor, account_id=postage_account.pk,
                                  shipment_ids=[ids[2]])
    ShipmentStatusChange.objects.create(organization=actor.organization, shipment_id=ids[2],
                                        status="accepted",
                                        changed_at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC))
    assert services.marks_from_tracking() == 1
    assert services.marks_from_tracking() == 0
    late.refresh_from_db()
    assert (late.state, late.used_on) == (MarkState.USED, dt.date(2026, 12, 7))
    used = services.handover_accept(actor=actor, batch_id=batch.pk, today=DAY)
    assert len(used) == 3
    # the postage used is a delivery cost, offset against the advance paid (the correction)
    assert ledger.balances(actor.organization_id) == {"44": Decimal("262.50"),
                                                      "60.02": Decimal("737.50"),
                                                      "51": Decimal("-1000.00")}
    with pytest.raises(services.ValidationFailed) as exc:  # the same letters again
        services.handover_accept(actor=actor, batch_id=batch.pk, today=DAY)
    assert {e.code for e in exc.value.errors} == {"used_twice"}
    assert ledger.balances(actor.organization_id)["44"] == Decimal("262.50")


def test_statement_emailed_by_the_bank_tops_up_the_balance(dovecot, actor,  # noqa: F811
                                                           postage_account):
    from shipdesk.finance import mailin

    host, port = dovecot
    services.invoice_create(actor=actor, account_id=postage_account.pk,
                            amount=Decimal("300.00"))
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bank@example.test", USER, "Выписка"
    msg.set_content("Выписка во вложении")
    msg.add_attachment(statement([{"Сумма": "300.00"}], encoding="DOS"),
                       maintype="text", subtype="plain", filename="kl_to_1c.txt")
    _deliver(port, msg)
    box = mailin.mailbox_set(actor=actor, host=host, port=port, username=USER,
                             password=PASSWORD, use_ssl=False)
    assert mailin.mailbox_poll(mailbox_id=box.pk) == 1
    postage_account.refresh_from_db()
    assert postage_account.balance == Decimal("300.00")


def test_index_page_shows_balance_and_queue(web, actor, postage_account):
    services.statement_import(actor=actor, filename="s.txt", content=statement([
        {"Номер": "5", "Сумма": "70.00", "НазначениеПлатежа": "аванс"}]))
    page = web.get("/postage/").content.decode()
    assert "Платежи, которые ждут бухгалтера" in page and "70,00" in page
    assert "В назначении нет номера нашего счёта" in page
    assert not Mark.objects.exists()
