"""robots.txt: read once per host, matched by RFC 9309 (longest match, `*` and `$`), errors read as the RFC says.

Against a local site on 127.0.0.1 whose robots.txt each test sets (no Kafka needed).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from newsflow_ingest import fetch
from newsflow_ingest.fetch import PAGE_TYPES, Fetcher, FetchError
from newsflow_ingest.settings import IngestSettings

PAGE = b"<html><body><p>A story.</p></body></html>"


@dataclass
class Site:
    robots_status: int = 200
    robots_text: str = ""
    robots_delay: float = 0.0
    hits: Counter[str] = field(default_factory=Counter)
    base: str = ""

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            self.hits[request.path] += 1
            if request.path == "/robots.txt":
                await asyncio.sleep(self.robots_delay)
                return web.Response(status=self.robots_status, text=self.robots_text)
            return web.Response(body=PAGE, content_type="text/html")

        app = web.Application()
        app.router.add_get("/{path:.*}", handle)
        return app


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    served = Site()
    server = TestServer(served.app(), host="127.0.0.1")
    await server.start_server()
    served.base = f"http://127.0.0.1:{server.port}"
    yield served
    await server.close()


@pytest.fixture
async def fetcher(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fetcher]:
    monkeypatch.setattr(fetch, "backoff_delay", lambda *args, **kwargs: 0.0)
    settings = IngestSettings(
        fetch_allow="127.0.0.1:*", fetch_timeout_seconds=0.5, host_delay_seconds=0.0, user_agent="newsflow-test"
    )
    client = Fetcher(settings)
    yield client
    await client.close()


async def allowed(fetcher: Fetcher, url: str) -> bool:
    try:
        await fetcher.fetch(url, PAGE_TYPES)
    except FetchError as exc:
        if exc.kind != "robots":
            raise
        return False
    return True


async def test_many_pollers_at_once_read_a_hosts_robots_txt_once(fetcher: Fetcher, site: Site) -> None:
    site.robots_text = "User-agent: *\nDisallow: /private/\n"
    site.robots_delay = 0.1  # every caller arrives while the first read is in flight
    results = await asyncio.gather(*(allowed(fetcher, f"{site.base}/news/{n}") for n in range(8)))
    assert all(results)
    assert site.hits["/robots.txt"] == 1
    assert not await allowed(fetcher, f"{site.base}/private/x")
    assert site.hits["/robots.txt"] == 1


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/news/public/story", True),  # the longer Allow wins over the shorter Disallow listed first
        ("/news/story", False),
        ("/files/report.pdf", False),  # `*` and `$`
        ("/files/report.pdf.html", True),
        ("/", True),
    ],
)
async def test_rules_match_by_rfc_9309_longest_match_with_wildcards(
    fetcher: Fetcher, site: Site, path: str, expected: bool
) -> None:
    site.robots_text = "User-agent: *\nDisallow: /news/\nAllow: /news/public/\nDisallow: /*.pdf$\n"
    assert await allowed(fetcher, site.base + path) is expected


async def test_our_own_group_is_used_over_the_star_group(fetcher: Fetcher, site: Site) -> None:
    site.robots_text = "User-agent: *\nDisallow: /\n\nUser-agent: newsflow-test\nDisallow: /drafts/\n"
    assert await allowed(fetcher, f"{site.base}/news/a")
    assert not await allowed(fetcher, f"{site.base}/drafts/a")


@pytest.mark.parametrize("status", [401, 403, 404, 410])
async def test_a_robots_txt_answering_4xx_allows_everything(fetcher: Fetcher, site: Site, status: int) -> None:
    site.robots_status = status
    assert await allowed(fetcher, f"{site.base}/news/a")


async def test_a_robots_txt_answering_5xx_disallows_everything_for_a_while(fetcher: Fetcher, site: Site) -> None:
    site.robots_status = 503
    now = [1000.0]
    fetcher.robots.clock = lambda: now[0]
    assert not await allowed(fetcher, f"{site.base}/news/a")
    assert site.hits["/news/a"] == 0
    asked = site.hits["/robots.txt"]
    now[0] += fetcher.robots.error_ttl - 1
    assert not await allowed(fetcher, f"{site.base}/news/b")
    assert site.hits["/robots.txt"] == asked  # remembered, not asked on every page
    site.robots_status, site.robots_text = 200, "User-agent: *\nDisallow:\n"
    now[0] += 2
    assert await allowed(fetcher, f"{site.base}/news/b")  # asked again once the while is over
    assert site.hits["/robots.txt"] == asked + 1


async def test_an_unreachable_robots_txt_disallows_everything(fetcher: Fetcher, site: Site) -> None:
    site.robots_delay = 2.0  # over the fetch timeout
    assert not await allowed(fetcher, f"{site.base}/news/a")
    assert site.hits["/news/a"] == 0


async def test_a_good_robots_txt_is_read_again_after_its_ttl(fetcher: Fetcher, site: Site) -> None:
    now = [1000.0]
    fetcher.robots.clock = lambda: now[0]
    assert await allowed(fetcher, f"{site.base}/news/a")
    site.robots_text = "User-agent: *\nDisallow: /news/\n"
    now[0] += fetcher.robots.ttl + 1
    assert not await allowed(fetcher, f"{site.base}/news/a")
    assert site.hits["/robots.txt"] == 2
