"""Enrich, names as text: titles stripped, spellings of one name told apart from different names."""

from __future__ import annotations

import pytest

from newsflow_enrich.names import clean_name, fold, same_name, same_word, strip_titles


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Commander Malek Dara", "Malek Dara"),
        ("Mr. Saleh", "Saleh"),
        ("Foreign Minister Amir Khan Muttaqi", "Amir Khan Muttaqi"),
        ("President Xi Jinping", "Xi Jinping"),
        ("Ambassador Mohammad Sadiq", "Mohammad Sadiq"),
        ("President", "President"),  # a bare title is left alone, not emptied
        ("Angela Merkel", "Angela Merkel"),
    ],
)
def test_strip_titles(raw: str, expected: str) -> None:
    assert strip_titles(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the “Afghan National Resistance Front”", "Afghan National Resistance Front"),
        ("U.S.", "U.S."),
        ("Washington D.C.", "Washington D.C."),
        ("Beijing.", "Beijing"),
        ("Haqqani’s", "Haqqani"),
    ],
)
def test_clean_name_strips_quotes_and_possessives_but_keeps_abbreviations(raw: str, expected: str) -> None:
    assert clean_name(raw) == expected


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Müller  ") == fold("MULLER") == "muller"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Masoud", "Massoud"),  # one letter more
        ("Semple", "Sempel"),  # letters swapped
        ("Semple", "Sepmel"),  # the same letters shuffled
        ("Haqqani", "Haqqain"),
        ("Haqqani", "Haqqanis"),  # a stray final s
        ("Stanekzai", "Stankzai"),
        ("Taliban", "taliban"),
    ],
)
def test_spellings_of_one_word(a: str, b: str) -> None:
    assert same_word(a, b)
    assert same_word(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Iran", "Iraq"),  # short words must match exactly
        ("Mali", "Bali"),
        ("Austria", "Australia"),
        ("Ahmadwali", "Ahmadzia"),  # two brothers, not a typo
        ("Sadiq", "Sadat"),
        ("Niger", "Nigeria"),
    ],
)
def test_different_words(a: str, b: str) -> None:
    assert not same_word(a, b)


def test_same_name_needs_every_word_to_match() -> None:
    assert same_name("Ahmad Massoud", "Ahmad Masoud")
    assert same_name("Sirajuddin Haqqani", "Sirajuddin Haqqain")
    assert not same_name("Ahmadwali Massoud", "Ahmadzia Massoud")
    assert not same_name("Khalil Haqqani", "Khalilur Rehman Haqqani")
    assert not same_name("Michael Semple", "Semple")
