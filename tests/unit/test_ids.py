"""Deterministic ids: a replay overwrites instead of duplicating, and one page has one id however it is spelled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsflow_schemas.ids import URL_ID_SCHEME, article_id, normalize_url


def url_id(url: str) -> str:
    return article_id(url=url, source="s", title="T", published_at=None, body="b")


def test_normalize_url_drops_tracking_fragment_and_case():
    url = "HTTPS://News.Example.COM:443/world/story?utm_source=x&fbclid=y&gclid=z&id=7#comments"
    assert normalize_url(url) == "https://news.example.com/world/story?id=7"


def test_normalize_url_keeps_real_parameters_in_stable_order():
    assert normalize_url("http://a.com/p?b=2&a=1") == normalize_url("http://a.com/p?a=1&b=2")
    assert normalize_url("http://a.com:8080/p") == "http://a.com:8080/p"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://a.com/%7euser/x", "https://a.com/~user/x"),
        ("https://a.com/%7Euser/x", "https://a.com/~user/x"),
        ("https://münchen.de/x", "https://xn--mnchen-3ya.de/x"),
        ("https://MÜNCHEN.de/x", "https://xn--mnchen-3ya.de/x"),
        ("https://a.com//a//b", "https://a.com/a/b"),
        ("https://a.com/a/../b", "https://a.com/b"),
        ("https://a.com/./a/./b", "https://a.com/a/b"),
        ("https://a.com/p?_hsenc=x&id=3", "https://a.com/p?id=3"),
        ("https://a.com/p?yclid=1&id=3", "https://a.com/p?id=3"),
        ("https://a.com/p?oly_enc_id=2&id=3&mc_eid=5", "https://a.com/p?id=3"),
        ("https://a.com/p?utm%5Fsource=x&id=3", "https://a.com/p?id=3"),
        ("https://a.com/p?", "https://a.com/p"),
        ("https://a.com", "https://a.com/"),
    ],
)
def test_equivalent_spellings_of_a_page_give_one_id(one: str, other: str):
    assert normalize_url(one) == normalize_url(other)
    assert url_id(one) == url_id(other)


def test_a_space_stays_percent_encoded_instead_of_becoming_a_plus():
    # "+" in a path means a plus sign: turning %20 into + would point canonical_url at another page.
    assert normalize_url("https://a.com/a%20b?q=x%20y") == "https://a.com/a%20b?q=x%20y"


def test_different_pages_keep_different_ids():
    pages = [
        "https://a.com/a/b",
        "https://a.com/a/b/",
        "https://a.com/A/b",
        "https://a.com/a%2Fb",
        "https://a.com/p?id=3",
        "https://a.com/p?id=4",
        "https://a.com/p?q=a%20b",
        "https://a.com:8443/a/b",
        "http://b.com/a/b",
    ]
    assert len({url_id(page) for page in pages}) == len(pages)


def test_url_ids_carry_their_scheme_version():
    # The id is Elasticsearch's _id: a new canonicalisation is a new scheme, told apart by its prefix
    # (docs/decisions/011-url-canonicalisation.md).
    assert url_id("https://a.com/x").startswith(f"{URL_ID_SCHEME}-")
    assert URL_ID_SCHEME != "u", "u- is the first scheme's prefix; its ids must not be reused"


def test_article_id_prefers_url_then_title_and_date_then_content():
    when = datetime(2024, 12, 25, 9, tzinfo=UTC)
    by_url = article_id(url="https://a.com/x?utm_medium=y", source="s", title="T", published_at=when, body="b")
    assert by_url == article_id(url="https://A.com/x", source="other", title="U", published_at=None, body="c")
    by_title = article_id(url=None, source="s", title="Title", published_at=when, body="b")
    assert by_title == article_id(url=None, source="s", title="title ", published_at=when, body="changed")
    by_content = article_id(url=None, source="s", title="Title", published_at=None, body="b")
    assert len({by_url, by_title, by_content}) == 3
    assert by_content != article_id(url=None, source="s", title="Title", published_at=None, body="other body")


# --- generated pages and their spellings ---------------------------------------------------------

UNRESERVED = "abcdefghijklmnopqrstuvwxyz0123456789-_~"
TRACKING = ["utm_source=news", "utm_medium=rss", "fbclid=abc", "gclid=1", "_hsenc=p2", "yclid=9", "oly_enc_id=x"]
HOSTS = [
    ("münchen.de", "xn--mnchen-3ya.de"),
    ("news.example.com", "news.example.com"),
    ("bücher.at", "xn--bcher-kva.at"),
]

segments = st.lists(st.text(UNRESERVED, min_size=1, max_size=8), min_size=1, max_size=4)
params = st.dictionaries(st.text("abcdefghijk", min_size=1, max_size=4), st.text(UNRESERVED, max_size=6), max_size=3)
pages = st.tuples(st.sampled_from(["http", "https"]), st.sampled_from(HOSTS), segments, params)


def canonical_spelling(page: tuple[str, tuple[str, str], list[str], dict[str, str]]) -> str:
    scheme, (_, ascii_host), path, query = page
    return f"{scheme}://{ascii_host}/{'/'.join(path)}?" + "&".join(f"{k}={v}" for k, v in query.items())


@st.composite
def spelling(draw: st.DrawFn, page: tuple[str, tuple[str, str], list[str], dict[str, str]]) -> str:
    """Another way to write the same page: case, IDN, escapes, dot segments, slashes, tracking, order, fragment."""
    scheme, (unicode_host, ascii_host), path, query = page
    host = draw(st.sampled_from([unicode_host, ascii_host, ascii_host.upper()]))
    default_port = {"http": ":80", "https": ":443"}[scheme]
    port = draw(st.sampled_from(["", default_port]))

    def escaped(segment: str) -> str:
        """Some characters as %xx or %XX: the same character to RFC 3986 when it is unreserved."""
        return "".join(f"%{ord(c):02{draw(st.sampled_from('xX'))}}" if draw(st.booleans()) else c for c in segment)

    words = []
    for position, segment in enumerate(path):
        words.append(escaped(segment))
        if position < len(path) - 1:  # after the last segment any of these would add a trailing slash
            words += draw(st.sampled_from([[], ["."], ["zz", ".."], [""]]))
    items = [f"{k}={v}" for k, v in query.items()] + draw(st.lists(st.sampled_from(TRACKING), max_size=3))
    items = draw(st.permutations(items))
    fragment = draw(st.sampled_from(["", "#top", "#comments"]))
    return f"{draw(st.sampled_from([scheme, scheme.upper()]))}://{host}{port}/{'/'.join(words)}?{'&'.join(items)}{fragment}"


@given(st.data(), pages)
def test_equivalent_spellings_give_one_id(data: st.DataObject, page) -> None:
    one, other = data.draw(spelling(page)), data.draw(spelling(page))
    assert url_id(one) == url_id(other), (one, other, normalize_url(one), normalize_url(other))


@given(pages, pages)
def test_different_pages_give_different_ids(one, other) -> None:
    scheme, (_, host), path, query = one
    same = (scheme, host, path, query) == (other[0], other[1][1], other[2], other[3])
    assert (url_id(canonical_spelling(one)) == url_id(canonical_spelling(other))) == same


@given(st.text(max_size=60))
def test_any_text_gets_an_id_without_raising(text: str) -> None:
    assert url_id(text)
