"""Split a scraped text dump of a page into its stories.

A listing page (a section front, a "latest news" page) scraped to plain text
holds several stories between site chrome, and nothing in the text says where
one ends and the next begins. What gives the structure away is repetition: the
same short lines (a section name, "Published", "Read more", ...) come back
around every story. So the structure is learnt from the page itself, never from
a list of known strings:

- a *marker* is chrome: a short line repeated on the page, a byline, a date
  line ("Posted on March 3, 2020 by Jane Doe"), a short all-capitals label,
  numbered pagination, a repeated label with varying text ("Related: ..."),
  or a short line earlier pages of the same source showed (:class:`ChromeMemory`);
- a *header* marker is one that mostly follows title-like lines ("Published",
  "By Jane Doe", a date); a story starts at a title-like line right before one
  (or right after a date line, on a page that dates its stories above their
  headlines), with a paragraph after it; a story's own lines never split it:
  another marker than the first story's after a title-like line ("See it now:")
  is inside a story, and so are dated starts that all sit inside one story;
- a *section* is a marker right before a title that never appears elsewhere;
- a story's body runs to the next story's prelude (the markers right before its
  title); markers inside it are dropped ("Advertisement" between paragraphs),
  an *end marker* (one that sits in a prelude, like "Continue Reading", and
  never between paragraphs) ends it, and short teaser lines trailing its last
  marker ("MOST READ", "Turkey") are cut.

A text with no such structure is one plain article (:func:`plain_article`).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import regex  # type: ignore[import-untyped]

from newsflow_parse.dates import parse_any
from newsflow_parse.textsize import word_count

BYLINE_KEY = "<byline>"
DATE_KEY = "<date>"
PAGER_KEY = "<pager>"

MAX_REPEATED_MARKER_WORDS = 5  # longer repeated lines may be headlines shown twice (teaser + story)
MAX_MARKER_CHARS = 60
MAX_LABEL_WORDS = 4  # "MOST READ", "ASIA", "WORLD NEWS"
MAX_DATELINE_WORDS = 16  # "Posted on Tuesday, March 3, 2020 at 10:45 am by Jane Doe"
MAX_TITLE_WORDS = 30
MAX_TITLE_CHARS = 250
MIN_PARAGRAPH_WORDS = 12
FALLBACK_TITLE_CHARS = 100

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_TIME = r"(?:,?\s*(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?)?"
DATE_RE = regex.compile(
    rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}})?)?"
    rf"|\d{{1,2}}/\d{{1,2}}/\d{{4}}"
    rf"|\d{{4}}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*日"  # Chinese, Japanese: 2022年11月16日
    rf"|\d{{1,2}}\.?\s+[\p{{L}}\p{{M}}]{{3,}}\.?,?\s+(?:19|20|25)\d{{2}}(?!\d)"  # any language: 16 ноября 2022
    rf"){_TIME}"
    rf"|\b\d+\s+(?:minute|hour|day|week)s?\s+ago\b",
    regex.IGNORECASE | regex.VERSION0,
)
COPYRIGHT_RE = re.compile(r"(?:©|copyright\b|\(c\)\s*\d{4})", re.IGNORECASE)  # a page's footer, whatever the site
ATTRIBUTION_RE = re.compile(r"^\s*[—–-]|@\w")  # "— Jane Doe (@jane) March 3, 2020": a quoted post, in the body
LINK_OR_HANDLE_RE = re.compile(r"https?://|www\.|\w\.com/|@\w")  # a headline names no URL or handle
BYLINE_RE = re.compile(r"^(?:written\s+)?by\s+(?=[A-Z])", re.IGNORECASE)
BY_TAIL_RE = re.compile(r"\s*\bby\s+(?=[A-Z])(.*)$")  # "Posted on March 3, 2020 by Jane Doe"
AUTHOR_SPLIT_RE = re.compile(r"\s*(?:,|&|\band\b)\s*")
BYLINE_TAIL_RE = re.compile(r"\s*[|•·—–]\s*.*$")
LABELLED_RE = re.compile(r"^([A-Z][\w']*(?: [\w']+)?):\s+\S")  # "Related: <a headline>", "Photo: Reuters"
PAGER_WORDS = frozenset({"page", "of", "next", "previous", "prev", "first", "last", "older", "newer", "posts"})
PAGER_TOKEN_RE = re.compile(r"\d+|[«»‹›<>…|]+|\.\.\.")
SENTENCE_STOPS = (".", "!", "?", "।", "。", "！", "？", "؟", "۔")
SENTENCE_END = (*SENTENCE_STOPS, '"', "”", "’", "'")


@dataclass(frozen=True)
class Line:
    """One non-blank line of the text, stripped, with its offsets in the text."""

    text: str
    start: int
    end: int

    @property
    def words(self) -> int:
        return word_count(self.text)


@dataclass(frozen=True)
class Story:
    """A story found in a text: its parts and where it sits (offsets into the text)."""

    title: str
    body: str
    start: int
    end: int
    section: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None


# --- lines and what they look like ---------------------------------------------------------------


def split_lines(text: str) -> list[Line]:
    """Non-blank lines with their character offsets; paragraphs may be split by one newline or several."""
    lines = []
    for match in re.finditer(r"[^\r\n]+", text):
        raw = match.group()
        stripped = raw.strip()
        if stripped:
            start = match.start() + (len(raw) - len(raw.lstrip()))
            lines.append(Line(stripped, start, start + len(stripped)))
    return lines


def find_date(text: str) -> str | None:
    """The date expression in a line, if any."""
    match = DATE_RE.search(text)
    return match.group() if match else None


def is_dateline(text: str) -> bool:
    """A short line that is mostly a date ("Posted on March 3, 2020"), not a sentence mentioning one."""
    date = find_date(text)
    if date is None or word_count(text) > MAX_DATELINE_WORDS or ATTRIBUTION_RE.search(text):
        return False
    rest = BY_TAIL_RE.sub(" ", text.replace(date, " ")).split()
    return len(rest) <= 4 and not text.endswith(".")


def is_pager(text: str) -> bool:
    """Numbered pagination: "1 2 3 Next »", "Page 1 of 12"."""
    tokens = text.lower().split()
    return any(t.isdigit() for t in tokens) and all(t in PAGER_WORDS or PAGER_TOKEN_RE.fullmatch(t) for t in tokens)


def is_byline(text: str) -> bool:
    return bool(BYLINE_RE.match(text)) and word_count(text) <= MAX_DATELINE_WORDS and not text.endswith(".")


def is_label(text: str) -> bool:
    """A short all-capitals label: a section name or a box heading ("ASIA", "MOST READ")."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters) and word_count(text) <= MAX_LABEL_WORDS


def is_title_like(text: str) -> bool:
    """A headline: a few words, starts with a capital or digit, does not read as a sentence or a lead-in."""
    words = word_count(text)
    return (
        2 <= words <= MAX_TITLE_WORDS
        and len(text) <= MAX_TITLE_CHARS
        and not text[0].islower()
        and not text.endswith((".", ",", ";", ":", "。", "．", "।", "۔"))
        and not LINK_OR_HANDLE_RE.search(text)
    )


def is_paragraph(text: str) -> bool:
    return word_count(text) >= MIN_PARAGRAPH_WORDS or text.endswith(SENTENCE_END)


def line_key(text: str) -> str:
    """What two chrome lines share when they are 'the same' line: kind, or text without case and digits."""
    if is_byline(text):
        return BYLINE_KEY
    if is_dateline(text):
        return DATE_KEY
    if is_pager(text):
        return PAGER_KEY
    labelled = LABELLED_RE.match(text)
    if labelled and not text.endswith(SENTENCE_STOPS):
        return labelled.group(1).lower() + ":"  # the label repeats, what follows it does not
    return re.sub(r"\s+", " ", re.sub(r"\d", "0", text.lower())).strip(" :|•-")


# --- dates and bylines ---------------------------------------------------------------------------


def parse_date(text: str, now: datetime | None = None) -> datetime | None:
    """A tz-aware datetime (UTC when the text names no zone) from a line holding a date, else None."""
    date = find_date(text)
    return None if date is None else parse_any(date, now or datetime.now(UTC))


def byline_authors(text: str) -> tuple[str, ...]:
    """Names of a byline: "By Jane Doe and John Roe | March 3" -> ("Jane Doe", "John Roe")."""
    names = BYLINE_RE.sub("", text)
    date = find_date(names)
    if date:
        names = names.replace(date, "")
    names = BYLINE_TAIL_RE.sub("", names)
    parts = (part.strip(" ,") for part in AUTHOR_SPLIT_RE.split(names))
    return tuple(part for part in parts if part and not any(c.isdigit() for c in part))


def header_info(lines: list[Line], now: datetime | None) -> tuple[tuple[str, ...], datetime | None]:
    """Authors and publication date from the marker lines around a headline."""
    authors: tuple[str, ...] = ()
    published_at = None
    for line in lines:
        if not authors and is_byline(line.text):
            authors = byline_authors(line.text)
        elif (
            not authors
            and is_dateline(line.text)
            and (tail := BY_TAIL_RE.search(line.text.replace(find_date(line.text) or "", " ")))
        ):
            authors = byline_authors(tail.group(1))
        if published_at is None:
            published_at = parse_date(line.text, now)
    return authors, published_at


# --- the page's structure ------------------------------------------------------------------------


@dataclass
class Page:
    """A text's lines with what its repetitions say about them."""

    lines: list[Line]
    now: datetime | None = None
    known_chrome: frozenset[str] = frozenset()
    """Line keys that earlier pages of the same source showed to be chrome (:class:`ChromeMemory`)."""
    keys: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.keys = [line_key(line.text) for line in self.lines]

    @cached_property
    def markers(self) -> list[bool]:
        """Chrome lines: repeated short lines, bylines, date lines, all-capitals labels."""
        counts = Counter(self.keys)
        on_page = [self._is_marker(line, key, counts[key]) for line, key in zip(self.lines, self.keys, strict=True)]
        return [marker or self._is_known_chrome(i) for i, marker in enumerate(on_page)]

    def _is_known_chrome(self, i: int) -> bool:
        """Chrome of earlier pages, unless it reads as a headline right above a byline or a date line."""
        if self.keys[i] not in self.known_chrome:
            return False
        next_key = self.keys[i + 1] if i + 1 < len(self.keys) else None
        return not (is_title_like(self.lines[i].text) and next_key in (BYLINE_KEY, DATE_KEY))

    @staticmethod
    def _is_marker(line: Line, key: str, count: int) -> bool:
        if key in (BYLINE_KEY, DATE_KEY, PAGER_KEY) or is_label(line.text) or COPYRIGHT_RE.match(line.text):
            return True
        if line.text.endswith(SENTENCE_STOPS) and not line.text.endswith("..."):
            return False  # a repeated sentence ("Yes.") is dialogue, not chrome
        if key.endswith(":") and count >= 2:
            return True  # a repeated label, whatever follows it
        return count >= 2 and line.words <= MAX_REPEATED_MARKER_WORDS and len(line.text) <= MAX_MARKER_CHARS

    def is_title_at(self, i: int) -> bool:
        return not self.markers[i] and is_title_like(self.lines[i].text)

    @cached_property
    def header_keys(self) -> set[str]:
        """Markers that mostly follow a title-like line: what sits between a headline and its body."""
        after_title: Counter[str] = Counter()
        total: Counter[str] = Counter()
        for i, key in enumerate(self.keys):
            if self.markers[i]:
                total[key] += 1
                after_title[key] += int(i > 0 and self.is_title_at(i - 1))
        # a byline or a date line after a headline says "story" even once (a single dated article)
        return {
            k for k, n in after_title.items() if (n >= 2 and 2 * n >= total[k]) or (n and k in (BYLINE_KEY, DATE_KEY))
        }

    @cached_property
    def starts(self) -> list[int]:
        """Indices of the headlines: a title-like line with its header, then a paragraph (or a line, then one).

        The header is a header marker right after the title, or, on a page
        that writes the date above its headlines, a date line or byline right
        before it. A story's own paragraphs never split it (:meth:`_outermost`).
        """
        candidates = [i for i in range(len(self.lines)) if self._opens_story(i)]
        return self._outermost(candidates)

    def _opens_story(self, i: int) -> bool:
        if not self.is_title_at(i):
            return False
        header = self.marker_run_after(i)
        if header:  # a date line the page writes above its headlines, below a line, belongs to the next headline
            opens = self.keys[i + 1] in self.header_keys and self.keys[i + 1] not in self.above_keys
        else:
            opens = i > 0 and self.keys[i - 1] in self.above_keys
        body = self.lines[header.stop : header.stop + 2]  # a kicker or a subheading may come first
        return opens and any(is_paragraph(line.text) for line in body)

    def _signature(self, i: int) -> str:
        return self.keys[i + 1] if self.markers[i + 1] else "above:" + self.keys[i - 1]

    def _outermost(self, candidates: list[int]) -> list[int]:
        """The candidates with the first story's header, or dated ones that do not all sit inside one story.

        A site writes every story's header the same way (the first dated
        story's, else the first story's); a line with another marker after it
        ("Advertisement", "See it now:", a section label) is inside a story or
        the page's own header, unless that marker is a date or a byline, which
        says "story" anywhere but within a single story (a dated update under a
        subheading).
        """
        if not candidates:
            return []
        dated = [i for i in candidates if self._is_dated(self._signature(i))]
        outer = self._signature((dated or candidates)[0])  # a date or byline says "story" more than a label
        outer_starts = [i for i in candidates if self._signature(i) == outer]
        inside: dict[str, set[int]] = {}
        for i in candidates:
            if (signature := self._signature(i)) != outer:
                inside.setdefault(signature, set()).add(sum(start < i for start in outer_starts))
        kept = {
            signature
            for signature, stories in inside.items()
            if self._is_dated(signature) and (len(stories) > 1 or 0 in stories)
        }
        return [i for i in candidates if self._signature(i) in kept | {outer}]

    @staticmethod
    def _is_dated(signature: str) -> bool:
        return signature.removeprefix("above:") in (BYLINE_KEY, DATE_KEY)

    @cached_property
    def above_keys(self) -> set[str]:
        """The date lines or bylines, if any, that this page writes above its headlines rather than below."""
        above: Counter[str] = Counter()
        below: Counter[str] = Counter()
        for i, key in enumerate(self.keys):
            if key in (BYLINE_KEY, DATE_KEY):
                below[key] += i > 0 and self.is_title_at(i - 1)
                above[key] += i + 1 < len(self.lines) and self.is_title_at(i + 1)
        return {key for key, count in above.items() if count > below[key]}

    def marker_run_before(self, i: int, floor: int) -> range:
        """The consecutive markers right before line i, not reaching below floor."""
        j = i
        while j > floor and self.markers[j - 1]:
            j -= 1
        return range(j, i)

    def marker_run_after(self, i: int) -> range:
        j = i + 1
        while j < len(self.lines) and self.markers[j]:
            j += 1
        return range(i + 1, j)

    @cached_property
    def section_keys(self) -> set[str]:
        """Markers that occur only right before headlines; mixed-case ones only if the first story has one too."""
        before_title = {i - 1 for i in self.starts if i > 0 and self.markers[i - 1]}
        elsewhere = {key for i, key in enumerate(self.keys) if self.markers[i] and i not in before_title}
        keys = {self.keys[i] for i in before_title} - elsewhere - {BYLINE_KEY, DATE_KEY}
        first = self.starts[0] - 1 if self.starts else -1
        if first < 0 or self.keys[first] not in keys:
            keys = {self.keys[i] for i in before_title if is_label(self.lines[i].text)} & keys
        return keys

    def section_before(self, title: int) -> str | None:
        i = title - 1
        return self.lines[i].text if i >= 0 and self.markers[i] and self.keys[i] in self.section_keys else None

    @cached_property
    def end_keys(self) -> set[str]:
        """Markers seen after a body, in a later story's prelude ("Continue Reading"), and never inside one."""
        keys: set[str] = set()
        for prev, title in zip(self.starts, self.starts[1:], strict=False):
            keys.update(self.keys[i] for i in self.marker_run_before(title, prev + 1))
        return keys - self.inline_keys - self.section_keys - self.header_keys - {BYLINE_KEY, DATE_KEY}

    @cached_property
    def inline_keys(self) -> set[str]:
        """Markers met between two paragraphs of a body, like "Advertisement": they do not end a story."""
        starts = set(self.starts)
        return {
            self.keys[i]
            for i in range(1, len(self.lines) - 1)
            if self.markers[i] and self._is_body_line(i - 1) and self._is_body_line(i + 1) and i + 1 not in starts
        }

    def _is_body_line(self, i: int) -> bool:
        return not self.markers[i] and is_paragraph(self.lines[i].text)


def body_lines(page: Page, first: int, stop: int) -> list[Line]:
    """The body's content lines in [first, stop): up to an end marker, without markers or a trailing teaser box."""
    kept: list[tuple[Line, bool]] = []
    for i in range(first, stop):
        if page.markers[i] and page.keys[i] in page.end_keys:
            break
        kept.append((page.lines[i], page.markers[i]))
    return [line for line, marker in trim_teasers(kept) if not marker]


def trim_teasers(lines: list[tuple[Line, bool]]) -> list[tuple[Line, bool]]:
    """Cut the trailing run of short non-paragraph lines when it holds a marker ("MOST READ", a pager, teasers)."""
    cut = len(lines)
    while cut > 0 and (lines[cut - 1][1] or not is_paragraph(lines[cut - 1][0].text)):
        cut -= 1
    return lines[:cut] if any(marker for _, marker in lines[cut:]) else lines


def story_at(page: Page, k: int) -> Story | None:
    """The k-th story of the page, or None when its headline carries no body."""
    title = page.starts[k]
    header = page.marker_run_after(title)
    stop = len(page.lines)
    if k + 1 < len(page.starts):
        stop = page.marker_run_before(page.starts[k + 1], header.stop).start
    body = body_lines(page, header.stop, stop)
    if not body:
        return None
    section = page.section_before(title)
    start = page.lines[title - 1 if section else title].start
    prelude = page.marker_run_before(title, page.starts[k - 1] + 1 if k else 0) if page.above_keys else range(0)
    authors, published_at = header_info([page.lines[i] for i in (*header, *prelude)], page.now)
    return Story(
        title=page.lines[title].text,
        body="\n\n".join(line.text for line in body),
        start=start,
        end=body[-1].end,
        section=section,
        authors=authors,
        published_at=published_at,
    )


def split_listing(text: str, now: datetime | None = None, known_chrome: frozenset[str] = frozenset()) -> list[Story]:
    """The stories of a scraped page, in page order; [] when the text shows no story structure.

    One story back means a single article with a headline block (byline, date)
    was recognised; header material before the first story is dropped.
    ``now`` resolves relative dates ("2 hours ago"): pass the fetch time.
    """
    page = Page(split_lines(text), now, known_chrome)
    stories = (story_at(page, k) for k in range(len(page.starts)))
    return [story for story in stories if story is not None]


def single_article(
    text: str, stories: list[Story], now: datetime | None = None, known_chrome: frozenset[str] = frozenset()
) -> Story | None:
    """The text as one article: the one story found, unless prose precedes it (then it was a false start)."""
    if len(stories) == 1 and not any(is_paragraph(line.text) for line in split_lines(text[: stories[0].start])):
        return stories[0]
    return plain_article(text, now, known_chrome)


def plain_article(text: str, now: datetime | None = None, known_chrome: frozenset[str] = frozenset()) -> Story | None:
    """The text as one article: leading date/byline lines are metadata, the first short line is the title.

    When the text opens with a paragraph instead, the title is its first
    sentence, shortened. None when there is no text.
    """
    lines = [line for line in split_lines(text) if line_key(line.text) not in known_chrome]
    lead = 0
    while lead < len(lines) and (is_dateline(lines[lead].text) or is_byline(lines[lead].text)):
        lead += 1
    if lead == len(lines):
        return None
    authors, published_at = header_info(lines[:lead], now)
    content = lines[lead:]
    has_title = is_title_like(content[0].text) and len(content) > 1
    body = content[1:] if has_title else content
    title = content[0].text if has_title else fallback_title(content[0].text)
    return Story(
        title=title,
        body="\n\n".join(line.text for line in body),
        start=content[0].start,
        end=content[-1].end,
        authors=authors,
        published_at=published_at,
    )


def fallback_title(paragraph: str) -> str:
    """A title made from a paragraph: its first sentence, cut at a word boundary when long."""
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
    if len(sentence) <= FALLBACK_TITLE_CHARS:
        return sentence
    return sentence[:FALLBACK_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


# --- chrome across pages of one source -----------------------------------------------------------


class ChromeMemory:
    """Short lines seen on earlier pages of each source; one seen on ``min_pages`` of them is chrome.

    A site writes its header, footer and share buttons on every page, even
    where they appear once per page. Bounded and in-process: the most recent
    ``max_sources`` sources, the ``max_lines`` most frequent lines of each.
    """

    def __init__(self, max_sources: int = 256, max_lines: int = 2000, min_pages: int = 2) -> None:
        self.max_sources, self.max_lines, self.min_pages = max_sources, max_lines, min_pages
        self._seen: OrderedDict[str, Counter[str]] = OrderedDict()

    def known(self, source: str) -> frozenset[str]:
        """Line keys (:func:`line_key`) that are chrome on this source's pages."""
        seen = self._seen.get(source, Counter())
        return frozenset(key for key, pages in seen.items() if pages >= self.min_pages)

    def remember(self, source: str, text: str) -> None:
        """Count the page's short lines, once each, under its source."""
        seen = self._seen.setdefault(source, Counter())
        self._seen.move_to_end(source)
        seen.update({line_key(line.text) for line in split_lines(text) if could_be_chrome(line)})
        if len(seen) > self.max_lines:
            self._seen[source] = Counter(dict(seen.most_common(self.max_lines // 2)))
        while len(self._seen) > self.max_sources:
            self._seen.popitem(last=False)


def could_be_chrome(line: Line) -> bool:
    """Short, and not a sentence."""
    return (
        line.words <= MAX_REPEATED_MARKER_WORDS
        and len(line.text) <= MAX_MARKER_CHARS
        and not (line.text.endswith(SENTENCE_STOPS) and not line.text.endswith("..."))
    )


CHROME_MEMORY = ChromeMemory()
"""The parse process's memory of each source's chrome."""
