"""Real article text for benchmarks and fault runs, wrapped in generated news pages.

Sources, when ../shared/datasets is beside the repository: Wikinews articles
(CC BY 2.5, credit Wikinews), the bodies of the article-extraction dev set, and
the sample page's four stories. Pages come in several templates so parsing is
not measured on one layout only.
"""

from __future__ import annotations

import csv
import html
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
SAMPLE = ROOT / "samples" / "listing-page-asia.txt"


@dataclass(frozen=True)
class Story:
    title: str
    body: str
    date: str = "2024-12-25"
    section: str = "World"


def datasets_present() -> bool:
    return (DATASETS / "wikinews").is_dir()


def wikinews() -> list[Story]:
    csv.field_size_limit(1 << 30)
    stories = []
    for path in sorted((DATASETS / "wikinews").glob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                # The first line of each text repeats the date ("Friday, January 4, 2019"): not body.
                paragraphs = [p.strip() for p in row["text"].split("\n") if p.strip()][1:]
                if paragraphs:
                    stories.append(Story(row["title"], "\n\n".join(paragraphs), row["date"], "World"))
    return stories


def dev_bodies() -> list[Story]:
    truth = json.loads((DATASETS / "article-extraction-dev" / "ground-truth.json").read_text())
    stories = []
    for item in truth.values():
        body = item["articleBody"].strip()
        first = body.split(".")[0][:90]
        stories.append(Story(first, body, "2019-06-01", "Business"))
    return stories


def all_stories() -> list[Story]:
    if not datasets_present():
        raise SystemExit(f"datasets absent ({DATASETS}): benchmark skipped")
    return wikinews() + dev_bodies()


NAV = "".join(f'<li><a href="/{s.lower()}/">{s}</a></li>' for s in ("World", "Business", "Tech", "Sport", "Opinion"))
TEMPLATES = [
    # A classic news site: header, nav, article with byline, related links, footer.
    """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | The Daily Ledger</title>
<meta property="og:title" content="{title}"><meta property="article:published_time" content="{date}T08:00:00Z">
<link rel="canonical" href="https://ledger.example/{section_slug}/{slug}"></head><body>
<header><div class="logo">The Daily Ledger</div><nav><ul>{nav}</ul></nav></header>
<main><article><h1>{title}</h1><p class="byline">By Staff Reporter · {date}</p>{paragraphs}</article>
<aside><h3>Related</h3><ul><li><a href="/x">Markets close higher</a></li>
<li><a href="/y">Weather warning</a></li></ul></aside></main>
<footer><p>© 2024 The Daily Ledger. All rights reserved.</p><a href="/privacy">Privacy</a></footer></body></html>""",
    # A blog-like layout with JSON-LD and share buttons.
    """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<script type="application/ld+json">
{{"@type": "NewsArticle", "headline": {title_json}, "datePublished": "{date}"}}</script>
</head><body><div id="top"><a href="/">Home</a> {nav}</div><div class="content"><div class="post">
<h2 class="post-title">{title}</h2><div class="share">Share this: Twitter Facebook Email</div>
<div class="entry">{paragraphs}</div><div class="tags">Tags: news, {section}</div></div>
<div class="sidebar"><h4>Most read</h4><ol><li>Story one</li><li>Story two</li></ol></div></div>
<div class="footer">Subscribe to our newsletter · Contact · Advertise</div></body></html>""",
    # A minimal wire-service page.
    """<html><head><title>{title}</title><meta name="date" content="{date}"></head><body>
<div class="wire"><h1>{title}</h1><div class="dateline">{date}</div>{paragraphs}
<p><i>Reporting by newsroom staff.</i></p></div>
</body></html>""",
]


def page(story: Story, template: int) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in story.body.split("\n\n"))
    slug = "-".join(story.title.lower().split())[:60]
    return TEMPLATES[template % len(TEMPLATES)].format(
        title=html.escape(story.title),
        title_json=json.dumps(story.title),
        date=story.date,
        section=story.section,
        section_slug=story.section.lower(),
        slug=html.escape(slug),
        nav=NAV,
        paragraphs=paragraphs,
    )


def pages(count: int, seed: int = 7) -> Iterator[tuple[str, str, Story]]:
    """``count`` (file name, HTML, story) triples; stories repeat with a numbered title past the corpus size."""
    stories = all_stories()
    rng = random.Random(seed)
    for n in range(count):
        story = stories[n % len(stories)]
        if n >= len(stories):  # a distinct article each time, so ids do not collide
            story = Story(f"{story.title} ({n // len(stories)})", story.body, story.date, story.section)
        yield f"page-{n:06d}.html", page(story, rng.randrange(len(TEMPLATES))), story


def write_pages(folder: Path, count: int) -> list[Story]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text, story in pages(count):
        (folder / name).write_text(text, encoding="utf-8")
        written.append(story)
    return written
