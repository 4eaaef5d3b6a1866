"""Feed items as real feeds write them: markup in titles, `email (Name)` authors, no link, fragments, Italian dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow_ingest.feeds import FeedItem, clean_author, clean_text, parse_feed
from newsflow_ingest.sitemaps import parse_sitemap
from newsflow_ingest.sources import PolledSource

CONFIG = PolledSource(name="wire", url="https://wire.example/feed.xml")


def rss(items: str, channel: str = "<title>Wire</title>") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>{channel}{items}</channel></rss>'
    ).encode()


def one(items: str, channel: str = "<title>Wire</title>") -> FeedItem:
    (item,) = parse_feed(rss(items, channel), CONFIG).items
    return item


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("&lt;b&gt;Big&lt;/b&gt; news &amp;amp; more", "Big news & more"),
        ("<![CDATA[<i>Italic</i> &amp; <b>bold</b>]]>", "Italic & bold"),
        ("It&amp;#8217;s   here", "It’s here"),
        ("Plain &amp; simple", "Plain & simple"),
        ("&lt;p&gt;Line&lt;br/&gt;break&lt;/p&gt;", "Line break"),
    ],
)
def test_titles_reach_the_index_without_markup_or_entities(title: str, expected: str) -> None:
    item = one(f"<item><title>{title}</title><link>https://wire.example/a</link></item>")
    assert item.hints.title == expected


def test_atom_html_titles_and_the_feed_title_are_cleaned_too() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<title type="html">&lt;b&gt;Wire&lt;/b&gt;</title>
<entry><title type="html">&lt;em&gt;Atom&lt;/em&gt; &amp;amp; co</title><link href="https://wire.example/a"/><id>urn:1</id></entry>
</feed>"""
    (item,) = parse_feed(atom, CONFIG).items
    assert (item.hints.title, item.hints.site_name) == ("Atom & co", "Wire")


def test_google_news_sitemap_titles_are_cleaned_too() -> None:
    sitemap = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
 xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>https://wire.example/a</loc>
<news:news><news:title>&lt;b&gt;Big&lt;/b&gt; news &amp;amp; more</news:title></news:news></url></urlset>"""
    (entry,) = parse_sitemap(sitemap).pages
    assert entry.hints is not None
    assert entry.hints.title == "Big news & more"


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("<author>desk@wire.example (Ann Lee)</author>", ["Ann Lee"]),
        ("<dc:creator>ann@wire.example (Ann Lee)</dc:creator>", ["Ann Lee"]),
        ("<author>Ann Lee &lt;ann@wire.example&gt;</author>", ["Ann Lee"]),
        ("<dc:creator><![CDATA[<b>Bo Chen</b>]]></dc:creator>", ["Bo Chen"]),
        ("<dc:creator>Bo Chen</dc:creator>", ["Bo Chen"]),
        ("<author>desk@wire.example</author>", []),  # an address is not a byline
    ],
)
def test_authors_are_names(author: str, expected: list[str]) -> None:
    item = one(f"<item><title>T</title><link>https://wire.example/a</link>{author}</item>")
    assert item.hints.authors == expected


def test_atom_authors_keep_every_name() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>W</title>
<entry><title>T</title><link href="https://wire.example/a"/><id>urn:1</id>
<author><name>Ann Lee</name><email>ann@wire.example</email></author><author><name>Bo Chen</name></author></entry>
</feed>"""
    (item,) = parse_feed(atom, CONFIG).items
    assert item.hints.authors == ["Ann Lee", "Bo Chen"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@x.example (Ann Lee)", "Ann Lee"),
        ("Ann Lee <ann@x.example>", "Ann Lee"),
        ('"Lee, Ann" <ann@x.example>', "Lee, Ann"),
        ("By Ann Lee", "By Ann Lee"),
        ("ann@x.example", None),
        ("  ", None),
        ("Ann (Sports desk)", "Ann (Sports desk)"),
    ],
)
def test_clean_author(raw: str, expected: str | None) -> None:
    assert clean_author(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a < b", "a < b"), ("", None), ("<b></b>", None), ("x &amp;lt; y", "x < y"), ("Tom &amp; Jerry", "Tom & Jerry")],
)
def test_clean_text(raw: str, expected: str | None) -> None:
    assert clean_text(raw) == expected


def test_an_item_without_a_link_keeps_its_own_content_and_identity() -> None:
    item = one(
        '<item><title>Council votes</title><guid isPermaLink="false">tag:wire,2024:77</guid>'
        "<pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate><description>Short summary.</description>"
        "<content:encoded>&lt;p&gt;The full text of the story.&lt;/p&gt;</content:encoded></item>"
    )
    assert item.link is None
    assert item.guid == "tag:wire,2024:77"
    assert item.content == "<p>The full text of the story.</p>"
    assert item.hints.summary == "Short summary."


def test_guids_that_differ_by_a_fragment_are_two_items() -> None:
    feed = parse_feed(
        rss(
            "<item><title>Update 1</title><guid>https://wire.example/live#post-1</guid></item>"
            "<item><title>Update 2</title><guid>https://wire.example/live#post-2</guid></item>"
        ),
        CONFIG,
    )
    first, second = feed.items
    assert first.key != second.key
    assert (first.guid, second.guid) == ("https://wire.example/live#post-1", "https://wire.example/live#post-2")


@pytest.mark.parametrize(
    ("language", "date", "expected"),
    [
        ("it", "mer, 16 nov 2022 10:00:00 +0100", datetime(2022, 11, 16, 9, tzinfo=UTC)),
        ("de", "Mi, 16 Nov 2022 10:00:00 +0100", datetime(2022, 11, 16, 9, tzinfo=UTC)),
        ("fr", "mer., 16 nov. 2022 10:00:00 +0100", datetime(2022, 11, 16, 9, tzinfo=UTC)),
        ("en", "Wed, 16 Nov 2022 10:00:00 +0100", datetime(2022, 11, 16, 9, tzinfo=UTC)),
        ("it", "mercoledì 16 novembre 2022, 10:00", datetime(2022, 11, 16, 10, tzinfo=UTC)),
    ],
)
def test_feed_dates_in_the_feeds_language_are_read(language: str, date: str, expected: datetime) -> None:
    item = one(
        f"<item><title>T</title><link>https://wire.example/a</link><pubDate>{date}</pubDate></item>",
        channel=f"<title>Wire</title><language>{language}</language>",
    )
    assert item.hints.published_at == expected


def test_a_date_nobody_can_read_is_no_date() -> None:
    item = one("<item><title>T</title><link>https://wire.example/a</link><pubDate>soon, maybe</pubDate></item>")
    assert item.hints.published_at is None
