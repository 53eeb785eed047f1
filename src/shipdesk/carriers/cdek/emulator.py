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
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import jwt

from shipdesk.carriers import scenarios
from shipdesk.carriers.cdek.emulator_directories import Directories
from shipdesk.carriers.cdek.emulator_intakes import Intake, Intakes
from shipdesk.carriers.cdek.reference import (  # noqa: F401 (names others import from here)
    BARCODE_FORMATS,
    CITIES,
    MSK,
    OFFICES,
    SHOP_TARIFFS,
    STATUS_NAMES,
    TARIFF_ORDER_TYPES,
    TARIFFS,
    cdek_time,
    invalid_answer,
)
from shipdesk.carriers.emulation import (
    App,
    Request,
    Response,
    Running,
    json_response,
    serve_running,
    step_seconds_from_env,
)
from shipdesk.carriers.emulation import start as start_app
from shipdesk.carriers.labels import label_pdf

DEFAULT_PORT = 18201
SANDBOX_BASE_PATH = "/v2"
CLIENT_ID = "shipdesk-cdek-sandbox"
CLIENT_SECRET = "shipdesk-cdek-sandbox-secret"  # noqa: S105 (the emulator's public test account)
SANDBOX_CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

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


class CdekEmulator(Directories, Intakes, App):
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

    invalid = staticmethod(invalid_answer)

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
    serve_running(start(host, port))


def start(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Running:
    """Served from background threads, its events pushed as they happen."""
    app = CdekEmulator(step_seconds=step_seconds_from_env())
    running = start_app(app, host, port)

    def pusher() -> None:
        while not running.stopped.wait(5):
            app.push_webhooks()

    threading.Thread(target=pusher, daemon=True, name="cdek-webhooks").start()
    return running
