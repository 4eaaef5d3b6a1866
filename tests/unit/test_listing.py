"""The listing splitter: a scraped listing page's text into its stories, chrome left out."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsflow_parse.listing import Story, plain_article, single_article, split_listing

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "listing-page-asia.txt"
WIKINEWS = Path("/work/shared/datasets/wikinews/wikinews_2019.csv")
NOW = datetime(2024, 12, 30, 12, 0, tzinfo=UTC)

SAMPLE_TITLES = [
    "Three years history of anti-Taliban movements and their common failures",
    "A passenger plane travelling from Baku to Grozny crashes in Kazakhstan",
    "Trust issue: Pakistan and Afghanistan to boost up fraternal ties",
    "China plans $411bn private treasury bond issuance in 2025",
]
SAMPLE_CHROME = {"Connect with us", "ASIA", "Published", "on", "Continue Reading", "MOST READ", "Turkey"}


def paragraphs(story: Story) -> list[str]:
    return story.body.split("\n\n")


# --- the sample page -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_text() -> str:
    return SAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sample_stories(sample_text: str) -> list[Story]:
    return split_listing(sample_text, NOW)


def expected_sample_bodies(text: str) -> list[list[str]]:
    """Test oracle from the sample's known chrome: the lines after 'Published'/'on' up to the next chrome line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bodies = []
    for title in SAMPLE_TITLES:
        i = lines.index(title) + 3
        assert lines[i - 2 : i] == ["Published", "on"]
        body = []
        while i < len(lines) and lines[i] not in SAMPLE_CHROME:
            body.append(lines[i])
            i += 1
        bodies.append(body)
    return bodies


def test_sample_yields_the_four_stories_with_their_headlines_and_section(sample_stories: list[Story]) -> None:
    assert [story.title for story in sample_stories] == SAMPLE_TITLES
    assert [story.section for story in sample_stories] == ["ASIA"] * 4


def test_sample_bodies_hold_every_paragraph_and_nothing_else(sample_text: str, sample_stories: list[Story]) -> None:
    assert [paragraphs(story) for story in sample_stories] == expected_sample_bodies(sample_text)


def test_sample_in_body_subheadings_stay_in_their_story(sample_stories: list[Story]) -> None:
    first = paragraphs(sample_stories[0])
    assert "National Peace and Justice Movement" in first
    assert "Common failure of anti-Taliban movements" in first
    assert first[-1].startswith("Anti-Taliban moments and fronts have failed")


def test_sample_bodies_carry_no_chrome(sample_stories: list[Story]) -> None:
    for story in sample_stories:
        assert not SAMPLE_CHROME & set(paragraphs(story))
        for text in ("Connect with us", "Published", "Continue Reading", "MOST READ", "Turkey"):
            assert text not in story.body


def test_sample_story_topics_do_not_leak_across_stories(sample_stories: list[Story]) -> None:
    assert ["Taliban" in story.body for story in sample_stories] == [True, False, True, False]
    assert ["Kazakhstan" in story.body for story in sample_stories] == [False, True, False, False]


def test_sample_positions_cover_each_story_in_order(sample_text: str, sample_stories: list[Story]) -> None:
    previous_end = 0
    for story in sample_stories:
        assert previous_end <= story.start < story.end <= len(sample_text)
        region = sample_text[story.start : story.end]
        assert story.title in region
        assert all(paragraph in region for paragraph in paragraphs(story))
        assert region.endswith(paragraphs(story)[-1])
        previous_end = story.end


def test_sample_without_dates_or_bylines_has_none(sample_stories: list[Story]) -> None:
    assert all(story.published_at is None and story.authors == () for story in sample_stories)


# --- synthetic dumps: real paragraphs in two site chromes ----------------------------------------


@dataclass(frozen=True)
class Source:
    title: str
    paragraphs: list[str]


INLINE_SOURCES = [
    Source(
        "City council approves new cycle lanes after long debate",
        [
            "The city council voted on Tuesday to build twelve kilometres of protected cycle lanes across the centre, "
            "ending a debate that had run for more than two years.",
            "Supporters said the lanes would cut traffic deaths, while shop owners on the main avenue warned that "
            "losing parking spaces could drive customers to the malls outside town.",
            "Work on the first section is due to start in the spring and should be finished before the end of the "
            "year, the transport department said.",
        ],
    ),
    Source(
        "Heavy rain floods river valley as thousands leave their homes",
        [
            "More than three thousand people were evacuated from villages along the river after two days of heavy "
            "rain pushed water levels to their highest point in forty years.",
            "Emergency services said no one had been hurt, but several bridges were closed and trains between the "
            "two largest towns of the valley were cancelled until further notice.",
            "Forecasters expect the rain to ease on Thursday, although they warned that the river could keep rising "
            "for another day as water flows down from the mountains.",
        ],
    ),
    Source(
        "Local orchestra wins national prize for its youth programme",
        [
            "The orchestra's programme, which brings free music lessons to schools in poorer districts, was "
            "recognised at a ceremony in the capital on Saturday evening.",
            "Around four hundred children take part every year, and a dozen of its former pupils now play in "
            "professional ensembles, the orchestra's director told the audience.",
        ],
    ),
    Source(
        "Airport to reopen its second runway after repairs",
        [
            "The airport's second runway will reopen next week after three months of repairs to its surface, "
            "allowing the number of daily flights to return to normal.",
            "Airlines had cut dozens of flights during the works, and travellers faced long delays during the "
            "summer holidays, when traffic is at its peak.",
        ],
    ),
]


def wikinews_sources(count: int = 5) -> list[Source]:
    """Real articles: their title and first paragraphs (skip the test when the shared datasets are absent)."""
    if not WIKINEWS.exists():
        pytest.skip(f"{WIKINEWS} is absent: the shared wikinews dataset is not mounted here")
    sources = []
    with WIKINEWS.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            paras = [p.strip() for p in row["text"].split("\n") if len(p.split()) >= 15]
            if len(paras) >= 3:
                sources.append(Source(row["title"].strip(), paras[:4]))
            if len(sources) == count:
                break
    return sources


DATES = ["March 3, 2020", "March 4, 2020", "March 5, 2020", "March 6, 2020", "March 9, 2020"]
AUTHORS = ["Jane Doe", "John Roe", "Maria Silva", "Ahmed Khan", "Li Wei"]


def byline_chrome(sources: list[Source]) -> str:
    """Bylines, a date line, then "Read more" and "Share this" after every story; a footer."""
    parts = ["Example Herald", "Subscribe"]
    for k, source in enumerate(sources):
        parts += [source.title, f"By {AUTHORS[k]}", DATES[k], *source.paragraphs, "Read more", "Share this"]
    parts += ["© 2020 Example Herald. All rights reserved.", "Privacy policy"]
    return "\n\n".join(parts)


def posted_chrome(sources: list[Source]) -> str:
    """A section label, "Posted on <date>", an advertisement inside and after every story; a teaser box at the end."""
    parts = ["Home | World | Business", "Search"]
    for k, source in enumerate(sources):
        first, *rest = source.paragraphs
        parts += ["WORLD", source.title, f"Posted on {DATES[k]}", first, "Advertisement", *rest, "Advertisement"]
    parts += ["Trending now", "Stocks slide as investors wait for rate decision", "Weather: sunny weekend ahead"]
    return "\n".join(parts)  # single newlines: some scrapers do not leave blank lines between paragraphs


Chrome = Callable[[list[Source]], str]
CHROMES: dict[str, Chrome] = {"byline": byline_chrome, "posted": posted_chrome}


@pytest.fixture(params=["inline", "wikinews"])
def sources(request: pytest.FixtureRequest) -> list[Source]:
    return INLINE_SOURCES if request.param == "inline" else wikinews_sources()


@pytest.mark.parametrize("chrome", CHROMES)
def test_synthetic_dump_yields_its_stories(chrome: str, sources: list[Source]) -> None:
    stories = split_listing(CHROMES[chrome](sources), NOW)
    assert [story.title for story in stories] == [source.title for source in sources]
    assert [paragraphs(story) for story in stories] == [source.paragraphs for source in sources]


def test_byline_chrome_gives_authors_and_dates(sources: list[Source]) -> None:
    stories = split_listing(byline_chrome(sources), NOW)
    assert [story.authors for story in stories] == [(author,) for author in AUTHORS[: len(sources)]]
    assert [story.published_at for story in stories] == [
        datetime(2020, 3, day, tzinfo=UTC) for day in (3, 4, 5, 6, 9)[: len(sources)]
    ]
    assert all(story.section is None for story in stories)


def test_posted_chrome_gives_sections_and_dates(sources: list[Source]) -> None:
    stories = split_listing(posted_chrome(sources), NOW)
    assert all(story.section == "WORLD" for story in stories)
    assert stories[0].published_at == datetime(2020, 3, 3, tzinfo=UTC)
    assert not any("Advertisement" in story.body or "Trending" in story.body for story in stories)


def test_synthetic_positions_point_into_the_text(sources: list[Source]) -> None:
    text = byline_chrome(sources)
    stories = split_listing(text, NOW)
    ends = [0] + [story.end for story in stories]
    for story, previous_end in zip(stories, ends, strict=False):
        assert previous_end <= story.start < story.end
        assert text[story.start : story.end].startswith(story.title)
        assert text[story.start : story.end].endswith(paragraphs(story)[-1])


# --- plain text: no structure --------------------------------------------------------------------


def test_plain_article_has_no_listing_structure() -> None:
    source = INLINE_SOURCES[0]
    text = "\n\n".join([source.title, *source.paragraphs])
    assert split_listing(text, NOW) == []
    story = plain_article(text, NOW)
    assert story is not None
    assert story.title == source.title
    assert paragraphs(story) == source.paragraphs


def test_plain_article_reads_a_leading_date_line_and_titles_itself_from_its_first_sentence() -> None:
    text = "Friday, January 4, 2019\n\n\n" + "\n\n".join(INLINE_SOURCES[1].paragraphs)
    story = plain_article(text, NOW)
    assert story is not None
    assert story.published_at == datetime(2019, 1, 4, tzinfo=UTC)
    assert story.title.startswith("More than three thousand people were evacuated")
    assert len(story.title) <= 101
    assert paragraphs(story) == INLINE_SOURCES[1].paragraphs


def test_plain_article_of_blank_text_is_none() -> None:
    assert plain_article(" \n\n\t", NOW) is None


def test_single_article_with_a_headline_block_keeps_title_byline_and_date() -> None:
    source = INLINE_SOURCES[2]
    text = "\n\n".join(
        ["Example Herald", source.title, "By Jane Doe and John Roe", "March 3, 2020", *source.paragraphs]
    )
    stories = split_listing(text, NOW)
    story = single_article(text, stories, NOW)
    assert story is not None
    assert (story.title, story.authors) == (source.title, ("Jane Doe", "John Roe"))
    assert story.published_at == datetime(2020, 3, 3, tzinfo=UTC)
    assert paragraphs(story) == source.paragraphs


def test_single_article_ignores_a_false_start_after_its_opening_paragraphs() -> None:
    """A subheading followed by a date inside an article looks like a headline block; the prose before it wins."""
    source = INLINE_SOURCES[0]
    text = "\n\n".join(
        [source.title, *source.paragraphs[:2], "What happens next", "March 9, 2020", source.paragraphs[2]]
    )
    story = single_article(text, split_listing(text, NOW), NOW)
    assert story is not None
    assert story.title == source.title
    assert paragraphs(story)[:2] == source.paragraphs[:2]
    assert paragraphs(story)[-1] == source.paragraphs[2]


def test_repeated_dialogue_lines_are_not_chrome() -> None:
    """An interview repeats short answers ("Yes."); its questions must not become headlines."""
    qa = []
    for source in INLINE_SOURCES[:3]:
        qa += [f"Interviewer: {source.title}?", "Yes.", *source.paragraphs]
    assert len(split_listing("\n\n".join(["A conversation about the city", *qa]), NOW)) < 2


def test_a_lettered_clause_in_a_story_is_not_a_copyright_line() -> None:
    """ "(c)" opens a clause of a law as often as a footer; only "(c) 2020" or "©" marks the footer."""
    lines = [
        "Parliament passes the new tenancy law",
        "By Jane Doe",
        "The law lists three cases in which a landlord may end a lease before its term, and all of them need notice.",
        "(a) the tenant has not paid rent for two months",
        "(b) the tenant has damaged the property",
        "(c) the landlord needs the home for a close relative",
        "It takes effect in April.",
        "© 2020 The Valley Courier",
    ]
    [story] = split_listing("\n\n".join(lines))
    assert story.body.split("\n\n") == lines[2:7]


def test_a_chinese_paragraph_after_a_date_line_is_not_a_headline() -> None:
    """A Chinese or Japanese sentence ends with 。, never a headline: the date above it is its story's."""
    lines = [
        "В Москве построят новую линию метро",
        "By John Roe",
        "2020-02-04",
        "Мэрия Москвы в среду объявила о строительстве новой линии метро, которая соединит южные районы города.",
        "北京将新建五十座城市公园",
        "By Jane Doe",
        "2020-01-03",
        "北京市政府十六日宣布，将在未来三年内新建五十座公园，以改善城市居民的生活环境。",
        "专家认为，增加城市绿地有助于缓解热岛效应，并为市民提供更多休闲空间。",
        "東京都心で大規模停電、約十万戸に影響",
        "By Li Wei",
        "2020-03-05",
        "東京都心で十六日午後、大規模な停電が発生し、約十万戸で電気が使えなくなった。",
        "電力は約二時間後にほぼ復旧した。",
    ]
    stories = split_listing("\n".join(lines))
    assert [story.title for story in stories] == [lines[0], lines[4], lines[9]]
