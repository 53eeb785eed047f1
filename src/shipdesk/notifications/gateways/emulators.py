"""Emulators of the SMS gateways and a webhook receiver: small threaded HTTP servers on
127.0.0.1 speaking each gateway's wire protocol (auth, response shapes, error codes,
status endpoints), used by the tests, the benchmark and as sandbox gateways.

``mode``: None (normal), "error" (the gateway refuses with its "service unavailable"
answer), "hang" (the request is held for ``hang_seconds`` before any answer).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PRICE_PER_SEGMENT = Decimal("2.50")


def _segments(text: str) -> int:
    from shipdesk.notifications.rendering import sms_length

    return max(sms_length(text).segments, 1)


def _valid_phone(phone: str) -> bool:
    return bool(re.fullmatch(r"7\d{10}", phone))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    _json: Any = None
    _raw: bytes = b""

    def _params(self) -> dict[str, str]:
        query = parse_qs(urlparse(self.path).query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # the sender died mid-request (a killed worker): a real server never sees a
            # request it did not receive whole, so neither does the emulator
            raise ConnectionResetError("request body cut short")
        self._raw = raw
        params = {k: v[-1] for k, v in query.items()}
        ctype = self.headers.get("Content-Type", "")
        if raw and "json" in ctype:
            self._json = json.loads(raw)
        elif raw:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True)
                           .items()})
        return params

    def _handle(self) -> None:
        self._json = None
        try:
            params = self._params()
        except ConnectionResetError:
            self.close_connection = True
            return
        self.server.requests += 1
        if self.server.mode == "hang":
            time.sleep(self.server.hang_seconds)
        if self.server.delay:
            time.sleep(self.server.delay)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.route(self, urlparse(self.path).path, params)

    do_GET = do_POST = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.lock = threading.Lock()
        self.mode: str | None = None
        self.hang_seconds = 30.0
        self.delay = 0.0  # seconds added to every answer (a slow gateway)
        self.requests = 0
        self.messages: list[dict[str, Any]] = []  # every message accepted, in order
        self.by_id: dict[str, dict[str, Any]] = {}
        self.delivery = "delivered"  # what the status endpoint reports
        self.clock = time.time  # the gateway's clock (tests pin it to their "now")
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        # told of every message accepted, before the gateway answers (``shipdesk
        # emulate_sms`` prints them)
        self.on_message: Callable[[dict[str, Any]], None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> _Server:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def _store(self, phone: str, text: str, **extra: Any) -> dict[str, Any]:
        with self.lock:
            msg = {"id": str(next(self._ids)), "phone": phone, "text": text,
                   "segments": _segments(text),
                   "cost": PRICE_PER_SEGMENT * _segments(text), **extra}
            self.messages.append(msg)
            self.by_id[msg["id"]] = msg
        if self.on_message is not None:
            self.on_message(msg)
        return msg

    def route(self, h: _Handler, path: str, params: dict[str, str]) -> None:
        raise NotImplementedError


class SmsRuEmulator(_Server):
    """sms.ru (https://sms.ru/api): ``/sms/send`` (``to`` + ``msg``, ``to[PHONE]=text`` and
    ``multi[PHONE]=text``), ``/sms/cost``, ``/sms/status``, ``/my/balance``, ``/my/limit``,
    ``/my/free``, ``/my/senders``, ``/auth/check``, ``/stoplist/get|add|del``. A request
    that names no recipient is refused (code 202): an OK always means something was sent."""

    DAILY_LIMIT = 5000
    FREE_PER_DAY = 5

    def __init__(self, port: int, *, api_id: str = "test-api-id") -> None:
        super().__init__(port)
        self.api_id = api_id
        self.balance = Decimal("100000.00")
        self.senders = ["SMS.RU", "Shipdesk"]
        # names sms.ru has not approved (refused with 204); any other name is taken as approved
        self.refused_senders: set[str] = set()
        self.stoplist: dict[str, str] = {}

    @staticmethod
    def _ok(**body: Any) -> dict[str, Any]:
        return {"status": "OK", "status_code": 100, **body}

    @staticmethod
    def _err(code: int, text: str) -> dict[str, Any]:
        return {"status": "ERROR", "status_code": code, "status_text": text}

    @staticmethod
    def recipients(params: dict[str, str]) -> dict[str, str] | None:
        """phone -> text from ``multi[...]``, ``to[...]`` or ``to``+``msg``; None: none given."""
        multi = {k[6:-1]: v for k, v in params.items() if k.startswith("multi[") and k.endswith("]")}
        multi.update({k[3:-1]: v for k, v in params.items() if k.startswith("to[") and k.endswith("]")})
        if params.get("to"):
            multi.update({p.strip(): params.get("msg", "") for p in params["to"].split(",")
                          if p.strip()})
        return multi or None

    def _check_one(self, phone: str, text: str) -> dict[str, Any] | None:
        if not _valid_phone(phone):
            return self._err(202, "Неправильно указан номер телефона получателя, либо на него нет маршрута")
        if not text:
            return self._err(203, "Нет текста сообщения")
        if phone in self.stoplist:
            return self._err(209, "Вы добавили этот номер в стоп-лист")
        if _segments(text) > 8:
            return self._err(205, "Сообщение слишком длинное (превышает 8 СМС)")
        return None

    def route(self, h: _Handler, path: str, params: dict[str, str]) -> None:
        if params.get("api_id") != self.api_id:
            return h._reply(200, self._err(200, "Неправильный api_id"))
        if self.mode == "error":
            return h._reply(200, self._err(220, "Сервис временно недоступен, попробуйте чуть позже"))
        handler = {"/sms/send": self._send, "/sms/cost": self._cost, "/sms/status": self._status,
                   "/stoplist/add": self._stoplist_add, "/stoplist/del": self._stoplist_del,
                   }.get(path)
        if handler is not None:
            return h._reply(200, handler(params))
        if path == "/my/balance":
            return h._reply(200, self._ok(balance=float(self.balance)))
        if path == "/my/limit":
            today = sum(1 for m in self.messages if m.get("day") == time.strftime("%Y-%m-%d"))
            return h._reply(200, self._ok(total_limit=self.DAILY_LIMIT, used_today=today))
        if path == "/my/free":
            return h._reply(200, self._ok(total_free=self.FREE_PER_DAY, used_today=0))
        if path == "/my/senders":
            return h._reply(200, self._ok(senders=self.senders))
        if path == "/auth/check":
            return h._reply(200, self._ok())
        if path == "/stoplist/get":
            return h._reply(200, self._ok(stoplist=dict(self.stoplist)))
        return h._reply(200, self._err(211, "Метод не найден"))

    def _send(self, params: dict[str, str]) -> dict[str, Any]:
        wanted = self.recipients(params)
        if wanted is None:
            return self._err(202, "Неправильно указан номер телефона получателя, либо на него нет маршрута")
        if len(wanted) > 100:
            return self._err(213, "Указано более 100 номеров в списке получателей")
        if params.get("from") and params["from"] in self.refused_senders:
            return self._err(204, "Имя отправителя не согласовано с администрацией")
        sms: dict[str, Any] = {}
        for phone, text in wanted.items():
            refused = self._check_one(phone, text)
            if refused is not None:
                sms[phone] = refused
                continue
            msg = self._store(phone, text, sender=params.get("from", ""),
                              day=time.strftime("%Y-%m-%d"))
            self.balance -= msg["cost"]
            sms[phone] = {"status": "OK", "status_code": 100,
                          "sms_id": f"{msg['id']:0>6}-{msg['id']}"}
            self.by_id[sms[phone]["sms_id"]] = msg
        return self._ok(sms=sms, balance=float(self.balance))

    def _cost(self, params: dict[str, str]) -> dict[str, Any]:
        wanted = self.recipients(params)
        if wanted is None:
            return self._err(202, "Неправильно указан номер телефона получателя, либо на него нет маршрута")
        sms: dict[str, Any] = {}
        total, parts = Decimal("0"), 0
        for phone, text in wanted.items():
            refused = self._check_one(phone, text)
            if refused is not None:
                sms[phone] = refused
                continue
            n = _segments(text)
            sms[phone] = {"status": "OK", "status_code": 100,
                          "cost": float(PRICE_PER_SEGMENT * n), "sms": n}
            total, parts = total + PRICE_PER_SEGMENT * n, parts + n
        return self._ok(sms=sms, total_cost=float(total), total_sms=parts)

    def _status(self, params: dict[str, str]) -> dict[str, Any]:
        out = {}
        for sms_id in filter(None, params.get("sms_id", "").split(",")):
            found = self.by_id.get(sms_id)
            if found is None:
                out[sms_id] = self._err(-1, "Сообщение не найдено")
                continue
            code = 103 if self.delivery == "delivered" else 106
            out[sms_id] = {"status": "OK", "status_code": code,
                           "status_text": "Сообщение доставлено" if code == 103
                           else "Не может быть доставлено: сбой в телефоне",
                           "cost": float(found["cost"]), "sms": found["segments"]}
        return self._ok(sms=out, balance=float(self.balance))

    def _stoplist_add(self, params: dict[str, str]) -> dict[str, Any]:
        phone = params.get("stoplist_phone", "")
        if not _valid_phone(phone):
            return self._err(202, "Неправильно указан номер телефона")
        self.stoplist[phone] = params.get("stoplist_text", "")
        return self._ok()

    def _stoplist_del(self, params: dict[str, str]) -> dict[str, Any]:
        if self.stoplist.pop(params.get("stoplist_phone", ""), None) is None:
            return self._err(202, "Номер не найден в стоп-листе")
        return self._ok()


class SmscEmulator(_Server):
    """SMSC: the client's ``id`` is kept with the message but, as SMSC documents it ("not
    necessarily unique"), a repeated id is sent again; status.php finds a message by
    (phone, id) and answers status -3 when there is none."""

    def __init__(self, port: int, *, login: str = "shop", password: str = "secret") -> None:  # noqa: S107
        super().__init__(port)
        self.login, self.password = login, password

    def _auth_ok(self, params: dict[str, str]) -> bool:
        psw = params.get("psw", "")
        return params.get("login") == self.login and psw in (
            self.password, hashlib.md5(self.password.encode()).hexdigest())  # noqa: S324

    def route(self, h: _Handler, path: str, params: dict[str, str]) -> None:
        if not self._auth_ok(params):
            return h._reply(200, {"error": "authorise error", "error_code": 2})
        if self.mode == "error":
            return h._reply(200, {"error": "duplicate request, wait a minute", "error_code": 9})
        if path == "/sys/send.php":
            phones = re.split(r"[,;]", params.get("phones", ""))
            text, cid = params.get("mes", ""), params.get("id", "")
            if not text:
                return h._reply(200, {"error": "parameters error", "error_code": 1})
            if not all(_valid_phone(p) for p in phones):
                return h._reply(200, {"error": "invalid phone", "error_code": 7})
            msgs = [self._store(p, text, client_id=cid, sender=params.get("sender", ""))
                    for p in phones]
            if cid:
                with self.lock:
                    for m in msgs:
                        self.by_id[f"{m['phone']}|{cid}"] = m
            body: dict[str, Any] = {"id": cid or msgs[0]["id"],
                                    "cnt": sum(m["segments"] for m in msgs)}
            if params.get("cost") in ("2", "3"):
                body.update(cost=str(sum(m["cost"] for m in msgs)), balance="99000.00")
            return h._reply(200, body)
        if path == "/sys/status.php":
            msg = (self.by_id.get(f"{params.get('phone', '')}|{params.get('id', '')}")
                   or self.by_id.get(params.get("id", "")))
            if msg is None:
                return h._reply(200, {"status": -3, "last_date": "", "last_timestamp": 0,
                                      "err": 0})
            status = 1 if self.delivery == "delivered" else 20
            return h._reply(200, {"status": status, "last_date": "23.11.2026 10:00:00",
                                  "last_timestamp": int(time.time()), "err": 0})
        if path == "/sys/balance.php":
            return h._reply(200, {"balance": "99000.00"})
        return h._reply(404, {"error": "unknown method", "error_code": 1})


class SmsAeroEmulator(_Server):
    def __init__(self, port: int, *, email: str = "shop@example.test",
                 api_key: str = "aero-key") -> None:
        super().__init__(port)
        self.email, self.api_key = email, api_key

    def route(self, h: _Handler, path: str, params: dict[str, str]) -> None:
        auth = h.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.api_key}".encode()).decode()
        if auth != expected:
            return h._reply(401, {"success": False, "data": None,
                                  "message": "Your credentials are incorrect"})
        if self.mode == "error":
            return h._reply(503, {"success": False, "data": None,
                                  "message": "Service temporarily unavailable"})
        body = h._json or params
        if path in ("/v2/sms/send", "/v2/sms/testsend"):
            number, text = str(body.get("number", "")), str(body.get("text", ""))
            if not _valid_phone(number):
                return h._reply(400, {"success": False, "data": {"number": ["invalid number"]},
                                      "message": "Validation error."})
            now = int(self.clock())
            msg = self._store(number, text, sender=body.get("sign", ""), created=now,
                              callback_url=body.get("callbackUrl", ""))
            return h._reply(200, {"success": True, "message": None, "data": {
                "id": int(msg["id"]), "from": body.get("sign", "SMS Aero"), "number": number,
                "text": text, "status": 0, "extendStatus": "queue", "channel": "DIRECT",
                # a number here (the published example), a string in status and list
                "cost": float(msg["cost"]), "dateCreate": now, "dateSend": now}})
        if path == "/v2/auth":
            return h._reply(200, {"success": True, "data": None,
                                  "message": "Successful authorization."})
        if path in ("/v2/sms/list", "/v2/sms/testlist"):
            return self._list(h, body, int(parse_qs(urlparse(h.path).query).get("page",
                                                                                 ["1"])[0]))
        if path in ("/v2/sms/status", "/v2/sms/teststatus"):
            found = self.by_id.get(str(body.get("id", "")))
            if found is None:
                return h._reply(404, {"success": False, "data": None,
                                      "message": "Message not found"})
            delivered = self.delivery == "delivered"
            return h._reply(200, {"success": True, "message": None, "data": {
                "id": int(found["id"]), "number": found["phone"], "text": found["text"],
                "status": 1 if delivered else 2,
                "extendStatus": "delivery" if delivered else "undeliverable",
                "cost": str(found["cost"])}})
        if path == "/v2/balance":
            return h._reply(200, {"success": True, "data": {"balance": 99000.0},
                                  "message": None})
        return h._reply(404, {"success": False, "data": None, "message": "Not found"})


    PAGE = 30

    def _list(self, h: _Handler, body: dict[str, Any], page: int) -> None:
        """Newest first, filtered by ``number`` and ``text``, ``PAGE`` a page, with links."""
        with self.lock:
            rows = [m for m in reversed(self.messages)
                    if (not body.get("number") or m["phone"] == str(body["number"]))
                    and (not body.get("text") or m["text"] == body["text"])]
        last = max(1, -(-len(rows) // self.PAGE))
        data: dict[str, Any] = {
            str(i): {"id": int(m["id"]), "from": m["sender"], "number": m["phone"],
                     "text": m["text"], "status": 1, "extendStatus": "delivery",
                     "channel": "DIRECT", "cost": str(m["cost"]), "dateCreate": m["created"],
                     "dateSend": m["created"]}
            for i, m in enumerate(rows[(page - 1) * self.PAGE:page * self.PAGE])}
        links = {"self": f"/v2/sms/list?page={page}", "first": "/v2/sms/list?page=1",
                 "last": f"/v2/sms/list?page={last}"}
        if page < last:
            links["next"] = f"/v2/sms/list?page={page + 1}"
        data.update(links=links, totalCount=str(len(rows)))
        return h._reply(200, {"success": True, "data": data, "message": None})


class WebhookReceiver(_Server):
    """A receiver that keeps one message per Idempotency-Key."""

    def route(self, h: _Handler, path: str, params: dict[str, str]) -> None:
        if self.mode == "error":
            return h._reply(503, {"error": "unavailable"})
        key = h.headers.get("Idempotency-Key", "")
        with self.lock:
            if key and key in self.by_id:
                return h._reply(200, {"ok": True, "duplicate": True})
        body = h._json or {}
        if not body.get("recipient") or not body.get("text"):
            return h._reply(400, {"error": "recipient and text are required"})
        msg = self._store(str(body.get("recipient", "")), str(body.get("text", "")),
                          signature=h.headers.get("X-Shipdesk-Signature", ""), raw=h._raw)
        if key:
            with self.lock:
                self.by_id[key] = msg
        return h._reply(200, {"ok": True})


# The SMS gateways' emulators as sandboxes (``shipdesk emulate_sms``, ``make run``): each
# with its port and the settings a shop enters to use it.
SANDBOX_PORTS = {"smsru": 18300, "smsc": 18301, "smsaero": 18302}


def sandbox(gateway: str, port: int | None = None) -> tuple[_Server, dict[str, str]]:
    """A started emulator of ``gateway`` and the channel settings that reach it."""
    port = SANDBOX_PORTS[gateway] if port is None else port
    server: _Server
    if gateway == "smsru":
        server = SmsRuEmulator(port)
        config = {"api_id": server.api_id}
    elif gateway == "smsc":
        server = SmscEmulator(port)
        config = {"login": server.login, "password": server.password}
    elif gateway == "smsaero":
        server = SmsAeroEmulator(port)
        config = {"email": server.email, "api_key": server.api_key}
    else:
        raise KeyError(gateway)
    return server.start(), {**config, "base_url": server.base_url}


def sms_line(msg: dict[str, Any]) -> str:
    """How ``shipdesk emulate_sms`` and ``make run`` show an SMS the emulator accepted."""
    return f"SMS {msg['id']} to +{msg['phone']} ({msg['segments']} part(s)): {msg['text']}"
