"""A CDEK API v2 emulator: OAuth client credentials, orders (async create, get, delete),
tariff calculation, delivery points, print forms (create, poll, download PDF), webhooks it
really posts, COD registries; tracking scenarios on its clock (the real time unless a test
moves it; paced by ``step_seconds`` in the sandbox of ``make run``); CDEK's own
error shape ``{"requests":[{"state":"INVALID","errors":[{"code","message"}]}]}``.

Validation is asynchronous as at CDEK: a request that breaks the schema (a required field
missing) gets HTTP 400 at once; an order that is well-formed but wrong for CDEK (an unknown
tariff, pickup point or a duplicate shop number) is accepted with 202 and shows
``requests[].state = INVALID`` with its ``errors[]`` on ``GET /v2/orders/{uuid}``.
Tokens are HS256 JWTs with ``exp``; the published tariff and status lists are data
(``data/*.json``). Courier pick-up requests (``/v2/intakes``) are served too.

Served under ``/v2`` like the real host (``https://api.cdek.ru/v2``)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt

from shipdesk.carriers import scenarios
from shipdesk.carriers.emulation import (
    App,
    Request,
    Response,
    json_response,
    serve_app,
    step_seconds_from_env,
)
from shipdesk.carriers.labels import label_pdf

DEFAULT_PORT = 18201
SANDBOX_BASE_PATH = "/v2"
CLIENT_ID = "shipdesk-cdek-sandbox"
CLIENT_SECRET = "shipdesk-cdek-sandbox-secret"  # noqa: S105 (the emulator's public test account)
SANDBOX_CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

DATA = Path(__file__).resolve().parent / "data"
STATUS_NAMES: dict[str, str] = {
    row["code"]: row["name"]
    for row in json.loads((DATA / "order_statuses.json").read_text(encoding="utf-8"))["statuses"]
}

# scenario step -> (code, reason code)
STEP_CODES: dict[str, tuple[str, str]] = {
    "created": ("CREATED", ""),
    "accepted": ("RECEIVED_AT_SHIPMENT_WAREHOUSE", ""),
    "in_transit": ("SENT_TO_RECIPIENT_CITY", ""),
    "customs": ("IN_CUSTOMS_INTERNATIONAL", ""),
    "arrived": ("ACCEPTED_AT_PICK_UP_POINT", ""),
    "out_for_delivery": ("TAKEN_BY_COURIER", ""),
    "delivery_failed": ("RETURNED_TO_RECIPIENT_CITY_WAREHOUSE", ""),
    "delivered": ("DELIVERED", ""),
    "partially_delivered": ("DELIVERED", "20"),
    "refused": ("NOT_DELIVERED", "11"),
    "storage_expired": ("NOT_DELIVERED", "23"),
    "returning": ("SENT_TO_SENDER_CITY", ""),
    "returned": ("DELIVERED", ""),  # played by the return order
    "lost": ("NOT_DELIVERED", "26"),
}

_TARIFF_DATA = json.loads((DATA / "tariffs.json").read_text(encoding="utf-8"))
DELIVERY_MODE_NAMES: dict[int, str] = {int(k): v for k, v in _TARIFF_DATA["delivery_modes"].items()}
# The emulator's prices: a base per delivery mode (door costs more than a warehouse), a
# family surcharge or discount, plus 45 ₽ per started 500 g above the first 500 g.
_MODE_BASE = {4: 290, 3: 390, 2: 340, 1: 440, 7: 270, 6: 320, 8: 420, 9: 300, 10: 280}
_FAMILY = (("Экономичная", -60, 4, 8), ("Экспресс", 150, 1, 3), ("Магистральный", 230, 1, 2),
           ("Международный", 900, 4, 9), ("E-com", 100, 3, 6), ("CDEK Express", 700, 5, 10),
           ("Сборный", 400, 4, 7))


def _tariff_row(row: dict[str, Any]) -> tuple[str, int, Decimal, int, int]:
    name, mode = str(row["tariff_name"]), int(row["delivery_mode"])
    extra, pmin, pmax = 0, 2, 4
    for prefix, surcharge, low, high in _FAMILY:
        if name.startswith(prefix):
            extra, pmin, pmax = surcharge, low, high
            break
    return name, mode, Decimal(_MODE_BASE[mode] + extra), pmin, pmax


# code: (name, delivery_mode, base price, period_min, period_max): CDEK's published list
TARIFFS: dict[int, tuple[str, int, Decimal, int, int]] = {
    int(row["tariff_code"]): _tariff_row(row) for row in _TARIFF_DATA["tariffs"]
}
TARIFF_ORDER_TYPES: dict[int, int] = {
    int(r["tariff_code"]): int(r["order_type"]) for r in _TARIFF_DATA["tariffs"]
}
SHOP_TARIFFS = tuple(code for code, kind in TARIFF_ORDER_TYPES.items() if kind == 1)  # order type 1

# A sample of CDEK's city directory: code: (city, region, first postal code)
CITIES = {
    44: ("Москва", "Москва", "101000"),
    137: ("Санкт-Петербург", "Санкт-Петербург", "190000"),
    270: ("Новосибирск", "Новосибирская обл.", "630000"),
    268: ("Омск", "Омская обл.", "644000"),
    250: ("Екатеринбург", "Свердловская обл.", "620000"),
    424: ("Казань", "Респ. Татарстан", "420000"),
    414: ("Нижний Новгород", "Нижегородская обл.", "603000"),
    435: ("Краснодар", "Краснодарский край", "350000"),
    438: ("Ростов-на-Дону", "Ростовская обл.", "344000"),
    430: ("Самара", "Самарская обл.", "443000"),
    1095: ("Москворечье", "Московская обл.", "142000"),
}
# city code: (postal codes, longitude, latitude, time zone)
CITY_DETAILS: dict[int, tuple[tuple[str, ...], float, float, str]] = {
    44: (("101000", "119002", "125009"), 37.6176, 55.7558, "Europe/Moscow"),
    137: (("190000", "191025"), 30.3141, 59.9386, "Europe/Moscow"),
    270: (("630000", "630099"), 82.9204, 55.0302, "Asia/Novosibirsk"),
    268: (("644000", "644024", "644099"), 73.3682, 54.9893, "Asia/Omsk"),
    250: (("620000", "620014"), 60.6122, 56.8519, "Asia/Yekaterinburg"),
    424: (("420000", "420111"), 49.1221, 55.7887, "Europe/Moscow"),
    414: (("603000", "603005"), 44.0020, 56.3287, "Europe/Moscow"),
    435: (("350000", "350063"), 38.9760, 45.0355, "Europe/Moscow"),
    438: (("344000", "344002"), 39.7203, 47.2225, "Europe/Moscow"),
    430: (("443000", "443099"), 50.1002, 53.1959, "Europe/Samara"),
    1095: (("142000",), 37.8000, 55.4000, "Europe/Moscow"),
}
# region name: CDEK region code (a sample)
REGION_CODES = {
    "Москва": 81, "Санкт-Петербург": 82, "Новосибирская обл.": 23, "Омская обл.": 27,
    "Свердловская обл.": 41, "Респ. Татарстан": 8, "Нижегородская обл.": 24,
    "Краснодарский край": 7, "Ростовская обл.": 38, "Самарская обл.": 40, "Московская обл.": 9,
}
INTAKE_STATUS_NAMES = {
    "ACCEPTED": "Принят", "CREATED": "Создан", "REMOVED": "Отменена",
    "READY_FOR_APPOINTMENT": "Готова к назначению", "APPOINTED_COURIER": "Назначен курьер",
    "DONE": "Выполнена", "PROBLEM_DETECTED": "Выявлена проблема",
    "PROCESSING_REQUIRED": "Требует обработки", "INVALID": "Некорректная заявка",
}
BARCODE_FORMATS = ("A4", "A5", "A6", "A7")

OFFICES: list[dict[str, Any]] = [
    {
        "code": "MSK5",
        "city_code": 44,
        "type": "PVZ",
        "address": "ул. Большая Дмитровка, 7/5, стр. 1",
        "postal_code": "125009",
        "lat": 55.7601,
        "lon": 37.6150,
        "hours": "Пн-Вс 09:00-21:00",
    },
    {
        "code": "MSK142",
        "city_code": 44,
        "type": "POSTAMAT",
        "address": "ул. Арбат, 24",
        "postal_code": "119002",
        "lat": 55.7500,
        "lon": 37.5920,
        "hours": "Пн-Вс 00:00-23:59",
    },
    {
        "code": "SPB12",
        "city_code": 137,
        "type": "PVZ",
        "address": "Невский пр., 88",
        "postal_code": "191025",
        "lat": 59.9320,
        "lon": 30.3480,
        "hours": "Пн-Вс 10:00-21:00",
    },
    {
        "code": "OMS3",
        "city_code": 268,
        "type": "PVZ",
        "address": "ул. Ленина, 18",
        "postal_code": "644024",
        "lat": 54.9850,
        "lon": 73.3700,
        "hours": "Пн-Сб 10:00-20:00",
    },
]


MSK = timezone(timedelta(hours=3))


def keep_free_until(order: Order, now: datetime, step_seconds: float = 0.0) -> str | None:
    """``keep_free_until`` of an order that reached its pickup point: the last day before
    the scenarios' storage runs out (7 days after arrival), a date in the point's calendar
    (Moscow here); ``None`` before arrival and for return orders."""
    if order.is_return:
        return None
    hours = (now - order.created_at).total_seconds() / 3600
    steps = scenarios.steps_until(order.scenario, hours, step_seconds)
    arrived = next((at for at, step in steps if step == "arrived"), None)
    if arrived is None:
        return None
    last = order.created_at + timedelta(hours=arrived) + timedelta(days=scenarios.STORAGE_DAYS - 1)
    return last.astimezone(MSK).date().isoformat()


def cdek_time(moment: datetime) -> str:
    """CDEK's datetime format: ``2019-07-11T13:07:34+0700``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class Order:
    uuid: str
    cdek_number: str
    number: str
    body: dict[str, Any]
    created_at: datetime
    scenario: str
    cod: Decimal
    is_return: bool = False
    direct_uuid: str = ""
    return_uuid: str = ""
    removed_at: datetime | None = None
    sent: set[str] = field(default_factory=set)
    # CDEK's later verdict on a 202-accepted order: its errors make the order INVALID
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def invalid(self) -> bool:
        return bool(self.errors)


@dataclass
class PrintJob:
    uuid: str
    kind: str  # barcodes | orders
    order_uuids: list[str]
    polls: int = 0
    copy_count: int = 1
    format: str = "A4"


@dataclass
class Intake:
    uuid: str
    number: str
    body: dict[str, Any]
    created_at: datetime
    removed_at: datetime | None = None


class CdekEmulator(App):
    def __init__(self, *, step_seconds: float = 0.0, token_ttl: int = 3600) -> None:
        super().__init__(step_seconds=step_seconds)
        self.clients = {CLIENT_ID: CLIENT_SECRET}
        self.tokens: dict[str, float] = {}  # issued and not revoked: token -> exp (Unix time)
        self.token_ttl = token_ttl
        self.jwt_key = secrets.token_bytes(32)  # signs this emulator's tokens (HS256)
        self.refuse_tokens = False  # every token refused (a revoked account)
        # how long (emulator clock) CDEK takes to validate an accepted order
        self.validation_delay = timedelta(0)
        self.intakes: dict[str, Intake] = {}
        self.next_intake_number = 2_001_000_001
        self.orders: dict[str, Order] = {}
        self.by_number: dict[str, Order] = {}
        self.prints: dict[str, PrintJob] = {}
        self.webhooks: dict[str, dict[str, str]] = {}
        self.next_number = 1_106_000_001
        self.rate_limit_per_second = 0
        self._window = (0, 0)
        self.token_requests = 0
        self.forbidden_paths: set[str] = set()  # "no access to this method" for the account
        self.route("POST", "/v2/oauth/token", self.oauth)
        self.route("POST", "/__emulator__/expire_tokens", self.expire_tokens)
        for method, path, handler in [
            ("POST", "/v2/orders", self.order_create),
            ("GET", "/v2/orders", self.order_find),
            ("GET", "/v2/orders/{uuid}", self.order_get),
            ("DELETE", "/v2/orders/{uuid}", self.order_delete),
            ("POST", "/v2/calculator/tarifflist", self.tarifflist),
            ("POST", "/v2/calculator/tariff", self.tariff),
            ("GET", "/v2/deliverypoints", self.deliverypoints),
            ("GET", "/v2/location/cities", self.cities),
            ("GET", "/v2/location/regions", self.regions),
            ("GET", "/v2/location/suggest/cities", self.suggest_cities),
            ("GET", "/v2/calculator/alltariffs", self.alltariffs),
            ("POST", "/v2/intakes", self.intake_create),
            ("GET", "/v2/intakes/availableDays", self.intake_days),
            ("POST", "/v2/intakes/availableDays", self.intake_days),
            ("GET", "/v2/intakes/{uuid}", self.intake_get),
            ("DELETE", "/v2/intakes/{uuid}", self.intake_delete),
            ("POST", "/v2/print/barcodes", self.print_create),
            ("GET", "/v2/print/barcodes/{uuid}", self.print_get),
            ("POST", "/v2/print/orders", self.print_create),
            ("GET", "/v2/print/orders/{uuid}", self.print_get),
            ("POST", "/v2/webhooks", self.webhook_create),
            ("GET", "/v2/webhooks", self.webhook_list),
            ("GET", "/v2/webhooks/{uuid}", self.webhook_get),
            ("DELETE", "/v2/webhooks/{uuid}", self.webhook_delete),
            ("GET", "/v2/registries", self.registries),
        ]:
            self.route(method, path, self._authed(handler))

    # --- auth and limits -----------------------------------------------------------------
    def oauth(self, request: Request) -> Response:
        # the documented form puts the parameters in the query string; clients also send a
        # form body: both are read (the body wins)
        form = {k: v[0] for k, v in request.query.items() if v}
        if "x-www-form-urlencoded" in request.header("content-type") or not form:
            form.update(request.form())
        self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return json_response(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}, 400
            )
        if self.clients.get(form.get("client_id", "")) != form.get("client_secret") or not form.get(
            "client_id"
        ):
            return json_response({"error": "invalid_client", "error_description": "Bad credentials"}, 401)
        now = int(time.time())
        jti = str(uuid.uuid4())
        token = jwt.encode(
            {"scope": ["order:all", "payment:all"], "exp": now + self.token_ttl, "iat": now,
             "jti": jti, "client_id": form["client_id"], "authorities": ["SHARED-INTEGRATION"]},
            self.jwt_key, algorithm="HS256")
        self.tokens[token] = now + self.token_ttl
        return json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_ttl,
                "scope": "order:all payment:all",
                "jti": jti,
            }
        )

    def expire_tokens(self, request: Request) -> Response:
        self.tokens.clear()
        return json_response({"expired": True})

    @staticmethod
    def invalid(status: int, kind: str, errors: list[tuple[str, str]]) -> Response:
        return json_response(
            {
                "requests": [
                    {
                        "type": kind,
                        "state": "INVALID",
                        "date_time": cdek_time(datetime.now(UTC)),
                        "errors": [{"code": c, "message": m} for c, m in errors],
                    }
                ]
            },
            status,
        )

    def _authed(self, handler: Any) -> Any:
        def wrapped(request: Request) -> Response:
            auth = request.header("authorization")
            token = auth[7:] if auth.startswith("Bearer ") else ""
            if self.refuse_tokens or token not in self.tokens:
                return self.invalid(401, "AUTH", [("v2_token_expired", "Token is expired or invalid")])
            try:
                jwt.decode(token, self.jwt_key, algorithms=["HS256"])
            except jwt.InvalidTokenError:  # expired (``exp``) or not ours
                return self.invalid(401, "AUTH", [("v2_token_expired", "Token is expired or invalid")])
            if request.path in self.forbidden_paths:
                return self.invalid(403, "GET", [("v2_forbidden", "Access to the method is denied")])
            if self.rate_limit_per_second:
                second = int(time.time())
                with self.lock:
                    window, used = self._window
                    used = used + 1 if window == second else 1
                    self._window = (second, used)
                if used > self.rate_limit_per_second:
                    return json_response(
                        {"errors": [{"code": "v2_too_many_requests", "message": "Too many requests"}]},
                        429,
                        {"Retry-After": "1"},
                    )
            return handler(request)

        return wrapped

    # --- orders --------------------------------------------------------------------------
    def _validate_order(self, body: Any) -> list[tuple[str, str]]:
        """What the request itself breaks (HTTP 400 at once)."""
        if not isinstance(body, dict):
            return [("v2_bad_request", "Request body must be an object")]
        errors: list[tuple[str, str]] = []
        tariff = body.get("tariff_code")
        if tariff in (None, ""):
            errors.append(("v2_field_is_empty", "Не задано поле [tariff_code]"))
        elif not isinstance(tariff, int):
            errors.append(("v2_invalid_value_type", f"Неверный тип поля [tariff_code] {tariff}"))
        recipient = body.get("recipient") or {}
        if not recipient.get("name"):
            errors.append(("v2_field_is_empty", "Не задано поле [recipient.name]"))
        phones = recipient.get("phones") or []
        if not phones or not all(isinstance(p, dict) and p.get("number") for p in phones):
            errors.append(("v2_field_is_empty", "Не задано поле [recipient.phones]"))
        if not body.get("delivery_point") and not (body.get("to_location") or {}).get("address"):
            errors.append(("v2_field_is_empty", "Не задано поле [to_location.address] или [delivery_point]"))
        packages = body.get("packages")
        if not isinstance(packages, list) or not packages:
            errors.append(("v2_field_is_empty", "Не задано поле [packages]"))
        else:
            for i, package in enumerate(packages):
                weight = package.get("weight") if isinstance(package, dict) else None
                if not isinstance(weight, int) or weight <= 0:
                    errors.append(("v2_invalid_value", f"Неверное значение поля [packages[{i}].weight]"))
        return errors

    def _later_errors(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        """What CDEK finds after accepting the order (202): the order becomes INVALID."""
        errors: list[tuple[str, str]] = []
        tariff = body.get("tariff_code")
        if tariff not in TARIFFS:
            errors.append(("v2_invalid_value", f"Тариф [tariff_code] {tariff} недоступен"))
        elif TARIFF_ORDER_TYPES[int(tariff)] != body.get("type", 1):
            errors.append(("v2_invalid_value",
                           f"Тариф [tariff_code] {tariff} недоступен для типа заказа {body.get('type', 1)}"))
        if body.get("delivery_point") and body["delivery_point"] not in {o["code"] for o in OFFICES}:
            errors.append(
                ("v2_entity_not_found", f"Пункт выдачи [delivery_point] {body['delivery_point']} не найден")
            )
        number = str(body.get("number") or "")
        if (
            number
            and body.get("type", 1) == 1
            and any(o.number == number and not o.removed_at and not o.invalid
                    for o in self.orders.values())
        ):
            errors.append(("v2_order_number_duplicate", f"Заказ с номером [number] {number} уже существует"))
        return errors

    def order_create(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return self.invalid(400, "CREATE", [("v2_bad_request", "Malformed JSON")])
        errors = self._validate_order(body)
        if errors:
            return self.invalid(400, "CREATE", errors)
        later = self._later_errors(body)
        cod = Decimal("0")
        for package in body["packages"]:
            for item in package.get("items") or []:
                cod += Decimal(str((item.get("payment") or {}).get("value", 0))) * int(item.get("amount", 1))
        cod += Decimal(str((body.get("delivery_recipient_cost") or {}).get("value", 0)))
        with self.lock:
            number = "" if later else str(self.next_number)
            self.next_number += 0 if later else 1
        scenario = scenarios.choose(
            str(body.get("number") or number),
            str(body.get("comment", "")).removeprefix("scenario:")
            if str(body.get("comment", "")).startswith("scenario:")
            else "",
        )
        order = Order(
            uuid=str(uuid.uuid4()),
            cdek_number=number,
            number=str(body.get("number") or ""),
            body=body,
            created_at=self.clock.now(),
            scenario=scenario,
            cod=cod,
            errors=later,
        )
        with self.lock:
            self.orders[order.uuid] = order
            if number:
                self.by_number[number] = order
        return json_response(
            {
                "entity": {"uuid": order.uuid},
                "requests": [
                    {
                        "request_uuid": str(uuid.uuid4()),
                        "type": "CREATE",
                        "state": "ACCEPTED",
                        "date_time": cdek_time(self.clock.now()),
                    }
                ],
                "related_entities": [],
            },
            202,
        )

    def statuses(self, order: Order) -> list[dict[str, Any]]:
        """Oldest first; the return order (if any) is created at the ``returning`` step."""
        if order.invalid or self._validating(order):
            return []  # no movement before CDEK has validated the order (see _pending_entity)
        created = order.created_at

        def status(code: str, when: datetime, city: str = "", reason: str = "") -> dict[str, Any]:
            return {
                "code": code,
                "name": STATUS_NAMES.get(code, code),
                "date_time": cdek_time(when),
                "city": city,
                "reason_code": reason,
            }

        out = [status("ACCEPTED", created)]
        if order.is_return:
            direct = self.orders[order.direct_uuid]
            out.append(status("CREATED", created))
            back = next((at for at, step in scenarios.timeline(direct.scenario, self.step_seconds)
                         if step == "returned"), None)
            if back is not None and self.clock.now() >= direct.created_at + timedelta(hours=back):
                out.append(status("DELIVERED", direct.created_at + timedelta(hours=back), "Москва"))
            return out
        hours = (self.clock.now() - created).total_seconds() / 3600
        to_code = (order.body.get("to_location") or {}).get("code")
        to_city = CITIES.get(to_code if isinstance(to_code, int) else 44, CITIES[44])[0]
        for at, step in scenarios.steps_until(order.scenario, hours, self.step_seconds):
            when = created + timedelta(hours=at)
            if order.removed_at and when > order.removed_at:
                break
            if step == "returned":
                continue  # the return order says it
            code, reason = STEP_CODES[step]
            out.append(status(code, when, "Москва" if step in ("created", "accepted") else to_city, reason))
            if step == "returning" and not order.return_uuid:
                self._make_return(order, when)
        if order.removed_at:
            out.append(status("REMOVED", order.removed_at))
        return out

    def _make_return(self, direct: Order, when: datetime) -> None:
        with self.lock:
            number = str(self.next_number)
            self.next_number += 1
        ret = Order(
            uuid=str(uuid.uuid4()),
            cdek_number=number,
            number="",
            body={"tariff_code": 136},
            created_at=when,
            scenario=direct.scenario,
            cod=Decimal("0"),
            is_return=True,
            direct_uuid=direct.uuid,
        )
        direct.return_uuid = ret.uuid
        self.orders[ret.uuid] = ret
        self.by_number[number] = ret

    def _validating(self, order: Order) -> bool:
        return self.clock.now() < order.created_at + self.validation_delay

    def _pending_entity(self, order: Order) -> dict[str, Any]:
        """An order CDEK has accepted but not validated yet, or found INVALID: no number."""
        created = cdek_time(order.created_at)
        statuses = [{"code": "ACCEPTED", "name": STATUS_NAMES["ACCEPTED"], "date_time": created, "city": ""}]
        request: dict[str, Any] = {"request_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, order.uuid)),
                                   "type": "CREATE", "state": "ACCEPTED", "date_time": created,
                                   "errors": [], "warnings": []}
        if not self._validating(order):
            when = cdek_time(order.created_at + self.validation_delay)
            statuses.insert(0, {"code": "INVALID", "name": STATUS_NAMES["INVALID"], "date_time": when,
                                "city": ""})
            request.update(state="INVALID", date_time=when,
                           errors=[{"code": c, "message": m} for c, m in order.errors])
        entity = {"uuid": order.uuid, "type": order.body.get("type", 1), "is_return": False,
                  "is_reverse": False, "is_client_return": False, "number": order.number,
                  "tariff_code": order.body.get("tariff_code"), "recipient": order.body.get("recipient"),
                  "packages": order.body.get("packages"), "statuses": statuses}
        return {"entity": entity, "requests": [request], "related_entities": []}

    def order_entity(self, order: Order) -> dict[str, Any]:
        if order.invalid or self._validating(order):
            return self._pending_entity(order)
        body = order.body
        statuses = self.statuses(order)
        entity = {
            "uuid": order.uuid,
            "type": body.get("type", 1),
            "is_return": order.is_return,
            "is_reverse": False,
            "is_client_return": False,
            "cdek_number": order.cdek_number,
            "number": order.number,
            "tariff_code": body.get("tariff_code", 136),
            "comment": body.get("comment", ""),
            "delivery_point": body.get("delivery_point"),
            "shipment_point": body.get("shipment_point"),
            "sender": body.get("sender") or {"name": "Отправитель"},
            "recipient": body.get("recipient")
            or {"name": "Интернет-магазин", "phones": [{"number": "+70000000000"}]},
            "from_location": body.get("from_location"),
            "to_location": body.get("to_location"),
            "packages": body.get("packages") or [{"number": "1", "weight": 1000}],
            "services": body.get("services") or [],
            "statuses": list(reversed(statuses)),  # newest first, as the API lists them
            "keep_free_until": keep_free_until(order, self.clock.now(), self.step_seconds),
        }
        entity = {k: v for k, v in entity.items() if v is not None}
        codes = [s["code"] for s in statuses]
        if "DELIVERED" in codes and not order.is_return:
            partial = any(s["code"] == "DELIVERED" and s["reason_code"] == "20" for s in statuses)
            taken = order.cod / 2 if partial else order.cod
            entity["delivery_detail"] = {
                "date": statuses[-1]["date_time"][:10],
                "recipient_name": "",
                "payment_sum": float(taken),
                "delivery_sum": 290.0,
                "total_sum": 290.0,
                "payment_info": [{"type": "CARD", "sum": float(taken)}] if taken else [],
            }
        related = []
        if order.return_uuid:
            ret = self.orders[order.return_uuid]
            related.append({"type": "return_order", "uuid": ret.uuid, "cdek_number": ret.cdek_number})
        if order.direct_uuid:
            direct = self.orders[order.direct_uuid]
            related.append({"type": "direct_order", "uuid": direct.uuid, "cdek_number": direct.cdek_number})
        return {
            "entity": entity,
            "requests": [
                {
                    "request_uuid": str(uuid.uuid4()),
                    "type": "CREATE",
                    "state": "SUCCESSFUL",
                    "date_time": cdek_time(order.created_at),
                }
            ],
            "related_entities": related,
        }

    def order_get(self, request: Request) -> Response:
        order = self.orders.get(request.params["uuid"])
        if order is None:
            return self.invalid(404, "GET", [("v2_entity_not_found", "Заказ не найден")])
        return json_response(self.order_entity(order))

    def order_find(self, request: Request) -> Response:
        number, im_number = request.arg("cdek_number"), request.arg("im_number")
        order = (
            self.by_number.get(number)
            if number
            # the live order with that shop number before a refused (INVALID) one
            else next((o for o in sorted(self.orders.values(),
                                         key=lambda o: (o.invalid, o.removed_at is not None))
                       if im_number and o.number == im_number), None)
        )
        if order is None:
            return self.invalid(404, "GET", [("v2_order_not_found", "Заказ не найден")])
        return json_response(self.order_entity(order))

    def order_delete(self, request: Request) -> Response:
        order = self.orders.get(request.params["uuid"])
        if order is None:
            return self.invalid(404, "DELETE", [("v2_entity_not_found", "Заказ не найден")])
        codes = {s["code"] for s in self.statuses(order)}
        if codes - {"ACCEPTED", "CREATED"}:
            return self.invalid(
                400,
                "DELETE",
                [("v2_order_forbidden_to_delete", "Заказ уже принят СДЭК, удаление невозможно")],
            )
        order.removed_at = self.clock.now()
        return json_response(
            {
                "entity": {"uuid": order.uuid},
                "requests": [
                    {
                        "request_uuid": str(uuid.uuid4()),
                        "type": "DELETE",
                        "state": "ACCEPTED",
                        "date_time": cdek_time(self.clock.now()),
                    }
                ],
                "related_entities": [],
            },
            202,
        )

    # --- tariffs -------------------------------------------------------------------------
    @staticmethod
    def _price(code: int, body: dict[str, Any]) -> Decimal:
        weight = sum(int(p.get("weight") or 0) for p in body.get("packages") or [])
        return TARIFFS[code][2] + Decimal(max(0, weight - 500) // 500) * Decimal("45")

    def _check_calc(self, body: Any) -> list[tuple[str, str]]:
        if not isinstance(body, dict):
            return [("v2_bad_request", "Request body must be an object")]
        errors = []
        for side in ("from_location", "to_location"):
            loc = body.get(side)
            if not isinstance(loc, dict) or not (
                loc.get("code") or loc.get("postal_code") or loc.get("address")
            ):
                errors.append(("v2_field_is_empty", f"Не задано поле [{side}]"))
        packages = body.get("packages")
        if (
            not isinstance(packages, list)
            or not packages
            or not all(
                isinstance(p, dict) and isinstance(p.get("weight"), int) and p["weight"] > 0 for p in packages
            )
        ):
            errors.append(("v2_invalid_value", "Неверное значение поля [packages.weight]"))
        return errors

    def tarifflist(self, request: Request) -> Response:
        body = request.json()
        errors = self._check_calc(body)
        if errors:
            return json_response({"errors": [{"code": c, "message": m} for c, m in errors]}, 400)
        return json_response(
            {
                "tariff_codes": [
                    {
                        "tariff_code": code,
                        "tariff_name": name,
                        "tariff_description": name,
                        "delivery_mode": mode,
                        "delivery_sum": float(self._price(code, body)),
                        "period_min": pmin,
                        "period_max": pmax,
                        "calendar_min": pmin,
                        "calendar_max": pmax + 1,
                    }
                    for code, (name, mode, _base, pmin, pmax) in TARIFFS.items()
                    if TARIFF_ORDER_TYPES[code] == body.get("type", 1)
                ]
            }
        )

    def tariff(self, request: Request) -> Response:
        body = request.json()
        errors = self._check_calc(body)
        code = body.get("tariff_code") if isinstance(body, dict) else None
        if not errors and (not isinstance(code, int) or code not in TARIFFS):
            errors = [("v2_invalid_value", f"Тариф [tariff_code] {code} недоступен")]
        if errors or not isinstance(code, int):
            return json_response({"errors": [{"code": c, "message": m} for c, m in errors]}, 400)
        price = self._price(code, body)
        services = []
        for service in body.get("services") or []:
            if service.get("code") == "INSURANCE":
                amount = (Decimal(str(service.get("parameter") or 0)) * Decimal("0.0075")).quantize(
                    Decimal("0.01")
                )
                services.append(
                    {
                        "code": "INSURANCE",
                        "sum": float(amount),
                        "total_sum": float(amount),
                        "discount_percent": 0.0,
                        "discount_sum": 0.0,
                        "vat_rate": 0.0,
                        "vat_sum": 0.0,
                    }
                )
        total = price + sum((Decimal(str(s["sum"])) for s in services), Decimal("0"))
        weight = sum(int(p["weight"]) for p in body["packages"])
        _name, _mode, _base, pmin, pmax = TARIFFS[code]
        return json_response(
            {
                "delivery_sum": float(price),
                "period_min": pmin,
                "period_max": pmax,
                "calendar_min": pmin,
                "calendar_max": pmax + 1,
                "weight_calc": weight,
                "services": services,
                "total_sum": float(total),
                "currency": "RUB",
            }
        )

    # --- directories ---------------------------------------------------------------------
    def deliverypoints(self, request: Request) -> Response:
        city_code, postal, kind = (
            request.arg("city_code"),
            request.arg("postal_code"),
            request.arg("type", "ALL"),
        )
        out = []
        for office in OFFICES:
            if city_code and str(office["city_code"]) != city_code:
                continue
            if postal and office["postal_code"][:3] != postal[:3]:
                continue
            if kind not in ("ALL", office["type"]):
                continue
            city, region, _zip = CITIES[office["city_code"]]
            out.append(
                {
                    "code": office["code"],
                    "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, office["code"])),
                    "name": f"{city}, {office['address']}",
                    "work_time": office["hours"],
                    "work_time_list": [{"day": d, "time": "09:00/21:00"} for d in range(1, 8)],
                    "type": office["type"],
                    "owner_code": "cdek",
                    "is_handout": True,
                    "is_reception": True,
                    "is_dressing_room": False,
                    "take_only": False,
                    "have_fast_payment_system": True,
                    "work_time_exception_list": [],
                    "have_cashless": True,
                    "have_cash": True,
                    "allowed_cod": True,
                    "location": {
                        "country_code": "RU",
                        "region": region,
                        "city_code": office["city_code"],
                        "city_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cdek-city-{office['city_code']}")),
                        "city": city,
                        "postal_code": office["postal_code"],
                        "longitude": office["lon"],
                        "latitude": office["lat"],
                        "address": office["address"],
                        "address_full": f"{office['postal_code']}, {city}, {office['address']}",
                    },
                }
            )
        return json_response(out)

    @staticmethod
    def _page(request: Request, rows: list[Any]) -> Response:
        """CDEK's paging: ``size`` rows of page ``page`` (from 0); a page past the end is an
        empty list. ``page`` without ``size`` is ignored, as documented."""
        size_arg, page_arg = request.arg("size"), request.arg("page")
        if not size_arg:
            return json_response(rows)
        try:
            size, page = int(size_arg), int(page_arg or 0)
        except ValueError:
            return json_response({"errors": [{"code": "v2_invalid_value_type",
                                              "message": "[size] и [page] должны быть числами"}]}, 400)
        if size <= 0 or page < 0:
            return json_response({"errors": [{"code": "v2_invalid_value",
                                              "message": "Неверное значение [size] или [page]"}]}, 400)
        return json_response(rows[page * size:(page + 1) * size])

    @staticmethod
    def city_row(code: int) -> dict[str, Any]:
        city, region, _zip = CITIES[code]
        postals, lon, lat, tz = CITY_DETAILS[code]
        return {
            "code": code, "city_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cdek-city-{code}")),
            "city": city, "fias_guid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fias-city-{code}")),
            "country_code": "RU", "country": "Россия", "region": region,
            "region_code": REGION_CODES[region], "sub_region": "", "postal_codes": list(postals),
            "longitude": lon, "latitude": lat, "time_zone": tz, "payment_limit": -1.0,
        }

    def cities(self, request: Request) -> Response:
        name = request.arg("city").strip().lower()
        postal, code = request.arg("postal_code").strip(), request.arg("code").strip()
        region_code, countries = request.arg("region_code").strip(), request.arg("country_codes").upper()
        rows = []
        for city_code in sorted(CITIES):
            row = self.city_row(city_code)
            if name and row["city"].lower() != name:
                continue
            if postal and postal not in row["postal_codes"]:
                continue
            if code and str(city_code) != code:
                continue
            if region_code and str(row["region_code"]) != region_code:
                continue
            if countries and "RU" not in countries.split(","):
                continue
            rows.append(row)
        return self._page(request, rows)

    def suggest_cities(self, request: Request) -> Response:
        name = request.arg("name").strip().lower()
        if not name:
            return json_response({"errors": [{"code": "v2_field_is_empty",
                                              "message": "Не задано поле [name]"}]}, 400)
        if request.arg("country_code") and request.arg("country_code").upper() != "RU":
            return json_response([])
        return json_response([
            {"city_uuid": row["city_uuid"], "code": row["code"],
             "full_name": f"{row['city']}, {row['region']}, {row['country']}", "country_code": "RU"}
            for row in (self.city_row(c) for c in sorted(CITIES))
            if row["city"].lower().startswith(name)
        ])

    def regions(self, request: Request) -> Response:
        countries = request.arg("country_codes").upper()
        rows = [
            {"country_code": "RU", "country": "Россия", "region": region, "region_code": code,
             "kladr_region_code": f"{code:02d}", "fias_region_guid": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                                    f"fias-region-{code}"))}
            for region, code in sorted(REGION_CODES.items(), key=lambda kv: kv[1])
        ]
        if countries and "RU" not in countries.split(","):
            rows = []
        return self._page(request, rows)

    def alltariffs(self, request: Request) -> Response:
        """The account's tariffs (``GET /v2/calculator/alltariffs``)."""
        return json_response({"tariff_codes": [
            {"tariff_name": name, "weight_min": 0.0, "weight_max": 30.0 if mode != 4 else 50.0,
             "weight_calc_max": 50.0, "length_min": 1, "length_max": 150, "width_min": 1,
             "width_max": 150, "height_min": 1, "height_max": 150,
             "order_types": ["ONLINE_STORE" if TARIFF_ORDER_TYPES[code] == 1 else "DELIVERY"],
             "payer_contragent_type": ["LEGAL_ENTITY"], "sender_contragent_type": ["LEGAL_ENTITY"],
             "recipient_contragent_type": ["INDIVIDUAL", "LEGAL_ENTITY"],
             "delivery_modes": [{"delivery_mode": str(mode), "delivery_mode_name": DELIVERY_MODE_NAMES[mode],
                                 "tariff_code": code}]}
            for code, (name, mode, _base, _pmin, _pmax) in TARIFFS.items()
        ]})

    # --- print forms ---------------------------------------------------------------------
    def print_create(self, request: Request) -> Response:
        body = request.json() or {}
        kind = "barcodes" if "/barcodes" in request.path else "orders"
        refs = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(refs, list) or not refs:
            return self.invalid(400, "CREATE", [("v2_field_is_empty", "Не задано поле [orders]")])
        copies = body.get("copy_count", 1 if kind == "barcodes" else 2)
        fmt = body.get("format", "A4") if kind == "barcodes" else "A4"
        if not isinstance(copies, int) or not 1 <= copies <= 50:
            return self.invalid(400, "CREATE", [("v2_invalid_value", "Неверное значение поля [copy_count]")])
        if fmt not in BARCODE_FORMATS:
            return self.invalid(400, "CREATE", [("v2_invalid_value", f"Неверный формат [format] {fmt}")])
        uuids = []
        for ref in refs:
            order = self.orders.get(str(ref.get("order_uuid", ""))) or self.by_number.get(
                str(ref.get("cdek_number", ""))
            )
            if order is None:
                return self.invalid(400, "CREATE", [("v2_entity_not_found", f"Заказ {ref} не найден")])
            if order.invalid:
                return self.invalid(400, "CREATE", [("v2_entity_invalid", f"Заказ {ref} некорректен")])
            uuids.append(order.uuid)
        job = PrintJob(uuid=str(uuid.uuid4()), kind=kind, order_uuids=uuids, copy_count=copies, format=fmt)
        self.prints[job.uuid] = job
        return json_response(
            {
                "entity": {"uuid": job.uuid},
                "requests": [
                    {
                        "request_uuid": str(uuid.uuid4()),
                        "type": "CREATE",
                        "state": "ACCEPTED",
                        "date_time": cdek_time(self.clock.now()),
                    }
                ],
            },
            202,
        )

    def print_get(self, request: Request) -> Response:
        ident = request.params["uuid"]
        pdf = ident.endswith(".pdf")
        job = self.prints.get(ident.removesuffix(".pdf"))
        if job is None:
            return self.invalid(404, "GET", [("v2_entity_not_found", "Печатная форма не найдена")])
        if pdf:
            if job.polls < 1:
                return self.invalid(400, "GET", [("v2_print_form_not_ready", "Файл ещё не сформирован")])
            orders = [self.orders[u] for u in job.order_uuids]
            title = "СДЭК: штрихкод места" if job.kind == "barcodes" else "СДЭК: накладная"
            content = label_pdf(
                title,
                [
                    (
                        o.cdek_number,
                        [
                            f"Заказ ИМ: {o.number}",
                            f"Получатель: {(o.body.get('recipient') or {}).get('name', '')}",
                            f"Тариф: {o.body.get('tariff_code')}",
                            f"Пункт выдачи: {o.body.get('delivery_point') or '—'}",
                            f"Адрес: {(o.body.get('to_location') or {}).get('address', '')}",
                        ],
                    )
                    for o in orders
                    for _copy in range(job.copy_count)
                ],
                pagesize=job.format,
            )
            return Response(200, content, "application/pdf")
        job.polls += 1
        statuses = [{"code": "ACCEPTED", "name": "Принят", "date_time": cdek_time(self.clock.now())}]
        if job.polls >= 2:
            statuses.append(
                {"code": "READY", "name": "Сформирован", "date_time": cdek_time(self.clock.now())}
            )
        else:
            statuses.append(
                {"code": "PROCESSING", "name": "Формируется", "date_time": cdek_time(self.clock.now())}
            )
        entity: dict[str, Any] = {
            "uuid": job.uuid,
            "orders": [{"order_uuid": u} for u in job.order_uuids],
            "copy_count": job.copy_count,
            "statuses": statuses,
        }
        if job.kind == "barcodes":
            entity["format"] = job.format
        if job.polls >= 2:
            entity["url"] = f"http://{request.header('host')}/v2/print/{job.kind}/{job.uuid}.pdf"
        return json_response(
            {
                "entity": entity,
                "requests": [
                    {"type": "CREATE", "state": "SUCCESSFUL", "date_time": cdek_time(self.clock.now())}
                ],
            }
        )

    # --- webhooks ------------------------------------------------------------------------
    def webhook_create(self, request: Request) -> Response:
        body = request.json() or {}
        url, kind = str(body.get("url", "")), str(body.get("type", ""))
        if not url.startswith(("http://", "https://")) or kind not in (
            "ORDER_STATUS",
            "PRINT_FORM",
            "DOWNLOAD_PHOTO",
            "PREALERT_CLOSED",
        ):
            return self.invalid(400, "CREATE", [("v2_invalid_value", "Неверные [url] или [type]")])
        hook_id = str(uuid.uuid4())
        self.webhooks[hook_id] = {"uuid": hook_id, "url": url, "type": kind}
        return json_response(
            {
                "entity": {"uuid": hook_id},
                "requests": [
                    {
                        "request_uuid": str(uuid.uuid4()),
                        "type": "CREATE",
                        "state": "SUCCESSFUL",
                        "date_time": cdek_time(self.clock.now()),
                    }
                ],
            }
        )

    def webhook_list(self, request: Request) -> Response:
        return json_response(list(self.webhooks.values()))

    def webhook_get(self, request: Request) -> Response:
        hook = self.webhooks.get(request.params["uuid"])
        if hook is None:
            return self.invalid(404, "GET", [("v2_entity_not_found", "Подписка не найдена")])
        return json_response({"entity": hook, "requests": [
            {"type": "GET", "state": "SUCCESSFUL", "date_time": cdek_time(self.clock.now())}]})

    def webhook_delete(self, request: Request) -> Response:
        if self.webhooks.pop(request.params["uuid"], None) is None:
            return self.invalid(404, "DELETE", [("v2_entity_not_found", "Подписка не найдена")])
        return json_response(
            {
                "entity": {"uuid": request.params["uuid"]},
                "requests": [
                    {"type": "DELETE", "state": "SUCCESSFUL", "date_time": cdek_time(self.clock.now())}
                ],
            }
        )

    def on_clock(self) -> None:
        self.push_webhooks()

    def push_webhooks(self) -> int:
        urls = [h["url"] for h in self.webhooks.values() if h["type"] == "ORDER_STATUS"]
        if not urls:
            return 0
        hooks = []
        with self.lock:
            for order in list(self.orders.values()):
                self.statuses(order)  # brings return orders into being first
            for order in list(self.orders.values()):
                if order.invalid:
                    continue
                for status in self.statuses(order):
                    key = f"{status['code']}@{status['date_time']}"
                    if key in order.sent:
                        continue
                    order.sent.add(key)
                    related = []
                    if order.direct_uuid:
                        direct = self.orders[order.direct_uuid]
                        related.append(
                            {"type": "direct_order", "uuid": direct.uuid, "cdek_number": direct.cdek_number}
                        )
                    hooks.append(
                        {
                            "type": "ORDER_STATUS",
                            "date_time": cdek_time(self.clock.now()),
                            "uuid": order.uuid,
                            "attributes": {
                                "is_return": order.is_return,
                                "is_reverse": False,
                                "is_client_return": False,
                                "cdek_number": order.cdek_number,
                                "number": order.number,
                                "code": status["code"],
                                "status_code": "",
                                "status_reason_code": status["reason_code"],
                                "status_date_time": status["date_time"],
                                "city_name": status["city"],
                                "city_code": "",
                                "related_entities": related,
                            },
                        }
                    )
        for hook in hooks:
            body = json.dumps(hook, ensure_ascii=False).encode()
            for url in urls:
                request = urllib.request.Request(  # noqa: S310 (a subscribed http(s) URL)
                    url, data=body, method="POST", headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                        pass
                except OSError:
                    continue
        return len(hooks)

    # --- courier pick-up requests (intakes) -----------------------------------------------
    @staticmethod
    def _minutes(value: Any) -> int | None:
        text = str(value or "")
        try:
            hours, minutes = text.split(":")[:2]
            return int(hours) * 60 + int(minutes)
        except ValueError:
            return None

    def _validate_intake(self, body: Any) -> list[tuple[str, str]]:
        if not isinstance(body, dict):
            return [("v2_bad_request", "Request body must be an object")]
        errors: list[tuple[str, str]] = []
        today = self.clock.now().astimezone(MSK).date()
        try:
            day = date.fromisoformat(str(body.get("intake_date") or ""))
        except ValueError:
            errors.append(("v2_field_is_empty", "Не задано или неверно поле [intake_date]"))
        else:
            if day < today:
                errors.append(("v2_invalid_value", f"Дата [intake_date] {day} уже прошла"))
            elif day > today + timedelta(days=31):
                errors.append(("v2_invalid_value", "Дата [intake_date] не может быть дальше 31 дня"))
        start, end = self._minutes(body.get("intake_time_from")), self._minutes(body.get("intake_time_to"))
        if start is None or end is None:
            errors.append(("v2_field_is_empty", "Не заданы поля [intake_time_from] и [intake_time_to]"))
        elif start < 9 * 60 or end > 22 * 60 or end - start < 3 * 60:
            errors.append(("v2_wrong_interval", "Интервал [intake_time_from]–[intake_time_to]: с 09:00 "
                                                "до 22:00, не короче 3 часов"))
        if not (body.get("cdek_number") or body.get("order_uuid")):
            sender: dict[str, Any] = body["sender"] if isinstance(body.get("sender"), dict) else {}
            location: dict[str, Any] = (body["from_location"] if isinstance(body.get("from_location"), dict)
                                        else {})
            if not body.get("name"):
                errors.append(("v2_field_is_empty", "Не задано поле [name]"))
            if not isinstance(body.get("weight"), int) or body["weight"] <= 0:
                errors.append(("v2_field_is_empty", "Не задано поле [weight]"))
            if not sender.get("name"):
                errors.append(("v2_field_is_empty", "Не задано поле [sender.name]"))
            if not sender.get("phones"):
                errors.append(("v2_field_is_empty", "Не задано поле [sender.phones]"))
            if not location.get("address"):
                errors.append(("v2_field_is_empty", "Не задано поле [from_location.address]"))
        elif body.get("order_uuid") and body["order_uuid"] not in self.orders:
            errors.append(("v2_entity_not_found", f"Заказ [order_uuid] {body['order_uuid']} не найден"))
        elif body.get("cdek_number") and str(body["cdek_number"]) not in self.by_number:
            errors.append(("v2_order_not_found", f"Заказ [cdek_number] {body['cdek_number']} не найден"))
        return errors

    def intake_create(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return self.invalid(400, "CREATE", [("v2_bad_request", "Malformed JSON")])
        errors = self._validate_intake(body)
        if errors:
            return self.invalid(400, "CREATE", errors)
        with self.lock:
            number = str(self.next_intake_number)
            self.next_intake_number += 1
            intake = Intake(uuid=str(uuid.uuid4()), number=number, body=body, created_at=self.clock.now())
            self.intakes[intake.uuid] = intake
        return json_response({"entity": {"uuid": intake.uuid}, "requests": [
            {"request_uuid": str(uuid.uuid4()), "type": "CREATE", "state": "ACCEPTED",
             "date_time": cdek_time(intake.created_at)}]}, 202)

    def _intake_duplicate(self, intake: Intake) -> bool:
        """Another live request for the same day and address, made earlier."""
        def where(one: Intake) -> tuple[Any, Any]:
            return one.body.get("intake_date"), (one.body.get("from_location") or {}).get("address")

        return bool(where(intake)[1]) and any(
            other.uuid != intake.uuid and other.created_at < intake.created_at and not other.removed_at
            and where(other) == where(intake) for other in self.intakes.values())

    def intake_statuses(self, intake: Intake) -> list[tuple[str, datetime]]:
        """Oldest first: accepted, created at once; the courier is appointed two hours before
        the window opens and the request is done when it closes (the emulator's clock)."""
        now = self.clock.now()
        out = [("ACCEPTED", intake.created_at)]
        if self._intake_duplicate(intake):
            return [*out, ("INVALID", intake.created_at)]
        out.append(("CREATED", intake.created_at))
        day = date.fromisoformat(str(intake.body["intake_date"]))
        start = self._minutes(intake.body["intake_time_from"]) or 0
        end = self._minutes(intake.body["intake_time_to"]) or 0
        opens = datetime.combine(day, datetime.min.time(), MSK) + timedelta(minutes=start)
        closes = datetime.combine(day, datetime.min.time(), MSK) + timedelta(minutes=end)
        for code, at in (("READY_FOR_APPOINTMENT", intake.created_at),
                         ("APPOINTED_COURIER", max(intake.created_at, opens - timedelta(hours=2))),
                         ("DONE", closes)):
            if intake.removed_at and at >= intake.removed_at:
                break
            if at <= now:
                out.append((code, at))
        if intake.removed_at:
            out.append(("REMOVED", intake.removed_at))
        return out

    def intake_get(self, request: Request) -> Response:
        intake = self.intakes.get(request.params["uuid"])
        if intake is None:
            return self.invalid(404, "GET", [("v2_entity_not_found", "Заявка не найдена")])
        statuses = self.intake_statuses(intake)
        invalid = statuses[-1][0] == "INVALID"
        body = intake.body
        entity: dict[str, Any] = {"uuid": intake.uuid}
        if not invalid:
            entity["intake_number"] = intake.number
        for key in ("cdek_number", "order_uuid", "intake_date", "intake_time_from", "intake_time_to",
                    "lunch_time_from", "lunch_time_to", "name", "weight", "length", "width", "height",
                    "comment", "sender", "from_location", "need_call", "courier_power_of_attorney",
                    "courier_identity_card"):
            if body.get(key) is not None:
                entity[key] = body[key]
        entity["statuses"] = [{"code": code, "name": INTAKE_STATUS_NAMES[code], "date_time": cdek_time(at)}
                              for code, at in reversed(statuses)]  # newest first
        req: dict[str, Any] = {"request_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, intake.uuid)),
                               "type": "CREATE", "state": "INVALID" if invalid else "SUCCESSFUL",
                               "date_time": cdek_time(intake.created_at)}
        if invalid:
            req["errors"] = [{"code": "v2_intake_exists_by_date_address",
                              "message": "На переданную дату и в переданный адрес уже есть заявка"}]
        return json_response({"entity": entity, "requests": [req]})

    def intake_delete(self, request: Request) -> Response:
        intake = self.intakes.get(request.params["uuid"])
        if intake is None:
            return self.invalid(404, "DELETE", [("v2_entity_not_found", "Заявка не найдена")])
        last = self.intake_statuses(intake)[-1][0]
        if last in ("DONE", "REMOVED", "INVALID"):
            return self.invalid(400, "DELETE", [("v2_entity_forbidden",
                                                 f"Заявку в статусе {last} удалить нельзя")])
        intake.removed_at = self.clock.now()
        return json_response({"entity": {"uuid": intake.uuid}, "requests": [
            {"request_uuid": str(uuid.uuid4()), "type": "DELETE", "state": "ACCEPTED",
             "date_time": cdek_time(intake.removed_at)}]}, 202)

    def intake_days(self, request: Request) -> Response:
        """Days a courier can come (``/v2/intakes/availableDays``): working days (not
        Sunday) from today to ``date`` inclusive, at most 31 days ahead."""
        body = request.json() if request.method == "POST" else {}
        until_text = str((body or {}).get("date") or request.arg("date") or "")
        today = self.clock.now().astimezone(MSK).date()
        try:
            until = date.fromisoformat(until_text[:10])
        except ValueError:
            return json_response({"date": [], "errors": [{"code": "v2_field_is_empty",
                                                           "message": "Не задано поле [date]"}]}, 400)
        last = min(until, today + timedelta(days=31))
        days = [today + timedelta(days=i) for i in range((last - today).days + 1)]
        return json_response({"date": [d.isoformat() for d in days if d.isoweekday() != 7],
                              "all_days": False})

    # --- COD registries ------------------------------------------------------------------
    def registries(self, request: Request) -> Response:
        wanted = request.arg("date")
        orders = []
        for order in self.orders.values():
            entity = self.order_entity(order)["entity"]
            detail = entity.get("delivery_detail")
            if not detail or order.cod <= 0:
                continue
            # paid three days after delivery; in a paced demo, the day of delivery
            later = timedelta(0) if self.step_seconds else timedelta(days=3)
            paid_on = (datetime.fromisoformat(detail["date"]) + later).date().isoformat()
            if wanted and paid_on != wanted:
                continue
            taken = Decimal(str(detail["payment_sum"]))
            fee = (taken * Decimal("0.03")).quantize(Decimal("0.01"))
            orders.append(
                (
                    paid_on,
                    {
                        "cdek_number": order.cdek_number,
                        "payment_sum": float(taken),
                        "agent_commission_sum": float(fee),
                        "total_sum_without_agent": float(taken - fee),
                        "transfer_sum": float(taken - fee),
                        "basis_type": "DELIVERY",
                    },
                )
            )
        by_day: dict[str, list[dict[str, Any]]] = {}
        for day, row in orders:
            by_day.setdefault(day, []).append(row)
        return json_response(
            {
                "registries": [
                    {
                        "registry_number": f"R-{day}",
                        "payment_date": day,
                        "payment_order_number": f"PP{day.replace('-', '')}",
                        "date_created": day,
                        "sum": round(sum(r["transfer_sum"] for r in rows), 2),
                        "orders": rows,
                    }
                    for day, rows in sorted(by_day.items())
                ]
            }
        )


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    app = CdekEmulator(step_seconds=step_seconds_from_env())

    def pusher() -> None:
        stop = threading.Event()
        while not stop.wait(5):
            app.push_webhooks()

    threading.Thread(target=pusher, daemon=True, name="cdek-webhooks").start()
    serve_app(app, host, port)
