"""SMS Aero v2: ``POST /v2/sms/send`` with HTTP Basic (email, api key), JSON ``number``,
``text``, ``sign`` and optional ``callbackUrl`` (delivery reports pushed to us); status
``POST /v2/sms/status``; ``/v2/balance``. No client id, so not idempotent — but
``POST /v2/sms/list`` filtered by ``number`` and ``text`` (paged, ``?page=N``) shows what was
accepted: recovery asks it about an interrupted attempt."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
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

    def _one(self, m: Outgoing) -> SendResult:
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
            message = str(body.get("message") or body.get("result") or "")
            permanent = resp.status_code in (400, 422) or "number" in message.lower()
            return SendResult(m.key, False, error=f"SMS Aero: {message}", permanent=permanent)
        data = body.get("data") or {}
        return SendResult(m.key, True, provider_id=str(data.get("id", "")),
                          cost=Decimal(str(data.get("cost", "0"))))

    def send_many(self, messages: list[Outgoing]) -> list[SendResult]:
        with ThreadPoolExecutor(max_workers=int(self.config.get("concurrency", 8))) as pool:
            return list(pool.map(self._one, messages))

    def delivery_reports(self, items: list[tuple[str, str]]) -> list[DeliveryReport]:
        out = []
        for pid, _to in items:
            body = self.http.post(f"{self.base_url}/v2/sms/status", json={"id": int(pid)},
                                  auth=self._auth).json()
            data = body.get("data") or {}
            status = int(data.get("status", 0))
            # 0 queue, 1 delivered, 2 not delivered, 3 sent, 4 waiting, 6 rejected, 8 moderation
            state = "delivered" if status == 1 else ("undelivered" if status in (2, 6)
                                                     else "pending")
            out.append(DeliveryReport(pid, state, None, str(data.get("extendStatus", ""))))
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
