"""Scoring: ASR error rates with sclite-style reports (:mod:`.asr`) and RESULTS.md tables (:mod:`.results`)."""

from speechproc.score.asr import (
    AlignedPair,
    Counts,
    ScoreResult,
    align,
    normalize_for_scoring,
    read_kaldi_text,
    score,
    tokenize,
    write_report,
)
from speechproc.score.results import collect_scores, write_results_md

__all__ = [
    "AlignedPair",
    "Counts",
    "ScoreResult",
    "align",
    "normalize_for_scoring",
    "read_kaldi_text",
    "score",
    "tokenize",
    "write_report",
    "collect_scores",
    "write_results_md",
]
