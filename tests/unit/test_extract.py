"""extract(): raw documents to articles, by content type, with stable ids and clear rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsflow_common.dlq import Rejected
from newsflow_parse.extract import extract
from newsflow_schemas import Article, Position, RawDocument
from newsflow_schemas.ids import article_id

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "listing-page-asia.txt"
NOW = datetime(2024, 12, 30, 12, 0, tzinfo=UTC)
LATER = datetime(2025, 1, 2, 8, 30, tzinfo=UTC)
PAGE_URL = "https://news.example.com/category/asia/?utm_source=feed"
CANONICAL = "https://news.example.com/2024/12/27/harbour-bridge-reopens/"


def raw(body: str, content_type: str = "text/plain", url: str | None = PAGE_URL) -> RawDocument:
    return RawDocument(
        trace_id="trace-1",
        doc_id="doc-1",
        source="files",
        uri="/data/in/page.txt",
        url=url,
        content_type=content_type,
        charset="utf-8",
        body=body,
        fetched_at=NOW,
    )


def rejection(document: RawDocument) -> str:
    with pytest.raises(Rejected) as caught:
        extract(document, NOW)
    return caught.value.kind


# --- listing pages -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listing() -> RawDocument:
    return raw(SAMPLE.read_text(encoding="utf-8"))


def test_listing_page_gives_one_article_per_story(listing: RawDocument) -> None:
    articles = extract(listing, NOW)
    assert [a.title for a in articles] == [
        "Three years history of anti-Taliban movements and their common failures",
        "A passenger plane travelling from Baku to Grozny crashes in Kazakhstan",
        "Trust issue: Pakistan and Afghanistan to boost up fraternal ties",
        "China plans $411bn private treasury bond issuance in 2025",
    ]
    for k, article in enumerate(articles):
        assert article.extractor == "listing-splitter"
        assert article.section == "ASIA"
        assert (article.trace_id, article.doc_id, article.source) == ("trace-1", "doc-1", "files")
        assert article.parsed_at == NOW
        assert isinstance(article.position, Position)
        assert article.position.index == k


def test_listing_stories_do_not_take_the_page_url(listing: RawDocument) -> None:
    articles = extract(listing, NOW)
    assert all(a.url is None for a in articles)
    assert len({a.article_id for a in articles}) == 4
    assert not any(a.article_id.startswith("u") for a in articles)  # no URL-based id: title + date or content


def test_listing_article_ids_are_stable_across_calls(listing: RawDocument) -> None:
    first = [a.article_id for a in extract(listing, NOW)]
    again = [a.article_id for a in extract(listing, LATER)]
    assert first == again


def test_listing_positions_point_into_the_raw_body(listing: RawDocument) -> None:
    previous_end = 0
    for article in extract(listing, NOW):
        assert article.position is not None
        start, end = article.position.start, article.position.end
        assert previous_end <= start < end <= len(listing.body)
        region = listing.body[start:end]
        assert article.title in region
        assert all(paragraph in region for paragraph in article.body.split("\n\n"))
        previous_end = end


def test_articles_survive_a_json_round_trip(listing: RawDocument) -> None:
    for article in extract(listing, NOW):
        assert Article.model_validate_json(article.model_dump_json()) == article


# --- plain text ----------------------------------------------------------------------------------

PLAIN = "\n\n".join(
    [
        "Harbour bridge reopens after two years of repairs",
        "The harbour bridge reopened to traffic on Friday morning, two years after engineers closed it when cracks "
        "were found in two of its steel supports.",
        "About forty thousand vehicles crossed the bridge every day before it was closed, and the detour through the "
        "old town had added half an hour to many commutes.",
        "The city said the repairs cost less than expected and that the bridge should not need major work for another "
        "fifty years.",
    ]
)


def test_plain_single_article_gives_one_article() -> None:
    [article] = extract(raw(PLAIN, "text/plain; charset=utf-8"), NOW)
    assert article.extractor == "plain-text"
    assert article.title == "Harbour bridge reopens after two years of repairs"
    assert article.body.startswith("The harbour bridge reopened")
    assert article.body.endswith("another fifty years.")
    assert article.url == PAGE_URL  # a single article's page URL is its own
    assert article.position is None


def test_plain_article_with_byline_and_date_line() -> None:
    lines = PLAIN.split("\n\n")
    text = "\n\n".join([lines[0], "By Maria Silva", "Posted on December 27, 2024 at 08:15", *lines[1:]])
    [article] = extract(raw(text), NOW)
    assert (article.title, article.authors) == ("Harbour bridge reopens after two years of repairs", ["Maria Silva"])
    assert article.published_at == datetime(2024, 12, 27, 8, 15, tzinfo=UTC)
    assert "Maria Silva" not in article.body
    assert "Posted on" not in article.body
    assert article.extractor == "plain-text"


def test_plain_article_id_is_stable() -> None:
    assert extract(raw(PLAIN), NOW)[0].article_id == extract(raw(PLAIN), LATER)[0].article_id


@pytest.mark.parametrize("content_type", ["text/plain", "text/html"])
@pytest.mark.parametrize("body", ["", "   \n\n\t  \r\n"])
def test_empty_text_is_rejected_as_empty(body: str, content_type: str) -> None:
    assert rejection(raw(body, content_type)) == "empty"


@pytest.mark.parametrize("content_type", ["application/pdf", "image/png", "application/octet-stream"])
def test_other_content_types_are_rejected(content_type: str) -> None:
    assert rejection(raw(PLAIN, content_type)) == "unsupported-type"


# --- HTML ----------------------------------------------------------------------------------------

HTML = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Harbour bridge reopens after two years of repairs | Example News</title>
  <link rel="canonical" href="{CANONICAL}">
  <meta property="og:title" content="Harbour bridge reopens after two years of repairs">
  <meta property="og:site_name" content="Example News">
  <meta name="author" content="Maria Silva">
  <meta property="article:published_time" content="2024-12-27T08:15:00+00:00">
</head>
<body>
  <header>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news menu</a></li>
    <li><a href="/sport">Sport section link</a></li>
    <li><a href="/subscribe">Subscribe to our newsletter today</a></li></ul></nav>
  </header>
  <main>
    <article>
      <h1>Harbour bridge reopens after two years of repairs</h1>
      <p class="byline">By Maria Silva, <time datetime="2024-12-27">December 27, 2024</time></p>
      <p>The harbour bridge reopened to traffic on Friday morning, two years after engineers closed it when
      cracks were found in two of its steel supports.</p>
      <p>About forty thousand vehicles crossed the bridge every day before it was closed, and the detour
      through the old town had added half an hour to many commutes.</p>
      <h2>Cheaper than expected</h2>
      <p>The city said the repairs cost less than expected and that the bridge should not need major work
      for another fifty years, according to the chief engineer of the project.</p>
      <p>Cyclists will have to wait until March for the new separated lane on the eastern side, which is
      still being painted and fitted with lighting.</p>
    </article>
    <section id="comments" class="comments">
      <h3>Comments</h3>
      <div class="comment">
        <p>Finally! I have been stuck in that detour traffic every single morning for two years.</p>
      </div>
      <div class="comment">
        <p>Half a billion for a bridge while our schools are falling apart, what a joke honestly.</p>
      </div>
    </section>
  </main>
  <aside><h3>Most popular</h3><ul><li><a href="/a">Celebrity chef opens third restaurant downtown</a></li></ul></aside>
  <footer>
    <p>Copyright 2024 Example News Ltd. All rights reserved.</p><p><a href="/privacy">Privacy policy</a></p>
  </footer>
</body>
</html>
"""


def test_html_article_page_gives_one_article() -> None:
    [article] = extract(raw(HTML, "text/html; charset=utf-8", url=PAGE_URL), NOW)
    assert article.extractor == "trafilatura"
    assert article.title == "Harbour bridge reopens after two years of repairs"
    assert article.url == CANONICAL
    assert article.article_id == article_id(
        url=CANONICAL, source="other", title="", published_at=None, body=""
    )  # the canonical URL alone decides the id
    assert "cracks were found in two of its steel supports" in article.body
    assert "separated lane on the eastern side" in article.body
    assert article.authors == ["Maria Silva"]
    assert article.published_at is not None
    assert article.published_at.date().isoformat() == "2024-12-27"
    assert article.position is None


@pytest.mark.parametrize(
    "chrome",
    [
        "World news menu",
        "Subscribe to our newsletter",
        "Finally!",
        "what a joke",
        "Celebrity chef",
        "All rights reserved",
    ],
)
def test_html_article_body_leaves_out_nav_comments_and_footer(chrome: str) -> None:
    [article] = extract(raw(HTML, "text/html"), NOW)
    assert chrome not in article.body


def test_html_without_canonical_takes_the_fetched_url() -> None:
    page = HTML.replace(f'<link rel="canonical" href="{CANONICAL}">', "")
    [article] = extract(raw(page, "text/html", url="https://news.example.com/bridge?utm_source=x"), NOW)
    assert article.url == "https://news.example.com/bridge?utm_source=x"
    assert (
        article.article_id == extract(raw(page, "text/html", url="https://news.example.com/bridge"), NOW)[0].article_id
    )


def test_html_article_id_is_stable_across_fetch_urls_and_calls() -> None:
    a = extract(raw(HTML, "text/html", url=PAGE_URL), NOW)[0]
    b = extract(raw(HTML, "text/html", url=None), LATER)[0]
    assert a.article_id == b.article_id


NEAR_EMPTY = """<html><head><title>Gallery</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<div class="gallery"><img src="/a.jpg" alt="sunset"><p>Photo: sunset over the bay.</p></div>
<footer>© Example</footer></body></html>"""


def test_html_without_an_article_is_rejected() -> None:
    assert rejection(raw(NEAR_EMPTY, "text/html")) == "no-article"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 16


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_image_bytes_served_as_html_are_rejected(encoding: str) -> None:
    body = PNG.decode(encoding, errors="replace")
    assert rejection(raw(body, "text/html")) == "binary"
