"""Feeds benchmark: one site listed by an RSS feed, an Atom feed, a sitemap and a Google News sitemap.

    make bench-feeds          (or: uv run python bench/feeds.py [--delay SECONDS])

The 88 real pages of ../shared/datasets/article-extraction-dev are served by a local site on
127.0.0.1, each listed by the four sources. The four pollers take their first poll at once, as the
service starts them, and we count what the site served: page downloads, robots.txt reads, and the
wall time until every poller is done. Baseline in the same run: the same four pollers sharing the
fetcher (one host, one politeness) but each with its own page path and state, which is how pages
were fetched before one fetch per URL (with its own state, the baseline also sends each page once per
poller: the "documents" column).
Documents go to a counting stand-in for the producer: this measures fetching, not Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from newsflow_ingest.feeds import FeedPoller, Poller
from newsflow_ingest.fetch import Fetcher
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.pages import PageIngest
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.sitemaps import SitemapPoller
from newsflow_ingest.sources import PolledSource

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "article-extraction-dev" / "html"
SOURCES = ("rss", "atom", "sitemap", "news-sitemap")


class CountingProducer:
    """Stands in for Kafka: counts what would be produced."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: Any) -> None:
        self.sent[topic] += 1


def listings(base: str, ids: list[str]) -> dict[str, bytes]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    links = [f"{base}/p/{page_id}" for page_id in ids]
    rss_items = "".join(f"<item><title>{n}</title><link>{u}</link><guid>{u}</guid></item>" for n, u in enumerate(links))
    atom_entries = "".join(
        f'<entry><title>{n}</title><link href="{u}"/><id>{u}</id><updated>{now}</updated></entry>'
        for n, u in enumerate(links)
    )
    news = (
        "<news:news><news:publication><news:name>Site</news:name><news:language>en</news:language>"
        f"</news:publication><news:publication_date>{now}</news:publication_date><news:title>T</news:title></news:news>"
    )
    urlset = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
    )
    lastmod = "".join(f"<url><loc>{u}</loc><lastmod>{now}</lastmod></url>" for u in links)
    google = "".join(f"<url><loc>{u}</loc>{news}</url>" for u in links)
    return {
        "/rss": f'<rss version="2.0"><channel><title>Site</title>{rss_items}</channel></rss>'.encode(),
        "/atom": f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Site</title>{atom_entries}</feed>'.encode(),
        "/sitemap": f"{urlset}{lastmod}</urlset>".encode(),
        "/news-sitemap": f"{urlset}{google}</urlset>".encode(),
    }


class Site:
    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.feeds: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        kind = "robots" if path == "/robots.txt" else "page" if path.startswith("/p/") else "listing"
        self.hits[kind] += 1
        if kind == "robots":
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if kind == "page":
            return web.Response(body=self.pages[path.removeprefix("/p/")], content_type="text/html", charset="utf-8")
        return web.Response(body=self.feeds[path], content_type="application/xml")


async def first_poll(site: Site, base: str, settings: IngestSettings, state: Path, shared: bool) -> dict[str, float]:
    """Every poller's first poll at once; what the site served and how long it took."""
    site.hits.clear()
    producer = CountingProducer()
    fetcher = Fetcher(settings)  # one host, one politeness: as in the service
    stores: list[SeenStore] = []
    paths: list[PageIngest] = []

    def path_for(name: str) -> tuple[PageIngest, SeenStore]:
        """Ours: one page path and one store for every poller, as service.py wires them."""
        if not (shared and paths):
            stores.append(SeenStore.open(state / name))
            paths.append(PageIngest(fetcher, Ingestor(settings, producer, stores[-1])))  # type: ignore[arg-type]
        return paths[-1], stores[-1]

    pollers: list[Poller] = []
    for name in SOURCES:
        config = PolledSource(name=name, url=f"{base}/{name}")
        pages, seen = path_for(name)
        if "sitemap" in name:
            pollers.append(SitemapPoller(config, fetcher, pages, seen, timedelta(days=7)))
        else:
            pollers.append(FeedPoller(config, fetcher, pages, seen))
    started = time.perf_counter()
    await asyncio.gather(*(poller.poll() for poller in pollers))
    elapsed = time.perf_counter() - started
    await fetcher.close()
    for seen in stores:
        seen.close()
    return {
        "pages": site.hits["page"],
        "robots": site.hits["robots"],
        "sent": producer.sent["news.raw.v1"],
        "s": elapsed,
    }


async def main(delay: float) -> int:
    files = sorted(DATASET.glob("*.html.gz"))
    if not files:
        print(f"skipped: dataset {DATASET} is absent (it lives beside the repository, in ../shared)")
        return 0
    pages = {path.name.removesuffix(".html.gz"): gzip.decompress(path.read_bytes()) for path in files}
    site = Site(pages)
    app = web.Application()
    app.router.add_get("/{path:.*}", site.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    site.feeds = listings(base, sorted(pages))
    settings = IngestSettings(fetch_allow="127.0.0.1:*", host_delay_seconds=delay, fetch_timeout_seconds=30)
    try:
        with tempfile.TemporaryDirectory() as state:
            ours = await first_poll(site, base, settings, Path(state) / "shared", shared=True)
            alone = await first_poll(site, base, settings, Path(state) / "alone", shared=False)
    finally:
        await runner.cleanup()
    print(
        f"{len(pages)} real pages, each listed by RSS, Atom, a sitemap and a Google News sitemap; host delay {delay}s"
    )
    print(f"{'':34}{'page fetches':>14}{'robots.txt':>12}{'documents':>11}{'first poll':>12}")
    for label, row in (("one fetch per URL (ours)", ours), ("no shared page state (baseline)", alone)):
        print(f"{label:34}{row['pages']:>14.0f}{row['robots']:>12.0f}{row['sent']:>11.0f}{row['s']:>11.1f}s")
    print(f"downloads per page listed: {ours['pages'] / len(pages):.2f} (baseline {alone['pages'] / len(pages):.2f})")
    print(f"first poll {alone['s'] / ours['s']:.1f}x faster (the host's politeness delay paces every download)")
    print(json.dumps({"ours": ours, "baseline": alone}))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--delay", type=float, default=0.25, help="politeness delay between two requests to the host")
    sys.exit(asyncio.run(main(parser.parse_args().delay)))
