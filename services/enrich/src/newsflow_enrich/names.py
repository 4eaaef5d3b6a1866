"""Entity names as text: cleaning, folding for lookups, and telling spelling variants apart from other names.

Pure string logic, no model: the article's own evidence decides, not a list of known people.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import cast

from newsflow_schemas import Entity
from newsflow_schemas.models import EntityType

TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "dame",
        "lord",
        "lady",
        "president",
        "vice",
        "prime",
        "minister",
        "ministers",
        "chancellor",
        "premier",
        "commander",
        "general",
        "gen",
        "lt",
        "col",
        "colonel",
        "major",
        "captain",
        "capt",
        "sgt",
        "admiral",
        "marshal",
        "ambassador",
        "envoy",
        "special",
        "representative",
        "senator",
        "sen",
        "rep",
        "governor",
        "gov",
        "mayor",
        "king",
        "queen",
        "prince",
        "princess",
        "sheikh",
        "mullah",
        "emir",
        "pope",
        "imam",
        "judge",
        "justice",
        "secretary",
        "chairman",
        "chairwoman",
        "chair",
        "ceo",
        "director",
        "deputy",
        "acting",
        "interim",
        "former",
        "late",
        "foreign",
        "interior",
        "defence",
        "defense",
        "finance",
        "health",
        "state",
        "supreme",
        "leader",
        "spokesman",
        "spokeswoman",
        "officer",
        "agent",
        "detective",
        "inspector",
        "professor",
        "doctor",
        "reverend",
        "rev",
        "father",
        "saint",
        "st",
    }
)
"""Words that introduce a person without being part of the name ("Foreign Minister Amir Khan Muttaqi")."""

_LEADING_ARTICLE = re.compile(r"^(the)\s+", re.I)
_POSSESSIVE = re.compile(r"(['’]s|['’])$")
_ABBREVIATION = re.compile(r"(?:^|[\s.])\w\.$")
"""Ends like 'U.S.' or 'Gen. J.': the final dot belongs to the name."""
_EDGE_PUNCTUATION = " .,;:!?\"'“”‘’()[]-–—"


def clean_name(text: str) -> str:
    """'the European Union' -> 'European Union', "Haqqani's" -> 'Haqqani', whitespace folded; 'U.S.' stays."""
    name = " ".join(text.split())
    previous = None
    while name != previous:
        previous = name
        name = _LEADING_ARTICLE.sub("", _POSSESSIVE.sub("", name.strip(_EDGE_PUNCTUATION)))
    if _ABBREVIATION.search(text.rstrip()):
        name += "."
    return name


def strip_titles(name: str) -> str:
    """'Commander Malek Dara' -> 'Malek Dara', 'Mr. Saleh' -> 'Saleh'; a bare title stays as it is."""
    words = name.split()
    while len(words) > 1 and words[0].lower().rstrip(".") in TITLES:
        words = words[1:]
    return " ".join(words)


@lru_cache(maxsize=4096)
def fold(name: str) -> str:
    """The lookup form of a name: lower case, no accents, single spaces ('Müller' and 'MULLER' meet)."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _one_edit_apart(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of at most 1 (one insertion, deletion, substitution or swap)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
        return a[i + 1 :] == b[i + 1 :] or swapped
    return a[i:] == b[i + 1 :]


@lru_cache(maxsize=4096)
def same_word(a: str, b: str) -> bool:
    """Two spellings of one name word: 'Masoud'/'Massoud', 'Semple'/'Sepmel', 'Haqqani'/'Haqqanis'.

    Short words must match exactly ('Iran' is not 'Iraq'); longer ones may differ by a typo that keeps
    the first and last letter, by shuffled letters (the same letters, same first letter), or by a stray
    final 's'.
    """
    a, b = fold(a), fold(b)
    if a == b:
        return True
    shorter = min(len(a), len(b))
    if shorter < 4 or a[0] != b[0]:
        return False
    if sorted(a) == sorted(b):
        return True
    if shorter < 5:
        return False
    if a + "s" == b or b + "s" == a:
        return True
    return a[-1] == b[-1] and _one_edit_apart(a, b)


def same_name(a: str, b: str) -> bool:
    """Two spellings of one multi-word name: the same number of words, each a spelling of the other."""
    words_a, words_b = a.split(), b.split()
    return len(words_a) == len(words_b) and all(same_word(x, y) for x, y in zip(words_a, words_b, strict=True))


NAMED: tuple[EntityType, ...] = ("PERSON", "ORG", "LOC", "NORP", "EVENT")
"""Entity types that are names (DATE and MONEY are facts)."""


def names_of(entities: list[Entity], *types: str) -> list[str]:
    return [e.name for e in entities if e.type in cast(tuple[EntityType, ...], types)]
