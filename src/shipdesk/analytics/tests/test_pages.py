"""The statistics page's figures equal independent SQL counts over generated data, every
chart mark links to the shipments it counts, exports carry the same figures."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from openpyxl import load_workbook

from shipdesk.analytics.tests.data import sql

pytestmark = pytest.mark.django_db


def _marks(html: str, chart: str) -> dict[str, str]:
    svg = re.search(rf'<svg[^>]*data-chart="{chart}".*?</svg>', html, re.S)
    assert svg, chart
    return {label: value for label, value in re.findall(
        r'data-label="([^"]*)" data-series="[^"]*" data-value="([^"]*)"', svg.group(0))}


def _hrefs(html: str, chart: str) -> dict[str, str]:
    svg = re.search(rf'<svg[^>]*data-chart="{chart}".*?</svg>', html, re.S)
    assert svg
    return {label: href.replace("&amp;", "&") for href, label in re.findall(
        r'<a href="([^"]*)"><rect [^>]*data-label="([^"]*)"', svg.group(0))}


def test_page_figures_equal_an_independent_count(web: Any, org: Any, generated: Any) -> None:
    html = web.get("/analytics/?" + urlencode(generated["params"])).content.decode()
    card = dict(re.findall(r'data-figure="(\w+)"><div class="card-value">([^<]*)<', html))
    assert int(card["created"].replace("\xa0", "")) == sql(
        "SELECT COUNT(*) FROM {s} WHERE organization_id = %s", org.pk) == 20
    assert int(card["delivered"]) == sql(
        "SELECT COUNT(*) FROM {s} WHERE organization_id = %s AND state = 'delivered'", org.pk) == 8
    assert int(card["returned"]) == sql(
        "SELECT COUNT(*) FROM {s} WHERE organization_id = %s AND state = 'returned'", org.pk) == 2
    assert Decimal(card["cost_sum"].replace("\xa0", "").replace(",", ".")) == Decimal(str(sql(
        "SELECT SUM(shipping_cost) FROM {s} WHERE organization_id = %s", org.pk))).quantize(
        Decimal("0.01")) == Decimal("4252.50")
    regions = _marks(html, "regions_volume")
    assert regions == {"Омская область": "12", "Москва": "5", "Новосибирская область": "3"}
    assert _marks(html, "regions_transit")["Омская область"] == "3"
    volume = _marks(html, "volume")
    assert sum(int(v) for v in volume.values()) == 20


def test_a_chart_mark_opens_the_shipments_it_counts(web: Any, org: Any, generated: Any) -> None:
    html = web.get("/analytics/?" + urlencode(generated["params"])).content.decode()
    href = _hrefs(html, "regions_volume")["Омская область"]
    listed = web.get(href).content.decode()
    assert listed.count('href="/shipments/') - listed.count('href="/shipments/new') >= 12
    ids = set(re.findall(r'href="/shipments/(\d+)/"', listed))
    assert ids == {str(s.pk) for s in generated["omsk"]}


def test_filters_and_comparison(web: Any, generated: Any) -> None:
    params = {**generated["params"], "region": "Москва", "compare": "previous"}
    html = web.get("/analytics/?" + urlencode(params)).content.decode()
    card = dict(re.findall(r'data-figure="(\w+)"><div class="card-value">([^<]*)<', html))
    assert (card["created"], card["delivered"]) == ("5", "2")
    assert 'data-figure="compared_created">0<' in html
    bad = web.get("/analytics/?date_from=2026-13-01").content.decode()
    assert "Дата: ГГГГ-ММ-ДД" in bad


def test_exports_carry_the_figures_and_never_a_formula(web: Any, generated: Any) -> None:
    q = urlencode(generated["params"])
    text = web.get(f"/analytics/export/volume.csv?{q}").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["День", "Вид", "Создано"]
    assert sum(int(r[2]) for r in rows[1:]) == 20
    assert any(r[1] == "'=HYPERLINK(1)" for r in rows[1:])
    book = load_workbook(io.BytesIO(web.get(f"/analytics/export/carriers.xlsx?{q}").content))
    sheet = book.active
    assert [c.value for c in sheet[1]][:3] == ["Договор", "Перевозчик", "Создано"]
    assert sheet.cell(2, 3).value == 20
    volume = load_workbook(io.BytesIO(web.get(f"/analytics/export/volume.xlsx?{q}").content))
    kinds = [row[1].value for row in volume.active.iter_rows(min_row=2)]
    assert "'=HYPERLINK(1)" in kinds and all(not str(k).startswith("=") for k in kinds)


def test_api_gives_the_same_figures_and_names_bad_filters(api: Any, generated: Any) -> None:
    q = urlencode(generated["params"])
    body = api.get(f"/api/v1/analytics/summary?{q}").json()
    assert (body["totals"]["created"], body["totals"]["delivered"]) == (20, 8)
    regions = api.get(f"/api/v1/analytics/tables/regions?{q}").json()["rows"]
    assert {r["region"]: r["created"] for r in regions}["Омская область"] == 12
    # a range with whole months inside reads the month rows (and the day rows at its ends)
    from datetime import timedelta

    from shipdesk.analytics.tests.conftest import DAY0

    wide = urlencode({"date_from": (DAY0 - timedelta(days=40)).isoformat(),
                      "date_to": (DAY0 + timedelta(days=40)).isoformat()})
    by_month = api.get(f"/api/v1/analytics/tables/regions?{wide}").json()["rows"]
    assert {r["region"]: (r["created"], r["delivered"]) for r in by_month} == {
        r["region"]: (r["created"], r["delivered"]) for r in regions}
    routes = api.get(f"/api/v1/analytics/tables/transit?{wide}").json()["rows"]
    assert {(r["route"], r["n"], r["p50"]) for r in routes} == {
        ("Москва → Омская область", 8, 3), ("Москва → Москва", 2, 1)}
    bad = api.get("/api/v1/analytics/summary?date_from=2026-02-30&region=Атлантида")
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["errors"]} == {("date_from",), ("region",)}


def test_another_organization_sees_none_of_it(other_api: Any, generated: Any) -> None:
    body = other_api.get("/api/v1/analytics/summary?" + urlencode(generated["params"])).json()
    assert body["totals"]["created"] == 7


def test_dashboard_tiles_link_to_the_list_for_the_period(web: Any, generated: Any) -> None:
    html = web.get("/?period=30").content.decode()
    assert re.search(r'href="/shipments/\?state=delivered&amp;created_from=\d{4}-\d\d-\d\d"',
                     html)
    tile = re.search(r'data-state="delivered"[^>]*>.*?card-value">(\d+)<', html, re.S)
    assert tile and tile.group(1) == "8"


def _dots(html: str, chart: str, series: str) -> dict[str, str]:
    """A chart's points of one line series (the compared period's, the debt)."""
    svg = re.search(rf'<svg[^>]*data-chart="{chart}".*?</svg>', html, re.S)
    assert svg, chart
    return dict(re.findall(rf'<circle [^>]*data-label="([^"]*)" data-series="{series}" '
                           r'data-value="([^"]*)"', svg.group(0)))


def test_the_compared_period_is_a_second_series(web: Any, org: Any, generated: Any) -> None:
    """4 parcels three days before the period: the previous period's line carries them on
    the day they are compared with, and the carriers' bars get a compared bar."""
    from datetime import timedelta

    from shipdesk.analytics.services import analytics_rebuild
    from shipdesk.analytics.tests.conftest import DAY0, _at
    from shipdesk.shipments.models import Shipment
    from shipdesk.tracking.tests.factories import shipment

    made = [shipment(org, index="644010", shipping_cost="300.00") for _ in range(4)]
    Shipment.objects.filter(pk__in=[s.pk for s in made]).update(
        created_at=_at(DAY0 - timedelta(days=3)))
    analytics_rebuild()
    params = {**generated["params"], "compare": "previous"}
    html = web.get("/analytics/?" + urlencode(params)).content.decode()
    # DAY0-3 is the first day of the previous three: compared with DAY0
    assert _dots(html, "volume", "compared") == {DAY0.isoformat(): "4"}
    assert _dots(html, "cost", "compared") == {DAY0.isoformat(): "1200.00"}
    assert 'data-figure="compared_created">4<' in html
    compared = re.findall(r'data-series="compared" data-value="([^"]*)"',
                          re.search(r'data-chart="carrier_delivery_rate".*?</svg>', html,
                                    re.S).group(0))  # type: ignore[union-attr]
    assert compared == ["0"]  # none of the 4 delivered yet
    href = re.search(r'<a href="([^"]*)"><circle', html).group(1)  # type: ignore[union-attr]
    day = (DAY0 - timedelta(days=3)).isoformat()
    assert f"created_from={day}&amp;created_to={day}" in href


def test_days_are_the_organizations_local_days(web: Any, org: Any, generated: Any) -> None:
    """Created at 22:30 UTC the day before DAY0 is 01:30 on DAY0 in Moscow: it counts on
    DAY0, and DAY0's column opens a list that holds it."""
    from datetime import timedelta

    from shipdesk.analytics.services import analytics_rebuild
    from shipdesk.analytics.tests.conftest import DAY0, _at
    from shipdesk.shipments.models import Shipment
    from shipdesk.tracking.tests.factories import shipment

    late = shipment(org, index="644010", service_code="EMS")
    Shipment.objects.filter(pk=late.pk).update(
        created_at=_at(DAY0) - timedelta(hours=11, minutes=30))
    analytics_rebuild()
    html = web.get("/analytics/?" + urlencode(generated["params"])).content.decode()
    svg = re.search(r'data-chart="volume".*?</svg>', html, re.S).group(0)  # type: ignore[union-attr]
    ems = re.findall(r'<a href="([^"]*kind=EMS[^"]*)"><rect [^>]*data-label="([^"]*)" '
                     r'data-series="[^"]*" data-value="(\d+)"', svg)
    assert [(day, n) for _href, day, n in ems] == [(DAY0.isoformat(), "1")]
    listed = web.get(ems[0][0].replace("&amp;", "&")).content.decode()
    assert set(re.findall(r'href="/shipments/(\d+)/"', listed)) == {str(late.pk)}


def test_on_time_and_cod_charts(web: Any, org: Any, generated: Any) -> None:
    """On time against the carrier's control term equals a count over the tracking
    states; COD collected and owed equal finance's daily figures."""
    from datetime import timedelta

    from shipdesk.analytics.tests.conftest import DAY0
    from shipdesk.finance.models import CashDaily, DebtSnapshot

    # an independent count: arrivals later than acceptance + the 2 days' control term
    arrived = sql("SELECT COUNT(*) FROM tracking_trackingstate WHERE organization_id = %s "
                  "AND arrived_at_pickup_at IS NOT NULL", org.pk)
    late = sql("SELECT COUNT(*) FROM tracking_trackingstate WHERE organization_id = %s "
               "AND arrived_at_pickup_at > accepted_at + interval '2 days'"
               if connection.vendor == "postgresql" else
               "SELECT COUNT(*) FROM tracking_trackingstate WHERE organization_id = %s "
               "AND julianday(arrived_at_pickup_at) - julianday(accepted_at) > 2", org.pk)
    assert (arrived, late) == (10, 8)
    CashDaily.objects.create(organization=org, carrier_code="russian_post", day=DAY0,
                             collected=Decimal("1500.00"), paid=Decimal("0"))
    CashDaily.objects.create(organization=org, carrier_code="cdek",
                             day=DAY0 + timedelta(days=1), collected=Decimal("700.50"),
                             paid=Decimal("1500.00"))
    for day, owed in ((DAY0, "1500.00"), (DAY0 + timedelta(days=1), "700.50")):
        DebtSnapshot.objects.create(organization=org, carrier_code="russian_post", day=day,
                                    age_0_7=Decimal(owed))
    html = web.get("/analytics/?" + urlencode(generated["params"])).content.decode()
    assert list(_marks(html, "carrier_on_time").values()) == ["20.0"]  # 2 of 10 in time
    assert _marks(html, "cod") == {DAY0.isoformat(): "1500.00",
                                   (DAY0 + timedelta(days=1)).isoformat(): "700.50"}
    assert _dots(html, "cod", "owed") == {DAY0.isoformat(): "1500.00",
                                          (DAY0 + timedelta(days=1)).isoformat(): "700.50"}
    assert re.search(r'data-figure="cod_collected">2\s?200,50', html)
