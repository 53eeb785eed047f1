"""The actions on a shipment's page and on the list: label, batch, carrier registration,
editing until hand-over, confirmation of destructive actions, bulk actions and export —
with roles and other organizations' ids."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from shipdesk.conftest import actor_with_role
from shipdesk.documents.models import Batch
from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import page_texts
from shipdesk.shipments import services
from shipdesk.shipments.models import Registration, Shipment, State
from shipdesk.shipments.tests.factories import number_pool, shipment_data
from shipdesk.tenancy.models import Role
from shipdesk.tenancy.services import Actor


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_label_of_a_numbered_shipment_is_a_pdf_with_its_number(web: Client, org: Any) -> None:
    s = f.shipment(org, sender_profile=f.sender(org))
    page = web.get(f"/shipments/{s.pk}/").content.decode()
    assert f"/shipments/{s.pk}/label.pdf" in page and f"/shipments/{s.pk}/batch/" in page
    r = web.get(f"/shipments/{s.pk}/label.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = " ".join(page_texts(r.content)).replace(" ", "")
    assert s.tracking_number in text
    a4 = web.get(f"/shipments/{s.pk}/label.pdf?layout=a4")
    assert s.tracking_number in " ".join(page_texts(a4.content)).replace(" ", "")


def test_label_of_an_unnumbered_shipment_says_why(web: Client, actor: Actor) -> None:
    s = services.shipment_create(actor=actor, data=shipment_data(), draft=True)
    r = web.get(f"/shipments/{s.pk}/label.pdf", follow=True)
    assert "нет трек-номера" in r.content.decode()


def test_a_viewer_sees_no_actions_and_cannot_print(org: Any, make_user: Any) -> None:
    s = f.shipment(org, sender_profile=f.sender(org))
    viewer = actor_with_role(org, Role.VIEWER, make_user)
    client = _client(viewer.user)
    page = client.get(f"/shipments/{s.pk}/").content.decode()
    assert "label.pdf" not in page and "/cancel/" not in page
    assert client.get(f"/shipments/{s.pk}/label.pdf").status_code == 403
    assert client.post(f"/shipments/{s.pk}/batch/", {"batch_id": "new"}).status_code == 403
    assert not Batch.objects.exists()


def test_another_organizations_shipment_is_404_for_every_action(web: Client,
                                                                other_org: Any) -> None:
    s = f.shipment(other_org, sender_profile=f.sender(other_org))
    for url in (f"/shipments/{s.pk}/label.pdf", f"/shipments/{s.pk}/batch/",
                f"/shipments/{s.pk}/cancel-at-carrier/", f"/shipments/{s.pk}/cancel/"):
        assert web.get(url).status_code == 404, url
        if not url.endswith(".pdf"):
            assert web.post(url, {"confirmed": "1", "batch_id": "new"}).status_code == 404, url
    s.refresh_from_db()
    assert s.state == State.NUMBERED and not Batch.objects.exists()
    r = web.post("/shipments/bulk/", {"action": "labels", "ids": [s.pk]})
    assert r.status_code == 404


def test_add_to_an_open_batch_or_a_new_one(web: Client, org: Any) -> None:
    sp = f.sender(org)
    first, second = f.shipment(org, sender_profile=sp), f.shipment(org, sender_profile=sp)
    r = web.post(f"/shipments/{first.pk}/batch/", {"batch_id": "new"}, follow=True)
    batch = Batch.objects.get()
    assert f"партию {batch.display_number}" in r.content.decode()
    choose = web.get(f"/shipments/{second.pk}/batch/").content.decode()
    assert f'value="{batch.pk}"' in choose
    web.post(f"/shipments/{second.pk}/batch/", {"batch_id": str(batch.pk)})
    assert batch.entries.count() == 2
    second.refresh_from_db()
    assert second.state == State.IN_BATCH


def test_cancel_asks_first_and_works_without_javascript(web: Client, actor: Actor) -> None:
    s = services.shipment_create(actor=actor, data=shipment_data(order_number="C-1"))
    page = web.get(f"/shipments/{s.pk}/cancel/")
    assert page.status_code == 200 and "C-1" in page.content.decode()
    web.post(f"/shipments/{s.pk}/cancel/")  # a bare POST only shows the question
    s.refresh_from_db()
    assert s.state != State.CANCELLED
    web.post(f"/shipments/{s.pk}/cancel/", {"confirmed": "1"})
    s.refresh_from_db()
    assert s.state == State.CANCELLED


def test_a_numbered_shipment_is_edited_and_rated_again(web: Client, actor: Actor, org: Any) -> None:
    f.sender(org, is_default=True, index="101000")
    number_pool(actor)
    s = services.shipment_create(actor=actor, data=shipment_data(order_number="E-1",
                                                                 weight_g=500))
    assert s.state == State.NUMBERED and s.shipping_cost is not None
    number, cost = s.tracking_number, s.shipping_cost
    form = web.get(f"/shipments/{s.pk}/edit/")
    assert form.status_code == 200
    data = {k: v for k, v in services._shipment_data(s).items()
            if isinstance(v, str | int | Decimal) and v is not None}
    data.update(weight_g="9000", carrier_account_id=s.carrier_account_id or "")
    r = web.post(f"/shipments/{s.pk}/edit/", data, follow=True)
    s.refresh_from_db()
    assert s.weight_g == 9000 and s.tracking_number == number and s.state == State.NUMBERED
    assert s.shipping_cost is not None and s.shipping_cost > cost
    assert "стоимость пересчитана" in r.content.decode()
    # the carrier and mail type stay with the number
    data.update(service_code="BANDEROL")
    r = web.post(f"/shipments/{s.pk}/edit/", data)
    assert "не меняется" in r.content.decode()
    s.refresh_from_db()
    assert s.service_code == "POSTAL_PARCEL"


def test_a_handed_over_shipment_is_not_edited(actor: Actor, org: Any) -> None:
    s = f.shipment(org, state=State.HANDED_OVER)
    from shipdesk.core.errors import ServiceError

    with pytest.raises(ServiceError):
        services.shipment_amend(actor=actor, shipment_id=s.pk, data={"weight_g": 10})


def test_bulk_labels_cancel_with_confirmation_and_all_matching(web: Client, org: Any) -> None:
    sp = f.sender(org)
    ships = [f.shipment(org, sender_profile=sp) for _ in range(3)]
    r = web.post("/shipments/bulk/", {"action": "labels", "ids": [s.pk for s in ships[:2]]})
    text = " ".join(page_texts(r.content)).replace(" ", "")
    assert ships[0].tracking_number in text and ships[1].tracking_number in text
    assert ships[2].tracking_number not in text
    # all matching the filter (search by an order number), with the confirmation step
    ask = web.post("/shipments/bulk/", {"action": "cancel", "all_matching": "1",
                                        "q": ships[2].order_number})
    assert "Будет отменено отправлений: 1" in ask.content.decode()
    assert Shipment.objects.filter(state=State.CANCELLED).count() == 0
    web.post("/shipments/bulk/", {"action": "cancel", "confirmed": "1", "ids": [ships[2].pk]})
    states = {s.pk: s.state for s in Shipment.objects.all()}
    assert states[ships[2].pk] == State.CANCELLED and states[ships[0].pk] == State.NUMBERED


def test_bulk_batch_shows_the_preview(web: Client, org: Any) -> None:
    sp = f.sender(org)
    ships = [f.shipment(org, sender_profile=sp) for _ in range(3)]
    r = web.post("/shipments/bulk/", {"action": "batch", "ids": [s.pk for s in ships[:2]]})
    html = r.content.decode()
    assert r.status_code == 200 and 'data-testid="plan-count">2<' in html
    assert not Batch.objects.exists()


def test_export_csv_and_xlsx_apply_the_filter_words_and_escape_formulas(
        web: Client, actor: Actor, org: Any) -> None:
    services.shipment_create(actor=actor, data=shipment_data(
        order_number="X-1", recipient_name="=HYPERLINK(\"http://evil\")", comment="x"))
    services.shipment_create(actor=actor, data=shipment_data(order_number="X-2"), draft=True)
    f.shipment(org, order_number="X-3")  # numbered: not in the "ready" filter
    r = web.get("/shipments/export.csv", {"state": "ready"})
    body = b"".join(r.streaming_content).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert table[0][0] == "Номер заказа"
    assert [row[0] for row in table[1:]] == ["X-1"]
    assert table[1][1] == "Проверено"  # a word, not "ready"
    assert table[1][6].startswith("'=")  # never a live formula
    r = web.get("/shipments/export.xlsx", {"q": "X-1"})
    book = load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[1][0] == "X-1" and rows[1][1] == "Проверено"
    assert str(rows[1][6]).startswith("'=") and len(rows) == 2


def test_export_shows_only_own_organization(web: Client, other_org: Any) -> None:
    f.shipment(other_org, order_number="ALIEN-1")
    body = b"".join(web.get("/shipments/export.csv").streaming_content).decode("utf-8-sig")
    assert "ALIEN-1" not in body


def test_the_register_button_shows_exactly_when_registering_would_work(web: Client,
                                                                      org: Any) -> None:
    from shipdesk.carriers.models import CarrierAccount

    account = CarrierAccount.objects.create(organization=org, carrier_code="sandbox",
                                            name="Песочница", is_active=False)
    s = f.shipment(org, sender_profile=f.sender(org), carrier_code="sandbox",
                   service_code="standard", carrier_account=account)
    page = web.get(f"/shipments/{s.pk}/").content.decode()
    assert f"/shipments/{s.pk}/register/" not in page  # its contract is switched off
    r = web.post(f"/shipments/{s.pk}/register/", follow=True)
    assert "Выберите договор с перевозчиком" in r.content.decode()
    s.refresh_from_db()
    assert s.registration == Registration.NONE
    account.is_active = True
    account.save(update_fields=["is_active"])
    assert f"/shipments/{s.pk}/register/" in web.get(f"/shipments/{s.pk}/").content.decode()
