"""MoySklad's JSON API 1.2 as a local server (stdlib only, no Django): ``shipdesk emulate
moysklad --port N``.

What it keeps to, as the real service does (``shared/domain.md`` §6):

* auth: ``Authorization: Bearer <token>`` or ``Basic`` login:password; ``POST
  /security/token`` with Basic gives a token and revokes the user's older ones; 401 with
  ``X-Lognex-Auth`` / ``X-Lognex-Auth-Message`` otherwise;
* ``Accept-Encoding: gzip`` is mandatory (415 with an empty body without it); answers are
  gzipped;
* limits: 45 requests per 3 s and 5 parallel requests per user; beyond them a 429 with
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-Lognex-Retry-TimeInterval`` (ms),
  ``X-Lognex-Reset`` and the error codes 1049 / 1073; every refusal is counted
  (``GET /__emulator__/state`` → ``refused``);
* sums in kopecks, dates in Moscow time ``YYYY-MM-DD HH:MM:SS.fff``; ``syncId``: a create
  sent again with the same one answers the entity already created;
* collections with ``meta.size/limit/offset``, ``limit`` ≤ 1000 (≤ 100 with ``expand``),
  ``filter=field=value;...`` (the same field repeated: any of the values), ``expand``;
* errors ``{"errors":[{"error","code","moreInfo"}]}``;
* webhooks: ``/entity/webhook``; a change made by a person (``POST /__emulator__/move``)
  or through the API notifies the subscribed URLs with ``?requestId=``, answered within
  1.5 s or sent again up to 3 times with the same ``requestId``; our own calls carrying
  ``X-Lognex-WebHook-DisableByPrefix`` (or ``X-Lognex-WebHook-Disable: true``) notify nobody
  of matching URLs.

Control (tests, benchmarks): ``POST /__emulator__/seed`` ``{"orders": N, "without_address":
K, "delivery": "value"}`` makes customer orders; ``POST /__emulator__/move`` ``{"ids": [...]
| "count": N [, "from_state": "Новый"], "state": "Собран", "per_webhook": 100}`` moves orders
to a state as a person would; ``POST /__emulator__/revoke`` revokes every token; ``POST
/__emulator__/fail`` (the kit's) injects outages.
"""

from __future__ import annotations

import base64
import gzip
import json
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shipdesk.carriers.emulation import App, Request, Response, Running, serve_running
from shipdesk.carriers.emulation import start as start_app

DEFAULT_PORT = 18400
PREFIX = "/api/remap/1.2"
LOGIN, PASSWORD = "admin@shop", "demo-password"
SANDBOX_TOKEN = "moysklad-demo-token"  # noqa: S105 - the emulator's demo token
SANDBOX_CREDENTIALS = {"token": SANDBOX_TOKEN}
ACCOUNT_ID = "1f2e3d4c-0000-4000-8000-00000000a001"
MOSCOW = ZoneInfo("Europe/Moscow")
RATE_REQUESTS, RATE_WINDOW, PARALLEL = 45, 3.0, 5
MORE_INFO = "https://dev.moysklad.ru/doc/api/remap/1.2/#error_{code}"
STATES = [("Новый", "Regular"), ("Подтвержден", "Regular"), ("Собран", "Regular"),
          ("Передан в доставку", "Regular"), ("В пути", "Regular"), ("Доставлен", "Successful"),
          ("Проблема доставки", "Regular"), ("Выполнен", "Successful"),
          ("Возврат", "Unsuccessful"), ("Отменен", "Unsuccessful")]
ATTRIBUTES = [("Трек-номер", "string"), ("Способ доставки", "string")]
DOCUMENTS = ("customerorder", "demand", "paymentin", "paymentout", "supply", "invoicein",
             "salesreturn")


def moment(when: datetime) -> str:
    """Moscow time as MoySklad writes it: ``2026-12-06 14:05:00.000``."""
    local = when.astimezone(MOSCOW)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"errors": [{"error": message, "code": code, "moreInfo": MORE_INFO.format(code=code)}]}
    return Response(status, json.dumps(body, ensure_ascii=False).encode(),
                    "application/json;charset=utf-8", headers or {})


def _sid(stable: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"moysklad-emulator:{stable}"))


class MoySkladEmulator(App):
    def __init__(self, *, step_seconds: float = 0.0) -> None:
        super().__init__(step_seconds=step_seconds)
        self.host = "127.0.0.1"
        self.entities: dict[str, dict[str, dict[str, Any]]] = {}
        self.sync_ids: dict[tuple[str, str], str] = {}
        self.tokens = {SANDBOX_TOKEN}
        self.windows: dict[str, deque[float]] = {}
        self.in_flight: dict[str, int] = {}
        self.refused = 0
        self.max_parallel = 0
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []  # what was sent, and how it was answered
        self.suppressed = 0
        self.enforce_limits = True
        self.rate_requests, self.rate_window = RATE_REQUESTS, RATE_WINDOW
        self.server_errors = 0  # the next N API requests answer 503
        self._outbox: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._order_seq = 0
        threading.Thread(target=self._deliver_loop, daemon=True, name="moysklad-webhooks").start()
        self._seed_directories()
        p = PREFIX
        self.route("POST", f"{p}/security/token", self._token)
        self.route("GET", f"{p}/entity/customerorder/metadata", self._metadata)
        self.route("GET", f"{p}/entity/webhook", self._webhook_list)
        self.route("POST", f"{p}/entity/webhook", self._webhook_create)
        self.route("DELETE", f"{p}/entity/webhook/{{id}}", self._webhook_delete)
        self.route("PUT", f"{p}/entity/demand/new", self._demand_template)
        for kind in (*DOCUMENTS, "counterparty", "organization", "product", "service",
                     "expenseitem", "store"):
            self.route("GET", f"{p}/entity/{kind}", self._list)
            self.route("POST", f"{p}/entity/{kind}", self._create)
            self.route("GET", f"{p}/entity/{kind}/{{id}}", self._get)
            self.route("PUT", f"{p}/entity/{kind}/{{id}}", self._update)
        self.route("POST", "/__emulator__/seed", self._control_seed)
        self.route("POST", "/__emulator__/move", self._control_move)
        self.route("POST", "/__emulator__/revoke", self._control_revoke)
        self.route("POST", "/__emulator__/limits", self._control_limits)

    # --- references ------------------------------------------------------------------------
    def href(self, kind: str, entity_id: str = "") -> str:
        base = f"http://{self.host}{PREFIX}/entity/{kind}"
        return f"{base}/{entity_id}" if entity_id else base

    def meta(self, kind: str, entity_id: str) -> dict[str, Any]:
        return {"href": self.href(kind, entity_id), "metadataHref": self.href(kind) + "/metadata",
                "type": kind, "mediaType": "application/json",
                "uuidHref": f"https://online.moysklad.ru/app/#{kind}/edit?id={entity_id}"}

    def state_meta(self, state_id: str) -> dict[str, Any]:
        return {"meta": {"href": f"{self.href('customerorder')}/metadata/states/{state_id}",
                         "type": "state", "mediaType": "application/json"}}

    def state_id(self, name: str) -> str:
        return _sid(f"state:{name}")

    def attribute_id(self, name: str) -> str:
        return _sid(f"attribute:{name}")

    def _seed_directories(self) -> None:
        now = moment(self.clock.now())
        for kind, name in (("organization", "ООО «Ромашка»"), ("store", "Основной склад"),
                           ("expenseitem", "Доставка")):
            entity_id = _sid(f"{kind}:{name}")
            self.entities.setdefault(kind, {})[entity_id] = {
                "id": entity_id, "accountId": ACCOUNT_ID, "name": name, "updated": now,
                "meta": self.meta(kind, entity_id)}

    # --- transport: auth, gzip, limits -------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        host = request.header("host")
        if host:
            self.host = host
        if request.path.startswith("/__emulator__/"):
            return super().dispatch(request)
        if "gzip" not in request.header("accept-encoding").lower():
            with self.lock:
                self.requests_seen += 1
            return Response(415, b"", "application/json")
        who, refusal = self._authenticate(request)
        if refusal is not None:
            with self.lock:
                self.requests_seen += 1
            return self._gzip(refusal)
        limited = self._enter(who)
        if limited is not None:
            return self._gzip(limited)
        try:
            with self.lock:
                failing = self.server_errors > 0
                self.server_errors -= 1 if failing else 0
            if failing:
                with self.lock:
                    self.requests_seen += 1
                response = error(503, 1000, "Сервис временно недоступен")
            else:
                response = super().dispatch(request)
        finally:
            with self.lock:
                self.in_flight[who] -= 1
        return self._gzip(response)

    def _gzip(self, response: Response) -> Response:
        if response.body:
            response.body = gzip.compress(response.body, compresslevel=1)
            response.headers = {**response.headers, "Content-Encoding": "gzip"}
        return response

    def _authenticate(self, request: Request) -> tuple[str, Response | None]:
        value = request.header("authorization")
        scheme, _sep, credential = value.partition(" ")
        if scheme.lower() == "bearer" and credential in self.tokens:
            return f"token:{credential}", None
        if scheme.lower() == "basic":
            try:
                login, _colon, password = base64.b64decode(credential).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                login = password = ""
            if (login, password) == (LOGIN, PASSWORD):
                return f"user:{login}", None
        message = "Ошибка аутентификации: Неправильный пароль или имя пользователя или ключ авторизации"
        return "", error(401, 1056, message, {  # headers are latin-1: the English wording
            "X-Lognex-Auth": "-1056",
            "X-Lognex-Auth-Message": "Authentication error: wrong login, password or token"})

    def _enter(self, who: str) -> Response | None:
        """Counts the request against the user's window and parallel requests."""
        now = time.monotonic()
        with self.lock:
            window = self.windows.setdefault(who, deque())
            while window and window[0] <= now - self.rate_window:
                window.popleft()
            running = self.in_flight.get(who, 0)
            if self.enforce_limits and (len(window) >= self.rate_requests or running >= PARALLEL):
                self.refused += 1
                self.requests_seen += 1
                parallel = running >= PARALLEL and len(window) < self.rate_requests
                wait_ms = 100 if parallel else int((window[0] + self.rate_window - now) * 1000) + 1
                headers = {"X-RateLimit-Limit": str(self.rate_requests),
                           "X-RateLimit-Remaining": str(max(0, self.rate_requests - len(window))),
                           "X-Lognex-Retry-TimeInterval": str(wait_ms),
                           "X-Lognex-Reset": str(wait_ms), "X-Lognex-Retry-After": str(wait_ms)}
                if parallel:
                    return error(429, 1073, "Превышено ограничение на количество параллельных "
                                 "запросов", headers)
                return error(429, 1049, "Превышено ограничение на количество запросов в "
                             "единицу времени", headers)
            window.append(now)
            self.in_flight[who] = running + 1
            self.max_parallel = max(self.max_parallel, running + 1)
        return None

    def _token(self, request: Request) -> Response:
        if not request.header("authorization").lower().startswith("basic "):
            return error(401, 1056, "Токен получают по логину и паролю (Basic)")
        token = uuid.uuid4().hex
        with self.lock:
            self.tokens = {token}  # a new token revokes the user's older ones
        return self._json({"access_token": token}, 201)

    # --- answers -----------------------------------------------------------------------------
    def _json(self, data: Any, status: int = 200) -> Response:
        return Response(status, json.dumps(data, ensure_ascii=False).encode(),
                        "application/json;charset=utf-8")

    def _kind(self, request: Request) -> str:
        return request.path[len(PREFIX) + len("/entity/"):].split("/")[0]

    def state(self) -> dict[str, Any]:
        with self.lock:
            counts = {kind: len(rows) for kind, rows in self.entities.items()}
            return {**super().state(), "refused": self.refused, "max_parallel": self.max_parallel,
                    "entities": counts, "webhooks": len(self.webhooks),
                    "deliveries": len(self.deliveries), "suppressed": self.suppressed}

    def _metadata(self, request: Request) -> Response:
        states = [{"meta": {**self.state_meta(self.state_id(name))["meta"],
                            "metadataHref": self.href("customerorder") + "/metadata"},
                   "id": self.state_id(name), "accountId": ACCOUNT_ID, "name": name,
                   "color": 15106326, "stateType": kind, "entityType": "customerorder"}
                  for name, kind in STATES]
        attributes = [{"meta": {"href": f"{self.href('customerorder')}/metadata/attributes/"
                                        f"{self.attribute_id(name)}",
                                "type": "attributemetadata", "mediaType": "application/json"},
                       "id": self.attribute_id(name), "name": name, "type": kind,
                       "required": False, "show": True} for name, kind in ATTRIBUTES]
        return self._json({"meta": {"href": self.href("customerorder") + "/metadata",
                                    "mediaType": "application/json"},
                           "states": states, "attributes": attributes, "createShared": False})

    def _expand(self, entity: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        out = dict(entity)
        positions = out.pop("_positions", None)
        if positions is not None:
            collection: dict[str, Any] = {"meta": {
                "href": f"{entity['meta']['href']}/positions", "type": f"{entity['meta']['type']}position",
                "mediaType": "application/json", "size": len(positions), "limit": 1000, "offset": 0}}
            if "positions" in expand:
                rows = []
                for position in positions:
                    row = dict(position)
                    if "positions.assortment" in expand:
                        ref = row["assortment"]["meta"]["href"].rsplit("/", 1)[-1]
                        row["assortment"] = self.entities["product"][ref]
                    rows.append(row)
                collection["rows"] = rows
            out["positions"] = collection
        if "agent" in expand and "agent" in out:
            ref = out["agent"]["meta"]["href"].rsplit("/", 1)[-1]
            out["agent"] = self.entities.get("counterparty", {}).get(ref, out["agent"])
        return out

    def _matches(self, entity: dict[str, Any], conditions: dict[str, list[str]]) -> bool:
        for field, values in conditions.items():
            if field == "state":
                actual = (entity.get("state") or {}).get("meta", {}).get("href", "")
            elif field == "agent":
                actual = (entity.get("agent") or {}).get("meta", {}).get("href", "")
            else:
                actual = str(entity.get(field, ""))
            if actual not in values:
                return False
        return True

    def _list(self, request: Request) -> Response:
        kind = self._kind(request)
        expand = {e.strip() for e in request.arg("expand").split(",") if e.strip()}
        try:
            limit = int(request.arg("limit", "1000"))
            offset = int(request.arg("offset", "0"))
        except ValueError:
            return error(400, 1002, "Параметр limit/offset должен быть целым числом")
        if limit > 1000 or (expand and limit > 100):
            return error(400, 1002, "Параметр limit должен быть не больше 1000 (100 с expand)")
        conditions: dict[str, list[str]] = {}
        for part in request.arg("filter").split(";"):
            if not part:
                continue
            field, sep, value = part.partition("=")
            if not sep:
                return error(400, 1002, f"Неверный фильтр «{part}»")
            conditions.setdefault(field, []).append(value)
        with self.lock:
            table = self.entities.get(kind, {})
            if set(conditions) == {"id"}:  # by ids: looked up, not scanned
                found = (table.get(i) for i in dict.fromkeys(conditions["id"]))
                rows = [e for e in found if e is not None]
            else:
                rows = [e for e in table.values() if self._matches(e, conditions)]
            page = [self._expand(e, expand) for e in rows[offset:offset + limit]]
        meta: dict[str, Any] = {"href": self.href(kind), "type": kind,
                                "mediaType": "application/json", "size": len(rows),
                                "limit": limit, "offset": offset}
        if offset + limit < len(rows):
            meta["nextHref"] = f"{self.href(kind)}?limit={limit}&offset={offset + limit}"
        return self._json({"context": {"employee": {"meta": {"href": f"http://{self.host}"
                                                                     f"{PREFIX}/context/employee",
                                                             "type": "employee"}}},
                           "meta": meta, "rows": page})

    def _get(self, request: Request) -> Response:
        kind = self._kind(request)
        expand = {e.strip() for e in request.arg("expand").split(",") if e.strip()}
        with self.lock:
            entity = self.entities.get(kind, {}).get(request.params["id"])
            if entity is None:
                return self._not_found(kind, request.params["id"])
            return self._json(self._expand(entity, expand))

    def _not_found(self, kind: str, entity_id: str) -> Response:
        return error(404, 1021, f"Объект с типом '{kind}' и идентификатором '{entity_id}' "
                                "не найден")

    def _create(self, request: Request) -> Response:
        kind = self._kind(request)
        data = request.json()
        if isinstance(data, list):
            if len(data) > 1000:
                return error(413, 1008, "В массиве больше 1000 элементов")
            answers = [self._create_one(kind, item, request) for item in data]
            return self._json(answers)
        answer = self._create_one(kind, data or {}, request)
        if "errors" in answer:
            return self._json(answer, 412 if answer["errors"][0]["code"] == 3006 else 400)
        return self._json(answer)

    def _create_one(self, kind: str, data: dict[str, Any], request: Request) -> dict[str, Any]:
        """One element of a POST: an update when it carries its meta, else a create."""
        href = (data.get("meta") or {}).get("href", "")
        if href:
            entity_id = href.rsplit("/", 1)[-1]
            with self.lock:
                if entity_id not in self.entities.get(kind, {}):
                    return json.loads(self._not_found(kind, entity_id).body)
            return self._apply_update(kind, entity_id, data, request)
        missing = [f for f in self._required(kind) if not data.get(f)]
        if missing:
            return {"errors": [{"error": f"Ошибка сохранения объекта: поле '{missing[0]}' не "
                                         "может быть пустым", "code": 3000, "parameter": missing[0],
                                "moreInfo": MORE_INFO.format(code=3000)}]}
        with self.lock:
            sync_id = data.get("syncId")
            if sync_id and (kind, sync_id) in self.sync_ids:
                return self._expand(self.entities[kind][self.sync_ids[(kind, sync_id)]], set())
            entity = self._store(kind, data)
            if sync_id:
                self.sync_ids[(kind, sync_id)] = entity["id"]
            return self._expand(entity, set())

    def _required(self, kind: str) -> tuple[str, ...]:
        if kind in ("paymentin", "paymentout", "supply", "invoicein", "salesreturn", "demand",
                    "customerorder"):
            base: tuple[str, ...] = ("organization", "agent")
            if kind == "paymentout":
                base += ("expenseItem",)
            if kind in ("supply", "salesreturn", "demand"):
                base += ("store",)
            return base
        if kind in ("counterparty", "product", "service"):
            return ("name",)
        return ()

    def _store(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        entity_id = str(uuid.uuid4())
        now = moment(self.clock.now())
        entity = {k: v for k, v in data.items() if k not in ("positions", "meta")}
        entity.update({"id": entity_id, "accountId": ACCOUNT_ID, "meta": self.meta(kind, entity_id),
                       "updated": now, "created": now})
        entity.setdefault("moment", now)
        if kind in DOCUMENTS:
            seq = len(self.entities.get(kind, {})) + 1
            entity.setdefault("name", f"{seq:05d}")
            entity.setdefault("applicable", True)
            positions = [self._position(kind, p) for p in data.get("positions") or []]
            entity["_positions"] = positions
            if kind in ("paymentin", "paymentout"):  # a payment's sum is given
                entity["sum"] = int(data.get("sum") or 0)
            else:  # a document with goods or services: the sum of its positions (read-only)
                entity["sum"] = sum(round(p["price"] * p["quantity"]) for p in positions)
        self.entities.setdefault(kind, {})[entity_id] = entity
        return entity

    def _position(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        position_id = str(uuid.uuid4())
        return {"meta": {"href": f"{self.href(kind)}/x/positions/{position_id}",
                         "type": f"{kind}position", "mediaType": "application/json"},
                "id": position_id, "accountId": ACCOUNT_ID,
                "quantity": float(data.get("quantity") or 1), "price": float(data.get("price") or 0),
                "discount": float(data.get("discount") or 0), "vat": int(data.get("vat") or 0),
                "assortment": data.get("assortment") or {}}

    def _update(self, request: Request) -> Response:
        kind = self._kind(request)
        with self.lock:
            if request.params["id"] not in self.entities.get(kind, {}):
                return self._not_found(kind, request.params["id"])
        answer = self._apply_update(kind, request.params["id"], request.json() or {}, request)
        return self._json(answer)

    def _apply_update(self, kind: str, entity_id: str, data: dict[str, Any],
                      request: Request | None, *, by_person: bool = False) -> dict[str, Any]:
        with self.lock:
            entity = self.entities[kind][entity_id]
            changed = []
            for key, value in data.items():
                if key in ("meta", "id", "accountId", "positions"):
                    continue
                if key == "attributes":
                    current = {a["id"]: a for a in entity.get("attributes", [])}
                    for attribute in value:
                        attr_id = attribute.get("id") or attribute["meta"]["href"].rsplit("/", 1)[-1]
                        name = next((n for n, _t in ATTRIBUTES if self.attribute_id(n) == attr_id),
                                    attr_id)
                        current[attr_id] = {"meta": {"href": f"{self.href(kind)}/metadata/"
                                                             f"attributes/{attr_id}",
                                                     "type": "attributemetadata",
                                                     "mediaType": "application/json"},
                                            "id": attr_id, "name": name, "type": "string",
                                            "value": attribute.get("value")}
                    entity["attributes"] = list(current.values())
                    changed.append(key)
                elif entity.get(key) != value:
                    entity[key] = value
                    changed.append(key)
            entity["updated"] = moment(self.clock.now())
            answer = self._expand(entity, set())
        if changed and kind == "customerorder":
            self._notify(kind, [entity_id], "UPDATE", request, changed)
        return answer

    def _demand_template(self, request: Request) -> Response:
        data = request.json() or {}
        href = ((data.get("customerOrder") or {}).get("meta") or {}).get("href", "")
        order_id = href.rsplit("/", 1)[-1]
        with self.lock:
            order = self.entities.get("customerorder", {}).get(order_id)
            if order is None:
                return self._not_found("customerorder", order_id)
            positions = [{"quantity": p["quantity"], "price": p["price"], "vat": p["vat"],
                          "assortment": p["assortment"]} for p in order.get("_positions", [])]
            template = {"organization": order.get("organization"), "agent": order.get("agent"),
                        "store": order.get("store") or self._directory("store"),
                        "customerOrder": {"meta": order["meta"]}, "sum": order.get("sum", 0),
                        "positions": {"rows": positions}, "moment": moment(self.clock.now())}
        return self._json(template)

    def _directory(self, kind: str) -> dict[str, Any]:
        entity = next(iter(self.entities[kind].values()))
        return {"meta": entity["meta"]}

    # --- webhooks ----------------------------------------------------------------------------
    def _webhook_list(self, request: Request) -> Response:
        with self.lock:
            rows = list(self.webhooks.values())
        return self._json({"meta": {"href": self.href("webhook"), "type": "webhook",
                                    "size": len(rows), "limit": 1000, "offset": 0}, "rows": rows})

    def _webhook_create(self, request: Request) -> Response:
        data = request.json() or {}
        if not str(data.get("url", "")).startswith(("http://", "https://")):
            return error(400, 3000, "Ошибка сохранения объекта: поле 'url' не может быть пустым")
        if data.get("action") not in ("CREATE", "UPDATE", "DELETE", "PROCESSED"):
            return error(400, 3000, "Ошибка сохранения объекта: неверное значение поля 'action'")
        with self.lock:
            for hook in self.webhooks.values():
                if (hook["url"], hook["action"], hook["entityType"]) == (
                        data["url"], data["action"], data.get("entityType")):
                    return self._json(hook)
            hook_id = str(uuid.uuid4())
            hook = {"meta": self.meta("webhook", hook_id), "id": hook_id, "accountId": ACCOUNT_ID,
                    "entityType": data.get("entityType", "customerorder"), "url": data["url"],
                    "method": "POST", "enabled": bool(data.get("enabled", True)),
                    "action": data["action"], "diffType": data.get("diffType", "NONE")}
            self.webhooks[hook_id] = hook
        return self._json(hook)

    def _webhook_delete(self, request: Request) -> Response:
        with self.lock:
            if self.webhooks.pop(request.params["id"], None) is None:
                return self._not_found("webhook", request.params["id"])
        return Response(200, b"", "application/json")

    def _notify(self, kind: str, ids: list[str], action: str, request: Request | None,
                fields: list[str], per_webhook: int = 1) -> None:
        disabled_prefix = request.header("x-lognex-webhook-disablebyprefix") if request else ""
        disable_all = request is not None and request.header("x-lognex-webhook-disable") == "true"
        with self.lock:
            hooks = [h for h in self.webhooks.values()
                     if h["enabled"] and h["entityType"] == kind and h["action"] == action]
        for hook in hooks:
            if disable_all or (disabled_prefix and hook["url"].startswith(disabled_prefix)):
                with self.lock:
                    self.suppressed += len(ids)
                continue
            for start in range(0, len(ids), max(1, per_webhook)):
                events = []
                for entity_id in ids[start:start + per_webhook]:
                    event: dict[str, Any] = {"meta": {"type": kind, "href": self.href(kind, entity_id)},
                                             "action": action, "accountId": ACCOUNT_ID}
                    if hook["diffType"] == "FIELDS" and action == "UPDATE":
                        event["updatedFields"] = fields
                    events.append(event)
                body = {"auditContext": {"meta": {"type": "audit", "href": f"http://{self.host}"
                                                  f"{PREFIX}/audit/{uuid.uuid4()}"},
                                         "uid": LOGIN, "moment": moment(self.clock.now())},
                        "events": events}
                self._outbox.put((hook["url"], body))

    def _deliver_loop(self) -> None:
        while True:
            url, body = self._outbox.get()
            request_id = str(uuid.uuid4())
            target = f"{url}{'&' if '?' in url else '?'}requestId={request_id}"
            data = json.dumps(body, ensure_ascii=False).encode()
            answers: list[Any] = []
            for _attempt in range(4):  # once, then 3 more times with the same requestId
                try:
                    req = urllib.request.Request(target,  # noqa: S310 - a subscribed http(s) URL
                                                  data=data, method="POST", headers={
                        "Content-Type": "application/json; charset=utf-8"})
                    with urllib.request.urlopen(req, timeout=1.5) as answer:  # noqa: S310
                        answers.append(answer.status)
                        if answer.status in (200, 204):
                            break
                except urllib.error.HTTPError as exc:
                    answers.append(exc.code)
                except OSError as exc:
                    answers.append(type(exc).__name__)
            with self.lock:
                self.deliveries.append({"url": url, "request_id": request_id,
                                        "events": len(body["events"]), "answers": answers})
            self._outbox.task_done()

    def pending_deliveries(self) -> int:
        return self._outbox.unfinished_tasks

    def redeliver(self, index: int = -1) -> dict[str, Any]:
        """Sends a delivered notification again with its requestId (a test of dedup)."""
        with self.lock:
            return dict(self.deliveries[index])

    # --- control -----------------------------------------------------------------------------
    def seed_orders(self, count: int, *, without_address: int = 0, delivery: str = "",
                    state: str = "Новый", cod: bool = True) -> list[str]:
        ids = []
        with self.lock:
            organization = self._directory("organization")
            store = self._directory("store")
            product_id = _sid("product:Футболка")
            if product_id not in self.entities.get("product", {}):
                self.entities.setdefault("product", {})[product_id] = {
                    "id": product_id, "accountId": ACCOUNT_ID, "meta": self.meta("product", product_id),
                    "name": "Футболка хлопковая", "code": "TSHIRT-1", "weight": 0.35,
                    "salePrices": [{"value": 125050.0}]}
            for n in range(count):
                self._order_seq += 1
                seq = self._order_seq
                agent = self._store("counterparty", {
                    "name": f"Петров Пётр Петрович {seq}", "phone": f"+7912{seq % 10_000_000:07d}",
                    "email": f"buyer{seq}@example.test", "companyType": "individual"})
                data: dict[str, Any] = {
                    "name": f"{seq:05d}", "organization": organization, "store": store,
                    "agent": {"meta": agent["meta"]}, "state": self.state_meta(self.state_id(state)),
                    "positions": [{"quantity": 2, "price": 125050.0, "vat": 0,
                                   "assortment": {"meta": self.meta("product", product_id)}}],
                    "payedSum": 0.0 if cod else 250100.0, "description": "Позвонить за час"}
                if n >= without_address:
                    data["shipmentAddressFull"] = {
                        "postalCode": "644010", "city": "Омск", "street": "улица Ленина",
                        "house": "5", "apartment": "12", "addInfo": "", "comment": "",
                        "country": {"meta": {"href": f"http://{self.host}{PREFIX}/entity/country/"
                                                     "9df7c2c3-7782-4c5c-a8ed-1102af611608",
                                             "type": "country"}}}
                    data["shipmentAddress"] = "644010, Омск, улица Ленина, 5, 12"
                if delivery:
                    data["attributes"] = [{"id": self.attribute_id("Способ доставки"),
                                           "name": "Способ доставки", "type": "string",
                                           "value": delivery}]
                order = self._store("customerorder", data)
                ids.append(order["id"])
        return ids

    def move(self, ids: list[str], state: str, *, per_webhook: int = 1,
             changes: dict[str, Any] | None = None) -> None:
        """Orders moved to ``state`` by a person in MoySklad's UI: webhooks follow."""
        with self.lock:
            for entity_id in ids:
                entity = self.entities["customerorder"][entity_id]
                entity["state"] = self.state_meta(self.state_id(state))
                entity.update(changes or {})
                entity["updated"] = moment(self.clock.now())
        self._notify("customerorder", ids, "UPDATE", None, ["state", *(changes or {})],
                     per_webhook=per_webhook)

    def order_state_name(self, order_id: str) -> str:
        href = self.entities["customerorder"][order_id]["state"]["meta"]["href"]
        return next(n for n, _k in STATES if href.endswith(self.state_id(n)))

    def order_attribute(self, order_id: str, name: str) -> Any:
        for attribute in self.entities["customerorder"][order_id].get("attributes", []):
            if attribute["name"] == name:
                return attribute.get("value")
        return None

    def _control_seed(self, request: Request) -> Response:
        data = request.json() or {}
        ids = self.seed_orders(int(data.get("orders", 1)),
                               without_address=int(data.get("without_address", 0)),
                               delivery=str(data.get("delivery", "")))
        return self._json({"ids": ids})

    def _control_move(self, request: Request) -> Response:
        data = request.json() or {}
        ids = list(data.get("ids") or [])
        if not ids:
            source = str(data.get("from_state", ""))  # only orders now in this state
            with self.lock:
                ids = [i for i in self.entities.get("customerorder", {})
                       if not source or self.order_state_name(i) == source
                       ][:int(data.get("count", 0))]
        self.move(ids, str(data.get("state", "Собран")), per_webhook=int(data.get("per_webhook", 1)))
        return self._json({"moved": len(ids)})

    def _control_revoke(self, request: Request) -> Response:
        with self.lock:
            self.tokens = set()
        return self._json({"revoked": True})

    def _control_limits(self, request: Request) -> Response:
        data = request.json() or {}
        with self.lock:
            self.enforce_limits = bool(data.get("enforce", True))
            self.server_errors = int(data.get("server_errors", 0))
        return self._json({"enforce": self.enforce_limits, "server_errors": self.server_errors})


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    serve_running(start(host, port))


def start(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Running:
    """Served from a background thread, with 20 customer orders to import."""
    app = MoySkladEmulator()
    app.seed_orders(20)
    return start_app(app, host, port)

