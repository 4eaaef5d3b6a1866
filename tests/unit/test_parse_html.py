"""HTML pages: listing pages give links, non-articles are rejected with a reason, metadata and dates by trust."""

from __future__ import annotations

import csv
import html
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsflow_common.dlq import Rejected
from newsflow_parse.extract import extract
from newsflow_schemas import Article, LinkToFetch, RawDocument, SourceHints
from newsflow_schemas.ids import article_id, normalize_url

WIKINEWS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "wikinews" / "wikinews_2019.csv"
FETCHED = datetime(2024, 12, 30, 12, 0, tzinfo=UTC)
PAGE = "https://news.example.com/world/"


def raw(body: str, url: str | None = PAGE, hints: SourceHints | None = None) -> RawDocument:
    return RawDocument(
        trace_id="t",
        doc_id="d",
        source="site",
        uri=url or "file",
        url=url,
        content_type="text/html",
        charset="utf-8",
        body=body,
        fetched_at=FETCHED,
        hints=hints,
    )


def rejection(document: RawDocument) -> str:
    with pytest.raises(Rejected) as caught:
        extract(document, FETCHED)
    return caught.value.kind


def wikinews(count: int) -> list[tuple[str, str]]:
    """(title, first paragraph) of real articles."""
    if not WIKINEWS.exists():
        pytest.skip(f"{WIKINEWS} is absent: the shared datasets are not mounted here")
    items = []
    with WIKINEWS.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            paras = [p.strip() for p in row["text"].split("\n") if len(p.split()) >= 20]
            if paras:
                items.append((row["title"].strip(), paras[0]))
            if len(items) == count:
                return items
    return items


NAV = '<nav><a href="/">Home</a> <a href="/world/">World</a> <a href="/sport/">Sport</a></nav>'


def teaser_page(items: list[tuple[str, str]], with_summaries: bool) -> str:
    teasers = "".join(
        f'<article class="teaser"><h2><a href="/2024/12/{k + 1:02d}/story-{k}">{html.escape(title)}</a></h2>'
        + (f"<p>{html.escape(summary)}</p>" if with_summaries else "")
        + "</article>"
        for k, (title, summary) in enumerate(items)
    )
    return f"<html><head><title>World news</title></head><body>{NAV}<main><h1>World</h1>{teasers}</main></body></html>"


def article_page(title: str, paragraphs: list[str], head: str = "", before_body: str = "") -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<html lang='en-GB'><head><title>{html.escape(title)} | Example News</title>{head}</head>"
        f"<body>{NAV}<article><h1>{html.escape(title)}</h1>{before_body}{body}</article></body></html>"
    )


# --- listing pages -------------------------------------------------------------------------------


@pytest.mark.parametrize("with_summaries", [False, True], ids=["headlines", "headlines-and-summaries"])
def test_a_page_of_teasers_gives_its_article_links_and_no_article(with_summaries: bool) -> None:
    items = wikinews(8)
    outputs = extract(raw(teaser_page(items, with_summaries)), FETCHED)
    assert all(isinstance(out, LinkToFetch) for out in outputs), "teasers must never merge into a fake article"
    links = [out for out in outputs if isinstance(out, LinkToFetch)]
    assert [link.url for link in links] == [f"https://news.example.com/2024/12/{k + 1:02d}/story-{k}" for k in range(8)]
    assert [link.hints.title if link.hints else None for link in links] == [title for title, _ in items]
    assert {(link.source, link.found_on, link.trace_id) for link in links} == {("site", PAGE, "t")}


def test_an_article_with_a_related_stories_box_stays_an_article() -> None:
    items = wikinews(9)
    related = "".join(
        f'<li><a href="/2024/12/0{k}/more-{k}">{html.escape(t)}</a></li>' for k, (t, _) in enumerate(items)
    )
    page = article_page(items[0][0], [p for _, p in items[:6]], before_body="").replace(
        "</article>", f"</article><aside><h2>Related</h2><ul>{related}</ul></aside>"
    )
    [article] = extract(raw(page, url="https://news.example.com/2024/12/30/story"), FETCHED)
    assert isinstance(article, Article)
    assert items[1][1] in article.body


# --- non-articles --------------------------------------------------------------------------------


def test_an_error_page_is_rejected_as_such() -> None:
    page = article_page("404 Page not found", ["Sorry, the page you were looking for has moved or never existed."])
    assert rejection(raw(page)) == "error-page"


def test_a_login_wall_is_rejected_as_such() -> None:
    form = '<form action="/login"><input name="user"><input type="password" name="pw"><button>Log in</button></form>'
    page = article_page("Subscribers only", ["Log in to keep reading this story from our reporters."], before_body=form)
    assert rejection(raw(page)) == "login-wall"


LOGIN_FORM = '<form action="/login"><input name="user"><input type="password" name="pw"><button>Log in</button></form>'
CHROME_LOGIN_BOXES = {
    "header-element": f"<header><a href='/'>Example News</a>{LOGIN_FORM}</header>",
    "masthead-div": f"<div id='masthead' class='site-top'><div class='account'>{LOGIN_FORM}</div></div>",
    "nav-dropdown": f"<nav><ul><li><a href='/world'>World</a></li><li class='dropdown'>{LOGIN_FORM}</li></ul></nav>",
    "plain-div-above-the-headline": f"<div class='box'>{LOGIN_FORM}</div>",
}


@pytest.mark.parametrize("box", CHROME_LOGIN_BOXES)
def test_a_short_article_with_a_login_box_in_the_site_chrome_is_an_article(box: str) -> None:
    """The password field sits in the page's chrome, not in the main content: not a login wall."""
    page = article_page(TITLE, PARAGRAPHS[:2]).replace("<body>", f"<body>{CHROME_LOGIN_BOXES[box]}")
    [article] = extract(raw(page, url="https://news.example.com/2024/12/30/story"), FETCHED)
    assert isinstance(article, Article)
    assert article.title == TITLE


@pytest.mark.parametrize("where", ["sidebar", "modal"])
def test_a_login_box_in_a_sidebar_or_a_modal_after_the_text_does_not_make_a_wall(where: str) -> None:
    box = (
        f"<aside>{LOGIN_FORM}</aside>" if where == "sidebar" else f"<div class='modal' role='dialog'>{LOGIN_FORM}</div>"
    )
    page = article_page(TITLE, PARAGRAPHS[:2]).replace("</body>", f"{box}</body>")
    [article] = extract(raw(page, url="https://news.example.com/2024/12/30/story"), FETCHED)
    assert isinstance(article, Article)


def test_a_login_form_in_place_of_the_story_is_a_wall_even_in_a_header_less_page() -> None:
    wall = f"<div class='paywall'><p>Subscribe or log in to read the rest.</p>{LOGIN_FORM}</div>"
    page = article_page(TITLE, PARAGRAPHS[:1], before_body="").replace("</article>", f"{wall}</article>")
    assert rejection(raw(page)) == "login-wall"


@pytest.mark.parametrize(
    "headline", ["Referee's error decides the cup final", "Server error leaves bank customers without cash"]
)
def test_a_short_article_about_an_error_is_not_an_error_page(headline: str) -> None:
    [article] = extract(raw(article_page(headline, PARAGRAPHS[:2]), url="https://news.example.com/a/b"), FETCHED)
    assert isinstance(article, Article)


@pytest.mark.parametrize("title", ["404 Page not found", "Error", "Server Error | BBC", "Page not found", "Error 500"])
def test_error_pages_are_still_error_pages(title: str) -> None:
    page = article_page(title, ["Sorry, the page you were looking for has moved or never existed."])
    assert rejection(raw(page)) == "error-page"


def test_an_empty_page_is_rejected_as_no_article() -> None:
    assert rejection(raw("<html><body><nav><a href='/'>Home</a></nav></body></html>")) == "no-article"


# --- metadata, canonical URL, dates --------------------------------------------------------------

PARAGRAPHS = [
    "The harbour bridge reopened to traffic on Friday morning, two years after engineers closed it when cracks "
    "were found in two of its steel supports, the city's transport department said in a statement.",
    "About forty thousand vehicles crossed the bridge every day before it was closed, and the detour through the "
    "old town had added half an hour to many commutes, according to figures from the council.",
    "The city said the repairs cost less than expected and that the bridge should not need major work for another "
    "fifty years, although cyclists will have to wait until March for their new separated lane.",
]
TITLE = "Harbour bridge reopens after two years of repairs"


def test_metadata_comes_from_meta_tags_and_json_ld() -> None:
    head = (
        '<meta property="og:site_name" content="Example News"><meta property="article:section" content="City">'
        '<meta name="description" content="The bridge is open again.">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": [{"@type": "Person", "name": '
        '"Maria Silva"}, {"@type": "Person", "name": "John Roe"}]}</script>'
    )
    [article] = extract(raw(article_page(TITLE, PARAGRAPHS, head)), FETCHED)
    assert isinstance(article, Article)
    assert (article.title, article.authors, article.section) == (TITLE, ["Maria Silva", "John Roe"], "City")
    assert (article.site_name, article.summary, article.language_hint) == (
        "Example News",
        "The bridge is open again.",
        "en",
    )
    assert article.extractor == "trafilatura"
    assert article.extraction_confidence is not None
    assert 0.5 <= article.extraction_confidence <= 1


def test_canonical_url_is_normalised_and_decides_the_id() -> None:
    head = '<link rel="canonical" href="https://NEWS.Example.com/2024/12/27/bridge?utm_source=x&id=7#top">'
    [article] = extract(raw(article_page(TITLE, PARAGRAPHS, head), url="https://m.example.com/b?fbclid=1"), FETCHED)
    assert isinstance(article, Article)
    assert article.canonical_url == "https://news.example.com/2024/12/27/bridge?id=7"
    assert article.article_id == article_id(url=article.canonical_url, source="", title="", published_at=None, body="")


def test_a_canonical_pointing_at_the_home_page_is_ignored() -> None:
    head = '<link rel="canonical" href="https://news.example.com/">'
    url = "https://news.example.com/2024/12/27/bridge"
    [article] = extract(raw(article_page(TITLE, PARAGRAPHS, head), url=url), FETCHED)
    assert isinstance(article, Article)
    assert article.canonical_url == normalize_url(url)


META = '<meta property="article:published_time" content="2024-12-27T08:15:00+01:00">'
JSON_LD = (
    '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2024-12-26T10:00:00Z"}</script>'
)
NEAR = "<p class='dateline'>Posted on December 25, 2024</p>"
DATED_URL = "https://news.example.com/2024/12/24/bridge"
FEED = SourceHints(published_at=datetime(2024, 12, 23, 6, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("head", "near", "url", "hints", "expected", "source"),
    [
        (META + JSON_LD, NEAR, DATED_URL, FEED, datetime(2024, 12, 27, 7, 15, tzinfo=UTC), "meta"),
        (JSON_LD, NEAR, DATED_URL, FEED, datetime(2024, 12, 26, 10, 0, tzinfo=UTC), "json-ld"),
        ("", NEAR, DATED_URL, FEED, datetime(2024, 12, 25, tzinfo=UTC), "text"),
        ("", "", DATED_URL, FEED, datetime(2024, 12, 24, tzinfo=UTC), "url"),
        ("", "", PAGE, FEED, datetime(2024, 12, 23, 6, 0, tzinfo=UTC), "feed"),
        ("", "", PAGE, None, FETCHED, "fetch-time"),
    ],
)
def test_published_at_comes_from_the_most_trusted_source(
    head: str, near: str, url: str, hints: SourceHints | None, expected: datetime, source: str
) -> None:
    [article] = extract(raw(article_page(TITLE, PARAGRAPHS, head, near), url=url, hints=hints), FETCHED)
    assert isinstance(article, Article)
    assert (article.published_at, article.published_at_source) == (expected, source)


def test_a_relative_date_near_the_headline_is_resolved_against_the_fetch_time() -> None:
    page = article_page(TITLE, PARAGRAPHS, before_body="<span>3 hours ago</span>")
    [article] = extract(raw(page), FETCHED)
    assert isinstance(article, Article)
    assert (article.published_at, article.published_at_source) == (FETCHED - timedelta(hours=3), "text")


@pytest.mark.parametrize("bad", ["2031-05-01T00:00:00Z", "1970-01-01T00:00:00Z"], ids=["future", "before-1990"])
def test_an_implausible_date_drops_to_the_next_source_of_trust(bad: str) -> None:
    head = f'<meta property="article:published_time" content="{bad}">'
    [article] = extract(raw(article_page(TITLE, PARAGRAPHS, head), url=DATED_URL), FETCHED)
    assert isinstance(article, Article)
    assert (article.published_at, article.published_at_source) == (datetime(2024, 12, 24, tzinfo=UTC), "url")


def test_the_fetch_time_never_enters_the_id() -> None:
    """Without a canonical URL nor a page date, a re-fetch on another day must give the same article_id."""
    page = article_page(TITLE, PARAGRAPHS)
    first = extract(raw(page, url=None), FETCHED)[0]
    later = extract(raw(page, url=None).model_copy(update={"fetched_at": FETCHED + timedelta(days=3)}), FETCHED)[0]
    assert isinstance(first, Article)
    assert first.published_at_source == "fetch-time"
    assert first.article_id == later.article_id
