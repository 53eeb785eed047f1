"""Hostile and unusual files meet a clear refusal while they are read: a zip whose directory
lies, rows without their numbers past the limit, CSVs in Windows-1251 read as a stream."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from openpyxl import Workbook

from shipdesk.core.errors import ValidationFailed
from shipdesk.shipments import importing
from shipdesk.shipments.models import ImportJob, Shipment
from shipdesk.tenancy.services import Actor

HEADERS = ["Номер заказа", "ФИО получателя", "Телефон", "Индекс", "Город", "Адрес", "Вес, г"]


def values(n: int) -> list[Any]:
    return [f"H-{n}", "Петрова Анна", "8 912 000-00-01", "101000", "Москва",
            "ул. Мясницкая, д. 1", 500]


def xlsx(rows: int) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    for n in range(rows):
        sheet.append(values(n))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


SHEET = "xl/worksheets/sheet1.xml"


def _rezip(content: bytes, change: Any) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, change(data) if info.filename == SHEET else data)
    return buffer.getvalue()


def lying_zip(content: bytes, how: str) -> bytes:
    """The sheet's entry in the local header and the central directory made to lie: a CRC
    that does not match, or half its real unpacked size (which passes any ratio check)."""
    data = bytearray(content)
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(SHEET)
    central = data.find(b"PK\x01\x02")
    while True:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + name_length].decode() == SHEET:
            break
        central = data.find(b"PK\x01\x02", central + 4)
    if how == "crc":
        places = ((central, 16), (info.header_offset, 14))
    else:
        places = ((central, 24), (info.header_offset, 22))
    for base, offset in places:
        value = struct.unpack_from("<I", data, base + offset)[0]
        struct.pack_into("<I", data, base + offset, value ^ 0xFFFF if how == "crc" else value // 2)
    return bytes(data)


def stored_uploads() -> list[str]:
    root = Path(default_storage.location) / "imports"
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("how", ["crc", "size"])
def test_a_zip_whose_directory_lies_is_refused_and_leaves_no_file(actor: Actor, how: str
                                                                  ) -> None:
    before = stored_uploads()
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(
            lying_zip(xlsx(20), how), "shop.xlsx"), run=False)
    assert str(info.value.detail).startswith(
        "Файл повреждён: часть архива XLSX не читается (Bad CRC-32 for file "
        "'xl/worksheets/sheet1.xml')")
    assert stored_uploads() == before and not ImportJob.objects.exists()


def test_a_lying_zip_uploaded_on_the_page_and_the_api_answers_422(web: Client, api: Client
                                                                  ) -> None:
    content = lying_zip(xlsx(20), "size")
    before = stored_uploads()
    page = web.post("/shipments/import/", {"file": SimpleUploadedFile("shop.xlsx", content)})
    assert page.status_code == 422
    assert "часть архива XLSX не читается" in page.content.decode()
    answer = api.post("/api/v1/shipments/imports", {
        "file": SimpleUploadedFile("shop.xlsx", content)})
    assert answer.status_code == 422 and "не читается" in answer.json()["detail"]
    assert not ImportJob.objects.exists() and stored_uploads() == before


def test_a_lying_zip_in_the_cli_is_a_json_refusal_not_a_traceback(
        actor: Actor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "shop.xlsx"
    path.write_bytes(lying_zip(xlsx(20), "crc"))
    with pytest.raises(SystemExit) as exit_info:
        call_command("import", str(path), org=str(actor.organization.pk), json=True)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 1
    answer = json.loads(out)
    assert answer["status"] == "rejected" and "Bad CRC-32" in answer["message"]
    assert "Traceback" not in err


def _without_row_numbers(xml: bytes) -> bytes:
    return re.sub(rb'\sr="[A-Z]*\d+"', b"", xml)


def test_rows_without_their_numbers_count_against_the_limit_while_read(
        actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_ROWS", 50)

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the sheet was loaded whole")

    monkeypatch.setattr(importing, "_open_workbook", never)
    content = _rezip(xlsx(200), _without_row_numbers)
    assert b' r="' not in zipfile.ZipFile(io.BytesIO(content)).read(SHEET)
    with pytest.raises(ValidationFailed) as info:
        importing.import_job_create(actor=actor, upload=ContentFile(content, "o.xlsx"),
                                    run=False)
    assert str(info.value.detail) == ("В файле больше 50 строк, а за один раз можно загрузить "
                                      "не больше 50 — разделите файл")


def test_rows_without_their_numbers_within_the_limit_are_read(
        actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_ROWS", 50)
    content = _rezip(xlsx(20), _without_row_numbers)
    job, _created = importing.import_job_create(actor=actor, upload=ContentFile(
        content, "o.xlsx"), run=True, dispatch=False)
    job = importing.import_job_run(job_id=job.pk)
    assert (job.created_count, job.rejected_count) == (20, 0), job.errors


def test_a_sheet_longer_than_it_said_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(importing, "MAX_ROWS", 3)
    sheet = importing.Sheet(format="xlsx", headers=["a"], total_rows=1,
                            _rows=lambda: iter([["x"]] * 10))
    with pytest.raises(ValidationFailed, match="больше 3 строк"):
        list(sheet.rows())


def _csv(rows: int, encoding: str) -> bytes:
    lines = [";".join(HEADERS)] + [";".join(str(v) for v in values(n)) for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def test_a_csv_over_the_limit_is_refused_while_read(actor: Actor,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_ROWS", 50)
    with pytest.raises(ValidationFailed, match="больше 50 строк"):
        importing.import_job_create(actor=actor, upload=ContentFile(_csv(200, "cp1251"),
                                                                    "o.csv"), run=False)


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8", "utf-8-sig"])
def test_csv_read_as_a_stream_never_whole(actor: Actor, monkeypatch: pytest.MonkeyPatch,
                                          encoding: str) -> None:
    # blocks of 7 bytes cut UTF-8 letters in two: still told apart from Windows-1251
    monkeypatch.setattr(importing, "CSV_BLOCK", 7)

    def whole(self: Path) -> bytes:
        raise AssertionError("the file was read whole")

    monkeypatch.setattr(Path, "read_bytes", whole)
    job, _created = importing.import_job_create(actor=actor, upload=ContentFile(
        _csv(30, encoding), "o.csv"), run=True, dispatch=False)
    job = importing.import_job_run(job_id=job.pk)
    assert (job.created_count, job.rejected_count) == (30, 0), job.errors
    assert set(Shipment.objects.values_list("recipient_surname", "city")) == {
        ("Петрова", "Москва")}


def test_csv_encoding_told_by_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "CSV_BLOCK", 5)
    path = tmp_path / "a.csv"
    for text, encoding, told in (("Заказ;Вес\r\nЁж;1\r\n", "cp1251", "cp1251"),
                                 ("Заказ;Вес\r\nЁж;1\r\n", "utf-8", "utf-8")):
        path.write_bytes(text.encode(encoding))
        assert importing.csv_encoding(path) == told
    path.write_bytes(("Номер заказа;Получатель\r\nA-1;Петрова Анна Сергеевна\r\n" * 5
                      ).encode("koi8-r"))
    with pytest.raises(ValidationFailed, match="неизвестной кодировке"):
        importing.csv_encoding(path)
