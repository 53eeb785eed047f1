"""The gateway interface: typed data in, typed data out, no Django models."""

from __future__ import annotations

import datetime as dt
import functools
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from shipdesk.core.outbound import guarded_client


@dataclass(frozen=True)
class Outgoing:
    key: int  # the outbox row id
    to: str  # e-mail address, or phone digits without "+" (79001234567)
    text: str
    attempt_id: str
    subject: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the gateway said about one message.

    ``ok`` — accepted. Otherwise ``permanent`` (will never succeed: bad number, rejected)
    or a definite transient refusal (retry later). ``uncertain`` — no answer (timeout):
    the gateway may or may not have taken it.
    """

    key: int
    ok: bool
    provider_id: str = ""
    cost: Decimal = Decimal("0")
    error: str = ""
    permanent: bool = False
    uncertain: bool = False


@dataclass(frozen=True)
class DeliveryReport:
    provider_id: str
    # "delivered" | "undelivered" | "pending" | "gone" (the gateway does not know the message
    # (any more): no answer will ever come, polling ends)
    state: str
    cost: Decimal | None = None
    detail: str = ""


class GatewayError(Exception):
    """The whole request failed (auth, balance, unreachable)."""

    def __init__(self, message: str, *, permanent: bool = False, uncertain: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.uncertain = uncertain


# What recovery does with a message whose sender died after handing it over (the gateway
# may or may not have taken it):
RESEND = "resend"  # send again; the receiver drops the repeat (same key / Message-ID)
ASK = "ask"  # ask the gateway whether it has this attempt: mark sent, or send it now
UNKNOWN = "unknown"  # cannot be asked, a repeat would be a second message: flag for a person


class Gateway:
    """A way to hand messages over.

    ``idempotent``: re-sending with the same attempt id cannot produce a second message.
    ``after_crash``: RESEND, ASK (``lookup`` is implemented) or UNKNOWN — see doc.md.
    """

    name = ""
    idempotent = False
    after_crash = UNKNOWN
    parallel = 2  # chunks of one batch handed to this gateway at the same time
    batch_size = 100  # messages in one request
    # messages handed over at once (a chunk's outcome is written as soon as it is back): what
    # a crash can catch in flight is ``parallel`` chunks of this size
    chunk_size = 100
    default_base_url = ""
    concurrency = 8  # one-message requests in flight at once (``send_one``); config may say

    def __init__(self, *, config: dict[str, Any], http: httpx.Client | None = None) -> None:
        self.config = config
        self.base_url = (config.get("base_url") or self.default_base_url).rstrip("/")
        # public addresses only, checked at connect time (core.outbound)
        self.http = http or guarded_client(timeout=httpx.Timeout(float(config.get("timeout", 10)),
                                                                 connect=5.0),
                                           verify=_tls_context())

    def send_many(self, messages: list[Outgoing]) -> list[SendResult]:
        with ThreadPoolExecutor(max_workers=int(self.config.get("concurrency", self.concurrency))) as pool:
            return list(pool.map(self.send_one, messages))

    def send_one(self, message: Outgoing) -> SendResult:
        """For gateways that take one message per request (``send_many`` then sends
        ``concurrency`` of them at a time)."""
        raise NotImplementedError

    def delivery_reports(self, items: list[tuple[str, str]]) -> list[DeliveryReport]:
        """``items``: (provider_id, recipient). Gateways without reports return []."""
        return []

    def lookup(self, messages: list[Outgoing], since: dt.datetime) -> dict[int, str | None]:
        """For gateways that can be asked (``after_crash == ASK``): for each message (by
        ``key``) the gateway's id if it accepted this attempt (handed over at or after
        ``since``), None if it surely did not. Raises GatewayError when it cannot tell."""
        raise NotImplementedError

    def check(self) -> str:
        """Checks the credentials; returns a human line (e.g. the balance)."""
        raise NotImplementedError

    def close(self) -> None:
        self.http.close()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~50 ms, and a gateway
    object (with its HTTP client) is made for every batch."""
    return ssl.create_default_context()


def post_with_retry(http: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """POST, retrying only when the request surely did not reach the server (connect
    errors), so that a retry can never double a message; a read timeout is reported as
    uncertain to the caller."""
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

    try:
        for attempt in Retrying(retry=retry_if_exception_type(httpx.ConnectError),
                                stop=stop_after_attempt(3),
                                wait=wait_exponential(multiplier=0.2, max=2), reraise=True):
            with attempt:
                return http.post(url, **kwargs)
    except httpx.ConnectError as exc:
        raise GatewayError(f"шлюз недоступен: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise GatewayError(f"шлюз не ответил вовремя: {exc}", uncertain=True) from exc
    except httpx.HTTPError as exc:
        raise GatewayError(f"ошибка связи со шлюзом: {exc}", uncertain=True) from exc
    raise AssertionError("unreachable")
