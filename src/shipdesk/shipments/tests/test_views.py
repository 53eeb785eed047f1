"""The web pages as an operator uses them."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook

from shipdesk.shipments import services
from shipdesk.shipments.models import ImportJob, Shipment, State
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.shipments.tests.test_importing import row, xlsx
from shipdesk.tenancy.services import Actor, system_actor


def test_list_pages_by_keyset_and_filters(web: Client, actor: Actor) -> None:
    services.shipments_create_many(actor=actor, items=[
        shipment_data(order_number=f"W-{i:03d}") for i in range(60)])
    page = web.get("/shipments/")
    html = page.content.decode()
    assert page.status_code == 200 and "W-059" in html and "W-009" not in html
    next_id = page.context["next_id"]
    assert next_id
    html = web.get(f"/shipments/?after={next_id}").content.decode()
    assert "W-009" in html and "W-059" not in html
    html = web.get("/shipments/?q=W-007").content.decode()
    assert "W-007" in html and "W-008" not in html


def test_search_by_surname_prefix_order_and_phone(web: Client, actor: Actor,
                                                  other_org: Any) -> None:
    services.shipments_create_many(actor=actor, items=[
        shipment_data(order_number="S-1", recipient_name="Smirnov Ivan"),
        shipment_data(order_number="S-2", recipient_name="Иванова Анна"),
        shipment_data(order_number="S-3", recipient_name="Петров Пётр",
                      recipient_phone="+7 903 111-22-33"),
        shipment_data(order_number="S-4", recipient_name="ЛЕБЕДЕВА ОЛЬГА")])
    services.shipment_create(actor=system_actor(other_org), data=shipment_data(
        order_number="ALIEN", recipient_name="Smith John"))

    def found(q: str) -> set[str]:
        html = web.get("/shipments/", {"q": q}).content.decode()
        return {n for n in ("S-1", "S-2", "S-3", "S-4", "ALIEN") if n in html}

    assert found("smi") == {"S-1"}  # any case; never another organization's
    assert found("Иван") == {"S-2"}
    # Cyrillic in any case, on PostgreSQL and on SQLite (whose LIKE folds Latin only)
    assert found("иван") == found("ИВАН") == {"S-2"}
    assert found("лебед") == found("Лебед") == {"S-4"}
    assert found("S-3") == {"S-3"}
    assert found("8 903 111 22 33") == {"S-3"}
    assert found("Сидор") == set()


def test_list_shows_only_own_organization(web: Client, actor: Actor, other_org: Any) -> None:
    services.shipment_create(actor=system_actor(other_org), data=shipment_data(order_number="ALIEN"))
    assert "ALIEN" not in web.get("/shipments/").content.decode()
    theirs = Shipment.objects.get(order_number="ALIEN")
    assert web.get(f"/shipments/{theirs.pk}/").status_code == 404


def test_detail_with_history_and_cancel(web: Client, actor: Actor) -> None:
    shipment = services.shipment_create(actor=actor, data=shipment_data(order_number="D-1"))
    html = web.get(f"/shipments/{shipment.pk}/").content.decode()
    assert "D-1" in html and "ул. Ленина" in html and "улица ленина" in html
    web.post(f"/shipments/{shipment.pk}/cancel/", {"confirmed": "1"})
    shipment.refresh_from_db()
    assert shipment.state == State.CANCELLED
    html = web.get(f"/shipments/{shipment.pk}/").content.decode()
    assert "→ Отменено</td>" in html and "cancelled" not in html  # the history in words


def test_bulk_cancel_from_the_list(web: Client, actor: Actor) -> None:
    result = services.shipments_create_many(actor=actor, items=[shipment_data() for _ in range(3)])
    ids = [r.shipment_id for r in result.results]
    web.post("/shipments/bulk/", {"action": "cancel", "ids": ids[:2], "confirmed": "1"})
    assert sorted(Shipment.objects.values_list("state", flat=True)) == [
        State.CANCELLED, State.CANCELLED, State.READY]


def test_create_form_shows_errors_beside_fields(web: Client) -> None:
    data = {k: v for k, v in shipment_data(weight_g="-1").items() if not isinstance(v, list)}
    data["recipient_surname"] = "Иванов"
    response = web.post("/shipments/new/", data)
    assert response.status_code == 200
    assert "не может быть отрицательным" in response.content.decode()
    assert Shipment.objects.count() == 0
    data["weight_g"] = "900"
    response = web.post("/shipments/new/", data)
    assert response.status_code == 302
    assert Shipment.objects.get().weight_g == 900


def test_live_validation_shows_normalised_address(web: Client) -> None:
    response = web.post("/shipments/validate/", {
        "recipient_surname": "Иванов", "recipient_phone": "89123456789", "index": "644010",
        "city": "г омск", "street": "улица ленина", "house": "д. 5", "weight_g": "-1"})
    html = response.content.decode()
    assert "ул. Ленина" in html and "не может быть отрицательным" in html


def test_upload_preview_start_progress_and_report(web: Client, actor: Actor,
                                                   django_capture_on_commit_callbacks: Any
                                                   ) -> None:
    content = xlsx([row(1), row(2, weight=-1)])
    response = web.post("/shipments/import/", {
        "file": SimpleUploadedFile("orders.xlsx", content), "mode": "valid_rows"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    html = web.get(response["Location"]).content.decode()
    assert "Как прочитаны колонки" in html and "Телефон получателя" in html
    with django_capture_on_commit_callbacks(execute=True):  # the task queued on commit
        web.post(f"/shipments/import/{job.pk}/start/", {"mode": "valid_rows"})
    progress = web.get(f"/shipments/import/{job.pk}/progress/").content.decode()
    assert "Строк в файле: 2; загружено: 1; пропущено как уже загруженные: 0; отклонено: 1" \
        in progress and "Строки с ошибками (XLSX" in progress and "Все ошибки (CSV)" in progress
    report = web.get(f"/shipments/import/{job.pk}/errors.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    assert sheet.cell(row=2, column=1).value == 3
    assert Shipment.objects.count() == 1
    # the same file again: no new job, no duplicates
    response = web.post("/shipments/import/", {"file": SimpleUploadedFile("again.xlsx", content)})
    assert response["Location"].endswith(f"/import/{job.pk}/")


def test_upload_of_a_bad_file_shows_the_reason(web: Client) -> None:
    response = web.post("/shipments/import/", {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04x")})
    assert response.status_code == 422 and "повреждён" in response.content.decode()


def test_template_download(web: Client) -> None:
    response = web.get("/shipments/import/template.xlsx")
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content)).active["A1"].value == "Номер заказа *"


def test_demo_data(org: Any) -> None:
    from django.apps import apps

    from shipdesk.numbering.services import demo_pools_create

    demo_pools_create(organization=org)
    apps.get_app_config("shipments").load_demo(org)
    demo = Shipment.objects.filter(organization=org)
    assert demo.count() == 310
    assert demo.filter(state=State.DRAFT).count() == 10
    # spread over the sandbox carriers; without their accounts (the carriers' demo hook did
    # not run here) Russian Post's parcels are numbered from the demo pools
    assert set(demo.values_list("carrier_code", flat=True)) == {
        "russian_post", "cdek", "pickpoint", "sandbox"}
    assert demo.filter(carrier_code="russian_post", state=State.NUMBERED).exists()
    assert not demo.filter(carrier_code="pickpoint", pickup_point_code="").exists()


def test_form_pages_and_rate_panel(web: Client, actor: Actor) -> None:
    from shipdesk.shipments.models import SenderProfile

    SenderProfile.objects.create(organization=actor.organization, name="Склад", index="101000",
                                 city="Москва", is_default=True)
    assert "POSTAL_PARCEL" in web.get("/shipments/new/").content.decode()
    shipment = services.shipment_create(actor=actor, data=shipment_data(order_number="E-1"))
    html = web.get(f"/shipments/{shipment.pk}/edit/").content.decode()
    assert 'value="1200"' in html  # the stored weight, ready to change
    response = web.post(f"/shipments/{shipment.pk}/edit/", {
        **{k: v for k, v in shipment_data().items() if not isinstance(v, list)},
        "recipient_surname": "Иванов", "weight_g": "1500"})
    assert response.status_code == 302
    shipment.refresh_from_db()
    assert (shipment.weight_g, shipment.order_number) == (1500, "E-1")
    assert web.get(f"/shipments/{shipment.pk}/rates/").status_code == 200


def test_list_and_detail_show_why_a_shipment_is_unrated(web: Client, actor: Actor) -> None:
    shipment = services.shipment_create(actor=actor, data=shipment_data(order_number="U-1"))
    assert shipment.shipping_cost is None
    reason = "Не рассчитана: у организации нет адреса отправителя"
    assert reason in web.get("/shipments/").content.decode()
    assert reason in web.get(f"/shipments/{shipment.pk}/").content.decode()
