"""The long-running ingest service on real Kafka: feeds, sitemaps, the push API, news.links.v1, watch mode.

Everything it fetches is served by a local HTTP site on 127.0.0.1 in this test process (the only
address the SSRF guard is told to allow): good pages, a 500, a page robots.txt forbids, an image,
a slow feed, a billion-laughs feed, a sitemap.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import io
import json
import threading
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsflow_schemas import LinkToFetch
from tests.integration.harness import Kafka, Service, free_port, wait_until

pytestmark = pytest.mark.integration

TOKEN = "integration-token"
RUN = uuid.uuid4().hex[:8]
WORLD, SLOW, BOMB, MAP, NEWS_MAP = (f"{name}-{RUN}" for name in ("world", "slow", "bomb", "map", "news-map"))


def page(title: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{title} story.</p></body></html>".encode()
    )


def rss(base: str) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{base}{path}</link><guid>{path}</guid>"
        f"<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate><author>desk@wire.example (Ann Lee)</author>"
        f"<description>Summary of {title}</description></item>"
        for title, path in (
            ("Storm hits coast", "/news/storm"),
            ("Server falls over", "/news/broken"),
            ("Members only", "/private/secret"),
            ("A picture", "/news/image"),
        )
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{items}</channel></rss>'.encode()


BOMB_FEED = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lollollollol">'
    + b"".join(
        f'<!ENTITY {chr(98 + n)} "{f"&{chr(97 + n)};" * 10}">'.encode() for n in range(8)
    )  # 10^8 expansions of 'a'
    + b']><rss version="2.0"><channel><title>&i;</title><item><title>x</title></item></channel></rss>'
)


class Site:
    """The local news site, served from a thread so the test code can stay synchronous."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.hits: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.hits[request.path] += 1
            return await self.respond(request)

        app = web.Application()
        app.router.add_get("/{path:.*}", handle)
        return app

    async def respond(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if path == "/feeds/world.xml":
            if request.headers.get("If-None-Match") == '"world-1"':
                self.not_modified[path] += 1
                return web.Response(status=304)
            return web.Response(body=rss(self.base), content_type="application/rss+xml", headers={"ETag": '"world-1"'})
        if path == "/feeds/slow.xml":
            await asyncio.sleep(30)
        if path == "/feeds/bomb.xml":
            return web.Response(body=BOMB_FEED, content_type="application/rss+xml")
        if path in ("/sitemap.xml", "/news-sitemap.xml"):  # two sitemaps listing the same page
            today = datetime.now(UTC).date().isoformat()
            body = (
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<url><loc>{self.base}/news/mapped</loc><lastmod>{today}</lastmod></url></urlset>"
            )
            return web.Response(text=body, content_type="application/xml")
        if path == "/news/broken":
            return web.Response(status=500, text="down")
        if path == "/news/image":
            return web.Response(body=b"\x89PNG\r\n\x1a\n", content_type="image/png")
        if path.startswith(("/news/", "/private/")):
            return web.Response(body=page(path.rsplit("/", 1)[1]), content_type="text/html", charset="utf-8")
        return web.Response(status=404)

    def start(self) -> None:
        started = threading.Event()

        async def serve() -> None:
            self.runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
            started.set()

        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(serve(), self.loop)
        assert started.wait(10), "the local site did not start"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site()
    served.start()
    yield served
    served.stop()


def ingest_env(service_env: dict[str, str], state: Path, api_port: int) -> dict[str, str]:
    return {
        **service_env,
        "NEWSFLOW_STATE_DIR": str(state),
        "NEWSFLOW_FETCH_ALLOW": "127.0.0.1:*",
        "NEWSFLOW_FETCH_TIMEOUT_SECONDS": "2",
        "NEWSFLOW_FETCH_ATTEMPTS": "2",
        "NEWSFLOW_HOST_DELAY_SECONDS": "0",
        "NEWSFLOW_API_TOKEN": TOKEN,
        "NEWSFLOW_API_HOST": "127.0.0.1",
        "NEWSFLOW_API_PORT": str(api_port),
    }


@pytest.fixture(scope="module")
def ingest(
    site: Site, service_env: dict[str, str], logs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, int, Path]]:
    """newsflow-ingest --feeds --api --links, with its own state folder."""
    folder = tmp_path_factory.mktemp("ingest-sources")
    feeds = folder / "feeds.yaml"
    feeds.write_text(
        json.dumps(
            {
                "feeds": [
                    {"name": WORLD, "url": f"{site.base}/feeds/world.xml", "interval": 1, "section": "World"},
                    {"name": SLOW, "url": f"{site.base}/feeds/slow.xml", "interval": 1},
                    {"name": BOMB, "url": f"{site.base}/feeds/bomb.xml", "interval": 60},
                ],
                "sitemaps": [
                    {"name": MAP, "url": f"{site.base}/sitemap.xml", "interval": 60},
                    {"name": NEWS_MAP, "url": f"{site.base}/news-sitemap.xml", "interval": 60},
                ],
            }
        )  # JSON is YAML
    )
    api_port = free_port()
    env = ingest_env(service_env, folder / "state", api_port)
    argv = ["newsflow-ingest", "--feeds", str(feeds), "--api", "--links"]
    service = Service("ingest-sources", argv, env, logs).start().wait_healthy()
    yield service, api_port, feeds
    service.stop()


def raw(kafka: Kafka, source: str) -> list[dict[str, Any]]:
    return [r["value"] for r in kafka.read("news.raw.v1") if (r["value"] or {}).get("source") == source]


def test_feed_items_arrive_with_their_hints_and_unfetchable_pages_with_their_summary(
    ingest: tuple[Service, int, Path], kafka: Kafka, site: Site
) -> None:
    service, _, _ = ingest
    docs = wait_until(lambda: (found := raw(kafka, WORLD)) and len(found) >= 4 and found, 60, "4 world documents")
    by_url = {doc["url"].replace(site.base, ""): doc for doc in docs}
    assert set(by_url) == {"/news/storm", "/news/broken", "/private/secret", "/news/image"}
    storm = by_url["/news/storm"]
    assert storm["fetch_error"] is None
    assert "<h1>storm</h1>" in storm["body"]
    assert storm["content_type"] == "text/html"
    assert storm["hints"]["title"] == "Storm hits coast"
    assert storm["hints"]["published_at"].startswith("2024-03-05T09:30:00")
    assert storm["hints"]["section"] == "World"
    assert storm["hints"]["authors"] == ["Ann Lee"]  # written `desk@wire.example (Ann Lee)`
    for path, reason in (("/news/broken", "http-500"), ("/private/secret", "robots"), ("/news/image", "content-type")):
        doc = by_url[path]
        assert doc["fetch_error"].startswith(reason), doc["fetch_error"]
        assert doc["body"] == f"Summary of {doc['hints']['title']}"  # sent with its summary, marked so
    assert site.hits["/news/broken"] == 2  # a 5xx is tried again (NEWSFLOW_FETCH_ATTEMPTS), then given up
    assert site.hits["/private/secret"] == 0  # robots.txt is asked first
    assert service.metric("newsflow_ingest_refused_total", source=WORLD, reason="robots") == 1


def test_the_slow_feed_and_the_bomb_feed_do_not_stop_the_others(
    ingest: tuple[Service, int, Path], kafka: Kafka, site: Site
) -> None:
    service, _, _ = ingest
    letters = wait_until(
        lambda: [
            r["value"]
            for r in kafka.read("news.raw.v1.dlq")
            if (r["value"] or {}).get("source") == f"{site.base}/feeds/bomb.xml"
        ],
        60,
        "the bomb feed's dead letter",
    )
    assert letters[0]["error_kind"] == "xml-entities"
    assert service.metric("newsflow_ingest_refused_total", source=BOMB, reason="xml-entities") >= 1
    # The world feed kept being polled meanwhile (conditional GET: 304) while the slow host hangs.
    wait_until(lambda: site.not_modified["/feeds/world.xml"] >= 2, 30, "the world feed to be polled again, with 304")
    wait_until(
        lambda: service.metric("newsflow_ingest_fetches_total", what="feed", outcome="timeout") >= 1,
        30,
        "the slow feed to time out (after its retries)",
    )
    assert raw(kafka, SLOW) == []
    service.assert_running()


def mapped(kafka: Kafka) -> list[dict[str, Any]]:
    return raw(kafka, MAP) + raw(kafka, NEWS_MAP)


def test_a_page_in_two_sitemaps_is_fetched_once_as_is_robots_txt(
    ingest: tuple[Service, int, Path], kafka: Kafka, site: Site
) -> None:
    wait_until(lambda: site.hits["/sitemap.xml"] and site.hits["/news-sitemap.xml"], 60, "both sitemaps polled")
    (doc,) = wait_until(lambda: mapped(kafka), 60, "the sitemaps' page")
    assert doc["url"] == f"{site.base}/news/mapped"
    assert site.hits["/news/mapped"] == 1
    assert site.hits["/robots.txt"] == 1  # one reading for every poller


def test_links_on_news_links_v1_are_fetched_or_dead_lettered(
    ingest: tuple[Service, int, Path], kafka: Kafka, site: Site
) -> None:
    source = f"links-{RUN}"
    now = datetime.now(UTC)
    good = LinkToFetch(trace_id=uuid.uuid4().hex, url=f"{site.base}/news/linked", source=source, found_at=now)
    inside = LinkToFetch(trace_id=uuid.uuid4().hex, url="http://10.0.0.1/admin", source=source, found_at=now)
    kafka.produce("news.links.v1", [good, inside])
    (doc,) = wait_until(lambda: raw(kafka, source), 60, "the linked page")
    assert doc["url"] == good.url
    assert doc["trace_id"] == good.trace_id  # the link's trace carries on
    letter = wait_until(
        lambda: [
            r["value"]
            for r in kafka.read("news.links.v1.dlq")
            if isinstance(r["value"], dict) and r["value"].get("trace_id") == inside.trace_id
        ],
        60,
        "the private link's dead letter",
    )[0]
    assert letter["error_kind"] == "ssrf"
    assert LinkToFetch.model_validate_json(base64.urlsafe_b64decode(letter["original"])).url == inside.url


def post(api_port: int, data: bytes, content_type: str, token: str | None = TOKEN) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(
        f"http://127.0.0.1:{api_port}/v1/documents?source=api-{RUN}", data=data, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_push_api_answers_202_once_kafka_has_the_documents(ingest: tuple[Service, int, Path], kafka: Kafka) -> None:
    _, api_port, _ = ingest
    article = {"url": f"https://news.example/{RUN}", "title": "Pushed", "body": "A pushed story.", "author": "Ann"}
    status, body = post(api_port, json.dumps(article).encode(), "application/json")
    assert status == 202
    (doc,) = raw(kafka, f"api-{RUN}")  # acknowledged before the answer: no waiting needed
    assert doc["doc_id"] == body["ids"][0]
    assert json.loads(doc["body"]) == article
    assert post(api_port, b"{}", "application/json", token=None)[0] == 401
    assert post(api_port, b"{}", "application/json", token="wrong")[0] == 401


def test_after_a_restart_nothing_is_fetched_or_sent_again(
    ingest: tuple[Service, int, Path], kafka: Kafka, site: Site
) -> None:
    service, _, _ = ingest
    wait_until(lambda: len(raw(kafka, WORLD)) >= 4 and mapped(kafka), 60, "the first round")
    service.stop()
    pages_before = {path: site.hits[path] for path in ("/news/storm", "/news/mapped")}
    polls_before = site.not_modified["/feeds/world.xml"]
    service.start().wait_healthy()
    wait_until(lambda: site.not_modified["/feeds/world.xml"] > polls_before, 30, "a conditional poll after the restart")
    assert len(raw(kafka, WORLD)) == 4
    assert len(mapped(kafka)) == 1
    assert {path: site.hits[path] for path in pages_before} == pages_before


# --- watch mode ----------------------------------------------------------------------------------


def warc_gz(url: str, html: bytes) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(html), http_headers=headers))
    return out.getvalue()


def test_watch_mode_takes_every_file_type_once_even_across_a_restart(
    service_env: dict[str, str], logs: Path, kafka: Kafka, tmp_path: Path
) -> None:
    source = f"watch-{RUN}"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = {**service_env, "NEWSFLOW_STATE_DIR": str(tmp_path / "state"), "NEWSFLOW_SOURCE_NAME": source}
    service = Service("ingest-watch", ["newsflow-ingest", "--watch", str(inbox)], env, logs).start().wait_healthy()
    try:
        (inbox / "a.jsonl").write_text('{"title": "One", "body": "First"}\n{"title": "Two", "body": "Second"}\n')
        (inbox / "b.warc.gz").write_bytes(warc_gz("https://news.example/warc", page("archived")))
        (inbox / "c.html.gz").write_bytes(gzip.compress(page("zipped")))
        wait_until(lambda: len(raw(kafka, source)) >= 4, 60, "four documents from three files")
        service.stop()
        service.start().wait_healthy()
        (inbox / "d.txt").write_text("Later\n\nA file dropped after the restart.")
        wait_until(lambda: len(raw(kafka, source)) >= 5, 60, "the new file after the restart")
    finally:
        service.stop()
    docs = raw(kafka, source)
    assert len(docs) == 5, [d["uri"] for d in docs]
    assert sorted(d["content_type"] for d in docs) == [
        "application/json",
        "application/json",
        "text/html",
        "text/html",
        "text/plain",
    ]
    assert any(d["url"] == "https://news.example/warc" for d in docs)
