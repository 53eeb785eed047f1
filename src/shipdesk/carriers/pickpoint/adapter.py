"""PickPoint adapter (legacy JSON API at ``https://e-solution.pickpoint.ru/api``): a login
session reused until it expires, createsending, labels (PDF), tracking, postamats and
pickup points, hand-over registries. Parcels go to a postamat / pickup point only."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta, timezone
from typing import Any, ClassVar

import httpx

from shipdesk.carriers import protocol, timing
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
    ParcelRequest,
    PickupPoint,
    TrackingEvent,
    TrackResult,
)
from shipdesk.carriers.pickpoint.statuses import STATES, status_of

MSK = timezone(timedelta(hours=3))
POSTAGE_PREPAID = "10001"
POSTAGE_COD = "10003"
SESSION_ERRORS = ("сесси", "session")


def parse_pp_time(value: Any) -> datetime:
    """``16.01.14 00:28`` (Moscow time) to an aware datetime."""
    text = str(value or "").strip()
    for fmt in ("%d.%m.%y %H:%M", "%d.%m.%Y %H:%M", "%d.%m.%y %H:%M:%S", "%d.%m.%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=MSK)
        except ValueError:
            continue
    raise CarrierError(f"PickPoint: непонятная дата {text!r}", code="bad_response")


class Adapter(CarrierAdapter):
    code: ClassVar[str] = "pickpoint"
    name: ClassVar[str] = "PickPoint"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.CREATE, Capability.LABELS, Capability.BATCHES, Capability.TRACK, Capability.PICKUP_POINTS}
    )
    track_batch_size: ClassVar[int] = 100
    rate_limit_per_second: ClassVar[float] = 5.0
    credential_fields: ClassVar[tuple[tuple[str, str, bool], ...]] = (
        ("login", "Логин", False),
        ("password", "Пароль", True),
        ("ikn", "ИКН (номер договора)", False),
    )
    default_base_url: ClassVar[str] = "https://e-solution.pickpoint.ru/api"
    _sessions: ClassVar[dict[str, str]] = {}  # per process; a session lives for hours

    @classmethod
    def validate_number(cls, number: str) -> str:
        """PickPoint's invoice number (``InvoiceNumber``, 11 digits) or the sending's barcode
        (12 digits): digits only, 10 to 12 of them."""
        cleaned = "".join(number.split()).replace("-", "")
        if not cleaned:
            raise ValueError("Трек-номер не указан")
        if not (cleaned.isascii() and cleaned.isdigit()):
            raise ValueError(f"Номер отправления PickPoint состоит только из цифр, а в "
                             f"«{number.strip()}» есть другие знаки")
        if not 10 <= len(cleaned) <= 12:
            raise ValueError(f"Неверная длина номера отправления PickPoint: {len(cleaned)} цифр, "
                             "а номер PickPoint состоит из 10–12 цифр (обычно 11)")
        return cleaned

    @property
    def _session_key(self) -> str:
        creds = self.credentials
        raw = f"{self.base_url}|{creds.get('login', '')}|{creds.get('password', '')}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _login(self) -> str:
        response = protocol.send(
            self.http,
            "POST",
            f"{self.base_url}/login",
            json={
                "Login": self.credentials.get("login", ""),
                "Password": self.credentials.get("password", ""),
            },
            extensions={"idempotent": True},
        )
        protocol.raise_for_common(response)
        data = protocol.expect_dict(protocol.json_body(response), "login")
        session = data.get("SessionId")
        if data.get("ErrorMessage") or not session:
            raise AuthenticationFailed(
                f"PickPoint не принял логин и пароль: {data.get('ErrorMessage') or 'нет сессии'}",
                code="bad_credentials",
            )
        self._sessions[self._session_key] = str(session)
        return str(session)

    def _session(self) -> str:
        return self._sessions.get(self._session_key) or self._login()

    def _post(self, action: str, payload: dict[str, Any], *, idempotent: bool = False) -> httpx.Response:
        for attempt in (1, 2):
            body = {"SessionId": self._session(), **payload}
            response = protocol.send(
                self.http,
                "POST",
                f"{self.base_url}/{action}",
                json=body,
                extensions={"idempotent": True} if idempotent else {},
            )
            expired = response.status_code == 401 or (
                response.headers.get("content-type", "").startswith("application/json")
                and _session_error(response)
            )
            if expired and attempt == 1:
                self._sessions.pop(self._session_key, None)  # log in again, once
                continue
            break
        if response.status_code == 401 or expired:
            raise AuthenticationFailed(
                "PickPoint отклонил сессию", code="bad_session", status=response.status_code
            )
        protocol.raise_for_common(response)
        return response

    def _json(self, action: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        response = self._post(action, payload, **kwargs)
        data = protocol.json_body(response)
        if isinstance(data, dict) and data.get("ErrorMessage"):
            raise CarrierError(
                f"PickPoint: {data['ErrorMessage']}", code="api_error", status=response.status_code
            )
        if response.status_code >= 400:
            raise CarrierError(
                f"PickPoint: {protocol.describe(response)}", code="http_error", status=response.status_code
            )
        return data

    def _pdf(self, action: str, payload: dict[str, Any], filename: str) -> Document:
        response = self._post(action, payload, idempotent=True)
        if response.content.startswith(b"%PDF"):
            return Document(filename=filename, content_type="application/pdf", content=response.content)
        text = response.content[:300].decode("utf-8", errors="replace").strip()
        if text.startswith("Error"):
            raise CarrierError(f"PickPoint: {text}", code="api_error")
        raise CarrierError(
            f"PickPoint: ожидался PDF, получено {protocol.describe(response)}", code="bad_response"
        )

    # --- operations ----------------------------------------------------------------------
    def test_connection(self) -> None:
        self._sessions.pop(self._session_key, None)
        self._login()
        if not self.credentials.get("ikn"):
            raise AuthenticationFailed("Не указан ИКН (номер договора PickPoint)", code="no_ikn")

    def sending(self, index: int, parcel: ParcelRequest) -> dict[str, Any]:
        """One element of ``Sendings`` for /createsending."""
        cod = parcel.cod_amount > 0
        invoice: dict[str, Any] = {
            "SenderCode": parcel.reference,
            "Description": parcel.comment or "Товары",
            "RecipientName": parcel.recipient.name,
            "PostamatNumber": parcel.recipient.pickup_point,
            "MobilePhone": parcel.recipient.phone,
            "Email": parcel.recipient.email or None,
            "PostageType": POSTAGE_COD if cod else POSTAGE_PREPAID,
            "GettingType": str(self.settings.get("getting_type", "102")),
            "PayType": "1",
            "Sum": float(parcel.cod_amount) if cod else 0.0,
            "InsuareValue": float(parcel.declared_value),
            "Width": parcel.width_cm or None,
            "Height": parcel.height_cm or None,
            "Depth": parcel.length_cm or None,
            "Weight": round(parcel.weight_g / 1000, 3),
            "SubEncloses": [
                {
                    "Line": n,
                    "GoodsCode": item.article or str(n),
                    "Name": item.name,
                    "Price": float(item.unit_price),
                    "Quantity": item.quantity,
                    "Vat": item.vat_rate,
                }
                for n, item in enumerate(parcel.items, start=1)
            ],
        }
        return {"EDTN": str(index), "IKN": self.credentials.get("ikn", ""), "Invoice": invoice}

    def create_parcels(self, parcels: list[ParcelRequest]) -> CreateResult:
        errors = [
            ItemError(
                reference=p.reference,
                message="Для PickPoint нужен номер постамата / пункта выдачи",
                code="invalid",
                field="recipient.pickup_point",
            )
            for p in parcels
            if not p.recipient.pickup_point
        ]
        ready = [(i, p) for i, p in enumerate(parcels) if p.recipient.pickup_point]
        if not ready:
            return CreateResult(errors=tuple(errors))
        data = protocol.expect_dict(
            self._json("createsending", {"Sendings": [self.sending(i, p) for i, p in ready]}), "createsending"
        )
        return self.read_created(dict(ready), data, errors)

    @staticmethod
    def read_created(
        by_edtn: dict[int, ParcelRequest], data: dict[str, Any], errors: list[ItemError] | None = None
    ) -> CreateResult:
        def reference(edtn: Any) -> str:
            try:
                return by_edtn[int(edtn)].reference
            except (KeyError, TypeError, ValueError):
                return str(edtn)

        created = []
        for row in protocol.expect_list(data.get("CreatedSendings"), "CreatedSendings"):
            number = str(row.get("InvoiceNumber") or row.get("Barcode") or "")
            if not number:
                raise CarrierError("PickPoint не вернул номер отправления", code="bad_response")
            created.append(
                CreatedParcel(
                    reference=reference(row.get("EDTN")), carrier_id=number, tracking_number=number, raw=row
                )
            )
        rejected = [
            ItemError(
                reference=reference(row.get("EDTN")),
                message=str(row.get("ErrorMessage", "")),
                code=str(row.get("ErrorCode", "")),
                field=_field_of(str(row.get("ErrorMessage", ""))),
            )
            for row in protocol.expect_list(data.get("RejectedSendings"), "RejectedSendings")
        ]
        return CreateResult(created=tuple(created), errors=tuple((errors or []) + rejected))

    def labels(self, carrier_ids: list[str]) -> Document:
        return self._pdf("makelabel", {"Invoices": carrier_ids}, "pickpoint-labels.pdf")

    def create_batch(self, carrier_ids: list[str], *, shipping_date: date) -> BatchResult:
        data = protocol.expect_dict(
            self._json("makereestrnumber", {"Invoices": carrier_ids}), "makereestrnumber"
        )
        numbers = protocol.expect_list(data.get("Numbers"), "Numbers")
        if not numbers:
            raise CarrierError("PickPoint не создал реестр", code="bad_response")
        return BatchResult(batch_id=str(numbers[0]), carrier_ids=tuple(carrier_ids), raw=data)

    def close_batch(self, batch_id: str) -> None:
        return None  # a PickPoint registry needs no closing

    def batch_documents(self, batch_id: str) -> Document:
        return self._pdf("getreestr", {"ReestrNumber": batch_id}, f"pickpoint-registry-{batch_id}.pdf")

    @staticmethod
    def events_from_states(number: str, rows: list[Any]) -> list[TrackingEvent]:
        events = []
        for row in rows:
            if not isinstance(row, dict):
                raise CarrierError("PickPoint: непонятная запись истории", code="bad_response")
            status, substatus = status_of(row.get("State"))
            events.append(
                TrackingEvent(
                    tracking_number=number,
                    occurred_at=parse_pp_time(row.get("ChangeDT")),
                    raw_code=str(row.get("State", "")),
                    raw_text=str(row.get("StateMessage", "")),
                    status=status,
                    substatus=substatus,
                    raw=row,
                )
            )
        return sorted(events, key=lambda e: e.occurred_at)

    def track(self, tracking_numbers: list[str]) -> TrackResult:
        events: list[TrackingEvent] = []
        errors: dict[str, str] = {}
        for start in range(0, len(tracking_numbers), self.track_batch_size):
            chunk = tracking_numbers[start : start + self.track_batch_size]
            rows = protocol.expect_list(
                self._json("tracksendings", {"Invoices": chunk}, idempotent=True), "tracksendings"
            )
            for row in rows:
                number = str(row.get("InvoiceNumber", ""))
                if row.get("Error"):
                    errors[number] = str(row["Error"])
                    continue
                events.extend(
                    self.events_from_states(number, protocol.expect_list(row.get("States"), "States"))
                )
        return timing.result_not_ahead(TrackResult(events=tuple(events), errors=errors), carrier=self.code)

    def pickup_points(self, *, city: str = "", index: str = "") -> list[PickupPoint]:
        response = protocol.send(self.http, "GET", f"{self.base_url}/postamatlist")
        protocol.raise_for_common(response)
        rows = protocol.expect_list(protocol.json_body(response), "postamatlist")
        points = []
        for row in rows:
            if city and str(row.get("CitiName", "")).lower() != city.lower():
                continue
            if index and str(row.get("PostCode", ""))[:3] != index[:3]:
                continue
            points.append(
                PickupPoint(
                    code=str(row["Number"]),
                    name=str(row.get("Name", "")),
                    address=Address(
                        index=str(row.get("PostCode", "")),
                        region=str(row.get("Region", "")),
                        city=str(row.get("CitiName", "")),
                        street=str(row.get("Address", "")),
                    ),
                    work_hours=str(row.get("WorkTime", "")),
                    latitude=row.get("Latitude"),
                    longitude=row.get("Longitude"),
                    is_locker=row.get("TypeTitle") == "АПТ",
                )
            )
        return points

    @staticmethod
    def known_states() -> dict[int, str]:
        return {code: text for code, (text, _s, _sub) in STATES.items()}


def _session_error(response: httpx.Response) -> bool:
    try:
        data = json.loads(response.content)
    except ValueError:
        return False
    message = str(data.get("ErrorMessage") or "").lower() if isinstance(data, dict) else ""
    return any(word in message for word in SESSION_ERRORS)


def _field_of(message: str) -> str:
    for name, ours in (
        ("PostamatNumber", "recipient.pickup_point"),
        ("MobilePhone", "recipient.phone"),
        ("RecipientName", "recipient.name"),
        ("SenderCode", "reference"),
        ("Sum", "cod_amount"),
        ("IKN", "ikn"),
    ):
        if name in message:
            return ours
    return ""
