"""SMS.ru: ``POST /sms/send`` with ``multi[<phone>]=<text>`` (≤ 100 per request), ``json=1``.
Status: ``/sms/status?sms_id=``; balance: ``/my/balance``. No client-side message id, so
not idempotent."""

from __future__ import annotations

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

# codes that mean "this message will never go" (bad number, stop list, text) — no retry
PERMANENT_CODES = {202, 203, 205, 207, 209, 212, 214, 215, 216}
TRANSIENT_CODES = {201, 206, 220, 230, 231, 232, 233, 500}
DELIVERED = {103, 110}
UNDELIVERED = {104, 105, 106, 107, 108, 150}


# /sms/status: the message is not (or no longer) known to sms.ru — asking again is useless
NOT_FOUND = -1


class SmsRu(Gateway):
    name = "smsru"
    batch_size = 100
    # sms.ru cannot be asked what it took (no client id, no search by number and text: only
    # the status by *its* id, which a crash loses): what a crash catches in flight stays
    # "unknown". So it gets one small chunk at a time.
    chunk_size = 20
    parallel = 1
    default_base_url = "https://sms.ru"

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"api_id": self.config.get("api_id", ""), "json": 1}
        if self.config.get("sender"):
            params["from"] = self.config["sender"]
        return params

    def send_many(self, messages: list[Outgoing]) -> list[SendResult]:
        results: list[SendResult] = []
        pending = list(messages)
        while pending:
            # one text per phone in a request: multi[...] is keyed by the phone
            chunk: dict[str, Outgoing] = {}
            rest: list[Outgoing] = []
            for m in pending:
                if m.to in chunk or len(chunk) >= self.batch_size:
                    rest.append(m)
                else:
                    chunk[m.to] = m
            pending = rest
            results.extend(self._send_chunk(chunk))
        return results

    def _send_chunk(self, chunk: dict[str, Outgoing]) -> list[SendResult]:
        data = self._params()
        for phone, m in chunk.items():
            data[f"multi[{phone}]"] = m.text
        try:
            resp = post_with_retry(self.http, f"{self.base_url}/sms/send", data=data)
            body = resp.json()
        except GatewayError as exc:
            return [SendResult(m.key, False, error=str(exc), uncertain=exc.uncertain)
                    for m in chunk.values()]
        except ValueError:
            return [SendResult(m.key, False, error=f"sms.ru: HTTP {resp.status_code}",
                               uncertain=resp.status_code >= 500) for m in chunk.values()]
        if body.get("status") != "OK":
            code = int(body.get("status_code") or 0)
            text = f"sms.ru {code}: {body.get('status_text', '')}".strip()
            return [SendResult(m.key, False, error=text, permanent=code in PERMANENT_CODES)
                    for m in chunk.values()]
        out = []
        per_phone = body.get("sms") or {}
        for phone, m in chunk.items():
            item = per_phone.get(phone)
            if item is None:
                out.append(SendResult(m.key, False, error="sms.ru: номер не вернулся в ответе",
                                      uncertain=True))
            elif item.get("status") == "OK":
                out.append(SendResult(m.key, True, provider_id=str(item.get("sms_id", ""))))
            else:
                code = int(item.get("status_code") or 0)
                out.append(SendResult(
                    m.key, False, error=f"sms.ru {code}: {item.get('status_text', '')}".strip(),
                    permanent=code not in TRANSIENT_CODES))
        return out

    def delivery_reports(self, items: list[tuple[str, str]]) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        ids = [pid for pid, _to in items if pid]
        for start in range(0, len(ids), 100):
            chunk = ids[start:start + 100]
            resp = self.http.get(f"{self.base_url}/sms/status",
                                 params={**self._params(), "sms_id": ",".join(chunk)})
            for sms_id, item in (resp.json().get("sms") or {}).items():
                code = int(item.get("status_code") or 0)
                state = ("delivered" if code in DELIVERED else
                         "undelivered" if code in UNDELIVERED else
                         "gone" if code == NOT_FOUND else "pending")
                cost = item.get("cost")
                reports.append(DeliveryReport(str(sms_id), state,
                                              Decimal(str(cost)) if cost is not None else None,
                                              str(item.get("status_text", ""))))
        return reports

    def check(self) -> str:
        body = self.http.get(f"{self.base_url}/my/balance", params=self._params()).json()
        if body.get("status") != "OK":
            raise GatewayError(f"sms.ru {body.get('status_code')}: {body.get('status_text', '')}",
                               permanent=True)
        return f"баланс {body.get('balance')} ₽"
