"""Statistics pages: the dashboard with its charts, each table's export. Thin: the figures
come from selectors, the pictures from charts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from shipdesk.analytics import charts, exports, reports, selectors
from shipdesk.analytics.selectors import Filters
from shipdesk.core.errors import ValidationFailed
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, service_action
from shipdesk.shipments.regions import REGION_NAMES


def _list_url(f: Filters, **extra: Any) -> str:
    return reverse("shipments:list") + "?" + urlencode(f.query(**extra))


# the filters as the form names them (an error names the field, never its code)
FILTER_NAMES = {"date_from": gettext_lazy("С"), "date_to": gettext_lazy("По"),
                "compare": gettext_lazy("Сравнить"), "account": gettext_lazy("Договор"),
                "region": gettext_lazy("Регион"), "sender": gettext_lazy("Отправитель")}


def _filters(request: ActorRequest) -> tuple[Filters, list[str]]:
    try:
        return selectors.filters_parse(request.GET, actor=request.actor), []
    except ValidationFailed as exc:
        return selectors.filters_parse({}, actor=request.actor), [
            f"{FILTER_NAMES.get(str(e.loc[-1]), e.loc[-1])}: {e.message}" for e in exc.errors]


WEEKLY_COLUMNS_AFTER = 92  # longer periods draw a column per week, not per day


def _columns(f: Filters) -> tuple[list[str], Any]:
    """The volume charts' columns (ISO days; Mondays for long periods, each standing for
    its week within the period) and the column of a day."""
    if f.days <= WEEKLY_COLUMNS_AFTER:
        return ([(f.date_from + timedelta(days=i)).isoformat() for i in range(f.days)],
                lambda d: d.isoformat())

    def week_of(d: date) -> str:
        return max(d - timedelta(days=d.weekday()), f.date_from).isoformat()

    return sorted({week_of(f.date_from + timedelta(days=i)) for i in range(f.days)}), week_of


def _column_range(f: Filters, column: str) -> dict[str, Any]:
    """The list's filter for the parcels of one column (a day, or a week in the period)."""
    first = date.fromisoformat(column)
    if f.days <= WEEKLY_COLUMNS_AFTER:
        return {"created_from": first, "created_to": first}
    last = min(first + timedelta(days=6 - first.weekday()), f.date_to)
    return {"created_from": first, "created_to": last}


def _summed(rows: list[dict[str, Any]], column_of: Any, key: str, *extra: str
            ) -> dict[tuple[Any, ...], Decimal]:
    out: dict[tuple[Any, ...], Decimal] = {}
    for r in rows:
        k = (column_of(r["day"]), *(r[e] for e in extra))
        out[k] = out.get(k, Decimal("0")) + Decimal(r[key] or 0)
    return out


def _value(v: Decimal) -> int | Decimal:
    return int(v) if v == v.to_integral_value() else v


def dashboard_charts(actor: Any, f: Filters) -> dict[str, Any]:
    """Every chart of the dashboard with the figures behind it; with a comparison, the
    compared period's figures as a second series of the charts that have one."""
    other = f.compared()
    compared_name = (_("%(start)s–%(end)s") % {"start": other.date_from.strftime("%d.%m.%Y"),
                                              "end": other.date_to.strftime("%d.%m.%Y")}
                     if other else "")
    columns, column_of = _columns(f)
    volume = selectors.volume_by_day(actor=actor, f=f)
    before = selectors.volume_compared(actor=actor, f=f)
    kinds = sorted({r["kind_name"] for r in volume})
    kind_code = {r["kind_name"]: r["kind"] for r in volume}
    volume_chart = charts.stacked_columns(
        [charts.Mark(col, _value(n), _list_url(f, **_column_range(f, col),
                                                kind=kind_code[name] or ""), name)
         for (col, name), n in sorted(_summed(volume, column_of, "created",
                                              "kind_name").items())],
        name="volume", title=_("Отправления по дням"), columns=columns, series=kinds,
        line=[charts.Mark(col, _value(n), _compared_url(f, other, col), "compared")
              for (col,), n in sorted(_summed(before, column_of, "created").items())],
        line_name=compared_name)
    cost_name = _("стоимость, ₽")
    cost_chart = charts.stacked_columns(
        [charts.Mark(col, v, _list_url(f, **_column_range(f, col)), cost_name)
         for (col,), v in sorted(_summed(volume, column_of, "cost_sum").items())],
        name="cost", title=_("Стоимость доставки по дням"), columns=columns,
        series=[cost_name],
        line=[charts.Mark(col, v, _compared_url(f, other, col), "compared")
              for (col,), v in sorted(_summed(before, column_of, "cost_sum").items())],
        line_name=compared_name)
    carriers = selectors.by_carrier(actor=actor, f=f)
    carriers_before = {(r["carrier_account_id"], r["carrier_code"]): r
                       for r in (selectors.by_carrier(actor=actor, f=other) if other else [])}
    regions = selectors.by_region(actor=actor, f=f)
    by_region = {r["region"]: r for r in regions if r["region"]}
    region_volume = charts.region_map(
        {name: (by_region[name]["created"], _list_url(f, region=name))
         for name in REGION_NAMES if name in by_region},
        name="regions_volume", title=_("Отправления по регионам"))
    region_transit = charts.region_map(
        {name: (by_region[name]["transit_median"], _list_url(f, region=name))
         for name in REGION_NAMES if name in by_region
         and by_region[name]["transit_median"] is not None},
        name="regions_transit", title=_("Срок в пути по регионам, дн."), unit=_(" дн."),
        low_is_good=True)

    def carrier_url(r: dict[str, Any], g: Filters = f, **extra: Any) -> str:
        if r["carrier_account_id"]:
            return _list_url(g, account=r["carrier_account_id"], **extra)
        return _list_url(g, carrier=r["carrier_code"], **extra)

    def carrier_bars(rows: list[dict[str, Any]], figure: str, chart: str, title: str,
                     unit: str, **extra: Any) -> Any:
        was = [carriers_before.get((r["carrier_account_id"], r["carrier_code"]))
               for r in rows]
        return charts.bars(
            [charts.Mark(r["name"], r[figure] or 0, carrier_url(r, **extra), figure)
             for r in rows], name=chart, title=title, unit=unit,
            compared=[charts.Mark(r["name"], w[figure] or 0, carrier_url(w, other, **extra),
                                  "compared") if w and other else None
                      for r, w in zip(rows, was, strict=True)] if other else (),
            compared_name=compared_name)

    delivery_rate = carrier_bars(carriers, "delivery_rate", "carrier_delivery_rate",
                                 _("Доля врученных по перевозчикам"), "%", state="delivered")
    return_rate = carrier_bars(carriers, "return_rate", "carrier_return_rate",
                               _("Доля возвратов по перевозчикам"), "%", state="returned")
    avg_cost = carrier_bars(carriers, "avg_cost", "carrier_avg_cost",
                            _("Средняя стоимость посылки"), " ₽")
    timed = [r for r in carriers if r["with_term"]]
    on_time = carrier_bars(timed, "on_time_rate", "carrier_on_time",
                           _("Доставлено в контрольный срок перевозчика"), "%")
    reasons = selectors.return_reasons(actor=actor, f=f)
    reasons_chart = charts.bars(
        [charts.Mark(r["label"], r["n"], _list_url(f, state="returned")) for r in reasons],
        name="reasons", title=_("Причины возвратов"))
    notified = selectors.notified_effect(actor=actor, f=f)
    # outside the f-strings: xgettext does not see calls inside them
    picked_up, returned = _("выкуп"), _("возвраты")
    notified_chart = charts.bars(
        [charts.Mark(f"{r['label']}: {picked_up}", r["pickup_rate"] or 0,
                     _list_url(f, state="delivered"), r["group"]) for r in notified]
        + [charts.Mark(f"{r['label']}: {returned}", r["return_rate"] or 0,
                       _list_url(f, state="returned"), r["group"]) for r in notified],
        name="notified", title=_("Выкуп с уведомлением и без"), unit="%")
    users = selectors.users_activity(actor=actor, f=f)
    users_chart = charts.bars(
        [charts.Mark(r["user"], r["created"], _list_url(f)) for r in users],
        name="users", title=_("Создано сотрудниками"))
    periods = selectors.by_period(actor=actor, f=f)
    periods_before = selectors.by_period(actor=actor, f=other) if other else []
    periods_chart = charts.bars(
        [charts.Mark(r["week"].strftime("%d.%m.%Y"), r["delivery_rate"] or 0,
                     _list_url(f, state="delivered", created_from=r["week"]), "delivered")
         for r in periods],
        name="periods", title=_("Доля врученных по неделям"), unit="%",
        compared=[charts.Mark(w["week"].strftime("%d.%m.%Y"), w["delivery_rate"] or 0,
                              _list_url(other, state="delivered", created_from=w["week"]),
                              "compared") if w and other else None
                  for w in (periods_before[i] if i < len(periods_before) else None
                            for i in range(len(periods)))] if other else (),
        compared_name=compared_name)
    cod = selectors.cod_by_day(actor=actor, f=f)
    finance_url = reverse("finance:index")
    collected_name, owed_name = _("собрано"), _("долг перевозчиков на конец дня")
    cod_chart = charts.stacked_columns(
        [charts.Mark(col, v, finance_url, collected_name)
         for (col,), v in sorted(_summed(cod, column_of, "collected").items())],
        name="cod", title=_("Наложенный платёж"), columns=columns, series=[collected_name],
        # the debt is a level, not a flow: the period's column shows its last day's
        line=[charts.Mark(column_of(r["day"]), r["owed"], finance_url, "owed")
              for r in {column_of(r["day"]): r for r in cod}.values()],
        line_name=owed_name) if cod else None
    return {
        "volume_chart": volume_chart, "cost_chart": cost_chart,
        "region_volume": region_volume, "region_transit": region_transit,
        "delivery_rate": delivery_rate, "return_rate": return_rate, "avg_cost": avg_cost,
        "on_time_chart": on_time, "on_time": timed, "cod_chart": cod_chart, "cod": cod,
        "cod_totals": {k: sum((r[k] for r in cod), Decimal("0"))
                       for k in ("collected", "paid")} | {
            "owed": cod[-1]["owed"] if cod else Decimal("0")},
        "reasons_chart": reasons_chart, "notified_chart": notified_chart,
        "users_chart": users_chart, "periods_chart": periods_chart,
        "carriers": carriers, "regions": regions, "reasons": reasons, "notified": notified,
        "users": users, "periods": periods, "compared_name": compared_name,
        "transit": selectors.transit_by_route(actor=actor, f=f),
    }


def _deltas(totals: dict[str, Any]) -> dict[str, str]:
    """The change against the compared period as the cards write it («+12,5 %»), none
    where the compared period had nothing to compare with."""
    from shipdesk.core.templatetags.words import number_text

    out = {}
    for name, change in (totals.get("change") or {}).items():
        if change is not None:
            out[name] = ("+" if change > 0 else "") + number_text(change, 1) + " %"
    return out


def _compared_url(f: Filters, other: Filters | None, column: str) -> str:
    """The compared period's parcels of the column that stands for ``column``."""
    if other is None:
        return ""
    shift = f.date_from - other.date_from
    span = _column_range(f, column)
    return _list_url(other, created_from=span["created_from"] - shift,
                     created_to=span["created_to"] - shift)


@actor_required
@require_GET
def dashboard(request: ActorRequest) -> HttpResponse:
    from shipdesk.carriers.selectors import carrier_account_list
    from shipdesk.shipments.selectors import sender_profiles

    actor = request.actor
    f, errors = _filters(request)
    totals = selectors.totals(actor=actor, f=f)
    context: dict[str, Any] = {
               "f": f, "errors": errors, "totals": totals, "deltas": _deltas(totals),
               "query": urlencode(f.params()), "compare_choices": selectors.COMPARE.items(),
               "accounts": carrier_account_list(actor=actor), "regions_all": REGION_NAMES,
               "senders": sender_profiles(actor=actor),
               "tables": [(name, t[1]) for name, t in selectors.TABLES.items()],
               "kinds": selectors.kind_choices(actor=actor, f=f),
               "list_url": _list_url(f), "weekly": reports.weekly_report_settings(actor=actor)}
    context.update(dashboard_charts(actor, f))
    return render(request, "analytics/dashboard.html", context)


@actor_required
@require_POST
def weekly_report(request: ActorRequest) -> HttpResponse:
    """The members chosen (ticked) on the statistics page get the weekly report."""
    service_action(request, lambda: reports.weekly_report_recipients_set(
        actor=request.actor, emails=request.POST.getlist("emails")),
        success=_("Получатели еженедельного отчёта сохранены"))
    return redirect("analytics:dashboard")


@actor_required
@require_GET
def export(request: ActorRequest, name: str, fmt: str) -> HttpResponse:
    if name not in selectors.TABLES or fmt not in ("csv", "xlsx"):
        raise Http404
    # a bad filter: the 422 of the error middleware
    f = selectors.filters_parse(request.GET, actor=request.actor)
    _fn, title, columns = selectors.TABLES[name]
    rows = selectors.table(actor=request.actor, f=f, name=name)
    headers = [str(h) for _k, h in columns]
    shown = [selectors.SHOWN_AS.get(k, k) for k, _h in columns]  # names, not codes
    values = [[r.get(k) for k in shown] for r in rows]
    stem = f"{name}_{f.date_from.isoformat()}_{f.date_to.isoformat()}"
    if fmt == "csv":
        response = HttpResponse(exports.to_csv(headers, values), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            exports.to_xlsx(str(title), headers, values),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return response
