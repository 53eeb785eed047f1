"""SMSC.ru: ``/sys/send.php`` (login, psw, phones, mes, charset=utf-8, fmt=3 JSON, cost=3,
id). We pass our attempt id as SMSC's ``id``. SMSC documents that id as "assigned by the
client, not necessarily unique" — a repeated id is *not* refused, so SMSC is not
idempotent. But ``/sys/status.php?phone=&id=`` finds a message by (phone, id), which lets
recovery ask whether an interrupted attempt was accepted (status -3: not found)."""

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

# SMSC error codes: 1 params, 2 login, 3 no money, 4 IP blocked, 5 date, 6 forbidden text,
# 7 bad phone, 8 undeliverable number, 9 too many identical requests
PERMANENT = {1, 6, 7, 8}
NOT_FOUND = -3  # status.php: no message with this phone and id


def smsc_id(attempt_id: str) -> str:
    # SMSC accepts an id of up to 40 Latin letters, digits and ".-_": our attempt id's hex
    return attempt_id.replace("-", "")


class Smsc(Gateway):
    name = "smsc"
    after_crash = ASK
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

    def lookup(self, messages: list[Outgoing], since: dt.datetime) -> dict[int, str | None]:
        # (phone, id) names one attempt exactly: ``since`` is not needed to tell attempts apart
        found: dict[int, str | None] = {}
        for m in messages:
            cid = smsc_id(m.attempt_id)
            try:
                body = self.http.get(f"{self.base_url}/sys/status.php", params={
                    **self._auth(), "phone": m.to, "id": cid}).json()
            except (httpx.HTTPError, ValueError) as exc:
                raise GatewayError(f"SMSC: статус не получен: {exc}") from exc
            if "error_code" in body:
                raise GatewayError(f"SMSC {body['error_code']}: {body.get('error', '')}")
            found[m.key] = None if int(body.get("status", NOT_FOUND)) == NOT_FOUND else cid
        return found

    def check(self) -> str:
        body = self.http.get(f"{self.base_url}/sys/balance.php", params=self._auth()).json()
        if "error_code" in body:
            raise GatewayError(f"SMSC {body['error_code']}: {body.get('error', '')}",
                               permanent=True)
        return f"баланс {body.get('balance')} ₽"
