"""A PickPoint (legacy JSON API, ``e-solution.pickpoint.ru/api``) emulator: login session,
createsending, makelabel (PDF), tracksending/tracksendings, postamatlist, getstates,
registry (makereestrnumber/getreestr), logout; failures as ``{"ErrorMessage": ...}`` or
an ``Error: ...`` text where the real API answers so. Served under ``/api``. Tracking
scenarios play on its clock (the real time unless a test moves it; paced by
``step_seconds`` in the sandbox of ``make run``)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
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
from shipdesk.carriers.pickpoint.statuses import STATES

DEFAULT_PORT = 18202
SANDBOX_BASE_PATH = "/api"
LOGIN = "shipdesk-sandbox"
PASSWORD = "shipdesk-sandbox-password"  # noqa: S105 (the emulator's public test account)
IKN = "9990000000"
SANDBOX_CREDENTIALS = {"login": LOGIN, "password": PASSWORD, "ikn": IKN}
MSK = timezone(timedelta(hours=3))
SESSION_TTL = 3600.0

STEP_STATES = {
    "created": 101,
    "accepted": 104,
    "in_transit": 106,
    "customs": 107,
    "arrived": 109,
    "out_for_delivery": 108,
    "delivery_failed": 110,
    "delivered": 111,
    "partially_delivered": 116,
    "refused": 113,
    "storage_expired": 112,
    "returning": 114,
    "returned": 115,
    "lost": 117,
}

POSTAMATS: list[dict[str, Any]] = [
    {
        "Number": "7701-001",
        "Name": "Москва, ТЦ Атриум",
        "CitiName": "Москва",
        "Region": "Москва",
        "Address": "ул. Земляной Вал, 33",
        "PostCode": "105064",
        "Latitude": 55.7568,
        "Longitude": 37.6589,
        "WorkTime": "10:00-22:00,10:00-22:00,10:00-22:00,10:00-22:00,10:00-22:00,10:00-22:00,10:00-22:00",
        "TypeTitle": "АПТ",
        "Status": 2,
    },
    {
        "Number": "7701-002",
        "Name": "Москва, м. Арбатская",
        "CitiName": "Москва",
        "Region": "Москва",
        "Address": "ул. Арбат, 1",
        "PostCode": "119019",
        "Latitude": 55.7520,
        "Longitude": 37.5990,
        "WorkTime": "09:00-21:00,09:00-21:00,09:00-21:00,09:00-21:00,09:00-21:00,10:00-18:00,10:00-18:00",
        "TypeTitle": "ПВЗ",
        "Status": 2,
    },
    {
        "Number": "7801-035",
        "Name": "Санкт-Петербург, Галерея",
        "CitiName": "Санкт-Петербург",
        "Region": "Санкт-Петербург",
        "Address": "Лиговский пр., 30",
        "PostCode": "191036",
        "Latitude": 59.9271,
        "Longitude": 30.3602,
        "WorkTime": "круглосуточно",
        "TypeTitle": "АПТ",
        "Status": 2,
    },
    {
        "Number": "5501-003",
        "Name": "Омск, ТК Континент",
        "CitiName": "Омск",
        "Region": "Омская обл.",
        "Address": "ул. Конева, 10",
        "PostCode": "644079",
        "Latitude": 55.0020,
        "Longitude": 73.2680,
        "WorkTime": "10:00-21:00",
        "TypeTitle": "АПТ",
        "Status": 2,
    },
]


def pp_time(moment: datetime) -> str:
    """PickPoint's ``dd.mm.yy HH:MM`` in Moscow time."""
    return moment.astimezone(MSK).strftime("%d.%m.%y %H:%M")


@dataclass
class Sending:
    invoice: str
    barcode: str
    sender_code: str
    body: dict[str, Any]
    created_at: datetime
    scenario: str
    registry: str = ""
    cancelled_at: datetime | None = None


class PickpointEmulator(App):
    def __init__(self, *, step_seconds: float = 0.0) -> None:
        super().__init__(step_seconds=step_seconds)
        self.accounts = {LOGIN: PASSWORD}
        self.sessions: dict[str, float] = {}
        self.sendings: dict[str, Sending] = {}
        self.registries: dict[str, list[str]] = {}
        self.next_invoice = 15_000_000_001
        self.logins = 0
        self.route("POST", "/api/login", self.login)
        self.route("POST", "/__emulator__/expire_sessions", self.expire_sessions)
        for method, path, handler in [
            ("POST", "/api/logout", self.logout),
            ("POST", "/api/createsending", self.create_sending),
            ("POST", "/api/makelabel", self.make_label),
            ("POST", "/api/tracksending", self.track_sending),
            ("POST", "/api/tracksendings", self.track_sendings),
            ("POST", "/api/makereestrnumber", self.make_registry),
            ("POST", "/api/getreestr", self.get_registry),
        ]:
            self.route(method, path, self._session(handler))
        self.route("GET", "/api/postamatlist", lambda r: json_response(POSTAMATS))
        self.route(
            "GET",
            "/api/getstates",
            lambda r: json_response(
                [{"State": code, "StateText": text} for code, (text, _s, _sub) in STATES.items()]
            ),
        )

    # --- sessions ------------------------------------------------------------------------
    def login(self, request: Request) -> Response:
        data = request.json() or {}
        self.logins += 1
        if not data.get("Login") or self.accounts.get(str(data.get("Login"))) != data.get("Password"):
            return json_response({"ErrorMessage": "Неверный логин или пароль"})
        session = secrets.token_hex(16)
        self.sessions[session] = time.monotonic() + SESSION_TTL
        return json_response({"SessionId": session})

    def expire_sessions(self, request: Request) -> Response:
        self.sessions.clear()
        return json_response({"expired": True})

    def logout(self, request: Request, data: dict[str, Any]) -> Response:
        self.sessions.pop(str(data.get("SessionId")), None)
        return json_response({"Success": True})

    def _session(self, handler: Any) -> Any:
        def wrapped(request: Request) -> Response:
            try:
                data = request.json()
            except ValueError:
                return json_response({"ErrorMessage": "Неверный формат запроса"}, 400)
            if not isinstance(data, dict):
                return json_response({"ErrorMessage": "Неверный формат запроса"}, 400)
            expires = self.sessions.get(str(data.get("SessionId", "")))
            if expires is None or expires < time.monotonic():
                return json_response({"ErrorMessage": "Неверный идентификатор сессии"}, 401)
            result: Response = handler(request, data)
            return result

        return wrapped

    # --- sendings ------------------------------------------------------------------------
    def _problems(self, item: Any) -> list[str]:
        if not isinstance(item, dict) or not isinstance(item.get("Invoice"), dict):
            return ["Не задан объект Invoice"]
        invoice = item["Invoice"]
        problems = []
        if str(item.get("IKN", "")) != IKN:
            problems.append(f"Неверный ИКН: {item.get('IKN')}")
        if not invoice.get("RecipientName"):
            problems.append("Не задано поле RecipientName")
        phone = str(invoice.get("MobilePhone") or "")
        if not phone.startswith("+7") or len(phone) != 12:
            problems.append("Неверный формат поля MobilePhone (+7XXXXXXXXXX)")
        if invoice.get("PostamatNumber") not in {p["Number"] for p in POSTAMATS}:
            problems.append(f"Постамат PostamatNumber {invoice.get('PostamatNumber')} не найден")
        if str(invoice.get("PostageType")) not in ("10001", "10003"):
            problems.append("Неверное значение поля PostageType")
        if str(invoice.get("PostageType")) == "10003" and not float(invoice.get("Sum") or 0) > 0:
            problems.append("Для PostageType 10003 поле Sum должно быть больше нуля")
        sender_code = str(invoice.get("SenderCode") or "")
        if sender_code and any(s.sender_code == sender_code for s in self.sendings.values()):
            problems.append(f"Отправление с SenderCode {sender_code} уже зарегистрировано")
        return problems

    def create_sending(self, request: Request, data: dict[str, Any]) -> Response:
        sendings = data.get("Sendings")
        if not isinstance(sendings, list):
            return json_response({"ErrorMessage": "Не задан список Sendings"}, 400)
        created, rejected = [], []
        for item in sendings:
            edtn = str(item.get("EDTN", "")) if isinstance(item, dict) else ""
            problems = self._problems(item)
            if problems:
                rejected.append({"EDTN": edtn, "ErrorCode": -1, "ErrorMessage": "; ".join(problems)})
                continue
            with self.lock:
                invoice = str(self.next_invoice)
                self.next_invoice += 1
            body = item["Invoice"]
            sender_code = str(body.get("SenderCode") or "")
            scenario = scenarios.choose(
                sender_code or invoice,
                str(body.get("Description", "")).removeprefix("scenario:")
                if str(body.get("Description", "")).startswith("scenario:")
                else "",
            )
            sending = Sending(
                invoice=invoice,
                barcode=f"2008{invoice[-8:]}",
                sender_code=sender_code,
                body=body,
                created_at=self.clock.now(),
                scenario=scenario,
            )
            self.sendings[invoice] = sending
            created.append({"EDTN": edtn, "IKN": IKN, "InvoiceNumber": invoice, "Barcode": sending.barcode})
        return json_response({"CreatedSendings": created, "RejectedSendings": rejected})

    def states(self, sending: Sending) -> list[dict[str, Any]]:
        hours = (self.clock.now() - sending.created_at).total_seconds() / 3600
        out = []
        for at, step in scenarios.steps_until(sending.scenario, hours, self.step_seconds):
            code = STEP_STATES[step]
            when = sending.created_at + timedelta(hours=at)
            out.append(
                {
                    "ChangeDT": pp_time(when),
                    "State": code,
                    "StateMessage": STATES[code][0],
                    "InvoiceNumber": sending.invoice,
                    "SenderInvoiceNumber": sending.sender_code,
                }
            )
        return out

    def track_sending(self, request: Request, data: dict[str, Any]) -> Response:
        invoice = str(data.get("InvoiceNumber") or "")
        sending = self.sendings.get(invoice) or next(
            (
                s
                for s in self.sendings.values()
                if s.sender_code and s.sender_code == data.get("SenderInvoiceNumber")
            ),
            None,
        )
        return json_response(self.states(sending) if sending else [])

    def track_sendings(self, request: Request, data: dict[str, Any]) -> Response:
        invoices = data.get("Invoices")
        if not isinstance(invoices, list) or len(invoices) > 100:
            return json_response({"ErrorMessage": "Invoices: список не более 100 номеров"}, 400)
        out = []
        for invoice in invoices:
            sending = self.sendings.get(str(invoice))
            out.append(
                {
                    "InvoiceNumber": str(invoice),
                    "SenderInvoiceNumber": sending.sender_code if sending else "",
                    "States": self.states(sending) if sending else [],
                    "Error": "" if sending else "Отправление не найдено",
                }
            )
        return json_response(out)

    def make_label(self, request: Request, data: dict[str, Any]) -> Response:
        invoices = data.get("Invoices") or []
        missing = [str(i) for i in invoices if str(i) not in self.sendings]
        if not invoices or missing:
            return Response(
                200,
                f"Error: Отправления не найдены: {', '.join(missing) or '—'}".encode(),
                "text/plain; charset=utf-8",
            )
        pdf = label_pdf(
            "PickPoint",
            [
                (
                    s.barcode,
                    [
                        f"Отправление: {s.invoice}",
                        f"Заказ: {s.sender_code}",
                        f"Получатель: {s.body.get('RecipientName', '')}",
                        f"Постамат: {s.body.get('PostamatNumber', '')}",
                        f"К оплате: {s.body.get('Sum', 0)} руб.",
                    ],
                )
                for s in (self.sendings[str(i)] for i in invoices)
            ],
        )
        return Response(200, pdf, "application/pdf")

    def make_registry(self, request: Request, data: dict[str, Any]) -> Response:
        invoices = [str(i) for i in data.get("Invoices") or []]
        missing = [i for i in invoices if i not in self.sendings]
        if not invoices or missing:
            return json_response(
                {"Numbers": [], "ErrorMessage": f"Отправления не найдены: {', '.join(missing)}"}
            )
        taken = [i for i in invoices if self.sendings[i].registry]
        if taken:
            return json_response({"Numbers": [], "ErrorMessage": f"Уже в реестре: {', '.join(taken)}"})
        number = f"{len(self.registries) + 1:08d}"
        self.registries[number] = invoices
        for invoice in invoices:
            self.sendings[invoice].registry = number
        return json_response({"Numbers": [number], "ErrorMessage": None})

    def get_registry(self, request: Request, data: dict[str, Any]) -> Response:
        number = str(data.get("ReestrNumber") or "")
        if number not in self.registries:
            return Response(200, "Error: Реестр не найден".encode(), "text/plain; charset=utf-8")
        sendings = [self.sendings[i] for i in self.registries[number]]
        lines = [
            f"{n}. {s.invoice} {s.sender_code} {s.body.get('RecipientName', '')} {s.body.get('Sum', 0)} руб."
            for n, s in enumerate(sendings, 1)
        ]
        return Response(
            200, label_pdf("PickPoint: реестр передачи", [(number, lines[:40])]), "application/pdf"
        )

    def cod_total(self) -> Decimal:
        return sum((Decimal(str(s.body.get("Sum") or 0)) for s in self.sendings.values()), Decimal("0"))


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    serve_running(start(host, port))


def start(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Running:
    return start_app(PickpointEmulator(step_seconds=step_seconds_from_env()), host, port)
