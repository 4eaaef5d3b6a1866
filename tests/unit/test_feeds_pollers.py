"""Pollers sharing one fetcher, page path and seen-before store, against a local site on 127.0.0.1.

A page listed by an RSS feed, an Atom feed and two sitemaps is fetched once; a broken feed is
dead-lettered once, not on every poll. The producer is a recording stand-in (the integration tests
use real Kafka).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from newsflow_ingest.feeds import FeedPoller, Poller
from newsflow_ingest.fetch import Fetcher
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.pages import PageIngest
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.sitemaps import SitemapPoller
from newsflow_ingest.sources import PolledSource
from tests.unit.test_ingest_api import RecordingProducer

PAGES = ("/news/1", "/news/2", "/news/3")


def rss(base: str, pub_date: str = "Tue, 05 Mar 2024 09:30:00 GMT") -> str:
    items = "".join(
        f"<item><title>Story {path}</title><link>{base}{path}?utm_source=rss</link><guid>{path}</guid>"
        f"<pubDate>{pub_date}</pubDate></item>"
        for path in PAGES
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'


def atom(base: str) -> str:
    entries = "".join(
        f'<entry><title>Story {path}</title><link href="{base}{path}"/><id>urn:{path}</id>'
        "<updated>2024-03-05T09:30:00Z</updated></entry>"
        for path in PAGES
    )
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>{entries}</feed>'


def sitemap(base: str, news: bool) -> str:
    today = datetime.now(UTC).date().isoformat()
    extra = (
        "<news:news><news:publication><news:name>Wire</news:name><news:language>en</news:language>"
        f"</news:publication><news:publication_date>{today}</news:publication_date><news:title>T</news:title>"
        "</news:news>"
    )
    urls = "".join(
        f"<url><loc>{base}{path}</loc><lastmod>{today}</lastmod>{extra if news else ''}</url>" for path in PAGES
    )
    return (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>'
    )


@dataclass
class Site:
    base: str = ""
    hits: Counter[str] = field(default_factory=Counter)
    feeds: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    etags: dict[str, str] = field(default_factory=dict)

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            self.hits[request.path] += 1
            if request.path == "/robots.txt":
                return web.Response(text="User-agent: *\nDisallow:\n")
            if request.path in self.feeds:
                etag = self.etags.get(request.path)
                if etag and request.headers.get("If-None-Match") == etag:
                    return web.Response(status=304)
                headers = {"ETag": etag} if etag else {}
                return web.Response(body=self.feeds[request.path](), content_type="application/xml", headers=headers)
            await asyncio.sleep(0.05)  # pages take a moment: pollers overlap
            body = f"<html><head><title>{request.path}</title></head><body><p>{request.path}</p></body></html>"
            return web.Response(text=body, content_type="text/html")

        app = web.Application()
        app.router.add_get("/{path:.*}", handle)
        return app


@dataclass
class Ingest:
    site: Site
    settings: IngestSettings
    producer: RecordingProducer
    seen: SeenStore
    fetcher: Fetcher
    pages: PageIngest

    def feed(self, path: str, name: str | None = None) -> FeedPoller:
        config = PolledSource(name=name or path.strip("/").replace("/", "-"), url=self.site.base + path)
        return FeedPoller(config, self.fetcher, self.pages, self.seen)

    def sitemap(self, path: str) -> SitemapPoller:
        config = PolledSource(name=path.strip("/").replace("/", "-"), url=self.site.base + path)
        return SitemapPoller(config, self.fetcher, self.pages, self.seen, timedelta(days=7))

    def sent(self, topic: str = "news.raw.v1") -> list[dict[str, object]]:
        return [value for sent_topic, value in self.producer.sent if sent_topic == topic]


@pytest.fixture
async def ingest(tmp_path: Path) -> AsyncIterator[Ingest]:
    site = Site()
    server = TestServer(site.app(), host="127.0.0.1")
    await server.start_server()
    site.base = f"http://127.0.0.1:{server.port}"
    settings = IngestSettings(fetch_allow="127.0.0.1:*", host_delay_seconds=0.0, fetch_timeout_seconds=5)
    producer = RecordingProducer()
    seen = SeenStore.open(tmp_path)
    fetcher = Fetcher(settings)
    pages = PageIngest(fetcher, Ingestor(settings, producer, seen))  # type: ignore[arg-type]
    yield Ingest(site, settings, producer, seen, fetcher, pages)
    await fetcher.close()
    seen.close()
    await server.close()


def serve_all(ingest: Ingest) -> list[Poller]:
    base = ingest.site.base
    ingest.site.feeds.update(
        {
            "/rss.xml": lambda: rss(base).encode(),
            "/atom.xml": lambda: atom(base).encode(),
            "/sitemap.xml": lambda: sitemap(base, news=False).encode(),
            "/news-sitemap.xml": lambda: sitemap(base, news=True).encode(),
        }
    )
    return [
        ingest.feed("/rss.xml"),
        ingest.feed("/atom.xml"),
        ingest.sitemap("/sitemap.xml"),
        ingest.sitemap("/news-sitemap.xml"),
    ]


async def test_a_page_listed_by_two_feeds_and_two_sitemaps_is_fetched_once(ingest: Ingest) -> None:
    pollers = serve_all(ingest)
    await asyncio.gather(*(poller.poll() for poller in pollers))
    await asyncio.gather(*(poller.poll() for poller in pollers))
    assert {path: ingest.site.hits[path] for path in PAGES} == dict.fromkeys(PAGES, 1)
    assert ingest.site.hits["/robots.txt"] == 1
    assert sorted(str(doc["url"]).split("?")[0] for doc in ingest.sent()) == [ingest.site.base + p for p in PAGES]


async def test_one_after_the_other_too_and_after_a_restart(ingest: Ingest, tmp_path: Path) -> None:
    first, *others = serve_all(ingest)
    await first.poll()
    for poller in others:
        await poller.poll()
    restarted = PageIngest(ingest.fetcher, Ingestor(ingest.settings, ingest.producer, SeenStore.open(tmp_path)))  # type: ignore[arg-type]
    await ingest.feed("/rss.xml", name="rss-again").poll()  # a new source name: its items are new to it
    await FeedPoller(ingest.feed("/atom.xml", "atom-again").config, ingest.fetcher, restarted, ingest.seen).poll()
    assert {path: ingest.site.hits[path] for path in PAGES} == dict.fromkeys(PAGES, 1)
    assert len(ingest.sent()) == 3


async def test_an_updated_item_has_its_page_fetched_again(ingest: Ingest) -> None:
    item_date = {"pub": "Tue, 05 Mar 2024 09:30:00 GMT"}
    ingest.site.feeds["/rss.xml"] = lambda: rss(ingest.site.base, item_date["pub"]).encode()
    poller = ingest.feed("/rss.xml")
    await poller.poll()
    item_date["pub"] = "Tue, 05 Mar 2024 11:00:00 GMT"
    await poller.poll()
    assert {path: ingest.site.hits[path] for path in PAGES} == dict.fromkeys(PAGES, 2)


@pytest.mark.parametrize("etag", [None, '"broken-1"'])
async def test_a_broken_feed_is_dead_lettered_once_not_on_every_poll(ingest: Ingest, etag: str | None) -> None:
    ingest.site.feeds["/broken.xml"] = lambda: b"<html><body>This is no feed</body></html>"
    if etag:
        ingest.site.etags["/broken.xml"] = etag
    poller = ingest.feed("/broken.xml")
    for _ in range(3):
        await poller.poll()
    letters = ingest.sent("news.raw.v1.dlq")
    assert len(letters) == 1
    assert letters[0]["error_kind"] == "not-a-feed"
    ingest.site.feeds["/broken.xml"] = lambda: rss(ingest.site.base).encode()  # fixed: read again
    ingest.site.etags.pop("/broken.xml", None)
    await poller.poll()
    assert len(ingest.sent()) == 3


async def test_a_sitemap_entry_with_a_new_lastmod_has_its_page_fetched_again(ingest: Ingest) -> None:
    lastmod = {"date": datetime.now(UTC).date().isoformat()}
    base = ingest.site.base
    ingest.site.feeds["/sitemap.xml"] = lambda: (
        sitemap(base, news=False).replace(datetime.now(UTC).date().isoformat(), lastmod["date"]).encode()
    )
    poller = ingest.sitemap("/sitemap.xml")
    await poller.poll()
    await poller.poll()
    assert {path: ingest.site.hits[path] for path in PAGES} == dict.fromkeys(PAGES, 1)
    lastmod["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    await poller.poll()
    assert {path: ingest.site.hits[path] for path in PAGES} == dict.fromkeys(PAGES, 2)


LIVE = """<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Update one</title><link>{base}/live#post-1</link><guid>{base}/live#post-1</guid>
  <pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate><description>First update.</description></item>
<item><title>Update two</title><link>{base}/live#post-2</link><guid>{base}/live#post-2</guid>
  <pubDate>Tue, 05 Mar 2024 09:45:00 GMT</pubDate><description>Second update.</description></item>
<item><title>Update three</title><link>{base}/live</link><guid isPermaLink="false">{base}/live#post-3</guid>
  <pubDate>Tue, 05 Mar 2024 09:50:00 GMT</pubDate><description>Third update.</description></item>
<item><title>Council votes</title><guid isPermaLink="false">tag:wire,2024:77</guid>
  <pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate><description>The council voted.</description></item>
<item><guid isPermaLink="false">tag:wire,2024:78</guid></item>
</channel></rss>"""


async def test_posts_of_one_page_and_items_without_a_link_become_articles_of_their_own(ingest: Ingest) -> None:
    ingest.site.feeds["/live.xml"] = lambda: LIVE.format(base=ingest.site.base).encode()
    poller = ingest.feed("/live.xml")
    await poller.poll()
    await poller.poll()
    docs = {doc["hints"]["title"]: doc for doc in ingest.sent()}  # type: ignore[index]
    assert sorted(docs) == ["Council votes", "Update one", "Update three", "Update two"]
    assert ingest.site.hits["/live"] == 0
    posts = (("Update one", "First update."), ("Update two", "Second update."), ("Update three", "Third update."))
    for title, body in (*posts, ("Council votes", None)):
        doc = docs[title]
        assert doc["url"] is None  # its id comes from source + title + date, not a page it shares
        assert str(doc["fetch_error"]).startswith("post:" if body else "no-link:")
        assert doc["body"] == (body or "The council voted.")
    assert docs["Update two"]["metadata"]["link"] == ingest.site.base + "/live#post-2"  # type: ignore[index]
    (letter,) = ingest.sent("news.raw.v1.dlq")
    assert letter["error_kind"] == "no-link"  # nothing to make an article of: a dead letter with the reason
    assert "tag:wire,2024:78" in str(letter["error_message"]) + str(letter["source"])
