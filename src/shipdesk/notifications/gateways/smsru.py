"""SMS.ru: ``POST /sms/send`` with ``multi[<phone>]=<text>`` (≤ 100 per request), ``json=1``.
Status: ``/sms/status?sms_id=``; balance: ``/my/balance``. No client-side message id, so
not idempotent.

Every code of sms.ru's published list (https://sms.ru/api/status, "Коды ответов") is in
:data:`CODES` with what it means for a message: delivered, undelivered, still pending, gone
(sms.ru does not know the message: asking again is useless), or a refusal that is
permanent (this message will never go) or transient (it may go later: money, limits, an
outage, the account's settings)."""

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

OK, PENDING, DELIVERED_, UNDELIVERED_, GONE = "ok", "pending", "delivered", "undelivered", "gone"
PERMANENT, TRANSIENT = "permanent", "transient"

# code -> (the published meaning, its kind)
CODES: dict[int, tuple[str, str]] = {
    -1: ("Сообщение не найдено", GONE),
    100: ("Запрос выполнен или сообщение находится в очереди", OK),
    101: ("Сообщение передаётся оператору", PENDING),
    102: ("Сообщение отправлено (в пути)", PENDING),
    103: ("Сообщение доставлено", DELIVERED_),
    104: ("Не может быть доставлено: время жизни истекло", UNDELIVERED_),
    105: ("Не может быть доставлено: удалено оператором", UNDELIVERED_),
    106: ("Не может быть доставлено: сбой в телефоне", UNDELIVERED_),
    107: ("Не может быть доставлено: неизвестная причина", UNDELIVERED_),
    108: ("Не может быть доставлено: отклонено", UNDELIVERED_),
    110: ("Сообщение прочитано", DELIVERED_),
    150: ("Не может быть доставлено: не найден маршрут на данный номер", UNDELIVERED_),
    200: ("Неправильный api_id", TRANSIENT),  # the account's settings: fixed, it goes
    201: ("Не хватает средств на лицевом счету", TRANSIENT),
    202: ("Неправильно указан номер телефона получателя, либо на него нет маршрута", PERMANENT),
    203: ("Нет текста сообщения", PERMANENT),
    204: ("Имя отправителя не согласовано с администрацией", TRANSIENT),
    205: ("Сообщение слишком длинное (превышает 8 СМС)", PERMANENT),
    206: ("Будет превышен или уже превышен дневной лимит на отправку сообщений", TRANSIENT),
    207: ("На этот номер нет маршрута для доставки сообщений", PERMANENT),
    208: ("Параметр time указан неправильно", PERMANENT),
    209: ("Номер добавлен в стоп-лист", PERMANENT),
    210: ("Используется GET, где необходимо использовать POST", PERMANENT),
    211: ("Метод не найден", PERMANENT),
    212: ("Текст сообщения необходимо передать в кодировке UTF-8", PERMANENT),
    213: ("Указано более 100 номеров в списке получателей", PERMANENT),
    214: ("Номер находится зарубежом (включена отправка только на номера РФ)", PERMANENT),
    215: ("Номер находится в стоп-листе SMS.RU", PERMANENT),
    216: ("В тексте содержится запрещённое слово", PERMANENT),
    220: ("Сервис временно недоступен, попробуйте чуть позже", TRANSIENT),
    230: ("Превышен общий лимит количества сообщений на этот номер в день", TRANSIENT),
    231: ("Превышен лимит одинаковых сообщений на этот номер в минуту", TRANSIENT),
    232: ("Превышен лимит одинаковых сообщений на этот номер в день", TRANSIENT),
    233: ("Превышен лимит отправки повторных сообщений с кодом на этот номер", TRANSIENT),
    300: ("Неправильный token (истёк срок действия или сменился IP)", TRANSIENT),
    301: ("Неправильный api_id, либо логин/пароль", TRANSIENT),
    302: ("Пользователь авторизован, но аккаунт не подтверждён", TRANSIENT),
    303: ("Код подтверждения неверен", PERMANENT),
    304: ("Отправлено слишком много кодов подтверждения", TRANSIENT),
    305: ("Слишком много неверных вводов кода", TRANSIENT),
    500: ("Ошибка на сервере. Повторите запрос", TRANSIENT),
    901: ("Callback: URL неверный (не начинается на http://)", PERMANENT),
    902: ("Callback: обработчик не найден", PERMANENT),
}
PERMANENT_CODES = frozenset(c for c, (_t, kind) in CODES.items() if kind == PERMANENT)
TRANSIENT_CODES = frozenset(c for c, (_t, kind) in CODES.items() if kind == TRANSIENT)
DELIVERED = frozenset(c for c, (_t, kind) in CODES.items() if kind == DELIVERED_)
UNDELIVERED = frozenset(c for c, (_t, kind) in CODES.items() if kind == UNDELIVERED_)

# /sms/status: the message is not (or no longer) known to sms.ru — asking again is useless
NOT_FOUND = -1


def is_permanent(code: int) -> bool:
    """A refusal with this code will not change on a retry. A code not in the published
    list is taken as transient (retried, its number kept in the message's error)."""
    return code in PERMANENT_CODES


def report_state(code: int) -> str:
    """The delivery state of a ``/sms/status`` (or callback) code: delivered, undelivered,
    gone (-1: sms.ru does not know it; final) or pending."""
    kind = CODES.get(code, ("", PENDING))[1]
    return kind if kind in (DELIVERED_, UNDELIVERED_, GONE) else PENDING


def _error(code: int, text: str) -> str:
    return f"sms.ru {code}: {text or CODES.get(code, ('',))[0]}".strip()


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
            text = _error(code, str(body.get("status_text", "")))
            return [SendResult(m.key, False, error=text, permanent=is_permanent(code))
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
                out.append(SendResult(m.key, False,
                                      error=_error(code, str(item.get("status_text", ""))),
                                      permanent=is_permanent(code)))
        return out

    def delivery_reports(self, items: list[tuple[str, str]]) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        ids = [pid for pid, _to in items if pid]
        for start in range(0, len(ids), 100):
            chunk = ids[start:start + 100]
            resp = self.http.get(f"{self.base_url}/sms/status",
                                 params={**self._params(), "sms_id": ",".join(chunk)})
            body = resp.json()
            if body.get("status") != "OK":
                code = int(body.get("status_code") or 0)
                raise GatewayError(_error(code, str(body.get("status_text", ""))),
                                   permanent=is_permanent(code))
            for sms_id, item in (body.get("sms") or {}).items():
                code = int(item.get("status_code") or 0)
                state = report_state(code)
                cost = item.get("cost")  # a number (rubles) in the real answer
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
