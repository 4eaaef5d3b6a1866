"""Deterministic ids: a replay overwrites instead of duplicating."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow_schemas.ids import article_id, normalize_url


def test_normalize_url_drops_tracking_fragment_and_case():
    url = "HTTPS://News.Example.COM:443/world/story?utm_source=x&fbclid=y&gclid=z&id=7#comments"
    assert normalize_url(url) == "https://news.example.com/world/story?id=7"


def test_normalize_url_keeps_real_parameters_in_stable_order():
    assert normalize_url("http://a.com/p?b=2&a=1") == normalize_url("http://a.com/p?a=1&b=2")
    assert normalize_url("http://a.com:8080/p") == "http://a.com:8080/p"


def test_article_id_prefers_url_then_title_and_date_then_content():
    when = datetime(2024, 12, 25, 9, tzinfo=UTC)
    by_url = article_id(url="https://a.com/x?utm_medium=y", source="s", title="T", published_at=when, body="b")
    assert by_url == article_id(url="https://A.com/x", source="other", title="U", published_at=None, body="c")
    by_title = article_id(url=None, source="s", title="Title", published_at=when, body="b")
    assert by_title == article_id(url=None, source="s", title="title ", published_at=when, body="changed")
    by_content = article_id(url=None, source="s", title="Title", published_at=None, body="b")
    assert len({by_url, by_title, by_content}) == 3
    assert by_content != article_id(url=None, source="s", title="Title", published_at=None, body="other body")
