"""Tariff tables uploaded from the Tariffs page: the organization's own, checked whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shipdesk.conftest import actor_with_role
from shipdesk.tariffs.models import TariffTable
from shipdesk.tenancy.models import Role

DATA = Path(__file__).resolve().parents[1] / "data" / "sandbox.json"


def _table(**changes: Any) -> bytes:
    data = json.loads(DATA.read_text("utf-8"))
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


def test_an_uploaded_table_is_the_organizations_own(web: Client, org: Any) -> None:
    page = web.get("/tariffs/").content.decode()
    assert 'action="/tariffs/tables/upload/"' in page
    r = web.post("/tariffs/tables/upload/", {"file": SimpleUploadedFile(
        "contract.json", _table(effective_from="2026-02-01", name="Наш договор"))}, follow=True)
    assert "Наш договор" in r.content.decode() and "загружена" in r.content.decode()
    row = TariffTable.objects.get(organization=org)
    assert row.source == "contract.json" and str(row.effective_from) == "2026-02-01"


def test_a_broken_table_is_refused_whole_with_the_place(web: Client, org: Any) -> None:
    r = web.post("/tariffs/tables/upload/", {"file": SimpleUploadedFile(
        "bad.json", b'{"format": "shipdesk-tariff/1",\n "carrier": }')}, follow=True)
    assert "строка 2" in r.content.decode()
    r = web.post("/tariffs/tables/upload/", {"file": SimpleUploadedFile(
        "bad.json", _table(format="other/1"))}, follow=True)
    assert "Неизвестный формат таблицы" in r.content.decode()
    assert not TariffTable.objects.filter(organization=org).exists()


def test_an_operator_may_not_upload(org: Any, make_user: Any) -> None:
    operator = actor_with_role(org, Role.OPERATOR, make_user)
    client = Client()
    client.force_login(operator.user)
    assert 'tables/upload' not in client.get("/tariffs/").content.decode()
    r = client.post("/tariffs/tables/upload/", {"file": SimpleUploadedFile(
        "t.json", _table())})
    assert r.status_code == 403
    assert not TariffTable.objects.filter(organization=org).exists()
