"""The listing splitter on dumps built from real article text wrapped in several site chromes.

The text is real (Wikinews articles, the article-extraction dev set's hand-checked
bodies); the chrome around it is what other sites write: "Posted on DATE by NAME",
"Related:" lines, "Share this", advertisements between paragraphs, relative dates,
numbered pagination, and no markers at all but a date under each headline. The
splitter must find the stories from the structure, not from these strings.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsflow_parse.listing import ChromeMemory, Story, plain_article, split_listing

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
WIKINEWS = DATASETS / "wikinews" / "wikinews_2020.csv"
DEV_TRUTH = DATASETS / "article-extraction-dev" / "ground-truth.json"
NOW = datetime(2020, 3, 10, 12, 0, tzinfo=UTC)
AUTHORS = ["Jane Doe", "John Roe", "Maria Silva", "Ahmed Khan", "Li Wei"]
DAYS = [3, 4, 5, 6, 9]


@dataclass(frozen=True)
class Source:
    title: str
    paragraphs: list[str]


def real_paragraphs(text: str, count: int = 3) -> list[str]:
    """Whole paragraphs of real prose (long enough that none is a title or a chrome line)."""
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", text)]
    return [p for p in paras if len(p.split()) >= 15 and p.endswith((".", '"', "”"))][:count]


def wikinews(count: int = 5) -> list[Source]:
    if not WIKINEWS.exists():
        pytest.skip(f"{WIKINEWS} is absent: the shared datasets are not mounted here")
    sources = []
    with WIKINEWS.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            paras = real_paragraphs(row["text"])
            if len(paras) == 3 and len(row["title"].split()) >= 3:
                sources.append(Source(row["title"].strip(), paras))
            if len(sources) == count:
                return sources
    return sources


def dev_bodies(count: int = 5) -> list[Source]:
    """Bodies of the dev set, titled with a headline made from their opening words."""
    if not DEV_TRUTH.exists():
        pytest.skip(f"{DEV_TRUTH} is absent: the shared datasets are not mounted here")
    sources = []
    for item in json.loads(DEV_TRUTH.read_text(encoding="utf-8")).values():
        paras = real_paragraphs(item["articleBody"])
        if len(paras) == 3:
            words = re.findall(r"[A-Za-z]+", paras[0])[:7]
            sources.append(Source(" ".join(w.capitalize() for w in words), paras))
        if len(sources) == count:
            break
    return sources


def posted_by(sources: list[Source]) -> str:
    """WordPress-like: "Posted on DATE by NAME" under each headline, "Share this" and "Related:" after each story."""
    parts = ["The Valley Courier", "Menu", "Search for:"]
    for k, s in enumerate(sources):
        parts += [s.title, f"Posted on March {DAYS[k]}, 2020 by {AUTHORS[k]}", *s.paragraphs]
        parts += ["Share this:", "Twitter", "Facebook", f"Related: {sources[(k + 1) % len(sources)].title}"]
    parts += ["« Previous", "1", "2", "3", "Next »", "Proudly powered by WordPress"]
    return "\n\n".join(parts)


def relative_dates(sources: list[Source]) -> str:
    """A news app dump: byline and a relative date, an advertisement between paragraphs, a numbered pager."""
    parts = ["LATEST NEWS"]
    for k, s in enumerate(sources):
        first, *rest = s.paragraphs
        parts += [s.title, f"By {AUTHORS[k]}", f"{k + 2} hours ago", first, "Advertisement", *rest]
    parts += ["Page 1 of 12", "Load more stories"]
    return "\n".join(parts)


def no_markers(sources: list[Source]) -> str:
    """Nothing but a date line under each headline: no section, no read-more, no footer."""
    parts = []
    for k, s in enumerate(sources):
        parts += [s.title, f"{DAYS[k]} March 2020", *s.paragraphs]
    return "\n\n".join(parts)


Chrome = Callable[[list[Source]], str]
CHROMES: dict[str, Chrome] = {"posted-by": posted_by, "relative-dates": relative_dates, "no-markers": no_markers}
TEXTS: dict[str, Callable[[], list[Source]]] = {"wikinews": wikinews, "dev-bodies": dev_bodies}
CHROME_WORDS = ["Share this", "Twitter", "Facebook", "Related:", "Previous", "Next »", "Advertisement", "Page 1 of"]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("chrome", CHROMES)
def test_each_chrome_yields_exactly_the_stories(chrome: str, text: str) -> None:
    sources = TEXTS[text]()
    stories = split_listing(CHROMES[chrome](sources), NOW)
    assert [story.title for story in stories] == [source.title for source in sources]
    assert [story.body.split("\n\n") for story in stories] == [source.paragraphs for source in sources]


@pytest.mark.parametrize("chrome", CHROMES)
def test_no_chrome_in_any_story(chrome: str) -> None:
    for story in split_listing(CHROMES[chrome](wikinews()), NOW):
        assert not [word for word in CHROME_WORDS if word in story.body], story.title


def test_posted_by_line_gives_date_and_author() -> None:
    stories = split_listing(posted_by(wikinews()), NOW)
    assert [story.authors for story in stories] == [(a,) for a in AUTHORS]
    assert [story.published_at for story in stories] == [datetime(2020, 3, d, tzinfo=UTC) for d in DAYS]


def test_relative_dates_resolve_against_the_fetch_time() -> None:
    stories = split_listing(relative_dates(wikinews()), NOW)
    assert [story.published_at for story in stories] == [NOW - timedelta(hours=k + 2) for k in range(5)]
    assert [story.authors for story in stories] == [(a,) for a in AUTHORS]


def test_positions_cover_each_story() -> None:
    text = posted_by(wikinews())
    previous_end = 0
    for story in split_listing(text, NOW):
        assert previous_end <= story.start < story.end <= len(text)
        assert text[story.start : story.end].startswith(story.title)
        assert text[story.start : story.end].endswith(story.body.split("\n\n")[-1])
        previous_end = story.end


# --- chrome learnt across pages of the same source -----------------------------------------------


def single_story_page(source: Source, site: str) -> str:
    """A page of one story whose chrome appears once: only other pages of the site show it is chrome."""
    return "\n\n".join([site, "Subscribe now", source.title, *source.paragraphs, "Share on social media", "Contact us"])


def story_of(text: str, memory: ChromeMemory, source: str) -> Story | None:
    story = plain_article(text, NOW, memory.known(source))
    memory.remember(source, text)
    return story


def test_chrome_seen_on_earlier_pages_of_a_source_is_left_out() -> None:
    pages = [single_story_page(s, "The Valley Courier") for s in wikinews()]
    memory = ChromeMemory()
    first = story_of(pages[0], memory, "courier")
    assert first is not None
    assert first.title == "The Valley Courier"  # one page alone cannot tell chrome from a title
    story_of(pages[1], memory, "courier")
    story = story_of(pages[2], memory, "courier")
    assert story is not None
    assert story.title == wikinews()[2].title
    assert story.body.split("\n\n") == wikinews()[2].paragraphs


def test_chrome_memory_is_per_source_and_bounded() -> None:
    memory = ChromeMemory(max_sources=2)
    for name in ("a", "b", "c"):
        for source in wikinews()[:3]:
            memory.remember(name, single_story_page(source, "The Valley Courier"))
    assert memory.known("a") == frozenset()  # evicted: the oldest source goes first
    assert "subscribe now" in memory.known("c")
    assert memory.known("never-seen") == frozenset()


def test_a_headline_followed_by_a_date_is_never_taken_for_cross_page_chrome() -> None:
    """A short story title that also showed on earlier pages still starts its story."""
    sources = wikinews()
    memory = ChromeMemory()
    short = Source("Floods hit the valley", sources[0].paragraphs)
    for _ in range(3):
        memory.remember("site", no_markers([short, *sources[1:3]]))
    stories = split_listing(no_markers([short, *sources[1:3]]), NOW, memory.known("site"))
    assert [story.title for story in stories] == ["Floods hit the valley", sources[1].title, sources[2].title]
