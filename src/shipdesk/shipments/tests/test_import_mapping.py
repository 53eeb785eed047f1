"""A shop's own file: its headers read by synonyms of any length, its weights in kilos or
grams, its mapping chosen on the preview and remembered; what stops it said before anything
is stored."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.base import ContentFile
from openpyxl import Workbook

from shipdesk.core.errors import ValidationFailed
from shipdesk.shipments import importing
from shipdesk.shipments.models import ImportJob, ImportMapping, Shipment
from shipdesk.tenancy.models import AuditEntry
from shipdesk.tenancy.services import Actor

SHOP = ["Номер заказа", "ФИО получателя", "Телефон", "Индекс", "Город", "Адрес", "Вес, кг"]


def xlsx(headers: list[str], rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def shop_row(n: int, weight: Any, **over: Any) -> list[Any]:
    values = {"order": f"S-{n}", "name": "Петрова Анна", "phone": "8 912 000-00-01",
              "index": "101000", "city": "Москва", "address": "ул. Мясницкая, д. 1",
              "weight": weight}
    values.update(over)
    return list(values.values())


def create(actor: Actor, content: bytes, name: str = "shop.xlsx", **kw: Any) -> ImportJob:
    job, _created = importing.import_job_create(actor=actor, upload=ContentFile(content, name),
                                                run=False, **kw)
    return job


def confirm_and_run(actor: Actor, job: ImportJob, mapping: dict[str, str] | None = None,
                    units: dict[str, str] | None = None) -> ImportJob:
    importing.import_job_confirm(actor=actor, job_id=job.pk,
                                 mapping=mapping if mapping is not None else dict(job.mapping),
                                 units=units if units is not None else dict(job.units))
    return importing.import_job_run(job_id=job.pk)


def preview_of(job: ImportJob) -> importing.Preview:
    with importing.local_file(job.file) as path:
        return importing.preview(importing.open_sheet(path, job.filename),
                                 mapping=job.mapping, units=job.units)


@pytest.mark.parametrize(("header", "field"), [
    ("Вес, кг", "weight_g"), ("Вес", "weight_g"), ("ВЕС (г)", "weight_g"),
    ("Вес посылки, kg", "weight_g"), ("Индекс", "index"), ("индекс получателя", "index"),
    ("ФИО получателя", "recipient_name"), ("Телефон", "recipient_phone"),
    ("Телефон получателя*", "recipient_phone"), ("Номер телефона", "recipient_phone"),
    ("№ заказа", "order_number"), ("Номер заказа", "order_number"), ("НП", "cod_amount"),
    ("ОЦ", "declared_value"), ("Тел.", "recipient_phone"), ("Вес товара, г", "items.weight_g"),
    ("Номер отправления", "tracking_number"), ("Адрес доставки", "address"),
    ("Дата заказа", None), ("Статус", None), ("", None),
])
def test_headers_matched_as_whole_words_whatever_their_length(header: str,
                                                              field: str | None) -> None:
    assert importing.header_field(header) == field


def test_the_unit_of_a_header_is_not_part_of_its_name() -> None:
    assert importing.header_words("Вес, кг") == (("вес",), "kg")
    assert importing.header_words("Weight (g)") == (("weight",), "g")
    assert importing.header_words("Масса") == (("масса",), None)


@pytest.mark.parametrize(("value", "grams"), [
    ("14,954", 14954), ("14.954", 14954), (14.954, 14954), (10, 10000), ("10", 10000),
    ("0,5", 500), ("1 234,5", 1234500), (0.1 + 0.2, 300), ("2,0004", 2000),
])
def test_kilograms_become_grams_exactly(value: Any, grams: int) -> None:
    assert importing.kilos_to_grams(value) == grams


def test_kilograms_that_are_not_a_number_are_left_for_validation_to_name() -> None:
    assert importing.kilos_to_grams("пять") == "пять"


@pytest.mark.parametrize(("values", "unit"), [
    (["14,954", "10"], "kg"), ([0.5, 2], "kg"), ([1200, 10], "g"), (["500", "20"], "g"),
    ([10, 5, "", None], None), ([], None),
])
def test_the_unit_of_weights_told_by_their_values(values: list[Any], unit: str | None) -> None:
    assert importing.unit_from_values(values) == unit


def test_shop_file_with_kilograms_in_the_header_is_stored_in_grams(actor: Actor) -> None:
    job = create(actor, xlsx(SHOP, [shop_row(1, 14.954), shop_row(2, "10"),
                                    shop_row(3, "0,25")]))
    assert job.units == {"6": "kg"}
    notes = preview_of(job).notes
    assert notes == ["Колонка G «Вес, кг»: вес в килограммах, переводим в граммы (так сказано "
                     "в заголовке)"]
    job = confirm_and_run(actor, job)
    assert (job.created_count, job.rejected_count) == (3, 0), job.errors
    assert dict(Shipment.objects.values_list("order_number", "weight_g")) == {
        "S-1": 14954, "S-2": 10000, "S-3": 250}


def test_kilograms_told_by_decimal_values_and_said_on_the_preview(actor: Actor) -> None:
    headers = [*SHOP[:-1], "Вес"]
    job = create(actor, xlsx(headers, [shop_row(1, "14,954"), shop_row(2, "3")]))
    info = preview_of(job)
    assert info.problems == []
    assert info.notes == ["Колонка G «Вес»: вес в килограммах, переводим в граммы (так следует "
                          "из значений)"]
    job = confirm_and_run(actor, job)
    assert sorted(Shipment.objects.values_list("weight_g", flat=True)) == [3000, 14954]


def test_weights_whose_unit_cannot_be_told_wait_for_the_operator(actor: Actor) -> None:
    headers = [*SHOP[:-1], "Вес"]
    content = xlsx(headers, [shop_row(1, 10), shop_row(2, 5)])
    with pytest.raises(ValidationFailed) as refused:  # API, CLI: refused whole
        importing.import_job_create(actor=actor, upload=ContentFile(content, "a.xlsx"))
    assert "не понять, вес в килограммах или в граммах" in str(refused.value.detail)
    job = create(actor, content)  # the page: the preview asks
    assert preview_of(job).problems == [
        "Колонка G «Вес»: не понять, вес в килограммах или в граммах (все значения — целые "
        "числа до 100). Выберите единицу"]
    with pytest.raises(ValidationFailed):
        importing.import_job_confirm(actor=actor, job_id=job.pk, mapping=dict(job.mapping),
                                     units={"6": ""})
    assert Shipment.objects.count() == 0
    job = confirm_and_run(actor, job, units={"6": "kg"})
    assert sorted(Shipment.objects.values_list("weight_g", flat=True)) == [5000, 10000]


def test_the_unit_given_with_the_upload_is_taken(actor: Actor) -> None:
    job = create(actor, xlsx([*SHOP[:-1], "Вес"], [shop_row(1, 10)]), weight_unit="g")
    assert job.units == {"6": "g"}
    confirm_and_run(actor, job)
    assert Shipment.objects.get().weight_g == 10


def test_a_weight_in_kilos_over_the_mail_type_limit_is_a_row_error(actor: Actor) -> None:
    job = create(actor, xlsx(SHOP, [shop_row(1, "60"), shop_row(2, "49,999")]))
    job = confirm_and_run(actor, job)
    assert (job.created_count, job.rejected_count) == (1, 1)
    assert job.errors[0]["row"] == 2 and job.errors[0]["column"] == "G"
    assert "Вес 60000 г вне пределов" in job.errors[0]["message"]


def test_a_field_chosen_twice_is_refused_and_nothing_stored(actor: Actor) -> None:
    job = create(actor, xlsx(SHOP, [shop_row(1, 1)]))
    mapping = {**job.mapping, "2": "recipient_name"}  # the phone as the name too
    with pytest.raises(ValidationFailed) as refused:
        importing.import_job_confirm(actor=actor, job_id=job.pk, mapping=mapping, units={})
    assert [e.message for e in refused.value.errors] == [
        "Поле «ФИО получателя» выбрано для нескольких колонок: B, C. Оставьте одну"]
    job.refresh_from_db()
    assert (job.status, job.confirmed_at, Shipment.objects.count()) == ("pending", None, 0)
    assert not ImportMapping.objects.exists()


def test_a_required_field_left_unassigned_is_refused(actor: Actor) -> None:
    job = create(actor, xlsx(SHOP, [shop_row(1, 1)]))
    mapping = {**job.mapping, "0": ""}  # «не загружать» for the order number
    with pytest.raises(ValidationFailed) as refused:
        importing.import_job_confirm(actor=actor, job_id=job.pk, mapping=mapping, units={})
    assert "Нет колонки «Номер заказа»: выберите её в списке" in [
        e.message for e in refused.value.errors]
    assert Shipment.objects.count() == 0


def test_the_mapping_chosen_is_remembered_for_the_same_headers(actor: Actor) -> None:
    headers = ["Заказ", "Клиент", "Индекс", "Вес, кг", "Заметки склада", "Тел", "Адрес"]
    address = "г. Москва, ул. Мясницкая, д. 1"
    job = create(actor, xlsx(headers, [["A-1", "Петрова Анна", "101000", 1, "x",
                                        "8 912 000-00-01", address]]))
    assert job.mapping == {"0": "order_number", "2": "index", "3": "weight_g",
                           "5": "recipient_phone", "6": "address"}
    assert "Нет колонки «ФИО получателя»: выберите её в списке" in preview_of(job).problems
    mapping = {"0": "order_number", "1": "recipient_name", "2": "index", "3": "weight_g",
               "4": "", "5": "recipient_phone", "6": "address"}
    job = confirm_and_run(actor, job, mapping=mapping)
    assert job.created_count == 1, job.errors
    assert Shipment.objects.get().recipient_surname == "Петрова"
    # the next file of the same headers (other rows) comes mapped as chosen
    again = create(actor, xlsx(headers, [["A-2", "Сидоров Пётр", "101000", 2, "y",
                                          "8 912 000-00-02", address]]))
    assert again.mapping == {"0": "order_number", "1": "recipient_name", "2": "index",
                             "3": "weight_g", "5": "recipient_phone", "6": "address"}
    assert preview_of(again).problems == []
    # another organization's files are not read by this one's choice
    assert ImportMapping.objects.get().organization == actor.organization


def test_retry_in_the_other_mode_is_a_new_job(actor: Actor) -> None:
    content = xlsx(SHOP, [shop_row(1, 1), shop_row(2, 1, index="000111")])
    first = confirm_and_run(actor, create(actor, content, mode="all_or_nothing"))
    assert (first.created_count, first.rejected_count) == (0, 1)
    assert "Ничего не загружено" in first.message
    same, created = importing.import_job_create(
        actor=actor, upload=ContentFile(content, "shop.xlsx"), mode="all_or_nothing", run=False)
    assert (same.pk, created) == (first.pk, False)
    # the upload form's way: the same file in the other mode is a new job
    other, created = importing.import_job_create(
        actor=actor, upload=ContentFile(content, "shop.xlsx"), mode="valid_rows", run=False)
    assert created and other.pk != first.pk
    other = confirm_and_run(actor, other)
    assert (other.created_count, other.rejected_count) == (1, 1)
    # the button's way: a finished job's file again in the other mode, a new job again
    retry = importing.import_job_retry(actor=actor, job_id=other.pk, mode="all_or_nothing")
    assert retry.pk not in (first.pk, other.pk) and retry.retry_of_id == other.pk
    retry = importing.import_job_run(job_id=retry.pk)
    assert (retry.mode, retry.created_count, retry.skipped_count, retry.rejected_count) == (
        "all_or_nothing", 0, 1, 1)
    assert Shipment.objects.count() == 1


def test_every_error_downloadable_past_the_first_hundred(actor: Actor) -> None:
    headers = [*SHOP[:-1], "@Вес, кг"]  # a header a spreadsheet would take for a formula
    rows = [shop_row(n, "-1") for n in range(150)]
    job = confirm_and_run(actor, create(actor, xlsx(headers, rows)))
    assert job.rejected_count == 150 and len(job.errors) == 150
    text = importing.error_list_file(job, "csv").decode("utf-8-sig").splitlines()
    assert text[0] == "Лист;Строка файла;Колонка;Поле;Ошибка"
    assert len(text) == 151
    _sheet, row, column, field, message = text[1].split(";")
    assert (row, column, field) == ("2", "G", "'@Вес, кг") and "Вес" in message
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(importing.error_list_file(job, "xlsx"))).active
    cells = [[c.value for c in r] for r in book.iter_rows(min_row=2)]
    assert len(cells) == 150 and cells[-1][1:4] == [151, "G", "'@Вес, кг"]


def test_progress_is_told_while_the_job_runs(actor: Actor) -> None:
    job = create(actor, xlsx(SHOP, [shop_row(n, 1) for n in range(30)]))
    importing.import_job_confirm(actor=actor, job_id=job.pk, mapping=dict(job.mapping),
                                 units={})
    seen: list[importing.Progress] = []

    def watch(done: int, total: int) -> None:
        seen.append(importing.import_job_progress(ImportJob.objects.get(pk=job.pk)))

    importing.import_job_run(job_id=job.pk, progress=watch)
    (live,) = seen
    assert (live.read, live.checked, live.stored, live.total) == (30, 30, 30, 30)
    assert live.per_second > 0 and live.seconds_left == 0
    done = importing.import_job_progress(ImportJob.objects.get(pk=job.pk))
    assert (done.stored, done.percent) == (30, 100)


def test_a_pool_too_short_for_a_chunk_numbers_what_it_can_and_says_so(actor: Actor) -> None:
    from shipdesk.numbering.services import pool_create
    from shipdesk.numbering.validation import rp14_compose

    pool_create(actor=actor, carrier_code="russian_post",
                first_number=rp14_compose("800847", "40", 0),
                last_number=rp14_compose("800847", "40", 2), low_threshold=1)
    job = confirm_and_run(actor, create(actor, xlsx(SHOP, [shop_row(n, 1) for n in range(5)])))
    assert (job.created_count, job.unnumbered_count) == (5, 2)
    assert "2 отправлений без номера: Пул трек-номеров перевозчика «russian_post» исчерпан" \
        in job.message
    numbered = Shipment.objects.exclude(tracking_number=None).exclude(tracking_number="")
    assert numbered.count() == 3
    without = Shipment.objects.filter(tracking_number__in=["", None])
    assert all("исчерпан" in s.numbering_error for s in without)
    assert AuditEntry.objects.filter(action="numbering.pool_low").count() == 1


def test_items_weighed_in_kilos_on_the_sheet_of_items(actor: Actor) -> None:
    from shipdesk.shipments.tests.test_importing import HEADERS, _with_items_sheet, row

    content = _with_items_sheet([row(1, weight=900)], [["F-1", "Чашка", 2, 150, "0,3", 20]],
                                headers=("Заказ", "Наименование", "Кол-во", "Цена",
                                         "Вес, кг", "НДС"))
    assert HEADERS[7] == "Вес (г)"  # the parcel's own weight stays in grams
    job = confirm_and_run(actor, create(actor, content))
    assert job.created_count == 1, job.errors
    shipment = Shipment.objects.get()
    assert shipment.weight_g == 900
    assert [i.weight_g for i in shipment.items.all()] == [300]


def test_another_organizations_job_errors_and_retry_are_not_found(
        make_org: Any, make_user: Any) -> None:
    """The error list (any format) and the retry of a job are the job's organization's only."""
    from django.test import Client

    from shipdesk.shipments.models import ImportJob

    owner_a, owner_b = make_user(), make_user()
    org_a, _org_b = make_org(owner=owner_a), make_org(owner=owner_b)
    job = ImportJob.objects.create(organization=org_a, filename="a.csv", mode="valid_rows",
                                   errors=[{"row": 2, "message": "x"}])
    intruder = Client()
    intruder.force_login(owner_b)
    for fmt in ("csv", "xlsx"):
        assert intruder.get(f"/shipments/import/{job.pk}/error-list.{fmt}").status_code == 404
    assert intruder.post(f"/shipments/import/{job.pk}/retry/", {"mode": "all_or_nothing"}
                         ).status_code == 404
    owner = Client()
    owner.force_login(owner_a)
    assert owner.get(f"/shipments/import/{job.pk}/error-list.csv").status_code == 200
