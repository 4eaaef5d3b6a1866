"""What an HTML page says about itself: canonical URL, dates, language, links, forms.

Read from the parsed tree (lxml) with generic HTML and schema.org rules, never
with rules for particular sites.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement  # type: ignore[import-untyped]

from newsflow_parse.dates import Candidate, date_in_url, parse_any, parse_iso
from newsflow_parse.listing import DATE_RE
from newsflow_parse.textsize import word_count

PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publication_date",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "dcterms.issued",
    "sailthru.date",
    "parsely-pub-date",
)
ARTICLE_TYPES = re.compile(r"article|posting|report", re.I)  # NewsArticle, BlogPosting, Report, ...
AUTHOR_META = ("author", "article:author", "parsely-author", "sailthru.author", "byl", "dc.creator", "dcterms.creator")
TITLE_SEPARATORS = re.compile(r"\s+[|–—·-]\s+|\s+::\s+")  # "Headline | Site name"
AUTHOR_SEPARATORS = re.compile(r"\s*(?:;|,|&|\band\b)\s*")
NEAR_HEADLINE_ELEMENTS = 30  # how far after (or before) the headline a date line may sit
HEADLINE_MIN_WORDS, HEADLINE_MAX_WORDS = 4, 25
BLOCK_TAGS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "dd", "dt", "blockquote", "figcaption"})
TEASER_SHARE_OF_BLOCK = 0.6
CHROME_TAGS = frozenset({"header", "nav", "footer", "aside", "dialog", "menu"})
CHROME_ROLES = frozenset({"banner", "navigation", "contentinfo", "complementary", "dialog", "menu", "search"})
CHROME_NAMES = re.compile(
    r"(?:^|[\s_-])(?:(?:site|page|global|top)?header|masthead|nav(?:bar|igation)?|menu|top-?bar|toolbar|footer"
    r"|sidebar|side-?bar|modal|popup|pop-up|dropdown|drawer|overlay|account)(?:$|[\s_-])",
    re.IGNORECASE,
)
PLAIN_ROOT_PATH = re.compile(r"/[^/\\\x00-\x20?#;][^\\\x00-\x20?#;]*")  # "/news/1", not "//host" or "/a?b"


def meta_values(tree: HtmlElement) -> dict[str, str]:
    """``<meta>`` contents by lower-cased name/property/itemprop (first one wins)."""
    values: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop")
        content = meta.get("content")
        if key and content and key.lower() not in values:
            values[key.lower()] = content.strip()
    return values


@dataclass(frozen=True)
class Head:
    """What the page says about itself in markup, read once: meta contents and JSON-LD objects."""

    meta: dict[str, str]
    json_ld: list[dict[str, Any]]


def head(tree: HtmlElement) -> Head:
    return Head(meta_values(tree), list(json_ld_objects(tree)))


def meta_published(
    tree: HtmlElement, head: Head, relative_base: datetime, language: str | None = None
) -> datetime | None:
    for name in PUBLISHED_META:
        date = parse_any(head.meta.get(name), relative_base, language)
        if date is not None:
            return date
    for element in tree.xpath("//*[@itemprop='datePublished'][@datetime or @content]"):
        date = parse_any(element.get("datetime") or element.get("content"), relative_base, language)
        if date is not None:
            return date
    return None


def json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every object in the page's JSON-LD scripts, @graph and lists flattened; broken scripts skipped."""
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                stack.extend(value for key, value in item.items() if key in ("@graph", "mainEntity"))


def json_ld_published(head: Head) -> datetime | None:
    """datePublished of the page's article object (an object of an article type first)."""
    objects = sorted(head.json_ld, key=lambda obj: not ARTICLE_TYPES.search(str(obj.get("@type", ""))))
    for obj in objects:
        date = parse_iso(str(obj.get("datePublished") or ""))
        if date is not None:
            return date
    return None


def headline_element(tree: HtmlElement, title: str | None) -> HtmlElement | None:
    """The h1 that carries the title, else the first h1."""
    headlines = list(tree.iter("h1"))
    wanted = " ".join((title or "").split()).lower()
    for h1 in headlines:
        if wanted and " ".join(h1.text_content().split()).lower() == wanted:
            return h1
    return headlines[0] if headlines else None


def text_published(
    tree: HtmlElement, title: str | None, relative_base: datetime, language: str | None = None
) -> datetime | None:
    """A date written next to the headline: a ``<time>`` element or a short date line ("2 hours ago")."""
    h1 = headline_element(tree, title)
    if h1 is None:
        return None
    nearby = [*h1.xpath(f"following::*[position() <= {NEAR_HEADLINE_ELEMENTS}]")]
    nearby += h1.xpath(f"preceding::*[position() <= {NEAR_HEADLINE_ELEMENTS // 3}]")
    for element in nearby:
        if element.tag == "time":
            date = parse_any(element.get("datetime") or element.text_content(), relative_base, language)
            if date is not None:
                return date
        text = (element.text or "").strip()
        match = DATE_RE.search(text) if len(text) < 120 else None
        if match:
            date = parse_any(match.group(), relative_base, language)
            if date is not None:
                return date
    return None


def published_candidates(
    tree: HtmlElement,
    head: Head,
    title: str | None,
    url: str | None,
    fetched_at: datetime,
    language: str | None = None,
) -> Iterator[Candidate]:
    """The page's own dates in trust order: meta, JSON-LD, text near the headline, URL.

    Lazily: each is looked for only when the ones before gave no plausible date
    (``dates.choose`` stops at the first), so a page with a meta date is never
    searched for a date line.
    """
    yield "meta", meta_published(tree, head, fetched_at, language)
    yield "json-ld", json_ld_published(head)
    yield "text", text_published(tree, title, fetched_at, language)
    yield "url", date_in_url(url)


def canonical_url(tree: HtmlElement, fetched_url: str | None, head: Head) -> str | None:
    """``link rel=canonical``, else ``og:url``, resolved; a canonical pointing at the site's root is ignored."""
    candidates = [*tree.xpath("//link[@rel='canonical']/@href"), head.meta.get("og:url")]
    for href in candidates:
        if not href or not str(href).strip():
            continue
        url = urljoin(fetched_url or "", str(href).strip())
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        fetched_path = urlsplit(fetched_url or "").path
        if parts.path in ("", "/") and fetched_path not in ("", "/"):
            continue  # a misconfigured site sends every page's canonical to its home page
        return url
    return fetched_url


def language(tree: HtmlElement, head: Head) -> str | None:
    """The language the page declares (``<html lang>``, content-language), as a 2-letter code."""
    declared = tree.get("lang") or head.meta.get("content-language") or ""
    code = declared.strip().split("-")[0].split("_")[0].lower()
    return code if re.fullmatch(r"[a-z]{2}", code) else None


def password_in_main_content(tree: HtmlElement) -> bool:
    """A password field in the page's main content: a login wall, not the site's own login box.

    Sites put a login box in their header, navigation, sidebar or a modal on
    every page, short articles included; a wall puts its form where the story
    should be. A field counts when no ancestor is page chrome (landmark
    elements and roles, or a class/id naming a header, menu, sidebar, modal...)
    and it does not come before the page's headline (the masthead's place).
    """
    for field in tree.xpath("//input[translate(@type, 'PASSWORD', 'password')='password']"):
        if not in_chrome(field) and not field.xpath("following::h1"):
            return True
    return False


def in_chrome(element: HtmlElement) -> bool:
    """Whether the element sits in the page's chrome: header, navigation, footer, sidebar, dialog."""
    for ancestor in element.iterancestors():
        if ancestor.tag in CHROME_TAGS or (ancestor.get("role") or "").lower() in CHROME_ROLES:
            return True
        names = f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}"
        if CHROME_NAMES.search(names):
            return True
    return False


def page_headings(tree: HtmlElement) -> list[str]:
    """The ``<title>`` and the h1s' texts."""
    return [" ".join(el.text_content().split()) for el in tree.xpath("//title | //h1")]


@dataclass(frozen=True)
class Teaser:
    """A link that reads as a story's headline: its absolute URL, the headline and the anchor element."""

    url: str
    headline: str
    anchor: HtmlElement


def teaser_links(tree: HtmlElement, page_url: str | None) -> list[Teaser]:
    """Links that look like a teaser's headline, in page order, one per URL, the page itself left out.

    A headline is 4-25 words and is (nearly) all the text of its block: a
    link inside a sentence is not a teaser. The link stays on the page's site
    (any absolute link when the page's URL is unknown) and is not the root.
    """
    page = urlsplit(page_url or "")
    site = page.netloc.lower().removeprefix("www.")
    origin = f"{page.scheme}://{page.netloc}" if page.scheme in ("http", "https") and page.netloc else None
    teasers: dict[str, Teaser] = {}
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href:
            continue
        text = " ".join(anchor.text_content().split())
        if not HEADLINE_MIN_WORDS <= word_count(text) <= HEADLINE_MAX_WORDS:
            continue
        if not stands_alone(anchor, text):
            continue
        url = resolve(href, page_url, origin)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.path in ("", "/") or url in teasers:
            continue
        if site and parts.netloc.lower().removeprefix("www.") != site:
            continue
        if page_url and parts.path == page.path and parts.query == page.query:
            continue
        teasers[url] = Teaser(url, text, anchor)
    return list(teasers.values())


def resolve(href: str, page_url: str | None, origin: str | None) -> str:
    """``urljoin(page_url, href)`` without its fragment; a plain path from the root ("/news/1") the short way.

    The short way gives what urljoin gives: ``origin`` is the page URL's
    scheme and host, and a path without dot segments, parameters, a query, a
    fragment, spaces or control characters is joined unchanged.
    """
    if origin and PLAIN_ROOT_PATH.fullmatch(href) and "/." not in href:
        return origin + href
    return urljoin(page_url or "", href).split("#", 1)[0]


def stands_alone(anchor: HtmlElement, text: str) -> bool:
    """Whether the link's text is most of its block's text (a headline), not a phrase inside a sentence."""
    block = anchor.getparent()
    while block is not None and block.tag not in BLOCK_TAGS:
        block = block.getparent()
    return block is None or len(text) >= TEASER_SHARE_OF_BLOCK * len(" ".join(block.text_content().split()))


def teaser_blocks(teasers: list[Teaser]) -> list[str]:
    """Each teaser's block text: its largest ancestor that holds no other teaser (headline, summary, date)."""
    counts: dict[HtmlElement, int] = {}
    for teaser in teasers:
        for ancestor in teaser.anchor.iterancestors():
            counts[ancestor] = counts.get(ancestor, 0) + 1
    blocks = []
    for teaser in teasers:
        block = teaser.anchor
        for ancestor in teaser.anchor.iterancestors():
            if counts[ancestor] > 1:
                break
            block = ancestor
        blocks.append(" ".join(block.text_content().split()))
    return blocks


@dataclass(frozen=True)
class PageMeta:
    """What the page's head and JSON-LD say about its article."""

    title: str | None
    authors: tuple[str, ...]
    section: str | None
    site_name: str | None
    description: str | None


def metadata(tree: HtmlElement, head: Head) -> PageMeta:
    """Title, authors, section, site name and description from meta tags, JSON-LD and the headline."""
    meta = head.meta
    article = next((obj for obj in head.json_ld if ARTICLE_TYPES.search(str(obj.get("@type", "")))), {})
    return PageMeta(
        title=first_text(meta.get("og:title"), article.get("headline"), h1_text(tree), page_title(tree)),
        authors=authors(meta, article),
        section=first_text(meta.get("article:section"), article.get("articleSection")),
        site_name=first_text(meta.get("og:site_name"), name_of(article.get("publisher")), meta.get("application-name")),
        description=first_text(meta.get("description"), meta.get("og:description"), meta.get("twitter:description")),
    )


def headline_forms(tree: HtmlElement, head: Head) -> frozenset[str]:
    """Every way the page writes its headline (og:title, twitter:title, h1, <title> and its parts), casefolded."""
    forms = set()
    for value in (head.meta.get("og:title"), head.meta.get("twitter:title"), h1_text(tree), tree.findtext(".//title")):
        if value and value.strip():
            forms.add(" ".join(value.split()).casefold())
            forms.update(" ".join(part.split()).casefold() for part in TITLE_SEPARATORS.split(value) if part.strip())
    return frozenset(forms)


def first_text(*values: object) -> str | None:
    """The first non-blank text among the values (the first item of a list), whitespace collapsed."""
    for value in values:
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return None


def name_of(value: object) -> str | None:
    """A schema.org Person/Organization's name, or a plain string."""
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) else None


def h1_text(tree: HtmlElement) -> str | None:
    h1 = next(tree.iter("h1"), None)
    return h1.text_content() if h1 is not None else None


def page_title(tree: HtmlElement) -> str | None:
    """The ``<title>`` without the site's name: its longest part around " | ", " - "."""
    title = first_text(tree.findtext(".//title"))
    return max(TITLE_SEPARATORS.split(title), key=len) if title else None


def authors(meta: dict[str, str], article: dict[str, Any]) -> tuple[str, ...]:
    """Author names from JSON-LD, else the meta tags; profile URLs and "By" prefixes left out."""
    found = article.get("author")
    names = [name for item in (found if isinstance(found, list) else [found]) if (name := name_of(item))]
    if not names:
        names = [value for key in AUTHOR_META if (value := meta.get(key))][:1]
    result: list[str] = []
    for name in names:
        if name.startswith(("http://", "https://")):
            continue
        for part in AUTHOR_SEPARATORS.split(re.sub(r"^by\s+", "", name.strip(), flags=re.I)):
            if part and part not in result:
                result.append(part)
    return tuple(result)
