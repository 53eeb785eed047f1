"""Statistics pages: the dashboard with its charts, each table's export. Thin: the figures
come from selectors, the pictures from charts."""

from __future__ import annotations

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
        return selectors.filters_parse(request.GET), []
    except ValidationFailed as exc:
        return selectors.filters_parse({}), [
            f"{FILTER_NAMES.get(str(e.loc[-1]), e.loc[-1])}: {e.message}" for e in exc.errors]


def dashboard_charts(actor: Any, f: Filters) -> dict[str, Any]:
    """Every chart of the dashboard with the figures behind it."""
    volume = selectors.volume_by_day(actor=actor, f=f)
    days = [(f.date_from.toordinal() + i) for i in range(f.days)]
    from datetime import date

    columns = [date.fromordinal(d).isoformat() for d in days]
    kinds = sorted({r["kind_name"] for r in volume})
    volume_chart = charts.stacked_columns(
        [charts.Mark(r["day"].isoformat(), r["created"], _list_url(
            f, created_from=r["day"], created_to=r["day"], kind=r["kind"] or ""), r["kind_name"])
         for r in volume],
        name="volume", title=_("Отправления по дням"), columns=columns, series=kinds)
    cost_by_day: dict[str, Any] = {}
    for r in volume:
        day = r["day"].isoformat()
        cost_by_day[day] = cost_by_day.get(day, 0) + r["cost_sum"]
    cost_chart = charts.stacked_columns(
        [charts.Mark(d, v, _list_url(f, created_from=d, created_to=d), _("стоимость, ₽"))
         for d, v in sorted(cost_by_day.items())],
        name="cost", title=_("Стоимость доставки по дням"), columns=columns,
        series=[_("стоимость, ₽")])
    carriers = selectors.by_carrier(actor=actor, f=f)
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

    def carrier_url(r: dict[str, Any], **extra: Any) -> str:
        if r["carrier_account_id"]:
            return _list_url(f, account=r["carrier_account_id"], **extra)
        return _list_url(f, carrier=r["carrier_code"], **extra)

    delivery_rate = charts.bars(
        [charts.Mark(r["name"], r["delivery_rate"] or 0, carrier_url(r, state="delivered"),
                     "delivered") for r in carriers],
        name="carrier_delivery_rate", title=_("Доля врученных по перевозчикам"), unit="%")
    return_rate = charts.bars(
        [charts.Mark(r["name"], r["return_rate"] or 0, carrier_url(r, state="returned"),
                     "returned") for r in carriers],
        name="carrier_return_rate", title=_("Доля возвратов по перевозчикам"), unit="%")
    avg_cost = charts.bars(
        [charts.Mark(r["name"], r["avg_cost"] or 0, carrier_url(r)) for r in carriers],
        name="carrier_avg_cost", title=_("Средняя стоимость посылки"), unit=" ₽")
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
    periods_chart = charts.bars(
        [charts.Mark(r["week"].strftime("%d.%m.%Y"), r["delivery_rate"] or 0,
                     _list_url(f, state="delivered", created_from=r["week"]), "delivered")
         for r in periods],
        name="periods", title=_("Доля врученных по неделям"), unit="%")
    return {
        "volume_chart": volume_chart, "cost_chart": cost_chart,
        "region_volume": region_volume, "region_transit": region_transit,
        "delivery_rate": delivery_rate, "return_rate": return_rate, "avg_cost": avg_cost,
        "reasons_chart": reasons_chart, "notified_chart": notified_chart,
        "users_chart": users_chart, "periods_chart": periods_chart,
        "carriers": carriers, "regions": regions, "reasons": reasons, "notified": notified,
        "users": users, "periods": periods,
        "transit": selectors.transit_by_route(actor=actor, f=f),
    }


@actor_required
@require_GET
def dashboard(request: ActorRequest) -> HttpResponse:
    from shipdesk.carriers.selectors import carrier_account_list
    from shipdesk.shipments.selectors import sender_profiles

    actor = request.actor
    f, errors = _filters(request)
    context = {"f": f, "errors": errors, "totals": selectors.totals(actor=actor, f=f),
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
    f = selectors.filters_parse(request.GET)  # a bad filter: the 422 of the error middleware
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
