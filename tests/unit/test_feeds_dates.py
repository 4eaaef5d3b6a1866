"""The more precise of agreeing dates wins: a day in the URL path must not outrank the feed's full timestamp."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow_parse import dates
from newsflow_parse.extract import extract
from newsflow_schemas import Article, RawDocument, SourceHints

FETCHED = datetime(2024, 3, 6, 12, tzinfo=UTC)
DAY = datetime(2024, 3, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        # the URL's day agrees with the feed's timestamp: the timestamp tells more
        (
            [("url", DAY), ("feed", datetime(2024, 3, 5, 9, 30, tzinfo=UTC))],
            (datetime(2024, 3, 5, 9, 30, tzinfo=UTC), "feed"),
        ),
        # late in the evening west of UTC is the next day in UTC: still the same day where it was written
        (
            [("url", DAY), ("feed", datetime(2024, 3, 6, 3, 30, tzinfo=UTC))],
            (datetime(2024, 3, 6, 3, 30, tzinfo=UTC), "feed"),
        ),
        # a day-only meta date and a timestamp near the headline on that day
        (
            [("meta", DAY), ("text", datetime(2024, 3, 5, 18, tzinfo=UTC))],
            (datetime(2024, 3, 5, 18, tzinfo=UTC), "text"),
        ),
        # they disagree: trust order decides, as before
        ([("url", DAY), ("feed", datetime(2024, 2, 1, 9, 30, tzinfo=UTC))], (DAY, "url")),
        # the first is precise already: it wins
        (
            [("meta", datetime(2024, 3, 5, 8, tzinfo=UTC)), ("feed", datetime(2024, 3, 5, 9, tzinfo=UTC))],
            (datetime(2024, 3, 5, 8, tzinfo=UTC), "meta"),
        ),
        # nothing more precise comes: the day stays
        ([("url", DAY), ("feed", None)], (DAY, "url")),
        ([("url", None), ("feed", None)], (FETCHED, "fetch-time")),
    ],
)
def test_the_more_precise_of_agreeing_dates_wins(
    candidates: list[dates.Candidate], expected: tuple[datetime, str]
) -> None:
    assert dates.choose(candidates, FETCHED) == expected


def test_a_feed_items_page_dated_only_in_its_url_gets_the_feeds_time() -> None:
    text = "<p>" + " ".join(["The council met on Tuesday and voted on the budget for the coming year."] * 12) + "</p>"
    page = f"<html><head><title>Council votes</title></head><body><article><h1>Council votes</h1>{text}</article>"
    raw = RawDocument(
        trace_id="t",
        doc_id="d",
        source="wire",
        uri="https://wire.example/2024/03/05/council-votes",
        url="https://wire.example/2024/03/05/council-votes",
        content_type="text/html",
        charset="utf-8",
        body=page + "</body></html>",
        fetched_at=FETCHED,
        hints=SourceHints(title="Council votes", published_at=datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
    )
    (article,) = extract(raw, now=FETCHED)
    assert isinstance(article, Article)
    assert (article.published_at, article.published_at_source) == (datetime(2024, 3, 5, 9, 30, tzinfo=UTC), "feed")
