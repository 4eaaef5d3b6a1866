"""SSRF guard: URLs from feeds, sitemaps, links or the API may only reach public http(s) addresses.

Two checks, both on every request including each redirect hop: ``check_url`` refuses other schemes
and literal private addresses; ``GuardedResolver`` checks every address a host name resolves to at
connection time, so a name that resolves (or re-resolves: DNS rebinding) to an inside address is refused.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")}
"""Cloud instance metadata endpoints (AWS, GCP, Azure; AWS IPv6; Alibaba; ECS tasks)."""


class Forbidden(Exception):
    """A URL the guard refuses to fetch."""


def parse_allow(spec: str) -> list[IPNetwork]:
    """'127.0.0.1, 10.1.0.0/16' -> the networks allowed although not public."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]


def why_forbidden(address: IPAddress) -> str | None:
    """Why an address is off limits (loopback, private, link-local and cloud metadata...), or None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA:
        return "cloud-metadata"
    for reason in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{reason}"):
            return reason.replace("_", "-")
    if not address.is_global:  # shared (100.64/10, where some clouds keep their metadata), documentation...
        return "non-public"
    return None


class Guard:
    """Refuses what is not http(s) to a public address, unless the address is allow-listed."""

    def __init__(self, allow: list[IPNetwork]) -> None:
        self.allow = allow

    def check_address(self, host: str, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
        if any(ip in network for network in self.allow):
            return
        reason = why_forbidden(ip)
        if reason:
            raise Forbidden(f"{host} is {ip}, a {reason} address")

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise Forbidden(f"only http and https may be fetched, not {parts.scheme or 'a relative URL'!r}")
        host = parts.hostname
        if not host:
            raise Forbidden(f"no host in {url!r}")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: GuardedResolver checks what it resolves to, when connecting
        self.check_address(host, host)


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
            self.guard.check_address(host, result["host"])
        return results

    async def close(self) -> None:
        await self._resolver.close()
