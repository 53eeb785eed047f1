"""The sandbox carrier: Shipdesk's own simple JSON carrier, with every capability, for
demos and for shops trying the product before entering real credentials."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx

from shipdesk.carriers import charges, protocol, timing
from shipdesk.carriers.base import (
    Address,
    AuthenticationFailed,
    BatchResult,
    Capability,
    CarrierAdapter,
    CarrierError,
    CreatedParcel,
    CreateResult,
    Document,
    ItemError,
    NumberRange,
    ParcelRequest,
    PickupPoint,
    RateQuote,
    TrackingEvent,
    TrackResult,
)
from shipdesk.carriers.sandbox.statuses import status_of
from shipdesk.numbering.validation import validate_postal_number

PAYOUT_MARK = b"# SHIPDESK SANDBOX PAYOUT REPORT"
SANDBOX_NUMBER = re.compile(r"SBX\d{9}RU")


class Adapter(CarrierAdapter):
    code: ClassVar[str] = "sandbox"
    name: ClassVar[str] = "Песочница Shipdesk"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(Capability) - {Capability.NORMALIZE_ADDRESS}
    track_batch_size: ClassVar[int] = 500
    credential_fields: ClassVar[tuple[tuple[str, str, bool], ...]] = (("api_key", "Ключ API", True),)
    default_base_url: ClassVar[str] = "http://127.0.0.1:18200"

    @classmethod
    def validate_number(cls, number: str) -> str:
        """The sandbox's own numbers (``SBX000000001RU``: SBX, 9 digits, RU) or the postal
        formats its number ranges use (14 digits or S10, check digit verified)."""
        cleaned = "".join(number.split()).replace("-", "").upper()
        if cleaned.startswith("SBX"):
            if not SANDBOX_NUMBER.fullmatch(cleaned):
                raise ValueError(f"Номер песочницы «{number.strip()}» должен иметь вид "
                                 "SBX000000001RU: SBX, 9 цифр, RU")
            return cleaned
        return validate_postal_number(number)

    # --- plumbing ------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        headers = {"Authorization": f"Token {self.credentials.get('api_key', '')}"}
        response = protocol.send(
            self.http,
            method,
            f"{self.base_url}{path}",
            json=json_body,
            params=params,
            headers=headers,
            extensions={"idempotent": True} if idempotent else {},
        )
        if response.status_code == 401:
            raise AuthenticationFailed(
                "Песочница не приняла ключ API: проверьте его в настройках договора",
                code="bad_token",
                status=401,
            )
        protocol.raise_for_common(response)
        if response.status_code >= 400:
            body = protocol.json_body(response)
            error = protocol.expect_dict(body.get("error") if isinstance(body, dict) else None, "error")
            details = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in error.get("errors") or [])
            raise CarrierError(
                f"{error.get('message', 'Ошибка')}{': ' + details if details else ''}",
                code=str(error.get("code", "")),
                status=response.status_code,
            )
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return protocol.expect_dict(protocol.json_body(self._call(method, path, **kwargs)), path)

    # --- operations ----------------------------------------------------------------------
    def test_connection(self) -> None:
        self._json("GET", "/api/v1/ping")

    def rate(self, parcel: ParcelRequest) -> list[RateQuote]:
        data = self._json(
            "POST",
            "/api/v1/rates",
            idempotent=True,
            json_body={
                "from_index": parcel.sender.address.index,
                "to_index": parcel.recipient.address.index,
                "weight_g": parcel.weight_g,
                "declared_value": str(parcel.declared_value),
                "cod_amount": str(parcel.cod_amount),
            },
        )
        quotes = []
        for row in protocol.expect_list(data.get("rates"), "rates"):
            total = _decimal(row["total"])
            quotes.append(
                RateQuote(
                    service_code=str(row["service_code"]),
                    service_name=str(row["name"]),
                    total=total,
                    lines=charges.lines_adding_up((), total),  # the sandbox gives one price
                    days_min=row.get("days_min"),
                    days_max=row.get("days_max"),
                    raw=row,
                )
            )
        if parcel.service_code:
            quotes = [q for q in quotes if q.service_code == parcel.service_code] or quotes
        return quotes

    def create_parcels(self, parcels: list[ParcelRequest]) -> CreateResult:
        body = {"parcels": [_parcel_json(p) for p in parcels]}
        data = self._json("POST", "/api/v1/parcels", json_body=body)
        created = tuple(
            CreatedParcel(
                reference=str(c["reference"]),
                carrier_id=str(c["id"]),
                tracking_number=str(c.get("tracking_number", "")),
                raw=c,
            )
            for c in protocol.expect_list(data.get("created"), "created")
        )
        errors = tuple(
            ItemError(
                reference=str(e.get("reference", "")),
                message=str(e.get("message", "")),
                code=str(e.get("code", "")),
                field=str(e.get("field", "")),
            )
            for e in protocol.expect_list(data.get("errors"), "errors")
        )
        return CreateResult(created=created, errors=errors)

    def cancel_parcels(self, carrier_ids: list[str]) -> list[ItemError]:
        data = self._json("POST", "/api/v1/parcels/cancel", json_body={"ids": carrier_ids})
        return [
            ItemError(
                reference=str(e.get("id", "")), message=str(e.get("message", "")), code=str(e.get("code", ""))
            )
            for e in protocol.expect_list(data.get("errors"), "errors")
        ]

    def create_batch(self, carrier_ids: list[str], *, shipping_date: date) -> BatchResult:
        data = self._json(
            "POST",
            "/api/v1/batches",
            json_body={"ids": carrier_ids, "shipping_date": shipping_date.isoformat()},
        )
        return BatchResult(
            batch_id=str(data["batch_id"]),
            carrier_ids=tuple(data.get("ids") or ()),
            tracking_numbers=dict(data.get("tracking_numbers") or {}),
            errors=tuple(
                ItemError(
                    reference=str(e.get("id", "")), message=str(e.get("message")), code=str(e.get("code", ""))
                )
                for e in data.get("errors") or []
            ),
            raw=data,
        )

    def close_batch(self, batch_id: str) -> None:
        self._json("POST", f"/api/v1/batches/{batch_id}/close")

    def labels(self, carrier_ids: list[str]) -> Document:
        response = self._call("POST", "/api/v1/labels", json_body={"ids": carrier_ids}, idempotent=True)
        return _pdf(response, "sandbox-labels.pdf")

    def batch_documents(self, batch_id: str) -> Document:
        return _pdf(
            self._call("GET", f"/api/v1/batches/{batch_id}/documents"), f"sandbox-batch-{batch_id}.pdf"
        )

    def track(self, tracking_numbers: list[str]) -> TrackResult:
        events: list[TrackingEvent] = []
        errors: dict[str, str] = {}
        for start in range(0, len(tracking_numbers), self.track_batch_size):
            chunk = tracking_numbers[start : start + self.track_batch_size]
            data = self._json("POST", "/api/v1/track", json_body={"numbers": chunk}, idempotent=True)
            for result in protocol.expect_list(data.get("results"), "results"):
                for raw in result.get("events") or []:
                    events.append(_event(str(result["number"]), raw))
            errors.update({str(k): str(v) for k, v in (data.get("errors") or {}).items()})
        return timing.result_not_ahead(TrackResult(events=tuple(events), errors=errors), carrier=self.code)

    def subscribe_webhooks(self, url: str) -> None:
        self._json("POST", "/api/v1/webhooks", json_body={"url": url})

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[TrackingEvent]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise CarrierError("Уведомление песочницы: повреждённый JSON", code="bad_webhook") from exc
        rows = protocol.expect_list(protocol.expect_dict(data, "webhook").get("events"), "events")
        return timing.events_not_ahead(
            [_event(str(row.get("tracking_number", "")), row) for row in rows], carrier=self.code
        )

    def pickup_points(self, *, city: str = "", index: str = "") -> list[PickupPoint]:
        data = self._json("GET", "/api/v1/points", params={"city": city, "index": index})
        return [
            PickupPoint(
                code=str(p["code"]),
                name=str(p["name"]),
                address=Address(
                    index=str(p.get("index", "")),
                    city=str(p.get("city", "")),
                    street=str(p.get("address", "")),
                ),
                work_hours=str(p.get("hours", "")),
                latitude=p.get("lat"),
                longitude=p.get("lon"),
                is_locker=bool(p.get("locker")),
            )
            for p in protocol.expect_list(data.get("points"), "points")
        ]

    def allot_numbers(self, count: int) -> list[NumberRange]:
        """14-digit numbers, or S10 when the account's ``number_kind`` setting says ``s10``."""
        kind = str(self.settings.get("number_kind") or "rp14")
        data = self._json("POST", "/api/v1/numbers", json_body={"count": count, "kind": kind})
        return [
            NumberRange(first=str(r["first"]), last=str(r["last"]), kind=str(r.get("kind", kind)))
            for r in protocol.expect_list(data.get("ranges"), "ranges")
        ]

    def payout_report(self, on: date | None = None) -> bytes:
        """Downloads the payout report (CSV) the way a shop would receive it."""
        params = {"date": on.isoformat()} if on else None
        return self._call("GET", "/api/v1/payouts", params=params).content


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise CarrierError(f"Непонятная сумма в ответе: {value!r}", code="bad_response") from exc


def _pdf(response: httpx.Response, filename: str) -> Document:
    if not response.content.startswith(b"%PDF"):
        raise CarrierError(f"Ожидался PDF, получено: {protocol.describe(response)}", code="bad_response")
    return Document(filename=filename, content_type="application/pdf", content=response.content)


def _event(number: str, raw: dict[str, Any]) -> TrackingEvent:
    code = str(raw.get("code", ""))
    try:
        occurred = datetime.fromisoformat(str(raw.get("at")))
    except ValueError as exc:
        raise CarrierError(f"Непонятная дата события: {raw.get('at')!r}", code="bad_response") from exc
    if occurred.tzinfo is None:
        raise CarrierError(f"Дата события без часового пояса: {raw.get('at')!r}", code="bad_response")
    status, substatus = status_of(code)
    return TrackingEvent(
        tracking_number=number,
        occurred_at=occurred,
        raw_code=code,
        raw_text=str(raw.get("text", "")),
        status=status,
        substatus=substatus,
        location=str(raw.get("location", "")),
        raw=raw,
    )


def _parcel_json(p: ParcelRequest) -> dict[str, Any]:
    a = p.recipient.address
    return {
        "reference": p.reference,
        "service_code": p.service_code,
        "weight_g": p.weight_g,
        "dimensions_cm": [p.length_cm, p.width_cm, p.height_cm],
        "declared_value": str(p.declared_value),
        "cod_amount": str(p.cod_amount),
        "tracking_number": p.tracking_number or None,
        "comment": p.comment,
        "recipient": {
            "name": p.recipient.name,
            "phone": p.recipient.phone,
            "email": p.recipient.email,
            "index": a.index,
            "city": a.city,
            "pickup_point": p.recipient.pickup_point,
            "address": a.raw or ", ".join(x for x in (a.street, a.house, a.apartment) if x),
        },
        "sender": {"name": p.sender.name, "phone": p.sender.phone, "index": p.sender.address.index},
        "items": [{"name": i.name, "quantity": i.quantity, "price": str(i.unit_price)} for i in p.items],
        "options": {k: v for k, v in p.options.items() if isinstance(v, str | int | float | bool)},
    }
