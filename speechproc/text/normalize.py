"""Text cleaners for ASR transcripts and TTS input.

A cleaner is a function ``str -> str``. They are chosen by name (``--cleaner english``) through
:data:`CLEANERS`, and several can be chained: ``clean(text, ["strip_punctuation", "upper"])``.

>>> english_cleaner("Mr.  Smith  met Dr. Jones ")
'mister smith met doctor jones'
>>> strip_punctuation("Hello, world! It's fine.")
"Hello world It's fine"
"""
from __future__ import annotations

import re
import unicodedata
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

from speechproc.utils import SpeechprocError

__all__ = [
    "CLEANERS",
    "collapse_whitespace",
    "lowercase",
    "upper_cleaner",
    "strip_punctuation",
    "expand_abbreviations",
    "basic_cleaner",
    "english_cleaner",
    "get_cleaner",
    "clean",
    "cleaner_names",
]

_WHITESPACE_RE = re.compile(r"\s+")

# (abbreviation, expansion), matched case-insensitively as a whole word followed by a period.
_ABBREVIATIONS = [
    (re.compile(rf"\b{abbr}\.", re.IGNORECASE), expansion)
    for abbr, expansion in [
        ("mrs", "misess"),
        ("mr", "mister"),
        ("dr", "doctor"),
        ("st", "saint"),
        ("co", "company"),
        ("jr", "junior"),
        ("maj", "major"),
        ("gen", "general"),
        ("drs", "doctors"),
        ("rev", "reverend"),
        ("lt", "lieutenant"),
        ("hon", "honorable"),
        ("sgt", "sergeant"),
        ("capt", "captain"),
        ("esq", "esquire"),
        ("ltd", "limited"),
        ("col", "colonel"),
        ("ft", "fort"),
    ]
]


def collapse_whitespace(text: str) -> str:
    """Replace runs of whitespace by one space and strip both ends."""
    return _WHITESPACE_RE.sub(" ", text).strip()


def lowercase(text: str) -> str:
    """Lower-case the text."""
    return text.lower()


def upper_cleaner(text: str) -> str:
    """Upper-case the text and collapse whitespace (the AN4 / WSJ transcript convention)."""
    return collapse_whitespace(text.upper())


def strip_punctuation(text: str, keep: str = "'") -> str:
    """Remove Unicode punctuation characters except those in ``keep`` (apostrophes by default).

    Punctuation is replaced by a space, then whitespace is collapsed, so "end.Start" -> "end Start".
    """
    out = [
        " " if unicodedata.category(ch).startswith("P") and ch not in keep else ch
        for ch in text
    ]
    return collapse_whitespace("".join(out))


def expand_abbreviations(text: str) -> str:
    """Expand common English abbreviations ("Mr." -> "mister", "Dr." -> "doctor", ...)."""
    for pattern, expansion in _ABBREVIATIONS:
        text = pattern.sub(expansion, text)
    return text


def basic_cleaner(text: str) -> str:
    """Lower-case and collapse whitespace (language independent)."""
    return collapse_whitespace(text.lower())


def english_cleaner(text: str) -> str:
    """English TTS/ASR cleaner: NFKC, lower-case, expand abbreviations, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = lowercase(text)
    text = expand_abbreviations(text)
    return collapse_whitespace(text)


CLEANERS: Dict[str, Callable[[str], str]] = {
    "none": lambda text: text,
    "whitespace": collapse_whitespace,
    "lower": basic_cleaner,
    "upper": upper_cleaner,
    "strip_punctuation": strip_punctuation,
    "english": english_cleaner,
}


def get_cleaner(name: str) -> Callable[[str], str]:
    """The cleaner called ``name``; an unknown name is a :class:`SpeechprocError` listing the choices."""
    try:
        return CLEANERS[name]
    except KeyError:
        raise SpeechprocError(
            f"unknown text cleaner '{name}'; choose one of: {', '.join(sorted(CLEANERS))}"
        ) from None


def clean(text: str, cleaners: Optional[Union[str, Sequence[str]]]) -> str:
    """Apply the named cleaners in order. ``cleaners`` is a name, a list of names, or None (no-op)."""
    if cleaners is None:
        return text
    names: Iterable[str] = [cleaners] if isinstance(cleaners, str) else cleaners
    for name in names:
        text = get_cleaner(name)(text)
    return text


def cleaner_names(cleaners: Optional[Union[str, Sequence[str]]]) -> List[str]:
    """Normalise a cleaner spec (None, 'a', 'a,b', ['a', 'b']) to a validated list of names."""
    if cleaners is None:
        return []
    if isinstance(cleaners, str):
        cleaners = [c for c in cleaners.split(",") if c]
    names = list(cleaners)
    for name in names:
        get_cleaner(name)
    return [n for n in names if n != "none"]
