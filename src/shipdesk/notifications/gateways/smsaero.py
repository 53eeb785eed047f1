"""SMS Aero v2: ``POST /v2/sms/send`` with HTTP Basic (email, api key), JSON ``number``,
``text``, ``sign`` and optional ``callbackUrl`` (delivery reports pushed to us); status
``POST /v2/sms/status``; ``/v2/balance``. No client id, so not idempotent — but
``POST /v2/sms/list`` filtered by ``number`` and ``text`` (paged, ``?page=N``) shows what was
accepted: recovery asks it about an interrupted attempt."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx

from shipdesk.notifications.gateways.base import (
    ASK,
    DeliveryReport,
    Gateway,
    GatewayError,
    Outgoing,
    SendResult,
    post_with_retry,
)

# SMS Aero v2 (https://smsaero.ru/integration/documentation/api/): a refusal is
# ``{"success": false, "message": ...}`` with an HTTP status, or a ``result`` of "no credits"
# / "reject". Each, with whether it is permanent (the message will never go) or not.
HTTP_ERRORS: dict[int, tuple[str, bool]] = {
    400: ("Ошибка валидации запроса (номер, текст, подпись)", True),
    401: ("Неверный e-mail или API-ключ", False),
    402: ("Недостаточно средств", False),
    403: ("Доступ запрещён (подпись или IP не разрешены)", False),
    404: ("Не найдено", True),
    422: ("Данные не прошли проверку", True),
    429: ("Слишком много запросов", False),
    500: ("Внутренняя ошибка шлюза", False),
    502: ("Шлюз недоступен", False),
    503: ("Сервис временно недоступен", False),
    504: ("Шлюз не ответил вовремя", False),
}
RESULTS: dict[str, tuple[str, bool]] = {
    "no credits": ("Недостаточно средств", False),
    "reject": ("Сообщение отклонено", True),
}
# message states (status, extendStatus): -> delivered | undelivered | pending
STATUSES: dict[int, tuple[str, str]] = {
    0: ("queue — в очереди", "pending"),
    1: ("delivery — доставлено", "delivered"),
    2: ("error — не доставлено", "undelivered"),
    3: ("transfer — передано оператору", "pending"),
    4: ("waiting status — ожидание статуса", "pending"),
    6: ("reject — отклонено", "undelivered"),
    8: ("moderation — на модерации", "pending"),
}


def is_permanent(http_status: int, result: str = "") -> bool:
    """Unknown statuses count as transient, except the 4xx a repeat cannot change."""
    if result in RESULTS:
        return RESULTS[result][1]
    if http_status in HTTP_ERRORS:
        return HTTP_ERRORS[http_status][1]
    return 400 <= http_status < 500 and http_status not in (408, 425)


def report_state(status: int) -> str:
    return STATUSES.get(status, ("", "pending"))[1]


class SmsAero(Gateway):
    name = "smsaero"
    batch_size = 50
    default_base_url = "https://gate.smsaero.ru"
    after_crash = ASK
    # the gateway's clock may differ from ours: an accepted message may look this much older
    CLOCK_SLACK = dt.timedelta(minutes=2)
    MAX_PAGES = 5

    @property
    def _auth(self) -> tuple[str, str]:
        return (self.config.get("email", ""), self.config.get("api_key", ""))

    def send_one(self, m: Outgoing) -> SendResult:
        payload: dict[str, Any] = {"number": m.to, "text": m.text,
                                   "sign": self.config.get("sign") or "SMS Aero"}
        if self.config.get("callback_url"):
            payload["callbackUrl"] = self.config["callback_url"]
        try:
            resp = post_with_retry(self.http, f"{self.base_url}/v2/sms/send", json=payload,
                                   auth=self._auth)
            body = resp.json()
        except GatewayError as exc:
            return SendResult(m.key, False, error=str(exc), uncertain=exc.uncertain)
        except ValueError:
            return SendResult(m.key, False, error=f"SMS Aero: HTTP {resp.status_code}",
                              uncertain=resp.status_code >= 500)
        if not body.get("success"):
            result = str(body.get("result") or "")
            message = str(body.get("message") or body.get("reason") or result
                          or HTTP_ERRORS.get(resp.status_code, ("",))[0])
            return SendResult(m.key, False, error=f"SMS Aero {resp.status_code}: {message}",
                              permanent=is_permanent(resp.status_code, result))
        data = body.get("data") or {}
        return SendResult(m.key, True, provider_id=str(data.get("id", "")),
                          cost=Decimal(str(data.get("cost", "0"))))

    def delivery_reports(self, items: list[tuple[str, str]]) -> list[DeliveryReport]:
        out = []
        for pid, _to in items:
            body = self.http.post(f"{self.base_url}/v2/sms/status", json={"id": int(pid)},
                                  auth=self._auth).json()
            data = body.get("data") or {}
            if not body.get("success") and "data" in body and not data:
                # the gateway does not know this id: final, not asked again
                out.append(DeliveryReport(pid, "gone", None,
                                          f"SMS Aero: {body.get('message') or 'not found'}"))
                continue
            status = int(data.get("status", 0))
            out.append(DeliveryReport(pid, report_state(status), None,
                                      str(data.get("extendStatus", ""))))
        return out

    def lookup(self, messages: list[Outgoing], since: dt.datetime) -> dict[int, str | None]:
        """``/v2/sms/list`` by number and text; a message created at or after ``since`` (the
        attempt, minus clock slack) is this attempt. The same text sent days before (an
        earlier reminder) is older and does not count."""
        after = (since - self.CLOCK_SLACK).timestamp()
        found: dict[int, str | None] = {}
        for m in messages:
            found[m.key] = None
            for page in range(1, self.MAX_PAGES + 1):
                try:
                    resp = self.http.post(f"{self.base_url}/v2/sms/list",
                                          params={"page": page} if page > 1 else None,
                                          json={"number": m.to, "text": m.text},
                                          auth=self._auth)
                    body = resp.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise GatewayError(f"SMS Aero: список не получен: {exc}") from exc
                if not body.get("success"):
                    raise GatewayError(f"SMS Aero: {body.get('message')}")
                data = body.get("data") or {}
                items = [v for k, v in data.items() if k.isdigit() and isinstance(v, dict)]
                hit = next((i for i in items if str(i.get("number")) == m.to
                            and i.get("text") == m.text
                            and float(i.get("dateCreate") or 0) >= after), None)
                if hit is not None:
                    found[m.key] = str(hit.get("id", ""))
                    break
                if not (data.get("links") or {}).get("next"):
                    break
            else:
                raise GatewayError("SMS Aero: слишком длинный список, ответ неясен")
        return found

    def check(self) -> str:
        resp = self.http.post(f"{self.base_url}/v2/balance", auth=self._auth)
        body = resp.json()
        if not body.get("success"):
            raise GatewayError(f"SMS Aero: {body.get('message')}", permanent=True)
        return f"баланс {body['data']['balance']} ₽"
