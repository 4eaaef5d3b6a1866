"""How long a text is, in words, whatever its script.

Every length rule of parse (an article has at least 25 words, a headline 2 to
30...) was written in words counted by spaces. Chinese, Japanese and Thai do not
put spaces between words, so a Japanese article of 300 characters counted as a
handful of "words" and was dropped. Here a run of an unspaced script counts by
its characters at the average word length of that script (Chinese and Japanese
about two characters a word, Thai, Lao, Khmer and Myanmar about four letters),
and every other text counts by spaces exactly as before, so the rules keep
their meaning for spaced languages.
"""

from __future__ import annotations

import regex  # type: ignore[import-untyped]

CHARS_PER_WORD = {
    # Han, kana and the ideographic iteration marks: Chinese words average under 2 characters,
    # Japanese mixes 1-character particles with longer kanji compounds.
    r"\p{Han}\p{Hiragana}\p{Katakana}ー々〆": 2,
    # Thai, Lao, Khmer, Myanmar and Tibetan write words of a few letters (with their vowel marks) unspaced.
    r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tibetan}": 4,
}
UNSPACED_RUNS = [(regex.compile(f"[{letters}]+"), size) for letters, size in CHARS_PER_WORD.items()]


def word_count(text: str) -> int:
    """Words of a text: space-separated tokens, plus unspaced-script runs counted by characters."""
    if text.isascii():
        return len(text.split())
    count = 0
    for run, size in UNSPACED_RUNS:
        found = run.findall(text)
        if found:
            count += sum(max(1, round(len(chunk) / size)) for chunk in found)
            text = run.sub(" ", text)
    return count + len(text.split())
