"""Every language gets its articles: length counted by script, dates read in the page's language.

A Japanese article was dropped as ``no-article`` ("main text has 18 words"): words
were counted by spaces, and Japanese, Chinese and Thai do not put spaces between
words. The pages here are short real-sounding news items in each script, with the
date written the way that language writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from newsflow_parse.extract import extract
from newsflow_parse.listing import split_listing
from newsflow_parse.textsize import word_count
from newsflow_schemas import Article, LinkToFetch, RawDocument

NOW = datetime(2022, 11, 20, 12, 0, tzinfo=UTC)
PUBLISHED = datetime(2022, 11, 16, tzinfo=UTC)


@dataclass(frozen=True)
class Story:
    language: str
    title: str
    date: str
    paragraphs: tuple[str, ...]


STORIES = [
    Story(
        "ja",
        "東京都心で大規模停電、約十万戸に影響",
        "2022年11月16日",
        (
            "東京都心で十六日午後、大規模な停電が発生し、約十万戸で電気が使えなくなった。"
            "東京電力によると、変電所の設備に不具合が見つかったという。",
            "停電の影響で、地下鉄の一部の路線が一時運転を見合わせ、駅には多くの利用者が足止めされた。"
            "信号機も消え、警察官が交差点で交通整理にあたった。",
            "電力は約二時間後にほぼ復旧した。東京電力は原因を詳しく調べるとともに、再発防止策を検討するとしている。",
        ),
    ),
    Story(
        "zh",
        "北京将新建五十座城市公园",
        "2022年11月16日",
        (
            "北京市政府十六日宣布，将在未来三年内新建五十座公园，以改善城市居民的生活环境。",
            "据介绍，新建公园将主要分布在人口密集的城区，总面积约为六百公顷。"
            "市园林绿化局负责人表示，公园建设将充分利用现有的闲置土地。",
            "专家认为，增加城市绿地有助于缓解热岛效应，并为市民提供更多休闲空间。",
        ),
    ),
    Story(
        "th",
        "กรมอุตุฯ เตือนภาคเหนือรับมือฝนตกหนัก",
        "16 พฤศจิกายน 2565",  # the Buddhist era: 2565 is 2022
        (
            "กรมอุตุนิยมวิทยาประกาศเตือนประชาชนในภาคเหนือให้ระวังฝนตกหนักและน้ำท่วมฉับพลันในช่วงสามวันข้างหน้า",
            "เจ้าหน้าที่ท้องถิ่นได้เตรียมเครื่องสูบน้ำและกระสอบทรายไว้ในพื้นที่เสี่ยงและขอให้ประชาชนติดตามข่าวสารอย่างใกล้ชิด",
            "ปีที่แล้วน้ำท่วมในจังหวัดเชียงรายทำให้บ้านเรือนเสียหายหลายพันหลังและมีผู้ได้รับผลกระทบหลายหมื่นคน",
        ),
    ),
    Story(
        "ar",
        "افتتاح مستشفى جديد في شمال المدينة",
        "16 نوفمبر 2022",
        (
            "أعلنت وزارة الصحة يوم الأربعاء عن افتتاح مستشفى جديد في المدينة، يضم مئتي سرير وقسما حديثا للطوارئ.",
            "وقال الوزير في مؤتمر صحفي إن المستشفى سيخدم أكثر من نصف مليون نسمة في المنطقة الشمالية.",
            "وأضاف أن العمل جار على بناء مستشفيين آخرين خلال العامين المقبلين.",
        ),
    ),
    Story(
        "ru",
        "В Москве построят новую линию метро",
        "16 ноября 2022",
        (
            "Мэрия Москвы в среду объявила о строительстве новой линии метро, которая соединит южные районы "
            "города с центром.",
            "По словам заместителя мэра, первые станции откроются через три года, а общая длина линии составит "
            "около двадцати километров.",
            "Жители района давно просили улучшить транспортное сообщение.",
        ),
    ),
    Story(
        "it",
        "Roma, riapre il ponte sul Tevere dopo due anni",
        "mer, 16 nov 2022",
        (
            "Il ponte sul Tevere è stato riaperto al traffico mercoledì mattina, due anni dopo la chiusura "
            "decisa quando furono trovate crepe nei piloni.",
            "Prima della chiusura lo attraversavano circa quarantamila veicoli al giorno.",
        ),
    ),
]
IDS = [story.language for story in STORIES]


def page(story: Story, date_markup: str) -> RawDocument:
    paragraphs = "".join(f"<p>{text}</p>" for text in story.paragraphs)
    html = (
        f"<html lang='{story.language}'><head><meta charset='utf-8'><title>{story.title}</title></head>"
        f"<body><header><a href='/'>Home</a></header><article><h1>{story.title}</h1>{date_markup}"
        f"{paragraphs}</article><footer>©</footer></body></html>"
    )
    return RawDocument(
        trace_id="t",
        doc_id="d",
        source="files",
        uri="page.html",
        url=f"https://news.example.{story.language}/story",
        content_type="text/html",
        charset="utf-8",
        body=html,
        fetched_at=NOW,
    )


def the_article(document: RawDocument) -> Article:
    [article] = extract(document, NOW)
    assert isinstance(article, Article)
    return article


@pytest.mark.parametrize("story", STORIES, ids=IDS)
def test_a_short_article_in_any_script_is_an_article(story: Story) -> None:
    article = the_article(page(story, ""))
    assert article.title == story.title
    lines = [line for line in article.body.split("\n") if line]
    assert lines[-len(story.paragraphs) :] == list(story.paragraphs)  # the headline may lead the text
    assert article.language_hint == story.language


@pytest.mark.parametrize("story", STORIES, ids=IDS)
def test_a_date_written_in_the_page_language_is_read(story: Story) -> None:
    article = the_article(page(story, f"<p><time>{story.date}</time></p>"))
    assert (article.published_at, article.published_at_source) == (PUBLISHED, "text")


@pytest.mark.parametrize("story", STORIES, ids=IDS)
def test_a_date_line_in_the_page_language_is_read(story: Story) -> None:
    article = the_article(page(story, f"<div class='date'>{story.date}</div>"))
    assert (article.published_at, article.published_at_source) == (PUBLISHED, "text")


def test_length_is_counted_by_script() -> None:
    assert word_count("The harbour bridge reopened on Friday.") == 6  # spaced scripts: as before
    assert word_count("Мост снова открыт") == 3
    assert word_count("東京都心で大規模停電") == 5  # about two characters a word
    assert 10 <= word_count(STORIES[2].paragraphs[0]) <= 30  # Thai: about four letters a word
    assert word_count("Tokyo 東京 Osaka 大阪") == 4


def test_the_dev_pages_english_counts_do_not_move() -> None:
    text = "A line with 7 words, some: punctuated!\nand a second line"
    assert word_count(text) == len(text.split())


def test_a_text_dump_in_japanese_splits_into_its_stories() -> None:
    japanese, chinese = STORIES[0], STORIES[1]
    first = ["ニュース", japanese.title, "2022年11月16日 10:30", *japanese.paragraphs]
    dump = "\n\n".join([*first, "ニュース", chinese.title, "2022年11月16日 12:00", *chinese.paragraphs])
    stories = split_listing(dump, NOW)
    assert [story.title for story in stories] == [japanese.title, chinese.title]
    assert [story.published_at for story in stories] == [
        datetime(2022, 11, 16, 10, 30, tzinfo=UTC),
        datetime(2022, 11, 16, 12, 0, tzinfo=UTC),
    ]


JAPANESE_HEADLINES = [
    "東京都心で大規模停電、約十万戸に影響",
    "北海道で初雪、平年より五日早く観測",
    "大阪の新しい美術館が来月開館へ",
    "円相場、一時一ドル百五十円台に下落",
    "高校サッカー、決勝は来月八日に開催",
    "新幹線の一部区間で運転見合わせ続く",
]


def test_a_japanese_section_page_gives_its_article_links() -> None:
    """Headlines are counted by script too: a page of Japanese teasers is a listing, not one fake article."""
    teasers = "".join(
        f"<article><h2><a href='/news/{k}'>{headline}</a></h2><p>{headline}。詳しくは記事で。</p></article>"
        for k, headline in enumerate(JAPANESE_HEADLINES)
    )
    head = "<head><title>ニュース</title></head>"
    html = f"<html lang='ja'>{head}<body><main><h1>ニュース</h1>{teasers}</main></body></html>"
    document = RawDocument(
        trace_id="t",
        doc_id="d",
        source="files",
        uri="index.html",
        url="https://news.example.jp/news/",
        content_type="text/html",
        charset="utf-8",
        body=html,
        fetched_at=NOW,
    )
    links = extract(document, NOW)
    assert all(isinstance(link, LinkToFetch) for link in links)
    assert [link.hints.title if isinstance(link, LinkToFetch) and link.hints else None for link in links] == (
        JAPANESE_HEADLINES
    )
