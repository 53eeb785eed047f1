"""Pages and API of the finance app: upload, rows, mapping form, owner's overview, XLSX for
1C (cells decoded, formula-like text escaped), tenancy and roles."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook

from shipdesk.conftest import actor_with_role
from shipdesk.finance.models import PayoutReport, ReportStatus
from shipdesk.finance.tests.conftest import at, feed, make_shipment, sample
from shipdesk.tenancy.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(org: Any, carrier_account: Any) -> Any:
    account = carrier_account("sandbox")
    s = make_shipment(org, tracking="SB000000001RU", order="=HYPERLINK(\"x\")", cod="1000",
                      carrier="sandbox", account=account)
    make_shipment(org, tracking="SB000000002RU", order="SHOP-4002", cod="555.55",
                  carrier="sandbox", account=account)
    feed(s, "delivered", at("2026-12-01"))
    return s


def test_upload_page_posts_a_report_and_shows_its_rows(web: Client, paid: Any) -> None:
    response = web.post("/finance/reports/", {"file": SimpleUploadedFile(
        "payouts.csv", sample("sandbox_payouts.csv"))})
    report = PayoutReport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{report.pk}/")
    page = web.get(response["Location"]).content.decode()
    assert "Песочница Shipdesk" in page and "Сопоставлено" in page and "SB000000002RU" in page
    again = web.post("/finance/reports/", {"file": SimpleUploadedFile(
        "copy.csv", sample("sandbox_payouts.csv"))}, follow=True)
    assert "уже загружен" in again.content.decode()
    assert PayoutReport.objects.count() == 1


def test_unknown_report_mapping_form(web: Client, org: Any) -> None:
    make_shipment(org, tracking="ZZ9", order="SHOP-9", cod="100", carrier="boxberry")
    web.post("/finance/reports/", {"file": SimpleUploadedFile(
        "bb.csv", "Код;Получено;Перечислено\nZZ9;100;97\n".encode("cp1251"))})
    report = PayoutReport.objects.get()
    page = web.get(f"/finance/reports/{report.pk}/").content.decode()
    assert 'id="mapping"' in page and "<option>Перечислено</option>" in page
    web.post(f"/finance/reports/{report.pk}/mapping/", {
        "carrier_code": "other", "name": "Boxberry", "role_tracking_number": "Код",
        "role_cod_amount": "Получено", "role_paid_amount": "Перечислено"})
    report.refresh_from_db()
    assert report.status == ReportStatus.POSTED


def test_overview_page_shows_debt_forecast_and_pnl(web: Client, org: Any, paid: Any) -> None:
    page = web.get("/finance/").content.decode()
    assert 'id="debt"' in page and "Песочница Shipdesk" in page and "1\xa0000,00\xa0₽" in page
    assert 'id="forecast"' in page and "<svg" in page
    page = web.get("/finance/pnl/?start=2026-01-01&end=2026-12-31").content.decode()
    assert 'id="pnl"' in page and "1\xa0000,00\xa0₽" in page and 'id="funnel"' in page


def test_api_upload_rows_and_tenancy(api: Client, other_api: Client, paid: Any) -> None:
    response = api.post("/api/v1/finance/reports/", {"file": SimpleUploadedFile(
        "payouts.csv", sample("sandbox_payouts.csv"))})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["format_code"] == "sandbox_payouts" and body["status"] == "posted"
    rows = api.get(f"/api/v1/finance/reports/{body['id']}/rows/").json()
    assert [r["outcome"] for r in rows] == ["matched", "matched"]
    assert api.post("/api/v1/finance/reports/", {"file": SimpleUploadedFile(
        "again.csv", sample("sandbox_payouts.csv"))}).status_code == 200
    assert other_api.get(f"/api/v1/finance/reports/{body['id']}/rows/").status_code == 404
    assert other_api.get("/api/v1/finance/reports/").json() == []
    debt = api.get("/api/v1/finance/debt/").json()
    assert debt == []  # everything paid
    pnl = api.get("/api/v1/finance/pnl/?start=2026-01-01&end=2026-12-31").json()
    assert Decimal(pnl["revenue"]) == Decimal("1555.55")


def test_ledger_xlsx_for_1c_escapes_formula_like_text(api: Client, paid: Any) -> None:
    api.post("/api/v1/finance/reports/", {"file": SimpleUploadedFile(
        "payouts.csv", sample("sandbox_payouts.csv"))})
    response = api.get("/api/v1/finance/ledger.xlsx?start=2026-01-01&end=2026-12-31")
    assert response.status_code == 200
    ws = load_workbook(io.BytesIO(response.content)).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "Дата"
    orders = {r[3] for r in rows[1:]}
    assert "'=HYPERLINK(\"x\")" in orders
    debit = sum(Decimal(str(r[6])) for r in rows[1:] if r[6] is not None)
    credit = sum(Decimal(str(r[7])) for r in rows[1:] if r[7] is not None)
    assert debit == credit > 0


def test_a_viewer_reads_but_cannot_upload(org: Any, make_user: Any, paid: Any) -> None:
    viewer = actor_with_role(org, Role.VIEWER, make_user)
    client = Client()
    client.force_login(viewer.user)
    assert client.get("/finance/").status_code == 200
    page = client.get("/finance/reports/").content.decode()
    assert 'type="file"' not in page
    response = client.post("/finance/reports/", {"file": SimpleUploadedFile(
        "payouts.csv", sample("sandbox_payouts.csv"))})
    assert response.status_code == 403
    assert not PayoutReport.objects.exists()


def test_terms_api(api: Client, other_api: Client, carrier_account: Any) -> None:
    account = carrier_account("cdek")
    response = api.put(f"/api/v1/finance/terms/{account.pk}/", {
        "cod_commission_pct": "3.5", "fees_mode": "invoiced", "payout_lag_days": 4},
        content_type="application/json")
    assert response.status_code == 200 and response.json()["fees_mode"] == "invoiced"
    bad = api.put(f"/api/v1/finance/terms/{account.pk}/", {"cod_commission_pct": "130"},
                  content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["cod_commission_pct"]
    assert other_api.put(f"/api/v1/finance/terms/{account.pk}/", {"payout_lag_days": 1},
                         content_type="application/json").status_code in (403, 404)
    assert api.put(f"/api/v1/finance/terms/{account.pk}/", {},
                   content_type="application/json").json()["payout_lag_days"] == 4
