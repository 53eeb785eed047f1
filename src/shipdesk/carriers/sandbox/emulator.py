"""The sandbox carrier's server: a simple JSON carrier with every capability, whose parcels
move through realistic scenarios on its clock, which is the real time (events are never in
the future). Demos go faster by pacing the scenarios: served with
``SHIPDESK_SANDBOX_STEP_SECONDS=20`` (what ``make run`` sets), a parcel reaches each step 20
seconds after the one before, so it is delivered in minutes; unset, the steps come after the
scenario's own hours and days."""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from shipdesk.carriers import scenarios
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
from shipdesk.numbering.validation import rp14_compose, s10_compose

DEFAULT_PORT = 18200
API_KEY = "sandbox-demo-key"  # the key the sandbox accepts
SANDBOX_CREDENTIALS = {"api_key": API_KEY}
# The sandbox's own number ranges (/api/v1/numbers): real formats no real parcel can have.
SANDBOX_INDEX = "999999"
SANDBOX_S10 = ("ZZ", "RU")  # service indicator ZZ is not used by the post
RP14_SERIALS = 100_000  # serials per 14-digit range code

STEP_CODES = {
    "created": ("CREATED", "Данные о посылке получены"),
    "accepted": ("ACCEPTED", "Принята от отправителя"),
    "in_transit": ("IN_TRANSIT", "В пути"),
    "customs": ("CUSTOMS_HOLD", "Задержана на таможне"),
    "arrived": ("ARRIVED", "Прибыла в пункт выдачи"),
    "out_for_delivery": ("OUT_FOR_DELIVERY", "Передана курьеру"),
    "delivery_failed": ("DELIVERY_FAILED", "Неудачная попытка вручения"),
    "delivered": ("DELIVERED", "Вручена"),
    "partially_delivered": ("PARTIALLY_DELIVERED", "Вручена частично"),
    "refused": ("REFUSED", "Отказ получателя"),
    "storage_expired": ("STORAGE_EXPIRED", "Истёк срок хранения"),
    "returning": ("RETURNING", "Возвращается отправителю"),
    "returned": ("RETURNED", "Возвращена отправителю"),
    "lost": ("LOST", "Утеряна при сортировке"),
    "cancelled": ("CANCELLED", "Отменена отправителем"),
}

SERVICES = {
    "standard": ("Стандарт", Decimal("250"), 3, 5),
    "express": ("Экспресс", Decimal("450"), 1, 2),
    "pickup_point": ("До пункта выдачи", Decimal("190"), 3, 6),
}

POINTS: list[dict[str, Any]] = [
    {
        "code": "SBX-MSK-1",
        "name": "Песочница: Москва, Тверская",
        "city": "Москва",
        "index": "125009",
        "address": "ул. Тверская, д. 7",
        "hours": "пн-вс 9-21",
        "lat": 55.7594,
        "lon": 37.6117,
        "locker": False,
    },
    {
        "code": "SBX-MSK-2",
        "name": "Песочница: постамат Москва, Арбат",
        "city": "Москва",
        "index": "119002",
        "address": "ул. Арбат, д. 20",
        "hours": "круглосуточно",
        "lat": 55.7505,
        "lon": 37.5927,
        "locker": True,
    },
    {
        "code": "SBX-SPB-1",
        "name": "Песочница: Санкт-Петербург, Невский",
        "city": "Санкт-Петербург",
        "index": "191025",
        "address": "Невский пр., д. 60",
        "hours": "пн-вс 10-22",
        "lat": 59.9331,
        "lon": 30.3430,
        "locker": False,
    },
    {
        "code": "SBX-OMS-1",
        "name": "Песочница: Омск, Ленина",
        "city": "Омск",
        "index": "644024",
        "address": "ул. Ленина, д. 10",
        "hours": "пн-сб 9-19",
        "lat": 54.9847,
        "lon": 73.3686,
        "locker": False,
    },
]


@dataclass
class Parcel:
    id: str
    reference: str
    tracking_number: str
    service_code: str
    created_at: datetime
    scenario: str
    cod_amount: Decimal
    recipient: dict[str, Any]
    weight_g: int
    batch_id: str = ""
    cancelled_at: datetime | None = None
    webhook_sent: set[str] = field(default_factory=set)


def _money(value: Any, where: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation as exc:
        raise ValueError(f"{where}: not a number") from exc
    if amount < 0:
        raise ValueError(f"{where}: negative")
    return amount


class SandboxEmulator(App):
    def __init__(self, *, step_seconds: float = 0.0, api_keys: tuple[str, ...] = (API_KEY,)) -> None:
        super().__init__(step_seconds=step_seconds)
        self.api_keys = set(api_keys)
        self.parcels: dict[str, Parcel] = {}
        self.by_number: dict[str, Parcel] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.webhooks: list[str] = []
        self.next_number = 1
        self.issued = {"rp14": 0, "s10": 0}  # numbers handed out by /api/v1/numbers, per kind
        self.number_lock = threading.Lock()
        self.rate_limit_per_second = 0  # 0: unlimited; tests set it
        self._window: tuple[int, int] = (0, 0)
        for method, path, handler in [
            ("GET", "/api/v1/ping", self.ping),
            ("POST", "/api/v1/rates", self.rates),
            ("POST", "/api/v1/parcels", self.create),
            ("GET", "/api/v1/parcels/{id}", self.get_parcel),
            ("POST", "/api/v1/parcels/cancel", self.cancel),
            ("POST", "/api/v1/labels", self.labels),
            ("POST", "/api/v1/batches", self.batch_create),
            ("POST", "/api/v1/batches/{id}/close", self.batch_close),
            ("GET", "/api/v1/batches/{id}/documents", self.batch_documents),
            ("POST", "/api/v1/track", self.track),
            ("POST", "/api/v1/webhooks", self.webhook_subscribe),
            ("GET", "/api/v1/points", self.points),
            ("POST", "/api/v1/numbers", self.numbers),
            ("GET", "/api/v1/payouts", self.payouts),
        ]:
            self.route(method, path, self._authed(handler))

    # --- plumbing ------------------------------------------------------------------------
    def _authed(self, handler: Any) -> Any:
        def wrapped(request: Request) -> Response:
            auth = request.header("authorization")
            if not auth.startswith("Token ") or auth[6:] not in self.api_keys:
                return self.error(401, "unauthorized", "Неверный ключ API")
            if self.rate_limit_per_second:
                second = int(self.clock.now().timestamp())
                with self.lock:
                    window, used = self._window
                    used = used + 1 if window == second else 1
                    self._window = (second, used)
                if used > self.rate_limit_per_second:
                    return self.error(429, "rate_limited", "Слишком много запросов", {"Retry-After": "1"})
            return handler(request)

        return wrapped

    @staticmethod
    def error(
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> Response:
        return json_response(
            {"error": {"code": code, "message": message, "errors": errors or []}}, status, headers
        )

    def _new_number(self) -> str:
        with self.number_lock:
            n = self.next_number
            self.next_number += 1
        return f"SBX{n:09d}RU"

    def state(self) -> dict[str, Any]:
        data = super().state()
        data["parcels"] = len(self.parcels)
        data["webhooks"] = list(self.webhooks)
        return data

    # --- persistence (for `make run`) ---------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": self.clock.now().isoformat(),
                "next_number": self.next_number,
                "issued": dict(self.issued),
                "webhooks": list(self.webhooks),
                "batches": self.batches,
                "parcels": [
                    {
                        "id": p.id,
                        "reference": p.reference,
                        "tracking_number": p.tracking_number,
                        "service_code": p.service_code,
                        "created_at": p.created_at.isoformat(),
                        "scenario": p.scenario,
                        "cod_amount": str(p.cod_amount),
                        "recipient": p.recipient,
                        "weight_g": p.weight_g,
                        "batch_id": p.batch_id,
                        "cancelled_at": p.cancelled_at.isoformat() if p.cancelled_at else None,
                        "webhook_sent": sorted(p.webhook_sent),
                    }
                    for p in self.parcels.values()
                ],
            }

    def restore(self, data: dict[str, Any]) -> None:
        # The clock is not restored: it is the real time. A parcel saved by an older
        # sandbox whose clock ran ahead is taken as created now, not in the future.
        now = self.clock.now()
        with self.lock:
            self.next_number = int(data["next_number"])
            self.issued.update({k: int(v) for k, v in (data.get("issued") or {}).items()})
            self.webhooks = list(data.get("webhooks") or [])
            self.batches = dict(data.get("batches") or {})
            for row in data.get("parcels") or []:
                parcel = Parcel(
                    id=row["id"],
                    reference=row["reference"],
                    tracking_number=row["tracking_number"],
                    service_code=row["service_code"],
                    created_at=min(datetime.fromisoformat(row["created_at"]), now),
                    scenario=row["scenario"],
                    cod_amount=Decimal(row["cod_amount"]),
                    recipient=row["recipient"],
                    weight_g=int(row["weight_g"]),
                    batch_id=row["batch_id"],
                    cancelled_at=datetime.fromisoformat(row["cancelled_at"]) if row["cancelled_at"] else None,
                    webhook_sent=set(row["webhook_sent"]),
                )
                self.parcels[parcel.id] = parcel
                self.by_number[parcel.tracking_number] = parcel

    # --- tracking ------------------------------------------------------------------------
    def events_of(self, parcel: Parcel) -> list[dict[str, Any]]:
        now = self.clock.now()
        hours = (now - parcel.created_at).total_seconds() / 3600
        steps = scenarios.steps_until(parcel.scenario, hours, self.step_seconds)
        events = []
        for at, step in steps:
            when = parcel.created_at + timedelta(hours=at)
            if parcel.cancelled_at and when > parcel.cancelled_at:
                break
            code, text = STEP_CODES[step]
            events.append(
                {
                    "code": code,
                    "text": text,
                    "at": when.isoformat(),
                    "location": parcel.recipient.get("city", "")
                    if step in ("arrived", "delivered", "out_for_delivery")
                    else "Сортировочный центр",
                }
            )
        if parcel.cancelled_at:
            code, text = STEP_CODES["cancelled"]
            events.append({"code": code, "text": text, "at": parcel.cancelled_at.isoformat(), "location": ""})
        return events

    def on_clock(self) -> None:
        self.push_webhooks()

    def push_webhooks(self) -> int:
        """Posts every event not yet sent to each subscribed URL; returns how many went."""
        if not self.webhooks:
            return 0
        batch: list[dict[str, Any]] = []
        with self.lock:
            for parcel in self.parcels.values():
                for event in self.events_of(parcel):
                    key = f"{event['code']}@{event['at']}"
                    if key not in parcel.webhook_sent:
                        parcel.webhook_sent.add(key)
                        batch.append({"tracking_number": parcel.tracking_number, **event})
        if not batch:
            return 0
        body = json.dumps({"events": batch}, ensure_ascii=False).encode()
        for url in list(self.webhooks):
            request = urllib.request.Request(  # noqa: S310 (a subscribed http(s) URL)
                url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                    pass
            except OSError:
                continue  # a real carrier would retry later; the poll covers it
        return len(batch)

    # --- endpoints -----------------------------------------------------------------------
    def ping(self, request: Request) -> Response:
        return json_response({"ok": True, "now": self.clock.now().isoformat()})

    def rates(self, request: Request) -> Response:
        data = request.json() or {}
        weight = data.get("weight_g")
        if not isinstance(weight, int) or weight <= 0:
            return self.error(
                422,
                "validation",
                "Неверные данные",
                errors=[{"field": "weight_g", "message": "вес в граммах, больше нуля"}],
            )
        rates = []
        for code, (name, base, dmin, dmax) in SERVICES.items():
            total = base + Decimal(weight // 500) * Decimal("40")
            total += _money(data.get("declared_value"), "declared_value") * Decimal("0.01")
            total += _money(data.get("cod_amount"), "cod_amount") * Decimal("0.02")
            rates.append(
                {
                    "service_code": code,
                    "name": name,
                    "total": str(total.quantize(Decimal("0.01"))),
                    "days_min": dmin,
                    "days_max": dmax,
                }
            )
        return json_response({"rates": rates})

    def create(self, request: Request) -> Response:
        data = request.json()
        if not isinstance(data, dict) or not isinstance(data.get("parcels"), list):
            return self.error(400, "bad_request", "Ожидался объект с полем parcels")
        created, errors = [], []
        for i, item in enumerate(data["parcels"]):
            reference = str(item.get("reference", "")) if isinstance(item, dict) else ""
            problems = []
            if not isinstance(item, dict):
                errors.append(
                    {
                        "index": i,
                        "reference": "",
                        "field": "",
                        "code": "invalid",
                        "message": "ожидался объект",
                    }
                )
                continue
            if item.get("service_code") not in SERVICES:
                problems.append(("service_code", "неизвестная услуга"))
            weight = item.get("weight_g")
            if not isinstance(weight, int) or not 0 < weight <= 30000:
                problems.append(("weight_g", "вес от 1 до 30000 г"))
            recipient = item.get("recipient") or {}
            if not recipient.get("name"):
                problems.append(("recipient.name", "укажите получателя"))
            if not recipient.get("phone"):
                problems.append(("recipient.phone", "укажите телефон"))
            if item.get("service_code") == "pickup_point" and not recipient.get("pickup_point"):
                problems.append(("recipient.pickup_point", "укажите пункт выдачи"))
            try:
                cod = _money(item.get("cod_amount"), "cod_amount")
            except ValueError:
                problems.append(("cod_amount", "сумма наложенного платежа — число"))
                cod = Decimal("0")
            if problems:
                errors.extend(
                    {"index": i, "reference": reference, "field": f, "code": "invalid", "message": m}
                    for f, m in problems
                )
                continue
            number = str(item.get("tracking_number") or "") or self._new_number()
            if number in self.by_number:
                errors.append(
                    {
                        "index": i,
                        "reference": reference,
                        "field": "tracking_number",
                        "code": "duplicate",
                        "message": "номер уже использован",
                    }
                )
                continue
            parcel = Parcel(
                id=str(uuid.uuid4()),
                reference=reference,
                tracking_number=number,
                service_code=item["service_code"],
                created_at=self.clock.now(),
                scenario=scenarios.choose(
                    reference or number, str((item.get("options") or {}).get("scenario", ""))
                ),
                cod_amount=cod,
                recipient=recipient,
                weight_g=int(weight or 0),
            )
            with self.lock:
                self.parcels[parcel.id] = parcel
                self.by_number[number] = parcel
            created.append(
                {
                    "index": i,
                    "reference": reference,
                    "id": parcel.id,
                    "tracking_number": number,
                    "scenario": parcel.scenario,
                }
            )
        return json_response({"created": created, "errors": errors})

    def get_parcel(self, request: Request) -> Response:
        parcel = self.parcels.get(request.params["id"])
        if parcel is None:
            return self.error(404, "not_found", "Посылка не найдена")
        return json_response(
            {
                "id": parcel.id,
                "reference": parcel.reference,
                "tracking_number": parcel.tracking_number,
                "scenario": parcel.scenario,
                "events": self.events_of(parcel),
            }
        )

    def cancel(self, request: Request) -> Response:
        data = request.json() or {}
        errors = []
        for pid in data.get("ids") or []:
            parcel = self.parcels.get(str(pid))
            if parcel is None:
                errors.append({"id": pid, "code": "not_found", "message": "посылка не найдена"})
                continue
            codes = {e["code"] for e in self.events_of(parcel)}
            if codes - {"CREATED"}:
                errors.append(
                    {"id": pid, "code": "too_late", "message": "посылка уже принята, отмена невозможна"}
                )
                continue
            parcel.cancelled_at = self.clock.now()
        return json_response({"errors": errors})

    def _parcels(self, ids: list[Any]) -> tuple[list[Parcel], list[str]]:
        found, missing = [], []
        for pid in ids:
            parcel = self.parcels.get(str(pid))
            (found.append(parcel) if parcel else missing.append(str(pid)))
        return found, missing

    def labels(self, request: Request) -> Response:
        parcels, missing = self._parcels((request.json() or {}).get("ids") or [])
        if missing:
            return self.error(404, "not_found", f"Посылки не найдены: {', '.join(missing)}")
        pdf = label_pdf(
            "Shipdesk Sandbox",
            [
                (
                    p.tracking_number,
                    [
                        f"Заказ: {p.reference}",
                        f"Кому: {p.recipient.get('name', '')}",
                        f"Тел.: {p.recipient.get('phone', '')}",
                        f"Адрес: {p.recipient.get('city', '')} {p.recipient.get('address', '')}",
                        f"Пункт выдачи: {p.recipient.get('pickup_point', '') or '—'}",
                        f"Вес: {p.weight_g} г   Наложенный платёж: {p.cod_amount} руб.",
                    ],
                )
                for p in parcels
            ],
        )
        return Response(200, pdf, "application/pdf")

    def batch_create(self, request: Request) -> Response:
        data = request.json() or {}
        parcels, missing = self._parcels(data.get("ids") or [])
        errors = [{"id": m, "code": "not_found", "message": "посылка не найдена"} for m in missing]
        good = []
        for parcel in parcels:
            if parcel.batch_id:
                errors.append({"id": parcel.id, "code": "in_batch", "message": "уже в партии"})
            else:
                good.append(parcel)
        if not good:
            return self.error(422, "empty_batch", "Нет посылок для партии", errors=errors)
        batch_id = f"B{len(self.batches) + 1:06d}"
        for parcel in good:
            parcel.batch_id = batch_id
        self.batches[batch_id] = {
            "ids": [p.id for p in good],
            "closed": False,
            "shipping_date": data.get("shipping_date", ""),
        }
        return json_response(
            {
                "batch_id": batch_id,
                "ids": [p.id for p in good],
                "tracking_numbers": {p.id: p.tracking_number for p in good},
                "errors": errors,
            }
        )

    def batch_close(self, request: Request) -> Response:
        batch = self.batches.get(request.params["id"])
        if batch is None:
            return self.error(404, "not_found", "Партия не найдена")
        batch["closed"] = True
        return json_response({"batch_id": request.params["id"], "closed": True})

    def batch_documents(self, request: Request) -> Response:
        batch = self.batches.get(request.params["id"])
        if batch is None:
            return self.error(404, "not_found", "Партия не найдена")
        parcels, _ = self._parcels(batch["ids"])
        lines = [
            f"{i}. {p.tracking_number} {p.reference} {p.weight_g} г {p.cod_amount} руб."
            for i, p in enumerate(parcels, 1)
        ]
        pdf = label_pdf("Shipdesk Sandbox: реестр партии", [(request.params["id"], lines[:40])])
        return Response(200, pdf, "application/pdf")

    def track(self, request: Request) -> Response:
        numbers = (request.json() or {}).get("numbers")
        if not isinstance(numbers, list) or len(numbers) > 500:
            return self.error(422, "validation", "numbers: список до 500 номеров")
        results, errors = [], {}
        for number in numbers:
            parcel = self.by_number.get(str(number))
            if parcel is None:
                errors[str(number)] = "номер не найден"
                continue
            results.append({"number": parcel.tracking_number, "events": self.events_of(parcel)})
        return json_response({"results": results, "errors": errors})

    def webhook_subscribe(self, request: Request) -> Response:
        url = str((request.json() or {}).get("url", ""))
        if not url.startswith(("http://", "https://")):
            return self.error(422, "validation", "url: нужен адрес http(s)")
        if url not in self.webhooks:
            self.webhooks.append(url)
        return json_response({"url": url, "subscribed": True})

    def points(self, request: Request) -> Response:
        city, index = request.arg("city").strip().lower(), request.arg("index").strip()
        found = [
            p
            for p in POINTS
            if (not city or p["city"].lower() == city) and (not index or p["index"][:3] == index[:3])
        ]
        return json_response({"points": found})

    def numbers(self, request: Request) -> Response:
        """Ranges of real-format numbers of the sandbox's own: 14-digit ones under the index
        999999 (no post office has it) with range codes 01, 02... of 100,000 serials each,
        or S10 ``ZZ…RU``; check digits as the post computes them."""
        body = request.json() or {}
        count, kind = body.get("count"), body.get("kind", "rp14")
        if not isinstance(count, int) or not 0 < count <= 10000:
            return self.error(422, "validation", "count: от 1 до 10000")
        if kind not in ("rp14", "s10"):
            return self.error(422, "validation", "kind: rp14 или s10")
        with self.number_lock:
            first = self.issued[kind]
            if first + count > (99 * RP14_SERIALS if kind == "rp14" else 100_000_000):
                return self.error(409, "exhausted", "номера песочницы закончились")
            self.issued[kind] += count
        ranges = []
        while count:
            if kind == "s10":
                part = count
                service, country = SANDBOX_S10
                bounds = (
                    s10_compose(service, first, country),
                    s10_compose(service, first + part - 1, country),
                )
            else:  # a 14-digit range never crosses its range code
                code, serial = f"{1 + first // RP14_SERIALS:02d}", first % RP14_SERIALS
                part = min(count, RP14_SERIALS - serial)
                bounds = (
                    rp14_compose(SANDBOX_INDEX, code, serial),
                    rp14_compose(SANDBOX_INDEX, code, serial + part - 1),
                )
            ranges.append({"first": bounds[0], "last": bounds[1], "kind": kind})
            first, count = first + part, count - part
        return json_response({"ranges": ranges})

    def payouts(self, request: Request) -> Response:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        out.write("# SHIPDESK SANDBOX PAYOUT REPORT\n")
        writer.writerow(["tracking_number", "order_reference", "cod_amount", "fee", "paid_amount", "paid_on"])
        for parcel in self.parcels.values():
            delivered = [
                e for e in self.events_of(parcel) if e["code"] in ("DELIVERED", "PARTIALLY_DELIVERED")
            ]
            if not delivered or parcel.cod_amount <= 0:
                continue
            cod = parcel.cod_amount if delivered[0]["code"] == "DELIVERED" else (parcel.cod_amount / 2)
            fee = (cod * Decimal("0.02")).quantize(Decimal("0.01"))
            # paid two days after delivery; in a paced demo, one step after it
            later = timedelta(seconds=self.step_seconds) if self.step_seconds else timedelta(days=2)
            paid_on = (datetime.fromisoformat(delivered[0]["at"]) + later).date()
            if paid_on > self.clock.now().date():
                continue
            writer.writerow(
                [
                    parcel.tracking_number,
                    parcel.reference,
                    f"{cod:.2f}",
                    f"{fee:.2f}",
                    f"{cod - fee:.2f}",
                    paid_on.isoformat(),
                ]
            )
        return Response(200, out.getvalue().encode("utf-8"), "text/csv; charset=utf-8")


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    serve_running(start(host, port))


def start(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Running:
    """The sandbox as ``make run`` serves it, in background threads: its parcels kept in the
    data directory across restarts, its events pushed as they happen."""
    from shipdesk import env

    app = SandboxEmulator(step_seconds=step_seconds_from_env())
    state = env.DATA_DIR / "sandbox-emulator.json"  # parcels survive a restart of `make run`
    if state.exists():
        try:
            app.restore(json.loads(state.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            print(f"sandbox state {state} unreadable, starting empty: {exc}", flush=True)

    running = start_app(app, host, port)

    def pusher() -> None:  # events happen as the scenarios go on: push them every few seconds
        while not running.stopped.wait(5):
            app.push_webhooks()
            try:
                state.parent.mkdir(parents=True, exist_ok=True)
                tmp = state.with_suffix(".tmp")
                tmp.write_text(json.dumps(app.snapshot(), ensure_ascii=False), encoding="utf-8")
                tmp.replace(state)
            except OSError as exc:
                print(f"sandbox state not saved: {exc}", flush=True)

    threading.Thread(target=pusher, daemon=True, name="sandbox-webhooks").start()
    return running
