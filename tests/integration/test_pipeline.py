"""The whole pipeline on real protocols: a scraped page from a file to searchable articles."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import jsonschema
import pytest
from elasticsearch import Elasticsearch

from newsflow_schemas.jsonschema import DEFAULT_DIR as SCHEMA_DIR
from tests.conftest import SAMPLE
from tests.integration.harness import BIN, Kafka, Service, indexed, wait_until

pytestmark = pytest.mark.integration
CHROME = ("Continue Reading", "Connect with us", "MOST READ")


@pytest.fixture(scope="module")
def sample_source(pipeline: dict[str, Service], service_env: dict[str, str], es: Elasticsearch) -> str:
    """Ingest the sample page once, under a source of its own, and wait for its four stories."""
    source = f"sample-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [str(BIN / "newsflow-ingest"), "--source", source, str(SAMPLE)],
        env={**os.environ, **service_env},
        check=True,
        timeout=120,
    )
    wait_until(lambda: len(indexed(es, source)) >= 4, 180, "the sample's four stories to be indexed")
    return source


def search(es: Elasticsearch, source: str, text: str) -> list[str]:
    query = {
        "bool": {
            "must": {"multi_match": {"query": text, "fields": ["title", "body"]}},
            "filter": {"term": {"source": source}},
        }
    }
    return [hit["_source"]["title"] for hit in es.search(index="news-articles", query=query)["hits"]["hits"]]


def test_sample_page_becomes_four_searchable_stories(sample_source: str, es: Elasticsearch) -> None:
    articles = indexed(es, sample_source)
    assert len(articles) == 4
    assert {a["section"] for a in articles} == {"ASIA"}
    assert sorted(search(es, sample_source, "Taliban")) == [
        "Three years history of anti-Taliban movements and their common failures",
        "Trust issue: Pakistan and Afghanistan to boost up fraternal ties",
    ]
    assert search(es, sample_source, "Kazakhstan") == [
        "A passenger plane travelling from Baku to Grozny crashes in Kazakhstan"
    ]
    for article in articles:
        for chrome in CHROME:
            assert chrome not in article["body"], f"{chrome!r} left in {article['title']!r}"


def test_top_people_include_sirajuddin_haqqani(sample_source: str, service_env: dict[str, str]) -> None:
    out = subprocess.run(
        [str(BIN / "newsflow-query"), "top", "--type", "PERSON", "--source", sample_source, "--json"],
        env={**os.environ, **service_env},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    people = [row["name"] for row in json.loads(out.stdout)]
    assert "Sirajuddin Haqqani" in people


@pytest.mark.parametrize("topic", ["news.raw.v1", "news.articles.v1", "news.enriched.v1"])
def test_topic_messages_validate_against_checked_in_json_schema(sample_source: str, kafka: Kafka, topic: str) -> None:
    schema = json.loads((SCHEMA_DIR / f"{topic}.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    ours = [r for r in kafka.read(topic) if isinstance(r["value"], dict) and r["value"].get("source") == sample_source]
    assert len(ours) == (1 if topic == "news.raw.v1" else 4)
    for record in ours:
        validator.validate(record["value"])
        assert record["headers"]["content-type"] == b"application/json"
        assert record["headers"]["trace-id"].decode() == record["value"]["trace_id"]
        key_field = schema["x-key"]
        assert record["key"].decode() == record["value"][key_field]
