"""The fetcher and the SSRF guard, against a local HTTP server on 127.0.0.1 (no Kafka needed)."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from newsflow_ingest import fetch
from newsflow_ingest.fetch import PAGE_TYPES, Fetcher, FetchError
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Forbidden, Guard, parse_allow, why_forbidden

PAGE = b"<html><head><title>Story</title></head><body><p>A story.</p></body></html>"


def site(hits: dict[str, list[float]]) -> web.Application:
    """A news site with everything that goes wrong on the web."""

    async def record(request: web.Request) -> None:
        hits.setdefault(request.path, []).append(time.monotonic())

    async def page(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    async def slow(request: web.Request) -> web.Response:
        await record(request)
        await asyncio.sleep(5)
        return web.Response(body=PAGE, content_type="text/html")

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()  # no Content-Length: the cap must count the bytes as they come
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"<p>" + b"x" * 65536 + b"</p>")
        return response

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def to_metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_page(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/page")

    async def error(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=500, text="boom")

    async def flaky(request: web.Request) -> web.Response:
        await record(request)
        if len(hits["/flaky"]) < 2:
            return web.Response(status=503, text="try later")
        return web.Response(body=PAGE, content_type="text/html")

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n", content_type="image/png")

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404, text="gone")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /private/\n")

    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=b"<rss/>", content_type="application/rss+xml", headers={"ETag": '"v1"'})

    app = web.Application()
    for path, handler in {
        "/page": page,
        "/private/page": page,
        "/slow": slow,
        "/huge": huge,
        "/loop": loop,
        "/to-metadata": to_metadata,
        "/to-page": to_page,
        "/error": error,
        "/flaky": flaky,
        "/image": image,
        "/missing": missing,
        "/robots.txt": robots,
        "/feed": feed,
    }.items():
        app.router.add_get(path, handler)
    return app


@pytest.fixture
def hits() -> dict[str, list[float]]:
    return {}


@pytest.fixture
async def base(hits: dict[str, list[float]]) -> AsyncIterator[str]:
    server = TestServer(site(hits), host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "backoff_delay", lambda *args, **kwargs: 0.0)


def settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "fetch_allow": "127.0.0.1:*",
        "fetch_timeout_seconds": 0.5,
        "host_delay_seconds": 0.0,
        "max_document_bytes": 1 << 20,
        "fetch_attempts": 3,
        "user_agent": "newsflow-test",
        **overrides,
    }
    return IngestSettings(**values)


@pytest.fixture
async def fetcher(no_backoff: None) -> AsyncIterator[Fetcher]:
    client = Fetcher(settings())
    yield client
    await client.close()


async def failure(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url, PAGE_TYPES)
    return caught.value


# --- the guard -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "cloud-metadata"),
        ("fd00:ec2::254", "cloud-metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "non-public"),  # shared address space (carrier-grade NAT)
        ("::ffff:127.0.0.1", "loopback"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("93.184.215.14", None),
        ("2606:4700::6810:85e5", None),
    ],
)
def test_inside_addresses_are_forbidden_public_ones_are_not(address: str, reason: str | None) -> None:
    assert why_forbidden(ipaddress.ip_address(address)) == reason


def test_only_http_and_https_to_public_or_allow_listed_addresses() -> None:
    guard = Guard(parse_allow("127.0.0.1:*, 10.9.0.0/16:*"))
    guard.check_url("http://127.0.0.1:8080/feed")
    guard.check_url("https://10.9.3.4/page")
    guard.check_url("https://news.example/page")  # a name: checked by the resolver when connecting
    for url in ("file:///etc/passwd", "ftp://news.example/x", "gopher://127.0.0.1/", "http://10.8.0.1/", "/relative"):
        with pytest.raises(Forbidden):
            guard.check_url(url)


async def test_a_host_name_resolving_to_loopback_is_refused_before_connecting(
    base: str, hits: dict[str, list[float]]
) -> None:
    client = Fetcher(settings(fetch_allow=""))
    try:
        error = await failure(client, base.replace("127.0.0.1", "localhost") + "/page")
    finally:
        await client.close()
    assert error.kind == "ssrf"
    assert "loopback" in str(error)
    assert "/page" not in hits


async def test_a_redirect_to_the_metadata_address_is_refused(fetcher: Fetcher, base: str) -> None:
    error = await failure(fetcher, base + "/to-metadata")
    assert error.kind == "ssrf"
    assert "169.254.169.254" in str(error)


# --- the fetcher ---------------------------------------------------------------------------------


async def test_a_page_is_fetched_after_a_redirect_with_its_final_url_and_charset(fetcher: Fetcher, base: str) -> None:
    page = await fetcher.fetch(base + "/to-page", PAGE_TYPES)
    assert page is not None
    assert page.url == base + "/page"
    assert page.body == PAGE
    assert (page.content_type, page.charset) == ("text/html", "utf-8")


async def test_the_user_agent_is_ours(base: str) -> None:
    seen: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request.headers.get("User-Agent", ""))
        return web.Response(body=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/ua", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = Fetcher(settings(user_agent="newsflow-test/1.0 (+https://example.org/bot)"))
    try:
        await client.fetch(f"http://127.0.0.1:{server.port}/ua", PAGE_TYPES)
    finally:
        await client.close()
        await server.close()
    assert seen == ["newsflow-test/1.0 (+https://example.org/bot)"]


@pytest.mark.parametrize(
    ("path", "kind", "transient"),
    [
        ("/loop", "redirects", False),
        ("/huge", "too-large", False),
        ("/image", "content-type", False),
        ("/missing", "http-404", False),
        ("/private/page", "robots", False),
        ("/error", "http-500", True),
        ("/slow", "timeout", True),
    ],
)
async def test_what_cannot_be_fetched_fails_with_a_reason(
    fetcher: Fetcher, base: str, path: str, kind: str, transient: bool
) -> None:
    error = await failure(fetcher, base + path)
    assert (error.kind, error.transient) == (kind, transient)


async def test_5xx_is_tried_again_a_bounded_number_of_times(
    fetcher: Fetcher, base: str, hits: dict[str, list[float]]
) -> None:
    await failure(fetcher, base + "/error")
    assert len(hits["/error"]) == 3  # fetch_attempts


async def test_a_flaky_host_is_retried_until_it_answers(fetcher: Fetcher, base: str) -> None:
    page = await fetcher.fetch(base + "/flaky", PAGE_TYPES)
    assert page is not None
    assert page.body == PAGE


async def test_robots_can_be_switched_off(base: str) -> None:
    client = Fetcher(settings(respect_robots=False))
    try:
        assert await client.fetch(base + "/private/page", PAGE_TYPES) is not None
    finally:
        await client.close()


async def test_conditional_get_answers_none_when_unchanged(fetcher: Fetcher, base: str) -> None:
    first = await fetcher.fetch(base + "/feed", {"application/rss+xml"})
    assert first is not None
    assert first.etag == '"v1"'
    assert await fetcher.fetch(base + "/feed", {"application/rss+xml"}, etag=first.etag) is None


async def test_requests_to_one_host_are_spaced_by_the_politeness_delay(base: str, hits: dict[str, list[float]]) -> None:
    client = Fetcher(settings(host_delay_seconds=0.3, respect_robots=False))
    try:
        await asyncio.gather(*(client.fetch(base + "/page", PAGE_TYPES) for _ in range(3)))
    finally:
        await client.close()
    starts = sorted(hits["/page"])
    assert len(starts) == 3
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(starts))
