"""Russian Post adapter: Otpravka REST (otpravka-api.pochta.ru) and tracking SOAP (tracking.russianpost.ru).

Credentials (``CarrierAccount.credentials``): ``token`` (application token, «AccessToken»), ``login`` and
``password`` (the pochta.ru user, sent as ``X-User-Authorization: Basic``), optional
``tracking_login`` / ``tracking_password`` (tracking API access; default: login / password).
Settings: ``index_from`` (acceptance office = a shipping point of the account), ``tracking_url``
(default ``https://tracking.russianpost.ru``), ``tracking_mode`` (``batch`` — tickets, contract
clients; ``single`` — one getOperationHistory per number, 100 a day). Batch tracking through
the poller is deferred (``track_request`` / ``track_fetch``): ``ticket_first_fetch_after`` and
``ticket_fetch_interval`` (seconds, default 900 each, the service's rule). The synchronous
``track`` waits for the answer within the call: ``ticket_poll_interval`` (seconds) and
``ticket_poll_attempts``.
"""

from __future__ import annotations

import base64
import io
import logging
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, cast
from xml.sax.saxutils import escape, quoteattr

import httpx
import pycountry
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree

from shipdesk.carriers import charges, timing
from shipdesk.carriers.base import (
    Address,
    AuthenticationFailed,
    BatchResult,
    Capability,
    CarrierAdapter,
    CarrierError,
    ChargeLine,
    CreatedParcel,
    CreateResult,
    Document,
    ItemError,
    ParcelRequest,
    PickupPoint,
    RateLimited,
    RateQuote,
    TicketExpired,
    TrackingEvent,
    TrackResult,
    TrackTicket,
)
from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.statuses import (
    DAYS_LEFT,
    map_operation,
    operation_name,
    raw_code,
    storage_until,
)
from shipdesk.numbering.validation import validate_postal_number

log = logging.getLogger(__name__)

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
MSK = timezone(timedelta(hours=3))
MSK_OFFSET = timedelta(hours=3)
PS_NS = "http://fclient.russianpost.org/postserver"
FC_NS = "http://fclient.russianpost.org"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
TICKET_KEPT = timedelta(hours=32)  # the service deletes a ticket's answer after this
_STRICT_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
KOPECK = Decimal("0.01")

SERVICE_NAMES: dict[str, str] = {
    "POSTAL_PARCEL": "Посылка нестандартная",
    "ONLINE_PARCEL": "Посылка онлайн",
    "ONLINE_COURIER": "Курьер онлайн",
    "EMS": "EMS",
    "EMS_OPTIMAL": "EMS оптимальное",
    "EMS_RT": "EMS РТ",
    "PARCEL_CLASS_1": "Посылка 1 класса",
    "LETTER": "Письмо",
    "LETTER_CLASS_1": "Письмо 1 класса",
    "BANDEROL": "Бандероль",
    "BANDEROL_CLASS_1": "Бандероль 1 класса",
    "ECOM": "ЕКОМ",
    "BUSINESS_COURIER": "Бизнес курьер",
    "SMALL_PACKET": "Мелкий пакет",
    "EASY_RETURN": "Лёгкий возврат",
}
CHARGE_NAMES: dict[str, str] = {
    "ground-rate": "Пересылка",
    "avia-rate": "Авиа-надбавка",
    "insurance-rate": "Плата за объявленную ценность",
    "fragile-rate": "Отметка «Осторожно»",
    "notice-rate": "Уведомление о вручении",
    "oversize-rate": "Негабарит",
    "inventory-rate": "Опись вложения",
    "sms-notice-recipient-rate": "SMS-уведомление",
    "completeness-checking-rate": "Проверка комплектности",
    "contents-checking-rate": "Проверка вложения",
    "vsd-rate": "Возврат сопроводительных документов",
}
# Otpravka error code → (our field, Russian message).
ERROR_FIELDS: dict[str, tuple[str, str]] = {
    "EMPTY_INDEX_TO": ("recipient.address.index", "Не указан индекс получателя"),
    "ILLEGAL_INDEX_TO": ("recipient.address.index", "Индекс получателя неверный (нужно 6 цифр)"),
    "EMPTY_REGION_TO": ("recipient.address.region", "Не указан регион получателя"),
    "EMPTY_PLACE_TO": ("recipient.address.city", "Не указан населённый пункт получателя"),
    "EMPTY_STREET_TO": ("recipient.address.street", "Не указана улица получателя"),
    "EMPTY_MASS": ("weight_g", "Не указан вес"),
    "ILLEGAL_MASS": ("weight_g", "Недопустимый вес"),
    "ILLEGAL_MASS_EXCESS": ("weight_g", "Вес больше предельного для этого вида отправления"),
    "EMPTY_INSR_VALUE": ("declared_value", "Не указана объявленная ценность"),
    "ILLEGAL_INSR_VALUE": ("declared_value", "Недопустимая объявленная ценность"),
    "INSR_VALUE_EXCEEDS_MAX": ("declared_value", "Объявленная ценность больше допустимой"),
    "EMPTY_PAYMENT": ("cod_amount", "Не указана сумма наложенного платежа"),
    "ILLEGAL_PAYMENT": ("cod_amount", "Недопустимая сумма наложенного платежа"),
    "NOT_INSURED_PAYMENT": ("cod_amount", "Наложенный платёж больше объявленной ценности"),
    "EMPTY_TELADDRESS": ("recipient.phone", "Не указан телефон получателя"),
    "EMPTY_MAIL_TYPE": ("service_code", "Не указан вид отправления"),
    "ILLEGAL_MAIL_TYPE": ("service_code", "Недопустимый вид отправления"),
    "EMPTY_MAIL_CATEGORY": ("service_code", "Не указана категория отправления"),
    "ILLEGAL_MAIL_CATEGORY": ("service_code", "Недопустимая категория отправления"),
    "EMPTY_MAIL_DIRECT": ("recipient.address.country", "Не указана страна назначения"),
    "ILLEGAL_MAIL_DIRECT": ("recipient.address.country", "Недопустимая страна назначения"),
    "EMPTY_ADDRESS_TYPE_TO": ("recipient.address", "Не указан тип адреса получателя"),
    "EMPTY_POSTOFFICE_CODE": ("sender.address.index", "Не указано отделение приёма"),
    "ILLEGAL_POSTOFFICE_CODE": ("sender.address.index", "Отделение приёма не является точкой сдачи договора"),
    "DIMENSION_NOT_SUPPORTED": ("length_cm", "Габариты не поддерживаются для этого вида отправления"),
    "EMPTY_DIMENSION_TYPE": ("length_cm", "Не указана типоразмерная группа"),
    "RESTRICTED_MAIL_CATEGORY": ("cod_amount", "Наложенный платёж недоступен: нет номера ЕСПП в настройках"),
}
BATCH_ERRORS: dict[str, str] = {
    "NOT_FOUND": "Заказ не найден в Почте России",
    "READONLY_STATE": "Заказ уже в партии — изменить или удалить его можно только из партии",
    "PAST_DUE_DATE": "Дата сдачи в прошлом",
    "ALL_SHIPMENTS_SENT": "Партия уже отправлена (форма 103 уже передана)",
    "DIFFERENT_MAIL_TYPE": "В партии разные виды отправлений",
}
# Our customs categories (documents' CN22/CN23 ``options.customs_category``) as Otpravka's
# ``entries-type``; returned goods have no value of their own there.
CUSTOMS_ENTRIES_TYPES = {
    "GIFT": "GIFT",
    "DOCUMENTS": "DOCUMENT",
    "DOCUMENT": "DOCUMENT",
    "COMMERCIAL_SAMPLE": "COMMERCIAL_SAMPLE",
    "SALE_OF_GOODS": "SALE_OF_GOODS",
    "RETURNED_GOODS": "OTHER",
    "OTHER": "OTHER",
}


def oksm(alpha2: str) -> int:
    """The country's OKSM code (ISO 3166-1 numeric), e.g. DE → 276; 0 for an unknown one."""
    country = pycountry.countries.get(alpha_2=(alpha2 or "RU").upper())
    return int(country.numeric) if country is not None else 0


@dataclass(frozen=True)
class NormalizedAddress:
    """One answer of ``/1.0/clean/address``."""

    original: str
    address: Address
    quality_code: str
    validation_code: str
    good: bool  # good enough to ship (quality and validation both acceptable)
    raw: dict[str, Any]


@dataclass(frozen=True)
class NormalizedPhone:
    """One answer of ``/1.0/clean/phone``: ``phone`` is E.164 when the service is sure."""

    original: str
    phone: str
    quality_code: str
    good: bool


@dataclass(frozen=True)
class NormalizedName:
    """One answer of ``/1.0/clean/physical`` (a person's full name split in its parts)."""

    original: str
    surname: str
    name: str
    middle_name: str
    quality_code: str
    good: bool


# /clean/phone qualities that give a usable number; /clean/physical's "not sure" is not used
GOOD_PHONE = {"GOOD", "GOOD_REPLACED_CODE", "GOOD_REPLACED_NUMBER", "GOOD_REPLACED_CODE_NUMBER",
              "GOOD_CITY_CONFLICT", "GOOD_REGION_CONFLICT", "GOOD_CITY", "GOOD_EXTRA_PHONE",
              "CONFIRMED_MANUALLY"}
GOOD_FIO = {"CONFIRMED_MANUALLY", "EDITED"}


@dataclass(frozen=True)
class CodEvent:
    """A COD money-transfer event (``PostalOrderEventsForMail``); type 3 = paid out to the shop."""

    tracking_number: str
    transfer_number: str
    occurred_at: datetime  # aware, UTC
    event_type: int  # 1 accepted, 2 re-sent, 3 paid out, 4 forwarded, 5 sent back, 6-7 corrections
    event_name: str
    amount: Decimal  # rubles
    office_index: str

    @property
    def paid_out(self) -> bool:
        return self.event_type == 3


GOOD_QUALITY = {"GOOD", "POSTAL_BOX", "ON_DEMAND", "UNDEF_05"}
GOOD_VALIDATION = {"VALIDATED", "OVERRIDDEN", "CONFIRMED_MANUALLY"}


def kopecks(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rubles(kop: Any) -> Decimal:
    return (Decimal(int(kop or 0)) / 100).quantize(KOPECK)


# Our one «корпус/строение» field and one «квартира/офис» field, as Otpravka's own fields.
_BUILDING_WORDS = {
    "корп": "corpus-to", "корпус": "corpus-to", "кор": "corpus-to", "к": "corpus-to",
    "стр": "building-to", "строение": "building-to", "с": "building-to",
    "лит": "letter-to", "литера": "letter-to", "литер": "letter-to",
}
_ROOM_WORDS = {
    "кв": "room-to", "квартира": "room-to", "пом": "room-to", "помещение": "room-to",
    "комн": "room-to", "комната": "room-to", "оф": "office-to", "офис": "office-to",
}


def building_fields(building: str) -> list[tuple[str, str]]:
    """«корп. 2 стр. 1 лит. А» → corpus-to 2, building-to 1 (строение), letter-to А; a value
    without a word before it («2») is the corpus."""
    fields: list[tuple[str, str]] = []
    key = ""
    for word in building.replace(".", ". ").split():
        low = word.lower().rstrip(".,")
        if low in _BUILDING_WORDS:
            key = _BUILDING_WORDS[low]
            continue
        fields.append((key or "corpus-to", word.strip(",")))
        key = ""
    return fields


def room_fields(apartment: str) -> list[tuple[str, str]]:
    """«12» and «кв. 12» → room-to 12; «оф. 3» → office-to 3."""
    first, _space, rest = apartment.replace(".", ". ").partition(" ")
    key = _ROOM_WORDS.get(first.lower().rstrip("."))
    if key and rest.strip():
        return [(key, rest.strip())]
    return [("room-to", apartment)] if apartment else []


@cache
def _soap_client(name: str) -> zeep.Client:
    """A parsed WSDL shipped with the package, used to build and parse messages (no I/O of its own)."""
    return zeep.Client(
        str(WSDL_DIR / f"{name}.wsdl"), settings=zeep.Settings(strict=False, xml_huge_tree=True)
    )


class Adapter(CarrierAdapter):
    code: ClassVar[str] = "russian_post"
    name: ClassVar[str] = "Почта России"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.RATE,
            Capability.CREATE,
            Capability.CANCEL,
            Capability.LABELS,
            Capability.BATCHES,
            Capability.TRACK,
            Capability.TRACK_SINGLE,
            Capability.NORMALIZE_ADDRESS,
            Capability.NUMBER_POOL,  # ШПИ and S10 ranges allotted to the sender by contract
            Capability.PICKUP_POINTS,
        }
    )
    # ~40,000 post offices: each is asked by its index when a parcel arrives at it
    pickup_points_on_demand: ClassVar[bool] = True
    track_batch_size: ClassVar[int] = 3000
    # Otpravka gives an order its barcode (ШПИ) when the order enters a batch
    numbers_at_batch: ClassVar[bool] = True
    default_base_url: ClassVar[str] = "https://otpravka-api.pochta.ru"
    credential_fields: ClassVar[tuple[tuple[str, str, bool], ...]] = (
        ("token", "Токен приложения (AccessToken) из настроек Отправки", True),
        ("login", "Логин pochta.ru", False),
        ("password", "Пароль pochta.ru", True),
        ("tracking_login", "Логин API отслеживания (если отличается)", False),
        ("tracking_password", "Пароль API отслеживания (если отличается)", True),
    )
    # Tracking falls back to the Otpravka login when the separate tracking pair is not given.
    optional_credentials: ClassVar[frozenset[str]] = frozenset({"tracking_login", "tracking_password"})

    @classmethod
    def validate_number(cls, number: str) -> str:
        """A domestic 14-digit ШПИ or an international S10 identifier, check digit verified
        (the messages name the format: «номер Почты России состоит из 14 цифр» …)."""
        return validate_postal_number(number)

    # -- transport -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        token = str(self.credentials.get("token") or "")
        login = str(self.credentials.get("login") or "")
        password = str(self.credentials.get("password") or "")
        if not token or not login:
            raise AuthenticationFailed(
                "Не заданы токен приложения или логин Почты России в настройках аккаунта",
                code="missing_credentials",
            )
        basic = base64.b64encode(f"{login}:{password}".encode()).decode()
        return {
            "Authorization": f"AccessToken {token}",
            "X-User-Authorization": f"Basic {basic}",
            "Accept": "application/json;charset=UTF-8",
        }

    def _send(
        self, method: str, url: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """One exchange over the injected client. ``idempotent`` tells its retry layer whether the
        call may be repeated (False for calls that create orders or batches)."""
        if idempotent is not None:
            kwargs["extensions"] = {"idempotent": idempotent}
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise CarrierError(
                "Почта России не ответила вовремя (тайм-аут)", code="timeout", transient=True
            ) from exc
        except httpx.HTTPError as exc:
            raise CarrierError(
                f"Нет связи с сервером Почты России: {exc}", code="unavailable", transient=True
            ) from exc
        log.debug("russian_post %s %s -> %s", method, url, response.status_code)
        return response

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        binary: bool = False,
        idempotent: bool | None = None,
    ) -> Any:
        response = self._send(
            method,
            f"{self.base_url}{path}",
            idempotent=idempotent,
            json=json,
            params=params,
            headers=self._headers(),
        )
        self._raise_for_status(response)
        if binary:
            ctype = response.headers.get("Content-Type", "")
            if "json" in ctype or "html" in ctype:
                raise CarrierError(f"Почта России вернула {ctype} вместо файла", code="bad_response")
            return response
        return self._json(response)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        ctype = response.headers.get("Content-Type", "")
        if "html" in ctype:
            raise _html_error("Почта России вернула HTML-страницу вместо JSON", response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CarrierError(
                "Почта России вернула повреждённый JSON (ответ оборван или не JSON)",
                code="bad_response",
                transient=True,
                status=response.status_code,
            ) from exc

    @classmethod
    def _raise_for_status(cls, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        body: dict[str, Any] = {}
        if "json" in response.headers.get("Content-Type", ""):
            try:
                parsed = response.json()
                body = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                body = {}
        sub = str(body.get("sub-code") or body.get("error-code") or "")
        desc = str(body.get("desc") or body.get("message") or body.get("error-description") or "")
        if status in (401, 403):
            if sub == "INVALID_TOKEN":
                message = (
                    "Почта России отклонила токен приложения (AccessToken): проверьте токен "
                    "в настройках личного кабинета Отправки"
                )
            elif sub == "INVALID_USER_CREDENTIALS":
                message = "Почта России отклонила логин или пароль пользователя pochta.ru"
            elif status == 403:
                message = "Нет доступа к этому методу API Почты России (проверьте договор и права токена)"
            else:
                message = "Почта России отклонила авторизацию" + (f": {desc}" if desc else "")
            raise AuthenticationFailed(message, code=sub or "auth", status=status)
        if status == 429:
            retry = response.headers.get("Retry-After")
            if sub == "LIMIT_EXCEEDED":
                message = "Исчерпан суточный лимит запросов к API Почты России"
            else:
                message = "Почта России ограничила частоту запросов (HTTP 429)"
            raise RateLimited(message, retry_after=float(retry) if retry and retry.isdigit() else None)
        if status >= 500:
            kind = "HTML-страницу ошибки" if "html" in response.headers.get("Content-Type", "") else "ошибку"
            raise CarrierError(
                f"Сервер Почты России вернул {kind} (HTTP {status})" + (f": {desc}" if desc else ""),
                code=sub or "server_error",
                transient=True,
                status=status,
            )
        if status == 404:
            raise CarrierError(
                "Почта России: не найдено" + (f" ({desc})" if desc else ""),
                code=sub or "not_found",
                status=status,
            )
        raise CarrierError(
            f"Почта России отклонила запрос (HTTP {status})" + (f": {desc}" if desc else ""),
            code=sub or "bad_request",
            status=status,
        )

    # -- account ---------------------------------------------------------------------------------
    def test_connection(self) -> None:
        data = self._call("GET", "/1.0/settings")
        if not isinstance(data, dict):
            raise CarrierError(
                "Почта России вернула неожиданный ответ на запрос настроек", code="bad_response"
            )

    def request_limit(self) -> tuple[int, int]:
        """(allowed, used today) from ``GET /1.0/settings/limit``."""
        data = self._call("GET", "/1.0/settings/limit")
        return int(data.get("allowed-count") or 0), int(data.get("current-count") or 0)

    # -- orders ----------------------------------------------------------------------------------
    @staticmethod
    def split_service(service_code: str, parcel: ParcelRequest | None = None) -> tuple[str, str]:
        mail_type, _, category = (service_code or "POSTAL_PARCEL").partition("/")
        if not category:
            if parcel is not None and parcel.cod_amount > 0:
                category = "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY"
            elif parcel is not None and parcel.declared_value > 0:
                category = "WITH_DECLARED_VALUE"
            else:
                category = "ORDINARY"
        return mail_type.upper(), category.upper()

    def _index_from(self, parcel: ParcelRequest) -> str:
        return str(
            parcel.options.get("postoffice_code")
            or self.settings.get("index_from")
            or parcel.sender.address.index
        )

    @staticmethod
    def customs_declaration(parcel: ParcelRequest) -> dict[str, Any]:
        """Otpravka's ``customs-declaration`` of an international order: the category, each
        item (quantity, origin country as OKSM, HS code, value per unit in kopecks, weight)
        and the invoice, licence and certificate numbers when the shop gave them."""
        options = parcel.options
        category = str(options.get("customs_category") or "sale_of_goods").upper()
        declaration: dict[str, Any] = {
            "currency": "RUB",
            "entries-type": CUSTOMS_ENTRIES_TYPES.get(category, "OTHER"),
            "customs-entries": [
                {
                    "amount": item.quantity,
                    "country-code": oksm(item.origin_country or "RU"),
                    "description": item.name[:60],
                    "tnved-code": item.hs_code,
                    "value": kopecks(item.unit_price),
                    "weight": item.weight_g,
                }
                for item in parcel.items
            ],
        }
        for option, flag, key in (("customs_invoice_number", "with-invoice", "invoice-number"),
                                  ("customs_licence_number", "with-license", "license-number"),
                                  ("customs_certificate_number", "with-certificate",
                                   "certificate-number")):
            if options.get(option):
                declaration[flag], declaration[key] = True, str(options[option])
        return declaration

    def build_order(self, parcel: ParcelRequest) -> dict[str, Any]:
        """The Otpravka order (kebab-case, kopecks, grams) for one parcel."""
        mail_type, category = self.split_service(parcel.service_code, parcel)
        to = parcel.recipient.address
        order: dict[str, Any] = {
            "order-num": parcel.reference,
            "mail-type": mail_type,
            "mail-category": category,
            "mail-direct": oksm(to.country) or None,
            "mass": parcel.weight_g,
            "address-type-to": str(parcel.options.get("address_type") or "DEFAULT"),
            "recipient-name": parcel.recipient.company or parcel.recipient.name,
        }
        abroad = (to.country or "RU").upper() != "RU"
        if to.index and abroad:
            order["str-index-to"] = to.index  # a foreign postcode (letters, 4–5 digits...)
        elif to.index:
            order["index-to"] = int(to.index) if to.index.isdigit() and len(to.index) == 6 else to.index
        if abroad:
            order["customs-declaration"] = self.customs_declaration(parcel)
        for key, value in (
            ("region-to", to.region),
            ("area-to", to.district),
            ("place-to", to.city),
            ("street-to", to.street),
            ("house-to", to.house),
            *building_fields(to.building),
            *room_fields(to.apartment),
        ):
            if value:
                order[key] = value
        if to.raw and not to.city:
            order["raw-address"] = to.raw
        for key, value in (parcel.options.get("recipient_name_parts") or {}).items():
            if value:  # surname / given-name / middle-name from /1.0/clean/physical
                order[key] = value
        phone = "".join(ch for ch in parcel.recipient.phone if ch.isdigit())
        if phone:
            order["tel-address"] = int(phone)
        if parcel.declared_value > 0:
            order["insr-value"] = kopecks(parcel.declared_value)
        if parcel.cod_amount > 0:
            order["payment"] = kopecks(parcel.cod_amount)
        office = self._index_from(parcel)
        if office:
            order["postoffice-code"] = office
        sender = parcel.sender.company or parcel.sender.name
        if sender:
            order["sender-name"] = sender
        if parcel.length_cm and parcel.width_cm and parcel.height_cm:
            order["dimension"] = {
                "length": parcel.length_cm,
                "width": parcel.width_cm,
                "height": parcel.height_cm,
            }
        flags = {
            "fragile": "fragile",
            "courier": "courier",
            "inventory": "inventory",
            "with_simple_notice": "with-simple-notice",
            "with_order_of_notice": "with-order-of-notice",
            "with_electronic_notice": "with-electronic-notice",
            "completeness_checking": "completeness-checking",
            "easy_return": "easy-return",
            "no_return": "no-return",
        }
        for option, key in flags.items():
            if parcel.options.get(option):
                order[key] = True
        if parcel.options.get("sms_notice"):
            order["sms-notice-recipient"] = 1
        if parcel.options.get("transport_type"):
            order["transport-type"] = str(parcel.options["transport_type"])
        if parcel.recipient.pickup_point:
            order["ecom-data"] = {"delivery-point-index": parcel.recipient.pickup_point}
        if parcel.items:
            order["goods"] = {
                "items": [
                    {
                        "description": item.name,
                        "quantity": item.quantity,
                        "value": kopecks(item.unit_price),
                        "vat-rate": -1 if item.vat_rate is None else item.vat_rate,
                        **({"item-number": item.article} if item.article else {}),
                        **({"weight": item.weight_g} if item.weight_g else {}),
                        **({"country-code": item.origin_country} if item.origin_country else {}),
                    }
                    for item in parcel.items
                ]
            }
        if parcel.comment:
            order["comment"] = parcel.comment
        return order

    @staticmethod
    def parse_create_response(parcels: list[ParcelRequest], data: Any) -> CreateResult:
        """Maps ``{"result-ids": [...], "errors": [{"error-codes": [...], "position": i}]}`` to our result."""
        if not isinstance(data, dict) or not isinstance(data.get("result-ids", []), list):
            raise CarrierError(
                "Почта России вернула неожиданный ответ на создание заказов", code="bad_response"
            )
        errors: list[ItemError] = []
        failed: set[int] = set()
        for entry in data.get("errors") or []:
            pos = int(entry.get("position", -1))
            reference = parcels[pos].reference if 0 <= pos < len(parcels) else ""
            failed.add(pos)
            for err in entry.get("error-codes") or [
                {
                    "code": entry.get("error-code", "UNDEFINED"),
                    "description": entry.get("error-description", ""),
                }
            ]:
                code = str(err.get("code") or "UNDEFINED")
                field_name, message = ERROR_FIELDS.get(code, ("", ""))
                detail = str(err.get("description") or "")
                errors.append(
                    ItemError(
                        reference=reference, code=code, field=field_name, message=message or detail or code
                    )
                )
        ok_positions = [i for i in range(len(parcels)) if i not in failed]
        ids = [str(i) for i in data.get("result-ids") or []]
        if len(ids) != len(ok_positions):
            raise CarrierError(
                f"Почта России вернула {len(ids)} идентификаторов на {len(ok_positions)} принятых заказов",
                code="bad_response",
            )
        created = tuple(
            CreatedParcel(reference=parcels[pos].reference, carrier_id=oid, raw={"id": oid, "position": pos})
            for pos, oid in zip(ok_positions, ids, strict=True)
        )
        return CreateResult(created=created, errors=tuple(errors))

    def create_parcels(self, parcels: list[ParcelRequest]) -> CreateResult:
        created: list[CreatedParcel] = []
        errors: list[ItemError] = []
        for start in range(0, len(parcels), 500):
            chunk = parcels[start : start + 500]
            data = self._call(
                "PUT", "/1.0/user/backlog", idempotent=False, json=[self.build_order(p) for p in chunk]
            )
            result = self.parse_create_response(chunk, data)
            created.extend(result.created)
            errors.extend(result.errors)
        return CreateResult(created=tuple(created), errors=tuple(errors))

    def find_parcels(self, references: list[str]) -> list[CreatedParcel]:
        return [parcel for reference in references for parcel in self.find_orders(reference)
                if parcel.reference == reference]

    def find_orders(self, reference: str) -> list[CreatedParcel]:
        """The orders already created for a shop order number — to reconcile after a create
        call whose answer was lost (never re-sent blindly: the backlog PUT is not
        idempotent): new ones (``GET /1.0/backlog/search``) and those already in a batch,
        with their barcode (``GET /1.0/shipment/search``)."""
        rows = [*(self._call("GET", "/1.0/backlog/search", params={"query": reference}) or []),
                *(self._call("GET", "/1.0/shipment/search", params={"query": reference}) or [])]
        return [
            CreatedParcel(
                reference=str(row.get("order-num") or ""),
                carrier_id=str(row["id"]),
                tracking_number=str(row.get("barcode") or ""),
                raw=row,
            )
            for row in rows or []
            if isinstance(row, dict) and "id" in row
        ]

    @staticmethod
    def _position_errors(ids: list[str], data: Any) -> list[ItemError]:
        out = []
        for entry in (data or {}).get("errors") or []:
            pos = int(entry.get("position", -1))
            code = str(entry.get("error-code") or "UNDEFINED")
            out.append(
                ItemError(
                    reference=ids[pos] if 0 <= pos < len(ids) else "",
                    code=code,
                    message=BATCH_ERRORS.get(code) or str(entry.get("error-description") or code),
                )
            )
        return out

    def cancel_parcels(self, carrier_ids: list[str]) -> list[ItemError]:
        data = self._call("DELETE", "/1.0/backlog", idempotent=False, json=[int(i) for i in carrier_ids])
        return self._position_errors(carrier_ids, data)

    # -- rates -----------------------------------------------------------------------------------
    def build_tariff_request(self, parcel: ParcelRequest) -> dict[str, Any]:
        mail_type, category = self.split_service(parcel.service_code, parcel)
        body: dict[str, Any] = {
            "index-from": self._index_from(parcel),
            "index-to": parcel.recipient.address.index,
            "mail-category": category,
            "mail-type": mail_type,
            "mass": parcel.weight_g,
            "mail-direct": oksm(parcel.recipient.address.country) or 643,
            "fragile": bool(parcel.options.get("fragile")),
        }
        if parcel.declared_value > 0:
            body["declared-value"] = kopecks(parcel.declared_value)
        if parcel.length_cm and parcel.width_cm and parcel.height_cm:
            body["dimension"] = {
                "length": parcel.length_cm,
                "width": parcel.width_cm,
                "height": parcel.height_cm,
            }
        for option, key in (
            ("inventory", "inventory"),
            ("courier", "courier"),
            ("with_simple_notice", "with-simple-notice"),
            ("with_order_of_notice", "with-order-of-notice"),
            ("completeness_checking", "completeness-checking"),
        ):
            if parcel.options.get(option):
                body[key] = True
        if parcel.options.get("sms_notice"):
            body["sms-notice-recipient"] = 1
        return body

    @staticmethod
    def parse_tariff(service_code: str, data: Any) -> RateQuote:
        """The quote of a ``/1.0/tariff`` answer. Otpravka gives each part without VAT
        (``rate``) beside its VAT, and the charge as ``total-rate`` + ``total-vat``: the lines
        are the parts without VAT, a line for what the parts and ``total-rate`` differ by (the
        published sample itemises a fragile mark its total leaves out), and the VAT on a line
        of its own, so that they add up to the total."""
        if not isinstance(data, dict) or "total-rate" not in data:
            raise CarrierError("Почта России вернула неожиданный ответ тарификатора", code="bad_response")
        parts = []
        for key, name in CHARGE_NAMES.items():
            part = data.get(key)
            if isinstance(part, dict) and part.get("rate"):
                parts.append(ChargeLine(name=name, amount=rubles(part.get("rate"))))
        net, vat = rubles(data.get("total-rate")), rubles(data.get("total-vat"))
        lines = charges.lines_adding_up(parts, net) if net else ()
        if vat:
            lines = (*lines, ChargeLine(name=charges.vat_name(net, vat), amount=vat))
        days = data.get("delivery-time") or {}
        mail_type = service_code.partition("/")[0]
        return RateQuote(
            service_code=service_code,
            service_name=SERVICE_NAMES.get(mail_type, mail_type),
            total=net + vat,
            lines=lines,
            days_min=days.get("min-days"),
            days_max=days.get("max-days"),
            raw=data,
        )

    def rate(self, parcel: ParcelRequest) -> list[RateQuote]:
        code = parcel.service_code or "POSTAL_PARCEL"
        data = self._call("POST", "/1.0/tariff", idempotent=True, json=self.build_tariff_request(parcel))
        return [self.parse_tariff(code, data)]

    # -- address normalisation -------------------------------------------------------------------
    @staticmethod
    def parse_clean_address(data: Any) -> list[NormalizedAddress]:
        if not isinstance(data, list):
            raise CarrierError(
                "Почта России вернула неожиданный ответ нормализации адреса", code="bad_response"
            )
        out = []
        for row in sorted(data, key=lambda r: int(r.get("id") or 0)):
            quality, validation = str(row.get("quality-code") or ""), str(row.get("validation-code") or "")
            out.append(
                NormalizedAddress(
                    original=str(row.get("original-address") or ""),
                    address=Address(
                        index=str(row.get("index") or ""),
                        region=str(row.get("region") or ""),
                        district=str(row.get("area") or ""),
                        city=str(row.get("place") or ""),
                        street=str(row.get("street") or ""),
                        house=str(row.get("house") or ""),
                        building=str(row.get("building") or row.get("corpus") or ""),
                        apartment=str(row.get("room") or ""),
                    ),
                    quality_code=quality,
                    validation_code=validation,
                    good=quality in GOOD_QUALITY and validation in GOOD_VALIDATION,
                    raw=row,
                )
            )
        return out

    def normalize_addresses(self, lines: list[str]) -> list[NormalizedAddress]:
        """``POST /1.0/clean/address``: one answer per line, in the order given."""
        data = self._call(
            "POST",
            "/1.0/clean/address",
            idempotent=True,
            json=[{"id": str(i), "original-address": line} for i, line in enumerate(lines)],
        )
        return self.parse_clean_address(data)

    def normalize_phones(self, phones: list[str]) -> list[NormalizedPhone]:
        """``POST /1.0/clean/phone``: one answer per phone, in the order given (the service
        answers in any order: matched by id)."""
        data = self._call("POST", "/1.0/clean/phone", idempotent=True,
                          json=[{"id": str(i), "original-phone": p} for i, p in enumerate(phones)])
        rows = {str(r.get("id")): r for r in data or [] if isinstance(r, dict)}
        out = []
        for i, original in enumerate(phones):
            row = rows.get(str(i), {})
            quality = str(row.get("quality-code") or "")
            digits = "".join(str(row.get(k) or "") for k in
                             ("phone-country-code", "phone-city-code", "phone-number"))
            good = quality in GOOD_PHONE and digits.isdigit() and len(digits) >= 11
            out.append(NormalizedPhone(original=original, phone=f"+{digits}" if good else "",
                                       quality_code=quality, good=good))
        return out

    def normalize_names(self, names: list[str]) -> list[NormalizedName]:
        """``POST /1.0/clean/physical``: a full name split into surname, name, middle name."""
        data = self._call("POST", "/1.0/clean/physical", idempotent=True,
                          json=[{"id": str(i), "original-fio": n} for i, n in enumerate(names)])
        rows = {str(r.get("id")): r for r in data or [] if isinstance(r, dict)}
        out = []
        for i, original in enumerate(names):
            row = rows.get(str(i), {})
            quality = str(row.get("quality-code") or "")
            surname, name = str(row.get("surname") or ""), str(row.get("name") or "")
            out.append(NormalizedName(original=original, surname=surname, name=name,
                                      middle_name=str(row.get("middle-name") or ""),
                                      quality_code=quality,
                                      good=quality in GOOD_FIO and bool(surname and name)))
        return out

    def normalize_parcels(self, parcels: list[ParcelRequest]) -> list[ParcelRequest]:
        """Domestic recipients through Otpravka's clean services: an address given as one
        line (or without its index) is replaced by the normalised one when the service
        finds it good to ship; a phone by its normalised number; a person's name is split
        into the order's surname / given-name / middle-name. What the service is not sure
        of is sent as given (Otpravka then validates it and says what is wrong)."""
        domestic = [i for i, p in enumerate(parcels)
                    if (p.recipient.address.country or "RU").upper() == "RU"]
        if not domestic:
            return parcels
        out = list(parcels)
        unparsed = [i for i in domestic if not out[i].recipient.address.city
                    or not out[i].recipient.address.index]
        if unparsed:
            lines = [_address_line(out[i].recipient.address) for i in unparsed]
            for i, found in zip(unparsed, self.normalize_addresses(lines), strict=True):
                if found.good and found.address.index:
                    given = out[i].recipient.address
                    # what the service found, over what we had; the rest as given
                    address = replace(given, **{k: v for k, v in vars(found.address).items()
                                                if v and k not in ("raw", "country")})
                    out[i] = replace(out[i], recipient=replace(out[i].recipient, address=address))
        with_phone = [i for i in domestic if out[i].recipient.phone]
        if with_phone:
            phones = self.normalize_phones([out[i].recipient.phone for i in with_phone])
            for i, phone in zip(with_phone, phones, strict=True):
                if phone.good:
                    out[i] = replace(out[i], recipient=replace(out[i].recipient, phone=phone.phone))
        people = [i for i in domestic if not out[i].recipient.company and out[i].recipient.name]
        if people:
            names = self.normalize_names([out[i].recipient.name for i in people])
            for i, person in zip(people, names, strict=True):
                if person.good:
                    parts = {"surname": person.surname, "given-name": person.name,
                             "middle-name": person.middle_name}
                    out[i] = replace(out[i], options={**out[i].options, "recipient_name_parts": parts})
        return out

    # -- post offices ----------------------------------------------------------------------------
    def pickup_points(self, *, city: str = "", index: str = "") -> list[PickupPoint]:
        """The post office of a postal ``index`` (``GET /postoffice/1.0/{index}``; none when
        the service knows no office there), or the offices found for a ``city`` or address
        (``/postoffice/1.0/by-address``, the most relevant first, each then asked by index).
        All ~40,000 offices are never listed: one of the two is required."""
        if index:
            office = self.post_office(index)
            return [office] if office is not None else []
        if city:
            return [office for code in self.post_office_codes(city)
                    if (office := self.post_office(code)) is not None]
        raise CarrierError(
            "Отделения Почты России запрашиваются по индексу или адресу, не все сразу",
            code="index_required",
        )

    def post_office(self, index: str) -> PickupPoint | None:
        index = index.strip()
        if not (len(index) == 6 and index.isdigit()):
            return None  # not a Russian postal index: no office to ask for
        try:
            # every kind of office (a parcel may wait at a locker or a delivery point too)
            data = self._call("GET", f"/postoffice/1.0/{index}",
                              params={"filter-by-office-type": "false"})
        except CarrierError as exc:
            if exc.status == 404:
                return None
            raise
        return self.parse_post_office(data)

    def post_office_codes(self, address: str, *, top: int = 10) -> list[str]:
        data = self._call("GET", "/postoffice/1.0/by-address",
                          params={"address": address, "top": top})
        if not isinstance(data, dict):
            raise CarrierError(
                "Почта России вернула неожиданный ответ поиска отделений", code="bad_response"
            )
        return [str(code) for code in data.get("postoffices") or [] if code]

    @staticmethod
    def parse_post_office(data: Any) -> PickupPoint | None:
        """An office object of the post-office service as a pickup point: its one-line
        address with the index and settlement, and its week's hours in a few words."""
        if not isinstance(data, dict) or not data.get("postal-code"):
            return None
        code = str(data["postal-code"])
        settlement = str(data.get("settlement") or "")
        street = str(data.get("address-source") or "")
        line = street if not settlement or settlement.lower() in street.lower() else (
            f"{settlement}, {street}" if street else settlement)
        kind = str(data.get("type-code") or "")
        hours = office_hours(data.get("working-hours"))
        if data.get("is-closed"):
            hours = "закрыто"
        elif data.get("is-temporary-closed"):
            reason = str(data.get("temporary-closed-reason") or "")
            hours = "временно закрыто" + (f" ({reason})" if reason else "")
        return PickupPoint(
            code=code,
            name=f"{OFFICE_KINDS.get(kind.upper(), 'Отделение Почты России')} {code}",
            address=Address(
                index=code,
                region=str(data.get("region") or ""),
                district=str(data.get("district") or ""),
                city=settlement,
                raw=f"{code}, {line}" if line else code,
            ),
            work_hours=hours,
            latitude=_coordinate(data.get("latitude")),
            longitude=_coordinate(data.get("longitude")),
            is_locker=kind.upper() in LOCKER_KINDS,
        )

    # -- batches and documents -------------------------------------------------------------------
    def create_batch(self, carrier_ids: list[str], *, shipping_date: date) -> BatchResult:
        """``POST /1.0/user/shipment``. Russian Post splits orders of different kinds into several
        batches; then ``batch_id`` is their names joined by commas (close/documents accept that)."""
        data = self._call(
            "POST",
            "/1.0/user/shipment",
            idempotent=False,
            params={"sending-date": shipping_date.isoformat()},
            json=[int(i) for i in carrier_ids],
        )
        if not isinstance(data, dict):
            raise CarrierError(
                "Почта России вернула неожиданный ответ на создание партии", code="bad_response"
            )
        errors = self._position_errors(carrier_ids, data)
        names = [str(b["batch-name"]) for b in data.get("batches") or []]
        numbers: dict[str, str] = {}
        for name in names:
            page = 0
            while True:
                rows = self._call("GET", f"/1.0/batch/{name}/shipment", params={"size": 500, "page": page})
                for row in rows or []:
                    if row.get("barcode"):
                        numbers[str(row["id"])] = str(row["barcode"])
                if not rows or len(rows) < 500:
                    break
                page += 1
        moved = tuple(str(i) for i in data.get("result-ids") or [])
        return BatchResult(
            batch_id=",".join(names),
            carrier_ids=moved,
            tracking_numbers=numbers,
            errors=tuple(errors),
            raw=data,
        )

    def close_batch(self, batch_id: str) -> None:
        for name in filter(None, batch_id.split(",")):
            data = self._call("POST", f"/1.0/batch/{name}/checkin", idempotent=False)
            if isinstance(data, dict) and data.get("error-code"):
                code = str(data["error-code"])
                raise CarrierError(f"Партия {name}: " + BATCH_ERRORS.get(code, code), code=code)

    def labels(self, carrier_ids: list[str]) -> Document:
        today = datetime.now(UTC).astimezone(MSK).date().isoformat()
        files = []
        for cid in carrier_ids:
            response = self._call(
                "GET",
                f"/1.0/forms/{cid}/f7pdf",
                params={"sending-date": today, "print-type": "PAPER"},
                binary=True,
            )
            files.append((f"f7p_{cid}.pdf", response.content))
        if len(files) == 1:
            return Document(filename=files[0][0], content_type="application/pdf", content=files[0][1])
        return Document(filename="labels.zip", content_type="application/zip", content=_zip(files))

    def batch_documents(self, batch_id: str) -> Document:
        names = [n for n in batch_id.split(",") if n]
        files = []
        for name in names:
            response = self._call(
                "GET", f"/1.0/forms/{name}/zip-all", params={"print-type": "PAPER"}, binary=True
            )
            files.append((f"batch_{name}.zip", response.content))
        if len(files) == 1:
            return Document(filename=files[0][0], content_type="application/zip", content=files[0][1])
        return Document(filename="batches.zip", content_type="application/zip", content=_zip(files))

    def f103(self, batch_name: str) -> Document:
        response = self._call("GET", f"/1.0/forms/{batch_name}/f103pdf", binary=True)
        return Document(
            filename=f"F103_{batch_name}.pdf", content_type="application/pdf", content=response.content
        )

    # -- tracking --------------------------------------------------------------------------------
    @property
    def tracking_url(self) -> str:
        """The tracking host: the setting, else the real one for the real Otpravka host, else the
        Otpravka base URL itself (the emulator serves both APIs on one port)."""
        configured = self.settings.get("tracking_url")
        if configured:
            return str(configured).rstrip("/")
        if "pochta.ru" in self.base_url:
            return "https://tracking.russianpost.ru"
        return self.base_url

    def _tracking_auth(self) -> tuple[str, str]:
        login = str(self.credentials.get("tracking_login") or self.credentials.get("login") or "")
        password = str(self.credentials.get("tracking_password") or self.credentials.get("password") or "")
        if not login:
            raise AuthenticationFailed(
                "Не задан логин API отслеживания Почты России", code="missing_credentials"
            )
        return login, password

    def _soap(
        self,
        wsdl: str,
        operation: str,
        *,
        fast: Callable[[Any], Any] | None = None,
        raw_body: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Builds the request with zeep, posts it over ``self.http`` and parses the reply with zeep
        (or with ``fast`` on the lxml root, for the large ticket answers; faults always go to zeep).
        ``raw_body``: the Body's content already written, for the large ticket requests."""
        client = _soap_client(wsdl)
        binding = client.service._binding
        if raw_body is not None:
            body = (
                f'<?xml version="1.0" encoding="utf-8"?><soap-env:Envelope xmlns:soap-env="{SOAP11_NS}">'
                f"<soap-env:Body>{raw_body}</soap-env:Body></soap-env:Envelope>"
            ).encode()
        else:
            envelope = client.create_message(client.service, operation, **kwargs)
            body = etree.tostring(envelope, encoding="utf-8", xml_declaration=True)
        if wsdl == "rtm34":
            headers = {"Content-Type": "application/soap+xml;charset=UTF-8"}
            url = f"{self.tracking_url}/rtm34"
        else:
            headers = {"Content-Type": "text/xml;charset=UTF-8", "SOAPAction": f'"{operation}"'}
            url = f"{self.tracking_url}/fc"
        response = self._send("POST", url, idempotent=True, content=body, headers=headers)
        ctype = response.headers.get("Content-Type", "")
        if "html" in ctype:
            raise _html_error("Сервис отслеживания вернул HTML-страницу", response)
        if response.status_code == 429:
            raise RateLimited("Сервис отслеживания ограничил частоту запросов")
        if not response.content:
            raise CarrierError(
                f"Сервис отслеживания вернул пустой ответ (HTTP {response.status_code})",
                code="server_error" if response.status_code >= 500 else "bad_response",
                transient=True,
                status=response.status_code,
            )
        try:
            root = etree.fromstring(response.content, _STRICT_XML)
        except etree.XMLSyntaxError as exc:
            raise CarrierError(
                f"Сервис отслеживания вернул повреждённый XML (HTTP {response.status_code})",
                code="bad_response",
                transient=True,
                status=response.status_code,
            ) from exc
        try:
            if fast is not None and root.find(".//{*}Fault") is None:
                return fast(root)
            return binding.process_reply(client, binding.get(operation), response)
        except zeep.exceptions.Fault as exc:
            text = str(exc.message or "")
            detail = etree.tostring(exc.detail).decode() if exc.detail is not None else ""
            if "авторизац" in text.lower() or "AuthorizationFault" in detail:
                raise AuthenticationFailed(
                    f"Сервис отслеживания отклонил логин или пароль: {text}", code="auth"
                ) from exc
            if "лимит" in text.lower():
                raise RateLimited(f"Сервис отслеживания: {text}") from exc
            raise CarrierError(
                f"Сервис отслеживания вернул ошибку SOAP: {text}",
                code="soap_fault",
                transient=response.status_code >= 500 and "идентификатор" not in text,
            ) from exc
        except zeep.exceptions.TransportError as exc:
            raise CarrierError(
                f"Сервис отслеживания вернул HTTP {exc.status_code}",
                code="server_error",
                transient=True,
                status=exc.status_code,
            ) from exc
        except (etree.XMLSyntaxError, zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError) as exc:
            raise CarrierError(
                "Сервис отслеживания вернул повреждённый XML", code="bad_response", transient=True
            ) from exc
        except (TypeError, AttributeError, ValueError) as exc:
            raise CarrierError(
                "Сервис отслеживания вернул ответ неожиданной структуры", code="bad_response"
            ) from exc

    @staticmethod
    def _event(
        number: str,
        when: datetime,
        t: int,
        a: int | None,
        text: str,
        index: str,
        location: str = "",
        raw: dict[str, Any] | None = None,
    ) -> TrackingEvent:
        mapped = map_operation(t, a)
        if mapped is None:
            log.warning("russian_post: unknown operation %s for %s", raw_code(t, a), number)
        return TrackingEvent(
            tracking_number=number,
            occurred_at=when.astimezone(UTC),
            raw_code=raw_code(t, a),
            raw_text=text or operation_name(t, a),
            status=mapped[0] if mapped else None,
            substatus=mapped[1] if mapped else "",
            location=location or index,
            office_index=index,
            raw=raw or {},
            storage_until=storage_until(t, a, when.date()),  # the office's own calendar day
        )

    def track_single(self, number: str) -> list[TrackingEvent]:
        """``getOperationHistory`` (RTM34) for one number; 100 calls a day without a contract."""
        login, password = self._tracking_auth()
        records = self._soap(
            "rtm34",
            "getOperationHistory",
            OperationHistoryRequest={"Barcode": number, "MessageType": 0, "Language": "RUS"},
            AuthorizationHeader={"login": login, "password": password},
        )
        events = []
        for rec in records or []:
            op = rec["OperationParameters"]
            if op is None or op["OperType"] is None or op["OperDate"] is None:
                continue
            addr = rec["AddressParameters"]["OperationAddress"] if rec["AddressParameters"] else None
            t, a = int(op["OperType"]["Id"]), op["OperAttr"]["Id"] if op["OperAttr"] else 0
            names = [op["OperType"]["Name"] or "", (op["OperAttr"]["Name"] if op["OperAttr"] else "") or ""]
            when = op["OperDate"]
            if when.tzinfo is None:
                when = when.replace(tzinfo=MSK)
            events.append(
                self._event(
                    number,
                    when,
                    t,
                    int(a or 0),
                    ": ".join(n for n in names if n),
                    str(addr["Index"] or "") if addr else "",
                    str(addr["Description"] or "") if addr else "",
                    raw=zeep.helpers.serialize_object(rec, dict),
                )
            )
        return timing.events_not_ahead(events, carrier=self.code)

    def cod_events(self, number: str) -> list[CodEvent]:
        """``PostalOrderEventsForMail``: what happened to the parcel's cash-on-delivery transfer."""
        login, password = self._tracking_auth()
        output = self._soap(
            "rtm34",
            "PostalOrderEventsForMail",
            PostalOrderEventsForMailInput={"Barcode": number, "Language": "RUS"},
            AuthorizationHeader={"login": login, "password": password},
        )
        events = []
        # zeep unwraps the one-child output: the list of PostalOrderEvent itself, or None when empty
        items = output if isinstance(output, list) else (output["PostalOrderEvent"] if output else None)
        for ev in items or []:
            when = ev["EventDateTime"]
            if when is None:
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=MSK)
            events.append(
                CodEvent(
                    tracking_number=number,
                    transfer_number=str(ev["Number"] or ""),
                    occurred_at=when.astimezone(UTC),
                    event_type=int(ev["EventType"] or 0),
                    event_name=str(ev["EventName"] or ""),
                    amount=rubles(ev["SumPaymentForward"]),
                    office_index=str(ev["IndexEvent"] or ""),
                )
            )
        return events

    def request_ticket(self, numbers: list[str]) -> str:
        """``getTicket`` for up to 3000 numbers; returns the ticket. The request is written
        directly (one attribute per number): zeep's object mapping of 3000 items costs more
        than the call itself."""
        if len(numbers) > self.track_batch_size:
            raise CarrierError(f"Не больше {self.track_batch_size} номеров в одном билете", code="too_many")
        login, password = self._tracking_auth()
        items = "".join(f"<ns1:Item Barcode={quoteattr(n)}/>" for n in numbers)
        body = (
            f'<ns0:ticketRequest xmlns:ns0="{PS_NS}"><ns0:request xmlns:ns1="{FC_NS}">{items}'
            f"</ns0:request><ns0:login>{escape(login)}</ns0:login>"
            f"<ns0:password>{escape(password)}</ns0:password><ns0:language>RUS</ns0:language>"
            "</ns0:ticketRequest>"
        )
        return cast(str, self._soap("fc", "getTicket", fast=self._parse_ticket_value, raw_body=body))

    @classmethod
    def _parse_ticket_value(cls, root: Any) -> str:
        reply = root.find(f".//{{{PS_NS}}}ticketResponse")
        if reply is None:
            raise CarrierError("Сервис отслеживания вернул ответ без ticketResponse", code="bad_response")
        error = reply.find(f"{{{PS_NS}}}error")
        if error is not None:
            raise cls._fc_error(
                {"ErrorTypeID": error.get("ErrorTypeID"), "ErrorName": error.get("ErrorName")}
            )
        value = (reply.findtext(f"{{{PS_NS}}}value") or "").strip()
        if not value:
            raise CarrierError(
                "Сервис отслеживания не выдал номер билета", code="bad_response", transient=True
            )
        return value

    @staticmethod
    def _fc_error(error: Any) -> CarrierError:
        type_id, name = int(error["ErrorTypeID"] or 0), str(error["ErrorName"] or "")
        if type_id == 17:
            return TicketExpired(f"Сервис отслеживания больше не хранит ответ по билету: {name}")
        if type_id == 3:
            return AuthenticationFailed(f"Сервис отслеживания отклонил логин или пароль: {name}", code="3")
        return CarrierError(
            f"Сервис отслеживания: {name} (код {type_id})", code=str(type_id), transient=type_id in (6, 16)
        )

    def fetch_ticket(self, ticket: str) -> TrackResult | None:
        """``getResponseByTicket``; ``None`` while the answer is not ready (error 6)."""
        login, password = self._tracking_auth()
        return cast(
            "TrackResult | None",
            self._soap(
                "fc",
                "getResponseByTicket",
                fast=self.parse_ticket_answer,
                ticket=ticket,
                login=login,
                password=password,
            ),
        )

    @classmethod
    def parse_ticket_answer(cls, root: Any) -> TrackResult | None:
        """The ``answerByTicketResponse`` (attributes only, up to 3000 items, ~18,000 operations)
        read with lxml directly: zeep's object mapping costs more than the network for answers
        this size. The few distinct operation codes are mapped once per answer."""
        answer = root.find(f".//{{{PS_NS}}}answerByTicketResponse")
        if answer is None:
            raise CarrierError(
                "Сервис отслеживания вернул ответ без answerByTicketResponse", code="bad_response"
            )
        error = answer.find(f"{{{PS_NS}}}error")
        if error is not None:
            if error.get("ErrorTypeID") == "6":
                return None
            raise cls._fc_error(
                {"ErrorTypeID": error.get("ErrorTypeID"), "ErrorName": error.get("ErrorName")}
            )
        events: list[TrackingEvent] = []
        errors: dict[str, str] = {}
        codes: dict[tuple[str | None, str | None], tuple[str, Any, str, int | None]] = {}
        error_tag = f"{{{FC_NS}}}Error"
        for item in answer.iter(f"{{{FC_NS}}}Item"):
            number = item.get("Barcode") or ""
            for child in item:
                attrs = dict(child.items())
                if child.tag == error_tag:
                    errors[number] = attrs.get("ErrorName") or f"Ошибка {attrs.get('ErrorTypeID')}"
                    continue
                key = (attrs.get("OperTypeID"), attrs.get("OperCtgID"))
                code = codes.get(key)
                stamp = attrs.get("DateOper") or ""
                try:  # dd.MM.yyyy HH:mm:ss, Moscow time
                    when = datetime(
                        int(stamp[6:10]),
                        int(stamp[3:5]),
                        int(stamp[0:2]),
                        int(stamp[11:13]),
                        int(stamp[14:16]),
                        int(stamp[17:19]),
                        tzinfo=UTC,
                    ) - MSK_OFFSET
                    if code is None:
                        code = codes[key] = cls._code(int(key[0] or 0), int(key[1] or 0))
                except ValueError:
                    errors[number] = f"Неверная операция в ответе: {attrs}"
                    continue
                raw, mapped, name, left = code
                if mapped is None:
                    log.warning("russian_post: unknown operation %s for %s", raw, number)
                index = attrs.get("IndexOper") or ""
                events.append(
                    TrackingEvent(
                        tracking_number=number,
                        occurred_at=when,
                        raw_code=raw,
                        raw_text=attrs.get("OperName") or name,
                        status=mapped[0] if mapped else None,
                        substatus=mapped[1] if mapped else "",
                        location=index,
                        office_index=index,
                        raw=attrs,
                        # "N days left" counted from the operation's own (Moscow) date
                        storage_until=None if left is None else (
                            (when + MSK_OFFSET).date() + timedelta(days=left)),
                    )
                )
        return TrackResult(events=tuple(events), errors=errors)

    @staticmethod
    def _code(t: int, a: int) -> tuple[str, Any, str, int | None]:
        """An operation's raw code, our (status, substatus) or None, its name and the days
        of storage it says are left (None: it says nothing of storage)."""
        return raw_code(t, a), map_operation(t, a), operation_name(t, a), DAYS_LEFT.get((t, a))

    def tracks_by_ticket(self) -> bool:
        return self.settings.get("tracking_mode") != "single"

    def track_request(self, tracking_numbers: list[str]) -> TrackTicket:
        """``getTicket``: the answer may be fetched ``ticket_first_fetch_after`` seconds later
        (the real service: not before 15 minutes, then at most every 15 minutes, kept 32 h)."""
        valid: list[str] = []
        errors: dict[str, str] = {}
        for n in tracking_numbers:
            if barcodes.is_valid(n):
                valid.append(n.strip().upper())
            else:
                errors[n] = "Неверный формат номера Почты России (14 цифр или S10)"
        return TrackTicket(
            ticket=self.request_ticket(valid) if valid else "",
            numbers=tuple(valid),
            first_fetch_after=timedelta(seconds=float(self.settings.get("ticket_first_fetch_after", 900))),
            fetch_interval=timedelta(seconds=float(self.settings.get("ticket_fetch_interval", 900))),
            keep_for=TICKET_KEPT,
            errors=errors,
        )

    def track_fetch(self, ticket: str) -> TrackResult | None:
        answer = self.fetch_ticket(ticket)
        return None if answer is None else timing.result_not_ahead(answer, carrier=self.code)

    def track(self, tracking_numbers: list[str]) -> TrackResult:
        valid = [n.strip().upper() for n in tracking_numbers if barcodes.is_valid(n)]
        errors = {
            n: "Неверный формат номера Почты России (14 цифр или S10)"
            for n in tracking_numbers
            if not barcodes.is_valid(n)
        }
        if not valid:
            return TrackResult(errors=errors)
        if self.settings.get("tracking_mode") == "single":
            events: list[TrackingEvent] = []
            for i, number in enumerate(valid):
                try:
                    events.extend(self.track_single(number))
                except RateLimited as exc:
                    if i == 0:
                        raise  # nothing fetched: the caller backs off
                    errors.update({n: str(exc) for n in valid[i:]})  # keep what was fetched
                    break
                except CarrierError as exc:
                    if exc.code != "soap_fault":
                        raise
                    errors[number] = str(exc)
            return TrackResult(events=tuple(events), errors=errors)
        all_events: list[TrackingEvent] = []
        interval = float(self.settings.get("ticket_poll_interval", 2))
        attempts = int(self.settings.get("ticket_poll_attempts", 5))
        for start in range(0, len(valid), self.track_batch_size):
            chunk = valid[start : start + self.track_batch_size]
            ticket = self.request_ticket(chunk)
            result = None
            for attempt in range(attempts):
                result = self.fetch_ticket(ticket)
                if result is not None:
                    break
                if attempt + 1 < attempts:
                    time.sleep(interval)
            if result is None:
                errors.update({n: f"Ответ по билету {ticket} ещё не готов" for n in chunk})
                continue
            all_events.extend(result.events)
            errors.update(result.errors)
        out = TrackResult(events=tuple(all_events), errors=errors)
        return timing.result_not_ahead(out, carrier=self.code)


OFFICE_KINDS: dict[str, str] = {
    "ГОПС": "Отделение Почты России",
    "СОПС": "Отделение Почты России",
    "ПОЧТАМТ": "Почтамт",
    "ПОЧТОМАТ": "Почтомат",
    "АПС": "Почтомат",
    "ПВЗ": "Пункт выдачи",
}
LOCKER_KINDS = frozenset({"ПОЧТОМАТ", "АПС"})
WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


def _hhmm(value: Any) -> str:
    """``08:00:00.000`` (as the service sends times) → ``08:00``."""
    text = str(value or "")
    return text[:5] if len(text) >= 5 and text[2] == ":" else text


def office_hours(rows: Any) -> str:
    """An office's ``working-hours`` (one entry per working day: ``weekday-id`` 1 = Monday,
    ``begin-worktime``/``end-worktime``, ``lunches``) in a few words, days with the same hours
    joined: «пн–пт 08:00–20:00 (перерыв 13:00–14:00), сб 09:00–18:00, вс выходной». A day
    the service does not list, or lists without times, is a day off. "" when none is listed."""
    if not isinstance(rows, list) or not rows:
        return ""
    day_hours: list[str] = ["выходной"] * 7
    for row in rows:
        if not isinstance(row, dict):
            continue
        try:
            day = int(row.get("weekday-id") or 0)
        except (TypeError, ValueError):
            continue
        begin, end = _hhmm(row.get("begin-worktime")), _hhmm(row.get("end-worktime"))
        if not 1 <= day <= 7 or not begin or not end:
            continue
        text = f"{begin}–{end}"
        breaks = [f"{_hhmm(b.get('begin-lunchtime'))}–{_hhmm(b.get('end-lunchtime'))}"
                  for b in row.get("lunches") or [] if isinstance(b, dict)
                  and b.get("begin-lunchtime") and b.get("end-lunchtime")]
        if breaks:
            text += f" (перерыв {', '.join(breaks)})"
        day_hours[day - 1] = text
    if all(h == "выходной" for h in day_hours):
        return ""
    groups: list[tuple[int, int, str]] = []  # first day, last day, hours
    for day, text in enumerate(day_hours):
        if groups and groups[-1][2] == text:
            groups[-1] = (groups[-1][0], day, text)
        else:
            groups.append((day, day, text))
    return ", ".join(
        (WEEKDAYS[a] if a == b else f"{WEEKDAYS[a]}–{WEEKDAYS[b]}") + f" {text}"
        for a, b, text in groups
    )


def _coordinate(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _address_line(address: Address) -> str:
    """An address as the one line /1.0/clean/address reads."""
    if address.raw and not address.city:
        return address.raw if not address.index or address.index in address.raw else (
            f"{address.index}, {address.raw}")
    parts = (address.index, address.region, address.district, address.city, address.street,
             address.house, address.building, address.apartment)
    return ", ".join(p for p in parts if p) or address.raw


def _html_error(what: str, response: httpx.Response) -> CarrierError:
    """An HTML page where an API answer was expected: a proxy or maintenance page, retry later."""
    return CarrierError(
        f"{what} (HTTP {response.status_code})",
        code="bad_response",
        transient=True,
        status=response.status_code,
    )


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files:
            zf.writestr(name, content)
    return buf.getvalue()
