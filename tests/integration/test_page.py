"""The newsroom page in a real browser: headless Chromium (Debian's package) driven by Playwright.

Known articles and trend counts go to news.enriched.v1 / news.trends.v1, the index service of the pipeline
indexes them, newsflow-api runs as a process, and each test asserts what a person sees on the page. Screenshots
land in .newsflow/page-*.png. Names and words carry the run's id, so other tests' data cannot match them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from newsflow_index.mappings import ARTICLE_PROPERTIES, TREND_PROPERTIES
from newsflow_schemas import EnrichedArticle, Entity, TrendCount
from tests.integration.harness import ROOT, Kafka, Service, free_port, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = ROOT / ".newsflow"
DAYS = [datetime(2024, 6, 3, 9, tzinfo=UTC) + timedelta(days=d) for d in range(3)]
PER_DAY = [2, 6, 4]
"""Articles naming the person on each of three days: 12 in all, so search pages (10 a page) twice."""
SITES = ["Harbor Daily", "Inland Post", "Coast Wire"]
HISTORY = 12
MARKUP = '<img src=x onerror="document.title=1"> <b>{word}</b> notice. '
"""Markup in an article's text: the page must show it as text, never run or render it."""
"""Points of a sparkline (the page asks for 12 earlier windows)."""

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium; .ci/run does) "
        "to test the page in a browser",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


class Known:
    """Twelve articles naming one person, with one rare word; three of them one story; trends of that person."""

    def __init__(self) -> None:
        run = uuid.uuid4().hex[:8]
        self.source = f"page-{run}"
        self.word = f"okapi{run}"
        self.person = f"Mira Okafor {run}"
        self.story = f"story-page-{run}"
        days = [day for day, count in zip(DAYS, PER_DAY, strict=True) for _ in range(count)]
        self.articles = [self.article(i, day) for i, day in enumerate(days)]

    def article(self, i: int, day: datetime) -> EnrichedArticle:
        now = datetime.now(UTC)
        in_story = i in (2, 3, 4)
        return EnrichedArticle(
            trace_id=uuid.uuid4().hex,
            article_id=f"{self.source}-{i:02d}",
            doc_id=f"{self.source}-doc-{i}",
            source=self.source,
            url=f"https://example.org/{self.source}/{i}",
            title=f"Report {i} on the {self.word} sanctuary",
            body=(MARKUP.format(word=self.word) if i == 0 else "")
            + f"{self.person} visited the {self.word} sanctuary and spoke to the keepers. " * 2,
            section="Nature",
            site_name=SITES[i % 3],
            published_at=day + timedelta(minutes=10 * i),
            extractor="plain-text",
            parsed_at=now,
            language="en",
            entities=[Entity(name=self.person, type="PERSON", count=2, first_offset=0)],
            persons=[self.person],
            keywords=[self.word],
            enriched_at=now,
            cluster_id=self.story if in_story else None,
            duplicate_of=f"{self.source}-02" if in_story and i != 2 else None,
        )

    def trends(self) -> list[TrendCount]:
        """The person's last six one-hour windows, the latest with a score no other test's trend reaches."""
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        return [
            TrendCount(
                trace_id=uuid.uuid4().hex,
                trend_id=f"{self.source}-{back}",
                term=self.person,
                type="PERSON",
                window_start=end - timedelta(hours=back + 1),
                window_end=end - timedelta(hours=back),
                count=20 - 3 * back,
                baseline=2.0,
                score=500.0 if back == 0 else 1.0,
            )
            for back in range(6)
        ]


@pytest.fixture(scope="module")
def known(pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch) -> Known:
    data = Known()
    kafka.produce("news.enriched.v1", list(data.articles))
    kafka.produce("news.trends.v1", data.trends())

    def indexed() -> bool:
        es.indices.refresh(index=["news-articles", "news-trends"])
        articles = es.count(index="news-articles", query={"term": {"source": data.source}})["count"]
        trends = es.count(index="news-trends", query={"term": {"term": data.person}})["count"]
        return bool(articles == len(data.articles) and trends == 6)

    wait_until(indexed, 120, f"{len(data.articles)} articles and 6 trends indexed")
    # The page is looked at once every stage has taken everything earlier tests sent: what it shows no longer
    # changes under the test (index alone at lag 0 was not enough: enrich still had articles for it).
    wait_until(kafka.drained, 180, "every stage idle")
    return data


@pytest.fixture(scope="module")
def api(service_env: dict[str, str], logs: Path) -> Iterator[Service]:
    service = Service("page-api", ["newsflow-api"], service_env, logs).start()
    service.wait_healthy(30)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def browser(known: Known) -> Iterator[Browser]:
    """Started after the data is produced: Playwright's sync API keeps an event loop running in this thread."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, api: Service) -> Iterator[Page]:
    context = browser.new_context(base_url=f"http://127.0.0.1:{api.port}", viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"page-{name}.png"), full_page=True)


def test_search_shows_highlighted_results_linking_to_source_and_story_and_pages_on(page: Page, known: Known) -> None:
    page.goto("/")
    page.get_by_label("Words").fill(known.word)
    page.get_by_label("Words").press("Enter")
    results = page.locator("#search .results li")
    expect(results).to_have_count(10)
    expect(page.locator("#search .status")).to_contain_text("12 articles")
    expect(results.first.locator(".snippet em").first).to_have_text(known.word)
    first_link = results.first.locator("a.title")
    assert first_link.get_attribute("href") in {a.url for a in known.articles}
    shot(page, "search")

    page.get_by_role("button", name="More results").click()
    expect(results).to_have_count(12)
    expect(page.locator("#search a.story-link")).to_have_count(3)  # the story's three, wherever they rank
    expect(page.get_by_role("button", name="More results")).to_be_hidden()
    shown = {results.nth(i).locator("a.title").get_attribute("href") for i in range(12)}
    assert shown == {a.url for a in known.articles}, "paging repeated or skipped an article"


def test_markup_in_an_article_is_shown_as_text_around_the_highlight(page: Page, known: Known) -> None:
    page.goto(f"/#/search?q={known.word}&until=2024-06-04")
    snippet = page.locator("#search .results li", has_text="Report 0 ").locator(".snippet")
    expect(snippet).to_contain_text(f"<b>{known.word}</b>")
    expect(snippet.locator("em")).to_have_text([known.word] * snippet.locator("em").count())
    assert snippet.locator("img, b").count() == 0
    assert page.title() == "newsflow newsroom"


def test_search_filters_narrow_by_site_and_date(page: Page, known: Known) -> None:
    page.goto(f"/#/search?q={known.word}&site={SITES[1]}&since=2024-06-04&until=2024-06-05")
    expected = [a for a in known.articles if a.site_name == SITES[1] and a.published_at and a.published_at.day == 4]
    expect(page.locator("#search .results li")).to_have_count(len(expected))
    expect(page.locator("#filters")).to_have_attribute("open", "")
    expect(page.get_by_label("Site")).to_have_value(SITES[1])


def test_a_trending_row_has_its_score_and_sparkline_and_opens_the_timeline(page: Page, known: Known) -> None:
    page.goto("/#/trending")
    row = page.locator('#trending [data-window="1h"] tr.trend', has_text=known.person)
    expect(row).to_have_count(1)
    expect(row.locator("td.num").first).to_have_text("500.0")
    spark = row.locator("svg.sparkline")
    expect(spark).to_have_attribute("data-points", str(HISTORY))
    points = spark.locator("polyline").get_attribute("points") or ""
    assert len(points.split()) == HISTORY
    counts = ", ".join(str(20 - 3 * back) for back in range(5, -1, -1))  # the six stored windows, oldest first
    expect(spark).to_have_attribute("aria-label", re.compile(f"(none, ){{{HISTORY - 6}}}{counts}$"))
    shot(page, "trending")

    row.get_by_role("link", name=known.person).click()
    expect(page).to_have_url(re.compile(r"#/entity/"))
    expect(page.locator("#timeline h2")).to_have_text(f"Timeline: {known.person}")
    circles = page.locator("#timeline .chart circle.point")
    expect(circles).to_have_count(len(DAYS))
    polyline = page.locator("#timeline .chart polyline.line").get_attribute("points") or ""
    assert len(polyline.split()) == len(DAYS)

    # The busiest day, chosen with the keyboard: its articles are listed below the chart.
    circles.nth(1).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#timeline .bucket li")).to_have_count(PER_DAY[1])
    expect(circles.nth(1)).to_have_attribute("aria-pressed", "true")
    shot(page, "timeline")

    # Per hour: one point for every hour from the first article's to the last's, empty hours included.
    page.get_by_label("Articles per", exact=True).select_option("hour")
    first, last = (
        min(a.published_at for a in known.articles if a.published_at),
        max(a.published_at for a in known.articles if a.published_at),
    )
    hours = int((last.replace(minute=0) - first.replace(minute=0)).total_seconds() // 3600) + 1
    expect(circles).to_have_count(hours)


def test_the_story_view_lists_the_first_article_and_its_reprints_by_site_and_time(page: Page, known: Known) -> None:
    page.goto(f"/#/search?q={known.word}")
    page.locator("#search a.story-link").first.click()
    rows = page.locator("#story tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_class("first")
    expect(rows.first).to_contain_text(SITES[2])
    expect(rows.nth(1)).to_contain_text("reprint")
    expect(page.locator("#story .status")).to_contain_text("3 articles from 3 sites")
    shot(page, "story")


def test_empty_and_error_states_say_what_to_do(page: Page, known: Known) -> None:
    page.goto(f"/#/search?q=nothing{known.word}")
    expect(page.locator("#search .status")).to_contain_text("Nothing matches")
    page.goto("/#/entity/Nobody Atall Zzq")
    expect(page.locator("#timeline .status")).to_contain_text("no entity named")
    page.goto("/#/story/no-such-story")
    expect(page.locator("#story .status")).to_contain_text("No articles in this story")


@pytest.fixture(scope="module")
def empty_api(service_env: dict[str, str], logs: Path, es: Elasticsearch, known: Known) -> Iterator[Service]:
    """newsflow-api reading indices that hold nothing yet: what a new user sees before the first ingest."""
    articles, trends = f"page-empty-articles-{known.source}", f"page-empty-trends-{known.source}"
    es.indices.create(index=articles, mappings={"properties": ARTICLE_PROPERTIES})
    es.indices.create(index=trends, mappings={"properties": TREND_PROPERTIES})
    env = {**service_env, "NEWSFLOW_ARTICLES_ALIAS": articles, "NEWSFLOW_TRENDS_ALIAS": trends}
    service = Service("page-api-empty", ["newsflow-api"], env, logs).start()
    service.wait_healthy(30)
    yield service
    service.stop()
    es.indices.delete(index=[articles, trends])


@pytest.fixture(scope="module")
def api_without_elasticsearch(service_env: dict[str, str], logs: Path) -> Iterator[Service]:
    env = {**service_env, "NEWSFLOW_ELASTICSEARCH_URL": f"http://127.0.0.1:{free_port()}"}
    service = Service("page-api-no-es", ["newsflow-api"], env, logs).start()
    service.wait_healthy(30)
    yield service
    service.stop()


def open_page(browser: Browser, api: Service, path: str) -> Page:
    page = browser.new_context(base_url=f"http://127.0.0.1:{api.port}").new_page()
    page.set_default_timeout(30_000)
    page.goto(path)
    return page


def test_before_the_first_ingest_the_page_says_where_articles_come_from(browser: Browser, empty_api: Service) -> None:
    page = open_page(browser, empty_api, "/")
    try:
        status = page.locator("#search .status")
        expect(status).to_have_text(re.compile("No articles yet: drop .* into .newsflow/inbox"))
        page.goto("/#/trending")
        hour, day = (page.locator(f'#trending [data-window="{span}"] .status') for span in ("1h", "24h"))
        expect(hour).to_contain_text("Nothing trending in the last hour")
        expect(day).to_contain_text("ingest some")
        shot(page, "empty")
    finally:
        page.context.close()


def test_without_elasticsearch_the_page_says_to_start_it(browser: Browser, api_without_elasticsearch: Service) -> None:
    page = open_page(browser, api_without_elasticsearch, "/")
    try:
        expect(page.locator("#search .status")).to_contain_text("Elasticsearch is unavailable")
        expect(page.locator("#search .status")).to_contain_text("make run")
        expect(page.locator("#search .status")).to_have_class(re.compile("error"))
    finally:
        page.context.close()


def test_the_page_fits_a_phone_and_works_from_the_keyboard(browser: Browser, api: Service, known: Known) -> None:
    context = browser.new_context(base_url=f"http://127.0.0.1:{api.port}", viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        page.goto("/")
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")  # the site name
        page.keyboard.press("Tab")  # Search
        page.keyboard.press("Tab")  # Trending now
        page.keyboard.press("Enter")
        expect(page.locator("#trending")).to_be_visible()
        expect(page.locator('#trending [data-window="1h"] tr.trend', has_text=known.person)).to_have_count(1)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the trending view is {width}px wide on a 375px phone"
        shot(page, "phone")
        page.goto(f"/#/search?q={known.word}&site={SITES[0]}")
        expect(page.locator("#search .results li").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the search view, filters open, is {width}px wide on a 375px phone"
        shot(page, "phone-search")
    finally:
        context.close()
