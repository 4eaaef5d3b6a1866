"""SSRF guard: URLs from feeds, sitemaps, links or the API may only reach public http(s) addresses.

The check is the connection. A URL is parsed the way the HTTP client parses it (yarl: IDNA/UTS-46,
so full-width digits, ideographic full stops and circled digits become ASCII), and a host that the
system resolver would read as an IPv4 address (decimal, octal, hex, short forms, a trailing dot) is
read as that address. Then three gates, on every hop of every request:

- ``check_url`` refuses other schemes, malformed URLs and literal inside addresses, with the reason;
- the connector's resolver refuses a name when any of its addresses is inside (DNS rebinding too);
- the connector's socket factory refuses to open a socket towards an address the guard does not admit,
  so the address connected to is always one that was checked, whatever path aiohttp took to it.

``NEWSFLOW_FETCH_ALLOW`` admits inside addresses by port: ``127.0.0.1:8080``, ``10.0.0.0/8:443``,
``[::1]:8080``, ``feeds.internal:8080`` (a name: the addresses it resolves to at start), or ``ADDRESS:*``
for every port, said explicitly.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")}
"""Cloud instance metadata endpoints (AWS, GCP, Azure; AWS IPv6; Alibaba; ECS tasks)."""
HOST_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$")
"""A host name as it goes on the wire (after IDNA): letters, digits, '-', '_' (seen in the wild), dots."""
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$")
"""What inet_aton (so getaddrinfo) reads as an IPv4 address: 2130706433, 0x7f.1, 0177.0.0.1, 127.1..."""
ALLOW_ENTRY = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:\[\]]+)):(?P<port>\d{1,5}|\*)$")


class Forbidden(OSError):
    """A URL or an address the guard refuses; ``kind`` is the reason counted.

    An OSError so that, raised in the resolver or the socket factory, aiohttp hands it back inside
    its connection error rather than losing it.
    """

    kind = "ssrf"


class NotAUrl(Forbidden):
    """An identifier that is not a web address (urn:, tag:, mailto:...): nothing to fetch, not an attack."""

    kind = "not-a-url"


class MalformedUrl(Forbidden):
    """A URL the client cannot parse or connect to as written."""

    kind = "malformed-url"


@dataclass(frozen=True)
class Allowed:
    """Inside addresses fetches may reach anyway, on one port (None: every port, written ``*``)."""

    network: IPNetwork
    port: int | None

    def admits(self, address: IPAddress, port: int | None) -> bool:
        return address in self.network and (self.port is None or self.port == port)


def parse_allow(spec: str) -> list[Allowed]:
    """'127.0.0.1:8080, 10.0.0.0/8:443, [::1]:*' -> what is allowed although not public.

    Raises ValueError for an entry without a port: allowing one local feed must not allow every local service.
    """
    allowed = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        match = ALLOW_ENTRY.match(entry)
        if match is None:
            raise ValueError(
                f"NEWSFLOW_FETCH_ALLOW entry {entry!r}: write ADDRESS:PORT or NETWORK:PORT "
                f"(e.g. {entry.strip('[]')}:PORT, [::1]:8080, or {entry.strip('[]')}:* for every port)"
            )
        port = None if match["port"] == "*" else int(match["port"])
        allowed += [Allowed(network, port) for network in _networks(match["v6"] or match["v4"])]
    return allowed


def _networks(host: str) -> list[IPNetwork]:
    """An address or network as written; a name (a compose service, 'localhost') as its addresses, resolved now."""
    try:
        return [ipaddress.ip_network(host, strict=False)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise ValueError(
            f"NEWSFLOW_FETCH_ALLOW entry {host!r} is neither an address, a network nor a name that resolves"
        ) from exc
    return sorted({ipaddress.ip_network(str(info[4][0]).split("%", 1)[0]) for info in infos}, key=str)


def why_forbidden(address: IPAddress) -> str | None:
    """Why an address is off limits (loopback, private, link-local and cloud metadata...), or None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA:
        return "cloud-metadata"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"  # fec0::/10: deprecated, still routed inside some networks
    for reason in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{reason}"):
            return reason.replace("_", "-")
    if not address.is_global:  # shared (100.64/10, where some clouds keep their metadata), documentation...
        return "non-public"
    return None


def parse_url(url: str) -> URL:
    """The URL as the HTTP client will read it; raises NotAUrl or MalformedUrl saying why it cannot be fetched."""
    try:
        parsed = URL(url)
        host = parsed.host  # decodes IDNA: an invalid label raises here
    except (ValueError, UnicodeError, TypeError) as exc:
        raise MalformedUrl(f"malformed URL {url[:200]!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise NotAUrl(f"{url[:200]!r} is not an http(s) URL ({parsed.scheme or 'no scheme'})")
    raw_host = parsed.raw_host
    if not host or not raw_host:
        raise MalformedUrl(f"no host in {url[:200]!r}")
    if literal_address(raw_host) is None and not HOST_NAME.match(raw_host):
        raise MalformedUrl(f"{raw_host[:100]!r} is not a host name or an address")
    return parsed


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, in any spelling the resolver accepts; else None."""
    bare = host.split("%", 1)[0].strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not LEGACY_IPV4.match(bare):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


class Guard:
    """Refuses what is not http(s) to a public address, unless the address and port are allow-listed."""

    def __init__(self, allow: list[Allowed]) -> None:
        self.allow = allow

    def check_address(self, host: str, address: str | IPAddress, port: int | None) -> None:
        """Raises Forbidden unless a connection to ``address``:``port`` may be made."""
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])  # drop an IPv6 zone id
        if any(allowed.admits(ip, port) for allowed in self.allow):
            return
        reason = why_forbidden(ip)
        if reason:
            raise Forbidden(f"{host} is {ip}, a {reason} address (port {port})")

    def check_url(self, url: str) -> URL:
        """The parsed URL to request, once its scheme, form and any literal address passed."""
        parsed = parse_url(url)
        assert parsed.raw_host is not None  # parse_url refuses a URL without a host
        address = literal_address(parsed.raw_host)
        if address is not None:
            self.check_address(parsed.raw_host, address, parsed.port)
        return parsed

    def open_socket(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's socket factory: the last gate, on the very address about to be connected to."""
        family, type_, proto, _, sockaddr = addr_info
        self.check_address(str(sockaddr[0]), str(sockaddr[0]), int(sockaddr[1]))
        return socket.socket(family=family, type=type_, proto=proto)

    def connector(self, **options: Any) -> aiohttp.TCPConnector:
        """A connector whose every connection, on every hop, passes the guard."""
        return aiohttp.TCPConnector(resolver=GuardedResolver(self), socket_factory=self.open_socket, **options)


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name when any of its addresses is forbidden."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            self.guard.check_address(host, result["host"], port)
        return results

    async def close(self) -> None:
        await self._resolver.close()


def forbidden_in(error: BaseException) -> Forbidden | None:
    """The guard's refusal inside an aiohttp connection error, if that is what stopped it."""
    for cause in (error, getattr(error, "os_error", None), error.__cause__):
        if isinstance(cause, Forbidden):
            return cause
    return None
