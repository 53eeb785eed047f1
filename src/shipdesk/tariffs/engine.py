"""The table tariff engine: pure Python over a compiled tariff table, no database.

A table (JSON, see ``tariffs/data/*.json``) is compiled once into integer kopecks and
lookup lists; rating a parcel is then a handful of integer operations. Money leaves the
engine as ``Decimal`` rubles rounded to kopecks (half up).

Table format ``shipdesk-tariff/1``::

    carrier, name, effective_from (YYYY-MM-DD), vat_percent, prices_include_vat,
    regions:   [[first3, last3, belt], ...]   3-digit index prefixes -> tariff belt
    zones:     [[zone of belt 1 -> belt 1, 1 -> 2, ...], [2 -> 1, ...], ...]
    services:  {code: {name, categories, max_weight_g, first_step_g, step_g,
                       base: {zone: rubles}, per_step: {zone: rubles}, days: {zone: [min, max]}}}
    declared_value_percent, cod: {percent, min}, options: {key: {name, amount | percent_of_ground}}

Amounts in the table are without VAT unless ``prices_include_vat``. A quote's lines add up
to its total exactly: each line shows its amount as the table states it and, when VAT is
added on top, the VAT of all lines (each rounded half up) is a line of its own («НДС 20 %»);
when the prices include VAT there is no VAT line. ``raw["vat"]`` holds the VAT either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from shipdesk.carriers.base import ChargeLine, ParcelRequest, RateQuote
from shipdesk.carriers.names import mail_category_name, option_name, service_name

FORMAT = "shipdesk-tariff/1"
CATEGORY_ORDINARY = "ORDINARY"
CATEGORY_DECLARED = "WITH_DECLARED_VALUE"
CATEGORY_COD = "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY"
OPTION_KEYS = ("fragile", "careful", "sms_notice", "inventory")


class TariffDataError(ValueError):
    """The table is malformed; the message names the place."""


def _kop(value: Any, where: str) -> int:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TariffDataError(_("%(where)s: «%(value)s» не является суммой") % {
            "where": where, "value": value}) from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise TariffDataError(_("%(where)s: сумма должна быть неотрицательной, с точностью "
                                "до копеек") % {"where": where})
    return int(amount * 100)


def _bp(value: Any, where: str) -> int:
    """Percent -> basis points (hundredths of a percent)."""
    try:
        pct = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise TariffDataError(_("%(where)s: «%(value)s» не является процентом") % {
            "where": where, "value": value}) from None
    bp = pct * 100
    if pct < 0 or bp != bp.to_integral_value():
        raise TariffDataError(_("%(where)s: процент от 0 с точностью до сотых") % {
            "where": where})
    return int(bp)


def _pct_of(amount_kop: int, bp: int) -> int:
    # Half-up rounding to a kopeck, exact in integers (amounts are never negative).
    return (amount_kop * bp + 5000) // 10000


_DEC_CACHE: dict[int, Decimal] = {}


def _rub(kop: int) -> Decimal:
    dec = _DEC_CACHE.get(kop)
    if dec is None:
        dec = Decimal(kop).scaleb(-2)
        if len(_DEC_CACHE) < 200_000:
            _DEC_CACHE[kop] = dec
    return dec


def _money_kop(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class _Service:
    code: str
    name: str
    categories: frozenset[str]
    max_weight_g: int
    first_step_g: int
    step_g: int
    base: tuple[int, ...]  # kopecks by zone (index 0 unused)
    per_step: tuple[int, ...]
    days: tuple[tuple[int, int] | None, ...]


@dataclass(frozen=True)
class _Option:
    key: str
    name: str
    amount: int  # kopecks, fixed
    percent_of_ground_bp: int


class TariffTable:
    """A compiled table. ``rate`` gives a quote or the reason the parcel is not rateable."""

    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise TariffDataError(_("Неизвестный формат таблицы: ожидается «%(format)s»") % {
                "format": FORMAT})
        try:
            self.carrier = str(data["carrier"])
            self.name = str(data.get("name") or self.carrier)
            self.effective_from = date.fromisoformat(str(data["effective_from"]))
        except KeyError as exc:
            raise TariffDataError(_("Нет обязательного поля %(field)s") % {"field": exc}) from None
        except ValueError:
            raise TariffDataError(_("effective_from: дата в виде ГГГГ-ММ-ДД")) from None
        self.version = f"{self.carrier}@{self.effective_from.isoformat()}"
        self.vat_bp = _bp(data.get("vat_percent", "20"), "vat_percent")
        self.prices_include_vat = bool(data.get("prices_include_vat", False))
        self.belt_of = [0] * 1000
        for n, row in enumerate(data.get("regions") or []):
            try:
                first, last, belt = int(row[0]), int(row[1]), int(row[2])
            except (TypeError, ValueError, IndexError):
                raise TariffDataError(_("regions[%(n)d]: ожидается [первые3, последние3, пояс]")
                                      % {"n": n}) from None
            if not (0 <= first <= last <= 999) or belt <= 0:
                raise TariffDataError(_("regions[%(n)d]: неверный диапазон или пояс") % {"n": n})
            for prefix in range(first, last + 1):
                self.belt_of[prefix] = belt
        zones = data.get("zones") or []
        if not zones:
            raise TariffDataError(_("zones: нужна матрица зон"))
        self.zone_of = [[0] * (len(zones) + 1)] + [
            [0, *[int(z) for z in row]] for row in zones]
        belts = len(zones)
        if any(len(row) != belts + 1 for row in self.zone_of):
            raise TariffDataError(_("zones: матрица должна быть квадратной"))
        if max(self.belt_of) > belts:
            raise TariffDataError(_("regions: пояс больше размера матрицы зон"))
        nzones = max(max(row) for row in self.zone_of)
        services = data.get("services") or {}
        if not services:
            raise TariffDataError(_("services: нет ни одного вида отправления"))
        self.services: dict[str, _Service] = {}
        for code, raw in services.items():
            where = f"services.{code}"
            try:
                base = [0] * (nzones + 1)
                per_step = [0] * (nzones + 1)
                days: list[tuple[int, int] | None] = [None] * (nzones + 1)
                for zone in range(1, nzones + 1):
                    base[zone] = _kop(raw["base"][str(zone)], f"{where}.base.{zone}")
                    per_step[zone] = _kop(raw["per_step"][str(zone)], f"{where}.per_step.{zone}")
                    d = (raw.get("days") or {}).get(str(zone))
                    days[zone] = (int(d[0]), int(d[1])) if d else None
                service = _Service(
                    code=str(code), name=str(raw["name"]),
                    categories=frozenset(raw.get("categories") or [CATEGORY_ORDINARY]),
                    max_weight_g=int(raw["max_weight_g"]), first_step_g=int(raw["first_step_g"]),
                    step_g=int(raw["step_g"]), base=tuple(base), per_step=tuple(per_step),
                    days=tuple(days))
            except KeyError as exc:
                raise TariffDataError(_("%(where)s: нет поля %(field)s") % {
                    "where": where, "field": exc}) from None
            except (TypeError, ValueError) as exc:
                if isinstance(exc, TariffDataError):
                    raise
                raise TariffDataError(_("%(where)s: неверное значение") % {"where": where}) from None
            if service.step_g <= 0 or service.max_weight_g <= 0 or service.first_step_g < 0:
                raise TariffDataError(_("%(where)s: шаг и предельный вес должны быть больше нуля")
                                      % {"where": where})
            self.services[service.code] = service
        self.declared_bp = _bp(data.get("declared_value_percent", "0"), "declared_value_percent")
        cod = data.get("cod") or {}
        self.cod_bp = _bp(cod.get("percent", "0"), "cod.percent")
        self.cod_min = _kop(cod.get("min", "0"), "cod.min")
        self.options: dict[str, _Option] = {}
        for key, raw in (data.get("options") or {}).items():
            self.options[key] = _Option(
                key=key, name=str(raw.get("name") or key),
                amount=_kop(raw.get("amount", "0"), f"options.{key}.amount"),
                percent_of_ground_bp=_bp(raw.get("percent_of_ground", "0"),
                                         f"options.{key}.percent_of_ground"))
        self._labels: dict[str | None, tuple[str, str, str, str]] = {}
        self._lines: dict[tuple[str, int], tuple[ChargeLine, int, int]] = {}
        self._vat_lines: dict[tuple[str, int], ChargeLine] = {}

    def labels(self) -> tuple[str, str, str, str]:
        """The fixed line names in the active language, looked up once per language."""
        language = get_language()
        labels = self._labels.get(language)
        if labels is None:
            rate = f"{Decimal(self.vat_bp).scaleb(-2).normalize():f}"
            labels = (_("Пересылка"), _("Объявленная ценность"), _("Наложенный платёж"),
                      _("НДС %(rate)s %%") % {"rate": rate})
            self._labels[language] = labels
        return labels

    def _line(self, name: str, net: int) -> tuple[ChargeLine, int, int]:
        """The line for an amount as the table states it: ``(line as shown, gross kopecks,
        VAT kopecks)``; shown as stated (VAT on top goes to the VAT line). Lines are
        immutable and repeat a lot (same zone, step, option), so they are made once and
        shared."""
        key = (name, net)
        found = self._lines.get(key)
        if found is None:
            vat_bp = self.vat_bp
            if self.prices_include_vat:
                gross = net
                vat = (net * vat_bp * 2 + 10000 + vat_bp) // (2 * (10000 + vat_bp))
            else:
                vat = (net * vat_bp + 5000) // 10000
                gross = net + vat
            found = (ChargeLine(name, _rub(net)), gross, vat)
            if len(self._lines) < 500_000:
                self._lines[key] = found
        return found

    def _vat_line(self, name: str, vat: int) -> ChargeLine:
        """The VAT line of a quote whose prices exclude VAT (shared like the other lines)."""
        key = (name, vat)
        found = self._vat_lines.get(key)
        if found is None:
            found = ChargeLine(name, _rub(vat))
            if len(self._vat_lines) < 100_000:
                self._vat_lines[key] = found
        return found

    # --- rating -------------------------------------------------------------------------
    def zone(self, from_index: str, to_index: str) -> int:
        if len(from_index) != 6 or len(to_index) != 6 or not (
                from_index.isdigit() and to_index.isdigit()):
            return 0
        belt_from = self.belt_of[int(from_index[:3])]
        belt_to = self.belt_of[int(to_index[:3])]
        if not belt_from or not belt_to:
            return 0
        return self.zone_of[belt_from][belt_to]

    def rate(self, parcel: ParcelRequest, service_code: str | None = None) -> RateQuote | str:
        """A quote for the parcel with its service (or ``service_code``), or the reason in
        Russian why it cannot be rated by this table."""
        code = service_code or parcel.service_code
        service = self.services.get(code)
        if service is None:
            return _("Вид отправления «%(code)s» не тарифицируется таблицей %(table)s") % {
                "code": service_name(code, carrier_code=self.carrier),
                "table": f"«{self.name}» ({formats.date_format(self.effective_from)})"}
        zone = self.zone(parcel.sender.address.index, parcel.recipient.address.index)
        if not zone:
            return _("Индекс отправителя или получателя не найден в таблице зон")
        return self._rate(service, zone, parcel, self.labels())

    def rate_many(self, parcels: list[ParcelRequest]) -> list[RateQuote | None]:
        """Quotes for many parcels, each with its own service; ``None`` where not rateable."""
        labels = self.labels()
        services = self.services
        belt_of, zone_of = self.belt_of, self.zone_of
        rate = self._rate
        out: list[RateQuote | None] = []
        append = out.append
        for parcel in parcels:
            service = services.get(parcel.service_code)
            frm, to = parcel.sender.address.index, parcel.recipient.address.index
            if service is None or len(frm) != 6 or len(to) != 6 or not (
                    frm.isdigit() and to.isdigit()):
                append(None)
                continue
            zone = zone_of[belt_of[int(frm[:3])]][belt_of[int(to[:3])]]
            if not zone:
                append(None)
                continue
            quote = rate(service, zone, parcel, labels)
            append(None if quote.__class__ is str else quote)  # type: ignore[arg-type]
        return out

    def rate_all(self, parcel: ParcelRequest) -> list[RateQuote]:
        """Every service of the table that can take the parcel."""
        zone = self.zone(parcel.sender.address.index, parcel.recipient.address.index)
        if not zone:
            return []
        out = []
        labels = self.labels()
        for service in self.services.values():
            quote = self._rate(service, zone, parcel, labels)
            if isinstance(quote, RateQuote):
                out.append(quote)
        return out

    def _rate(self, service: _Service, zone: int, parcel: ParcelRequest,
              labels: tuple[str, str, str, str]) -> RateQuote | str:
        weight = parcel.weight_g
        if weight <= 0:
            return _("Вес должен быть больше нуля")
        if weight > service.max_weight_g:
            return _("Вес %(weight)d г больше предельного для «%(name)s» (%(max)d г)") % {
                "weight": weight, "name": service.name, "max": service.max_weight_g}
        options = parcel.options
        declared = _money_kop(parcel.declared_value) if parcel.declared_value else 0
        cod = _money_kop(parcel.cod_amount) if parcel.cod_amount else 0
        category = (options.get("mail_category") if options else None) or (
            CATEGORY_COD if cod else CATEGORY_DECLARED if declared else CATEGORY_ORDINARY)
        if category not in service.categories:
            return _("Категория «%(category)s» недоступна для «%(name)s»") % {
                "category": mail_category_name(category), "name": service.name}
        steps = 0
        if weight > service.first_step_g:
            steps = -(-(weight - service.first_step_g) // service.step_g)
        ground = service.base[zone] + steps * service.per_step[zone]
        line = self._line
        first, total, vat = line(labels[0], ground)
        lines = [first]
        if declared and self.declared_bp:
            fee = (declared * self.declared_bp + 5000) // 10000
            if fee:  # a fee that rounds to nothing is no line
                item, gross, tax = line(labels[1], fee)
                lines.append(item)
                total += gross
                vat += tax
        if cod and (self.cod_bp or self.cod_min):
            fee = max((cod * self.cod_bp + 5000) // 10000, self.cod_min)
            if fee:
                item, gross, tax = line(labels[2], fee)
                lines.append(item)
                total += gross
                vat += tax
        if options:
            for key in OPTION_KEYS:
                if options.get(key):
                    option = self.options.get(key)
                    if option is None:
                        return _("Услуга «%(key)s» не оказывается для «%(name)s»") % {
                            "key": option_name(key), "name": service.name}
                    fee = option.amount + _pct_of(ground, option.percent_of_ground_bp)
                    if fee:
                        item, gross, tax = line(option.name, fee)
                        lines.append(item)
                        total += gross
                        vat += tax
        if vat and not self.prices_include_vat:
            vat_line = self._vat_lines.get((labels[3], vat))
            lines.append(vat_line if vat_line is not None else self._vat_line(labels[3], vat))
        days = service.days[zone]
        return RateQuote(
            service_code=service.code, service_name=service.name, total=_rub(total),
            lines=tuple(lines),
            days_min=days[0] if days else None, days_max=days[1] if days else None,
            raw={"table": self.version, "zone": zone, "category": category,
                 "vat": _rub(vat), "weight_steps": steps})
