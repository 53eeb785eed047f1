"""Requests to addresses users give (carrier base URLs, notification gateways and webhooks,
webhooks out) go to public addresses only, unless the installation allows more.

Server-side request forgery is closed at two points:

* on save, :func:`check_url` refuses an address whose host is, or resolves to, a private,
  loopback, link-local (169.254.169.254, the cloud metadata service), multicast or
  reserved address, with a message that says so;
* on every connection, :class:`GuardedTransport` resolves the host once, checks every
  address it got, and connects to the checked address itself (the Host header and the TLS
  server name stay the host's): a name that resolved to a public address when saved and to
  an internal one now (DNS rebinding) is refused, not followed.

``settings.OUTBOUND_ALLOW`` (``SHIPDESK_OUTBOUND_ALLOW``: comma-separated networks such as
``10.20.0.0/16`` and host names such as ``smtp.internal``) lets an installation reach its
own internal services. Embedded mode allows loopback by default (its sandbox carriers and
SMS emulator listen on 127.0.0.1); scale-out allows nothing by default.
"""

from __future__ import annotations

import contextlib
import ipaddress
import smtplib
import socket
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(ValueError):
    """The address is not one requests may go to (the message says why, in the user's
    language)."""


@lru_cache(maxsize=8)
def _allowance(entries: tuple[str, ...]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for entry in entries:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.rstrip("."))
    return tuple(networks), frozenset(hosts)


def _allowed_entries() -> tuple[str, ...]:
    return tuple(getattr(settings, "OUTBOUND_ALLOW", ()) or ())


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return ip.is_global and not ip.is_multicast


def address_allowed(ip: IPAddress, host: str = "") -> bool:
    """Whether a connection may go to ``ip`` (reached through the name ``host``)."""
    networks, hosts = _allowance(_allowed_entries())
    if host and host.lower().rstrip(".") in hosts:
        return True
    if _public(ip):
        return True
    plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    return any(plain.version == net.version and plain in net for net in networks)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to (a literal address: itself)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in out:
            out.append(ip)
    return out


def _refusal(host: str, ip: IPAddress) -> OutboundRefused:
    return OutboundRefused(_(
        "Адрес %(host)s ведёт во внутреннюю сеть (%(ip)s): запросы на частные, локальные и "
        "служебные адреса запрещены. Укажите публичный адрес или попросите администратора "
        "разрешить его (SHIPDESK_OUTBOUND_ALLOW)") % {"host": host, "ip": ip})


def checked_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host``, every one of them allowed; else :class:`OutboundRefused`
    (``OSError`` when the name does not resolve)."""
    addresses = resolve(host, port)
    for ip in addresses:
        if not address_allowed(ip, host):
            raise _refusal(host, ip)
    return addresses


def check_host(host: str, port: int) -> None:
    """A host (not a URL: an SMTP server) requests may go to, as :func:`check_url` judges."""
    host = (host or "").strip()
    literal = _literal(host)
    if literal is not None:
        if not address_allowed(literal, host):
            raise _refusal(host, literal)
        return
    with contextlib.suppress(OSError):  # not resolvable now: every connection checks it
        checked_addresses(host, port)


def check_url(url: str, *, resolve_name: bool = True) -> str:
    """The URL, when requests may go to it: http(s), a host, not an internal address (by
    the literal address, and by what the name resolves to now — a name that does not
    resolve yet is let through: every connection checks again). Else
    :class:`OutboundRefused` with the reason."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(_("Нужен адрес вида https://host/…"))
    if parts.username or parts.password:
        raise OutboundRefused(_("Адрес не должен содержать логин и пароль"))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundRefused(_("Неверный порт в адресе")) from exc
    if resolve_name or _literal(parts.hostname) is not None:
        check_host(parts.hostname, port)
    return url


def redact_url(url: str) -> str:
    """The scheme and host of a URL only (its path and query may hold a token)."""
    parts = urlsplit(url or "")
    if not parts.netloc:
        return ""
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, "/…" if parts.path not in ("", "/") or parts.query
                       else parts.path, "", ""))


class GuardedTransport(httpx.HTTPTransport):
    """An HTTP transport that resolves the host once, checks the addresses and connects to
    the first allowed one itself (TLS still verified against the host name): what was
    checked is what is connected to. Refusals raise :class:`httpx.ConnectError` (a
    transport error, handled as the callers handle an unreachable host) whose message
    names the reason."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = checked_addresses(host, port)
        except OutboundRefused as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"{host}: {exc}", request=request) from exc
        ip = addresses[0]
        if _literal(host) is None:
            request.url = url.copy_with(host=str(ip))
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        try:
            return super().handle_request(request)
        finally:
            request.url = url


def guarded_client(*, verify: Any = True, **kwargs: Any) -> httpx.Client:
    """An ``httpx.Client`` whose every connection is checked (see :class:`GuardedTransport`);
    keyword arguments as ``httpx.Client``'s."""
    return httpx.Client(transport=GuardedTransport(verify=verify), **kwargs)



# --- SMTP servers an organization names (its notification e-mail) ------------------------

def _checked_ip(host: str, port: int) -> str:
    try:
        return str(checked_addresses(host, port)[0])
    except OutboundRefused as exc:  # an OSError to smtplib's callers: "cannot connect"
        raise ConnectionRefusedError(str(exc)) from exc


class GuardedSMTP(smtplib.SMTP):
    """Connects to the checked address of the host (STARTTLS still verifies the name)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(_checked_ip(host, port), port, timeout)  # type: ignore[misc]


class GuardedSMTPSSL(smtplib.SMTP_SSL):
    """The same over implicit TLS (the certificate is checked against the host name)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return super()._get_socket(_checked_ip(host, port), port, timeout)  # type: ignore[misc]


class GuardedEmailBackend(SMTPBackend):
    """Django's SMTP backend whose connections go to checked addresses only."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return GuardedSMTPSSL if self.use_ssl else GuardedSMTP
