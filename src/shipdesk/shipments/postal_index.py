"""Loading Russian Post's postal index directory (PIndx): DBF (code page detected, cp866
or cp1251) or CSV, into :class:`PostalOffice`, replaced as a whole in one transaction."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

from django.db import models, transaction
from django.utils.translation import gettext as _

from shipdesk.core.errors import ValidationFailed
from shipdesk.shipments.importing import decode_csv
from shipdesk.shipments.models import PostalOffice

FIELDS = {
    "INDEX": "index", "OPSNAME": "name", "OPSTYPE": "office_type", "OPSSUBM": "parent_index",
    "REGION": "region", "AUTONOM": "autonomy", "AREA": "area", "CITY": "city",
    "CITY_1": "city_1", "ACTDATE": "actual_date", "INDEXOLD": "old_index",
}
_CYRILLIC = set("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ")


def _plausibility(text: str) -> float:
    """The share of non-ASCII characters that are Cyrillic letters, weighting lowercase up:
    the right code page gives mostly lowercase Cyrillic in names."""
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return 1.0
    score = sum((2 if c.islower() else 1) for c in non_ascii if c in _CYRILLIC)
    return score / (2 * len(non_ascii))


def detect_dbf_encoding(path: Path) -> str:
    """cp866 or cp1251, whichever reads the file's text as Russian (the directory has been
    published in both); the DBF's language byte is not trusted."""
    raw = path.read_bytes()[: 2**20]
    return max(("cp866", "cp1251"),
               key=lambda enc: _plausibility(raw.decode(enc, errors="replace")))


def _clean(field_name: str, value: Any) -> Any:
    if field_name == "actual_date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date) or value is None:
            return value
        text = str(value).strip()
        for fmt in ("%Y%m%d", "%d.%m.%Y", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a date)
            except ValueError:
                continue
        return None
    text = "" if value is None else str(value).strip()
    if field_name in ("index", "parent_index", "old_index"):
        text = text.split(".")[0]
        return text.zfill(6) if text.isdigit() and len(text) <= 6 else text[:6]
    max_len = cast("models.Field[Any, Any]",
                   PostalOffice._meta.get_field(field_name)).max_length or 200
    return text[:max_len]


def _dbf_records(path: Path) -> Iterator[dict[str, Any]]:
    from dbfread import DBF

    encoding = detect_dbf_encoding(path)
    table = DBF(str(path), encoding=encoding, char_decode_errors="replace", lowernames=False)
    for record in table:
        yield {k.upper(): v for k, v in record.items()}


def _csv_records(path: Path) -> Iterator[dict[str, Any]]:
    text = decode_csv(path.read_bytes())
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    for row in csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter):
        yield {(k or "").strip().upper(): v for k, v in row.items()}


def postal_index_load(*, path: Path, chunk_size: int = 5000) -> int:
    """Replaces the directory with the file's offices; returns how many were loaded."""
    with path.open("rb") as stream:
        head = stream.read(1)
    is_dbf = path.suffix.lower() == ".dbf" or head in (b"\x03", b"\x83", b"\x8b", b"\xf5",
                                                       b"\x30", b"\x31")
    records = _dbf_records(path) if is_dbf else _csv_records(path)
    count = 0
    with transaction.atomic():
        PostalOffice.objects.all().delete()
        batch: dict[str, PostalOffice] = {}
        for record in records:
            if "INDEX" not in record:
                raise ValidationFailed(_("В файле нет поля INDEX: это не справочник индексов"))
            values = {f: _clean(f, record.get(k)) for k, f in FIELDS.items()}
            if not (values["index"].isdigit() and len(values["index"]) == 6):
                continue
            batch[values["index"]] = PostalOffice(**values)
            if len(batch) >= chunk_size:
                PostalOffice.objects.bulk_create(batch.values(), ignore_conflicts=True)
                count += len(batch)
                batch = {}
        PostalOffice.objects.bulk_create(batch.values(), ignore_conflicts=True)
        count += len(batch)
    from shipdesk.shipments.services import reference_data_reset

    transaction.on_commit(reference_data_reset)
    reference_data_reset()
    return count
