"""The resilient HTTP client every adapter gets (``adapter.http``).

Adapters only speak their protocol; this module wraps the transport under them with:

* timeouts (connect 5 s, read 20 s unless the account's settings say otherwise);
* retries with exponential backoff, only on transient failures (connection errors,
  timeouts, 5xx, 429 honouring ``Retry-After``) and only for requests that are safe to
  repeat: GET/HEAD/OPTIONS/PUT/DELETE, or a POST the adapter marks idempotent with
  ``extensions={"idempotent": True}`` (a tariff calculation, an OAuth token);
* a per-account rate limit shared by every worker through the Django cache (Redis in
  scale-out, the file cache in embedded mode): a fixed one-second window;
* a circuit breaker per account (pybreaker; its state in Redis when scaled out) that
  pauses the account after ``fail_max`` consecutive failed calls;
* a :class:`~shipdesk.carriers.models.CarrierExchange` row per attempt, secrets masked.

Errors reach the adapter as :class:`~shipdesk.carriers.base.CarrierError` (transient when
retrying later may help); answers with an HTTP error status are returned for the adapter
to read the carrier's own error shape.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pybreaker
import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from shipdesk.carriers.base import CarrierError, RateLimited
from shipdesk.core.outbound import GuardedTransport

log = logging.getLogger("shipdesk.carriers.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
MAX_LOGGED_BODY = 20_000
MASK = "***"
SECRET_KEY_RE = re.compile(
    r"(pass(word)?|secret|token|session(id)?|api[_-]?key|private[_-]?key|authorization|cookie|signature)$",
    re.IGNORECASE)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                            "x-api-key", "x-auth-token", "token"})
_TEXT_SECRET_RE = re.compile(
    r"(?P<k>\"?(?:password|secret|token|access_token|client_secret|sessionid|login)\"?\s*[:=]\s*\"?)"
    r"(?P<v>[^\"&,\s<}]+)", re.IGNORECASE)

# The shipment the current requests are made for (set by callers, read when logging).
current_shipment_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "carrier_shipment_id", default=None)


# Set by a caller that asks carriers from worker threads (rate shopping): the exchanges are
# collected here instead of written from those threads, and the caller stores them.
pending_exchanges: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar(
    "carrier_pending_exchanges", default=None)


@contextlib.contextmanager
def for_shipment(shipment_id: int | None) -> Iterator[None]:
    """Requests made inside are logged against this shipment."""
    token = current_shipment_id.set(shipment_id)
    try:
        yield
    finally:
        current_shipment_id.reset(token)


# --- masking -----------------------------------------------------------------------------

def _mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if isinstance(k, str) and SECRET_KEY_RE.search(k) and v not in (None, "")
                    else _mask_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def mask_text(text: str, secrets: Iterator[str] | list[str] | tuple[str, ...] = ()) -> str:
    """Masks secret-looking fields of a JSON, form or free text body, and known values."""
    stripped = text.strip()
    masked: str | None = None
    if stripped[:1] in ("{", "["):
        try:
            masked = json.dumps(_mask_json(json.loads(stripped)), ensure_ascii=False)
        except ValueError:
            masked = None
    if masked is None and "=" in stripped and "\n" not in stripped and " " not in stripped:
        pairs = parse_qsl(stripped, keep_blank_values=True)
        if pairs:
            masked = urlencode([(k, MASK if SECRET_KEY_RE.search(k) else v) for k, v in pairs])
    if masked is None:
        masked = _TEXT_SECRET_RE.sub(lambda m: m.group("k") + MASK, text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            masked = masked.replace(secret, MASK)
    return masked


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def mask_url(url: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    parts = urlsplit(url)
    if parts.query:
        query = urlencode([(k, MASK if SECRET_KEY_RE.search(k) else v)
                           for k, v in parse_qsl(parts.query, keep_blank_values=True)])
        url = urlunsplit(parts._replace(query=query))
    for secret in secrets:
        if secret and len(secret) >= 4:
            url = url.replace(secret, MASK)
    return url


def _body_for_log(content: bytes, content_type: str, secrets: list[str]) -> str:
    if not content:
        return ""
    kind = content_type.split(";")[0].strip().lower()
    textual = (kind.startswith("text/") or "json" in kind or "xml" in kind
               or "x-www-form-urlencoded" in kind or kind == "")
    if not textual:
        return f"<{len(content)} байт {kind}>"
    text = content[: MAX_LOGGED_BODY * 2].decode("utf-8", errors="replace")
    text = mask_text(text, secrets)
    if len(text) > MAX_LOGGED_BODY or len(content) > MAX_LOGGED_BODY * 2:
        text = text[:MAX_LOGGED_BODY] + f"\n… обрезано, всего {len(content)} байт"
    return text


def _secret_values(credentials: Mapping[str, Any]) -> list[str]:
    values: list[str] = []
    for key, value in credentials.items():
        if isinstance(value, str) and SECRET_KEY_RE.search(key):
            values.append(value)
    return values


# --- rate limiting -----------------------------------------------------------------------

class RateLimiter:
    """At most ``per_second`` calls per key in ANY one-second interval, across processes.

    A sliding log of the last n reserved start times (n = the whole calls per second, at
    least 1; a fractional rate such as 0.5/s means 1 call per 2 s): a call may start when
    the n-th latest reserved one started a window ago. A caller reserves its start time
    atomically and sleeps until then, so waiters leave in order, one by one, instead of all
    waking at a window's edge, and a fixed-window count at the carrier (the usual way they
    count) never sees more than the limit. Times are whole microseconds: float sums would
    drift a call into the previous window. Atomic in a Lua script on Redis; elsewhere
    (embedded mode: one machine) under a file lock in the data folder.
    """

    _SCRIPT = """
local n, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local start = tonumber(ARGV[1])
if redis.call('LLEN', KEYS[1]) >= n then
  local oldest = tonumber(redis.call('LINDEX', KEYS[1], -n))
  if oldest + window > start then start = oldest + window end
end
if start - tonumber(ARGV[1]) > tonumber(ARGV[4]) then return start end
redis.call('RPUSH', KEYS[1], start)
redis.call('LTRIM', KEYS[1], -n, -1)
redis.call('PEXPIRE', KEYS[1], math.floor((start - tonumber(ARGV[1]) + window) / 1000) + 1000)
return -start
"""
    _redis_script: Any = None

    def __init__(self, key: str, per_second: float, *, max_wait: float = 30.0) -> None:
        self.key = f"carrier-rl:{key}"
        self.per_second = per_second
        self.max_wait = max_wait
        self.calls = max(1, int(per_second)) if per_second > 0 else 0
        self.window_us = math.ceil(self.calls * 1_000_000 / per_second) if per_second > 0 else 0

    def acquire(self) -> None:
        if self.calls == 0:
            return
        now = round(time.time() * 1_000_000)
        start, reserved = self._reserve(now, round(self.max_wait * 1_000_000))
        if not reserved:
            raise RateLimited("Превышен лимит запросов к перевозчику для этого договора",
                              retry_after=(start - now) / 1_000_000)
        if start > now:
            time.sleep((start - now) / 1_000_000)

    def _reserve(self, now: int, max_wait: int) -> tuple[int, bool]:
        """Reserves the earliest start allowed (µs); (start, False) when it is too far."""
        if settings.REDIS_URL:
            if RateLimiter._redis_script is None:
                client = redis.Redis.from_url(settings.REDIS_URL)
                RateLimiter._redis_script = client.register_script(self._SCRIPT)
            answer = int(RateLimiter._redis_script(
                keys=[cache.make_key(self.key)],
                args=[now, self.calls, self.window_us, max_wait]))
            return abs(answer), answer < 0
        with open(settings.DATA_DIR / "carrier-rate-limit.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            starts: list[int] = cache.get(self.key) or []
            start = now
            if len(starts) >= self.calls:
                start = max(start, starts[-self.calls] + self.window_us)
            if start - now > max_wait:
                return start, False
            cache.set(self.key, [*starts, start][-self.calls:],
                      timeout=(start - now + self.window_us) // 1_000_000 + 1)
            return start, True


# --- circuit breaker ---------------------------------------------------------------------

_breakers: dict[str, pybreaker.CircuitBreaker] = {}
_breakers_lock = threading.Lock()


class _TransientFailure(Exception):
    """Counted by the breaker: the carrier failed (5xx or no answer)."""

    def __init__(self, response: httpx.Response | None, error: BaseException | None) -> None:
        super().__init__(str(error) if error else f"HTTP {response.status_code if response else '?'}")
        self.response = response
        self.error = error


def _breaker_storage(name: str) -> pybreaker.CircuitBreakerStorage:
    redis_url = getattr(settings, "REDIS_URL", None)
    if redis_url:
        import redis

        return pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, redis.Redis.from_url(redis_url),
                                             namespace=f"shipdesk-cb-{name}")
    return pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)


def breaker_for(name: str, *, fail_max: int = 5, reset_timeout: float = 60.0) -> pybreaker.CircuitBreaker:
    with _breakers_lock:
        breaker = _breakers.get(name)
        if breaker is None or breaker.fail_max != fail_max or breaker.reset_timeout != reset_timeout:
            breaker = pybreaker.CircuitBreaker(
                fail_max=fail_max, reset_timeout=reset_timeout, name=name,
                state_storage=_breaker_storage(name), throw_new_error_on_trip=False,
                exclude=[lambda exc: not isinstance(exc, _TransientFailure)])
            _breakers[name] = breaker
        return breaker


# --- the transport -----------------------------------------------------------------------

def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - timezone.now()).total_seconds())


class _Retryable(Exception):
    def __init__(self, response: httpx.Response | None, error: BaseException | None) -> None:
        super().__init__("retryable")
        self.response = response
        self.error = error


def _store_outside(values: dict[str, Any]) -> bool:
    """Stores an exchange row on a short connection of its own (PostgreSQL), committed at once:
    a caller that rolls back (a failed create) keeps the record of what the carrier was asked
    and answered. False when it cannot stand alone — the account or organization it points at
    is not committed yet (created in the caller's transaction) — or the database refuses."""
    import psycopg
    from django.db import connection
    from psycopg.types.json import Jsonb

    from shipdesk.carriers.models import CarrierExchange

    now = timezone.now()
    row = {**values, "created_at": now, "updated_at": now,
           "request_headers": Jsonb(values["request_headers"]),
           "response_headers": Jsonb(values["response_headers"])}
    columns = ", ".join(row)
    sql = (f"INSERT INTO {CarrierExchange._meta.db_table} ({columns}) "  # noqa: S608
           f"VALUES ({', '.join(f'%({k})s' for k in row)})")
    params = {k: v for k, v in connection.get_connection_params().items()
              if k not in ("cursor_factory", "context")}
    try:
        with psycopg.connect(**params, connect_timeout=5) as own:
            own.execute("SET synchronous_commit TO OFF")
            own.execute(sql, row)
    except psycopg.Error as exc:  # e.g. its account is still only in the caller's transaction
        log.debug("carrier exchange kept in the caller's transaction: %s", exc)
        return False
    return True


class ResilientTransport(httpx.BaseTransport):
    """Wraps a real transport with rate limit, retries, circuit breaker and logging."""

    def __init__(self, *, inner: httpx.BaseTransport, account: Any = None, key: str,
                 organization_id: int | None = None, rate_per_second: float = 10.0,
                 max_attempts: int = 4, backoff_base: float = 0.5, backoff_max: float = 10.0,
                 max_retry_after: float = 30.0, fail_max: int = 5, reset_timeout: float = 60.0,
                 secrets: list[str] | None = None, log_exchanges: bool = True) -> None:
        self.inner = inner
        self.account = account
        self.organization_id = organization_id
        self.limiter = RateLimiter(key, rate_per_second)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.breaker = breaker_for(key, fail_max=fail_max, reset_timeout=reset_timeout)
        self.secrets = secrets or []
        self.log_exchanges = log_exchanges

    # one attempt: send, read the whole answer, log it
    def _attempt(self, request: httpx.Request, attempt: int) -> httpx.Response:
        self.limiter.acquire()
        started = time.monotonic()
        try:
            response = self.inner.handle_request(request)
            content = response.read()
        except httpx.TransportError as exc:
            self._log(request, None, None, started, attempt, error=f"{type(exc).__name__}: {exc}")
            raise
        answer = httpx.Response(status_code=response.status_code, headers=response.headers,
                                content=content, request=request, extensions=response.extensions)
        response.close()
        self._log(request, answer, content, started, attempt)
        return answer

    def _log(self, request: httpx.Request, response: httpx.Response | None, content: bytes | None,
             started: float, attempt: int, *, error: str = "") -> None:
        duration = int((time.monotonic() - started) * 1000)
        status = response.status_code if response is not None else None
        log.info("carrier %s %s -> %s in %d ms (attempt %d)", request.method,
                 mask_url(str(request.url), self.secrets), status if status is not None else error,
                 duration, attempt)
        if not self.log_exchanges or self.organization_id is None:
            return
        from django.db import connection, transaction

        from shipdesk.carriers.models import CarrierExchange

        values: dict[str, Any] = {
            "organization_id": self.organization_id,
            "account_id": getattr(self.account, "pk", None),
            "shipment_id": current_shipment_id.get(),
            "method": request.method,
            "url": mask_url(str(request.url), self.secrets)[:1000],
            "status": status,
            "duration_ms": duration,
            "attempt": attempt,
            "request_headers": mask_headers(dict(request.headers)),
            "request_body": _body_for_log(request.content, request.headers.get("content-type", ""),
                                          self.secrets),
            "response_headers": mask_headers(dict(response.headers)) if response is not None else {},
            "response_body": _body_for_log(content or b"", response.headers.get("content-type", "")
                                           if response is not None else "", self.secrets),
            "error": error[:500],
        }
        pending = pending_exchanges.get()
        if pending is not None:
            pending.append(values)
            return
        outer = connection.in_atomic_block  # the caller's transaction: its durability is not ours
        if outer and connection.vendor == "postgresql" and _store_outside(values):
            return
        # Autocommit, SQLite (one writer: a second connection would wait for the caller's
        # transaction), or a row that cannot stand alone yet: in the caller's transaction, so
        # it goes if the caller rolls back (the log line above stays).
        try:
            with transaction.atomic():  # a savepoint inside the caller's: a failed log row breaks nothing
                if connection.vendor == "postgresql" and not outer:
                    # A support log row need not wait for the WAL flush (business rows do).
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                CarrierExchange.objects.create(**values)
        except Exception:  # logging must never break the call itself
            log.exception("could not store a carrier exchange")

    def _is_repeatable(self, request: httpx.Request) -> bool:
        explicit = request.extensions.get("idempotent")
        if explicit is not None:  # the adapter knows better (e.g. a PUT that creates orders)
            return bool(explicit)
        return request.method in IDEMPOTENT_METHODS

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        repeatable = self._is_repeatable(request)
        attempts = {"n": 0}

        def once() -> httpx.Response:
            attempts["n"] += 1
            try:
                response = self._attempt(request, attempts["n"])
            except httpx.TransportError as exc:
                raise _Retryable(None, exc) from exc
            if response.status_code >= 500 or response.status_code == 429:
                raise _Retryable(response, None)
            return response

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retryable) and exc.response is not None and exc.response.status_code == 429:
                after = _retry_after_seconds(exc.response)
                if after is not None:
                    return min(after, self.max_retry_after)
            return float(min(self.backoff_max, self.backoff_base * (2 ** (state.attempt_number - 1))))

        def guarded() -> httpx.Response:
            try:
                for attempt in Retrying(
                    retry=retry_if_exception_type(_Retryable),
                    stop=stop_after_attempt(self.max_attempts if repeatable else 1),
                    wait=wait, reraise=True,
                ):
                    with attempt:
                        return once()
            except _Retryable as final:
                if final.response is not None and final.response.status_code == 429:
                    return final.response  # the carrier works, it only asks us to slow down
                raise _TransientFailure(final.response, final.error) from final.error
            raise AssertionError("unreachable")

        try:
            return self.breaker.call(guarded)
        except pybreaker.CircuitBreakerError as exc:
            raise CarrierError(
                "Перевозчик недоступен: после серии ошибок запросы по договору приостановлены, "
                "повторите позже", code="circuit_open", transient=True) from exc
        except _TransientFailure as failure:
            if failure.response is not None:
                return failure.response  # a 5xx answer: the adapter reads the carrier's error
            error = failure.error
            if isinstance(error, httpx.TimeoutException):
                raise CarrierError(_("Перевозчик не ответил вовремя (%(error)s)") % {
                    "error": type(error).__name__},
                                   code="timeout", transient=True) from error
            raise CarrierError(_("Нет связи с перевозчиком: %(error)s") % {"error": error},
                               code="unavailable",
                               transient=True) from error

    def close(self) -> None:
        self.inner.close()


def build_client(*, key: str, account: Any = None, organization_id: int | None = None,
                 credentials: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                 rate_per_second: float = 10.0, inner: httpx.BaseTransport | None = None,
                 log_exchanges: bool = True) -> httpx.Client:
    """A client with all the protections; ``options`` (an account's settings) may override
    ``timeout``, ``connect_timeout``, ``rate_per_second``, ``max_attempts``,
    ``backoff_base``, ``fail_max``, ``reset_timeout``."""
    opts = dict(options or {})
    transport = ResilientTransport(
        inner=inner or GuardedTransport(),  # public addresses only, checked at connect time
        account=account, key=key, organization_id=organization_id,
        rate_per_second=float(opts.get("rate_per_second", rate_per_second)),
        max_attempts=int(opts.get("max_attempts", 4)),
        backoff_base=float(opts.get("backoff_base", 0.5)),
        fail_max=int(opts.get("fail_max", 5)),
        reset_timeout=float(opts.get("reset_timeout", 60.0)),
        secrets=_secret_values(credentials or {}),
        log_exchanges=log_exchanges,
    )
    timeout = httpx.Timeout(float(opts.get("timeout", 20.0)), connect=float(opts.get("connect_timeout", 5.0)))
    return httpx.Client(transport=transport, timeout=timeout,
                        headers={"User-Agent": "Shipdesk/0.1 (+self-hosted)"})


def client_for_account(account: Any, *, rate_per_second: float = 10.0) -> httpx.Client:
    """The client handed to an account's adapter (``account`` is a ``CarrierAccount``)."""
    # the account's webhook token too: subscribing sends our address, which carries it
    credentials = {**(account.credentials or {}),
                   "webhook_token": getattr(account, "webhook_token", "")}
    return build_client(key=f"account-{account.pk}", account=account,
                        organization_id=account.organization_id, credentials=credentials,
                        options=account.settings, rate_per_second=rate_per_second)
