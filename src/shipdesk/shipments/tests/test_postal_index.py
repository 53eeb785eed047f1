"""Loading Russian Post's index directory (PIndx) and what validation then knows."""

from __future__ import annotations

import struct
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from shipdesk.core.errors import ValidationFailed
from shipdesk.shipments import services
from shipdesk.shipments.models import PostalOffice
from shipdesk.shipments.postal_index import detect_dbf_encoding
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tenancy.services import Actor

FIELDS = [("INDEX", "C", 6), ("OPSNAME", "C", 60), ("OPSTYPE", "C", 20), ("OPSSUBM", "C", 6),
          ("REGION", "C", 60), ("AUTONOM", "C", 60), ("AREA", "C", 60), ("CITY", "C", 60),
          ("CITY_1", "C", 60), ("ACTDATE", "D", 8), ("INDEXOLD", "C", 6)]
OFFICES = [
    ("644010", "Омск 10", "О", "644099", "Омская область", "", "", "Омск", "", "20240115", ""),
    ("644099", "Омский почтамт", "ПОЧТАМТ", "644700", "Омская область", "", "", "Омск", "",
     "20240115", ""),
    ("101000", "Москва 101000", "О", "104001", "Москва", "", "", "Москва", "", "20231201", ""),
]


def write_dbf(path: Path, records: list[tuple[str, ...]], encoding: str) -> None:
    """A dBase III table as Russian Post publishes the directory."""
    record_size = 1 + sum(size for _n, _t, size in FIELDS)
    header_size = 32 + 32 * len(FIELDS) + 1
    out = bytearray(struct.pack("<BBBBIHH20x", 0x03, 124, 1, 1, len(records), header_size,
                                record_size))
    for name, kind, size in FIELDS:
        out += struct.pack("<11sc4xBB14x", name.encode("ascii"), kind.encode("ascii"), size, 0)
    out += b"\r"
    for record in records:
        out += b" "
        for (_name, _kind, size), value in zip(FIELDS, record, strict=True):
            out += value.encode(encoding).ljust(size, b" ")[:size]
    out += b"\x1a"
    path.write_bytes(bytes(out))


@pytest.mark.parametrize("encoding", ["cp866", "cp1251"])
def test_dbf_in_either_code_page_is_loaded(tmp_path: Path, encoding: str, db: Any) -> None:
    path = tmp_path / "PIndx01.dbf"
    write_dbf(path, OFFICES, encoding)
    assert detect_dbf_encoding(path) == encoding
    call_command("import-postal-index", str(path))
    office = PostalOffice.objects.get(index="644099")
    assert (office.name, office.office_type, office.region) == (
        "Омский почтамт", "ПОЧТАМТ", "Омская область")
    assert office.actual_date == date(2024, 1, 15)
    assert PostalOffice.objects.count() == 3


def test_csv_directory_replaces_the_old_one(tmp_path: Path, db: Any) -> None:
    PostalOffice.objects.create(index="999999", name="старое")
    path = tmp_path / "pindx.csv"
    path.write_text("INDEX;OPSNAME;REGION;CITY;ACTDATE\n644010;Омск 10;Омская область;Омск;"
                    "15.01.2024\n", encoding="cp1251")
    call_command("import-postal-index", str(path))
    assert list(PostalOffice.objects.values_list("index", flat=True)) == ["644010"]


def test_a_file_without_index_field_is_refused(tmp_path: Path, db: Any) -> None:
    from shipdesk.shipments.postal_index import postal_index_load

    path = tmp_path / "x.csv"
    path.write_text("A;B\n1;2\n", encoding="utf-8")
    with pytest.raises(ValidationFailed):
        postal_index_load(path=path)


def test_once_loaded_unknown_offices_are_refused(tmp_path: Path, actor: Actor) -> None:
    path = tmp_path / "PIndx01.dbf"
    write_dbf(path, OFFICES, "cp866")
    call_command("import-postal-index", str(path))
    assert services.shipment_create(actor=actor, data=shipment_data(index="644010")).pk
    with pytest.raises(ValidationFailed) as info:
        services.shipment_create(actor=actor, data=shipment_data(index="644011"))
    assert "справочнике" in info.value.errors[0].message
