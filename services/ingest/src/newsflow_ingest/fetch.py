"""The async HTTP client every fetched URL goes through: guarded, polite, bounded.

SSRF guard on every hop, robots.txt, a per-host concurrency limit and politeness delay, a timeout,
a cap on redirects and on bytes read, a content-type check, conditional GET, and a few retries with
backoff for what may pass (timeouts, connection errors, 429, 5xx).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp

from newsflow_common.logs import get_logger
from newsflow_common.metrics import RETRIES
from newsflow_common.retry import backoff_delay
from newsflow_ingest.documents import parse_content_type
from newsflow_ingest.robots import Robots
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Forbidden, Guard, forbidden_in, parse_allow

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
XML_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml"}
)
GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip"})
REDIRECTS = {301, 302, 303, 307, 308}

log = get_logger(__name__)


class FetchError(Exception):
    """A URL that could not be fetched; ``kind`` is the reason counted, ``transient`` says a retry may help."""

    def __init__(self, kind: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.transient = transient


@dataclass(frozen=True)
class Page:
    url: str
    """The final URL, after redirects."""
    status: int
    content_type: str
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Host:
    """Politeness towards one host: a bounded number of requests in flight, spaced by a delay."""

    slots: asyncio.Semaphore
    next_start: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Fetcher:
    """Open inside the running loop; ``await fetcher.close()`` at the end."""

    def __init__(self, settings: IngestSettings, service: str = "ingest") -> None:
        self.settings = settings
        self.service = service
        self.guard = Guard(parse_allow(settings.fetch_allow))
        self.session = aiohttp.ClientSession(
            connector=self.guard.connector(limit=100, ttl_dns_cache=60),
            timeout=aiohttp.ClientTimeout(total=settings.fetch_timeout_seconds),
            headers={"User-Agent": settings.user_agent},
        )
        self._hosts: dict[str, Host] = {}
        self.robots = Robots(lambda url: self.get(url, None, robots=False), settings.user_agent)

    async def close(self) -> None:
        await self.session.close()

    async def fetch(
        self, url: str, accept: Collection[str] | None, *, etag: str | None = None, last_modified: str | None = None
    ) -> Page | None:
        """GET ``url``, retrying what may pass; None when a conditional GET says it has not changed."""
        attempt = 0
        while True:
            try:
                return await self.get(url, accept, etag=etag, last_modified=last_modified)
            except FetchError as exc:
                attempt += 1
                if not exc.transient or attempt >= self.settings.fetch_attempts:
                    raise
                RETRIES.labels(self.service, "fetch").inc()
                delay = backoff_delay(attempt, base=0.5, cap=10.0)
                log.warning("fetch retry", url=url, attempt=attempt, delay=round(delay, 2), error=str(exc))
                await asyncio.sleep(delay)

    async def get(
        self,
        url: str,
        accept: Collection[str] | None,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        robots: bool = True,
    ) -> Page | None:
        """One try: follow redirects by hand so every hop is guarded and checked against robots.txt."""
        headers = {
            key: value for key, value in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if value
        }
        for _ in range(self.settings.fetch_max_redirects + 1):
            try:
                self.guard.check_url(url)
            except Forbidden as exc:
                raise FetchError(exc.kind, str(exc)) from exc
            if robots and not await self.robots_allow(url):
                raise FetchError("robots", f"robots.txt of {urlsplit(url).netloc} disallows {url}")
            async with self._polite(url):
                page_or_next = await self._request(url, accept, headers)
            if not isinstance(page_or_next, str):
                return page_or_next
            url = page_or_next
        raise FetchError("redirects", f"more than {self.settings.fetch_max_redirects} redirects, last to {url}")

    async def _request(self, url: str, accept: Collection[str] | None, headers: dict[str, str]) -> Page | str | None:
        """The page, None for 304, or the next URL of a redirect."""
        try:
            async with self.session.get(url, headers=headers, allow_redirects=False) as response:
                if response.status in REDIRECTS and "Location" in response.headers:
                    return _next_hop(url, response.headers["Location"])
                if response.status == 304:
                    return None
                _raise_for_status(url, response.status)
                mime, charset = parse_content_type(response.headers.get("Content-Type"))
                if accept is not None and mime not in accept:
                    raise FetchError("content-type", f"{url} is {mime or 'untyped'}, not one of {sorted(accept)}")
                body = await self._read_capped(url, response)
                return Page(
                    url=url,
                    status=response.status,
                    content_type=mime,
                    charset=charset,
                    body=body,
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                )
        except TimeoutError as exc:
            raise FetchError(
                "timeout", f"{url}: no answer within {self.settings.fetch_timeout_seconds}s", transient=True
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            refused = forbidden_in(exc)  # by the guard's resolver or socket factory, while connecting
            if refused is not None:
                raise FetchError(refused.kind, str(refused)) from exc
            raise FetchError("connection", f"{url}: {exc!r}", transient=True) from exc

    async def _read_capped(self, url: str, response: aiohttp.ClientResponse) -> bytes:
        """The body, decompressed, refused as soon as it passes max_document_bytes."""
        limit = self.settings.max_document_bytes
        if (response.content_length or 0) > limit:
            raise FetchError("too-large", f"{url}: {response.content_length} bytes announced, over {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FetchError("too-large", f"{url}: more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def robots_allow(self, url: str) -> bool:
        """What the host's robots.txt says for our user agent (robots.py); always yes when switched off."""
        return not self.settings.respect_robots or await self.robots.allows(url)

    @asynccontextmanager
    async def _polite(self, url: str) -> AsyncIterator[None]:
        """Take one of the host's slots, then wait until the host's politeness delay has passed."""
        key = urlsplit(url).netloc.lower()
        host = self._hosts.setdefault(key, Host(asyncio.Semaphore(self.settings.host_concurrency)))
        async with host.slots:
            async with host.lock:
                await asyncio.sleep(max(0.0, host.next_start - time.monotonic()))
                host.next_start = time.monotonic() + self.settings.host_delay_seconds
            yield


def _next_hop(url: str, location: str) -> str:
    """Where a redirect leads; the next hop's check_url says what is wrong with it."""
    try:
        return urljoin(url, location)
    except ValueError as exc:  # 'http://[::1/x' does not even join
        raise FetchError("malformed-url", f"{url} redirects to a malformed URL {location[:200]!r}: {exc}") from exc


def _raise_for_status(url: str, status: int) -> None:
    if status == 429 or status >= 500:
        raise FetchError(f"http-{status}", f"{url} answered {status}", transient=True)
    if status >= 300:
        raise FetchError(f"http-{status}", f"{url} answered {status}")
