"""Documents per carrier and destination, read back as a person and a scanner would: a CDEK
batch gets CDEK's own labels (from the CDEK emulator through the adapter) and a hand-over
act, never Russian Post's forms; a PickPoint label in our layout names the pickup point; a
parcel abroad has the country line, its address as given and an S10 number in Code 128;
CN22/CN23 carry every field of the UPU form."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.registry import adapter_for_account
from shipdesk.carriers.tests.helpers import parcel
from shipdesk.core.errors import ValidationFailed
from shipdesk.documents import rules, services
from shipdesk.documents.models import DocumentStatus, GeneratedDocument
from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import decode, page_texts, rasterise, save_png
from shipdesk.shipments.models import Shipment
from shipdesk.tenancy.services import Actor
from shipdesk.tracking.models import PickupOffice

DAY = date(2026, 11, 23)


@pytest.fixture
def sp(org: Any) -> Any:
    return f.sender(org)


@pytest.fixture
def cdek() -> Iterator[Running]:
    running = start(CdekEmulator())
    yield running
    running.stop()


@pytest.fixture
def cdek_account(org: Any, cdek: Running) -> CarrierAccount:
    CdekAdapter.tokens._local.clear()
    return CarrierAccount.objects.create(
        organization=org, carrier_code="cdek", name="СДЭК", base_url=f"{cdek.url}/v2",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})


def _request(actor: Actor, batch_id: int, kind: str, capture: Any) -> GeneratedDocument:
    with capture(execute=True):
        doc = services.document_request(actor=actor, batch_id=batch_id, kind=kind)
    doc.refresh_from_db()
    return doc


def _content(actor: Actor, doc: GeneratedDocument) -> bytes:
    handle, _name, _type = services.document_open(actor=actor, document_id=doc.pk)
    with handle:
        return bytes(handle.read())


def _flat(text: str) -> str:
    return " ".join(text.split())


def _linear(pdf: bytes, dpi: int = 300) -> list[tuple[str, str]]:
    """(format, text) of every linear barcode on every page."""
    return [(fmt, text) for image in rasterise(pdf, dpi=dpi) for fmt, text in decode(image)
            if fmt != "QRCode"]


def _cdek_shipments(org: Any, sp: Any, account: CarrierAccount, count: int,
                    **kw: Any) -> list[Shipment]:
    """Parcels registered at the CDEK emulator through the adapter: the CDEK number is the
    tracking number, the order uuid the carrier order id."""
    created = adapter_for_account(account).create_parcels(
        [parcel(f"CDEK-{n}", service_code="136", comment="scenario:delivered")
         for n in range(count)])
    assert not created.errors, created.errors
    return [f.shipment(org, sender_profile=sp, carrier_code="cdek", carrier_account=account,
                       service_code="136", mail_category="", tracking=c.tracking_number,
                       carrier_order_id=c.carrier_id, pickup_point_code="MSK5", city="Москва",
                       **kw)
            for c in created.created]


# --- rules as data -------------------------------------------------------------------------

def test_forms_follow_the_carrier_never_russian_post_forms_for_others() -> None:
    assert rules.forms_for("russian_post").registry == "f103"
    for carrier in ("cdek", "pickpoint", "sandbox"):
        forms = rules.forms_for(carrier)
        assert (forms.registry, forms.form_code, forms.cod_form, forms.inventory_form) == (
            "act", "", False, False)
        kinds = rules.document_kinds(carrier)
        assert "handover_act" in kinds
        assert not {"f103_pdf", "f103_xlsx", "f103_signed", "f112ep", "f107"} & set(kinds)
    assert "handover_act" not in rules.document_kinds("russian_post")


def test_country_line_mail_type_names_and_customs_categories() -> None:
    assert rules.country_line("de") == "GERMANY DE"
    assert rules.country_line("KR") == "SOUTH KOREA KR"
    assert rules.mail_type_name("PARCEL_INTERNATIONAL", foreign=True) == (
        "Посылка международная / Parcel")
    assert rules.mail_type_name("136", carrier_code="cdek") == "Посылка склад-склад"
    assert rules.mail_type_name("999", carrier_code="cdek") == "Тариф 999"
    assert "_" not in rules.mail_type_name("SOMETHING_NEW")
    assert rules.customs_category(None) == "sale_of_goods"
    assert rules.customs_category("SALE_OF_GOODS") == "sale_of_goods"
    assert rules.customs_category("Gift") == "gift"
    with pytest.raises(ValueError, match="returned_goods"):
        rules.customs_category("bribe")


# --- CDEK: its own labels, a hand-over act -------------------------------------------------

def test_cdek_labels_come_from_cdeks_print_api_and_ours_for_an_unregistered_parcel(
        actor: Actor, org: Any, sp: Any, cdek_account: CarrierAccount,
        django_capture_on_commit_callbacks: Any) -> None:
    registered = _cdek_shipments(org, sp, cdek_account, 2)
    # typed in by hand, not (yet) registered with CDEK: our layout with CDEK's fields
    unregistered = f.shipment(org, sender_profile=sp, carrier_code="cdek",
                              carrier_account=cdek_account, service_code="136", mail_category="",
                              tracking="1099887766", pickup_point_code="MSK5", city="Москва")
    batch = services.batch_create(actor=actor, shipment_ids=[
        *(s.pk for s in registered), unregistered.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "labels_thermal", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    pdf = _content(actor, doc)
    texts = [_flat(t) for t in page_texts(pdf)]
    assert len(texts) == 3
    # CDEK's own print form for the registered ones, with CDEK's numbers in Code 128
    for s, text in zip(registered, texts[:2], strict=True):
        assert "СДЭК: штрихкод места" in text and s.tracking_number in text
        assert "Ф7п" not in text
    found = _linear(pdf)
    assert sorted(found) == sorted(("Code128", s.tracking_number)
                                   for s in [*registered, unregistered])
    # ours: carrier name, tariff name, pickup point, the number as Code 128
    assert "СДЭК" in texts[2] and "Посылка склад-склад" in texts[2] and "MSK5" in texts[2]
    assert "Ф7п" not in texts[2] and "Почта" not in texts[2]
    save_png(rasterise(pdf, dpi=150, pages=[0])[0], f.output_dir() / "label-cdek-carrier.png")


def test_a_cdek_batch_gets_a_hand_over_act_not_f103_or_f112ep(
        actor: Actor, org: Any, sp: Any, cdek_account: CarrierAccount,
        django_capture_on_commit_callbacks: Any) -> None:
    ships = _cdek_shipments(org, sp, cdek_account, 2, cod_amount=Decimal("1500.00"),
                            declared_value=Decimal("1500.00"), weight_g=1200,
                            options={"inventory": True, "packages": 2})
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk for s in ships],
                                  shipping_date=DAY)[0]
    act = _request(actor, batch.pk, "handover_act", django_capture_on_commit_callbacks)
    assert act.status == DocumentStatus.DONE, act.error
    text = _flat(page_texts(_content(actor, act))[0])
    assert f"АКТ ПРИЁМА-ПЕРЕДАЧИ ОТПРАВЛЕНИЙ № {batch.display_number}" in text
    assert "Перевозчик: СДЭК" in text
    for s in ships:
        assert s.tracking_number in text and s.order_number in text and "MSK5" in text
    for total in ("Всего отправлений: 2", "Всего мест: 4", "Общий вес: 2,400 кг",
                  "Объявленная ценность, всего: 3 000,00 руб.",
                  "Наложенный платёж, всего: 3 000,00 руб.",
                  "Сдал (отправитель):", "Принял (представитель перевозчика):"):
        assert total in text, total
    assert "ф. 103" not in text

    printed = _request(actor, batch.pk, "batch_print", django_capture_on_commit_callbacks)
    assert printed.status == DocumentStatus.DONE, printed.error
    pdf = _content(actor, printed)
    pages = [_flat(t) for t in page_texts(pdf)]
    assert pages[0].startswith("АКТ ПРИЁМА-ПЕРЕДАЧИ")
    everything = " ".join(pages)
    for russian_post in ("СПИСОК №", "ф. 103", "ф. 112ЭП", "ОПИСЬ ВЛОЖЕНИЯ", "Ф7п"):
        assert russian_post not in everything, russian_post
    assert sorted(t for _fmt, t in _linear(pdf, dpi=200)) == sorted(
        s.tracking_number for s in ships)

    for kind in ("f103_pdf", "f103_xlsx", "f112ep", "f107"):
        with pytest.raises(ValidationFailed, match="СДЭК"):
            services.document_request(actor=actor, batch_id=batch.pk, kind=kind)


def test_a_russian_post_batch_has_no_hand_over_act(actor: Actor, org: Any, sp: Any) -> None:
    s = f.shipment(org, sender_profile=sp)
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    with pytest.raises(ValidationFailed):
        services.document_request(actor=actor, batch_id=batch.pk, kind="handover_act")


def test_the_batch_page_offers_the_carriers_documents(
        web: Client, actor: Actor, org: Any, sp: Any) -> None:
    s = f.shipment(org, sender_profile=sp, carrier_code="cdek", service_code="136",
                   tracking="1234567890")
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    page = web.get(f"/documents/batches/{batch.pk}/").content.decode()
    assert "Акт приёма-передачи" in page
    assert "Список ф.103" not in page and "112ЭП" not in page and "ф.107" not in page


def test_the_api_names_the_carriers_documents_and_refuses_russian_post_forms(
        api: Client, actor: Actor, org: Any, sp: Any) -> None:
    import json

    s = f.shipment(org, sender_profile=sp, carrier_code="cdek", service_code="136",
                   tracking="1234567890")
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    out = api.get(f"/api/v1/documents/batches/{batch.pk}").json()
    assert out["document_kinds"] == ["labels_thermal", "labels_a4", "batch_print",
                                     "handover_act"]
    r = api.post(f"/api/v1/documents/batches/{batch.pk}/documents",
                 data=json.dumps({"kind": "f103_pdf"}), content_type="application/json")
    assert r.status_code == 422
    assert "СДЭК" in r.json()["detail"] and "Акт приёма-передачи" in r.json()["detail"]


# --- PickPoint in our layout ---------------------------------------------------------------

def test_pickpoint_label_in_our_layout_prints_the_pickup_point_and_its_address(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    PickupOffice.objects.create(carrier_code="pickpoint", code="7801-035",
                                name="Постамат PickPoint",
                                address="190000, Санкт-Петербург, Невский пр., 28")
    known = f.shipment(org, sender_profile=sp, carrier_code="pickpoint", service_code="",
                       mail_category="", tracking="20000000000014", pickup_point_code="7801-035",
                       city="Санкт-Петербург", cod_amount=Decimal("990.00"))
    unknown = f.shipment(org, sender_profile=sp, carrier_code="pickpoint", service_code="",
                         mail_category="", tracking="20000000000021",
                         pickup_point_code="7801-999", city="Санкт-Петербург")
    batch = services.batch_create(actor=actor, shipment_ids=[known.pk, unknown.pk],
                                  shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "labels_thermal", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    pdf = _content(actor, doc)
    first, second = (_flat(t) for t in page_texts(pdf))
    assert "PickPoint" in first and "7801-035" in first
    assert "190000, Санкт-Петербург, Невский пр., 28" in first
    assert "Наложенный платёж: 990,00 руб." in first and "Иванов Иван Петрович" in first
    assert "7801-999" in second  # not in the directory: the code alone
    assert "Ф7п" not in first + second
    # a courier service's 14-digit number is Code 128, not Russian Post's ITF
    assert _linear(pdf) == [("Code128", "20000000000014"), ("Code128", "20000000000021")]
    save_png(rasterise(pdf, dpi=150, pages=[0])[0], f.output_dir() / "label-pickpoint.png")

    printed = _request(actor, batch.pk, "batch_print", django_capture_on_commit_callbacks)
    assert printed.status == DocumentStatus.DONE, printed.error
    pages = [_flat(t) for t in page_texts(_content(actor, printed))]
    assert len(pages) == 2  # the act, then one A4 sheet of our labels
    assert pages[0].startswith("АКТ ПРИЁМА-ПЕРЕДАЧИ") and "Перевозчик: PickPoint" in pages[0]
    assert "Ф7п" not in pages[1] and "7801-035" in pages[1] and "7801-999" in pages[1]
    assert "ф. 112ЭП" not in " ".join(pages)


def test_a_long_act_runs_over_pages_with_totals_and_signatures_inside_them() -> None:
    from shipdesk.documents.rendering.act import render_act_pdf
    from shipdesk.documents.rendering.data import ActData, ActRow, PartyData
    from shipdesk.documents.rendering.layout import LayoutRecorder
    from shipdesk.documents.tests.pdfcheck import assert_layout_sane

    rows = tuple(ActRow(n, f"10{n:08d}", f"ORD-{n}", "Константинопольская Александра " * (n % 3 + 1),
                        f"MSK{n} Москва", 1 + n % 2, 1000 + n, Decimal("100.00"), Decimal("50.50"))
                 for n in range(1, 81))
    recorder = LayoutRecorder()
    pdf = render_act_pdf(ActData("7/2026", DAY, PartyData("ООО «Ромашка»", "г. Москва"), "СДЭК",
                                 "MSK5", rows), recorder=recorder)
    texts = [_flat(t) for t in page_texts(pdf)]
    assert len(texts) >= 3 and all(f"10{n:08d}" in " ".join(texts) for n in range(1, 81))
    assert "Всего отправлений: 80" in texts[-1] and "Всего мест: 120" in texts[-1]
    assert "Наложенный платёж, всего: 4 040,00 руб." in texts[-1]
    assert_layout_sane(recorder)


def test_registered_pickpoint_parcels_get_pickpoints_labels_and_registry(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    from shipdesk.carriers.base import Party
    from shipdesk.carriers.pickpoint.adapter import Adapter as PickpointAdapter
    from shipdesk.carriers.pickpoint.emulator import IKN, LOGIN, PASSWORD, PickpointEmulator

    running = start(PickpointEmulator())
    try:
        PickpointAdapter._sessions.clear()
        account = CarrierAccount.objects.create(
            organization=org, carrier_code="pickpoint", name="PickPoint",
            base_url=f"{running.url}/api",
            credentials={"login": LOGIN, "password": PASSWORD, "ikn": IKN})
        base = parcel("PP-1")
        created = adapter_for_account(account).create_parcels([parcel(
            f"PP-{n}", service_code="", comment="scenario:delivered",
            recipient=Party(name=base.recipient.name, phone=base.recipient.phone,
                            pickup_point="7701-001")) for n in range(2)])
        assert not created.errors, created.errors
        ships = [f.shipment(org, sender_profile=sp, carrier_code="pickpoint",
                            carrier_account=account, service_code="", mail_category="",
                            tracking=c.tracking_number, carrier_order_id=c.carrier_id,
                            pickup_point_code="7701-001") for c in created.created]
        batch = services.batch_create(actor=actor, shipment_ids=[s.pk for s in ships],
                                      shipping_date=DAY)[0]
        doc = _request(actor, batch.pk, "labels_a4", django_capture_on_commit_callbacks)
        # handed over through PickPoint: its own registry goes with our act
        closed = services.batch_close(actor=actor, batch_id=batch.pk)
        assert closed.carrier_batch_id
        act = _request(actor, batch.pk, "handover_act", django_capture_on_commit_callbacks)
    finally:
        running.stop()
    assert doc.status == DocumentStatus.DONE, doc.error
    pdf = _content(actor, doc)
    texts = [_flat(t) for t in page_texts(pdf)]
    assert len(texts) == 2
    for s, text in zip(ships, texts, strict=True):
        assert text.startswith("PickPoint") and f"Отправление: {s.tracking_number}" in text
        assert "Постамат: 7701-001" in text and "Ф7п" not in text
    assert [fmt for fmt, _t in _linear(pdf)] == ["Code128", "Code128"]

    assert act.status == DocumentStatus.DONE, act.error
    ours, theirs = (_flat(t) for t in page_texts(_content(actor, act)))
    assert "АКТ ПРИЁМА-ПЕРЕДАЧИ" in ours and f"Реестр перевозчика: {closed.carrier_batch_id}" in ours
    assert "PickPoint: реестр передачи" in theirs
    assert all(s.tracking_number in ours and s.tracking_number in theirs for s in ships)


# --- international -------------------------------------------------------------------------

def _to_berlin(org: Any, sp: Any, **kw: Any) -> Shipment:
    defaults: dict[str, Any] = dict(
        country="DE", index="10117", region="", district="", city="Berlin",
        street="Unter den Linden", house="77", building="", apartment="Apt 4",
        service_code="PARCEL_INTERNATIONAL", mail_category="ORDINARY", tracking=f.s10(),
        recipient_surname="Müller", recipient_given_name="Anna", recipient_patronymic="")
    defaults.update(kw)
    return f.shipment(org, sender_profile=sp, **defaults)


def test_international_label_has_the_country_the_address_as_given_and_an_s10_code128(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    s = _to_berlin(org, sp)
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "labels_thermal", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    pdf = _content(actor, doc)
    text = _flat(page_texts(pdf)[0])
    assert "Unter den Linden 77, Apt 4, 10117 Berlin GERMANY DE" in text
    for inserted in ("д. 77", "кв. Apt", "ул. Unter", "г. Berlin", "д.77"):
        assert inserted not in text, inserted
    assert "Посылка международная / Parcel" in text and "PARCEL_INTERNATIONAL" not in text
    assert _linear(pdf) == [("Code128", s.tracking_number)]
    assert f"{s.tracking_number[:2]} {s.tracking_number[2:5]}" in text  # AA 123 456 785 BB
    save_png(rasterise(pdf, dpi=150)[0], f.output_dir() / "label-international.png")


def test_a_foreign_address_given_as_one_line_is_printed_as_given(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    s = _to_berlin(org, sp, street="", house="", apartment="", city="",
                   address_as_given="Hauptstraße 5, 80331 München")
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "labels_a4", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    assert "Hauptstraße 5, 80331 München GERMANY DE" in _flat(
        page_texts(_content(actor, doc))[0])


def test_cn23_has_every_field_of_the_upu_form(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    s = _to_berlin(org, sp, weight_g=1450, shipping_cost=Decimal("1830.50"), options={
        "customs_category": "gift", "customs_explanation": "Birthday present",
        "customs_comments": "Handle with care", "customs_invoice_number": "INV-2026-77",
        "customs_licence_number": "LIC-5", "customs_certificate_number": "CERT-9"}, items=[
        {"name": "Матрёшка расписная / Painted nesting doll", "quantity": 2,
         "unit_price": Decimal("25000.00"), "weight_g": 300, "hs_code": "442090",
         "origin_country": "RU"},
        {"name": "Платок павловопосадский / Wool shawl", "quantity": 1,
         "unit_price": Decimal("7200.00"), "weight_g": 250, "hs_code": "621420",
         "origin_country": "RU"}])
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "customs", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    pdf = _content(actor, doc)
    (text,) = (_flat(t) for t in page_texts(pdf))
    assert text.startswith("CN23")
    expected = (
        "CUSTOMS DECLARATION", "May be opened officially", s.tracking_number,
        "Отправитель / From", "Получатель / To", s.recipient_name, "GERMANY DE",
        # category of item: all six, gift ticked
        "Category of item", "X Подарок / Gift", "Документы / Documents",
        "Коммерческий образец / Commercial sample", "Возврат товара / Returned goods",
        "Продажа товаров / Sale of goods", "Прочее / Other",
        "Explanation: Birthday present",
        # per line: description, quantity, net weight, value and currency, HS, origin
        "Detailed description of contents", "Матрёшка расписная / Painted nesting doll",
        "0,600", "50 000,00 RUB", "442090", "Платок павловопосадский / Wool shawl",
        "0,250", "7 200,00 RUB", "621420", "Country of origin", "HS tariff number",
        "Net weight", "Total gross weight: 1,450 кг", "Total value: 57 200,00 RUB",
        "Postage/Fees:", "1 830,50 RUB",
        "Invoice", "№ INV-2026-77", "Licence", "№ LIC-5", "Certificate", "№ CERT-9",
        "Comments: Handle with care",
        "I, the undersigned, certify that the particulars given in this customs declaration "
        "are correct", "Date:", "Sender's signature")
    for field in expected:
        assert field in text, field
    assert " RU " in f" {text} "  # country of origin per line
    assert _linear(pdf) == [("Code128", s.tracking_number)]
    save_png(rasterise(pdf, dpi=100)[0], f.output_dir() / "cn23-all-fields.png")


def test_cn22_for_a_small_packet_under_300_sdr_with_the_default_category(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    s = _to_berlin(org, sp, service_code="SMALL_PACKET", items=[
        {"name": "Книга", "quantity": 1, "unit_price": Decimal("900.00"), "weight_g": 400,
         "hs_code": "490199", "origin_country": "RU"}])
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "customs", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    pdf = _content(actor, doc)
    text = _flat(page_texts(pdf)[0])
    assert text.startswith("CN22") and "X Продажа товаров / Sale of goods" in text
    assert "X Подарок" not in text and "490199" in text and "900,00 RUB" in text
    assert _linear(pdf) == [("Code128", s.tracking_number)]


def test_an_unknown_customs_category_fails_naming_the_allowed_ones(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    s = _to_berlin(org, sp, options={"customs_category": "bribe"}, items=[
        {"name": "Книга", "quantity": 1, "unit_price": Decimal("900.00"), "weight_g": 400,
         "hs_code": "490199", "origin_country": "RU"}])
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "customs", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.FAILED and not doc.file
    assert "bribe" in doc.error and "commercial_sample" in doc.error
