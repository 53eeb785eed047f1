"""An emulator of Russian Post's Otpravka REST API and tracking SOAP API, on one loopback port.

Run: ``python -m shipdesk.carriers.russian_post.emulator --port 18100``. Embed: ``serve(host, port)``.
It keeps state in memory: orders (backlog) → batches (barcodes, F103/F7 PDFs) → tracking events
that advance on the emulator clock through a scenario chosen per parcel (``comment:
"scenario=lost"`` on the order, else by the barcode's hash). The clock is the real time (events
are never in the future; tests may move it with ``POST /_emulator/clock``); a demo goes faster
by pacing the scenarios: with ``step_seconds`` (``--step-seconds``,
``SHIPDESK_SANDBOX_STEP_SECONDS``) each operation comes that many seconds after the one before
instead of the scripted hours and days.

Admin endpoints (no auth): ``POST /_emulator/clock`` ``{"advance": seconds}`` or ``{"set": iso}``;
``POST /_emulator/config`` (limits, credentials, ticket delay); ``POST /_emulator/fault``
``{"mode": "html"|"status"|"truncated"|"soap_fault"|"slow", "status": 502, "delay": 3, "count": 1}``.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from shipdesk.carriers import scenarios as generic_scenarios
from shipdesk.carriers.emulation import step_seconds_from_env
from shipdesk.carriers.russian_post import barcodes, emulator_backoffice
from shipdesk.carriers.russian_post.statuses import ATTR_NAMES, TYPE_NAMES, operation_name
from shipdesk.numbering.validation import s10_compose

DEFAULT_PORT = 18100
# What embedded mode's sandbox account uses (carriers.services.sandbox_accounts_connect).
SANDBOX_CREDENTIALS = {"token": "test-token", "login": "test", "password": "test"}


TICKET_DELAY_ENV = "SHIPDESK_SANDBOX_TICKET_DELAY"


def ticket_delay_from_env() -> float:
    """Seconds before a served emulator answers a tracking ticket: ``SHIPDESK_SANDBOX_TICKET_DELAY``
    (``make run`` sets a few seconds, see ``core.demo``), else the real service's 15 minutes."""
    try:
        return max(0.0, float(os.environ.get(TICKET_DELAY_ENV) or Config.ticket_delay_seconds))
    except ValueError:
        return Config.ticket_delay_seconds


def sandbox_settings() -> dict[str, float]:
    """A sandbox account's settings: its tickets are fetched after the sandbox emulator's
    ticket delay (a few seconds under ``make run``), not after the real service's 15 minutes."""
    wait = ticket_delay_from_env()
    return {"ticket_first_fetch_after": wait, "ticket_fetch_interval": wait}

MSK = timezone(timedelta(hours=3))
EARLIEST_RU = timezone(timedelta(hours=2))  # Kaliningrad: the last of Russia's zones to end a day
WSDL_DIR = Path(__file__).resolve().parent / "wsdl"

MAIL_TYPES = {
    "POSTAL_PARCEL",
    "ONLINE_PARCEL",
    "ONLINE_COURIER",
    "EMS",
    "EMS_OPTIMAL",
    "EMS_RT",
    "EMS_TENDER",
    "LETTER",
    "LETTER_CLASS_1",
    "BANDEROL",
    "BANDEROL_CLASS_1",
    "PARCEL_CLASS_1",
    "BUSINESS_COURIER",
    "BUSINESS_COURIER_ES",
    "SMALL_PACKET",
    "VGPO_CLASS_1",
    "VSD",
    "ECOM",
    # going abroad (mail-direct other than 643): a foreign postcode in str-index-to, no region
    "PARCEL_INTERNATIONAL",
    "EMS_INTERNATIONAL",
    "SMALL_PACKET_INTERNATIONAL",
    "ECOM_MARKETPLACE",
    "EASY_RETURN",
    "HYPER_CARGO",
}
MAIL_CATEGORIES = {
    "SIMPLE",
    "ORDERED",
    "ORDINARY",
    "WITH_DECLARED_VALUE",
    "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY",
    "WITH_DECLARED_VALUE_AND_COMPULSORY_PAYMENT",
    "WITH_COMPULSORY_PAYMENT",
}
MAIL_TYPE_IDS = {
    "POSTAL_PARCEL": 4,
    "ONLINE_PARCEL": 23,
    "ONLINE_COURIER": 24,
    "EMS": 7,
    "EMS_OPTIMAL": 34,
    "LETTER": 2,
    "BANDEROL": 3,
    "PARCEL_CLASS_1": 47,
    "SMALL_PACKET": 5,
}
MAX_MASS = {
    "POSTAL_PARCEL": 20000,
    "ONLINE_PARCEL": 20000,
    "ONLINE_COURIER": 31500,
    "EMS": 31500,
    "EMS_OPTIMAL": 20000,
    "PARCEL_CLASS_1": 2500,
    "LETTER": 100,
    "BANDEROL": 2000,
}
PHONE_REQUIRED = {"ONLINE_PARCEL", "ONLINE_COURIER", "EMS_OPTIMAL", "ECOM"}
NO_DIMENSION = {"ONLINE_PARCEL", "LETTER", "BANDEROL"}
COD_CATEGORIES = {"WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY"}
VALUE_CATEGORIES = {
    "WITH_DECLARED_VALUE",
    "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY",
    "WITH_DECLARED_VALUE_AND_COMPULSORY_PAYMENT",
}
SORTING_CENTRE = "140983"
MAX_TICKETS = 2000  # answers kept (the real service keeps them 32 h)

# Scenario timelines: (hours after acceptance, type, attribute, where: o=origin, s=sorting, d=destination)
Step = tuple[float, int, int, str]
_TRANSIT: list[Step] = [
    (0, 1, 2, "o"),
    (5, 8, 1, "o"),
    (18, 8, 3, "s"),
    (22, 8, 0, "s"),
    (26, 8, 4, "s"),
    (60, 8, 2, "d"),
]
SCENARIOS: dict[str, list[Step]] = {
    "delivered": [*_TRANSIT, (61, 8, 24, "d"), (84, 2, 1, "d")],
    "not_picked_up": [
        *_TRANSIT,
        (61, 8, 24, "d"),
        (60 + 24 * 10, 8, 28, "d"),
        (60 + 24 * 15, 8, 40, "d"),
        (60 + 24 * 15 + 2, 3, 1, "d"),
        (60 + 24 * 15 + 8, 8, 1, "d"),
        (60 + 24 * 17, 8, 2, "o"),
        (60 + 24 * 18, 2, 2, "o"),
    ],
    "lost": [(0, 1, 2, "o"), (5, 8, 1, "o"), (18, 8, 3, "s"), (24 * 30, 5, 1, "s")],
    "stuck": [(0, 1, 2, "o"), (5, 8, 1, "o"), (18, 8, 3, "s")],
    "customs": [(0, 1, 2, "o"), (5, 8, 1, "o"), (20, 11, 0, "s"), (30, 14, 7, "s"), (48, 24, 1054, "s")],
    "partial_refusal": [*_TRANSIT, (61, 8, 24, "d"), (80, 48, 0, "d")],
}
_HASHED = ["delivered"] * 5 + ["not_picked_up", "lost", "stuck", "customs", "partial_refusal"]


# The post-office service's offices (``GET /postoffice/1.0/{index}``): the demo's destinations
# and a few more; any other index is unknown (404). Made-up addresses, the real shape:
# (index, region, settlement, address-source, type-code, latitude, longitude, schedule).
OFFICES: tuple[tuple[str, str, str, str, str, float, float, str], ...] = (
    ("101000", "г. Москва", "Москва", "ул. Мясницкая, д. 26", "ПОЧТАМТ", 55.7626, 37.6358, "city"),
    ("125009", "г. Москва", "Москва", "ул. Тверская, д. 9", "ГОПС", 55.7606, 37.6094, "city"),
    ("190000", "г. Санкт-Петербург", "Санкт-Петербург", "Почтамтская ул., д. 9", "ПОЧТАМТ",
     59.9322, 30.3033, "city"),
    ("420111", "Респ. Татарстан", "Казань", "ул. Кремлёвская, д. 8", "ГОПС", 55.7963, 49.1088, "lunch"),
    ("344002", "Ростовская обл.", "Ростов-на-Дону", "ул. Московская, д. 45", "ГОПС", 47.2185, 39.7115,
     "lunch"),
    ("620014", "Свердловская обл.", "Екатеринбург", "ул. Малышева, д. 31", "ГОПС", 56.8349, 60.5979,
     "lunch"),
    ("630099", "Новосибирская обл.", "Новосибирск", "ул. Ленина, д. 5", "ГОПС", 55.0302, 82.9204, "lunch"),
    ("644010", "Омская обл.", "Омск", "ул. Маршала Жукова, д. 21", "ГОПС", 54.9785, 73.3867, "lunch"),
    ("644015", "Омская обл.", "Омск", "ул. Лермонтова, д. 63", "ГОПС", 54.9713, 73.4016, "lunch"),
    ("690091", "Приморский край", "Владивосток", "ул. Светланская, д. 47", "ГОПС", 43.1158, 131.8917,
     "lunch"),
    ("630132", "Новосибирская обл.", "Новосибирск", "ул. Челюскинцев, д. 11", "ПОЧТОМАТ", 55.0384,
     82.9128, "locker"),
)
# weekday-id (1 = Monday) -> (begin, end, lunch or ""), working days only
_SCHEDULES: dict[str, dict[int, tuple[str, str, str]]] = {
    "city": {**{d: ("08:00", "22:00", "") for d in range(1, 6)}, 6: ("09:00", "18:00", ""),
             7: ("09:00", "18:00", "")},
    "lunch": {**{d: ("08:00", "20:00", "13:00-14:00") for d in range(1, 6)}, 6: ("09:00", "18:00", "")},
    "locker": {d: ("00:00", "23:59", "") for d in range(1, 8)},
}
_OFFICE_TYPE_IDS = {"ГОПС": 1, "СОПС": 2, "ПОЧТАМТ": 3, "ПОЧТОМАТ": 33}


def post_office(index: str) -> dict[str, Any] | None:
    """The office object of the post-office service for an index, or None."""
    row = next((r for r in OFFICES if r[0] == index), None)
    if row is None:
        return None
    code, region, settlement, address, kind, lat, lon, schedule = row
    days = _SCHEDULES[schedule]
    hours = []
    for day, (begin, end, lunch) in sorted(days.items()):
        lunches = []
        if lunch:
            a, b = lunch.split("-")
            lunches.append({"begin-lunchtime": f"{a}:00.000", "end-lunchtime": f"{b}:00.000"})
        hours.append({"weekday-id": day, "begin-worktime": f"{begin}:00.000",
                      "end-worktime": f"{end}:00.000", "lunches": lunches})
    return {
        "postal-code": code,
        "address-source": address,
        "settlement": settlement,
        "region": region,
        "district": "",
        "type-code": kind,
        "type-id": _OFFICE_TYPE_IDS.get(kind, 1),
        "latitude": lat,
        "longitude": lon,
        "is-closed": False,
        "is-temporary-closed": False,
        "temporary-closed-reason": None,
        "is-private-category": False,
        "works-on-saturdays": 6 in days,
        "works-on-sundays": 7 in days,
        "working-hours": hours,
        "holidays": [],
        "phones": [],
        "service-groups": [],
    }


def scenario_for(barcode: str) -> str:
    return _HASHED[zlib.crc32(barcode.encode()) % len(_HASHED)]


@dataclass
class Config:
    token: str = "test-token"  # noqa: S105 - the emulator's published demo credentials
    login: str = "test"
    password: str = "test"  # noqa: S105
    tracking_login: str = "test"
    tracking_password: str = "test"  # noqa: S105
    # The account's shipping points (offices it may hand parcels to); empty: any office is accepted
    # (the sandbox), and "101000" is reported as the point.
    shipping_points: tuple[str, ...] = ()
    daily_limit: int = 100_000  # Otpravka requests per day
    rate_per_second: int = 0  # 0: no per-second limit
    single_tracking_daily_limit: int = 100  # RTM34 per login per day
    # On the emulator clock, before a ticket's answer is ready: the real service's 15 minutes;
    # the sandbox of ``make run``, tests and benchmarks set it short (``--ticket-delay``,
    # ``SHIPDESK_SANDBOX_TICKET_DELAY``, ``POST /_emulator/config``).
    ticket_delay_seconds: float = 900.0
    # Seconds between a parcel's scripted operations (acceptance included, counted from the
    # check-in); 0: the scenario's own hours and days. ``make run`` sets tens of seconds.
    step_seconds: float = 0.0
    forbidden: tuple[str, ...] = ()  # path prefixes the token may not use (403 ACCESS_VIOLATION)


@dataclass
class Fault:
    mode: str
    count: int
    status: int = 502
    delay: float = 0.0


@dataclass
class State:
    config: Config = field(default_factory=Config)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    offset: timedelta = timedelta(0)
    origin: datetime = field(default_factory=lambda: datetime.now(UTC))
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_barcode: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, tuple[datetime, list[str]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-DD:kind:login" -> n
    second: tuple[int, int] = (0, 0)
    faults: list[Fault] = field(default_factory=list)
    next_id: int = 400_000_001
    next_serial: int = 0
    next_batch: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    # Emulated seconds per real second of an injected ``now`` (a test hook only): 1, the real
    # pace, everywhere else; demos are paced by ``config.step_seconds`` instead.
    speed: float = 1.0

    def clock(self) -> datetime:
        if self.speed == 1.0:
            return self.now() + self.offset
        return self.origin + (self.now() - self.origin) * self.speed + self.offset

    def take_fault(self) -> Fault | None:
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault.count -= 1
            if fault.count <= 0:
                self.faults.pop(0)
            return fault

    def count(self, kind: str, who: str, limit: int) -> bool:
        """Counts one call against a daily quota; False when the quota is spent."""
        key = f"{self.clock().date()}:{kind}:{who}"
        with self.lock:
            n = self.counts.get(key, 0)
            if limit and n >= limit:
                return False
            self.counts[key] = n + 1
            return True

    def new_barcode(self, order: dict[str, Any] | None = None) -> str:
        """A domestic 14-digit ШПИ, or an S10 identifier for an order going abroad (its
        service letter by the mail type: E EMS, C parcels, R letter post)."""
        with self.lock:
            self.next_serial += 1
            serial = self.next_serial
        direct = (order or {}).get("mail-direct")
        if direct not in (None, 643, "643"):
            mail_type = str((order or {}).get("mail-type") or "")
            letter = "E" if "EMS" in mail_type else "C" if "PARCEL" in mail_type else "R"
            return s10_compose(f"{letter}A", serial, "RU")
        return barcodes.rp14_make(f"800847{10 + serial // 100_000 % 90:02d}{serial % 100_000:05d}")

    # -- tracking --------------------------------------------------------------------------------
    def history(self, barcode: str) -> list[tuple[datetime, int, int, str]]:
        """Operations that have happened by now for a barcode: (when, type, attr, index)."""
        order_id = self.by_barcode.get(barcode)
        if order_id is not None:
            order = self.orders[order_id]
            accepted = order.get("accepted-at")
            if accepted is None:
                return []
            scenario = order["scenario"]
            origin, dest = str(order.get("postoffice-code") or "101000"), str(order.get("index-to"))
        else:
            if not barcodes.is_valid(barcode):
                return []
            h = zlib.crc32(barcode.encode())
            accepted = self.origin - timedelta(hours=h % (24 * 12))
            scenario, origin, dest = scenario_for(barcode), "101000", "644015"
        now = self.clock()
        where = {"o": origin, "s": SORTING_CENTRE, "d": dest}
        out = []
        steps = SCENARIOS[scenario]
        offsets = generic_scenarios.paced([step[0] for step in steps], self.config.step_seconds)
        for hours, (_at, t, a, w) in zip(offsets, steps, strict=True):
            when = accepted + timedelta(hours=hours)
            if when > now:
                break
            out.append((when, t, a, where[w]))
        return out


def public(order: dict[str, Any]) -> dict[str, Any]:
    """An order as the API shows it (without the emulator's own bookkeeping)."""
    return {k: v for k, v in order.items() if k not in ("accepted-at", "scenario")}


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _error3(code: int, sub: str, desc: str) -> dict[str, Any]:
    """Generic error shape (domain.md §1.9, shape 3)."""
    return {
        "code": code,
        "sub-code": sub,
        "desc": desc,
        "message": desc,
        "status": HTTPStatus(code).phrase.upper().replace(" ", "_"),
    }


def _code(code: str, description: str, details: str = "") -> dict[str, str]:
    return {"code": code, "description": description, "details": details}


def _new_order_problem(order: dict[str, Any] | None, pos: int) -> dict[str, Any] | None:
    """Shape-2 error for an order id that is unknown or no longer "new" (already in a batch)."""
    if order is None:
        return {"error-code": "NOT_FOUND", "error-description": "Заказ не найден", "position": pos}
    if order.get("batch-name"):
        return {"error-code": "READONLY_STATE", "error-description": "Заказ уже в партии", "position": pos}
    return None


def validate_order(order: dict[str, Any], points: tuple[str, ...]) -> list[dict[str, str]]:
    """Russian Post's per-order validation codes (domain.md §1.9), in the order it reports them."""
    errors: list[dict[str, str]] = []
    mail_type = order.get("mail-type")
    category = order.get("mail-category")
    if not mail_type:
        errors.append(_code("EMPTY_MAIL_TYPE", "Не указан вид РПО"))
    elif mail_type not in MAIL_TYPES:
        errors.append(_code("ILLEGAL_MAIL_TYPE", "Недопустимый вид РПО", str(mail_type)))
    if not category:
        errors.append(_code("EMPTY_MAIL_CATEGORY", "Не указана категория РПО"))
    elif category not in MAIL_CATEGORIES:
        errors.append(_code("ILLEGAL_MAIL_CATEGORY", "Недопустимая категория РПО", str(category)))
    if order.get("mail-direct") in (None, ""):
        errors.append(_code("EMPTY_MAIL_DIRECT", "Не указан код страны назначения"))
    if not order.get("address-type-to"):
        errors.append(_code("EMPTY_ADDRESS_TYPE_TO", "Не указан тип адреса"))
    abroad = order.get("mail-direct") not in (None, "", 643, "643")
    index_to = order.get("index-to")
    if abroad:
        if not order.get("str-index-to") and index_to in (None, ""):
            errors.append(_code("EMPTY_INDEX_TO", "Не указан индекс получателя"))
        if not (order.get("customs-declaration") or {}).get("customs-entries"):
            errors.append(_code("EMPTY_CUSTOMS_DECLARATION", "Не заполнена таможенная декларация"))
    elif index_to in (None, ""):
        errors.append(_code("EMPTY_INDEX_TO", "Не указан индекс получателя"))
    elif not str(index_to).isdigit() or len(str(index_to)) != 6:
        errors.append(_code("ILLEGAL_INDEX_TO", "Недопустимый индекс получателя", str(index_to)))
    if not order.get("raw-address"):
        if not order.get("region-to") and not abroad:
            errors.append(_code("EMPTY_REGION_TO", "Не указан регион получателя"))
        if not order.get("place-to"):
            errors.append(_code("EMPTY_PLACE_TO", "Не указан населённый пункт получателя"))
    mass = order.get("mass")
    if mass in (None, ""):
        errors.append(_code("EMPTY_MASS", "Не указан вес"))
    elif not isinstance(mass, int) or mass <= 0:
        errors.append(_code("ILLEGAL_MASS", "Недопустимый вес", str(mass)))
    elif mass > MAX_MASS.get(str(mail_type), 20000):
        errors.append(_code("ILLEGAL_MASS_EXCESS", "Превышен предельный вес", str(mass)))
    insr = order.get("insr-value")
    payment = order.get("payment")
    if category in VALUE_CATEGORIES and not insr:
        errors.append(_code("EMPTY_INSR_VALUE", "Не указана объявленная ценность"))
    if category in COD_CATEGORIES and not payment:
        errors.append(_code("EMPTY_PAYMENT", "Не указана сумма наложенного платежа"))
    if payment and int(payment) > int(insr or 0):
        errors.append(
            _code(
                "NOT_INSURED_PAYMENT",
                "Сумма наложенного платежа больше объявленной ценности",
                f"payment={payment}, insr-value={insr or 0}",
            )
        )
    if mail_type in PHONE_REQUIRED and not order.get("tel-address"):
        errors.append(_code("EMPTY_TELADDRESS", "Не указан телефон получателя"))
    if mail_type in NO_DIMENSION and order.get("dimension"):
        errors.append(_code("DIMENSION_NOT_SUPPORTED", "Габариты не поддерживаются для этого вида РПО"))
    office = order.get("postoffice-code")
    if office and points and str(office) not in points:
        errors.append(
            _code("ILLEGAL_POSTOFFICE_CODE", "ОПС не является точкой сдачи пользователя", str(office))
        )
    return errors


def tariff_kopecks(mass: int, mail_type: str, declared: int, fragile: bool) -> dict[str, Any]:
    """A deterministic made-up tariff in the real response shape (amounts in kopecks, VAT 20%)."""
    base = {"EMS": 60000, "EMS_OPTIMAL": 35000, "ONLINE_COURIER": 30000}.get(mail_type, 16500)
    ground = base + (max(mass, 1) - 1) // 500 * 4500
    insurance = declared * 4 // 100
    fragile_rate = ground * 30 // 100 if fragile else 0
    total = ground + insurance + fragile_rate
    out: dict[str, Any] = {
        "ground-rate": {"rate": ground, "vat": ground // 5},
        "total-rate": total,
        "total-vat": total // 5,
        "delivery-time": {"min-days": 2, "max-days": 5},
        "payment-method": "CASHLESS",
        "notice-payment-method": "CASHLESS",
    }
    if insurance:
        out["insurance-rate"] = {"rate": insurance, "vat": 0}
    if fragile_rate:
        out["fragile-rate"] = {"rate": fragile_rate, "vat": fragile_rate // 5}
    return out


# -- PDFs ------------------------------------------------------------------------------------------
_FONT = "RPEmuSans"
_font_lock = threading.Lock()
_font_ready = False


def _font() -> str:
    global _font_ready
    with _font_lock:
        if not _font_ready:
            import fontpkg_pt_sans
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            path = Path(fontpkg_pt_sans.__file__).resolve().parent / "files" / "PT_Sans-Web-Regular.ttf"
            pdfmetrics.registerFont(TTFont(_FONT, str(path)))
            _font_ready = True
    return _FONT


def _addr(order: dict[str, Any]) -> str:
    if order.get("raw-address"):
        return str(order["raw-address"])
    parts = [
        order.get("index-to"),
        order.get("region-to"),
        order.get("place-to"),
        order.get("street-to"),
        order.get("house-to"),
        order.get("room-to"),
    ]
    return ", ".join(str(p) for p in parts if p)


def f7_pdf(order: dict[str, Any]) -> bytes:
    from reportlab.graphics.barcode.common import I2of5
    from reportlab.lib.pagesizes import A6, landscape
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=landscape(A6))
    c.setTitle(f"Ф7п {order.get('barcode', '')}")
    c.setFont(font, 9)
    c.drawString(20, 270, "Ф7п · Почта России (эмулятор Shipdesk)")
    c.drawString(
        20, 255, f"От: {order.get('sender-name') or 'Отправитель'} · ОПС {order.get('postoffice-code', '')}"
    )
    c.drawString(20, 240, f"Кому: {order.get('recipient-name', '')}")
    c.drawString(20, 225, f"Куда: {_addr(order)}")
    c.drawString(
        20,
        210,
        f"Вес: {order.get('mass', 0)} г · ОЦ: {int(order.get('insr-value') or 0) / 100:.2f} ₽ · "
        f"НП: {int(order.get('payment') or 0) / 100:.2f} ₽",
    )
    code = str(order.get("barcode") or "")
    if code:
        bc = I2of5(code, barWidth=1.2, barHeight=60, checksum=0, bearers=0, quiet=1)
        bc.drawOn(c, 20, 110)
        c.setFont(font, 12)
        c.drawString(30, 92, f"{code[:6]} {code[6:8]} {code[8:13]} {code[13:]}")
    c.setFont(font, 20)
    c.drawString(300, 40, str(order.get("index-to", "")))
    c.showPage()
    c.save()
    return buf.getvalue()


def f103_pdf(batch: dict[str, Any], orders: list[dict[str, Any]]) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    width, height = landscape(A4)
    c = canvas.Canvas(buf, pagesize=(width, height))
    c.setTitle(f"Ф103 партия {batch['batch-name']}")
    c.setFont(font, 12)
    c.drawString(
        30,
        height - 40,
        f"СПИСОК № {batch['list-number']} ф.103 внутренних почтовых отправлений "
        f"от {batch['list-number-date']}",
    )
    c.setFont(font, 9)
    c.drawString(
        30,
        height - 58,
        f"Партия {batch['batch-name']} · {batch['mail-type']} · "
        f"{batch['mail-category']} · ОПС {batch['postoffice-code']}",
    )
    y = height - 85
    c.drawString(
        30, y, "№   ШПИ              Получатель                      Индекс   Вес, г   ОЦ, ₽   НП, ₽"
    )
    for i, o in enumerate(orders, 1):
        y -= 14
        if y < 50:
            c.showPage()
            c.setFont(font, 9)
            y = height - 40
        c.drawString(
            30,
            y,
            f"{i:<4}{o.get('barcode', ''):<17}{str(o.get('recipient-name', ''))[:30]:<32}"
            f"{o.get('index-to', '')!s:<9}{o.get('mass', 0)!s:<9}"
            f"{int(o.get('insr-value') or 0) / 100:<8.2f}{int(o.get('payment') or 0) / 100:.2f}",
        )
    y -= 24
    c.drawString(
        30,
        max(y, 30),
        f"Всего отправлений: {len(orders)} · общий вес: {sum(int(o.get('mass') or 0) for o in orders)} г",
    )
    c.showPage()
    c.save()
    return buf.getvalue()


# -- SOAP ------------------------------------------------------------------------------------------
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
DATA_NS = "http://russianpost.org/operationhistory/data"
OH_NS = "http://russianpost.org/operationhistory"
FC_NS = "http://fclient.russianpost.org"
PS_NS = "http://fclient.russianpost.org/postserver"


def envelope(soap_ns: str, body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{soap_ns}"><S:Body>{body}'
        f"</S:Body></S:Envelope>"
    ).encode()


def soap12_fault(reason: str, detail_tag: str) -> bytes:
    return envelope(
        SOAP12,
        f'<S:Fault><S:Code><S:Value>S:Sender</S:Value></S:Code><S:Reason><S:Text xml:lang="ru">'
        f'{escape(reason)}</S:Text></S:Reason><S:Detail><ns2:{detail_tag} xmlns:ns2="{DATA_NS}">'
        f"{escape(reason)}</ns2:{detail_tag}></S:Detail></S:Fault>",
    )


def soap11_fault(reason: str) -> bytes:
    return envelope(
        SOAP11,
        f"<S:Fault><faultcode>S:Server</faultcode><faultstring>{escape(reason)}</faultstring></S:Fault>",
    )


def _text(root: ET.Element, tag: str) -> str:
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == tag:
            return (el.text or "").strip()
    return ""


def rtm34_response(state: State, barcode: str, rows: list[tuple[datetime, int, int, str]]) -> bytes:
    order_id = state.by_barcode.get(barcode)
    order = state.orders.get(order_id, {}) if order_id is not None else {}
    mail_type = str(order.get("mail-type") or "POSTAL_PARCEL")
    dest = escape(str(order.get("index-to") or "644015"))
    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{SOAP12}"><S:Body>'
        f'<ns7:getOperationHistoryResponse xmlns:ns3="{DATA_NS}" xmlns:ns7="{OH_NS}">'
        f"<ns3:OperationHistoryData>"
    ]
    for when, t, a, index in rows:
        type_name = escape(TYPE_NAMES.get(t, ""))
        name = escape(ATTR_NAMES.get((t, a), ""))
        parts.append(
            f"<ns3:historyRecord><ns3:AddressParameters><ns3:DestinationAddress><ns3:Index>{dest}</ns3:Index>"
            f"</ns3:DestinationAddress><ns3:OperationAddress><ns3:Index>{index}</ns3:Index>"
            f"<ns3:Description>ОПС {index}</ns3:Description></ns3:OperationAddress>"
            f"<ns3:MailDirect><ns3:Id>643</ns3:Id><ns3:Code2A>RU</ns3:Code2A><ns3:NameRU>Россия</ns3:NameRU>"
            f"</ns3:MailDirect></ns3:AddressParameters><ns3:FinanceParameters>"
            f"<ns3:Payment>{int(order.get('payment') or 0)}</ns3:Payment>"
            f"<ns3:Value>{int(order.get('insr-value') or 0)}</ns3:Value></ns3:FinanceParameters>"
            f"<ns3:ItemParameters><ns3:Barcode>{escape(barcode)}</ns3:Barcode>"
            f"<ns3:MailType><ns3:Id>{MAIL_TYPE_IDS.get(mail_type, 4)}</ns3:Id>"
            f"<ns3:Name>{escape(mail_type)}</ns3:Name></ns3:MailType>"
            f"<ns3:Mass>{int(order.get('mass') or 0)}</ns3:Mass></ns3:ItemParameters>"
            f"<ns3:OperationParameters><ns3:OperType><ns3:Id>{t}</ns3:Id><ns3:Name>{type_name}</ns3:Name>"
            f"</ns3:OperType><ns3:OperAttr><ns3:Id>{a}</ns3:Id><ns3:Name>{name}</ns3:Name></ns3:OperAttr>"
            f"<ns3:OperDate>{when.astimezone(MSK).isoformat(timespec='milliseconds')}</ns3:OperDate>"
            f"</ns3:OperationParameters></ns3:historyRecord>"
        )
    parts.append("</ns3:OperationHistoryData></ns7:getOperationHistoryResponse></S:Body></S:Envelope>")
    return "".join(parts).encode()


ESPP_NS = "http://www.russianpost.org/RTM/DataExchangeESPP/Data"
COD_EVENT_NAMES = {1: "Приём", 3: "Оплата"}


def cod_events(state: State, barcode: str) -> list[tuple[datetime, int, int, str]]:
    """COD transfer events of a delivered parcel with a payment: (when, EventType, kopecks, index).
    The transfer is accepted an hour after delivery and paid out to the shop three days later."""
    order_id = state.by_barcode.get(barcode)
    if order_id is None or not int(state.orders[order_id].get("payment") or 0):
        return []
    order = state.orders[order_id]
    delivered = next((when for when, t, a, _i in state.history(barcode) if (t, a) in ((2, 1), (48, 0))), None)
    if delivered is None:
        return []
    index = str(order.get("index-to") or "")
    amount = int(order["payment"])
    now = state.clock()
    pace = state.config.step_seconds  # a paced demo: one step, then two steps after delivery
    first, paid = (timedelta(seconds=pace), timedelta(seconds=2 * pace)) if pace else (
        timedelta(hours=1), timedelta(days=3))
    steps = [(delivered + first, 1), (delivered + paid, 3)]
    return [(when, kind, amount, index) for when, kind in steps if when <= now]


def cod_response(state: State, barcode: str) -> bytes:
    number = f"{zlib.crc32(barcode.encode()) % 10**6:06d}"
    events = "".join(
        f'<ns4:PostalOrderEvent Number="{number}" '
        f'EventDateTime="{when.astimezone(MSK).isoformat(timespec="seconds")}" '
        f'EventType="{kind}" EventName="{COD_EVENT_NAMES[kind]}" IndexTo="101000" IndexEvent="{index}" '
        f'SumPaymentForward="{amount}" CountryEventCode="RUS" CountryToCode="RUS"/>'
        for when, kind, amount, index in cod_events(state, barcode)
    )
    return envelope(
        SOAP12,
        f'<ns7:PostalOrderEventsForMailResponse xmlns:ns4="{ESPP_NS}" xmlns:ns7="{OH_NS}">'
        f"<ns4:PostalOrderEventsForMaiOutput>{events}</ns4:PostalOrderEventsForMaiOutput>"
        f"</ns7:PostalOrderEventsForMailResponse>",
    )


def fc_envelope(body: str) -> bytes:
    return envelope(SOAP11, body)


def fc_error(element: str, type_id: int, name: str) -> bytes:
    return fc_envelope(
        f'<ns2:{element} xmlns:ns2="{PS_NS}" xmlns:ns3="{FC_NS}">'
        f'<ns2:error ErrorTypeID="{type_id}" ErrorName={quoteattr(name)}/></ns2:{element}>'
    )


@cache
def _operation_attrs(t: int, a: int) -> str:
    return f'OperTypeID="{t}" OperCtgID="{a}" OperName={quoteattr(operation_name(t, a))}'


def _msk_stamp(when: datetime) -> str:
    """dd.MM.yyyy HH:mm:ss in Moscow time (strftime costs more than the rest of an answer)."""
    w = when.astimezone(UTC) + timedelta(hours=3)
    return f"{w.day:02d}.{w.month:02d}.{w.year} {w.hour:02d}:{w.minute:02d}:{w.second:02d}"


def fc_answer(state: State, barcodes_: list[str]) -> bytes:
    prepared = _msk_stamp(state.clock())
    parts = [
        f'<ns2:answerByTicketResponse xmlns:ns2="{PS_NS}" xmlns:ns3="{FC_NS}">'
        f'<ns2:value FileTypeID="2" FileNumber="1" DatePreparation="{prepared}">'
    ]
    for code in barcodes_:
        rows = state.history(code)
        parts.append(f"<ns3:Item Barcode={quoteattr(code)}>")
        if not rows:
            parts.append('<ns3:Error ErrorTypeID="12" ErrorName="Данные по отправлению отсутствуют"/>')
        for when, t, a, index in rows:
            parts.append(
                f'<ns3:Operation {_operation_attrs(t, a)} DateOper="{_msk_stamp(when)}" IndexOper="{index}"/>'
            )
        parts.append("</ns3:Item>")
    parts.append("</ns2:value></ns2:answerByTicketResponse>")
    return fc_envelope("".join(parts))


# -- HTTP ------------------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def state(self) -> State:
        return self.server.state

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json;charset=UTF-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, _json(obj), headers=headers)

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path.rstrip("/"), parse_qs(url.query)
        raw = self.body()
        if path.startswith("/_emulator/"):
            self.admin(path, raw)
            return
        fault = self.state.take_fault()
        if fault is not None and self.apply_fault(fault, path):
            return
        if path in ("/rtm34", "/fc"):
            if method == "GET":
                name = "rtm34.wsdl" if path == "/rtm34" else "fc.wsdl"
                wsdl = (
                    (WSDL_DIR / name)
                    .read_text(encoding="utf-8")
                    .replace("https://tracking.russianpost.ru", self.server.url)
                )
                self.send(200, wsdl.encode(), "text/xml;charset=UTF-8")
            elif path == "/rtm34":
                self.rtm34(raw)
            else:
                self.fc(raw)
            return
        if not self.authorized():
            return
        if any(path.startswith(prefix) for prefix in self.state.config.forbidden):
            self.send_json(403, _error3(403, "ACCESS_VIOLATION", "Нет доступа к методу для этого токена"))
            return
        if not self.rate_ok():
            return
        try:
            self.otpravka(method, path, query, raw)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self.send_json(400, _error3(400, "BAD_REQUEST", f"Некорректный запрос: {exc}"))

    def apply_fault(self, fault: Fault, path: str) -> bool:
        if fault.mode == "slow":
            time.sleep(fault.delay)
            return False
        if fault.mode == "html":
            self.send(
                fault.status,
                b"<html><head><title>502 Bad Gateway</title></head><body>"
                b"<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
                "text/html",
            )
        elif fault.mode == "status":
            self.send(fault.status, b"", "text/plain")
        elif fault.mode == "truncated":
            if path in ("/rtm34", "/fc"):
                self.send(
                    200,
                    b'<?xml version="1.0"?><S:Envelope xmlns:S="' + SOAP11.encode() + b'"><S:Bo',
                    "text/xml",
                )
            else:
                self.send(200, b'{"result-ids": [1, 2', "application/json")
        elif fault.mode == "soap_fault":
            self.send(500, soap11_fault("Внутренняя ошибка сервиса отслеживания"), "text/xml")
        else:
            return False
        return True

    def admin(self, path: str, raw: bytes) -> None:
        data = json.loads(raw or b"{}")
        st = self.state
        if path == "/_emulator/clock":
            if "advance" in data:
                st.offset += timedelta(seconds=float(data["advance"]))
            if "set" in data:
                st.offset += datetime.fromisoformat(data["set"]) - st.clock()
            self.send_json(200, {"now": st.clock().isoformat()})
        elif path == "/_emulator/config":
            for k, v in data.items():
                if not hasattr(st.config, k):
                    self.send_json(400, {"error": f"unknown setting {k}"})
                    return
                setattr(st.config, k, tuple(v) if isinstance(v, list) else v)
            self.send_json(200, {"ok": True})
        elif path == "/_emulator/fault":
            st.faults.append(
                Fault(
                    mode=data["mode"],
                    count=int(data.get("count", 1)),
                    status=int(data.get("status", 502)),
                    delay=float(data.get("delay", 0)),
                )
            )
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": "unknown admin endpoint"})

    def authorized(self) -> bool:
        cfg = self.state.config
        token = self.headers.get("Authorization", "")
        user = self.headers.get("X-User-Authorization", "")
        expected_user = "Basic " + base64.b64encode(f"{cfg.login}:{cfg.password}".encode()).decode()
        if token != f"AccessToken {cfg.token}":
            self.send_json(401, _error3(401, "INVALID_TOKEN", "Неверный токен авторизации приложения"))
            return False
        if user != expected_user:
            self.send_json(
                401, _error3(401, "INVALID_USER_CREDENTIALS", "Неверный логин или пароль пользователя")
            )
            return False
        return True

    def rate_ok(self) -> bool:
        st, cfg = self.state, self.state.config
        if cfg.rate_per_second:
            sec = int(time.monotonic())
            with st.lock:
                current, n = st.second
                st.second = (sec, n + 1) if current == sec else (sec, 1)
                over = st.second[1] > cfg.rate_per_second
            if over:
                self.send_json(
                    429,
                    _error3(429, "TOO_MANY_REQUESTS", "Слишком много запросов в секунду"),
                    headers={"Retry-After": "1"},
                )
                return False
        if not st.count("otpravka", cfg.login, cfg.daily_limit):
            self.send_json(429, _error3(429, "LIMIT_EXCEEDED", "Превышен суточный лимит запросов"))
            return False
        return True

    # -- Otpravka --------------------------------------------------------------------------------
    def otpravka(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> None:
        st, cfg = self.state, self.state.config
        data: Any = json.loads(raw) if raw else None
        parts = path.strip("/").split("/")
        if parts[0] == "postoffice":
            self.postoffice(method, parts, query)
            return
        if method == "GET" and path == "/1.0/settings":
            self.send_json(
                200,
                {
                    "login": cfg.login,
                    "shipping-points": list(cfg.shipping_points or ("101000",)),
                    "use-online-balance": False,
                },
            )
        elif method == "GET" and path == "/1.0/settings/limit":
            used = st.counts.get(f"{st.clock().date()}:otpravka:{cfg.login}", 0)
            self.send_json(200, {"allowed-count": cfg.daily_limit, "current-count": used})
        elif method == "GET" and path == "/1.0/counterpart/balance":
            self.send_json(
                200,
                {"balance": 1_000_000, "balance-date": str(st.clock().date()), "work-with-balance": False},
            )
        elif method == "GET" and path == "/1.0/user-shipping-points":
            self.send_json(
                200,
                [
                    {"operator-postcode": p, "ops-address": f"ОПС {p}", "enabled": True}
                    for p in cfg.shipping_points or ("101000",)
                ],
            )
        elif method == "POST" and path == "/1.0/tariff":
            self.tariff(data)
        elif method == "POST" and path == "/1.0/clean/address":
            self.send_json(200, [self.clean(item) for item in data])
        elif method == "PUT" and path == "/1.0/user/backlog":
            self.create_orders(data)
        elif method == "GET" and path == "/1.0/backlog/search":
            # new orders only: those in a batch are found by /1.0/shipment/search
            wanted = (query.get("query") or [""])[0]
            self.send_json(200, [public(o) for o in st.orders.values()
                                 if str(o.get("order-num")) == wanted and not o.get("batch-name")])
        elif method == "GET" and len(parts) == 3 and parts[1] == "backlog":
            order = st.orders.get(int(parts[2]))
            if order is None:
                self.send_json(404, _error3(404, "NOT_FOUND", "Заказ не найден"))
            else:
                self.send_json(200, public(order))
        elif method == "DELETE" and path == "/1.0/backlog":
            self.delete_orders(data)
        elif method == "POST" and path == "/1.0/user/shipment":
            self.create_batches(data, (query.get("sending-date") or [""])[0])
        elif method == "GET" and len(parts) == 3 and parts[1] == "batch":
            batch = st.batches.get(parts[2])
            if batch is None:
                self.send_json(404, {"error-code": "NOT_FOUND"})
            else:
                self.send_json(200, emulator_backoffice.public_batch(batch))
        elif method == "GET" and len(parts) == 4 and parts[1] == "batch" and parts[3] == "shipment":
            batch = st.batches.get(parts[2])
            if batch is None:
                self.send_json(404, {"error-code": "NOT_FOUND"})
                return
            size = int((query.get("size") or ["100"])[0])
            page = int((query.get("page") or ["0"])[0])
            chunk = batch["ids"][page * size : (page + 1) * size]
            self.send_json(
                200,
                [public(st.orders[i]) for i in chunk],
            )
        elif method in ("POST", "GET") and len(parts) == 4 and parts[1] == "batch" and parts[3] == "checkin":
            # POST per two SDKs and the docs mirror; GET as appwilio and fs-pochta-api send it.
            self.checkin(parts[2])
        elif method == "GET" and len(parts) == 4 and parts[1] == "forms":
            self.forms(parts[2], parts[3])
        elif method == "GET" and len(parts) == 5 and parts[1:3] == ["forms", "backlog"]:
            self.forms(parts[3], "f7pdf")
        elif emulator_backoffice.route(self, method, parts, query, data):
            pass
        else:
            self.send_json(404, _error3(404, "NOT_FOUND", f"Метод {method} {path} не найден"))

    def postoffice(self, method: str, parts: list[str], query: dict[str, list[str]]) -> None:
        """``GET /postoffice/1.0/{index}`` (an office object) and ``/postoffice/1.0/by-address``
        (``{"is-matched", "postoffices": [indexes, most relevant first]}``)."""
        if method == "GET" and parts[1:2] == ["1.0"] and emulator_backoffice.postoffice_route(
                self, parts, query):
            return
        if method != "GET" or len(parts) != 3 or parts[1] != "1.0":
            self.send_json(404, _error3(404, "NOT_FOUND", f"Метод {method} /{'/'.join(parts)} не найден"))
            return
        if parts[2] == "by-address":
            words = [w.strip(" ,.").lower() for w in (query.get("address") or [""])[0].split()]
            words = [w for w in words if len(w) > 2]
            top = int((query.get("top") or ["3"])[0])
            found = [r[0] for r in OFFICES
                     if words and all(w in f"{r[1]} {r[2]} {r[3]}".lower() for w in words)]
            self.send_json(200, {"is-matched": False, "postoffices": found[:top]})
            return
        office = post_office(parts[2])
        if office is None:
            self.send_json(404, _error3(404, "NOT_FOUND", f"Отделение {parts[2]} не найдено"))
        else:
            self.send_json(200, office)

    def tariff(self, data: dict[str, Any]) -> None:
        cfg = self.state.config
        if cfg.shipping_points and str(data.get("index-from", "")) not in cfg.shipping_points:
            self.send_json(
                400,
                _error3(
                    400, "ILLEGAL_POSTOFFICE_CODE", "Индекс отправителя не является точкой сдачи пользователя"
                ),
            )
            return
        index_to = str(data.get("index-to", ""))
        if not (index_to.isdigit() and len(index_to) == 6):
            self.send_json(400, _error3(400, "ILLEGAL_INDEX_TO", "Недопустимый индекс получателя"))
            return
        mass = data.get("mass")
        mail_type = str(data.get("mail-type") or "")
        if mail_type not in MAIL_TYPES:
            self.send_json(400, _error3(400, "ILLEGAL_MAIL_TYPE", "Недопустимый вид РПО"))
            return
        if not isinstance(mass, int) or mass <= 0 or mass > MAX_MASS.get(mail_type, 20000):
            self.send_json(400, _error3(400, "ILLEGAL_MASS", "Недопустимый вес"))
            return
        self.send_json(
            200,
            tariff_kopecks(mass, mail_type, int(data.get("declared-value") or 0), bool(data.get("fragile"))),
        )

    @staticmethod
    def clean(item: dict[str, Any]) -> dict[str, Any]:
        original = str(item.get("original-address", ""))
        digits = next(
            (w.strip(",") for w in original.split() if w.strip(",").isdigit() and len(w.strip(",")) == 6), ""
        )
        words = [w.strip() for w in original.split(",") if w.strip()]
        good = len(words) >= 3
        return {
            "id": item.get("id"),
            "original-address": original,
            "address-type": "DEFAULT",
            "index": digits or ("115127" if "москва" in original.lower() else ""),
            "place": words[0] if words else "",
            "street": words[1] if len(words) > 1 else "",
            "house": words[2] if len(words) > 2 else "",
            "quality-code": "GOOD" if good else "UNDEF_04",
            "validation-code": "VALIDATED" if good else "NOT_VALIDATED_HAS_NO_MAIN_POINTS",
        }

    def create_orders(self, data: list[dict[str, Any]]) -> None:
        st = self.state
        ids: list[int] = []
        errors: list[dict[str, Any]] = []
        for pos, order in enumerate(data):
            errs = validate_order(order, st.config.shipping_points)
            if errs:
                errors.append({"error-codes": errs, "position": pos})
                continue
            with st.lock:
                oid = st.next_id
                st.next_id += 1
            comment = str(order.get("comment") or "")
            scenario = comment.split("scenario=", 1)[1].split()[0] if "scenario=" in comment else ""
            st.orders[oid] = {**order, "id": oid, "version": 0, "scenario": scenario}
            ids.append(oid)
        body: dict[str, Any] = {"result-ids": ids}
        if errors:
            body["errors"] = errors
        self.send_json(200, body)

    def delete_orders(self, ids: list[int]) -> None:
        st = self.state
        done, errors = [], []
        for pos, oid in enumerate(ids):
            order = st.orders.get(int(oid))
            problem = _new_order_problem(order, pos)
            if problem is not None:
                errors.append(problem)
            else:
                assert order is not None
                del st.orders[int(oid)]
                done.append(oid)
        self.send_json(200, {"result-ids": done, "errors": errors})

    def create_batches(self, ids: list[int], sending_date: str) -> None:
        st = self.state
        try:
            day = date.fromisoformat(sending_date)
        except ValueError:
            self.send_json(400, _error3(400, "BAD_REQUEST", "Не указана или неверна дата сдачи sending-date"))
            return
        # In the past only when it is past everywhere in Russia: a shop in Kaliningrad
        # (UTC+2) still has its "today" when Moscow already has the next day.
        if day < st.clock().astimezone(EARLIEST_RU).date():
            self.send_json(
                200,
                {
                    "batches": [],
                    "result-ids": [],
                    "errors": [
                        {
                            "error-code": "PAST_DUE_DATE",
                            "error-description": "Дата сдачи в прошлом",
                            "position": p,
                        }
                        for p in range(len(ids))
                    ],
                },
            )
            return
        groups: dict[tuple[str, str], list[int]] = {}
        errors = []
        for pos, oid in enumerate(ids):
            order = st.orders.get(int(oid))
            problem = _new_order_problem(order, pos)
            if problem is not None:
                errors.append(problem)
            else:
                assert order is not None
                groups.setdefault((order["mail-type"], order["mail-category"]), []).append(int(oid))
        batches, moved = [], []
        for (mail_type, category), group in groups.items():
            with st.lock:
                name = str(st.next_batch)
                st.next_batch += 1
            orders = [st.orders[i] for i in group]
            for order in orders:
                order["barcode"] = st.new_barcode(order)
                order["batch-name"] = name
                order["batch-status"] = "CREATED"
                order["last-oper-type"], order["last-oper-attr"] = "ID_ASSIGNMENT", "ID_ASSIGNED"
                order["scenario"] = order["scenario"] or scenario_for(order["barcode"])
                st.by_barcode[order["barcode"]] = order["id"]
            batch = {
                "batch-name": name,
                "batch-status": "CREATED",
                "list-number": int(name),
                "list-number-date": day.isoformat(),
                "mail-type": mail_type,
                "mail-category": category,
                "postoffice-code": str(orders[0].get("postoffice-code") or "101000"),
                "shipment-count": len(orders),
                "shipment-mass": sum(int(o["mass"]) for o in orders),
                "ids": group,
            }
            st.batches[name] = batch
            batches.append({k: v for k, v in batch.items() if k != "ids"})
            moved.extend(group)
        self.send_json(200, {"batches": batches, "result-ids": moved, "errors": errors})

    def checkin(self, name: str) -> None:
        st = self.state
        batch = st.batches.get(name)
        if batch is None:
            self.send_json(404, {"error-code": "NOT_FOUND"})
            return
        if batch["batch-status"] != "CREATED":
            self.send_json(200, {"error-code": "ALL_SHIPMENTS_SENT"})
            return
        batch["batch-status"] = "FROZEN"
        # accepted at the counter two hours after the check-in; in a paced demo, one step after
        pace = st.config.step_seconds
        accepted = st.clock() + (timedelta(seconds=pace) if pace else timedelta(hours=2))
        for oid in batch["ids"]:
            st.orders[oid]["batch-status"] = "FROZEN"
            st.orders[oid]["accepted-at"] = accepted
        self.send_json(200, {"f103-sent": True})

    def forms(self, key: str, kind: str) -> None:
        st = self.state
        if kind in ("f103pdf", "zip-all"):
            batch = st.batches.get(key)
            if batch is None:
                self.send_json(404, {"error-code": "NOT_FOUND"})
                return
            orders = [st.orders[i] for i in batch["ids"]]
            pdf = f103_pdf(batch, orders)
            if kind == "f103pdf":
                self.send(
                    200,
                    pdf,
                    "application/pdf",
                    {"Content-Disposition": f'attachment; filename="F103_{key}.pdf"'},
                )
                return
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("F103.pdf", pdf)
                table = io.StringIO()
                writer = csv.writer(table, delimiter=";")
                writer.writerow(["ШПИ", "Получатель", "Индекс", "Вес"])
                for o in orders:
                    writer.writerow([o["barcode"], o.get("recipient-name", ""), o.get("index-to"), o["mass"]])
                    zf.writestr(f"F7_{o['barcode']}.pdf", f7_pdf(o))
                zf.writestr("Export.csv", table.getvalue())
            self.send(
                200,
                buf.getvalue(),
                "application/zip",
                {"Content-Disposition": f'attachment; filename="all-pdf-{key}.zip"'},
            )
            return
        if kind in ("f7pdf", "forms"):
            order = st.orders.get(int(key)) if key.isdigit() else None
            if order is None:
                self.send_json(404, _error3(404, "NOT_FOUND", "Заказ не найден"))
                return
            self.send(
                200,
                f7_pdf(order),
                "application/pdf",
                {"Content-Disposition": f'attachment; filename="f7p_{key}.pdf"'},
            )
            return
        self.send_json(404, _error3(404, "NOT_FOUND", f"Форма {kind} не найдена"))

    # -- tracking --------------------------------------------------------------------------------
    def rtm34(self, raw: bytes) -> None:
        st, cfg = self.state, self.state.config
        ctype = "application/soap+xml;charset=UTF-8"
        try:
            root = ET.fromstring(raw)  # noqa: S314 - loopback emulator input
        except ET.ParseError:
            self.send(500, soap12_fault("Некорректный SOAP-запрос", "OperationHistoryFaultReason"), ctype)
            return
        if _text(root, "login") != cfg.tracking_login or _text(root, "password") != cfg.tracking_password:
            self.send(
                500,
                soap12_fault("Ошибка авторизации: неверный логин или пароль", "AuthorizationFaultReason"),
                ctype,
            )
            return
        if not st.count("rtm34", cfg.tracking_login, cfg.single_tracking_daily_limit):
            self.send(
                500,
                soap12_fault("Превышен суточный лимит запросов (100)", "OperationHistoryFaultReason"),
                ctype,
            )
            return
        cod_input = next(
            (el for el in root.iter() if el.tag.endswith("}PostalOrderEventsForMailInput")), None
        )
        barcode = (cod_input.get("Barcode", "") if cod_input is not None else _text(root, "Barcode")).upper()
        if not barcodes.is_valid(barcode):
            self.send(
                500,
                soap12_fault(
                    f"Некорректный идентификатор отправления {barcode}", "OperationHistoryFaultReason"
                ),
                ctype,
            )
            return
        if cod_input is not None:
            self.send(200, cod_response(st, barcode), ctype)
            return
        self.send(200, rtm34_response(st, barcode, st.history(barcode)), ctype)

    def fc(self, raw: bytes) -> None:
        st, cfg = self.state, self.state.config
        ctype = "text/xml;charset=UTF-8"
        try:
            root = ET.fromstring(raw)  # noqa: S314 - loopback emulator input
        except ET.ParseError:
            self.send(500, soap11_fault("Некорректный SOAP-запрос"), ctype)
            return
        body = next((el for el in root.iter() if el.tag.endswith("}Body")), None)
        op = body[0].tag.rsplit("}", 1)[-1] if body is not None and len(body) else ""
        element = "ticketResponse" if op == "ticketRequest" else "answerByTicketResponse"
        if op not in ("ticketRequest", "answerByTicketRequest"):
            self.send(500, soap11_fault(f"Неизвестная операция {op}"), ctype)
            return
        if _text(root, "login") != cfg.tracking_login or _text(root, "password") != cfg.tracking_password:
            self.send(200, fc_error(element, 3, "Ошибка авторизации"), ctype)
            return
        if op == "ticketRequest":
            items = [el.get("Barcode", "").strip().upper() for el in root.iter() if el.tag.endswith("}Item")]
            if not items:
                self.send(200, fc_error(element, 2, "Неверный формат запроса"), ctype)
                return
            if len(items) > 3000:
                self.send(
                    200, fc_error(element, 18, "Превышено количество идентификаторов в запросе (3000)"), ctype
                )
                return
            now = st.clock()
            with st.lock:
                ticket = now.astimezone(MSK).strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
                ticket += cfg.tracking_login.upper()
                while ticket in st.tickets:
                    ticket = ticket[:17] + str(len(st.tickets)) + cfg.tracking_login.upper()
                st.tickets[ticket] = (now, items)
                while len(st.tickets) > MAX_TICKETS:  # a load target must not grow without bound
                    st.tickets.pop(next(iter(st.tickets)))
            self.send(
                200,
                fc_envelope(
                    f'<ns2:ticketResponse xmlns:ns2="{PS_NS}"><ns2:value>{ticket}'
                    f"</ns2:value></ns2:ticketResponse>"
                ),
                ctype,
            )
            return
        ticket = _text(root, "ticket")
        entry = st.tickets.get(ticket)
        if entry is None or st.clock() - entry[0] > timedelta(hours=32):
            self.send(200, fc_error(element, 17, "Ответ по билету не найден или удалён"), ctype)
            return
        if st.clock() - entry[0] < timedelta(seconds=cfg.ticket_delay_seconds):
            self.send(200, fc_error(element, 6, "Ответ для билета ещё не готов"), ctype)
            return
        self.send(200, fc_answer(st, entry[1]), ctype)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: State) -> None:
        super().__init__(address, Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timed out) is normal for a test target; anything else is printed."""
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.shutdown()


def start(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> EmulatorServer:
    """Served from a background thread, its timing from the environment (``make run``'s
    demo pace): what ``shipdesk emulate russian_post --port N`` serves."""
    return serve(host, port)


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    now: Callable[[], datetime] | None = None,
    config: Config | None = None,
    speed: float | None = None,
) -> EmulatorServer:
    """Starts the emulator in a background thread; ``.shutdown()`` stops it.

    Its clock is the real time. ``config`` defaults to the real service's timing, or what
    ``SHIPDESK_SANDBOX_TICKET_DELAY`` and ``SHIPDESK_SANDBOX_STEP_SECONDS`` say (``make run``
    sets both short). ``now`` and ``speed`` are test hooks: an injected clock, and how many
    emulated seconds pass per second of it (1 unless a test says otherwise)."""
    if config is None:
        config = Config(ticket_delay_seconds=ticket_delay_from_env(), step_seconds=step_seconds_from_env())
    state = State(config=config, speed=1.0 if speed is None else speed)
    if now is not None:
        state.now = now
        state.origin = now()
    server = EmulatorServer((host, port), state)
    thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05),
        name=f"russian-post-emulator:{port}",
        # Not a daemon: ``shipdesk emulate`` returns from serve() and the process keeps serving
        # until the server is shut down (tests call .shutdown(); Ctrl-C ends the command).
        daemon=False,
    )
    thread.start()
    original_shutdown = server.shutdown

    def shutdown() -> None:
        original_shutdown()
        server.server_close()

    server.shutdown = shutdown  # type: ignore[method-assign]
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Эмулятор API Почты России (Отправка + трекинг)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--speed", type=float, default=None, help="test hook: emulated s per real s")
    parser.add_argument(
        "--ticket-delay",
        type=float,
        default=ticket_delay_from_env(),
        help="seconds before a tracking ticket's answer is ready (default 900, as the real service)",
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=step_seconds_from_env(),
        help="seconds between a parcel's scripted operations (default 0: the scenario's own hours and days)",
    )
    args = parser.parse_args(argv)
    config = Config(ticket_delay_seconds=args.ticket_delay, step_seconds=max(0.0, args.step_seconds))
    server = serve(args.host, args.port, speed=args.speed, config=config)
    print(f"Russian Post emulator on {server.url} (token test-token, login test / test)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
