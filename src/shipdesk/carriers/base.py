"""The carrier interface: typed data in, typed data out. No Django models here.

A carrier is a sub-package of ``shipdesk.carriers`` exposing an ``Adapter`` subclass of
:class:`CarrierAdapter`; the core finds it through :mod:`shipdesk.carriers.registry` and
never branches on its name. Money is ``Decimal`` rubles, weights grams, sizes centimetres;
each adapter converts to its carrier's units at the edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Self

import httpx

from shipdesk.tracking.statuses import Status


class Capability(enum.StrEnum):
    RATE = "rate"
    CREATE = "create"
    CANCEL = "cancel"
    LABELS = "labels"
    BATCHES = "batches"  # groups parcels into a hand-over batch on the carrier's side
    TRACK = "track"
    TRACK_SINGLE = "track_single"  # one number answered within the call (besides batches)
    WEBHOOKS = "webhooks"
    PAYOUT_REPORTS = "payout_reports"
    PICKUP_POINTS = "pickup_points"
    COURIER_PICKUP = "courier_pickup"  # a courier ordered to collect parcels from the sender
    # Parcels carry numbers from the sender's own ranges (pools), issued before registration;
    # a carrier without it gives each parcel its number when it is registered. Whether the
    # ranges themselves can be asked for through the API: ``allot_numbers`` is implemented.
    NUMBER_POOL = "number_pool"
    NORMALIZE_ADDRESS = "normalize_address"


@dataclass(frozen=True)
class Address:
    index: str = ""
    region: str = ""
    district: str = ""
    city: str = ""
    street: str = ""
    house: str = ""
    building: str = ""
    apartment: str = ""
    country: str = "RU"  # ISO 3166-1 alpha-2
    raw: str = ""  # the address as one line, when it was not split


@dataclass(frozen=True)
class Party:
    name: str
    phone: str = ""  # E.164
    email: str = ""
    company: str = ""
    address: Address = field(default_factory=Address)
    pickup_point: str = ""  # the carrier's pickup point / locker code, when not to the door


@dataclass(frozen=True)
class Item:
    name: str
    quantity: int
    unit_price: Decimal
    weight_g: int = 0
    article: str = ""
    vat_rate: int | None = None  # percent; None = without VAT
    hs_code: str = ""
    origin_country: str = ""


@dataclass(frozen=True)
class ParcelRequest:
    """A parcel to create at the carrier (or to rate when ``reference`` is empty)."""

    reference: str  # our shipment id / the shop's order number: echoes back in results
    service_code: str  # the carrier's mail type / tariff code
    sender: Party
    recipient: Party
    weight_g: int
    length_cm: int = 0
    width_cm: int = 0
    height_cm: int = 0
    declared_value: Decimal = Decimal("0")
    cod_amount: Decimal = Decimal("0")
    items: tuple[Item, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)  # fragile, sms_notice, inventory...
    tracking_number: str = ""  # when issued from our own pool
    comment: str = ""


@dataclass(frozen=True)
class ChargeLine:
    name: str
    # Rubles. A quote's lines add up to its total exactly: VAT is either inside each line
    # or a line of its own, never both; see ``shipdesk.carriers.charges``.
    amount: Decimal


@dataclass(frozen=True)
class RateQuote:
    service_code: str
    service_name: str
    total: Decimal
    lines: tuple[ChargeLine, ...] = ()
    days_min: int | None = None
    days_max: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemError:
    """A problem with one parcel of a bulk call, pointing at the field when known."""

    reference: str
    message: str
    code: str = ""
    field: str = ""


@dataclass(frozen=True)
class CreatedParcel:
    reference: str
    carrier_id: str  # the carrier's own id of the order
    tracking_number: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CreateResult:
    created: tuple[CreatedParcel, ...] = ()
    errors: tuple[ItemError, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    batch_id: str  # the carrier's batch name/number
    carrier_ids: tuple[str, ...]
    tracking_numbers: dict[str, str] = field(default_factory=dict)  # carrier_id -> number
    errors: tuple[ItemError, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class TrackingEvent:
    """One event as the carrier reported it, with our status beside the raw code."""

    tracking_number: str
    occurred_at: datetime  # aware
    raw_code: str  # e.g. Russian Post "8.2" (type.attribute) or a CDEK status code
    raw_text: str
    status: Status | None  # None: the code is unknown, flag it
    substatus: str = ""
    location: str = ""
    office_index: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    # The carrier's own last day of free storage at the pickup point, when its payload
    # says it (CDEK's "keep_free_until", Russian Post's "N days of storage left"): tracking
    # prefers it to the storage period it would count itself.
    storage_until: date | None = None


@dataclass(frozen=True)
class TrackResult:
    events: tuple[TrackingEvent, ...] = ()
    errors: dict[str, str] = field(default_factory=dict)  # tracking number -> message


@dataclass(frozen=True)
class TrackTicket:
    """A batch tracking request the carrier answers later (Russian Post's ``getTicket``):
    fetch the answer with :meth:`CarrierAdapter.track_fetch` not before ``first_fetch_after``,
    then at most every ``fetch_interval``, until ``keep_for`` after the request. ``ticket`` is
    empty when no number was worth asking (all in ``errors``)."""

    ticket: str
    numbers: tuple[str, ...]  # the numbers asked, as sent
    first_fetch_after: timedelta
    fetch_interval: timedelta
    keep_for: timedelta
    errors: dict[str, str] = field(default_factory=dict)  # refused before asking: number -> why


@dataclass(frozen=True)
class PickupPoint:
    code: str
    name: str
    address: Address
    work_hours: str = ""
    latitude: float | None = None
    longitude: float | None = None
    is_locker: bool = False


@dataclass(frozen=True)
class CourierPickupRequest:
    """A courier asked to come to the sender and collect parcels (CDEK: an "intake")."""

    day: date
    time_from: str  # "HH:MM", local to the address
    time_to: str
    sender: Party  # the contact and the address the courier comes to
    cargo: str  # what is collected, in words
    weight_g: int
    length_cm: int = 0
    width_cm: int = 0
    height_cm: int = 0
    comment: str = ""
    need_call: bool = False


@dataclass(frozen=True)
class CourierPickup:
    """The carrier's courier request as it stands: its number once created, its state
    (the carrier's code and name) and the carrier's words when it refused it."""

    carrier_id: str
    number: str = ""
    state: str = ""
    state_name: str = ""
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PayoutLine:
    """One line of a carrier's cash-on-delivery payout report."""

    tracking_number: str
    order_reference: str
    cod_amount: Decimal
    fee: Decimal
    paid_amount: Decimal
    paid_on: date | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NumberRange:
    """A range of tracking numbers the carrier allotted to the sender."""

    first: str
    last: str
    kind: str  # "rp14" (Russian Post 14-digit) or "s10"


class CarrierError(Exception):
    """The carrier refused or failed. ``transient`` errors may be retried."""

    def __init__(self, message: str, *, code: str = "", transient: bool = False,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient
        self.status = status


class AuthenticationFailed(CarrierError):
    pass


class RateLimited(CarrierError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, code="rate_limited", transient=True, status=429)
        self.retry_after = retry_after


class TicketExpired(CarrierError):
    """The carrier no longer keeps the answer to a tracking ticket: ask for the numbers again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="ticket_expired")


class CarrierAdapter:
    """Base of every adapter. Methods a carrier lacks raise ``NotImplementedError`` and
    are absent from ``capabilities``; the core checks capabilities, never names."""

    code: ClassVar[str]
    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    track_batch_size: ClassVar[int] = 100  # numbers per tracking call
    rate_limit_per_second: ClassVar[float] = 10.0  # default; an account's settings may lower it
    # The account form: (credential key, label, is secret). Secrets are never shown back.
    credential_fields: ClassVar[tuple[tuple[str, str, bool], ...]] = ()
    # Keys of ``credential_fields`` an account may leave empty.
    optional_credentials: ClassVar[frozenset[str]] = frozenset()
    default_base_url: ClassVar[str] = ""
    # Parcels per ``create_parcels`` call the carrier takes (the registration splits by it).
    create_batch_size: ClassVar[int] = 500
    # The carrier gives a parcel its number only when it enters a batch on the carrier's side
    # (Russian Post's Otpravka): the registration then also makes that batch, dated by the
    # drop-off day, so the number is known before the label is printed.
    numbers_at_batch: ClassVar[bool] = False
    # ``Capability.PICKUP_POINTS`` of a carrier with too many offices to list (Russian Post's
    # ~40,000): each is looked up by its code (``pickup_points(index=code)``) when a parcel
    # names it, never all at once by the daily sync.
    pickup_points_on_demand: ClassVar[bool] = False

    def __init__(self, *, credentials: dict[str, Any], base_url: str,
                 settings: dict[str, Any] | None = None, http: httpx.Client | None = None) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.settings = settings or {}
        # The core hands in a client with timeouts, retries, rate limiting, the circuit
        # breaker and request logging already wired (carriers.http); adapters only speak
        # their protocol over it.
        if http is None:  # public addresses only, checked at connect time
            from shipdesk.core.outbound import guarded_client

            http = guarded_client(timeout=httpx.Timeout(10.0, connect=5.0))
            self._owns_http = True
        else:
            self._owns_http = False
        self.http = http

    @classmethod
    def validate_number(cls, number: str) -> str:
        """The carrier's tracking number cleaned up (spaces and dashes dropped, letters
        upper-cased), or ``ValueError`` with a Russian message naming the problem. The
        default takes any number of up to 32 letters and digits; a carrier with a format
        of its own (check digits, a fixed length) overrides it. The core calls it through
        ``shipdesk.numbering.validation.validate_tracking_number``."""
        cleaned = "".join(number.split()).replace("-", "").upper()
        if not cleaned:
            raise ValueError("Трек-номер не указан")
        if len(cleaned) > 32:
            raise ValueError(f"Трек-номер длиннее 32 знаков ({len(cleaned)}): проверьте, "
                             "не вставлено ли что-то лишнее")
        if not (cleaned.isascii() and cleaned.isalnum()):
            raise ValueError(f"Трек-номер «{number.strip()}» должен состоять из латинских "
                             "букв и цифр")
        return cleaned

    def test_connection(self) -> None:
        """Raises :class:`CarrierError` explaining what is wrong, returns if all is well."""
        raise NotImplementedError

    def rate(self, parcel: ParcelRequest) -> list[RateQuote]:
        raise NotImplementedError

    def create_parcels(self, parcels: list[ParcelRequest]) -> CreateResult:
        raise NotImplementedError

    def cancel_parcels(self, carrier_ids: list[str]) -> list[ItemError]:
        raise NotImplementedError

    def registration_check(self, carrier_ids: list[str]) -> CreateResult:
        """For carriers that create asynchronously (CDEK answers 202, then validates): the
        parcels created by now with their numbers, and the ones the carrier refused (by
        ``reference`` = carrier id). Ids in neither are still being processed."""
        raise NotImplementedError

    def normalize_parcels(self, parcels: list[ParcelRequest]) -> list[ParcelRequest]:
        """The parcels with the recipient's address, phone and name in the carrier's own
        normalised form (Russian Post's "clean" services), asked just before they are
        created; the parcels as given when the carrier has no such service."""
        return parcels

    def find_parcels(self, references: list[str]) -> list[CreatedParcel]:
        """The parcels already created at the carrier for our references (the shop's order
        numbers): asked before re-sending a create whose answer was lost, so that a parcel is
        never registered twice."""
        raise NotImplementedError

    def create_batch(self, carrier_ids: list[str], *, shipping_date: date) -> BatchResult:
        raise NotImplementedError

    def close_batch(self, batch_id: str) -> None:
        raise NotImplementedError

    def labels(self, carrier_ids: list[str]) -> Document:
        raise NotImplementedError

    def batch_documents(self, batch_id: str) -> Document:
        raise NotImplementedError

    def track(self, tracking_numbers: list[str]) -> TrackResult:
        raise NotImplementedError

    # Deferred batch tracking, for carriers that answer a batch later (tickets). The poller
    # uses this pair instead of ``track`` when ``tracks_by_ticket()`` is true.
    def tracks_by_ticket(self) -> bool:
        return False

    def track_request(self, tracking_numbers: list[str]) -> TrackTicket:
        """Asks for up to ``track_batch_size`` numbers; the answer comes later."""
        raise NotImplementedError

    def track_single(self, number: str) -> list[TrackingEvent]:
        """One number's whole history within the call (``Capability.TRACK_SINGLE``): a
        manual "refresh now" of a carrier whose batches are answered later uses it."""
        raise NotImplementedError

    def track_fetch(self, ticket: str) -> TrackResult | None:
        """The answer to a ticket, or ``None`` while it is not ready. Raises
        :class:`TicketExpired` when the carrier no longer has it."""
        raise NotImplementedError

    def close(self) -> None:
        """Releases the HTTP connections of a client the adapter made itself. A client handed
        in (the registry's per-process pool) stays open for the account's next adapter."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def subscribe_webhooks(self, url: str) -> None:
        """Asks the carrier to post events for this account to ``url``."""
        raise NotImplementedError

    def parse_webhook(self, headers: dict[str, str], body: bytes) -> list[TrackingEvent]:
        raise NotImplementedError

    def pickup_points(self, *, city: str = "", index: str = "") -> list[PickupPoint]:
        """The carrier's points in a city or at a postal index. A carrier whose points are
        ``pickup_points_on_demand`` answers ``index`` with the office of that code, if any."""
        raise NotImplementedError

    def allot_numbers(self, count: int) -> list[NumberRange]:
        raise NotImplementedError

    def courier_pickup_create(self, request: CourierPickupRequest) -> CourierPickup:
        """Orders a courier (``Capability.COURIER_PICKUP``); a refusal raises CarrierError."""
        raise NotImplementedError

    def courier_pickup_get(self, carrier_id: str) -> CourierPickup:
        raise NotImplementedError

    def courier_pickup_cancel(self, carrier_id: str) -> None:
        raise NotImplementedError

    @classmethod
    def recognizes_payout_report(cls, filename: str, head: bytes) -> bool:
        return False

    @classmethod
    def parse_payout_report(cls, filename: str, content: bytes) -> list[PayoutLine]:
        raise NotImplementedError
