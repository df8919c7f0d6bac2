"""ASR scoring: Levenshtein alignment, WER/CER/TER, and sclite-style ``result.txt`` reports.

Conventions (what a Kaldi/ESPnet user should know before comparing numbers):

* **Counts.** Error counts are the Levenshtein distance between the token sequences, the number
  Kaldi's ``compute-wer`` and jiwer report. Among the alignments with that minimal number of
  errors, the one sclite's weights (substitution 4, insertion 3, deletion 3) prefer is chosen:
  it has the most correct tokens and the fewest substitutions. The remaining ties (where an
  error sits, never how many of each kind) are broken by preferring, from the end of the
  utterance backwards, a match/substitution, then a deletion, then an insertion.
  Pure sclite can, in rare cases, pick an alignment with *more* errors than the Levenshtein
  distance (its weights trade one substitution for a deletion plus an insertion); speechproc
  never does. The alignment is our own on purpose: jiwer's (rapidfuzz Levenshtein opcodes) has the
  same number of errors but breaks ties without sclite's weights, so its S/D/I split differs from
  sclite's (``a b`` vs ``b c``: two substitutions where sclite shows a deletion, a match and an
  insertion) and it reproduces 4 of the 8 AN4 sclite alignments of ``tests/test_score_asr.py``;
  the tests check every count against jiwer's.
* **Units.** ``word``: whitespace-separated words (metric ``wer``). ``token``: the text is
  already tokenised (e.g. BPE pieces separated by spaces), scored like words (metric ``ter``).
  ``char``: characters, with each word boundary kept as the token ``<space>`` (metric ``cer``),
  which is ESPnet2's CER convention (``tokenize_text --token_type char``, space symbol
  ``<space>``). Pass ``space_symbol=None`` to drop spaces instead (the usual Mandarin/Japanese
  CER of Kaldi recipes).
* **Missing hypotheses.** A reference utterance without a hypothesis is scored as all
  deletions (Kaldi ``compute-wer --mode=all``), logged as a warning and listed in
  ``result.txt``. A hypothesis utterance that is not in the reference is an error.
* **Empty references.** An utterance whose reference is empty is scored (its hypothesis
  tokens are insertions, as sclite does); a reference with no tokens at all is an error,
  since the error rate would divide by zero.
* **Report.** ``result.txt`` follows sclite's ``-o all`` output (``.sys`` per-speaker tables,
  then the ``.pra`` alignment dump): correct tokens in lower case, errors in upper case, ``*``
  filling the missing side of insertions and deletions, columns aligned by display width
  (East Asian wide characters count as two columns). Upper-casing is skipped for a
  substitution whose two sides differ only in case, so the error stays visible.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from speechproc.utils import SpeechprocError, atomic_write_text

__all__ = [
    "UNITS",
    "METRICS",
    "NORMALIZE_MODES",
    "SPACE_SYMBOL",
    "AlignedPair",
    "Counts",
    "UttScore",
    "SpeakerScore",
    "ScoreResult",
    "normalize_for_scoring",
    "tokenize",
    "align",
    "read_kaldi_text",
    "score",
    "format_report",
    "write_report",
]

logger = logging.getLogger(__name__)

UNITS: Tuple[str, ...] = ("word", "char", "token")
METRICS: Dict[str, str] = {"word": "wer", "char": "cer", "token": "ter"}
SPACE_SYMBOL = "<space>"

PathLike = Union[str, Path]

# ----------------------------------------------------------------------------------------------
# Text normalisation


def _norm_none(text: str) -> str:
    return " ".join(text.split())


def _norm_upper(text: str) -> str:
    return " ".join(text.upper().split())


def _strip_punctuation(text: str) -> str:
    """Replace Unicode punctuation (category P*) by spaces; keep apostrophes inside words."""
    out = []
    n = len(text)
    for k, ch in enumerate(text):
        if unicodedata.category(ch).startswith("P") or (ch in string.punctuation and ch not in "<>"):
            if ch in "'\u2019" and 0 < k < n - 1 and text[k - 1].isalnum() and text[k + 1].isalnum():
                out.append("'")
                continue
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _norm_lower(text: str) -> str:
    return " ".join(_strip_punctuation(text.lower()).split())


_WHISPER_NORMALIZER: List[Callable[[str], str]] = []


def _norm_whisper(text: str) -> str:
    """Whisper's English normaliser (``transformers``' copy of OpenAI's ``EnglishTextNormalizer``,
    without the British-to-American spelling map): lower case, symbols removed, spelled numbers
    to digits (``TWO ONE FIVE`` -> ``215``, ``OH`` -> ``0``), ``mr.`` -> ``mister``, ..."""
    if not _WHISPER_NORMALIZER:
        try:
            from transformers.models.whisper.english_normalizer import EnglishTextNormalizer
        except ImportError:
            raise SpeechprocError(
                "text normalisation 'whisper_en' needs the transformers package: tools/venv/bin/pip install transformers"
            ) from None
        _WHISPER_NORMALIZER.append(EnglishTextNormalizer({}))
    return " ".join(_WHISPER_NORMALIZER[0](text).split())


_NORMALIZERS: Dict[str, Callable[[str], str]] = {
    "none": _norm_none,
    "upper": _norm_upper,
    "lower": _norm_lower,
    "whisper_en": _norm_whisper,
}
NORMALIZE_MODES: Tuple[str, ...] = tuple(_NORMALIZERS)


def normalize_for_scoring(text: str, mode: str = "none") -> str:
    """Normalise a transcript before scoring; whitespace is always collapsed to single spaces.

    Args:
        text: one transcript (without the utterance id).
        mode: ``none`` (whitespace only), ``upper`` (upper case), ``lower`` (lower case, and
            punctuation replaced by spaces except apostrophes inside words: ``"Don't-stop!"`` ->
            ``"don't stop"``). ``<`` and ``>`` are kept, so tags like ``<unk>`` survive.
            ``whisper_en``: Whisper's English normaliser (needs ``transformers``), the usual way to
            score Whisper's cased, punctuated, digit-writing output against word references.

    Returns:
        The normalised text.
    """
    try:
        fn = _NORMALIZERS[mode]
    except KeyError:
        raise SpeechprocError(
            f"unknown text normalisation '{mode}'; choose one of: {', '.join(NORMALIZE_MODES)}"
        ) from None
    return fn(text)


def tokenize(text: str, unit: str = "word", space_symbol: Optional[str] = SPACE_SYMBOL) -> List[str]:
    """Split a (normalised) transcript into scoring units.

    Args:
        text: the transcript.
        unit: ``word`` or ``token`` (split on whitespace) or ``char`` (characters).
        space_symbol: for ``char``, the token standing for a word boundary (runs of whitespace
            count once); ``None`` drops word boundaries.

    Returns:
        The list of tokens.
    """
    if unit not in UNITS:
        raise SpeechprocError(f"unknown scoring unit '{unit}'; choose one of: {', '.join(UNITS)}")
    words = text.split()
    if unit != "char":
        return words
    out: List[str] = []
    for k, w in enumerate(words):
        if k and space_symbol is not None:
            out.append(space_symbol)
        out.extend(w)
    return out


# ----------------------------------------------------------------------------------------------
# Alignment


class AlignedPair(NamedTuple):
    """One alignment column: ``op`` in ``C`` (correct), ``S``, ``D``, ``I``; ``ref``/``hyp``
    is ``None`` on the missing side of an insertion/deletion."""

    op: str
    ref: Optional[str]
    hyp: Optional[str]


def align(ref_tokens: Sequence[str], hyp_tokens: Sequence[str]) -> List[AlignedPair]:
    """Align two token sequences with a minimal number of edits (see the module docstring).

    Args:
        ref_tokens: reference tokens (length N, may be empty).
        hyp_tokens: hypothesis tokens (length M, may be empty).

    Returns:
        The alignment in reading order; ``#S + #D + #I`` is the Levenshtein distance.
    """
    n, m = len(ref_tokens), len(hyp_tokens)
    if n == 0:
        return [AlignedPair("I", None, h) for h in hyp_tokens]
    if m == 0:
        return [AlignedPair("D", r, None) for r in ref_tokens]
    ids: Dict[str, int] = {}
    r = np.array([ids.setdefault(t, len(ids)) for t in ref_tokens], dtype=np.int64)
    h = np.array([ids.setdefault(t, len(ids)) for t in hyp_tokens], dtype=np.int64)
    # One integer cost orders alignments by (number of edits, sclite weight): the first term
    # dominates because the sclite weight of any alignment is below `big`.
    big = 4 * (n + m) + 1
    sub_c, ins_c, del_c = big + 4, big + 3, big + 3
    ramp = np.arange(m + 1, dtype=np.int64) * ins_c
    cost = np.empty((n + 1, m + 1), dtype=np.int64)
    cost[0] = ramp
    for i in range(1, n + 1):
        prev = cost[i - 1]
        diag = prev[:-1] + np.where(h == r[i - 1], 0, sub_c)
        best = np.empty(m + 1, dtype=np.int64)
        best[0] = prev[0] + del_c
        best[1:] = np.minimum(diag, prev[1:] + del_c)
        # row[j] = min(best[j], row[j-1] + ins): a running minimum after removing the ramp
        cost[i] = np.minimum.accumulate(best - ramp) + ramp
    out: List[AlignedPair] = []
    i, j = n, m
    while i > 0 or j > 0:
        c = cost[i, j]
        if i > 0 and j > 0:
            same = r[i - 1] == h[j - 1]
            if c == cost[i - 1, j - 1] + (0 if same else sub_c):
                out.append(AlignedPair("C" if same else "S", ref_tokens[i - 1], hyp_tokens[j - 1]))
                i, j = i - 1, j - 1
                continue
        if i > 0 and c == cost[i - 1, j] + del_c:
            out.append(AlignedPair("D", ref_tokens[i - 1], None))
            i -= 1
        else:
            out.append(AlignedPair("I", None, hyp_tokens[j - 1]))
            j -= 1
    out.reverse()
    return out


# ----------------------------------------------------------------------------------------------
# Results


@dataclass
class Counts:
    """Error counts: ``n`` reference tokens, ``c`` correct, ``s``/``d``/``i`` edits."""

    n: int = 0
    c: int = 0
    s: int = 0
    d: int = 0
    i: int = 0

    @property
    def errors(self) -> int:
        """``s + d + i``."""
        return self.s + self.d + self.i

    @property
    def rate(self) -> float:
        """Error rate in percent (``nan`` when ``n == 0``)."""
        return 100.0 * self.errors / self.n if self.n else float("nan")

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.n + other.n, self.c + other.c, self.s + other.s, self.d + other.d, self.i + other.i)

    @classmethod
    def from_alignment(cls, alignment: Iterable[AlignedPair]) -> "Counts":
        """Count the ops of one alignment."""
        k = {"C": 0, "S": 0, "D": 0, "I": 0}
        for p in alignment:
            k[p.op] += 1
        return cls(n=k["C"] + k["S"] + k["D"], c=k["C"], s=k["S"], d=k["D"], i=k["I"])


@dataclass
class UttScore:
    """Score of one utterance; ``missing`` is True when it had no hypothesis."""

    utt: str
    spk: str
    ref: List[str]
    hyp: List[str]
    alignment: List[AlignedPair]
    counts: Counts
    missing: bool = False

    @property
    def is_error(self) -> bool:
        """Whether the utterance has at least one error (counts toward the sentence error rate)."""
        return self.counts.errors > 0


@dataclass
class SpeakerScore:
    """Sums over one speaker's utterances."""

    spk: str
    n_utts: int
    n_err_utts: int
    counts: Counts

    @property
    def ser(self) -> float:
        """Sentence error rate in percent."""
        return 100.0 * self.n_err_utts / self.n_utts if self.n_utts else float("nan")


@dataclass
class ScoreResult:
    """Everything :func:`score` computed; :func:`write_report` renders it."""

    unit: str
    normalize: str
    totals: Counts
    utts: List[UttScore]
    speakers: List[SpeakerScore]
    missing: List[str]
    ref_name: str = "ref"
    hyp_name: str = "hyp"
    meta: Dict[str, object] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        """``wer``, ``cer`` or ``ter``."""
        return METRICS[self.unit]

    @property
    def error_rate(self) -> float:
        """Token error rate in percent."""
        return self.totals.rate

    @property
    def n_utts(self) -> int:
        """Number of reference utterances scored (including those without a hypothesis)."""
        return len(self.utts)

    @property
    def n_err_utts(self) -> int:
        """Number of utterances with at least one error."""
        return sum(u.is_error for u in self.utts)

    @property
    def ser(self) -> float:
        """Sentence error rate in percent."""
        return 100.0 * self.n_err_utts / self.n_utts

    def kaldi_lines(self) -> List[str]:
        """The three summary lines of Kaldi's ``compute-wer`` (``%WER``, ``%SER``, ``Scored``)."""
        t = self.totals
        return [
            f"%{self.metric.upper()} {t.rate:.2f} [ {t.errors} / {t.n}, {t.i} ins, {t.d} del, {t.s} sub ]",
            f"%SER {self.ser:.2f} [ {self.n_err_utts} / {self.n_utts} ]",
            f"Scored {self.n_utts} sentences, {len(self.missing)} not present in hyp.",
        ]

    def to_dict(self) -> Dict[str, object]:
        """Machine-readable summary (the content of ``score.json``)."""
        t = self.totals
        d: Dict[str, object] = {
            self.metric: t.rate,
            "n": t.n,
            "c": t.c,
            "s": t.s,
            "d": t.d,
            "i": t.i,
            "errors": t.errors,
            "ser": self.ser,
            "n_utts": self.n_utts,
            "n_err_utts": self.n_err_utts,
            "n_missing": len(self.missing),
            "unit": self.unit,
            "normalize": self.normalize,
            "ref": self.ref_name,
            "hyp": self.hyp_name,
        }
        d.update(self.meta)
        return d


def read_kaldi_text(path: PathLike) -> Dict[str, str]:
    """Read a Kaldi ``text`` file (``<utt-id> <transcript>`` per line, UTF-8).

    A line with an id and no transcript is an empty transcript. Empty lines, lines starting with
    whitespace (no id), duplicate ids and bytes that are not UTF-8 are errors naming the line.

    Args:
        path: the file.

    Returns:
        ``{utt_id: transcript}`` in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise SpeechprocError(f"{path}: no such file; expected a Kaldi text file with lines '<utt-id> <text>'")
    out: Dict[str, str] = {}
    first_line: Dict[str, int] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise SpeechprocError(
                    f"{path}:{lineno}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the "
                    f"line); convert the file to UTF-8, e.g. 'iconv -f <encoding> -t utf-8'"
                ) from None
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            line = line.rstrip("\r\n")
            if not line.strip():
                raise SpeechprocError(
                    f"{path}:{lineno}: empty line (no utterance id); every line must be '<utt-id> <text>'; "
                    f"remove the line"
                )
            if line[0].isspace():
                raise SpeechprocError(
                    f"{path}:{lineno}: line starts with whitespace, so it has no utterance id: {line.strip()[:60]!r}; "
                    f"every line must be '<utt-id> <text>'"
                )
            parts = line.split(maxsplit=1)
            key = parts[0]
            if key in out:
                raise SpeechprocError(
                    f"{path}:{lineno}: duplicate utterance id '{key}' (first on line {first_line[key]}); "
                    f"keep one line per utterance"
                )
            out[key] = parts[1].strip() if len(parts) > 1 else ""
            first_line[key] = lineno
    return out


def _speaker_of(utt: str, utt2spk: Optional[Mapping[str, str]], utt2spk_name: str) -> str:
    if utt2spk is None:
        # sclite's convention for trn ids: the speaker is the id up to its first '-'.
        return utt.split("-", 1)[0]
    try:
        return utt2spk[utt]
    except KeyError:
        raise SpeechprocError(
            f"{utt2spk_name}: no speaker for utterance '{utt}'; pass the utt2spk of the data dir the "
            f"reference comes from (or fix it with the data-dir fix tool)"
        ) from None


def score(
    ref: Mapping[str, str],
    hyp: Mapping[str, str],
    unit: str = "word",
    utt2spk: Optional[Mapping[str, str]] = None,
    *,
    normalize: str = "none",
    space_symbol: Optional[str] = SPACE_SYMBOL,
    ref_name: str = "ref",
    hyp_name: str = "hyp",
    utt2spk_name: str = "utt2spk",
) -> ScoreResult:
    """Score hypotheses against references.

    Args:
        ref: ``{utt: transcript}`` reference (every utterance is scored).
        hyp: ``{utt: transcript}`` hypotheses; utterances missing here count as all deletions.
        unit: ``word`` (WER), ``char`` (CER) or ``token`` (TER).
        utt2spk: ``{utt: speaker}`` for the per-speaker summary; ``None`` takes the utterance id up
            to its first ``-`` (sclite's convention).
        normalize: a mode of :func:`normalize_for_scoring`, applied to both sides.
        space_symbol: word-boundary token for ``char`` (``None`` drops spaces).
        ref_name, hyp_name, utt2spk_name: names (usually file paths) used in messages and reports.

    Returns:
        A :class:`ScoreResult`; utterances sorted by speaker then id (C locale).

    Raises:
        SpeechprocError: a hypothesis utterance is not in the reference, the reference has no
            tokens, an utterance has no speaker, or the unit/normalisation is unknown.
    """
    if unit not in UNITS:
        raise SpeechprocError(f"unknown scoring unit '{unit}'; choose one of: {', '.join(UNITS)}")
    normalize_for_scoring("", normalize)  # validate the mode early
    extra = sorted(set(hyp) - set(ref))
    if extra:
        more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
        raise SpeechprocError(
            f"{hyp_name}: utterance '{extra[0]}'{more} not in the reference {ref_name}; score the decode against "
            f"the data dir it was decoded from, or subset the hypotheses to the reference utterances"
        )
    if not ref:
        raise SpeechprocError(f"{ref_name}: the reference has no utterances; nothing to score")
    missing = sorted(u for u in ref if u not in hyp)
    if missing:
        shown = ", ".join(missing[:5]) + (f" ... ({len(missing)} in all)" if len(missing) > 5 else "")
        logger.warning(
            "%d utterance(s) of %s have no hypothesis in %s; scored as all deletions: %s",
            len(missing),
            ref_name,
            hyp_name,
            shown,
        )
    utts: List[UttScore] = []
    for utt in sorted(ref):
        spk = _speaker_of(utt, utt2spk, utt2spk_name)
        r = tokenize(normalize_for_scoring(ref[utt], normalize), unit, space_symbol)
        h = tokenize(normalize_for_scoring(hyp.get(utt, ""), normalize), unit, space_symbol)
        ali = align(r, h)
        utts.append(UttScore(utt, spk, r, h, ali, Counts.from_alignment(ali), missing=utt not in hyp))
    utts.sort(key=lambda u: (u.spk, u.utt))
    totals = sum((u.counts for u in utts), Counts())
    if totals.n == 0:
        raise SpeechprocError(
            f"{ref_name}: the reference transcripts have no {unit} tokens at all, so the error rate is undefined; "
            f"check that the file has text after each utterance id"
        )
    speakers: List[SpeakerScore] = []
    for u in utts:
        if not speakers or speakers[-1].spk != u.spk:
            speakers.append(SpeakerScore(u.spk, 0, 0, Counts()))
        sp = speakers[-1]
        sp.n_utts += 1
        sp.n_err_utts += int(u.is_error)
        sp.counts = sp.counts + u.counts
    meta: Dict[str, object] = {"space_symbol": space_symbol} if unit == "char" else {}
    return ScoreResult(unit, normalize, totals, utts, speakers, missing, ref_name, hyp_name, meta)


# ----------------------------------------------------------------------------------------------
# sclite-style report


def _width(s: str) -> int:
    """Display width of ``s`` in a terminal (wide East Asian characters take two columns)."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def _ljust(s: str, width: int) -> str:
    return s + " " * max(0, width - _width(s))


def _pra_lines(ali: Sequence[AlignedPair]) -> Tuple[str, str, str]:
    """The REF/HYP/Eval lines of one utterance in sclite's ``.pra`` style."""
    refs, hyps, evals = [], [], []
    for p in ali:
        if p.op == "C":
            r = h = p.ref.lower()  # type: ignore[union-attr]
        elif p.op == "S":
            r, h = p.ref.upper(), p.hyp.upper()  # type: ignore[union-attr]
            if r == h:  # differ only in case: show them as they are
                r, h = p.ref, p.hyp  # type: ignore[assignment]
        elif p.op == "D":
            r = p.ref.upper()  # type: ignore[union-attr]
            h = "*" * _width(r)
        else:
            h = p.hyp.upper()  # type: ignore[union-attr]
            r = "*" * _width(h)
        w = max(_width(r), _width(h))
        refs.append(_ljust(r, w))
        hyps.append(_ljust(h, w))
        evals.append(_ljust("" if p.op == "C" else p.op, w))
    return (
        ("REF:  " + " ".join(refs)).rstrip(),
        ("HYP:  " + " ".join(hyps)).rstrip(),
        ("Eval: " + " ".join(evals)).rstrip(),
    )


def _fmt_pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.1f}"


def _sys_table(result: ScoreResult, percentages: bool) -> List[str]:
    """One of sclite's two ``.sys`` tables (percentages, or counts), indented to centre on 80 columns."""
    rows: List[Tuple[str, List[str], List[str]]] = []
    per_spk_vals: List[List[float]] = []

    def right(c: Counts, n_utts: int, n_err: int) -> Tuple[List[str], List[float]]:
        if percentages:
            ser = 100.0 * n_err / n_utts if n_utts else float("nan")
            vals = [
                100.0 * c.c / c.n if c.n else float("nan"),
                100.0 * c.s / c.n if c.n else float("nan"),
                100.0 * c.d / c.n if c.n else float("nan"),
                100.0 * c.i / c.n if c.n else float("nan"),
                c.rate,
                ser,
            ]
            return [_fmt_pct(v) for v in vals], vals
        vals_i = [c.c, c.s, c.d, c.i, c.errors, n_err]
        return [str(v) for v in vals_i], [float(v) for v in vals_i]

    for sp in result.speakers:
        strs, vals = right(sp.counts, sp.n_utts, sp.n_err_utts)
        rows.append((sp.spk, [str(sp.n_utts), str(sp.counts.n)], strs))
        per_spk_vals.append([float(sp.n_utts), float(sp.counts.n)] + vals)
    t = result.totals
    tot_strs, _ = right(t, result.n_utts, result.n_err_utts)
    total_row = ("Sum/Avg" if percentages else "Sum", [str(result.n_utts), str(t.n)], tot_strs)
    stats_rows = []
    cols = list(zip(*per_spk_vals))
    for label, fn in (("Mean", statistics.fmean), ("S.D.", None), ("Median", statistics.median)):
        vals = []
        for col in cols:
            col = [v for v in col if not math.isnan(v)]
            if not col:
                vals.append(float("nan"))
            elif fn is None:
                vals.append(statistics.stdev(col) if len(col) > 1 else 0.0)
            else:
                vals.append(fn(col))
        strs = [_fmt_pct(v) for v in vals]
        stats_rows.append((label, strs[:2], strs[2:]))

    all_rows = rows + [total_row] + stats_rows
    name_w = max([7] + [len(r[0]) + 1 for r in rows])
    snt_w = max([4] + [len(r[1][0]) for r in all_rows])
    wrd_w = max([6] + [len(r[1][1]) for r in all_rows])
    first_w = max([4] + [len(r[2][0]) for r in all_rows])
    other_w = max([6] + [len(v) for r in all_rows for v in r[2][1:]])

    def mid(vals: Sequence[str]) -> str:
        return " " + vals[0].rjust(snt_w) + " " + vals[1].rjust(wrd_w) + " "

    def rgt(vals: Sequence[str]) -> str:
        return " " + vals[0].rjust(first_w) + "".join(" " + v.rjust(other_w) for v in vals[1:]) + " "

    def line(name: str, m: Sequence[str], r: Sequence[str], centre: bool = False) -> str:
        left = name.center(name_w + 1) if centre else " " + name.ljust(name_w)
        return "|" + left + "|" + mid(m) + "|" + rgt(r) + "|"

    header_mid = " " + "# Snt".rjust(snt_w + 1) + "# Wrd".rjust(wrd_w) + " "
    header_rgt = (
        " "
        + "Corr".rjust(first_w)
        + "".join(" " + h.rjust(other_w) for h in ("Sub", "Del", "Ins", "Err", "S.Err"))
        + " "
    )
    left_w = name_w + 1
    header = "|" + " " + "SPKR".ljust(name_w) + "|" + header_mid + "|" + header_rgt + "|"
    inner = len(header) - 2
    sep = "|" + "-" * left_w + "+" + "-" * len(header_mid) + "+" + "-" * len(header_rgt) + "|"
    dbl = "|" + "=" * inner + "|"
    title = result.hyp_name if len(result.hyp_name) <= inner - 2 else "..." + result.hyp_name[-(inner - 5) :]
    body = [
        "," + "-" * inner + ".",
        "|" + title.center(inner) + "|",
        "|" + "-" * inner + "|",
        header,
        sep,
    ]
    for k, (name, m, r) in enumerate(rows):
        if k:
            body.append(sep)
        body.append(line(name, m, r))
    body += [dbl, line(*total_row), dbl]
    body += [line(*sr, centre=True) for sr in stats_rows]
    body.append("`" + "-" * inner + "'")
    indent = " " * max(0, (80 - len(header)) // 2)
    kind = "PERCENTAGES" if percentages else "COUNTS"
    return [f"SYSTEM SUMMARY {kind} by SPEAKER".center(80).rstrip(), ""] + [indent + b for b in body]


def format_report(result: ScoreResult) -> str:
    """Render ``result.txt``: a header, sclite's per-speaker tables, and the alignment dump."""
    m = result.metric.upper()
    t = result.totals
    out: List[str] = [
        f"ASR scoring report ({m}, unit: {result.unit}, normalize: {result.normalize})",
        f"REF: {result.ref_name}",
        f"HYP: {result.hyp_name}",
    ]
    if result.unit == "char":
        sym = result.meta.get("space_symbol", SPACE_SYMBOL)
        out.append(f"word boundaries: {'dropped' if sym is None else 'scored as the token ' + str(sym)}")
    out += [""] + result.kaldi_lines()
    out.append(
        f"Sum/Avg: {result.n_utts} utterances, {t.n} tokens | Corr {t.c} Sub {t.s} Del {t.d} Ins {t.i} "
        f"Err {t.errors} S.Err {result.n_err_utts}"
    )
    if result.missing:
        out += [
            "",
            f"{len(result.missing)} reference utterance(s) have no hypothesis (scored as all deletions):",
        ]
        out += [f"    {u}" for u in result.missing]
    out += ["", "", ""]
    out += _sys_table(result, percentages=True)
    out += ["", "", ""]
    out += _sys_table(result, percentages=False)
    out += ["", "", "\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE", "", f"System name:   {result.hyp_name}", "", "Speakers:"]
    out += [f"    {k}:  {sp.spk}" for k, sp in enumerate(result.speakers)]
    out.append("")
    by_spk: Dict[str, List[UttScore]] = {}
    for u in result.utts:
        by_spk.setdefault(u.spk, []).append(u)
    for k, sp in enumerate(result.speakers):
        out.append(f"Speaker sentences {k:3d}:  {sp.spk}   #utts: {sp.n_utts}")
        for u in by_spk[sp.spk]:
            c = u.counts
            out.append(f"id: ({u.utt})")
            out.append(f"Scores: (#C #S #D #I) {c.c} {c.s} {c.d} {c.i}")
            out.extend(_pra_lines(u.alignment))
            out.append("")
    return "\n".join(out) + "\n"


def write_report(result: ScoreResult, out_dir: PathLike) -> Path:
    """Write ``result.txt`` (sclite style), ``score.json`` (summary) and ``ref.trn``/``hyp.trn``
    (sclite input, ``tokens (spk-utt)``, to cross-check with sclite) into ``out_dir``.

    Args:
        result: from :func:`score`.
        out_dir: the score dir (created); files are written atomically.

    Returns:
        The path of ``result.txt``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "score.json", json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out_dir / "ref.trn", "".join(f"{' '.join(u.ref)}\t({u.spk}-{u.utt})\n" for u in result.utts))
    atomic_write_text(out_dir / "hyp.trn", "".join(f"{' '.join(u.hyp)}\t({u.spk}-{u.utt})\n" for u in result.utts))
    atomic_write_text(out_dir / "result.txt", format_report(result))
    return out_dir / "result.txt"
