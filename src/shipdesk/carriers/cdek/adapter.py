"""CDEK API v2 adapter: OAuth client-credentials token (cached, refreshed before expiry
and on 401), orders, tariffs, delivery points, print forms, order statuses, webhooks, COD
registries. Money is decimal roubles on both sides; weight grams; sizes centimetres."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import time
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx
import jwt

from shipdesk.carriers import charges, protocol, timing
from shipdesk.carriers.base import (
    Address,
    AuthenticationFailed,
    Capability,
    CarrierAdapter,
    CarrierError,
    ChargeLine,
    CourierPickup,
    CourierPickupRequest,
    CreatedParcel,
    CreateResult,
    Document,
    ItemError,
    ParcelRequest,
    PayoutLine,
    PickupPoint,
    RateQuote,
    TrackingEvent,
    TrackResult,
)
from shipdesk.carriers.cdek.statuses import LEGACY_CODES, status_of

log = logging.getLogger(__name__)
FIELD_RE = re.compile(r"\[([\w.\[\]]+)\]")
PRINT_POLL_ATTEMPTS = 10
PRINT_POLL_DELAY = 0.3
TOKEN_MARGIN = 60  # refresh this many seconds before expiry
CITY_PAGE_SIZE = 500  # rows per page of /location/cities


def tariff_code(service_code: str) -> int | None:
    """A CDEK tariff code (a number such as ``136``) from a service code; ``None`` for none
    or for another carrier's service (``POSTAL_PARCEL``, ``standard``)."""
    code = (service_code or "").strip()
    return int(code) if code.isascii() and code.isdigit() else None


class _TokenStore:
    """Tokens in the Django cache when Django is configured (shared by workers), else in
    this process."""

    _local: ClassVar[dict[str, tuple[str, float]]] = {}

    def get(self, key: str) -> str | None:
        cache = _django_cache()
        if cache is not None:
            value = cache.get(key)
            return value if isinstance(value, str) else None
        token, expires = self._local.get(key, ("", 0.0))
        return token if token and expires > time.time() else None

    def set(self, key: str, token: str, ttl: float) -> None:
        cache = _django_cache()
        if cache is not None:
            cache.set(key, token, timeout=max(1, int(ttl)))
        else:
            self._local[key] = (token, time.time() + ttl)

    def delete(self, key: str) -> None:
        cache = _django_cache()
        if cache is not None:
            cache.delete(key)
        self._local.pop(key, None)


def _django_cache() -> Any:
    try:
        from django.conf import settings

        if not settings.configured:
            return None
        from django.core.cache import cache

        return cache
    except Exception:  # Django absent or not set up: keep tokens in the process
        return None


def parse_keep_free_until(value: Any) -> date | None:
    """The order's ``keep_free_until`` (free storage until: a date, or a date and time in
    the pickup point's zone) as the last day of free storage; ``None`` when absent. A value
    we cannot read is logged and left out: the statuses beside it still count."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        log.warning("cdek: unreadable keep_free_until %r", value)
        return None


def parse_cdek_time(value: Any) -> datetime:
    """``2019-07-11T13:07:34+0700`` (and ISO forms) to an aware datetime."""
    text = str(value or "")
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 (%z: always aware)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CarrierError(f"СДЭК: непонятная дата {text!r}", code="bad_response") from exc
    if moment.tzinfo is None:
        raise CarrierError(f"СДЭК: дата без часового пояса {text!r}", code="bad_response")
    return moment


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise CarrierError(f"СДЭК: непонятная сумма {value!r}", code="bad_response") from exc


# Names of CDEK's additional services in a price breakdown (CDEK answers with their codes).
SERVICE_NAMES: dict[str, str] = {
    "INSURANCE": "Страхование",
    "CASH_ON_DELIVERY": "Комиссия за наложенный платёж",
    "DELIV_WEEKEND": "Доставка в выходной",
    "TAKE_SENDER": "Забор у отправителя",
    "DELIV_RECEIVER": "Доставка до получателя",
    "TRYING_ON": "Примерка",
    "PART_DELIV": "Частичная доставка",
    "INSPECTION_CARGO": "Осмотр вложения",
    "REVERSE": "Реверс",
    "DANGER_CARGO": "Опасный груз",
    "PACKAGE_1": "Упаковка",
    "SMS": "SMS-уведомление",
    "CALL": "Прозвон",
    "ADULT_GOODS": "Товары 18+",
    "AGENT_COMMISSION": "Агентское вознаграждение",
}


def _lines(delivery: Decimal, services: list[Any], total: Decimal) -> tuple[ChargeLine, ...]:
    lines = [ChargeLine(name="Доставка", amount=delivery)]
    for service in services:
        if not isinstance(service, dict):
            continue
        code = str(service.get("code") or "")
        lines.append(ChargeLine(name=SERVICE_NAMES.get(code, code),
                                amount=_money(service.get("total_sum", service.get("sum", 0)))))
    return charges.lines_adding_up(lines, total)


class Adapter(CarrierAdapter):
    code: ClassVar[str] = "cdek"
    name: ClassVar[str] = "СДЭК"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.RATE,
            Capability.CREATE,
            Capability.CANCEL,
            Capability.LABELS,
            Capability.TRACK,
            Capability.WEBHOOKS,
            Capability.PICKUP_POINTS,
            Capability.PAYOUT_REPORTS,
            Capability.COURIER_PICKUP,
        }
    )
    track_batch_size: ClassVar[int] = 1  # CDEK answers one order per request

    @classmethod
    def validate_number(cls, number: str) -> str:
        """CDEK's order number (``cdek_number``): digits only, 8 to 12 of them (10 today)."""
        cleaned = "".join(number.split()).replace("-", "")
        if not cleaned:
            raise ValueError("Трек-номер не указан")
        if not (cleaned.isascii() and cleaned.isdigit()):
            raise ValueError(f"Номер заказа СДЭК состоит только из цифр, а в «{number.strip()}» "
                             "есть другие знаки")
        if not 8 <= len(cleaned) <= 12:
            raise ValueError(f"Неверная длина номера заказа СДЭК: {len(cleaned)} цифр, а номер "
                             "СДЭК состоит из 8–12 цифр (обычно 10)")
        return cleaned
    rate_limit_per_second: ClassVar[float] = 5.0
    credential_fields: ClassVar[tuple[tuple[str, str, bool], ...]] = (
        ("client_id", "Идентификатор клиента (Account)", False),
        ("client_secret", "Секретный ключ (Secure password)", True),
    )
    default_base_url: ClassVar[str] = "https://api.cdek.ru/v2"
    tokens: ClassVar[_TokenStore] = _TokenStore()

    # --- auth ----------------------------------------------------------------------------
    @property
    def _token_key(self) -> str:
        creds = self.credentials
        raw = f"{self.base_url}|{creds.get('client_id', '')}|{creds.get('client_secret', '')}"
        return "cdek-token:" + hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _fetch_token(self) -> str:
        response = protocol.send(
            self.http,
            "POST",
            f"{self.base_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials.get("client_id", ""),
                "client_secret": self.credentials.get("client_secret", ""),
            },
            extensions={"idempotent": True},
        )
        if response.status_code in (400, 401, 403):
            body = protocol.json_body(response) if response.content else {}
            detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else ""
            raise AuthenticationFailed(
                f"СДЭК не принял идентификатор и секретный ключ ({detail or response.status_code})",
                code="bad_credentials",
                status=response.status_code,
            )
        protocol.raise_for_common(response)
        data = protocol.expect_dict(protocol.json_body(response), "oauth")
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise CarrierError("СДЭК не выдал токен доступа", code="bad_response")
        ttl = min(float(data.get("expires_in") or 3600), self._jwt_lifetime(token))
        self.tokens.set(self._token_key, token, max(1.0, ttl - TOKEN_MARGIN))
        return token

    @staticmethod
    def _jwt_lifetime(token: str) -> float:
        """Seconds until the token's own ``exp`` (CDEK's token is a JWT); unbounded when the
        token carries none. Its signature is CDEK's business, not ours: only read here."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
        except jwt.InvalidTokenError:
            return float("inf")
        exp = claims.get("exp")
        return float(exp) - time.time() if isinstance(exp, int | float) else float("inf")

    def _token(self) -> str:
        return self.tokens.get(self._token_key) or self._fetch_token()

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
        accept: str = "application/json",
    ) -> httpx.Response:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": accept}
            response = protocol.send(
                self.http,
                method,
                f"{self.base_url}{path}",
                json=json_body,
                params=params,
                headers=headers,
                extensions={"idempotent": True} if idempotent else {},
            )
            if response.status_code == 401 and attempt == 1:
                self.tokens.delete(self._token_key)  # expired or revoked: one fresh token, once
                continue
            break
        if response.status_code == 401:
            self.tokens.delete(self._token_key)
            raise AuthenticationFailed(
                "СДЭК отклонил токен доступа и новый, полученный взамен (отозван или истёк): "
                "проверьте идентификатор и секретный ключ договора",
                code="bad_token", status=401)
        if response.status_code == 403:
            raise AuthenticationFailed(
                f"Нет доступа к методу СДЭК {path}: проверьте договор и права ключа",
                code="no_access",
                status=403,
            )
        if response.status_code == 429 or response.status_code >= 500:
            protocol.raise_for_common(response)
        return response

    @staticmethod
    def _errors(body: Any) -> list[dict[str, Any]]:
        """CDEK's errors: ``requests[].errors`` or a top-level ``errors``."""
        found: list[dict[str, Any]] = []
        if isinstance(body, dict):
            for req in body.get("requests") or []:
                if isinstance(req, dict):
                    found.extend(e for e in req.get("errors") or [] if isinstance(e, dict))
            found.extend(e for e in body.get("errors") or [] if isinstance(e, dict))
        return found

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        body = protocol.json_body(response)
        if response.status_code >= 400:
            errors = self._errors(body)
            message = "; ".join(
                f"{e.get('message', '')} ({e.get('code', '')})" for e in errors
            ) or protocol.describe(response)
            raise CarrierError(
                f"СДЭК: {message}",
                code=str(errors[0].get("code", "")) if errors else "http_error",
                status=response.status_code,
            )
        return body

    # --- operations ----------------------------------------------------------------------
    def test_connection(self) -> None:
        self.tokens.delete(self._token_key)  # prove the credentials, not a cached token
        self._json("GET", "/location/regions", params={"size": 1, "page": 0}, idempotent=True)

    @staticmethod
    def _location(address: Address) -> dict[str, Any]:
        loc: dict[str, Any] = {"country_code": address.country or "RU"}
        if address.index:
            loc["postal_code"] = address.index
        if address.city:
            loc["city"] = address.city
        # the whole street address on one line: street, house, building and flat (the
        # Russian «д.» / «кв.» only for a Russian address, «кв.» only before a bare number)
        russian = (address.country or "RU").upper() == "RU"
        flat = address.apartment
        line = address.raw or ", ".join(
            x
            for x in (
                address.city,
                address.street,
                address.house and (f"д. {address.house}" if russian else address.house),
                address.building,
                flat and (f"кв. {flat}" if russian and flat[:1].isdigit() else flat),
            )
            if x
        )
        if line:
            loc["address"] = line
        return loc

    def _packages(self, parcel: ParcelRequest) -> list[dict[str, Any]]:
        package: dict[str, Any] = {"number": parcel.reference or "1", "weight": parcel.weight_g}
        for key, value in (
            ("length", parcel.length_cm),
            ("width", parcel.width_cm),
            ("height", parcel.height_cm),
        ):
            if value:
                package[key] = value
        return [package]

    def rate(self, parcel: ParcelRequest) -> list[RateQuote]:
        """One tariff's price when the parcel names a CDEK tariff code; otherwise (no service,
        or another carrier's, e.g. Russian Post's ``POSTAL_PARCEL`` when rates are compared)
        every tariff CDEK offers for the route (``/calculator/tarifflist``)."""
        body: dict[str, Any] = {
            "type": 1,
            "currency": 1,
            "lang": "rus",
            "from_location": self._location(parcel.sender.address),
            "to_location": self._location(parcel.recipient.address),
            "packages": self._packages(parcel),
        }
        tariff = tariff_code(parcel.service_code)
        if tariff is not None:
            body["tariff_code"] = tariff
            if parcel.declared_value:
                body["services"] = [{"code": "INSURANCE", "parameter": str(parcel.declared_value)}]
            data = protocol.expect_dict(
                self._json("POST", "/calculator/tariff", json_body=body, idempotent=True), "tariff"
            )
            return [self.quote_from_tariff(str(tariff), data)]
        data = protocol.expect_dict(
            self._json("POST", "/calculator/tarifflist", json_body=body, idempotent=True), "tarifflist"
        )
        return [
            RateQuote(
                service_code=str(row["tariff_code"]),
                service_name=str(row.get("tariff_name", "")),
                total=_money(row["delivery_sum"]),
                lines=_lines(_money(row["delivery_sum"]), [], _money(row["delivery_sum"])),
                days_min=row.get("period_min"),
                days_max=row.get("period_max"),
                raw=row,
            )
            for row in protocol.expect_list(data.get("tariff_codes"), "tariff_codes")
        ]

    @staticmethod
    def quote_from_tariff(service_code: str, data: dict[str, Any]) -> RateQuote:
        """The quote of a ``/calculator/tariff`` answer: delivery and each service as lines
        (CDEK's amounts include VAT), closed to ``total_sum`` by an explicit line when CDEK's
        total differs from their sum (a discount, its rounding)."""
        delivery = _money(data["delivery_sum"])
        total = _money(data.get("total_sum", data["delivery_sum"]))
        return RateQuote(
            service_code=service_code,
            service_name=f"Тариф {service_code}",
            total=total,
            lines=_lines(delivery, data.get("services") or [], total),
            days_min=data.get("period_min"),
            days_max=data.get("period_max"),
            raw=data,
        )

    def order_body(self, parcel: ParcelRequest) -> dict[str, Any]:
        """The ``POST /v2/orders`` body for one parcel (type 1: online store)."""
        try:
            tariff = int(parcel.service_code)
        except ValueError:
            raise CarrierError("Код тарифа СДЭК должен быть числом", code="invalid") from None

        def contact(party: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"name": party.name}
            if party.company:
                out["company"] = party.company
            if party.email:
                out["email"] = party.email
            if party.phone:
                out["phones"] = [{"number": party.phone}]
            return out

        items = []
        goods_cod = Decimal("0")
        cod = parcel.cod_amount > 0
        for item in parcel.items:
            pay = item.unit_price if cod else Decimal("0")
            goods_cod += pay * item.quantity
            line: dict[str, Any] = {
                "name": item.name,
                "ware_key": (item.article or item.name)[:50],
                "payment": {"value": float(pay)},
                "cost": float(item.unit_price),
                "weight": item.weight_g or max(1, parcel.weight_g // max(1, len(parcel.items))),
                "amount": item.quantity,
            }
            if cod and item.vat_rate is not None:
                line["payment"]["vat_rate"] = item.vat_rate
            items.append(line)
        if not items:
            items.append(
                {
                    "name": "Товар",
                    "ware_key": parcel.reference[:50] or "1",
                    "payment": {"value": float(parcel.cod_amount)},
                    "cost": float(parcel.declared_value),
                    "weight": parcel.weight_g,
                    "amount": 1,
                }
            )
            goods_cod = parcel.cod_amount
        packages = self._packages(parcel)
        packages[0]["items"] = items
        body: dict[str, Any] = {
            "type": 1,
            "number": parcel.reference,
            "tariff_code": tariff,
            "recipient": contact(parcel.recipient),
            "sender": contact(parcel.sender),
            "packages": packages,
        }
        if parcel.comment:
            body["comment"] = parcel.comment
        if cod and parcel.cod_amount > goods_cod:
            body["delivery_recipient_cost"] = {"value": float(parcel.cod_amount - goods_cod)}
        if parcel.recipient.pickup_point:
            body["delivery_point"] = parcel.recipient.pickup_point
        else:
            body["to_location"] = self._location(parcel.recipient.address)
        shipment_point = parcel.options.get("shipment_point") or self.settings.get("shipment_point")
        if shipment_point:
            body["shipment_point"] = shipment_point
        else:
            body["from_location"] = self._location(parcel.sender.address)
        return body

    def create_parcels(self, parcels: list[ParcelRequest]) -> CreateResult:
        created: list[CreatedParcel] = []
        errors: list[ItemError] = []
        for parcel in parcels:
            try:
                body = self.order_body(parcel)
            except CarrierError as exc:
                errors.append(
                    ItemError(
                        reference=parcel.reference, message=str(exc), code=exc.code, field="service_code"
                    )
                )
                continue
            response = self._request("POST", "/orders", json_body=body)
            data = protocol.json_body(response)
            problems = self._errors(data)
            if response.status_code >= 400 or problems:
                for e in problems or [{"code": "http_error", "message": protocol.describe(response)}]:
                    message = str(e.get("message", ""))
                    match = FIELD_RE.search(message)
                    errors.append(
                        ItemError(
                            reference=parcel.reference,
                            message=message,
                            code=str(e.get("code", "")),
                            field=match.group(1) if match else "",
                        )
                    )
                continue
            entity = protocol.expect_dict(protocol.expect_dict(data, "order").get("entity"), "entity")
            order_uuid = str(entity.get("uuid", ""))
            if not order_uuid:
                raise CarrierError("СДЭК не вернул идентификатор заказа", code="bad_response")
            # Creation is asynchronous (HTTP 202): CDEK validates the order afterwards. Read it
            # back once at once; an order still being processed is read back later
            # (``registration_check``), one refused is an error and never counts as created.
            try:
                outcome = self._creation_outcome(parcel.reference, order_uuid,
                                                 self.order_info(order_uuid))
            except CarrierError as exc:
                if exc.transient:
                    raise
                outcome = CreatedParcel(reference=parcel.reference, carrier_id=order_uuid, raw=data)
            (created if isinstance(outcome, CreatedParcel) else errors).append(outcome)  # type: ignore[arg-type]
        return CreateResult(created=tuple(created), errors=tuple(errors))

    @classmethod
    def _creation_outcome(cls, reference: str, order_uuid: str, info: dict[str, Any]
                          ) -> CreatedParcel | ItemError:
        """What CDEK's ``GET /orders/{uuid}`` says of the order's creation: created (with its
        number once SUCCESSFUL), refused (INVALID, with CDEK's messages) or still processed
        (created without a number yet)."""
        requests = [r for r in info.get("requests") or [] if isinstance(r, dict)]
        create = next((r for r in requests if r.get("type") == "CREATE"), requests[0] if requests else {})
        state = str(create.get("state") or "")
        if state == "INVALID":
            problems = [e for e in create.get("errors") or [] if isinstance(e, dict)] or cls._errors(info)
            message = "; ".join(str(e.get("message") or e.get("code") or "") for e in problems)
            match = FIELD_RE.search(message)
            return ItemError(reference=reference, message=message or "СДЭК отклонил заказ",
                             code=str(problems[0].get("code", "")) if problems else "invalid",
                             field=match.group(1) if match else "")
        entity = info.get("entity") if isinstance(info.get("entity"), dict) else {}
        number = str((entity or {}).get("cdek_number") or "") if state == "SUCCESSFUL" else ""
        return CreatedParcel(reference=reference, carrier_id=order_uuid, tracking_number=number, raw=info)

    def registration_check(self, carrier_ids: list[str]) -> CreateResult:
        created: list[CreatedParcel] = []
        errors: list[ItemError] = []
        for order_uuid in carrier_ids:
            try:
                info = self.order_info(order_uuid)
            except CarrierError as exc:
                if exc.transient:
                    raise
                errors.append(ItemError(reference=order_uuid, message=str(exc), code=exc.code))
                continue
            outcome = self._creation_outcome(order_uuid, order_uuid, info)
            if isinstance(outcome, ItemError):
                errors.append(outcome)
            elif outcome.tracking_number:
                created.append(outcome)
        return CreateResult(created=tuple(created), errors=tuple(errors))

    def find_parcels(self, references: list[str]) -> list[CreatedParcel]:
        """``GET /orders?im_number=``: the orders CDEK already holds for our order numbers."""
        found = []
        for reference in references:
            try:
                info = protocol.expect_dict(self._json("GET", "/orders", params={"im_number": reference}),
                                            "order")
            except CarrierError as exc:
                if exc.transient:
                    raise
                continue  # not found
            entity = info.get("entity") if isinstance(info.get("entity"), dict) else None
            if isinstance(self._creation_outcome(reference, "", info), ItemError):
                continue  # refused by CDEK (INVALID): never created
            if entity and entity.get("uuid"):
                found.append(CreatedParcel(reference=reference, carrier_id=str(entity["uuid"]),
                                           tracking_number=str(entity.get("cdek_number") or ""), raw=info))
        return found

    def order_info(self, order_uuid: str) -> dict[str, Any]:
        result: dict[str, Any] = protocol.expect_dict(self._json("GET", f"/orders/{order_uuid}"), "order")
        return result

    def cancel_parcels(self, carrier_ids: list[str]) -> list[ItemError]:
        errors = []
        for order_uuid in carrier_ids:
            try:
                self._json("DELETE", f"/orders/{order_uuid}")
            except CarrierError as exc:
                if exc.transient:
                    raise
                errors.append(ItemError(reference=order_uuid, message=str(exc), code=exc.code))
        return errors

    def _print(self, kind: str, carrier_ids: list[str], extra: dict[str, Any]) -> Document:
        body = {"orders": [{"order_uuid": u} for u in carrier_ids], **extra}
        data = protocol.expect_dict(self._json("POST", f"/print/{kind}", json_body=body), "print")
        job = str(protocol.expect_dict(data.get("entity"), "entity").get("uuid", ""))
        for _ in range(PRINT_POLL_ATTEMPTS):
            info = protocol.expect_dict(self._json("GET", f"/print/{kind}/{job}"), "print")
            codes = {s.get("code") for s in (info.get("entity") or {}).get("statuses") or []}
            if "READY" in codes:
                break
            if "INVALID" in codes or "REMOVED" in codes:
                raise CarrierError(
                    f"СДЭК не сформировал печатную форму ({', '.join(map(str, codes))})", code="print_failed"
                )
            time.sleep(PRINT_POLL_DELAY)
        else:
            raise CarrierError(
                "СДЭК не успел сформировать печатную форму, повторите позже",
                code="print_timeout",
                transient=True,
            )
        response = self._request("GET", f"/print/{kind}/{job}.pdf", accept="application/pdf", idempotent=True)
        if response.status_code != 200 or not response.content.startswith(b"%PDF"):
            raise CarrierError(
                f"СДЭК: ожидался PDF, получено {protocol.describe(response)}", code="bad_response"
            )
        return Document(
            filename=f"cdek-{kind}-{job}.pdf", content_type="application/pdf", content=response.content
        )

    def labels(self, carrier_ids: list[str]) -> Document:
        return self._print("barcodes", carrier_ids, {"copy_count": 1, "format": "A6"})

    def waybills(self, carrier_ids: list[str]) -> Document:
        return self._print("orders", carrier_ids, {"copy_count": 2})

    def _order_events(
        self, number: str, info: dict[str, Any], *, is_return: bool = False
    ) -> list[TrackingEvent]:
        entity = protocol.expect_dict(info.get("entity"), "entity")
        events = []
        # CDEK lists statuses newest first with one-second precision: reversing before the
        # stable sort keeps same-second statuses in their real order.
        for raw in reversed(protocol.expect_list(entity.get("statuses"), "statuses")):
            code = str(raw.get("code", ""))
            reason = str(raw.get("reason_code") or "")
            status, substatus = status_of(code, reason, is_return=is_return)
            events.append(
                TrackingEvent(
                    tracking_number=number,
                    occurred_at=parse_cdek_time(raw.get("date_time")),
                    raw_code=code if not reason else f"{code}/{reason}",
                    raw_text=str(raw.get("name", "")),
                    status=status,
                    substatus=substatus,
                    location=str(raw.get("city", "")),
                    raw=raw,
                )
            )
        events.sort(key=lambda e: e.occurred_at)
        until = None if is_return else parse_keep_free_until(entity.get("keep_free_until"))
        if until is not None and events:
            # an order-level fact, as of the order's latest status: it goes with that event
            events[-1] = dataclasses.replace(events[-1], storage_until=until)
        return events

    def track(self, tracking_numbers: list[str]) -> TrackResult:
        events: list[TrackingEvent] = []
        errors: dict[str, str] = {}
        for number in tracking_numbers:
            try:
                info = protocol.expect_dict(
                    self._json("GET", "/orders", params={"cdek_number": number}, idempotent=True), "order"
                )
                events.extend(self._order_events(number, info))
                for related in info.get("related_entities") or []:
                    if related.get("type") == "return_order" and related.get("uuid"):
                        back = self.order_info(str(related["uuid"]))
                        events.extend(self._order_events(number, back, is_return=True))
            except CarrierError as exc:
                if exc.transient or isinstance(exc, AuthenticationFailed):
                    raise
                errors[number] = str(exc)
        return timing.result_not_ahead(TrackResult(events=tuple(events), errors=errors), carrier=self.code)

    def subscribe_webhooks(self, url: str) -> None:
        self._json("POST", "/webhooks", json_body={"url": url, "type": "ORDER_STATUS"})

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[TrackingEvent]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise CarrierError("Уведомление СДЭК: повреждённый JSON", code="bad_webhook") from exc
        data = protocol.expect_dict(data, "webhook")
        if data.get("type") != "ORDER_STATUS":
            return []  # print forms, photos, ...: nothing for tracking
        attrs = protocol.expect_dict(data.get("attributes"), "attributes")
        code = str(
            attrs.get("code")
            or LEGACY_CODES.get(str(attrs.get("status_code", "")), "")
            or attrs.get("status_code", "")
        )
        reason = str(attrs.get("status_reason_code") or "")
        is_return = bool(attrs.get("is_return"))
        number = str(attrs.get("cdek_number") or "")
        if is_return:  # a return order reports under the direct order's number
            for related in attrs.get("related_entities") or []:
                if (
                    isinstance(related, dict)
                    and related.get("type") == "direct_order"
                    and related.get("cdek_number")
                ):
                    number = str(related["cdek_number"])
        if not number:
            raise CarrierError("Уведомление СДЭК без номера заказа", code="bad_webhook")
        status, substatus = status_of(code, reason, is_return=is_return)
        event = TrackingEvent(
            tracking_number=number,
            occurred_at=parse_cdek_time(attrs.get("status_date_time") or data.get("date_time")),
            raw_code=code if not reason else f"{code}/{reason}",
            raw_text=code,
            status=status,
            substatus=substatus,
            location=str(attrs.get("city_name") or attrs.get("city") or ""),
            raw=data,
        )
        return timing.events_not_ahead([event], carrier=self.code)

    def pickup_points(self, *, city: str = "", index: str = "") -> list[PickupPoint]:
        params: dict[str, Any] = {"type": "ALL"}
        if index:
            params["postal_code"] = index
        elif city:
            found = protocol.expect_list(
                self._json("GET", "/location/cities", params={"city": city, "size": 1}, idempotent=True),
                "cities",
            )
            if not found:
                return []
            params["city_code"] = found[0]["code"]
        rows = protocol.expect_list(
            self._json("GET", "/deliverypoints", params=params, idempotent=True), "deliverypoints"
        )
        points = []
        for row in rows:
            loc = row.get("location") or {}
            points.append(
                PickupPoint(
                    code=str(row["code"]),
                    name=str(row.get("name", "")),
                    address=Address(
                        index=str(loc.get("postal_code", "")),
                        city=str(loc.get("city", "")),
                        region=str(loc.get("region", "")),
                        street=str(loc.get("address", "")),
                        raw=str(loc.get("address_full", "")),
                    ),
                    work_hours=str(row.get("work_time", "")),
                    latitude=loc.get("latitude"),
                    longitude=loc.get("longitude"),
                    is_locker=row.get("type") == "POSTAMAT",
                )
            )
        return points

    def cities(self, **filters: Any) -> list[dict[str, Any]]:
        """CDEK's cities matching ``filters`` (``postal_code``, ``code``, ``city``,
        ``region_code`` …), every page of them: pages are read until one comes back short."""
        found: list[dict[str, Any]] = []
        for page in range(1000):  # a bound, not a limit anyone reaches
            rows = protocol.expect_list(
                self._json("GET", "/location/cities",
                           params={**filters, "size": CITY_PAGE_SIZE, "page": page}, idempotent=True),
                "cities")
            found.extend(r for r in rows if isinstance(r, dict))
            if len(rows) < CITY_PAGE_SIZE:
                break
        return found

    # --- courier pick-up (intakes) -------------------------------------------------------
    def intake_body(self, request: CourierPickupRequest) -> dict[str, Any]:
        """The ``POST /v2/intakes`` body: a courier to the sender's address."""
        sender = request.sender
        contact: dict[str, Any] = {"name": sender.name or sender.company}
        if sender.company:
            contact["company"] = sender.company
        if sender.phone:
            contact["phones"] = [{"number": sender.phone}]
        body: dict[str, Any] = {
            "intake_date": request.day.isoformat(),
            "intake_time_from": request.time_from,
            "intake_time_to": request.time_to,
            "name": request.cargo[:255],
            "weight": max(1, request.weight_g),
            "sender": contact,
            "from_location": self._location(sender.address),
            "need_call": request.need_call,
        }
        for key, value in (("length", request.length_cm), ("width", request.width_cm),
                           ("height", request.height_cm)):
            if value:
                body[key] = value
        if request.comment:
            body["comment"] = request.comment[:255]
        return body

    @staticmethod
    def _intake_outcome(carrier_id: str, info: dict[str, Any]) -> CourierPickup:
        entity = info.get("entity") if isinstance(info.get("entity"), dict) else {}
        statuses = [s for s in (entity or {}).get("statuses") or [] if isinstance(s, dict)]
        latest = max(statuses, key=lambda s: parse_cdek_time(s.get("date_time")), default={})
        requests = [r for r in info.get("requests") or [] if isinstance(r, dict)]
        refused = [r for r in requests if r.get("state") == "INVALID"]
        error = "; ".join(str(e.get("message") or e.get("code") or "")
                          for r in refused for e in r.get("errors") or [] if isinstance(e, dict))
        return CourierPickup(
            carrier_id=carrier_id,
            number=str((entity or {}).get("intake_number") or ""),
            state="INVALID" if refused else str(latest.get("code") or ""),
            state_name=str(latest.get("name") or ""),
            error=error or ("СДЭК отклонил заявку" if refused else ""),
            raw=info,
        )

    def courier_pickup_create(self, request: CourierPickupRequest) -> CourierPickup:
        data = protocol.expect_dict(self._json("POST", "/intakes", json_body=self.intake_body(request)),
                                    "intake")
        carrier_id = str(protocol.expect_dict(data.get("entity"), "entity").get("uuid") or "")
        if not carrier_id:
            raise CarrierError("СДЭК не вернул идентификатор заявки", code="bad_response")
        try:  # accepted (202): what CDEK made of it so far
            return self.courier_pickup_get(carrier_id)
        except CarrierError as exc:
            if exc.transient:
                return CourierPickup(carrier_id=carrier_id, state="ACCEPTED", raw=data)
            raise

    def courier_pickup_get(self, carrier_id: str) -> CourierPickup:
        info = protocol.expect_dict(self._json("GET", f"/intakes/{carrier_id}", idempotent=True), "intake")
        return self._intake_outcome(carrier_id, info)

    def courier_pickup_cancel(self, carrier_id: str) -> None:
        self._json("DELETE", f"/intakes/{carrier_id}")

    def registries(self, on: date) -> bytes:
        """The COD registries of a day, as the JSON CDEK returns (a payout report)."""
        response = self._request("GET", "/registries", params={"date": on.isoformat()}, idempotent=True)
        protocol.json_body(response)  # malformed: a clear error here
        return response.content

    @classmethod
    def recognizes_payout_report(cls, filename: str, head: bytes) -> bool:
        return head.lstrip().startswith(b"{") and b'"registries"' in head

    @classmethod
    def parse_payout_report(cls, filename: str, content: bytes) -> list[PayoutLine]:
        try:
            data = json.loads(content)
        except ValueError as exc:
            raise CarrierError("Реестр СДЭК: повреждённый JSON", code="bad_report") from exc
        lines = []
        for registry in protocol.expect_list(
            protocol.expect_dict(data, "registries").get("registries"), "registries"
        ):
            paid_on = (
                date.fromisoformat(str(registry["payment_date"])[:10])
                if registry.get("payment_date")
                else None
            )
            for i, row in enumerate(registry.get("orders") or [], start=1):
                try:
                    cod = _money(row["payment_sum"])
                    fee = _money(row.get("agent_commission_sum", 0))
                    paid = _money(row.get("transfer_sum", cod - fee))
                except (KeyError, CarrierError) as exc:
                    raise CarrierError(
                        f"Реестр СДЭК {registry.get('registry_number')}, заказ {i}: {exc}", code="bad_report"
                    ) from exc
                lines.append(
                    PayoutLine(
                        tracking_number=str(row.get("cdek_number", "")),
                        order_reference="",
                        cod_amount=cod,
                        fee=fee,
                        paid_amount=paid,
                        paid_on=paid_on,
                        raw={
                            **row,
                            "registry_number": registry.get("registry_number"),
                            "payment_order_number": registry.get("payment_order_number"),
                        },
                    )
                )
        return lines
