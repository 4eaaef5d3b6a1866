"""The newsroom page's side of newsflow-api: the page is served at /, and the routes it reads are documented.

The page itself is tested in a browser (tests/integration/test_page.py); here, what needs no Elasticsearch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from newsflow_analyst import api, queries
from newsflow_analyst.contract import SearchHit
from newsflow_analyst.settings import ApiSettings
from newsflow_common import es
from newsflow_common.health import Health


@pytest.fixture
async def http() -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    settings = ApiSettings(elasticsearch_url="http://127.0.0.1:9")
    client = es.client(settings)
    async with TestClient(TestServer(api.make_api(client, settings, Health("test-api")))) as served:
        yield served
    await client.close()


async def test_the_page_is_served_at_the_root_with_its_script_and_style(http: TestClient) -> None:  # type: ignore[type-arg]
    response = await http.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    assert "<title>newsflow" in html
    # The page only talks to its own origin: no inline script, nothing from elsewhere.
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in ("/page/page.js", "/page/page.css"):
        assert asset in html
        served = await http.get(asset)
        assert served.status == 200, asset


async def test_the_page_folder_serves_nothing_outside_it(http: TestClient) -> None:  # type: ignore[type-arg]
    for path in ("/page/../api.py", "/page/%2e%2e/api.py", "/page/missing.js"):
        assert (await http.get(path)).status in (403, 404), path


async def test_a_history_with_a_bad_end_or_length_is_refused_with_the_reason(http: TestClient) -> None:  # type: ignore[type-arg]
    for params, words in [({"end": "yesterday"}, "ISO 8601"), ({"end": "2024-05-07", "length": "0"}, "length")]:
        response = await http.get("/trends/Oslo/history", params=params)
        assert response.status == 400, params
        assert words in (await response.json())["error"], params


def test_the_openapi_document_describes_the_history_route_and_the_cluster_of_a_hit() -> None:
    document = api.openapi()
    history = document["paths"]["/trends/{term}/history"]["get"]
    assert {p["name"] for p in history["parameters"]} >= {"term", "type", "end", "length", "size"}
    assert "cluster_id" in document["components"]["schemas"]["SearchHit"]["properties"]
    assert "/" not in document["paths"], "the page is not part of the JSON API"


def test_a_search_hit_carries_its_story_cluster() -> None:
    assert "cluster_id" in queries.SEARCH_FIELDS
    assert SearchHit.model_validate({"article_id": "a", "cluster_id": "story-1"}).cluster_id == "story-1"


END = datetime(2024, 5, 7, 12, tzinfo=UTC)


def window(end: datetime, length: timedelta, count: int) -> dict[str, object]:
    return {"window_start": (end - length).isoformat(), "window_end": end.isoformat(), "count": count, "score": 1.0}


def test_history_asks_for_the_windows_of_one_length_ending_one_length_apart() -> None:
    ends = queries.history_ends(END, timedelta(hours=1), 3)
    assert ends == [END - timedelta(hours=2), END - timedelta(hours=1), END]


@given(
    length=st.sampled_from([timedelta(minutes=15), timedelta(hours=1), timedelta(days=1)]),
    size=st.integers(1, 30),
    found=st.sets(st.integers(0, 29)),
    other_length=st.sets(st.integers(0, 29)),
)
def test_history_has_one_point_per_asked_window_oldest_first_and_ignores_other_lengths(
    length: timedelta, size: int, found: set[int], other_length: set[int]
) -> None:
    ends = queries.history_ends(END, length, size)
    stored = [window(ends[i], length, 10 + i) for i in found if i < size]
    stored += [window(ends[i], length * 2, 999) for i in other_length if i < size]
    points = queries.history_points(ends, length, stored)
    assert [p["window_end"] for p in points] == [end.isoformat() for end in ends]
    assert [p["count"] for p in points] == [10 + i if i in found else None for i in range(size)]
