"""Publication dates: candidates in order of trust, the first plausible one wins.

Trust order (``Article.published_at_source``): the page's meta tags, its
JSON-LD, a date written near the headline, a date in the URL, the date a feed
gave, and last the fetch time. A date in the future (beyond a small tolerance
for clocks and time zones) or before 1990 is an extraction error: it is
dropped and the next source of trust is asked instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import dateparser
from dateparser.languages.loader import default_loader

from newsflow_schemas.models import PublishedAtSource

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)  # a page dated "today" in UTC+14 is not from the future
URL_DATE_RE = re.compile(
    r"/((?:19|20)\d{2})[/-]([01]?\d)[/-]([0-3]?\d)(?=[/._-]|$)|/((?:19|20)\d{2})([01]\d)([0-3]\d)/"
)
PREFIX_RE = re.compile(r"^\s*(?:published|posted|updated|last updated|first published|date)\s*(?:on|at)?\s*:?\s*", re.I)

BUDDHIST_ERA_OFFSET = 543
BUDDHIST_ERA_FROM = EARLIEST.year + BUDDHIST_ERA_OFFSET  # no page is dated 2533 or later in the common era
DATEPARSER_LANGUAGES = frozenset(code for code in default_loader.get_locale_map() if "-" not in code)

Candidate = tuple[PublishedAtSource, datetime | None]


def plausible(date: datetime, fetched_at: datetime) -> bool:
    """Not before 1990, not after the fetch (beyond the tolerance)."""
    return EARLIEST <= date <= fetched_at + FUTURE_TOLERANCE


def choose(candidates: Iterable[Candidate], fetched_at: datetime) -> tuple[datetime, PublishedAtSource]:
    """The first plausible candidate in the order given (trust order), else the fetch time.

    A day without a time (a URL's /2024/03/05/) gives way to a later candidate that falls on that day and
    tells the time (the feed's timestamp): the more precise of agreeing dates wins.
    """
    chosen: tuple[datetime, PublishedAtSource] | None = None
    for source, date in candidates:
        if date is None or not plausible(date, fetched_at):
            continue
        if chosen is None:
            chosen = date, source
            if not day_only(date):
                return chosen
        elif not day_only(date) and on_day(date, chosen[0]):
            return date, source
    return chosen or (fetched_at, "fetch-time")


def day_only(date: datetime) -> bool:
    """Midnight UTC: what a date without a time of day is read as."""
    return date.utcoffset() == timedelta(0) and (date.hour, date.minute, date.second, date.microsecond) == (0, 0, 0, 0)


def on_day(date: datetime, day: datetime) -> bool:
    """Whether ``date`` falls on ``day`` somewhere on Earth (time zones run from UTC-12 to UTC+14)."""
    return day - timedelta(hours=14) <= date < day + timedelta(hours=36)


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp or day as a tz-aware datetime (UTC when it names no zone); None when it is not one."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_any(value: str | None, relative_base: datetime, language: str | None = None) -> datetime | None:
    """ISO first, then free text ("March 3, 2020 10:45", "2 hours ago" against ``relative_base``).

    Free text is read as English, then in the page's ``language`` ("mer, 16 nov 2022",
    "16 ноября 2022", "2022年11月16日"); when the page names none, dateparser detects it.
    A Thai year of the Buddhist era (2565) is brought back to the common era (2022).
    """
    if not value or not value.strip():
        return None
    iso = parse_iso(value)
    if iso is not None:
        return iso
    settings = {
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
        "PREFER_DATES_FROM": "past",
        "RELATIVE_BASE": relative_base.astimezone(UTC).replace(tzinfo=None),
    }
    text = PREFIX_RE.sub("", value)[:100]  # "Published on March 3": dateparser wants the date alone
    for languages in (["en"], other_languages(language)):
        parsed = dateparser.parse(text, languages=languages, settings=settings)
        if isinstance(parsed, datetime) and parsed.tzinfo is not None:
            return common_era(parsed)
    return None


def other_languages(language: str | None) -> list[str] | None:
    """The page's language when dateparser knows it, else None: dateparser then detects the language."""
    if language and language != "en" and language in DATEPARSER_LANGUAGES:
        return [language]
    return None


def common_era(date: datetime) -> datetime:
    """A year of the Thai Buddhist era (543 years ahead) in the common era; other dates unchanged."""
    if date.year >= BUDDHIST_ERA_FROM:
        return date.replace(year=date.year - BUDDHIST_ERA_OFFSET)
    return date


def date_in_url(url: str | None) -> datetime | None:
    """A day written in the URL's path: /2024/12/27/, /2024-12-27-, /20241227/."""
    if not url:
        return None
    match = URL_DATE_RE.search(url)
    if match is None:
        return None
    year, month, day = (int(part) for part in (match.groups()[:3] if match.group(1) else match.groups()[3:]))
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:
        return None
