"""SMS Aero v2: ``POST /v2/sms/send`` with HTTP Basic (email, api key), JSON ``number``,
``text``, ``sign``; status ``POST /v2/sms/status``; ``/v2/balance``. No client id: not
idempotent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from shipdesk.notifications.gateways.base import (
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

    @property
    def _auth(self) -> tuple[str, str]:
        return (self.config.get("email", ""), self.config.get("api_key", ""))

    def _one(self, m: Outgoing) -> SendResult:
        payload = {"number": m.to, "text": m.text, "sign": self.config.get("sign") or "SMS Aero"}
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

    def check(self) -> str:
        resp = self.http.post(f"{self.base_url}/v2/balance", auth=self._auth)
        body = resp.json()
        if not body.get("success"):
            raise GatewayError(f"SMS Aero: {body.get('message')}", permanent=True)
        return f"баланс {body['data']['balance']} ₽"
