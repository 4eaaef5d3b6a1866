"""Facts of an article: word count, reading time, the countries it mentions (ISO 3166-1 alpha-2)."""

from __future__ import annotations

import gettext
import re
from functools import cache

import pycountry

from newsflow_enrich.names import fold
from newsflow_schemas import Entity

WORDS_PER_MINUTE = 230
_WORD = re.compile(r"\w+")

COMMON_NAMES = {
    "russia": "RU",
    "turkey": "TR",
    "britain": "GB",
    "great britain": "GB",
    "uk": "GB",
    "u.k.": "GB",
    "england": "GB",
    "us": "US",
    "u.s.": "US",
    "usa": "US",
    "u.s.a.": "US",
    "america": "US",
    "ivory coast": "CI",
    "brunei": "BN",
    "macedonia": "MK",
    "cape verde": "CV",
    "swaziland": "SZ",
    "burma": "MM",
    "holland": "NL",
    "vatican": "VA",
}
"""Everyday names the ISO list does not carry (it says 'Russian Federation', 'Türkiye', ...)."""


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def reading_time_minutes(words: int) -> float:
    return round(words / WORDS_PER_MINUTE, 1)


TRANSLATIONS = ("fr",)
"""Languages NER reads other than English, whose country names pycountry's ISO 3166 translations give."""


@cache
def _country_codes() -> dict[str, str]:
    """Folded country name -> alpha-2: ISO names, official and common names, the part before a comma;
    in English and in the other languages NER reads ('Allemagne', 'Royaume-Uni')."""
    translators = [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[t]) for t in TRANSLATIONS]
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        english = [country.name]
        english += [getattr(country, attr) for attr in ("official_name", "common_name") if hasattr(country, attr)]
        names = english + [t.gettext(name) for t in translators for name in english]
        for name in names:
            codes.setdefault(fold(name), country.alpha_2)
            codes.setdefault(fold(name.split(",")[0]), country.alpha_2)
    codes.pop("congo", None)  # two countries by that name: ambiguous
    return {**codes, **COMMON_NAMES}


def countries(entities: list[Entity]) -> list[str]:
    """Alpha-2 codes of the places that are countries, most mentioned first, each once."""
    table = _country_codes()
    found = [table.get(fold(e.name)) for e in entities if e.type == "LOC"]
    return list(dict.fromkeys(code for code in found if code))
