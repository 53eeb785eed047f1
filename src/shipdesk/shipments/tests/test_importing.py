"""Spreadsheet intake as an operator meets it: files in, shipments and clear errors out."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from openpyxl import Workbook, load_workbook

from shipdesk.core.errors import ValidationFailed
from shipdesk.core.spreadsheets import safe_cell
from shipdesk.shipments import importing, services
from shipdesk.shipments.models import ImportJob, Shipment
from shipdesk.tenancy.services import Actor

HEADERS = ["Телефон получателя", "№ заказа", "ФИО", "Индекс", "Город", "Улица", "Дом",
           "Вес (г)", "Объявленная ценность", "Наложенный платёж"]


def row(n: int, **over: Any) -> list[Any]:
    values = {"phone": f"8912000{n:04d}", "order": f"F-{n}", "name": "Петрова Анна",
              "index": "101000", "city": "Москва", "street": "ул. Мясницкая", "house": "1",
              "weight": 500, "value": 1000, "cod": 1000}
    values.update(over)
    return list(values.values())


def xlsx(rows: list[list[Any]], headers: list[str] = HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for r in rows:
        sheet.append(r)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(actor: Actor, content: bytes, name: str = "orders.xlsx",
           mode: str = "valid_rows") -> ImportJob:
    job, _created = importing.import_job_create(actor=actor, upload=ContentFile(content, name),
                                                mode=mode, run=False)
    return importing.import_job_run(job_id=job.pk)


def test_history_of_an_uploaded_shipment_starts_with_its_upload(actor: Actor) -> None:
    from shipdesk.shipments import selectors, services

    job = upload(actor, xlsx([row(1), row(2)]))
    shipment = Shipment.objects.get(order_number="F-2")
    services.shipment_cancel(actor=actor, shipment_id=shipment.pk, reason="передумал")
    history = selectors.shipment_history(actor=actor, shipment_id=shipment.pk)
    assert [(e.from_state, e.to_state) for e in history] == [
        ("", "ready"), ("ready", "cancelled")]
    created = history[0]
    assert created.reason == "Создано загрузкой файла «orders.xlsx», строка 3"
    assert created.user == actor.user and created.created_at == shipment.created_at
    assert created.data == {"source": "upload", "import_job": job.pk, "file": "orders.xlsx",
                            "row": 3}


def test_xlsx_with_synonym_headers_in_any_order(actor: Actor) -> None:
    job = upload(actor, xlsx([row(1), row(2)]))
    assert (job.status, job.created_count, job.rejected_count) == ("done", 2, 0)
    shipment = Shipment.objects.get(order_number="F-1")
    assert (shipment.recipient_phone, shipment.recipient_surname, shipment.weight_g) == (
        "+79120000001", "Петрова", 500)
    assert shipment.source == "upload"


def test_mapping_preview(tmp_path: Path) -> None:
    path = tmp_path / "o.xlsx"
    path.write_bytes(xlsx([row(1)], [*HEADERS, "Что-то своё"]))
    info = importing.preview(importing.open_sheet(path, "o.xlsx"))
    fields = [c["field"] for c in info.columns]
    assert fields == ["recipient_phone", "order_number", "recipient_name", "index", "city",
                      "street", "house", "weight_g", "declared_value", "cod_amount", None]
    assert info.missing == [] and info.total_rows == 1 and info.sample[0][1] == "F-1"


def test_missing_required_column_refused_when_queued_at_once(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(
            xlsx([row(1)[1:]], HEADERS[1:7] + HEADERS[8:]), "o.xlsx"), run=True)
    assert "Вес" in str(info.value.detail)
    assert not ImportJob.objects.exists()


def test_bad_rows_reported_by_row_and_column_with_a_report(actor: Actor) -> None:
    rows = [row(1), row(2, weight=-5), row(3, cod=100.125, value=200), row(4, index="000111"),
            row(5, order="F-1"), row(6, order="@SUM(A1)", phone="abc")]
    job = upload(actor, xlsx(rows))
    assert (job.created_count, job.rejected_count) == (1, 5)
    by_row = {(e["row"], e["column"]): e["message"] for e in job.errors}
    assert "отрицательн" in by_row[(3, "H")]
    assert "двух знаков" in by_row[(4, "J")]
    assert "не существует" in by_row[(5, "D")]
    assert "повторяется" in by_row[(6, "B")]
    assert (7, "A") in by_row
    report = load_workbook(io.BytesIO(job.error_report.read()))
    sheet = report.active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert [v[0] for v in values[1:]] == [3, 4, 5, 6, 7]
    weight_cell = sheet.cell(row=2, column=1 + 8)  # file row 3, column H (+1: row number)
    assert weight_cell.value == -5
    assert weight_cell.fill.fgColor.rgb.endswith("FFC7CE")
    assert "отрицательн" in weight_cell.comment.text
    # formula injection: the order number goes back as text, not as a formula
    assert sheet.cell(row=6, column=1 + 2).value == "'@SUM(A1)"
    assert Shipment.objects.count() == 1


@pytest.mark.parametrize("read_in_child", [False, True])
def test_rows_whose_orders_an_earlier_upload_stored_are_skipped_not_rejected(
        actor: Actor, monkeypatch: pytest.MonkeyPatch, read_in_child: bool) -> None:
    monkeypatch.setattr(importing, "READ_IN_CHILD_ROWS", 1 if read_in_child else 10**9)
    upload(actor, xlsx([row(1)]))
    job = upload(actor, xlsx([row(7), row(1, city="Тверь"), row(8, weight=-1)]))
    assert (job.created_count, job.skipped_count, job.rejected_count) == (1, 1, 1)
    report = load_workbook(io.BytesIO(job.error_report.read())).active
    values = [[c.value for c in r] for r in report.iter_rows(min_row=2)]
    assert [(v[0], v[2], v[5]) for v in values] == [(4, "F-8", "Москва")]


def test_an_order_stored_otherwise_than_by_upload_is_rejected_as_given(actor: Actor) -> None:
    from shipdesk.shipments.tests.factories import shipment_data

    services.shipment_create(actor=actor, data=shipment_data(order_number="F-1"))
    job = upload(actor, xlsx([row(7), row(1, city="Тверь")]))
    assert (job.created_count, job.skipped_count, job.rejected_count) == (1, 0, 1)
    report = load_workbook(io.BytesIO(job.error_report.read())).active
    values = [[c.value for c in r] for r in report.iter_rows(min_row=2)]
    assert [(v[0], v[2], v[5]) for v in values] == [(3, "F-1", "Тверь")]
    assert "уже есть в системе" in values[0][-1]


def test_all_or_nothing_file(actor: Actor) -> None:
    job = upload(actor, xlsx([row(1), row(2, weight=-1)]), mode="all_or_nothing")
    assert (job.created_count, job.rejected_count) == (0, 1)
    assert "Ничего не загружено" in job.message
    assert Shipment.objects.count() == 0


def test_reupload_creates_no_duplicates(actor: Actor) -> None:
    content = xlsx([row(1), row(2)])
    first = upload(actor, content)
    job, created = importing.import_job_create(actor=actor, upload=ContentFile(content, "x.xlsx"),
                                               run=False)
    assert (job.pk, created) == (first.pk, False)
    assert Shipment.objects.count() == 2


def test_interrupted_job_runs_again_and_skips_stored_rows(actor: Actor) -> None:
    content = xlsx([row(n) for n in range(1, 6)])
    job, _ = importing.import_job_create(actor=actor, upload=ContentFile(content, "x.xlsx"),
                                         run=False)
    from shipdesk.shipments import services

    # as if a worker died after storing the first two rows
    services.shipments_intake(actor=actor, rows=[(2, {"order_number": "F-1", **dict(
        zip(importing.map_headers(HEADERS), row(1), strict=True))}), (3, dict(
        zip(importing.map_headers(HEADERS), row(2), strict=True)))],
        source="upload", source_key=job.file_hash, loc_prefix=("row",))
    job = importing.import_job_run(job_id=job.pk)
    assert (job.created_count, job.skipped_count, job.rejected_count) == (3, 2, 0)
    assert Shipment.objects.count() == 5


def test_a_job_stopped_by_an_internal_error_says_so_and_runs_again(
        actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    content = xlsx([row(n) for n in range(1, 4)])
    job, _ = importing.import_job_create(actor=actor, upload=ContentFile(content, "x.xlsx"),
                                         run=False)

    def reader_died(*args: Any, **kwargs: Any) -> None:
        raise services.IntakeReaderFailed("the reading process ended with exit code -9")

    with monkeypatch.context() as patched:
        patched.setattr(importing, "_run_job", reader_died)
        with pytest.raises(services.IntakeReaderFailed):  # for the task to log and retry
            importing.import_job_run(job_id=job.pk)
    stopped = ImportJob.objects.get(pk=job.pk)
    # not left "running" forever: the page shows it stopped, and why
    assert stopped.status == ImportJob.Status.FAILED and stopped.finished_at is not None
    assert "внутренней ошибки" in stopped.message
    assert Shipment.objects.count() == 0
    # run again (the task's retry, or the user), it imports the file
    again = importing.import_job_run(job_id=job.pk)
    assert again.status == ImportJob.Status.DONE and Shipment.objects.count() == 3


def test_csv_utf8_bom_comma(actor: Actor) -> None:
    text = ",".join(HEADERS) + "\n" + ",".join(str(v) for v in row(1)) + "\n"
    job = upload(actor, ("\ufeff" + text).encode("utf-8"), "o.csv")
    assert job.created_count == 1


def test_csv_windows_1251_semicolon(actor: Actor) -> None:
    text = ";".join(HEADERS) + "\r\n" + ";".join(str(v) for v in row(1, cod="999,50")) + "\r\n"
    job = upload(actor, text.encode("cp1251"), "o.csv")
    assert job.created_count == 1, job.errors
    assert str(Shipment.objects.get().cod_amount) == "999.50"
    assert Shipment.objects.get().city == "Москва"


def test_csv_in_another_encoding_refused(actor: Actor) -> None:
    headers = ["Номер заказа", *HEADERS[:1], *HEADERS[2:]]
    text = ";".join(headers) + "\n" + ";".join(
        str(v) for v in row(1, name="Петрова Анна Сергеевна"))
    for encoding in ("koi8-r", "utf-16"):
        with pytest.raises(ValidationFailed) as info:
            importing.import_job_create(actor=actor, upload=ContentFile(
                text.encode(encoding), "o.csv"), run=False)
        assert "кодиров" in str(info.value.detail).lower()


def test_broken_xlsx_refused(actor: Actor) -> None:
    content = xlsx([row(1)])
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(content[:400], "o.xlsx"),
                                    run=False)
    assert "повреждён" in str(info.value.detail)
    with pytest.raises(ValidationFailed):
        importing.import_job_create(actor=actor, upload=ContentFile(b"hello", "o.xlsx"),
                                    run=False)


def test_password_protected_xlsx_refused(actor: Actor) -> None:
    # An encrypted OOXML file is an OLE2 container with an "EncryptedPackage" stream.
    content = importing.OLE_MAGIC + b"\x00" * 504 + importing.ENCRYPTED_PACKAGE + b"\x00" * 600
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(content, "o.xlsx"),
                                    run=False)
    assert "паролем" in str(info.value.detail)


def test_zip_bomb_disguised_as_xlsx_refused(actor: Actor) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (64 * 2**20))
    assert len(buffer.getvalue()) < 2**20
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(buffer.getvalue(),
                                                                    "o.xlsx"), run=False)
    assert "zip-бомба" in str(info.value.detail)


def test_formulas_refused_and_named(actor: Actor) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    sheet.append(row(1))
    sheet.append(row(2, weight="=250*2"))
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(buffer.getvalue(), "o.xlsx"),
                                    run=False)
    assert "H3" in str(info.value.detail)
    assert info.value.errors[0].loc == ("row", 3, "H")


def test_row_limit(actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(
            xlsx([row(n) for n in range(5)]), "o.xlsx"), run=False)
    assert "не больше 3" in str(info.value.detail)


def test_size_limit(actor: Actor, settings: Any) -> None:
    settings.SHIPDESK_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(b"x" * 2000, "o.csv"),
                                    run=False)
    assert "больше" in str(info.value.detail)


def test_template_has_headers_dropdowns_and_notes(db: Any) -> None:
    workbook = load_workbook(io.BytesIO(importing.template_xlsx()))
    sheet = workbook.active
    headers = [c.value for c in sheet[1]]
    assert headers[0] == "Номер заказа *" and "Вес, г *" in headers
    service_column = importing.column_letter(
        [c.field for c in importing.COLUMNS].index("service_code"))
    validations = {str(v.sqref).split(":")[0]: v for v in sheet.data_validations.dataValidation}
    assert "POSTAL_PARCEL" in validations[f"{service_column}2"].formula1
    assert sheet["A1"].comment is not None
    # the template, filled as it comes, is itself importable
    assert importing.map_headers(headers)[:4] == ["order_number", "carrier_code", "carrier_account",
                                                  "service_code"]


def test_template_round_trip(actor: Actor) -> None:
    job = upload(actor, importing.template_xlsx(), "template.xlsx")
    assert (job.created_count, job.rejected_count) == (2, 0), job.errors
    several = Shipment.objects.get(order_number="A-1002")
    assert [(i.name, i.quantity) for i in several.items.order_by("position")] == [
        ("Чашка", 2), ("Блюдце", 1)]


def test_ods_is_read(actor: Actor) -> None:
    cells = "".join(f"<table:table-cell office:value-type=\"string\"><text:p>{h}</text:p>"
                    "</table:table-cell>" for h in HEADERS)
    values = "".join(
        (f"<table:table-cell office:value-type=\"float\" office:value=\"{v}\"><text:p>{v}"
         "</text:p></table:table-cell>") if isinstance(v, int) else
        (f"<table:table-cell office:value-type=\"string\"><text:p>{v}</text:p>"
         "</table:table-cell>") for v in row(1))
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Лист1">'
        f"<table:table-row>{cells}</table:table-row><table:table-row>{values}</table:table-row>"
        "</table:table></office:spreadsheet></office:body></office:document-content>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml",
                         '<?xml version="1.0"?><manifest:manifest xmlns:manifest='
                         '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')
    job = upload(actor, buffer.getvalue(), "o.ods")
    assert job.created_count == 1, (job.message, job.errors)


def test_cli_json_summary(actor: Actor, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                          ) -> None:
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx([row(1), row(2, weight=-1)]))
    with pytest.raises(SystemExit) as partial:
        call_command("import", str(path), org=str(actor.organization.pk), json=True)
    assert partial.value.code == 2
    summary = json.loads(capsys.readouterr().out)
    assert (summary["created"], summary["rejected"], summary["status"]) == (1, 1, "done")
    assert summary["errors"][0]["row"] == 3 and summary["errors"][0]["column"] == "H"
    with pytest.raises(SystemExit):
        call_command("import", str(path), org=str(actor.organization.pk), json=True)
    again = json.loads(capsys.readouterr().out)
    assert again["already_imported"] and Shipment.objects.count() == 1


def test_cli_rejected_file_exits_nonzero(actor: Actor, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04broken")
    with pytest.raises(SystemExit) as info:
        call_command("import", str(path), org=str(actor.organization.pk), json=True)
    assert info.value.code == 1
    assert json.loads(capsys.readouterr().out)["status"] == "rejected"


def test_export_prefixes_formula_like_text() -> None:
    assert [safe_cell(v) for v in ("=1+2", "+7912", "-5", "@x", "ok", -5)] == [
        "'=1+2", "'+7912", "'-5", "'@x", "ok", -5]


def test_upload_takes_header_and_row_count_without_loading_the_sheet(
        actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Path] = []
    original = importing._open_workbook
    monkeypatch.setattr(importing, "_open_workbook",
                        lambda path, fmt: loads.append(path) or original(path, fmt))
    job, _created = importing.import_job_create(
        actor=actor, upload=ContentFile(xlsx([row(1), row(2), row(3)]), "o.xlsx"), run=False)
    assert loads == []
    assert job.total_rows == 3
    assert job.mapping["1"] == "order_number" and job.mapping["7"] == "weight_g"
    job = importing.import_job_run(job_id=job.pk)
    assert (job.created_count, len(loads)) == (3, 1)


def _workbook_bytes(fill: Any) -> bytes:
    workbook = Workbook()
    fill(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rich_header(workbook: Any) -> None:
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont
    from openpyxl.worksheet.pagebreak import Break

    sheet = workbook.active
    sheet.append([CellRichText(["Номер ", TextBlock(InlineFont(b=True), "заказа")]), 2024,
                  "Вес & масса <г>", None, "Индекс"])
    sheet.append(["A", 1, 2, None, "101000"])
    sheet.append([])
    sheet.append(["B", 1, 2, None, "101000"])
    sheet.row_breaks.append(Break(id=2))  # a <rowBreaks> after the rows


def _header_in_b3(workbook: Any) -> None:
    sheet = workbook.active
    sheet["B3"], sheet["C3"] = "Номер заказа", "Вес"
    sheet["B4"], sheet["C4"] = "A", 100


def _second_sheet_first(workbook: Any) -> None:
    workbook.active.append(["не эта"])
    orders = workbook.create_sheet("Заказы")
    orders.append(["Номер заказа", "Вес"])
    orders.append(["A", 1])
    workbook.move_sheet("Заказы", offset=-1)


@pytest.mark.parametrize(("fill", "loaded"), [
    (_rich_header, False), (_second_sheet_first, False),
    (_header_in_b3, True),  # an unusual shape: loaded whole, as the import will
])
def test_upload_outline_is_what_the_import_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 fill: Any, loaded: bool) -> None:
    path = tmp_path / "o.xlsx"
    path.write_bytes(_workbook_bytes(fill))
    loads: list[Path] = []
    original = importing._open_workbook
    monkeypatch.setattr(importing, "_open_workbook",
                        lambda path, fmt: loads.append(path) or original(path, fmt))
    outline = importing.open_sheet(path, "o.xlsx", outline=True)
    assert bool(loads) == loaded
    full = importing.open_sheet(path, "o.xlsx")
    assert (outline.headers, outline.total_rows) == (full.headers, full.total_rows)
    assert [v for _n, v in outline.rows()] == [v for _n, v in full.rows()]


def test_file_over_several_chunks(actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    from shipdesk.shipments import services

    monkeypatch.setattr(services, "INTAKE_CHUNK", 2)
    rows = [row(n) for n in range(1, 6)]
    rows[2] = row(3, weight=-5)
    job = upload(actor, xlsx(rows))
    assert (job.status, job.processed_rows, job.created_count, job.rejected_count) == (
        "done", 5, 4, 1)
    assert [(e["row"], e["column"]) for e in job.errors] == [(4, "H")]
    assert set(Shipment.objects.values_list("order_number", flat=True)) == {
        "F-1", "F-2", "F-4", "F-5"}


def test_xls_is_read(actor: Actor) -> None:
    # a real Excel 97-2003 file (see fixtures/README.md): numbers come as floats there
    content = (Path(__file__).parent / "fixtures" / "orders.xls").read_bytes()
    job = upload(actor, content, "orders.xls")
    assert (job.status, job.total_rows, job.created_count, job.rejected_count) == (
        "done", 3, 2, 1), (job.message, job.errors)
    first = Shipment.objects.prefetch_related("items").get(order_number="XLS-1")
    assert (first.recipient_surname, first.recipient_given_name, first.recipient_patronymic) == (
        "Семёнова", "Алёна", "Юрьевна")
    assert (first.recipient_phone, first.index, first.region, first.city, first.street) == (
        "+79123456789", "644010", "Омская обл.", "г. Омск", "ул. Ленина")
    assert (first.house, first.apartment, first.weight_g, first.comment) == (
        "5", "12", 1200, "Позвонить за час")
    assert (first.declared_value, first.cod_amount) == (Decimal("2500.50"), Decimal("2500.50"))
    item = first.items.get()
    assert (item.name, item.quantity, item.unit_price) == (
        "Книга «Война и мир»", 2, Decimal("1250.25"))
    second = Shipment.objects.get(order_number="XLS-2")
    assert (second.recipient_surname, second.recipient_phone, second.index, second.house) == (
        "Ёжиков", "+79031234567", "101000", "1")
    assert {(e["row"], e["column"], e["header"]) for e in job.errors} == {
        (4, "C", "Телефон"), (4, "J", "Вес, г")}


def _with_items_sheet(main: list[list[Any]], items: list[list[Any]],
                      title: str = "Товары",
                      headers: tuple[str, ...] = ("Заказ", "Наименование", "Кол-во", "Цена",
                                                  "Вес", "НДС")) -> bytes:
    def fill(workbook: Any) -> None:
        sheet = workbook.active
        sheet.title = "Заказы"
        sheet.append(HEADERS)
        for values in main:
            sheet.append(values)
        sheet = workbook.create_sheet(title)
        sheet.append(list(headers))
        for values in items:
            sheet.append(values)
    return _workbook_bytes(fill)


@pytest.mark.parametrize("read_in_child", [False, True])
def test_several_items_per_shipment_from_the_sheet_of_items(
        actor: Actor, monkeypatch: pytest.MonkeyPatch, read_in_child: bool) -> None:
    # a big file is read and validated by a child process: the same outcome, same report
    monkeypatch.setattr(importing, "READ_IN_CHILD_ROWS", 1 if read_in_child else 10**9)
    content = _with_items_sheet([row(1), row(2), row(3)], [
        ["F-1", "Чашка", 2, 150, 100, 20],
        ["F-1", "Блюдце", 1, 100, 50, None],
        ["F-2", "Ложка", 0, 10, 10, None],  # row 4: no quantity
        ["F-9", "Вилка", 1, 10, 10, None],  # row 5: no such order
    ])
    job = upload(actor, content)
    assert (job.created_count, job.rejected_count) == (2, 1), job.errors
    assert "строк вложений без заказа: 1" in job.message
    first = Shipment.objects.get(order_number="F-1")
    assert [(i.name, i.quantity, i.unit_price, i.weight_g, i.vat_rate)
            for i in first.items.order_by("position")] == [
        ("Чашка", 2, Decimal("150.00"), 100, 20), ("Блюдце", 1, Decimal("100.00"), 50, None)]
    assert not Shipment.objects.get(order_number="F-3").items.exists()
    errors = {(e["sheet"], e["row"], e["column"]): e["message"] for e in job.errors}
    assert errors[("Товары", 4, "C")] == "Количество должно быть больше 0"
    assert errors[("Товары", 5, "A")] == "Заказа F-9 нет на листе «Заказы»"
    report = load_workbook(io.BytesIO(job.error_report.read()))
    assert report.sheetnames == ["Ошибки", "Товары"]
    main_rows = list(report["Ошибки"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in main_rows] == [3]
    assert main_rows[0][-1] == "Лист «Товары», строка 4: Количество должно быть больше 0"
    item_rows = list(report["Товары"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1]) for r in item_rows] == [(4, "F-2"), (5, "F-9")]


def test_a_file_of_several_chunks_read_in_a_child_keeps_each_item_with_its_shipment(
        actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    # ids are taken ahead (for as many items as rows, while the child loads the sheet, then
    # more as chunks need them): with two items per order the reserve runs short mid-file
    from shipdesk.shipments import services

    monkeypatch.setattr(importing, "READ_IN_CHILD_ROWS", 1)
    monkeypatch.setattr(services, "INTAKE_CHUNK", 25)
    orders = range(1, 81)
    content = _with_items_sheet([row(n) for n in orders], [
        [f"F-{n}", f"{kind} {n}", 1, 10, 10, None] for n in orders for kind in ("Чашка", "Блюдце")])
    job = upload(actor, content)
    assert (job.created_count, job.rejected_count) == (80, 0), job.errors
    stored = {s.order_number: sorted(i.name for i in s.items.all())
              for s in Shipment.objects.prefetch_related("items")}
    assert stored == {f"F-{n}": [f"Блюдце {n}", f"Чашка {n}"] for n in orders}


def test_items_of_an_unknown_order_stop_an_all_or_nothing_file(actor: Actor) -> None:
    content = _with_items_sheet([row(1)], [["F-7", "Вилка", 1, 10, 10, None]])
    job = upload(actor, content, mode="all_or_nothing")
    assert (job.status, job.created_count) == ("done", 0)
    assert "на листе «Товары» есть строки с ошибками (1)" in job.message
    assert not Shipment.objects.exists()


def test_sheet_named_for_items_without_its_columns_is_refused_at_upload(
        actor: Actor) -> None:
    content = _with_items_sheet([row(1)], [["F-1", "x"]], title="Вложения",
                                headers=("Что-то", "Другое"))
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(content, "o.xlsx"),
                                    run=False)
    assert str(info.value.detail) == (
        "На листе «Вложения» нужны колонки «Номер заказа» и «Товар»")
    assert not ImportJob.objects.exists() and not Shipment.objects.exists()


def test_too_long_sheet_of_items_is_refused_at_upload(actor: Actor,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    content = _with_items_sheet([row(1)], [["F-1", f"Товар {n}", 1, 10, 10, None]
                                           for n in range(4)])
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(content, "o.xlsx"),
                                    run=False)
    assert "На листе «Товары» 4 строк" in str(info.value.detail)
    assert not ImportJob.objects.exists()


def test_formulas_on_the_sheet_of_items_refused_and_named(actor: Actor) -> None:
    content = _with_items_sheet([row(1)], [["F-1", "Чашка", 2, 150, 100, 20],
                                           ["F-1", "Блюдце", "=1+1", 100, 50, None]])
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(content, "o.xlsx"),
                                    run=False)
    assert "На листе «Товары» есть формулы (C3)" in str(info.value.detail)
    assert [(e.loc, e.message) for e in info.value.errors] == [
        (("row", 3, "C"), "Лист «Товары», ячейка C3: формула, вставьте значение")]
    assert not ImportJob.objects.exists()


def test_formulas_on_a_sheet_not_read_do_not_refuse(actor: Actor) -> None:
    def fill(workbook: Any) -> None:
        sheet = workbook.active
        sheet.append(HEADERS)
        sheet.append(row(1))
        workbook.create_sheet("Итоги").append(["Всего", "=1+1"])
    job = upload(actor, _workbook_bytes(fill))
    assert (job.status, job.created_count) == ("done", 1)
