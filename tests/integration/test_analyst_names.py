"""An entity by any name it goes by, against Elasticsearch: the issue's 'Trump' found 1 article of 12.

Articles carry canonical names, written here straight into an index with the real article mapping (the
index service's path is covered by test_index_queries.py); the analyst's queries run as the CLI runs them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch

from newsflow_analyst import queries
from newsflow_index.mappings import ARTICLE_PROPERTIES

pytestmark = pytest.mark.integration
DAY = datetime(2025, 1, 20, tzinfo=UTC)


def article(i: int, *persons: str) -> dict[str, Any]:
    return {
        "article_id": f"a{i}",
        "source": "wire",
        "title": f"Story {i}",
        "published_at": (DAY + timedelta(hours=i)).isoformat(),
        "entities": [{"name": name, "type": "PERSON", "count": 1, "first_offset": 0} for name in persons],
        "persons": list(persons),
    }


@pytest.fixture
async def index(servers: tuple[str, str]) -> AsyncIterator[tuple[AsyncElasticsearch, str]]:
    client = AsyncElasticsearch(servers[1])
    name = f"names-{uuid.uuid4().hex[:8]}"
    await client.indices.create(index=name, mappings={"dynamic": "strict", "properties": ARTICLE_PROPERTIES})
    docs = [article(i, "Donald Trump") for i in range(10)]
    docs += [article(10, "Donald Trump", "Ivanka Trump"), article(11, "Trump"), article(12, "Ivanka Trump")]
    docs += [article(13, "Angela Merkel")]
    for doc in docs:
        await client.index(index=name, id=doc["article_id"], document=doc)
    await client.indices.refresh(index=name)
    try:
        yield client, name
    finally:
        await client.indices.delete(index=name)
        await client.close()


async def test_a_surname_finds_the_articles_of_the_full_name_too(index: tuple[AsyncElasticsearch, str]) -> None:
    client, name = index
    periods = await queries.timeline(client, name, "Trump", "day")
    assert sum(p["articles"] for p in periods) == 12  # Trump alone 1, Donald Trump 11; Ivanka Trump alone not
    found = await queries.search(client, name, None, queries.Filters(entity="donald trump"), size=20)
    assert found["total"] == 11
    related = await queries.cooccurring(client, name, "Trump")
    assert [(r["name"], r["articles"]) for r in related] == [("Ivanka Trump", 1)]  # itself left out, any name


async def test_a_name_nothing_goes_by_answers_did_you_mean(index: tuple[AsyncElasticsearch, str]) -> None:
    client, name = index
    with pytest.raises(queries.UnknownEntity) as error:
        await queries.timeline(client, name, "Angela Merkl", "day")
    assert error.value.suggestions == ["Angela Merkel"]
