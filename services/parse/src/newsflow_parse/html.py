"""One HTML page to one article, a listing of teaser links, or a clear rejection.

The main text comes from trafilatura in precision mode without comments (the
default keeps comments: 82% of test pages polluted); the metadata from the
page's meta tags and JSON-LD (:mod:`newsflow_parse.page`: trafilatura's own
metadata search took 35% of the parse time). Measured on the 88 pages
of the article-extraction dev set (``make bench-extract``): default mode F1
0.961, precision mode 0.969, readability-lxml alone 0.959. readability-lxml is
the second opinion when trafilatura's text is short (< 100 words) or is mostly
link headlines: it wins when it finds more words. trafilatura's own cascade
(its readability and jusText comparison) runs only when its own extractor's
text is doubtful (:func:`main_text`): on 11 KB pages it was two thirds of
trafilatura's time, and on 87 of the 88 dev pages it changed nothing.

readability also wins when trafilatura kept less than half of the page's
paragraph text and readability finds twice as much, trafilatura's included: an
article cut into containers between advertisements, of which trafilatura keeps
the first. The body is the story: the headline leading trafilatura's text and
lines that link to other stories of the site ("Related: ...") are left out. Each rule on
top of trafilatura alone (:class:`Rules`) was kept because it raised F1 on
every fold of the dev pages (decision 008; ``make bench-extract``).

A page of teasers (a home or section page) is recognised by its headline links
and by a main text that lies mostly inside the teasers' blocks (headline,
summary, date); its links go back to ingest instead of being merged into one
fake article. A login wall (a password field in the main content, not the
site's own login box) or an error page is rejected with that reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

import lxml.html  # type: ignore[import-untyped]
import trafilatura
from lxml.html import HtmlElement
from readability import Document
from trafilatura.external import SANITIZED_XPATH
from trafilatura.settings import Document as TrafilaturaDocument
from trafilatura.utils import load_html

from newsflow_common.dlq import Rejected
from newsflow_parse import dates, page
from newsflow_parse.listing import fallback_title
from newsflow_parse.textsize import word_count
from newsflow_schemas import SourceHints
from newsflow_schemas.models import PublishedAtSource

MIN_WORDS = 25  # below this the page holds a caption or a cookie notice, not an article
SECOND_OPINION_WORDS = 100
FULL_CASCADE_WORDS = 150  # below this trafilatura's own text is checked against readability and jusText
NON_ARTICLE_WORDS = 150  # an error page or a login wall says little
MIN_TEASERS = 5
MIN_TEASERS_IN_TEXT = 3
LISTING_SHARE = 0.6  # of the main text's words inside teaser blocks: a listing's text is its teasers
CHROME_SHARE = 0.5
CUT_SHORT_SHARE = 0.5  # of the page's paragraph text: below it trafilatura may have kept one container of several
WHOLE_ARTICLE_RATIO = 2  # trafilatura's cascade takes readability's text when it is twice as long
LARGE_PAGE_CHARS = 1_000_000  # measured: a 5 MB page took 48 s with the fallbacks, 8 s without
ERROR_HEADING_RE = re.compile(
    r"\b(?:404|410|500|503)\b|\bnot found\b|\bpage (?:does not|doesn't|no longer) exists?\b", re.IGNORECASE
)
ERROR_WORD_RE = re.compile(r"\berror\b", re.IGNORECASE)
MAX_ERROR_HEADING_WORDS = 4  # "Server Error", "Error 500"; a headline about an error is longer
READABILITY_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "li", "pre", "blockquote"})


@dataclass(frozen=True)
class HtmlArticle:
    """The main article of a page, with its metadata."""

    title: str
    body: str
    url: str | None
    extractor: str
    confidence: float
    published_at: datetime
    published_at_source: PublishedAtSource
    authors: tuple[str, ...] = ()
    section: str | None = None
    site_name: str | None = None
    summary: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Listing:
    """A page of teasers: the article links it lists (URL -> headline), in page order."""

    links: dict[str, str]


@dataclass(frozen=True)
class Rules:
    """The extraction rules on top of trafilatura alone, each kept because it raised body F1 on every fold.

    ``make bench-extract`` takes each out in turn (and tries the rejected
    candidates) on folds of the dev pages; these switches exist for it.
    """

    precision_mode: bool = True
    """trafilatura's favor_precision: drops more boilerplate blocks."""
    second_opinion: bool = True
    """readability-lxml when trafilatura's text is short or mostly link headlines."""
    whole_article: bool = True
    """readability-lxml's text when trafilatura kept under half of the page's paragraph text and readability
    finds twice as much, trafilatura's included: an article split into containers between advertisements."""
    drop_headline: bool = True
    """The headline is the title, not the body's first line."""
    drop_teaser_lines: bool = True
    """Lines that are a link to another story of the site ("Related: ..."), not the story."""


RULES = Rules()


def extract_html(
    html: str, url: str | None, fetched_at: datetime, hints: SourceHints | None = None, rules: Rules = RULES
) -> HtmlArticle | Listing:
    """The page's main article or its teaser links; raises ``Rejected`` for a page that is neither."""
    tree = load_html(html)
    if tree is None:
        raise Rejected("no-article", "the document does not parse as HTML")
    large = len(html) > LARGE_PAGE_CHARS  # trafilatura's fallback comparison grows faster than the page
    body = main_text(tree, url, large, precision=rules.precision_mode)
    head = page.head(tree)
    canonical = page.canonical_url(tree, url, head)
    teasers = page.teaser_links(tree, url or canonical)
    if is_listing(body, teasers):
        return Listing({teaser.url: teaser.headline for teaser in teasers})
    body, extractor = (body, "trafilatura") if large else readability_if_better(html, tree, body, teasers, rules)
    hints = hints or SourceHints()
    meta = page.metadata(tree, head)
    body = story_lines(body, page.headline_forms(tree, head), teasers, rules)
    reject_non_article(tree, body)
    title = meta.title or hints.title or fallback_title(body.split("\n", 1)[0])
    language = page.language(tree, head) or hints.language
    published_at, published_source = dates.choose(
        chain(
            page.published_candidates(tree, head, title, canonical, fetched_at, language),
            [("feed", hints.published_at)],
        ),
        fetched_at,
    )
    return HtmlArticle(
        title=title,
        body=body,
        url=canonical,
        extractor=extractor,
        confidence=confidence(body, extractor, has_title=bool(meta.title)),
        published_at=published_at,
        published_at_source=published_source,
        authors=meta.authors or tuple(hints.authors),
        section=meta.section or hints.section,
        site_name=meta.site_name or hints.site_name,
        summary=meta.description or hints.summary,
        language=language,
    )


def main_text(tree: HtmlElement, url: str | None, large: bool, *, precision: bool = True) -> str:
    """trafilatura's main text: its own extractor first, its whole cascade only when that result is doubtful.

    The cascade (readability and jusText compared with trafilatura's own
    extraction, ``fast=False``) took about two thirds of trafilatura's time on
    11 KB pages, and on 87 of the 88 dev pages it returned its own extractor's
    text unchanged. It runs when its rules are likely to change the result: a
    text under 150 words (the cascade then takes a longer readability or
    jusText text), no paragraph text, more tables than paragraphs, or leftover
    page furniture (its jusText trigger). What is given up: the cascade's
    choice of a readability text more than twice as long as an own text of 150
    words or more. A page over 1 MB never runs it.
    """
    doc = bare_extraction(tree, url, fast=True, precision=precision)
    if large or (doc is not None and settled(doc.text or "", doc.body)):
        return (doc.text or "").strip() if doc is not None else ""
    doc = bare_extraction(tree, url, fast=False, precision=precision)
    return (doc.text or "").strip() if doc is not None else ""


def bare_extraction(
    tree: HtmlElement, url: str | None, *, fast: bool, precision: bool = True
) -> TrafilaturaDocument | None:
    """trafilatura in precision mode without comments, on a copy of the tree (it copies what it is given)."""
    doc = trafilatura.bare_extraction(tree, url=url, include_comments=False, favor_precision=precision, fast=fast)
    if isinstance(doc, dict):  # only with as_dict=True
        raise TypeError("trafilatura returned a dict")
    return doc


def settled(text: str, body: Any) -> bool:
    """Whether trafilatura's cascade could not change its own extractor's result (see ``main_text``)."""
    if words(text) < FULL_CASCADE_WORDS or body is None:
        return False
    has_paragraphs = bool(body.xpath(".//p//text()"))
    few_tables = len(body.findall(".//table")) <= len(body.findall(".//p"))
    return has_paragraphs and few_tables and not body.xpath(SANITIZED_XPATH)


def words(text: str) -> int:
    return word_count(text)


def body_lines(body: str) -> list[str]:
    return [" ".join(line.split()) for line in body.splitlines() if line.strip()]


def is_listing(body: str, teasers: list[page.Teaser]) -> bool:
    """Many headline links, and a main text that is nothing, or mostly the teasers' own text (headline, summary)."""
    if len(teasers) < MIN_TEASERS:
        return False
    if words(body) < MIN_WORDS:
        return True
    blocks = page.teaser_blocks(teasers)
    covered_words, covering = 0, set()
    for line in body_lines(body):
        found = next((k for k, block in enumerate(blocks) if line in block), None)
        if found is not None:
            covered_words += words(line)
            covering.add(found)
    return len(covering) >= MIN_TEASERS_IN_TEXT and covered_words >= LISTING_SHARE * words(body)


def looks_like_chrome(body: str, teasers: list[page.Teaser]) -> bool:
    """Mostly link headlines: a related-stories box, not the article."""
    headlines = {teaser.headline for teaser in teasers}
    lines = body_lines(body)
    return bool(lines) and sum(line in headlines for line in lines) >= CHROME_SHARE * len(lines)


def with_second_opinion(html: str, body: str, teasers: list[page.Teaser]) -> tuple[str, str]:
    """trafilatura's text, or readability's when trafilatura found little or chrome and readability found more."""
    if words(body) >= SECOND_OPINION_WORDS and not looks_like_chrome(body, teasers):
        return body, "trafilatura"
    other = readability_text(html)
    if words(other) > words(body) and not looks_like_chrome(other, teasers):
        return other, "readability"
    return body, "trafilatura"


def readability_if_better(
    html: str, tree: HtmlElement, body: str, teasers: list[page.Teaser], rules: Rules
) -> tuple[str, str]:
    """trafilatura's text, or readability's when trafilatura's was short, chrome, or one container of several."""
    extractor = "trafilatura"
    if rules.second_opinion:
        body, extractor = with_second_opinion(html, body, teasers)
    if rules.whole_article and extractor == "trafilatura" and cut_short(tree, body):
        body, extractor = whole_article(html, body)
    return body, extractor


def cut_short(tree: HtmlElement, body: str) -> bool:
    """Whether trafilatura's text holds less than half of the characters of the page's paragraphs."""
    return len(body) < CUT_SHORT_SHARE * sum(len(text) for text in tree.xpath("//p//text()"))


def whole_article(html: str, body: str) -> tuple[str, str]:
    """readability's text when it holds trafilatura's whole text and twice as many words, else trafilatura's.

    Sites cut a long article into sibling containers between advertisements;
    trafilatura keeps the first, readability joins siblings of the same class.
    """
    other = readability_text(html)
    kept = [line for line in body.split("\n") if line.strip()]
    whole = " ".join(other.split())
    if words(other) >= WHOLE_ARTICLE_RATIO * words(body) and all(" ".join(line.split()) in whole for line in kept):
        return other, "readability"
    return body, "trafilatura"


def story_lines(body: str, headlines: frozenset[str], teasers: list[page.Teaser], rules: Rules) -> str:
    """The body without the headline leading it and without lines that link to other stories of the site.

    ``headlines``: the ways the page writes its headline (:func:`page.headline_forms`).
    """
    lines = body.split("\n")
    if rules.drop_headline and lines and " ".join(lines[0].split()).casefold() in headlines:
        lines = lines[1:]
    if rules.drop_teaser_lines and teasers:
        others = [teaser.headline for teaser in teasers]
        lines = [line for line in lines if not links_to_a_story(line, others)]
    return "\n".join(lines).strip()


def links_to_a_story(line: str, headlines: list[str]) -> bool:
    """A line that is mostly another story's link headline: "Related: <headline>", "- <headline>"."""
    text = " ".join(line.split())
    return any(headline in text and len(headline) >= page.TEASER_SHARE_OF_BLOCK * len(text) for headline in headlines)


def readability_text(html: str) -> str:
    """readability-lxml's main text, one line per block; empty when it finds none."""
    try:
        summary = Document(html).summary(html_partial=True)
        tree = lxml.html.fromstring(summary)
    except Exception:  # readability raises bare Unparseable/ValueError on odd markup: no second opinion
        return ""
    blocks = []
    for element in tree.iter():
        if element.tag in READABILITY_BLOCKS and not any(a.tag in READABILITY_BLOCKS for a in element.iterancestors()):
            text = " ".join(element.text_content().split())
            if text:
                blocks.append(text)
    return "\n".join(blocks)


def reject_non_article(tree: HtmlElement, body: str) -> None:
    """A short page that is an error page or a login wall, or that holds no article at all."""
    if words(body) < NON_ARTICLE_WORDS:
        if is_error_page(tree):
            raise Rejected("error-page", f"an error page ({words(body)} words, an error in its title or headline)")
        if page.password_in_main_content(tree):
            raise Rejected("login-wall", f"a login wall ({words(body)} words and a password field in the content)")
    if words(body) < MIN_WORDS:
        raise Rejected("no-article", f"main text has {words(body)} words, fewer than {MIN_WORDS}")


def is_error_page(tree: HtmlElement) -> bool:
    """A title or headline that reads as an error: a status code, "not found", or a short "... Error"."""
    return any(is_error_heading(heading) for heading in page.page_headings(tree))


def is_error_heading(heading: str) -> bool:
    if ERROR_HEADING_RE.search(heading):
        return True
    parts = page.TITLE_SEPARATORS.split(heading)  # "Server Error | Example News": each part alone
    return any(ERROR_WORD_RE.search(part) and words(part) <= MAX_ERROR_HEADING_WORDS for part in parts)


def confidence(body: str, extractor: str, *, has_title: bool) -> float:
    """How much to trust the extraction: long text from the first extractor with a real title is best."""
    count = words(body)
    score = 0.9 if count >= NON_ARTICLE_WORDS else 0.7 if count >= SECOND_OPINION_WORDS else 0.5
    if extractor != "trafilatura":
        score *= 0.8  # the first opinion failed: the page is unusual
    if not has_title:
        score -= 0.1
    return round(score, 2)
