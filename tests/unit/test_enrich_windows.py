"""NER past the lead: a window around each new word, the names already found counted in what it skips."""

from __future__ import annotations

from newsflow_enrich import entities as ner

LEAD = "Angela Merkel met officials in Berlin on the budget. " * 2
FILLER = "the talks went on and the officials spoke at length about the plan. " * 20


def test_windows_surround_the_first_appearance_of_each_new_word_only() -> None:
    text = LEAD + FILLER + "Later Emmanuel Macron arrived. " + FILLER + "Macron left. "
    start = len(LEAD)
    known = ner._known_words([ner.Mention("Angela Merkel", "PERSON", 0), ner.Mention("Berlin", "LOC", 30)])
    spans = ner.new_word_windows(text, start, len(text), known, set())
    read = [text[first:last] for first, last in spans]
    assert len(read) == 1  # "Later", "Emmanuel", "Macron" in one window; the second "Macron" is not new
    assert "Emmanuel Macron arrived" in read[0]
    assert len(read[0].split()) <= 2 * ner.WINDOW_WORDS + 3


def test_gaps_are_what_the_windows_leave_out() -> None:
    assert ner.gaps([(10, 20), (30, 40)], 0, 50) == [(0, 10), (20, 30), (40, 50)]
    assert ner.gaps([(0, 50)], 0, 50) == []


def test_a_name_past_the_lead_is_found_and_a_known_one_counted_where_ner_did_not_read() -> None:
    text = LEAD + FILLER + "Later Emmanuel Macron arrived in Paris. " + FILLER + "Merkel said Angela Merkel agreed. "
    reading = ner.read_entities(ner.nlp(), [text], lead_chars=len(LEAD))[0]
    names = {(m.name, m.type) for m in reading.mentions}
    assert ("Emmanuel Macron", "PERSON") in names
    assert ("Paris", "LOC") in names
    merkel = [m for m in reading.mentions if m.name == "Angela Merkel"]
    assert len(merkel) == 3  # twice in the lead, once in the skipped last sentence, by string search
    assert merkel[-1].offset == text.rindex("Angela Merkel")


def test_a_name_ending_in_a_dot_is_counted_in_the_text_ner_skipped() -> None:
    # r"\bU\.S\.\b" needs a word character after the dot: "U.S. troops" never matched, so U.S. went uncounted.
    text = "The U.S. and Apple Inc. agreed. " + FILLER + "Then the U.S. left, and Apple Inc. too. U.S.-made parts."
    found = [ner.Mention("U.S.", "LOC", 4), ner.Mention("Apple Inc.", "ORG", 13)]
    skipped = [(len("The U.S. and Apple Inc. agreed. "), len(text))]
    counted = [(m.name, m.offset) for m in ner._count_known(text, skipped, found)]
    first_us = text.index("U.S.", skipped[0][0])
    assert ("U.S.", first_us) in counted
    assert ("Apple Inc.", text.index("Apple Inc.", skipped[0][0])) in counted
    assert ("U.S.", text.rindex("U.S.")) in counted
    assert len(counted) == 3


def test_a_name_inside_a_longer_word_is_not_counted() -> None:
    text = "Iran spoke. " + FILLER + "Iranian and Irans differ from Iran."
    skipped = [(len("Iran spoke. "), len(text))]
    counted = ner._count_known(text, skipped, [ner.Mention("Iran", "LOC", 0)])
    assert [m.offset for m in counted] == [text.rindex("Iran")]
