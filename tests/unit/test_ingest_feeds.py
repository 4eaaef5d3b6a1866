"""Feeds, sitemaps and the feeds file: parsed safely, with what the source says about each item."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from pydantic import ValidationError

from newsflow_common.dlq import Rejected
from newsflow_ingest.feeds import parse_feed
from newsflow_ingest.sitemaps import parse_sitemap
from newsflow_ingest.sources import PolledSource, load_sources

ROOT = Path(__file__).resolve().parents[2]
CONFIG = PolledSource(name="wire", url="https://wire.example/feed.xml", section="World")

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>The Wire</title><language>en-gb</language>
<item><title>Storm hits coast</title><link>https://wire.example/storm</link><guid>storm-1</guid>
<pubDate>Tue, 05 Mar 2024 09:30:00 +0100</pubDate><dc:creator>Ann Lee</dc:creator>
<description>&lt;p&gt;A storm hit the coast.&lt;/p&gt;</description></item>
<item><title>Second</title><link>https://wire.example/second</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Wire</title>
<entry><title>Atom story</title><link href="https://wire.example/atom"/><id>urn:atom:1</id>
<updated>2024-03-05T08:00:00Z</updated><author><name>Bo Chen</name></author><summary>Summary</summary></entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://wire.example/"><title>RDF Wire</title><link>https://wire.example/</link></channel>
<item rdf:about="https://wire.example/rdf"><title>RDF story</title><link>https://wire.example/rdf</link></item>
</rdf:RDF>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol4;</title><link>https://wire.example/bomb</link></item></channel></rss>"""


def test_rss_items_carry_title_date_author_summary_and_the_configured_section() -> None:
    feed = parse_feed(RSS, CONFIG)
    assert feed.problem is None
    storm, second = feed.items
    assert storm.link == "https://wire.example/storm"
    assert storm.key.startswith("item:https://wire.example/feed.xml:")
    assert storm.key.endswith("storm-1")
    assert storm.hints.title == "Storm hits coast"
    assert storm.hints.published_at == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)
    assert storm.hints.authors == ["Ann Lee"]
    assert storm.hints.summary == "<p>A storm hit the coast.</p>"
    assert (storm.hints.section, storm.hints.language, storm.hints.site_name) == ("World", "en", "The Wire")
    assert second.key.endswith("https://wire.example/second")  # no guid: the link identifies it


def test_atom_and_rdf_feeds_are_read_too() -> None:
    (atom,) = parse_feed(ATOM, CONFIG).items
    assert (atom.link, atom.hints.authors) == ("https://wire.example/atom", ["Bo Chen"])
    assert atom.hints.published_at == datetime(2024, 3, 5, 8, tzinfo=UTC)
    (rdf,) = parse_feed(RDF, CONFIG).items
    assert rdf.link == "https://wire.example/rdf"


def test_a_broken_feed_still_yields_its_valid_items_with_the_problem_noted() -> None:
    broken = RSS.replace(b"</channel></rss>", b"<item><title>Cut off & broken</title></item>")
    feed = parse_feed(broken, CONFIG)
    assert feed.problem is not None
    assert [item.hints.title for item in feed.items][:2] == ["Storm hits coast", "Second"]


def test_a_billion_laughs_feed_is_refused_without_expanding() -> None:
    with pytest.raises(Rejected) as refused:
        parse_feed(LAUGHS, CONFIG)
    assert refused.value.kind == "xml-entities"


def test_even_a_small_expansion_is_refused_which_feedparser_alone_would_expand() -> None:
    levels = "".join(f'<!ENTITY e{n} "{f"&e{n - 1};" * 10}">' for n in range(1, 4))
    small = f"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e0 "lol">{levels}]>
<rss version="2.0"><channel><title>&e3;</title><item><title>t</title><link>https://w.example/a</link></item>
</channel></rss>""".encode()
    assert len(feedparser.parse(small).feed.title) == 3_000  # what we keep feedparser from doing
    with pytest.raises(Rejected) as refused:
        parse_feed(small, CONFIG)
    assert refused.value.kind == "xml-entities"


def test_html_is_not_a_feed() -> None:
    with pytest.raises(Rejected) as refused:
        parse_feed(b"<html><body>Not a feed <p>at all</body></html>", CONFIG)
    assert refused.value.kind == "not-a-feed"


SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://wire.example/a</loc><lastmod>2024-03-05</lastmod></url>
<url><loc>https://wire.example/b</loc>
  <news:news><news:publication><news:name>The Wire</news:name><news:language>en</news:language></news:publication>
  <news:publication_date>2024-03-05T07:00:00+00:00</news:publication_date>
  <news:title>News B</news:title></news:news></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://wire.example/sitemap-1.xml</loc><lastmod>2024-03-05T10:00:00Z</lastmod></sitemap>
</sitemapindex>"""


def test_sitemaps_give_urls_with_lastmod_and_news_hints() -> None:
    a, b = parse_sitemap(SITEMAP).pages
    assert (a.loc, a.lastmod, a.modified) == ("https://wire.example/a", "2024-03-05", datetime(2024, 3, 5, tzinfo=UTC))
    assert b.hints is not None
    assert (b.hints.title, b.hints.site_name, b.hints.language) == ("News B", "The Wire", "en")
    assert b.modified == datetime(2024, 3, 5, 7, tzinfo=UTC)


def test_a_sitemap_index_lists_its_sitemaps() -> None:
    sitemap = parse_sitemap(INDEX)
    assert sitemap.pages == []
    assert [(c.loc, c.lastmod) for c in sitemap.children] == [
        ("https://wire.example/sitemap-1.xml", "2024-03-05T10:00:00Z")
    ]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (LAUGHS.replace(b"rss", b"urlset"), "xml-entities"),
        (b"<urlset><url><loc>x</loc>", "xml"),
        (b"<html><body/></html>", "not-a-sitemap"),
    ],
)
def test_bad_sitemaps_are_refused_with_a_reason(data: bytes, kind: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_sitemap(data)
    assert refused.value.kind == kind


def test_the_example_feeds_file_is_valid() -> None:
    sources = load_sources(ROOT / "deploy" / "feeds.example.yaml")
    assert sources.feeds
    assert sources.sitemaps


def test_a_feeds_file_with_a_mistake_says_where(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - {name: wire, url: 'ftp://wire.example/feed'}\n")
    with pytest.raises(ValidationError) as invalid:
        load_sources(path)
    assert "feeds.0.url" in str(invalid.value).replace("\n", " ").replace(" ", ".")
