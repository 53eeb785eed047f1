"""Tariffs: the table engine for bulk rating, and rate shopping across an organization's
carrier accounts (the carrier's own rating API where it has one, the table otherwise)."""

from __future__ import annotations

import contextvars
import dataclasses
import json
import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.carriers import charges
from shipdesk.carriers import http as carrier_http
from shipdesk.carriers.base import Capability, CarrierError, ParcelRequest, RateQuote
from shipdesk.core.errors import FieldError, ValidationFailed
from shipdesk.tariffs.engine import TariffDataError, TariffTable
from shipdesk.tariffs.models import RatingPreference, RatingRule
from shipdesk.tariffs.models import TariffTable as TariffTableRow
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"

_compiled: dict[tuple[Any, ...], TariffTable] = {}
_shipped: dict[str, TariffTable | None] = {}


# --- tables ------------------------------------------------------------------------------

def _shipped_table(carrier_code: str) -> TariffTable | None:
    if carrier_code not in _shipped:
        path = DATA_DIR / f"{carrier_code}.json"
        _shipped[carrier_code] = (TariffTable(json.loads(path.read_text("utf-8")))
                                  if path.is_file() and path.name == f"{carrier_code}.json"
                                  else None)
    return _shipped[carrier_code]


def tariff_table_current(*, organization: Organization | None, carrier_code: str,
                         on: date | None = None) -> TariffTable | None:
    """The compiled table in force on the date (today by default): the latest
    ``effective_from`` not after it; on the same date the organization's own table beats
    the common one, and a loaded table beats the shipped file."""
    on = on or timezone.localdate()
    scope = Q(organization__isnull=True)
    if organization is not None:
        scope |= Q(organization=organization)
    row = (TariffTableRow.objects.filter(scope, carrier_code=carrier_code, effective_from__lte=on)
           .order_by("-effective_from", "organization_id")
           .values("pk", "updated_at", "effective_from", "organization_id")
           .first())
    # NULLs sort last in ascending order on PostgreSQL and first on SQLite: pick explicitly.
    if row is not None and row["organization_id"] is None and organization is not None:
        own = (TariffTableRow.objects.filter(organization=organization, carrier_code=carrier_code,
                                             effective_from=row["effective_from"])
               .values("pk", "updated_at", "effective_from", "organization_id").first())
        row = own or row
    shipped = _shipped_table(carrier_code)
    if shipped is not None and shipped.effective_from > on:
        shipped = None
    if row is None or (shipped is not None and shipped.effective_from > row["effective_from"]):
        return shipped
    key = (row["pk"], row["updated_at"])
    table = _compiled.get(key)
    if table is None:
        data = TariffTableRow.objects.values_list("data", flat=True).get(pk=row["pk"])
        table = TariffTable(data)
        _compiled[key] = table
    return table


def tariff_table_load(*, data: dict[str, Any], source: str = "",
                      organization: Organization | None = None) -> TariffTableRow:
    """Stores (or replaces) the table of that carrier and date; the data is checked by
    compiling it, so a broken file is refused whole with the place of the error."""
    try:
        table = TariffTable(data)
    except TariffDataError as exc:
        raise ValidationFailed(_("Тарифная таблица не загружена: %(error)s") % {"error": exc},
                               errors=[FieldError(("file",), str(exc))]) from exc
    with transaction.atomic():
        row, _created = TariffTableRow.objects.update_or_create(
            carrier_code=table.carrier, effective_from=table.effective_from,
            organization=organization,
            defaults={"name": table.name[:200], "data": data, "source": source[:300]})
    return row


def _parse_table(content: bytes, name: str) -> dict[str, Any]:
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValidationFailed(_("Файл %(path)s не является JSON в UTF-8: %(error)s") % {
            "path": name, "error": exc}) from exc
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            _("Файл %(path)s не является JSON в UTF-8: %(error)s") % {"path": name, "error": exc},
            errors=[FieldError(("file", exc.lineno), _("строка %(line)d, позиция %(col)d: %(msg)s")
                               % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg})]) from exc
    if not isinstance(data, dict):
        raise ValidationFailed(_("Файл %(path)s: ожидается объект JSON с таблицей") % {
            "path": name})
    return data


def tariff_table_load_file(*, path: str, organization: Organization | None = None) -> TariffTableRow:
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationFailed(_("Не удалось прочитать файл %(path)s: %(error)s") % {
            "path": path, "error": exc.strerror or exc}) from exc
    return tariff_table_load(data=_parse_table(content, path), source=Path(path).name,
                             organization=organization)


# An uploaded table is JSON text; a bigger file is not a tariff table.
UPLOAD_LIMIT = 20 * 1024 * 1024


def tariff_table_upload(*, actor: Actor, filename: str, content: bytes) -> TariffTableRow:
    """A table uploaded on the Tariffs page: the organization's own (its contract's
    prices), checked and stored as ``shipdesk load-tariffs --org`` does."""
    actor.require(Perm.MANAGE_SETTINGS)
    if not content:
        raise ValidationFailed(_("Выберите файл тарифной таблицы (JSON)"),
                               errors=[FieldError(("file",), _("Файл не выбран"))])
    if len(content) > UPLOAD_LIMIT:
        raise ValidationFailed(_("Файл больше 20 МБ: это не тарифная таблица"))
    row = tariff_table_load(data=_parse_table(content, filename), source=filename,
                            organization=actor.organization)
    audit(actor, "tariffs.table_upload", row, carrier=row.carrier_code,
          effective_from=str(row.effective_from))
    return row


# --- bulk table rating -----------------------------------------------------------------

def rate_many(*, organization: Organization, requests: list[ParcelRequest],
              carrier_code: str) -> list[RateQuote | None]:
    """Table quotes for many parcels of one carrier, in order; ``None`` where a parcel is
    not rateable by the table (unknown service, index or category, too heavy). Use
    :func:`rate_many_explained` to get the reason."""
    table = tariff_table_current(organization=organization, carrier_code=carrier_code)
    if table is None:
        return [None] * len(requests)
    return table.rate_many(requests)


def rate_many_explained(*, organization: Organization, requests: list[ParcelRequest],
                        carrier_code: str) -> list[RateQuote | str]:
    """Like :func:`rate_many`, with the Russian reason instead of ``None``."""
    table = tariff_table_current(organization=organization, carrier_code=carrier_code)
    if table is None:
        from shipdesk.carriers.names import carrier_name

        reason = _("Нет тарифной таблицы для перевозчика «%(carrier)s»") % {
            "carrier": carrier_name(carrier_code)}
        return [reason] * len(requests)
    return [table.rate(r) for r in requests]


# --- rate shopping -----------------------------------------------------------------------

@dataclass(frozen=True)
class Offer:
    """One carrier service's price for the parcel, or why there is none."""

    account_id: int
    account_name: str
    carrier_code: str
    source: str  # "api" (the carrier's rating API) or "table"
    quote: RateQuote | None
    error: str = ""
    note: str = ""
    chosen: bool = False


def rating_rule_get(*, organization: Organization) -> str:
    prefer = RatingRule.objects.filter(organization=organization).values_list(
        "prefer", flat=True).first()
    return prefer or RatingPreference.CHEAPEST


def rating_rule_set(*, actor: Actor, prefer: str) -> RatingRule:
    actor.require(Perm.MANAGE_SETTINGS)
    if prefer not in RatingPreference.values:
        raise ValidationFailed(_("Правило выбора: «cheapest» или «fastest»"), errors=[
            FieldError(("prefer",), _("Недопустимое значение"))])
    rule, _created = RatingRule.objects.update_or_create(
        organization=actor.organization, defaults={"prefer": prefer})
    audit(actor, "tariffs.rule_set", rule, prefer=prefer)
    return rule


def _sort_key(prefer: str) -> Any:
    def key(offer: Offer) -> tuple[Any, ...]:
        quote = offer.quote
        if quote is None:
            return (1, 0, 0)
        slow = quote.days_max if quote.days_max is not None else 10_000
        if prefer == RatingPreference.FASTEST:
            return (0, slow, quote.total)
        return (0, quote.total, slow)
    return key


# Rate shopping asks the carriers' rating APIs all at once; whoever has not answered by
# then is shown as "no answer" (with the table's price when there is a table).
RATE_SHOP_DEADLINE_SECONDS = 8.0
RATE_SHOP_THREADS = 8


def _rating_adapter(account: Any) -> Any | None:
    """The account's adapter when it rates through the carrier's API (no network here)."""
    try:
        from shipdesk.carriers import registry
    except ImportError:
        return None
    try:
        cls = registry.adapter_class(account.carrier_code)
    except LookupError:
        return None
    if Capability.RATE not in cls.capabilities or (account.settings or {}).get("rate_by_table"):
        return None
    return registry.adapter_for_account(account)


def quote_adding_up(quote: RateQuote) -> RateQuote:
    """The quote with lines that add up to its total: a carrier's own answer whose items do
    not (or that has none) gets an explicit difference line (or one line with the whole
    price). The adapters already build their lines so; this keeps a new one honest too."""
    if quote.lines and charges.adds_up(quote.lines, quote.total):
        return quote
    return dataclasses.replace(quote, lines=charges.lines_adding_up(quote.lines, quote.total))


def _ask(adapter: Any, account: Any, request: ParcelRequest) -> tuple[list[RateQuote] | None, str]:
    """One carrier API's quotes, or ``(None, error)``; runs in the pool's threads (which
    write nothing to the database: the exchanges are collected for the caller)."""
    try:
        return adapter.rate(request), ""
    except CarrierError as exc:
        log.warning("rating through %s (account %s) failed: %s", account.carrier_code,
                    account.pk, exc)
        return None, str(exc) or exc.__class__.__name__
    except NotImplementedError:
        return None, ""
    except Exception as exc:  # a broken adapter is one carrier without an answer, not a 500
        log.exception("rating through %s (account %s) broke", account.carrier_code, account.pk)
        return None, exc.__class__.__name__
    finally:
        connections.close_all()  # this thread's own, if the adapter opened one


def _api_quotes(accounts: list[Any], request: ParcelRequest
                ) -> dict[int, tuple[list[RateQuote] | None, str]]:
    """Every account's API answer, asked concurrently within the deadline: ``(quotes, "")``,
    ``(None, error)``; accounts without a rating API are left out."""
    adapters = {a.pk: (a, adapter) for a in accounts if (adapter := _rating_adapter(a))}
    if not adapters:
        return {}
    exchanges: list[dict[str, Any]] = []
    token = carrier_http.pending_exchanges.set(exchanges)
    try:  # each task runs in its own copy of this context: the exchanges come back here
        contexts = {account_id: contextvars.copy_context() for account_id in adapters}
    finally:
        carrier_http.pending_exchanges.reset(token)
    pool = ThreadPoolExecutor(max_workers=min(RATE_SHOP_THREADS, len(adapters)),
                              thread_name_prefix="rate-shop")
    try:
        futures = {pool.submit(contexts[account_id].run, _ask, adapter, account, request):
                   account_id for account_id, (account, adapter) in adapters.items()}
        done, _pending = wait(futures, timeout=RATE_SHOP_DEADLINE_SECONDS)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a slow carrier is not waited for
    _store_exchanges(list(exchanges))  # a late carrier's exchange stays in the log file only
    answers: dict[int, tuple[list[RateQuote] | None, str]] = {
        account_id: (None, _("нет ответа за %(s)s с") % {"s": f"{RATE_SHOP_DEADLINE_SECONDS:g}"})
        for account_id in adapters}
    for future in done:
        answers[futures[future]] = future.result()
    return answers


def _store_exchanges(exchanges: list[dict[str, Any]]) -> None:
    if not exchanges:
        return
    from shipdesk.carriers.models import CarrierExchange

    try:
        with transaction.atomic():
            CarrierExchange.objects.bulk_create(CarrierExchange(**v) for v in exchanges)
    except Exception:  # the exchange log must never break rate shopping
        log.exception("could not store the rate shopping's carrier exchanges")


def rate_shop(*, actor: Actor, request: ParcelRequest) -> list[Offer]:
    """Offers from every active carrier account of the organization, best first by the
    organization's rule; the best one has ``chosen=True``. Accounts that cannot quote are
    listed last with the reason. The carriers' rating APIs are asked concurrently, within
    ``RATE_SHOP_DEADLINE_SECONDS`` in all."""
    actor.require(Perm.VIEW)
    from shipdesk.carriers.models import CarrierAccount

    prefer = rating_rule_get(organization=actor.organization)
    offers: list[Offer] = []
    accounts = list(CarrierAccount.objects.filter(organization=actor.organization,
                                                  is_active=True).order_by("name", "id"))
    answers = _api_quotes(accounts, request)
    for account in accounts:
        common: dict[str, Any] = {"account_id": account.pk, "account_name": account.name,
                                  "carrier_code": account.carrier_code}
        quotes, api_error = answers.get(account.pk, (None, ""))
        if quotes is not None:
            quotes = [quote_adding_up(q) for q in quotes]
            offers.extend(Offer(source="api", quote=q, **common) for q in quotes)
            if quotes:
                continue
        table = tariff_table_current(organization=actor.organization,
                                     carrier_code=account.carrier_code)
        note = (_("API перевозчика не ответил (%(error)s), цена по тарифной таблице") % {
            "error": api_error}) if api_error else ""
        if table is None:
            offers.append(Offer(source="table", quote=None, note=note, error=(_(
                "API перевозчика не ответил: %(error)s") % {"error": api_error}) if api_error
                else _("Нет тарифной таблицы и API расчёта для этого перевозчика"), **common))
            continue
        if request.service_code:
            result = table.rate(request)
            table_quotes = [result] if isinstance(result, RateQuote) else []
            reason = result if isinstance(result, str) else ""
        else:
            table_quotes = table.rate_all(request)
            reason = _("Ни один вид отправления не подходит для этой посылки (индекс, вес, "
                       "категория)")
        if table_quotes:
            offers.extend(Offer(source="table", quote=q, note=note, **common)
                          for q in table_quotes)
        else:
            offers.append(Offer(source="table", quote=None, error=reason, note=note, **common))
    offers.sort(key=_sort_key(prefer))
    if offers and offers[0].quote is not None:
        first = offers[0]
        offers[0] = Offer(**{**first.__dict__, "chosen": True})
    return offers
