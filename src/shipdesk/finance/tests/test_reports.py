"""Payout reports end to end: recognised, matched, posted; checked by the ledger's balances
per account and order (never by counting rows)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook

from shipdesk.conftest import actor_with_role
from shipdesk.core.errors import Forbidden
from shipdesk.finance import ledger, services
from shipdesk.finance.models import (
    CashDaily,
    FeesMode,
    OrderState,
    PayoutReport,
    Posting,
    Receivable,
    ReceivableState,
    ReportStatus,
)
from shipdesk.finance.tests.conftest import at, feed, make_shipment, sample
from shipdesk.tenancy.models import AuditEntry, Role

pytestmark = pytest.mark.django_db
D = Decimal


def balances(org: Any, shipment: Any) -> dict[str, Decimal]:
    return ledger.balances(org.pk, shipment_id=shipment.pk)


def outcomes(report: PayoutReport) -> dict[str, str]:
    return {r.order_number or r.tracking_number: r.outcome for r in report.rows.all()}


@pytest.fixture
def cdek_orders(org: Any, other_org: Any, carrier_account: Any) -> dict[str, Any]:
    account = carrier_account("cdek", cod_commission_pct=D("3"), payout_lag_days=7)
    s = {
        "1001": make_shipment(org, tracking="1500000001", order="SHOP-1001", cod="1234.50",
                              account=account),
        "1002": make_shipment(org, tracking="1500000002", order="SHOP-1002", cod="2000",
                              account=account),
        "1003": make_shipment(org, tracking="1500000003", order="SHOP-1003", cod="2500",
                              account=account),
        "1004": make_shipment(org, tracking="1500000004", order="SHOP-1004", cod="1000",
                              account=account),
        "other": make_shipment(other_org, tracking="1500000099", order="SHOP-9999", cod="700"),
    }
    for key in ("1001", "1003", "1004"):
        feed(s[key], "delivered", at("2026-11-28"))
    feed(s["other"], "delivered", at("2026-11-28"))
    return s


def test_cdek_registry_xls_is_recognised_matched_and_posted(actor: Any, org: Any,
                                                            other_org: Any, cdek_orders: Any
                                                            ) -> None:
    result = services.report_import(actor=actor, filename="выгрузка.xls",
                                    content=sample("cdek_registry.xls"))
    report = result.report
    assert report.status == ReportStatus.POSTED
    assert (report.carrier_code, report.registry_number) == ("cdek", "4711")
    assert outcomes(report) == {"SHOP-1001": "matched", "SHOP-1002": "matched",
                                "SHOP-1003": "partial", "SHOP-9999": "unknown",
                                "SHOP-1004": "amount_differs"}
    # matched, fees deducted from the COD: money on the bank account is what CDEK sent
    assert balances(org, cdek_orders["1001"]) == {"51": D("1197.46"), "44": D("37.04"),
                                                  "90.1": D("-1234.50")}
    # paid before tracking said delivered: the shipment's demand is posted with the payment
    assert balances(org, cdek_orders["1002"]) == {"51": D("1940"), "44": D("60"),
                                                  "90.1": D("-2000")}
    # partial refusal: a customer return for the goods sent back
    assert balances(org, cdek_orders["1003"]) == {"51": D("1455"), "44": D("45"),
                                                  "90.1": D("-2500"), "90.2": D("1000")}
    r3 = Receivable.objects.get(shipment=cdek_orders["1003"])
    assert (r3.state, r3.order_state, r3.refused_amount) == (
        ReceivableState.PAID, OrderState.RETURNED, D("1000"))
    assert Receivable.objects.get(shipment=cdek_orders["1001"]).order_state == \
        OrderState.COMPLETED
    # amount differs: both amounts and the difference, nothing paid
    row = report.rows.get(order_number="SHOP-1004")
    assert (row.expected_amount, row.cod_amount, row.difference) == (D("1000"), D("900"),
                                                                     D("-100"))
    assert balances(org, cdek_orders["1004"]) == {"62": D("1000"), "90.1": D("-1000")}
    # another organization's parcel: unknown here, untouched there
    assert report.rows.get(order_number="SHOP-9999").receivable_id is None
    assert balances(other_org, cdek_orders["other"]) == {"62": D("700"), "90.1": D("-700")}
    assert sum(ledger.balances(org.pk).values()) == 0


def test_the_same_report_twice_posts_nothing(actor: Any, org: Any, cdek_orders: Any) -> None:
    first = services.report_import(actor=actor, filename="a.xls", content=sample("cdek_registry.xls"))
    before = ledger.balances(org.pk)
    again = services.report_import(actor=actor, filename="b.xls", content=sample("cdek_registry.xls"))
    assert not again.created and again.report.pk == first.report.pk
    assert ledger.balances(org.pk) == before
    assert PayoutReport.objects.filter(organization=org).count() == 1


def _cdek_xlsx(rows: list[list[object]], registry: str = "4711") -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([f"Реестр наложенных платежей № {registry} от 06.12.2026 (исправленный)"])
    ws.append([])
    ws.append(["Номер заказа СДЭК", "Номер отправления ИМ", "Дата доставки",
               "Сумма наложенного платежа", "Агентское вознаграждение", "Сумма к перечислению",
               "Сумма возврата"])
    for row in rows:
        ws.append(row)
    ws.append(["Итого", "", "", "—", "", ""])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_corrected_report_supersedes_the_earlier_one(actor: Any, org: Any, cdek_orders: Any
                                                       ) -> None:
    services.report_import(actor=actor, filename="a.xls", content=sample("cdek_registry.xls"))
    corrected = _cdek_xlsx([
        ["1500000001", "SHOP-1001", "01.12.2026", "1 234,50", "37,04", "1 197,46", 0],
        ["1500000002", "SHOP-1002", 46358, 2000, 60, 1940, 0],
        ["1500000003", "SHOP-1003", "02.12.2026", 1500, 45, 1455, 1000],
        ["1500000004", "SHOP-1004", "03.12.2026", 1000, 30, 970, 0],
    ])
    new = services.report_import(actor=actor, filename="b.xlsx", content=corrected).report
    old = PayoutReport.objects.get(organization=org, filename="a.xls")
    assert old.status == ReportStatus.SUPERSEDED and old.superseded_by_id == new.pk
    assert set(outcomes(new).values()) == {"matched", "partial"}
    # each order is paid once, whatever happened to the superseded rows
    assert balances(org, cdek_orders["1001"]) == {"51": D("1197.46"), "44": D("37.04"),
                                                  "90.1": D("-1234.50")}
    assert balances(org, cdek_orders["1003"]) == {"51": D("1455"), "44": D("45"),
                                                  "90.1": D("-2500"), "90.2": D("1000")}
    assert balances(org, cdek_orders["1004"]) == {"51": D("970"), "44": D("30"),
                                                  "90.1": D("-1000")}
    assert Posting.objects.filter(organization=org, kind="reversal").exists()


def test_a_negative_row_reverses_the_payment(actor: Any, org: Any, cdek_orders: Any) -> None:
    services.report_import(actor=actor, filename="a.xls", content=sample("cdek_registry.xls"))
    fix = _cdek_xlsx([["1500000001", "SHOP-1001", "04.12.2026", "-1 234,50", "-37,04",
                       "-1 197,46", 0]], registry="4712")
    report = services.report_import(actor=actor, filename="c.xlsx", content=fix).report
    assert outcomes(report) == {"SHOP-1001": "correction"}
    assert balances(org, cdek_orders["1001"]) == {"62": D("1234.50"), "90.1": D("-1234.50")}
    r = Receivable.objects.get(shipment=cdek_orders["1001"])
    assert (r.state, r.order_state) == (ReceivableState.COLLECTED, OrderState.OPEN)
    day = CashDaily.objects.get(organization=org, carrier_code="cdek", day=date(2026, 12, 1))
    assert (day.paid, day.paid_count) == (0, 0)  # the forecast's history forgets it too


def test_a_row_paying_an_order_again_is_flagged_not_posted(actor: Any, org: Any,
                                                           cdek_orders: Any) -> None:
    services.report_import(actor=actor, filename="a.xls", content=sample("cdek_registry.xls"))
    twice = _cdek_xlsx([["1500000001", "SHOP-1001", "04.12.2026", "1 234,50", "37,04",
                         "1 197,46", 0]] * 1, registry="4713")
    report = services.report_import(actor=actor, filename="d.xlsx", content=twice).report
    assert outcomes(report) == {"SHOP-1001": "paid_twice"}
    assert balances(org, cdek_orders["1001"])["51"] == D("1197.46")


def test_one_bad_row_posts_nothing_and_names_the_row(actor: Any, org: Any, cdek_orders: Any
                                                     ) -> None:
    bad = _cdek_xlsx([["1500000001", "SHOP-1001", "01.12.2026", "1 234,50", "37,04",
                       "1 197,46", 0],
                      ["1500000004", "SHOP-1004", "32.12.2026", 1000, 30, 970, 0]])
    report = services.report_import(actor=actor, filename="e.xlsx", content=bad).report
    assert report.status == ReportStatus.FAILED
    assert "Строка 5" in report.error and "paid_on" in report.error
    assert not Posting.objects.filter(organization=org).exclude(kind="demand").exists()


def test_russian_post_csv_in_cp1251(actor: Any, org: Any, carrier_account: Any) -> None:
    account = carrier_account("russian_post", fees_mode=FeesMode.DEDUCTED)
    a = make_shipment(org, tracking="80099500000011", order="SHOP-2001", cod="1234.50",
                      carrier="russian_post", account=account)
    b = make_shipment(org, tracking="80099500000028", order="SHOP-2002", cod="3000",
                      carrier="russian_post", account=account)
    c = make_shipment(org, tracking="80099500000035", order="SHOP-2003", cod="499.99",
                      carrier="russian_post", account=account)
    for s in (a, b, c):
        feed(s, "delivered", at("2026-11-30"))
    report = services.report_import(actor=actor, filename="spisok.csv",
                                    content=sample("russian_post_transfers.csv")).report
    assert report.format_code == "russian_post_cod_transfers"
    assert set(outcomes(report).values()) == {"matched"}
    assert balances(org, a) == {"51": D("1215.98"), "44": D("18.52"), "90.1": D("-1234.50")}
    assert balances(org, c) == {"51": D("492.49"), "44": D("7.50"), "90.1": D("-499.99")}


def test_pickpoint_ods(actor: Any, org: Any, carrier_account: Any) -> None:
    account = carrier_account("pickpoint")
    a = make_shipment(org, tracking="19900000101", order="SHOP-3001", cod="2500",
                      carrier="pickpoint", account=account)
    b = make_shipment(org, tracking="19900000102", order="SHOP-3002", cod="1800",
                      carrier="pickpoint", account=account)
    report = services.report_import(actor=actor, filename="otchet.ods",
                                    content=sample("pickpoint_report.ods")).report
    assert (report.format_code, report.registry_number) == ("pickpoint_agent_report",
                                                            "PP-2026-48")
    assert set(outcomes(report).values()) == {"matched"}
    assert balances(org, a) == {"51": D("2437.5"), "44": D("62.5"), "90.1": D("-2500")}
    assert balances(org, b) == {"51": D("1755"), "44": D("45"), "90.1": D("-1800")}


def test_sandbox_csv_with_services_invoiced_separately(actor: Any, org: Any,
                                                       carrier_account: Any) -> None:
    account = carrier_account("sandbox", fees_mode=FeesMode.INVOICED,
                              cod_commission_pct=D("2"), delivery_fee=D("150"))
    a = make_shipment(org, tracking="SB000000001RU", order="SHOP-4001", cod="1000",
                      carrier="sandbox", account=account)
    make_shipment(org, tracking="SB000000002RU", order="SHOP-4002", cod="555.55",
                  carrier="sandbox", account=account)
    report = services.report_import(actor=actor, filename="payouts.csv",
                                    content=sample("sandbox_payouts.csv")).report
    assert set(outcomes(report).values()) == {"matched"}
    # invoiced: the whole COD is the incoming payment; services stay owed to the carrier
    assert balances(org, a) == {"51": D("1000"), "44": D("170"), "60": D("-170"),
                                "90.1": D("-1000")}


def test_full_refusal_from_the_feed(org: Any, carrier_account: Any) -> None:
    account = carrier_account("cdek", return_fee=D("120"))
    s = make_shipment(org, tracking="1500000777", order="SHOP-777", cod="3000", account=account,
                      shipping_cost="350")
    feed(s, "returned", at("2026-11-20"))
    r = Receivable.objects.get(shipment=s)
    assert (r.state, r.order_state, r.refused_amount) == (ReceivableState.REFUSED,
                                                          OrderState.RETURNED, D("3000"))
    assert balances(org, s) == {"90.1": D("-3000"), "90.2": D("3000"), "44": D("470"),
                                "60": D("-470")}
    feed(s, "returned", at("2026-11-21"))  # the feed repeating itself changes nothing
    assert balances(org, s)["44"] == D("470")


def test_collected_but_unpaid_past_the_expected_day_is_overdue(org: Any, carrier_account: Any
                                                               ) -> None:
    import datetime as dt

    account = carrier_account("cdek", payout_lag_days=5, payout_weekdays="2,4")
    s = make_shipment(org, tracking="1500000555", order="SHOP-555", cod="100", account=account)
    feed(s, "delivered", at("2026-11-02"))  # a Monday
    r = Receivable.objects.get(shipment=s)
    assert r.expected_on == dt.date(2026, 11, 10)  # +5 days = Saturday, then Tuesday
    services.overdue_mark(today=dt.date(2026, 11, 10))
    assert Receivable.objects.get(shipment=s).state == ReceivableState.COLLECTED
    services.overdue_mark(today=dt.date(2026, 11, 11))
    assert Receivable.objects.get(shipment=s).state == ReceivableState.OVERDUE


def test_unknown_format_is_mapped_once_and_remembered(actor: Any, org: Any) -> None:
    s = make_shipment(org, tracking="ZZ1", order="SHOP-5001", cod="100", carrier="boxberry")
    t = make_shipment(org, tracking="ZZ2", order="SHOP-5002", cod="200", carrier="boxberry")
    content = "Код посылки;Заказ;Получено;Перечислено\nZZ1;SHOP-5001;100,00;97,00\n".encode()
    report = services.report_import(actor=actor, filename="bb.csv", content=content).report
    assert report.status == ReportStatus.NEEDS_MAPPING
    assert report.headers == ["Код посылки", "Заказ", "Получено", "Перечислено"]
    services.report_map(actor=actor, report_id=report.pk, carrier_code="boxberry", name="Boxberry",
                        columns={"tracking_number": "Код посылки", "order_number": "Заказ",
                                 "cod_amount": "Получено", "paid_amount": "Перечислено"})
    report.refresh_from_db()
    assert report.status == ReportStatus.POSTED
    assert balances(org, s) == {"51": D("97"), "44": D("3"), "90.1": D("-100")}
    second = "Код посылки;Заказ;Получено;Перечислено\nZZ2;SHOP-5002;200,00;194,00\n".encode()
    again = services.report_import(actor=actor, filename="bb2.csv", content=second).report
    assert again.status == ReportStatus.POSTED and again.confidence == 1
    assert balances(org, t)["51"] == D("194")


def test_mapping_refuses_missing_columns(actor: Any, org: Any) -> None:
    from shipdesk.core.errors import ValidationFailed

    content = "Код;Сумма\nZZ1;1\n".encode()
    report = services.report_import(actor=actor, filename="x.csv", content=content).report
    with pytest.raises(ValidationFailed) as exc:
        services.report_map(actor=actor, report_id=report.pk, carrier_code="x", name="",
                            columns={"tracking_number": "Нет такой"})
    assert {e.loc[0] for e in exc.value.errors} == {"tracking_number", "paid_amount"}


def test_viewers_read_accountants_post_and_it_is_audited(org: Any, make_user: Any,
                                                         cdek_orders: Any) -> None:
    viewer = actor_with_role(org, Role.VIEWER, make_user)
    with pytest.raises(Forbidden):
        services.report_import(actor=viewer, filename="a.xls", content=sample("cdek_registry.xls"))
    accountant = actor_with_role(org, Role.ACCOUNTANT, make_user)
    report = services.report_import(actor=accountant, filename="a.xls",
                                    content=sample("cdek_registry.xls")).report
    actions = set(AuditEntry.objects.filter(organization=org, user=accountant.user)
                  .values_list("action", flat=True))
    assert {"finance.report_received", "finance.report_posted"} <= actions
    assert report.status == ReportStatus.POSTED


def test_postings_are_immutable(actor: Any, org: Any, cdek_orders: Any) -> None:
    p = Posting.objects.filter(organization=org).first()
    assert p is not None
    p.amount = D("1")
    with pytest.raises(PermissionError):
        p.save()
    with pytest.raises(PermissionError):
        p.delete()


def test_a_payout_whose_lines_would_not_balance_posts_nothing(
        actor: Any, org: Any, cdek_orders: Any, monkeypatch: Any) -> None:
    from shipdesk.finance import matching

    # the services line (the carrier's fee) lost: the payout's lines no longer sum to zero
    broken = {**matching._LINE_RULES, 5: ("services", "44", "TRUE", "0")}
    monkeypatch.setattr(matching, "_POST_SQL", matching._post_sql(broken))
    monkeypatch.setattr(matching, "_UNBALANCED_SQL", matching._unbalanced_sql(broken))
    demands = ledger.balances(org.pk)
    with pytest.raises(ledger.Unbalanced):
        services.report_import(actor=actor, filename="выгрузка.xls",
                               content=sample("cdek_registry.xls"))
    assert ledger.balances(org.pk) == demands
    assert not PayoutReport.objects.filter(organization=org).exists()
    assert not Receivable.objects.filter(organization=org, state=ReceivableState.PAID).exists()


def test_the_report_file_is_kept_as_received(actor: Any, org: Any, cdek_orders: Any) -> None:
    content = sample("cdek_registry.xls")
    result = services.report_import(actor=actor, filename="выгрузка.xls", content=content)
    stored = PayoutReport.objects.get(pk=result.report.pk)
    assert bytes(stored.content) == content and stored.status == ReportStatus.POSTED
