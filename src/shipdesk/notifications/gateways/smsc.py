"""SMSC.ru: ``/sys/send.php`` (login, psw, phones, mes, charset=utf-8, fmt=3 JSON, cost=3,
id). We pass our attempt id as SMSC's ``id``. SMSC documents that id as "assigned by the
client, not necessarily unique" — a repeated id is *not* refused, so SMSC is not
idempotent. But ``/sys/status.php?phone=&id=`` finds a message by (phone, id), which lets
recovery ask whether an interrupted attempt was accepted (status -3: not found)."""

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

# SMSC's published error codes of send.php / status.php / balance.php
# (https://smsc.ru/api/http/send/sms/ "Ошибки"): (meaning, permanent). Permanent: this
# message will never go; the rest may go later (money, a blocked IP, the account's login).
ERRORS: dict[int, tuple[str, bool]] = {
    1: ("Ошибка в параметрах", True),
    2: ("Неверный логин или пароль", False),
    3: ("Недостаточно средств на счёте", False),
    4: ("IP-адрес временно заблокирован из-за частых ошибок в запросах", False),
    5: ("Неверный формат даты", True),
    6: ("Сообщение запрещено (по тексту или по имени отправителя)", True),
    7: ("Неверный формат номера телефона", True),
    8: ("Сообщение на указанный номер не может быть доставлено", True),
    9: ("Слишком много одинаковых запросов за минуту", False),
}
PERMANENT = frozenset(code for code, (_text, permanent) in ERRORS.items() if permanent)
# status.php message states (https://smsc.ru/api/http/status_messages/statuses/):
# state -> (meaning, delivered | undelivered | pending | gone)
STATUSES: dict[int, tuple[str, str]] = {
    -3: ("Сообщение не найдено", "gone"),
    -2: ("Остановлено", "pending"),
    -1: ("Ожидает отправки", "pending"),
    0: ("Передано оператору", "pending"),
    1: ("Доставлено", "delivered"),
    2: ("Прочитано", "delivered"),
    3: ("Просрочено", "undelivered"),
    4: ("Нажата ссылка", "delivered"),
    20: ("Невозможно доставить", "undelivered"),
    22: ("Неверный номер", "undelivered"),
    23: ("Запрещено", "undelivered"),
    24: ("Недостаточно средств", "undelivered"),
    25: ("Недоступный номер", "undelivered"),
}
NOT_FOUND = -3  # status.php: no message with this phone and id


def is_permanent(code: int) -> bool:
    """An unknown error code is taken as transient (retried, its number kept)."""
    return code in PERMANENT


def report_state(status: int) -> str:
    return STATUSES.get(status, ("", "pending"))[1]


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

    def send_one(self, m: Outgoing) -> SendResult:
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
            text = body.get("error") or ERRORS.get(code, ("",))[0]
            return SendResult(m.key, False, error=f"SMSC {code}: {text}",
                              permanent=is_permanent(code))
        return SendResult(m.key, True, provider_id=str(body.get("id", "")),
                          cost=Decimal(str(body.get("cost", "0"))))

    def delivery_reports(self, items: list[tuple[str, str]]) -> list[DeliveryReport]:
        out = []
        for pid, phone in items:
            body = self.http.get(f"{self.base_url}/sys/status.php",
                                 params={**self._auth(), "phone": phone, "id": pid}).json()
            if "error_code" in body:
                code = int(body["error_code"])
                raise GatewayError(f"SMSC {code}: {body.get('error', '')}",
                                   permanent=is_permanent(code))
            status = int(body.get("status", 0))
            # -3 (not found) is final: polling it again would never end
            out.append(DeliveryReport(pid, report_state(status), None,
                                      f"SMSC {status}: {STATUSES.get(status, ('',))[0]}"
                                      if status == NOT_FOUND else str(body.get("err", ""))))
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
