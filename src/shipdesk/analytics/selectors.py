"""The statistics' figures (read side): every figure is summed from the rollups, for a
date range (the shipments' creation days, in the organization's zone) and filters; the
same functions serve the pages, the exports, the API and the weekly report.

Each query reads the coarsest grain that answers it (``_spans``): the region-less day
rows unless a region is filtered or grouped by; a region filter reads that region's day
rows through its index; the figures by region and by route read the month rows for the
whole months of the period and the day rows only for the days at its ends."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shipdesk.analytics.models import (
    Grain,
    ReturnReasonRollup,
    ShipmentRollup,
    TransitRollup,
    UserRollup,
)
from shipdesk.carriers import names as carrier_names
from shipdesk.core.errors import FieldError, ValidationFailed
from shipdesk.shipments.regions import REGION_NAMES
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor

MAX_DAYS = 3 * 366  # one range: three years of days at most
COMPARE = {"": gettext_lazy("без сравнения"), "previous": gettext_lazy("с прошлым периодом"),
           "year": gettext_lazy("с тем же периодом год назад")}
REASON_LABELS = {
    "storage_expired": gettext_lazy("Истёк срок хранения"),
    "refused": gettext_lazy("Отказ получателя"),
    "arrived_at_pickup": gettext_lazy("Не забрали из пункта выдачи"),
    "delivery_failed": gettext_lazy("Не удалось вручить"),
    "damaged": gettext_lazy("Повреждено"),
    "in_transit": gettext_lazy("Вернули в пути"),
    "unknown": gettext_lazy("Причина не указана"),
    "returned_to_sender": gettext_lazy("Возвращено отправителю, причина не указана"),
    "partial": gettext_lazy("Выкуплено частично"),
}


def reason_label(reason: str) -> str:
    """A return reason in words, never its code: a sub-status we know, else the status
    the parcel went back from."""
    from shipdesk.tracking.statuses import status_label

    known = REASON_LABELS.get(reason)
    if known is not None:
        return str(known)
    status = status_label(reason)
    if status:
        return _("Вернули после статуса «%(status)s»") % {"status": status}
    return str(REASON_LABELS["unknown"])


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    account: int | None = None
    carrier: str = ""
    region: str = ""
    sender: int | None = None
    kind: str = ""
    compare: str = ""

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def compared(self) -> Filters | None:
        """The range this one is compared with, or None."""
        if self.compare == "previous":
            return replace(self, date_from=self.date_from - timedelta(days=self.days),
                           date_to=self.date_from - timedelta(days=1), compare="")
        if self.compare == "year":
            return replace(self, date_from=_year_before(self.date_from),
                           date_to=_year_before(self.date_to), compare="")
        return None

    def query(self, **extra: Any) -> dict[str, str]:
        """The shipments list's filters for the same parcels."""
        q = {"created_from": self.date_from.isoformat(), "created_to": self.date_to.isoformat(),
             "account": str(self.account or ""), "carrier": self.carrier,
             "region": self.region, "sender": str(self.sender or ""), "kind": self.kind}
        q.update({k: str(v) for k, v in extra.items()})
        return {k: v for k, v in q.items() if v}

    def params(self) -> dict[str, str]:
        """These filters as the statistics pages' query string."""
        q = self.query()
        q = {("date_from" if k == "created_from" else "date_to" if k == "created_to" else k): v
             for k, v in q.items()}
        if self.compare:
            q["compare"] = self.compare
        return q


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def local_today(actor: Actor | None) -> date:
    """Today in the organization's zone (Moscow without one)."""
    from shipdesk.tenancy.models import zone_named

    zone = actor.organization.zone if actor is not None else zone_named("Europe/Moscow")
    return timezone.now().astimezone(zone).date()


def filters_parse(params: Mapping[str, Any], *, today: date | None = None,
                  actor: Actor | None = None) -> Filters:
    """The filters from a query string; an error names each bad field (in Russian). The
    default period ends today in the organization's zone."""
    today = today or local_today(actor)
    errors: list[FieldError] = []

    def day(name: str, default: date) -> date:
        text = str(params.get(name) or "").strip()
        if not text:
            return default
        try:
            return date.fromisoformat(text)
        except ValueError:
            errors.append(FieldError((name,), _("Дата: ГГГГ-ММ-ДД")))
            return default

    def number(name: str) -> int | None:
        text = str(params.get(name) or "").strip()
        if not text:
            return None
        if not text.isdigit():
            errors.append(FieldError((name,), _("Нужен номер")))
            return None
        return int(text)

    date_to = day("date_to", today)
    date_from = day("date_from", date_to - timedelta(days=29))
    if date_from > date_to:
        errors.append(FieldError(("date_from",), _("Начало периода позже его конца")))
    elif (date_to - date_from).days >= MAX_DAYS:
        errors.append(FieldError(("date_from",), _("Период не длиннее трёх лет")))
    region = str(params.get("region") or "").strip()
    if region and region not in REGION_NAMES:
        errors.append(FieldError(("region",), _("Нет такого региона")))
    compare = str(params.get("compare") or "").strip()
    if compare not in COMPARE:
        errors.append(FieldError(("compare",), _(
            "Сравнение: без него, с прошлым периодом или с тем же периодом год назад")))
    account, sender = number("account"), number("sender")
    if errors:
        raise ValidationFailed(_("Фильтры статистики не прошли проверку"), errors=errors)
    return Filters(date_from=date_from, date_to=date_to, account=account,
                   carrier=str(params.get("carrier") or "").strip()[:32], region=region,
                   sender=sender, kind=str(params.get("kind") or "").strip()[:64],
                   compare=compare)


def _month_after(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _spans(f: Filters, *, by_region: bool) -> list[tuple[int, date, date]]:
    """The (grain, first day, last day) pieces that cover the period: see the module."""
    if f.region:
        return [(Grain.DAY, f.date_from, f.date_to)]
    if not by_region:
        return [(Grain.DAY_NO_REGION, f.date_from, f.date_to)]
    first = f.date_from if f.date_from.day == 1 else _month_after(f.date_from)
    end = _month_after(f.date_to) if _month_after(f.date_to) - timedelta(days=1) == f.date_to \
        else f.date_to.replace(day=1)  # the day after the last whole month
    if first >= end:
        return [(Grain.DAY, f.date_from, f.date_to)]
    spans = [(int(Grain.MONTH), first, end - timedelta(days=1))]
    if f.date_from < first:
        spans.append((Grain.DAY, f.date_from, first - timedelta(days=1)))
    if end <= f.date_to:
        spans.append((Grain.DAY, end, f.date_to))
    return spans


def _scoped(model: Any, actor: Actor, f: Filters, *, by_region: bool = False
            ) -> QuerySet[Any]:
    actor.require(Perm.VIEW)
    within = Q()
    transit = model is TransitRollup
    # the routes' histograms per carrier only, when no filter needs the folded dimensions
    per_carrier = transit and f.account is None and f.sender is None and not f.kind
    for grain, first, last in _spans(f, by_region=by_region or transit):
        if per_carrier:
            grain = Grain.MONTH_CARRIER if grain == Grain.MONTH else Grain.DAY_CARRIER
        within |= Q(grain=grain, day__gte=first, day__lte=last)
    qs = model.objects.filter(within, organization_id=actor.organization.pk)
    if f.account is not None:
        qs = qs.filter(carrier_account_id=f.account)
    if f.carrier:
        qs = qs.filter(carrier_code=f.carrier)
    if f.region:
        qs = qs.filter(region=f.region)
    if f.sender is not None:
        qs = qs.filter(sender_id=f.sender)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    return qs


_SUMS = ("created", "cost_count", "cost_sum", "handed_over", "delivered", "returned", "lost",
         "delivered_notified", "returned_notified", "with_term", "late")


def _share(part: int, whole: int) -> Decimal | None:
    """A percentage with one decimal, or None of nothing."""
    if not whole:
        return None
    return (Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.1"))


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    for name in _SUMS:
        row[name] = row.get(name) or (Decimal("0") if name == "cost_sum" else 0)
    row["cost_sum"] = Decimal(row["cost_sum"]).quantize(Decimal("0.01"))
    row["avg_cost"] = ((row["cost_sum"] / row["cost_count"]).quantize(Decimal("0.01"))
                       if row["cost_count"] else None)
    row["delivery_rate"] = _share(row["delivered"], row["created"])
    row["return_rate"] = _share(row["returned"], row["created"])
    row["on_time_rate"] = _share(row["with_term"] - row["late"], row["with_term"])
    return row


def totals(*, actor: Actor, f: Filters) -> dict[str, Any]:
    """The period's counts and sums, and the compared period's with the change."""
    row = _with_rates(_scoped(ShipmentRollup, actor, f).aggregate(
        **{n: Sum(n) for n in _SUMS}))
    other = f.compared()
    if other is not None:
        before = _with_rates(_scoped(ShipmentRollup, actor, other).aggregate(
            **{n: Sum(n) for n in _SUMS}))
        row["compared"] = before
        row["change"] = {n: _share(row[n] - before[n], before[n]) if before[n] else None
                         for n in ("created", "delivered", "returned", "cost_sum")}
    return row


def kind_name(kind: str, carrier_code: str = "") -> str:
    """What people call a kind: the mail type's or tariff's name (kinds are stored in
    capitals, the sandbox's tariffs are not), a category's name, never the code."""
    if not kind:
        return _("не указан")
    if kind in carrier_names.MAIL_CATEGORIES:
        return carrier_names.mail_category_name(kind)
    services = carrier_names.SERVICES.get(carrier_code, {})
    code = kind.lower() if kind not in services and kind.lower() in services else kind
    return carrier_names.service_name(code, carrier_code=carrier_code)


def kind_choices(*, actor: Actor, f: Filters) -> list[tuple[str, str]]:
    """The kinds of the organization's parcels, named, for the filter."""
    pairs = (ShipmentRollup.objects.filter(organization_id=actor.organization.pk,
                                           grain=Grain.DAY_NO_REGION)
             .values_list("kind", "carrier_code").distinct())
    named = {kind: kind_name(kind, carrier) for kind, carrier in pairs if kind}
    return sorted(named.items(), key=lambda item: item[1])


def volume_by_day(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """Shipments created per day and kind, with their delivery costs; ``kind_name`` is
    what the page and the exports show."""
    scoped = _scoped(ShipmentRollup, actor, f)
    carrier_of = dict(scoped.values_list("kind", "carrier_code").distinct())
    rows = (scoped.values("day", "kind")
            .annotate(created=Sum("created"), cost_sum=Sum("cost_sum"),
                      cost_count=Sum("cost_count")).order_by("day", "kind"))
    names = {kind: kind_name(kind, carrier) for kind, carrier in carrier_of.items()}
    return [_with_rates({**r, "kind_name": names.get(r["kind"]) or kind_name(r["kind"])})
            for r in rows]


def volume_compared(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """The compared period's shipments and costs per day, each placed on the day of this
    period it is compared with (the n-th day against the n-th day): the chart's second
    series. Empty without a comparison."""
    other = f.compared()
    if other is None:
        return []
    shift = f.date_from - other.date_from
    rows = (_scoped(ShipmentRollup, actor, other).values("day")
            .annotate(created=Sum("created"), cost_sum=Sum("cost_sum"),
                      cost_count=Sum("cost_count")).order_by("day"))
    return [_with_rates({**r, "compared_day": r["day"], "day": r["day"] + shift})
            for r in rows if r["day"] + shift <= f.date_to]


def by_period(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """Delivery and return rates per week (Monday) of the range."""
    weeks: dict[date, dict[str, Any]] = {}
    for r in (_scoped(ShipmentRollup, actor, f).values("day")
              .annotate(**{n: Sum(n) for n in _SUMS}).order_by("day")):
        start = max(r["day"] - timedelta(days=r["day"].weekday()), f.date_from)
        week = weeks.setdefault(start, {"week": start, **{n: 0 for n in _SUMS}})
        for n in _SUMS:
            week[n] += r[n] or 0
    return [_with_rates(w) for w in weeks.values()]


def on_time_by_carrier(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """Per carrier account, the share of parcels that reached the pickup point or the
    recipient within the carrier's control term (of those whose term was known)."""
    return [r for r in by_carrier(actor=actor, f=f) if r["with_term"]]


def by_carrier(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    from shipdesk.carriers.selectors import carrier_account_list

    names = dict(carrier_account_list(actor=actor).values_list("pk", "name"))
    rows = (_scoped(ShipmentRollup, actor, f).values("carrier_account_id", "carrier_code")
            .annotate(**{n: Sum(n) for n in _SUMS}).order_by("carrier_code",
                                                             "carrier_account_id"))
    out = []
    for r in rows:
        row = _with_rates(dict(r))
        row["carrier"] = carrier_names.carrier_name(r["carrier_code"]) or _("не выбран")
        row["name"] = names.get(r["carrier_account_id"]) or row["carrier"]
        out.append(row)
    return out


def by_region(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """Per destination region: counts, rates and the median transit time."""
    rows = {r["region"]: _with_rates(dict(r)) for r in (
        _scoped(ShipmentRollup, actor, f, by_region=True).values("region")
        .annotate(**{n: Sum(n) for n in _SUMS}).order_by("region"))}
    hist: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in (_scoped(TransitRollup, actor, f).values("region", "days")
              .annotate(n=Sum("n")).order_by()):
        hist[r["region"]][r["days"]] += r["n"]
    for region, row in rows.items():
        row["transit_median"] = percentile(hist.get(region, {}), 50)
    return sorted(rows.values(), key=lambda r: (-r["created"], r["region"]))


def percentile(histogram: Mapping[int, int], p: float) -> int | None:
    """The p-th percentile (nearest rank) of whole days from a histogram day -> count."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, -(-total * p // 100))  # ceil
    seen = 0
    for days in sorted(histogram):
        seen += histogram[days]
        if seen >= rank:
            return days
    return max(histogram)


def transit_by_route(*, actor: Actor, f: Filters, limit: int = 50) -> list[dict[str, Any]]:
    """Transit time percentiles (days, acceptance to arrival) per carrier and route (from
    the region it was accepted in to the recipient's), and how many arrived within the
    carrier's control term; the busiest routes first."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in (_scoped(TransitRollup, actor, f)
              .values("carrier_code", "route", "region", "days")
              .annotate(n=Sum("n"), with_term=Sum("with_term"), late=Sum("late")).order_by()):
        g = groups.setdefault((r["carrier_code"], r["route"], r["region"]), {
            "carrier_code": r["carrier_code"], "origin": r["route"], "region": r["region"],
            "route": f"{r['route'] or '?'} → {r['region'] or '?'}",
            "carrier": carrier_names.carrier_name(r["carrier_code"]), "hist": defaultdict(int),
            "n": 0, "with_term": 0, "late": 0})
        g["hist"][r["days"]] += r["n"]
        for k in ("n", "with_term", "late"):
            g[k] += r[k]
    out = []
    for g in sorted(groups.values(), key=lambda g: (-g["n"], g["carrier_code"], g["route"])
                    )[:limit]:
        hist = g.pop("hist")
        g.update(p50=percentile(hist, 50), p90=percentile(hist, 90),
                 p95=percentile(hist, 95),
                 on_time_rate=_share(g["with_term"] - g["late"], g["with_term"]))
        out.append(g)
    return out


def return_reasons(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    rows = (_scoped(ReturnReasonRollup, actor, f).values("reason").annotate(n=Sum("n"))
            .order_by("-n", "reason"))
    return [{"reason": r["reason"], "label": reason_label(r["reason"]),
             "n": r["n"]} for r in rows if r["n"]]


def notified_effect(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """Pickup and return rates of parcels whose recipients were told they wait (SMS /
    e-mail sent) against those who were not: the measured effect of the reminders."""
    t = _scoped(ShipmentRollup, actor, f).aggregate(
        **{n: Sum(n) for n in ("delivered", "returned", "delivered_notified",
                               "returned_notified")})
    d, r = t["delivered"] or 0, t["returned"] or 0
    dn, rn = t["delivered_notified"] or 0, t["returned_notified"] or 0
    out = []
    for group, label, delivered, returned in (
            ("notified", _("Получатель уведомлён"), dn, rn),
            ("not_notified", _("Без уведомления"), d - dn, r - rn)):
        out.append({"group": group, "label": label, "delivered": delivered,
                    "returned": returned, "pickup_rate": _share(delivered, delivered + returned),
                    "return_rate": _share(returned, delivered + returned)})
    return out


def users_activity(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """Shipments each member created in the range (API keys and imports by the system:
    user 0). Filters other than the dates do not apply."""
    from django.contrib.auth import get_user_model

    actor.require(Perm.VIEW)
    rows = list(UserRollup.objects.filter(
        organization_id=actor.organization.pk, day__gte=f.date_from, day__lte=f.date_to)
        .values("user_id").annotate(created=Sum("created")).order_by("-created", "user_id"))
    emails = dict(get_user_model().objects.filter(pk__in=[r["user_id"] for r in rows])
                  .values_list("pk", "email"))
    return [{"user_id": r["user_id"], "user": emails.get(r["user_id"]) or _("API и система"),
             "created": r["created"]} for r in rows]


def _cod_cash_by_day(*, organization_id: int, start: date, end: date
                     ) -> list[tuple[str, date, Any, Any]]:
    """Finance's daily cash rollup (carrier, day, collected, paid), read only: finance's
    selectors offer it only as the forecast's private last-year history."""
    from shipdesk.finance.models import CashDaily

    return list(CashDaily.objects.filter(organization_id=organization_id, day__gte=start,
                                         day__lte=end)
                .values_list("carrier_code", "day", "collected", "paid").order_by("day"))


def cod_by_day(*, actor: Actor, f: Filters) -> list[dict[str, Any]]:
    """Cash on delivery per day: collected by the carriers, paid out to us, and what they
    owed at the day's end (finance's daily rollups; only the carrier filter applies, as
    money is kept per carrier)."""
    from shipdesk.finance.selectors import debt_history

    actor.require(Perm.VIEW)
    days: dict[date, dict[str, Any]] = {}

    def day_row(day: date) -> dict[str, Any]:
        return days.setdefault(day, {"day": day, "collected": Decimal("0"),
                                     "paid": Decimal("0"), "owed": Decimal("0")})

    for carrier, day, collected, paid in _cod_cash_by_day(
            organization_id=actor.organization.pk, start=f.date_from, end=f.date_to):
        if f.carrier and carrier != f.carrier:
            continue
        row = day_row(day)
        row["collected"] += Decimal(collected or 0)
        row["paid"] += Decimal(paid or 0)
    for snap in debt_history(organization_id=actor.organization.pk, days=f.days,
                             today=f.date_to):
        if f.carrier and snap.carrier_code != f.carrier:
            continue
        day_row(snap.day)["owed"] += (snap.age_0_7 + snap.age_8_14 + snap.age_15_30
                                      + snap.age_over_30)
    out = [days[d] for d in sorted(days)]
    for r in out:
        for k in ("collected", "paid", "owed"):
            r[k] = Decimal(r[k]).quantize(Decimal("0.01"))
    return out


# The columns a person reads as names, not the codes the API gives (pages and exports).
SHOWN_AS = {"kind": "kind_name", "carrier_code": "carrier"}

# every table of the statistics: (name, title, columns (key, header)) — pages, exports, API
TABLES: dict[str, tuple[Any, Any, tuple[tuple[str, Any], ...]]] = {
    "volume": (volume_by_day, gettext_lazy("Отправления по дням и видам"), (
        ("day", gettext_lazy("День")), ("kind", gettext_lazy("Вид")),
        ("created", gettext_lazy("Создано")), ("cost_sum", gettext_lazy("Стоимость, ₽")),
        ("avg_cost", gettext_lazy("Средняя стоимость, ₽")))),
    "periods": (by_period, gettext_lazy("Доставка и возвраты по неделям"), (
        ("week", gettext_lazy("Неделя с")), ("created", gettext_lazy("Создано")),
        ("delivered", gettext_lazy("Вручено")), ("returned", gettext_lazy("Возвращено")),
        ("delivery_rate", gettext_lazy("Вручено, %")),
        ("return_rate", gettext_lazy("Возвращено, %")))),
    "carriers": (by_carrier, gettext_lazy("По перевозчикам"), (
        ("name", gettext_lazy("Договор")), ("carrier_code", gettext_lazy("Перевозчик")),
        ("created", gettext_lazy("Создано")), ("handed_over", gettext_lazy("Передано")),
        ("delivered", gettext_lazy("Вручено")), ("returned", gettext_lazy("Возвращено")),
        ("delivery_rate", gettext_lazy("Вручено, %")),
        ("return_rate", gettext_lazy("Возвращено, %")),
        ("cost_sum", gettext_lazy("Стоимость, ₽")),
        ("avg_cost", gettext_lazy("Средняя стоимость, ₽")),
        ("on_time_rate", gettext_lazy("В контрольный срок, %")))),
    "cod": (cod_by_day, gettext_lazy("Наложенный платёж по дням"), (
        ("day", gettext_lazy("День")), ("collected", gettext_lazy("Собрано, ₽")),
        ("paid", gettext_lazy("Перечислено, ₽")),
        ("owed", gettext_lazy("Долг на конец дня, ₽")))),
    "regions": (by_region, gettext_lazy("По регионам"), (
        ("region", gettext_lazy("Регион")), ("created", gettext_lazy("Создано")),
        ("delivered", gettext_lazy("Вручено")), ("returned", gettext_lazy("Возвращено")),
        ("delivery_rate", gettext_lazy("Вручено, %")),
        ("transit_median", gettext_lazy("Срок в пути (медиана), дн.")))),
    "transit": (transit_by_route, gettext_lazy("Сроки доставки по маршрутам"), (
        ("carrier_code", gettext_lazy("Перевозчик")), ("route", gettext_lazy("Маршрут")),
        ("n", gettext_lazy("Посылок")), ("p50", gettext_lazy("50%, дн.")),
        ("p90", gettext_lazy("90%, дн.")), ("p95", gettext_lazy("95%, дн.")),
        ("on_time_rate", gettext_lazy("В контрольный срок, %")))),
    "reasons": (return_reasons, gettext_lazy("Причины возвратов"), (
        ("label", gettext_lazy("Причина")), ("n", gettext_lazy("Возвратов")))),
    "notified": (notified_effect, gettext_lazy("Уведомления и выкуп"), (
        ("label", gettext_lazy("Группа")), ("delivered", gettext_lazy("Вручено")),
        ("returned", gettext_lazy("Возвращено")), ("pickup_rate", gettext_lazy("Выкуп, %")),
        ("return_rate", gettext_lazy("Возвраты, %")))),
    "users": (users_activity, gettext_lazy("Активность сотрудников"), (
        ("user", gettext_lazy("Сотрудник")), ("created", gettext_lazy("Создал отправлений")))),
}


def table(*, actor: Actor, f: Filters, name: str) -> list[dict[str, Any]]:
    return list(TABLES[name][0](actor=actor, f=f))
