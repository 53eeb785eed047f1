"""SMSC.ru: ``/sys/send.php`` (login, psw, phones, mes, charset=utf-8, fmt=3 JSON, cost=3,
id). We pass our attempt id as SMSC's ``id``: SMSC identifies a message by (login, id)
and the emulator answers a repeated id with the original message instead of sending
again — which makes a re-send after a crash safe (treated as idempotent; see doc.md)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from shipdesk.notifications.gateways.base import (
    DeliveryReport,
    Gateway,
    GatewayError,
    Outgoing,
    SendResult,
    post_with_retry,
)

# SMSC error codes: 1 params, 2 login, 3 no money, 4 IP blocked, 5 date, 6 forbidden text,
# 7 bad phone, 8 undeliverable number, 9 too many identical requests
PERMANENT = {1, 6, 7, 8}


def smsc_id(attempt_id: str) -> str:
    # SMSC ids are up to 32 digits: a stable number from our attempt id
    return str(int(hashlib.sha256(attempt_id.encode()).hexdigest()[:24], 16))[:30]


class Smsc(Gateway):
    name = "smsc"
    idempotent = True
    batch_size = 50
    default_base_url = "https://smsc.ru"

    def _auth(self) -> dict[str, Any]:
        return {"login": self.config.get("login", ""), "psw": self.config.get("password", ""),
                "fmt": 3, "charset": "utf-8"}

    def _one(self, m: Outgoing) -> SendResult:
        data = {**self._auth(), "phones": m.to, "mes": m.text, "id": smsc_id(m.attempt_id),
                "cost": 3}
        if self.config.get("sender"):
            data["sender"] = self.config["sender"]
        try:
            body = post_with_retry(self.http, f"{self.base_url}/sys/send.php", data=data).json()
        except GatewayError as exc:
            return SendResult(m.key, False, error=str(exc), uncertain=exc.uncertain)
        except ValueError:
            return SendResult(m.key, False, error="SMSC: ответ не JSON", uncertain=True)
        if "error_code" in body:
            code = int(body["error_code"])
            return SendResult(m.key, False, error=f"SMSC {code}: {body.get('error', '')}",
                              permanent=code in PERMANENT)
        return SendResult(m.key, True, provider_id=str(body.get("id", "")),
                          cost=Decimal(str(body.get("cost", "0"))))

    def send_many(self, messages: list[Outgoing]) -> list[SendResult]:
        workers = int(self.config.get("concurrency", 8))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self._one, messages))

    def delivery_reports(self, items: list[tuple[str, str]]) -> list[DeliveryReport]:
        out = []
        for pid, phone in items:
            body = self.http.get(f"{self.base_url}/sys/status.php",
                                 params={**self._auth(), "phone": phone, "id": pid}).json()
            status = int(body.get("status", 0))
            # 1 delivered, 20/22/23/24/25 not delivered, -1/0 pending
            state = "delivered" if status == 1 else (
                "undelivered" if status in {3, 20, 22, 23, 24, 25} else "pending")
            out.append(DeliveryReport(pid, state, None, str(body.get("err", ""))))
        return out

    def check(self) -> str:
        body = self.http.get(f"{self.base_url}/sys/balance.php", params=self._auth()).json()
        if "error_code" in body:
            raise GatewayError(f"SMSC {body['error_code']}: {body.get('error', '')}",
                               permanent=True)
        return f"баланс {body.get('balance')} ₽"
