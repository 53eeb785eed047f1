"""What an accountant settles by hand: «amount differs» rows accepted or disputed (page and
API, audited, viewers refused), contract terms and the report mailbox on the settings page
(field errors beside the field), the final state among each order's operations, the debt
net of the carrier's fees, agent reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from shipdesk.conftest import actor_with_role
from shipdesk.finance import ledger, services
from shipdesk.finance.models import (
    FinanceTerms,
    Mailbox,
    PayoutRow,
    Posting,
    Receivable,
    ReceivableState,
)
from shipdesk.finance.tests.conftest import sample
from shipdesk.finance.tests.test_reports import cdek_orders  # noqa: F401 - a fixture
from shipdesk.tenancy.models import AuditEntry, Role

pytestmark = pytest.mark.django_db
D = Decimal


def _differs(actor: Any) -> PayoutRow:
    report = services.report_import(actor=actor, filename="a.xls",
                                    content=sample("cdek_registry.xls")).report
    return report.rows.get(order_number="SHOP-1004")


def test_accepting_the_carriers_amount_posts_it_and_corrects_the_difference(
        web: Client, actor: Any, org: Any, cdek_orders: Any) -> None:  # noqa: F811
    row = _differs(actor)
    page = web.get(f"/finance/reports/{row.report_id}/").content.decode()
    assert "Ожидалось 1\u00a0000,00\u00a0₽, получено 900,00\u00a0₽, разница -100,00\u00a0₽" in page
    assert "Сумма отличается</a>: <strong>1</strong>" in page
    only = web.get(f"/finance/reports/{row.report_id}/?outcome=amount_differs").content.decode()
    assert "SHOP-1004" in only and "SHOP-1001" not in only
    assert "Принять сумму перевозчика" in page and "Оспорить" in page
    response = web.post(f"/finance/reports/{row.report_id}/rows/{row.pk}/resolve/",
                        {"resolution": "accepted"}, follow=True)
    assert "Сумма перевозчика принята" in response.content.decode()
    # the order is closed: paid what the carrier paid, revenue corrected by the difference
    b = ledger.balances(org.pk, shipment_id=cdek_orders["1004"].pk)
    assert "62" not in b and b["90.1"] == D("-900") and b["51"] + b["44"] == D("900")
    assert sum(ledger.balances(org.pk).values()) == 0
    receivable = cdek_orders["1004"].receivable
    receivable.refresh_from_db()
    assert (receivable.state, receivable.order_state) == (ReceivableState.PAID, "completed")
    assert AuditEntry.objects.filter(organization=org, action="finance.row_accepted").exists()
    again = web.post(f"/finance/reports/{row.report_id}/rows/{row.pk}/resolve/",
                     {"resolution": "accepted"}, follow=True).content.decode()
    assert "уже принята" in again and ledger.balances(
        org.pk, shipment_id=cdek_orders["1004"].pk) == b
    # the final state closes the order's operations set on the economics page
    orders = web.get("/finance/orders/").content.decode()
    assert ("Отгрузка покупателю → Входящий платёж от перевозчика → Приёмка услуг "
            "перевозчика → Выполнен") in orders


def test_a_dispute_posts_nothing_and_viewers_cannot_settle(
        api: Client, actor: Any, org: Any, make_user: Any, cdek_orders: Any) -> None:  # noqa: F811
    row = _differs(actor)
    before = ledger.balances(org.pk)
    viewer = Client()
    viewer.force_login(actor_with_role(org, Role.VIEWER, make_user).user)
    assert viewer.post(f"/finance/reports/{row.report_id}/rows/{row.pk}/resolve/",
                       {"resolution": "accepted"}).status_code == 403
    body = api.post(f"/api/v1/finance/rows/{row.pk}/resolve/", {"resolution": "disputed"},
                    content_type="application/json").json()
    assert body["resolution"] == "disputed" and "Оспорено" in body["message"]
    assert ledger.balances(org.pk) == before
    matched = PayoutRow.objects.get(report_id=row.report_id, order_number="SHOP-1001")
    refused = api.post(f"/api/v1/finance/rows/{matched.pk}/resolve/",
                       {"resolution": "accepted"}, content_type="application/json")
    assert refused.status_code == 422 and "сумма отличается" in refused.content.decode()


def test_settings_page_edits_terms_and_mailbox_with_errors_at_the_field(
        web: Client, org: Any, make_user: Any, carrier_account: Any) -> None:
    account = carrier_account("sandbox")
    page = web.get("/finance/settings/")
    assert page.status_code == 200 and "Условия договоров" in page.content.decode()
    p = f"t{account.pk}-"
    form = {"form": f"terms-{account.pk}", p + "cod_commission_pct": "150",
            p + "delivery_fee": "0", p + "insurance_pct": "0", p + "return_fee": "0",
            p + "fees_mode": "invoiced", p + "payout_lag_days": "5",
            p + "payout_weekdays": "2,9", p + "pull_registries": "on"}
    bad = web.post("/finance/settings/", form)
    text = bad.content.decode()
    assert bad.status_code == 422
    assert f'id="id_{p}cod_commission_pct_errors"' in text
    form[p + "cod_commission_pct"] = "2.5"
    bad = web.post("/finance/settings/", form).content.decode()
    # the service's own checks land beside their fields too
    assert f'id="id_{p}payout_weekdays_errors"' in bad and "Дни недели числами" in bad
    form.update({p + "payout_weekdays": "2,4", p + "pull_registries": "",
                 p + "agent_reports": "on"})
    assert web.post("/finance/settings/", form).status_code == 302
    terms = FinanceTerms.objects.get(carrier_account=account)
    assert (terms.cod_commission_pct, terms.fees_mode, terms.payout_weekdays,
            terms.agent_reports) == (D("2.5"), "invoiced", "2,4", True)
    missing = web.post("/finance/settings/", {"form": "mailbox", "m-port": "993",
                                              "m-username": "shop"})
    assert missing.status_code == 422 and 'id="id_m-host_errors"' in missing.content.decode()
    assert web.post("/finance/settings/", {
        "form": "mailbox", "m-host": "imap.example.ru", "m-port": "993", "m-use_ssl": "on",
        "m-username": "shop", "m-password": "secret", "m-folder": "INBOX"}).status_code == 302
    assert Mailbox.objects.get(organization=org).host == "imap.example.ru"
    viewer = Client()
    viewer.force_login(actor_with_role(org, Role.VIEWER, make_user).user)
    read_only = viewer.get("/finance/settings/").content.decode()
    assert "Только просмотр" in read_only and "2,4" in read_only and "<form" not in read_only \
        .split("Условия договоров")[1].split("Почтовый ящик")[0]
    assert viewer.post("/finance/settings/", form).status_code == 403


def test_agent_reports_mark_the_services_and_debt_is_shown_net_of_fees(
        api: Client, web: Client, actor: Any, org: Any, cdek_orders: Any) -> None:  # noqa: F811
    debt = api.get("/api/v1/finance/debt/").json()
    [cdek] = debt
    # 1001, 1003, 1004 delivered, 3 % COD commission withheld by CDEK
    assert (D(cdek["total"]), D(cdek["net_of_fees"])) == (D("4734.50"), D("4734.50") - D(
        "37.04") - D("75") - D("30"))
    assert "За вычетом услуг" in web.get("/finance/").content.decode()
    FinanceTerms.objects.filter(organization=org).update(agent_reports=True)
    services.report_import(actor=actor, filename="a.xls", content=sample("cdek_registry.xls"))
    s = cdek_orders["1001"]
    assert ledger.balances(org.pk, shipment_id=s.pk) == {
        "51": D("1197.46"), "44": D("37.04"), "90.1": D("-1234.50")}
    assert set(Posting.objects.filter(shipment_id=s.pk, account="44")
               .values_list("kind", flat=True)) == {"agent_report"}


def test_an_upload_without_a_file_says_so(web: Client) -> None:
    response = web.post("/finance/reports/", {"file": SimpleUploadedFile("e.csv", b"")},
                        follow=True)
    assert "Файл пуст" in response.content.decode()


def test_a_report_paying_an_order_twice_pays_it_once_and_skips_subtotals(
        actor: Any, org: Any, cdek_orders: Any) -> None:  # noqa: F811
    from shipdesk.finance.tests.test_reports import _cdek_xlsx

    content = _cdek_xlsx([
        ["1500000001", "SHOP-1001", "01.12.2026", "1 234,50", "37,04", "1 197,46", 0],
        ["", "", "", "1 234,50", "37,04", "1 197,46", ""],  # a subtotal: amounts, no order
        ["1500000001", "SHOP-1001", 46357, 1234.5, 37.04, 1197.46, 0],
    ], registry="4799")
    report = services.report_import(actor=actor, filename="twice.xlsx", content=content).report
    rows = {r.row_number: r for r in report.rows.all()}
    assert sorted((n, r.outcome) for n, r in rows.items()) == [(4, "matched"), (6, "paid_twice")]
    assert "уже оплачен" in rows[6].explanation
    assert report.totals["skipped_totals"] == 2  # the subtotal and the «Итого» row
    assert ledger.balances(org.pk, shipment_id=cdek_orders["1001"].pk) == {
        "51": D("1197.46"), "44": D("37.04"), "90.1": D("-1234.50")}


def _by_kind(org: Any, shipment: Any) -> dict[tuple[str, str], Decimal]:
    """The order's postings summed by entry kind and account (zero sums left out)."""
    out: dict[tuple[str, str], Decimal] = {}
    for kind, account, amount in Posting.objects.filter(
            organization=org, shipment_id=shipment.pk).values_list("kind", "account", "amount"):
        out[(kind, account)] = out.get((kind, account), D("0")) + amount
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize("delivered", [True, False], ids=["delivered", "not_yet_delivered"])
@pytest.mark.parametrize("terms", [
    {"cod_commission_pct": D("3")},
    {"fees_mode": "invoiced", "cod_commission_pct": D("2"), "delivery_fee": D("150"),
     "agent_reports": True}],
    ids=["fees_deducted", "fees_invoiced_agent_reports"])
def test_an_accepted_amount_posts_what_a_direct_match_at_that_amount_posts(
        actor: Any, org: Any, carrier_account: Any, delivered: bool,
        terms: dict[str, Any]) -> None:
    from shipdesk.finance import resolution
    from shipdesk.finance.tests.conftest import at, feed, make_shipment

    account = carrier_account("cdek", **terms)
    differs = make_shipment(org, tracking="SB1", order="A-1", cod="1000", account=account)
    direct = make_shipment(org, tracking="SB2", order="B-1", cod="900", account=account)
    if delivered:  # the sale posted at the order's COD before the carrier's report
        feed(differs, "delivered", at("2026-11-28"))
        feed(direct, "delivered", at("2026-11-28"))
    report = services.report_import(actor=actor, filename="payouts.csv", content=(
        b"# SHIPDESK SANDBOX PAYOUT REPORT\n"
        b"tracking_number;order_reference;cod_amount;fee;paid_amount;paid_on\n"
        b"SB1;A-1;900.00;27.00;873.00;2026-12-04\n"
        b"SB2;B-1;900.00;27.00;873.00;2026-12-04\n")).report
    row = report.rows.get(order_number="A-1")
    assert row.outcome == "amount_differs"
    assert report.rows.get(order_number="B-1").outcome == "matched"
    resolution.row_resolve(actor=actor, row_id=row.pk, resolution="accepted")
    accepted = _by_kind(org, differs)
    assert accepted == _by_kind(org, direct)
    assert ledger.balances(org.pk, shipment_id=differs.pk) == ledger.balances(
        org.pk, shipment_id=direct.pk)
    # the order's economics read as the direct one's: COD, fees, paid, final state
    fields = ("cod_amount", "fee_commission", "fee_delivery", "paid_amount", "state",
              "order_state", "paid_on")
    assert Receivable.objects.filter(shipment=differs).values(*fields).get() == (
        Receivable.objects.filter(shipment=direct).values(*fields).get())
    services_kind = "agent_report" if terms.get("agent_reports") else "services"
    assert {k for k, _a in accepted} == {"demand", "payment_in", services_kind}
    assert sum(ledger.balances(org.pk).values()) == 0
