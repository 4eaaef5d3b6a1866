"""Parse speed: pages per second per core on ~11 KB and ~130 KB pages, vs trafilatura alone.

    make bench-parse          # or: uv run python bench/parse.py [--rounds N]

~11 KB pages: Wikinews articles (../shared/datasets/wikinews) in a news-site
template (head metadata, navigation, related links, footer). ~130 KB pages: the
real pages of the article-extraction dev set between 100 and 160 KB. Both the
parse stage's ``extract()`` and the baseline (trafilatura 2.3,
``include_comments=False``) run in this one process on the same pages; time is
CPU time of the process (``time.process_time``), so the figure is per core and
holds on a busy machine. Exits 0 with a message when the datasets are absent.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import html
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from newsflow_common.dlq import Rejected
from newsflow_parse.extract import extract
from newsflow_schemas import RawDocument

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
WIKINEWS = DATASETS / "wikinews" / "wikinews_2019.csv"
DEV_HTML = DATASETS / "article-extraction-dev" / "html"
LARGE_BYTES = (100_000, 160_000)

SECTIONS = ["World", "Politics", "Business", "Science", "Health", "Sport", "Culture", "Opinion"]
NAV = "".join(f'<li><a href="/section/{name.lower()}">{name}</a></li>' for name in SECTIONS)
TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | The Example Times</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:title" content="{title}"><meta property="og:site_name" content="The Example Times">
<meta property="og:type" content="article"><meta property="article:published_time" content="{date}T09:00:00Z">
<link rel="canonical" href="{url}"><link rel="stylesheet" href="/static/site.css">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "NewsArticle", "headline": "{title}",
"datePublished": "{date}T09:00:00Z", "author": {{"@type": "Person", "name": "Staff Reporter"}},
"publisher": {{"@type": "Organization", "name": "The Example Times", "logo": {{"@type": "ImageObject",
"url": "https://example.com/static/logo.png"}}}}, "mainEntityOfPage": "{url}"}}</script>
<script>window.dataLayer = window.dataLayer || [];
function gtag(){{dataLayer.push(arguments);}} gtag('js', new Date());</script>
</head><body>
<header class="site-header"><a class="logo" href="/">The Example Times</a><nav><ul>{nav}</ul></nav>
<form class="search" action="/search"><input name="q" placeholder="Search"><button>Search</button></form></header>
<main><article class="story"><h1>{title}</h1>
<p class="byline">By Staff Reporter · <time datetime="{date}">{date}</time></p>
{paragraphs}
</article>
<aside class="related"><h2>Related stories</h2><ul>{related}</ul></aside>
<aside class="most-read"><h2>Most read</h2><ol>{most_read}</ol></aside></main>
<div class="newsletter"><h2>Get the morning briefing</h2><p>The day's top stories in your inbox every morning.</p>
<form action="/newsletter"><input type="email" name="email" placeholder="Your email">
<button>Sign up</button></form></div>
<div class="cookie-banner"><p>We use cookies to improve your experience and to measure our audience.
By continuing to browse you accept our use of cookies.</p><button>Accept</button> <a href="/cookies">Settings</a></div>
<footer><ul>{nav}</ul><p>© 2019 The Example Times. All rights reserved. <a href="/privacy">Privacy</a>
<a href="/terms">Terms of use</a> <a href="/contact">Contact us</a></p></footer>
</body></html>"""


def small_pages() -> list[str]:
    """Wikinews articles in the template: about 11 KB each."""
    with WIKINEWS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    pages = []
    for k, row in enumerate(rows):
        paras = [p.strip() for p in row["text"].split("\n") if len(p.split()) >= 8]
        related = "".join(
            f'<li class="teaser"><a href="/news/{j}"><img src="/img/{j}.jpg" alt="">'
            f'<span class="headline">{html.escape(rows[j % len(rows)]["title"])}</span></a>'
            f'<span class="date">{rows[j % len(rows)]["date"]}</span></li>'
            for j in range(k + 1, k + 21)
        )
        most_read = "".join(
            f'<li><a href="/news/{j}">{html.escape(rows[j % len(rows)]["title"])}</a></li>'
            for j in range(k + 30, k + 40)
        )
        pages.append(
            TEMPLATE.format(
                title=html.escape(row["title"]),
                url=f"https://example.com/news/{k}",
                date=row["date"],
                nav=NAV,
                paragraphs="\n".join(f"<p>{html.escape(p)}</p>" for p in paras),
                related=related,
                most_read=most_read,
            )
        )
    return pages


def large_pages() -> list[str]:
    """The dev set's real pages between 100 and 160 KB."""
    pages = [gzip.decompress(path.read_bytes()).decode("utf-8", "replace") for path in sorted(DEV_HTML.glob("*.gz"))]
    return [page for page in pages if LARGE_BYTES[0] <= len(page.encode()) <= LARGE_BYTES[1]]


def parse_page(page: str) -> None:
    raw = RawDocument(
        trace_id="bench",
        doc_id="bench",
        source="bench",
        uri="bench",
        url="https://example.com/news/page",
        content_type="text/html",
        charset="utf-8",
        body=page,
        fetched_at=datetime.now(UTC),
    )
    with contextlib.suppress(Rejected):  # a rejection is an outcome too: timed like an article
        extract(raw)


def trafilatura_alone(page: str) -> None:
    trafilatura.extract(page, include_comments=False)


def pages_per_cpu_second(pages: list[str], function: Callable[[str], None], rounds: int) -> float:
    started = time.process_time()
    for _ in range(rounds):
        for page in pages:
            function(page)
    return rounds * len(pages) / (time.process_time() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="passes over each page set (default 2)")
    args = parser.parse_args()
    if not WIKINEWS.exists() or not DEV_HTML.exists():
        print(f"dataset absent, skipped: {WIKINEWS} or {DEV_HTML}")
        return 0
    sets = {"~11 KB (wikinews in a template)": small_pages(), "~130 KB (real dev-set pages)": large_pages()}
    # Warm up with one untimed pass over every page: imports and each library's first-use set-up are not parse
    # time (dateparser's first call alone took 0.25 s, a fifth of a timed pass over the 130 KB pages).
    for page in [page for pages in sets.values() for page in pages]:
        parse_page(page)
        trafilatura_alone(page)
    print(f"{'pages':<34}{'count':>6}{'avg KB':>8}{'trafilatura':>13}{'parse':>8}{'ratio':>7}   (pages/s per core)")
    for name, pages in sets.items():
        baseline = pages_per_cpu_second(pages, trafilatura_alone, args.rounds)
        ours = pages_per_cpu_second(pages, parse_page, args.rounds)
        size = sum(len(p.encode()) for p in pages) / len(pages) / 1024
        print(f"{name:<34}{len(pages):>6}{size:>8.1f}{baseline:>13.1f}{ours:>8.1f}{ours / baseline:>7.2f}")
    print("target: >= 150 pages/s per core on 11 KB pages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
