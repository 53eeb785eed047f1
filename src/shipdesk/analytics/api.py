"""Statistics REST API (/api/v1/analytics/): the pages' figures, the same selectors.
Filters as query parameters: date_from, date_to (YYYY-MM-DD, the organization's days),
compare (previous | year), account, carrier, region, sender, kind."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema

from shipdesk.analytics import reports, selectors
from shipdesk.core.errors import NotFound
from shipdesk.core.typing import ApiRequest

router = Router(tags=["analytics"])


def _filters(request: ApiRequest) -> selectors.Filters:
    return selectors.filters_parse(request.GET, actor=request.auth)


@router.get("/summary", response=dict[str, Any])
def summary(request: ApiRequest) -> dict[str, Any]:
    """The period's totals (created, handed over, delivered, returned, lost, delivery cost
    in total and per parcel, rates) and, with ``compare``, the compared period's."""
    f = _filters(request)
    other = f.compared()
    return {"date_from": f.date_from, "date_to": f.date_to,
            "compared_from": other.date_from if other else None,
            "compared_to": other.date_to if other else None,
            "totals": selectors.totals(actor=request.auth, f=f)}


@router.get("/tables/{name}", response=dict[str, Any])
def table(request: ApiRequest, name: str) -> dict[str, Any]:
    """One statistics table (volume, periods, carriers, cod, regions, transit, reasons,
    notified, users) as rows of its columns."""
    if name not in selectors.TABLES:
        raise NotFound(f"{name}: " + ", ".join(selectors.TABLES))
    f = _filters(request)
    return {"name": name, "columns": [k for k, _h in selectors.TABLES[name][2]],
            "rows": selectors.table(actor=request.auth, f=f, name=name)}


class WeeklyReportIn(Schema):
    emails: list[str]


class WeeklyReportOut(Schema):
    emails: list[str]
    next_report_at: datetime | None


@router.put("/weekly-report", response=WeeklyReportOut)
def weekly_report_set(request: ApiRequest, payload: WeeklyReportIn) -> dict[str, Any]:
    """Chooses the members (by e-mail) who get the weekly statistics, Monday 08:00 in the
    organization's zone; an empty list stops it."""
    row = reports.weekly_report_recipients_set(actor=request.auth, emails=payload.emails)
    return {"emails": [e for e in row.weekly_emails.split(",") if e],
            "next_report_at": row.next_report_at}
