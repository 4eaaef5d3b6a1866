"""The analyst's tools against known data: 300 generated articles and a few trends, indexed by the real index service.

Every CLI command (and the HTTP API) must return exactly what the generated data implies: which articles
match, in which order, with which counts. The articles span three months, so the queries read through
the alias over several monthly indices.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from newsflow_analyst import cli as query
from newsflow_analyst import queries
from newsflow_schemas import EnrichedArticle, Entity, TrendCount
from tests.integration.harness import Kafka, Service, wait_until

pytestmark = pytest.mark.integration

COUNT = 300
PERSONS = ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
ORGS = ["Acme Corp", "Globex"]
PLACES = ["Lisbon", "Oslo", "Quito"]
SECTIONS = ["World", "Business", "Sport"]
SITES = ["Alpha News", "Beta Times"]
START = datetime(2024, 2, 27, tzinfo=UTC)


def published(i: int) -> datetime | None:
    return None if i % 50 == 49 else START + timedelta(hours=5 * i)


def generated(source: str) -> list[EnrichedArticle]:
    """Article i: its person, org, place, section, site, language, date and cluster follow from i."""
    now = datetime.now(UTC)
    articles = []
    for i in range(COUNT):
        person, org, place = PERSONS[i % 3], ORGS[i % 2], PLACES[(i // 2) % 3]
        word = "zeppelin" if i % 10 == 0 else "harbour"
        cluster = f"story-{source}-{i % 12}" if i < 60 else None
        articles.append(
            EnrichedArticle(
                trace_id=uuid.uuid4().hex,
                article_id=f"{source}-{i:03d}",
                doc_id=f"{source}-doc-{i}",
                source=source,
                url=f"https://example.org/{source}/{i}",
                title=f"The {word} report number {i}",
                body=f"{person} met officials of {org} in {place} to discuss the {word}. " * 3,
                section=SECTIONS[(i // 5) % 3],
                site_name=SITES[i % 2],
                published_at=published(i),
                extractor="plain-text",
                parsed_at=now,
                language="de" if i % 10 == 3 else "en",
                entities=[
                    Entity(name=person, type="PERSON", count=1 + i % 3, first_offset=0),
                    Entity(name=org, type="ORG", count=1, first_offset=30),
                    Entity(name=place, type="LOC", count=2, first_offset=50),
                ],
                persons=[person],
                organizations=[org],
                locations=[place],
                keywords=[word],
                enriched_at=now,
                cluster_id=cluster,
                duplicate_of=None if cluster is None or i < 12 else f"{source}-{i % 12:03d}",
            )
        )
    return articles


def trends(kind: str) -> list[TrendCount]:
    """Three terms with two recent windows each, and one old window with the highest score of all."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    scores = {"alpha": (2.5, 7.0), "beta": (5.0, 1.0), "gamma": (0.5, 3.0), "delta": (99.0,)}
    found = []
    for term, term_scores in scores.items():
        for n, score in enumerate(term_scores):
            end = now - timedelta(days=20) if term == "delta" else now - timedelta(hours=n)
            found.append(
                TrendCount(
                    trace_id=uuid.uuid4().hex,
                    trend_id=f"{kind}-{term}-{n}",
                    term=term,
                    type=kind,
                    window_start=end - timedelta(hours=1),
                    window_end=end,
                    count=10 + n,
                    baseline=1.0,
                    score=score,
                )
            )
    return found


class Known:
    """The generated data, and what each question should answer about it."""

    def __init__(self, source: str, trend_type: str) -> None:
        self.source = source
        self.trend_type = trend_type
        self.articles = generated(source)

    def ids(self, keep: Any) -> set[str]:
        return {a.article_id for a in self.articles if keep(a)}


@pytest.fixture(scope="module")
def known(pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch) -> Known:
    run = uuid.uuid4().hex[:8]
    data = Known(f"queries-{run}", f"TEST{run}")
    kafka.produce("news.enriched.v1", list(data.articles))
    kafka.produce("news.trends.v1", trends(data.trend_type))

    def counts() -> bool:
        es.indices.refresh(index=["news-articles", "news-trends"])
        articles = es.count(index="news-articles", query={"term": {"source": data.source}})["count"]
        trends_ = es.count(index="news-trends", query={"term": {"type": data.trend_type}})["count"]
        return bool(articles == COUNT and trends_ == 7)

    wait_until(counts, 120, f"{COUNT} articles and 7 trends indexed")
    return data


Cli = Callable[..., Any]


@pytest.fixture
def cli(service_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``newsflow-query ARGS`` in this process (a new interpreter costs seconds of imports per call).

    Returns the parsed JSON, or (stdout, stderr) with ``json_out=False``. test_pipeline runs the console script.
    """
    for name, value in service_env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str, json_out: bool = True) -> Any:
        capsys.readouterr()
        code = query.main([*args, *(["--json"] if json_out else [])])
        out, err = capsys.readouterr()
        assert code == 0, f"{args} failed: {err}"
        return json.loads(out) if json_out else (out, err)

    return run


def test_search_finds_exactly_the_matching_articles_with_highlights(cli: Cli, known: Known) -> None:
    hits = cli("search", "zeppelin", "--source", known.source, "--size", "100")
    assert {h["article_id"] for h in hits} == known.ids(lambda a: "zeppelin" in a.title)
    assert all("<em>zeppelin</em>" in h["highlight"] for h in hits)


def test_search_filters_by_section_site_language_and_date_newest_first(cli: Cli, known: Known) -> None:
    march = (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    args = ["--section", "Business", "--site", "Beta Times", "--language", "en", "--since", "2024-03-01"]
    hits = cli("search", "--source", known.source, *args, "--until", "2024-04-01", "--size", "100")
    expected = [
        a
        for a in known.articles
        if a.section == "Business" and a.site_name == "Beta Times" and a.language == "en"
        if a.published_at and march[0] <= a.published_at < march[1]
    ]
    assert expected, "the generated data must have such articles"
    newest_first = sorted(expected, key=lambda a: a.published_at or START, reverse=True)
    assert [h["article_id"] for h in hits] == [a.article_id for a in newest_first]


def test_search_by_entity(cli: Cli, known: Known) -> None:
    hits = cli("search", "--source", known.source, "--entity", "Grace Hopper", "--size", "100")
    assert {h["article_id"] for h in hits} == known.ids(lambda a: "Grace Hopper" in a.persons)


def test_search_pages_with_the_cursor_cover_everything_once(cli: Cli, known: Known) -> None:
    titles: list[str] = []
    after: list[str] = []
    for _ in range(60):
        args = ["search", "harbour", "--source", known.source, "--size", "8", *after]
        stdout, stderr = cli(*args, json_out=False)
        titles += [row.split("  ")[0].strip() for row in stdout.splitlines()[1:]]
        if "--after " not in stderr:
            break
        after = ["--after", stderr.split("--after ", 1)[1].split()[0]]
    expected = {a.title for a in known.articles if "harbour" in a.title}
    assert len(titles) == len(set(titles)), "a page repeated an article"
    assert set(titles) == expected


def test_top_people_by_mentions(cli: Cli, known: Known) -> None:
    rows = cli("top", "--type", "PERSON", "--source", known.source)
    mentions: Counter[str] = Counter()
    articles: Counter[str] = Counter()
    for a in known.articles:
        mentions[a.entities[0].name] += a.entities[0].count
        articles[a.entities[0].name] += 1
    expected = sorted(mentions, key=lambda name: -mentions[name])
    assert [(r["name"], r["mentions"], r["articles"]) for r in rows] == [
        (name, mentions[name], articles[name]) for name in expected
    ]


def test_timeline_counts_articles_per_day_with_empty_days(cli: Cli, known: Known) -> None:
    rows = cli("timeline", "Ada Lovelace", "--interval", "day", "--source", known.source)
    per_day = Counter(a.published_at.date() for a in known.articles if a.published_at and "Ada Lovelace" in a.persons)
    first, last = min(per_day), max(per_day)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert [(r["period"][:10], r["articles"]) for r in rows] == [(d.isoformat(), per_day[d]) for d in days]
    assert 0 in [r["articles"] for r in rows] or len(days) == len(per_day)


def test_timeline_per_hour_within_a_range(cli: Cli, known: Known) -> None:
    since, until = "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"
    rows = cli("timeline", "Alan Turing", "--interval", "hour", "--source", known.source,
               "--since", since, "--until", until)  # fmt: skip
    hours = Counter(
        a.published_at.strftime("%Y-%m-%dT%H")
        for a in known.articles
        if a.published_at and "Alan Turing" in a.persons
        if datetime(2024, 3, 1, tzinfo=UTC) <= a.published_at < datetime(2024, 3, 2, tzinfo=UTC)
    )
    nonzero = {r["period"][:13]: r["articles"] for r in rows if r["articles"]}
    assert nonzero == dict(hours)
    assert sum(r["articles"] for r in rows) == sum(hours.values())


def test_related_entities_are_those_of_the_same_articles(cli: Cli, known: Known) -> None:
    rows = cli("related", "Ada Lovelace", "--source", known.source, "--size", "20")
    together: Counter[tuple[str, str]] = Counter()
    for a in known.articles:
        if "Ada Lovelace" in a.persons:
            together.update([(org, "ORG") for org in a.organizations] + [(p, "LOC") for p in a.locations])
    expected = sorted(together, key=lambda k: (-together[k], k[0], k[1]))
    assert [(r["name"], r["type"], r["articles"]) for r in rows] == [(n, t, together[(n, t)]) for n, t in expected]


def test_cluster_lists_its_members_first_published_first(cli: Cli, known: Known) -> None:
    cluster_id = f"story-{known.source}-1"
    rows = cli("cluster", cluster_id)
    members = [a for a in known.articles if a.cluster_id == cluster_id]
    dated = sorted((a for a in members if a.published_at), key=lambda a: a.published_at or START)
    undated = [a for a in members if a.published_at is None]
    assert undated, "the generated cluster has an undated member, listed last"
    assert [r["article_id"] for r in rows] == [a.article_id for a in dated + undated]
    assert rows[1]["duplicate_of"] == rows[0]["article_id"]


def test_trending_ranks_each_term_once_by_its_best_recent_score(cli: Cli, known: Known) -> None:
    rows = cli("trending", "--type", known.trend_type, "--window", "7d")
    assert [(r["term"], r["score"]) for r in rows] == [("alpha", 7.0), ("beta", 5.0), ("gamma", 3.0)]
    everything = cli("trending", "--type", known.trend_type, "--window", "30d", "--size", "2")
    assert [r["term"] for r in everything] == ["delta", "alpha"]


def test_table_output_for_people(cli: Cli, known: Known) -> None:
    stdout, _ = cli("top", "--type", "ORG", "--source", known.source, json_out=False)
    header, *rows = stdout.splitlines()
    assert header.split() == ["NAME", "MENTIONS", "ARTICLES"]
    assert [row.split("  ")[0].strip() for row in rows] == ["Acme Corp", "Globex"]


# the HTTP API


@pytest.fixture(scope="module")
def api(service_env: dict[str, str], logs: Path) -> Iterator[Service]:
    service = Service("api", ["newsflow-api"], service_env, logs).start()
    service.wait_healthy(30)
    yield service
    service.stop()


def get(api: Service, path: str, **params: str) -> tuple[int, Any]:
    """GET a path of the API with a patient timeout (the harness's is 2 s); (status, decoded JSON)."""
    url = f"http://127.0.0.1:{api.port}{urllib.parse.quote(path)}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_api_serves_its_openapi_document(api: Service) -> None:
    status, document = get(api, "/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    for path in ("/search", "/trending", "/entities/top", "/entities/{name}/timeline", "/entities/{name}/related"):
        assert "get" in document["paths"][path], path
    assert "/clusters/{cluster_id}" in document["paths"]


def test_api_search_pages_through_everything_once(api: Service, known: Known) -> None:
    seen: list[str] = []
    params = {"q": "zeppelin", "source": known.source, "size": "7"}
    status, page = get(api, "/search", **params)
    while True:
        assert status == 200, page
        assert page["total"] == 30
        seen += [hit["article_id"] for hit in page["hits"]]
        if not page["next"]:
            break
        status, page = get(api, "/search", **params, after=page["next"])
    assert sorted(seen) == sorted(known.ids(lambda a: "zeppelin" in a.title))


def test_api_search_pages_through_everything_once_while_articles_arrive(
    api: Service, known: Known, kafka: Kafka, es: Elasticsearch
) -> None:
    """A word's score depends on how rare it is among all the documents, so it changes as articles arrive —
    all the time in a news system. A cursor holding the last score of a page then skipped what followed it."""
    params = {"q": "zeppelin", "source": known.source, "size": "7"}
    status, page = get(api, "/search", **params)
    assert status == 200, page
    seen = [hit["article_id"] for hit in page["hits"]]
    arriving = [
        known.articles[1].model_copy(  # another source, no names: the other tests' answers stay as they were
            update={
                "article_id": f"{known.source}-new-{i}",
                "source": f"{known.source}-arriving",
                "title": f"Harbour notice {i}",
                "body": "Calm seas.",
                **{key: [] for key in ("entities", "persons", "organizations", "locations", "keywords", "countries")},
                "cluster_id": None,
                "duplicate_of": None,
            }
        )
        for i in range(40)
    ]
    kafka.produce("news.enriched.v1", arriving)

    def indexed() -> bool:
        es.indices.refresh(index="news-articles")
        ids = [a.article_id for a in arriving]
        return bool(es.count(index="news-articles", query={"terms": {"article_id": ids}})["count"] == len(ids))

    wait_until(indexed, 60, "the arriving articles indexed")
    while page["next"]:
        status, page = get(api, "/search", **params, after=page["next"])
        assert status == 200, page
        seen += [hit["article_id"] for hit in page["hits"]]
    assert sorted(seen) == sorted(known.ids(lambda a: "zeppelin" in a.title))


def test_api_entity_questions(api: Service, known: Known) -> None:
    status, timeline = get(api, "/entities/Grace Hopper/timeline", source=known.source, interval="day")
    assert status == 200
    assert sum(p["articles"] for p in timeline["periods"]) == len(
        known.ids(lambda a: "Grace Hopper" in a.persons and a.published_at is not None)
    )
    status, related = get(api, "/entities/Lisbon/related", source=known.source)
    assert status == 200
    lisbon = [a for a in known.articles if "Lisbon" in a.locations]
    expected = {name for a in lisbon for name in a.persons + a.organizations}
    assert {row["name"] for row in related["related"]} == expected
    status, top = get(api, "/entities/top", type="LOC", source=known.source)
    assert status == 200
    assert {row["name"] for row in top["entities"]} == set(PLACES)
    status, members = get(api, f"/clusters/story-{known.source}-3")
    assert status == 200
    assert [row["article_id"] for row in members["articles"]] == [
        f"{known.source}-{i:03d}" for i in (3, 15, 27, 39, 51)
    ]


def test_api_search_highlights_an_article_longer_than_the_highlighters_limit(
    api: Service, known: Known, kafka: Kafka, es: Elasticsearch
) -> None:
    """Elasticsearch will not highlight a field longer than index.highlight.max_analyzed_offset (a million
    characters) and fails the whole search instead: one long article (bodies up to 2 MB are accepted) made every
    search it matched answer 400, the page's too. The index holds the body's first 400,000 characters."""
    word = f"quagga{uuid.uuid4().hex[:8]}"
    body = f"The {word} herd grazed. " + "The plain stretched on without end. " * 30_000
    assert len(body) > 1_000_000
    article = known.articles[0].model_copy(update={"article_id": f"{known.source}-long", "body": body})
    kafka.produce("news.enriched.v1", [article])

    def indexed() -> bool:
        es.indices.refresh(index="news-articles")
        return bool(es.count(index="news-articles", query={"term": {"article_id": article.article_id}})["count"])

    wait_until(indexed, 60, "the long article indexed")
    status, page = get(api, "/search", q=word)
    assert status == 200, page
    assert [hit["article_id"] for hit in page["hits"]] == [article.article_id]
    assert f"<em>{word}</em>" in page["hits"][0]["highlight"]


def test_api_answers_as_its_document_says(api: Service) -> None:
    """schemathesis: generated requests, good and bad, to every operation of the served document; never a 5xx,
    every status, content type and body as documented, schema-invalid requests refused. Not checked: that every
    schema-valid request is accepted, since `after` is an opaque cursor no schema can describe (the refusals a
    schema can describe, size, enums, dates, are unit-tested). A loop, not schemathesis.pytest: that reads a
    private attribute pytest 9 no longer has."""
    base = f"http://127.0.0.1:{api.port}"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    for result, mode in itertools.product(schema.get_all_operations(), GenerationMode):
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base, timeout=30, excluded_checks=[positive_data_acceptance])

        conforms()


def test_api_refuses_bad_parameters_with_the_reason(api: Service) -> None:
    status, answer = get(api, "/search", q="x", size="0")
    assert status == 400
    assert "size" in answer["error"]
    status, answer = get(api, "/trending", window="forever")
    assert status == 400
    assert "window" in answer["error"]
    status, answer = get(api, "/search", q="x", after="not-a-cursor")
    assert status == 400
    assert "cursor" in answer["error"]
    for forged in (queries.encode_cursor("not-a-point-in-time", [1.0, 0, "a"]), queries.encode_cursor(None, [{}])):
        status, answer = get(api, "/search", q="x", after=forged)
        assert status == 400, answer
    status, answer = get(api, "/search", since="not a date")
    assert status == 400
    assert "ISO 8601" in answer["error"]
    assert "Elasticsearch" not in answer["error"]
    status, answer = get(api, "/search", size="101")
    assert status == 400
    assert "100" in answer["error"]
    for kind in ("FOO", "person"):
        status, answer = get(api, "/entities/top", type=kind)
        assert status == 400
        assert "PERSON" in answer["error"]
