"""Kaldi-style data directories: load, save, validate, fix, subset, split, combine, speed-perturb.

A data dir holds text files of ``key value`` lines, keys unique and sorted in C locale (byte
order):

==============  ==============================================================================
``wav.scp``     ``<recording> <path>`` or ``<recording> <command> |`` (WAV on stdout)
``utt2spk``     ``<utt> <spk>``; the speaker id must prefix the utterance id
``spk2utt``     ``<spk> <utt1> <utt2> ...``; always derived from ``utt2spk`` when written
``text``        ``<utt> <transcript>`` (optional: corpora without transcripts have none)
``segments``    ``<utt> <recording> <start> <end>`` in seconds (optional; end -1 = to the end);
                without it, recordings are utterances
``utt2dur``     ``<utt> <seconds>`` (optional)
others          ``utt2*`` / ``feats.scp`` (keyed by utterance), ``spk2*`` / ``cmvn.scp`` (by speaker),
                ``reco2*`` (by recording), other ``*.scp``: kept as :attr:`DataDir.extra`
==============  ==============================================================================

:class:`DataDir` is immutable: every operation returns a new one. :meth:`DataDir.save` validates
first and writes atomically, so a failed save never leaves a partial directory.

>>> d = DataDir(wav_scp={"s1-a": "a.wav"}, utt2spk={"s1-a": "s1"}, text={"s1-a": "HELLO"})
>>> d.utts, d.spk2utt
(['s1-a'], {'s1': ['s1-a']})
>>> d.speed_perturb(0.9).utts
['sp0.9-s1-a']
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from speechproc.data.audio import (
    MAX_OVERSHOOT,
    AudioError,
    AudioInfo,
    audio_info,
    check_audio_file,
    is_pipe,
    read_audio,
    speed_spec,
)
from speechproc.utils import SpeechprocError, atomic_output_dir

__all__ = ["DataDir", "Segment", "LoadIssue", "fix_command", "is_data_file", "KNOWN_FILES"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

WAV_SCP = "wav.scp"
UTT2SPK = "utt2spk"
SPK2UTT = "spk2utt"
TEXT = "text"
SEGMENTS = "segments"
UTT2DUR = "utt2dur"
#: Files with a dedicated field in :class:`DataDir` (``spk2utt`` is derived from ``utt2spk``).
KNOWN_FILES = (WAV_SCP, UTT2SPK, SPK2UTT, TEXT, SEGMENTS, UTT2DUR)
#: Extra files whose values depend on the audio length; speed perturbation drops them.
_LENGTH_DEPENDENT = ("utt2num_frames", "feats.scp", "cmvn.scp")
#: Problems listed in a validation error before "... and N more".
_MAX_LISTED = 25


class Segment(NamedTuple):
    """One line of ``segments``: the utterance is ``recording[start:end]`` (seconds; end -1 = to the end)."""

    recording: str
    start: float
    end: float


class LoadIssue(NamedTuple):
    """A problem found while parsing a file, which the in-memory :class:`DataDir` cannot hold.

    ``file`` is the name inside the data dir, ``line`` 1-based (None: whole file), ``action``
    what :meth:`DataDir.fix` / :meth:`DataDir.save` do about it.
    """

    file: str
    line: Optional[int]
    message: str
    fix: str
    action: str


def fix_command(path: Optional[PathLike]) -> str:
    """The fix_data_dir command line for ``path`` (placeholder ``DIR`` when unknown)."""
    return f"`python -m speechproc.bin.fix_data_dir {path if path else 'DIR'}`"


def _keyed_by(name: str) -> Optional[str]:
    """What the keys of extra file ``name`` are: 'utt', 'spk', 'reco' or None (unchecked)."""
    if name.startswith("utt2") or name == "feats.scp":
        return "utt"
    if name.startswith("spk2") or name == "cmvn.scp":
        return "spk"
    if name.startswith("reco2"):
        return "reco"
    return None


def is_data_file(name: str) -> bool:
    """True for the file names a :class:`DataDir` reads (known files and extra ``key value`` files)."""
    return name in KNOWN_FILES or _is_extra_name(name)


def _is_extra_name(name: str) -> bool:
    return (
        not name.startswith(".")
        and name not in KNOWN_FILES
        and (_keyed_by(name) is not None or name.endswith(".scp"))
    )


def _fmt_num(x: float) -> str:
    """Seconds as written to ``segments`` / ``utt2dur``: up to 6 decimals, no trailing zeros."""
    if x == -1:
        return "-1"
    s = f"{x:.6f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _has_space(s: str) -> bool:
    return not s or any(c.isspace() for c in s)


def _parse_file(path: Path, name: str, issues: List[LoadIssue], fixcmd: str) -> Tuple[Dict[str, str], Dict[str, int]]:
    """Read ``key value`` lines: returns (key -> value, key -> line number); problems go to ``issues``.

    The first line of a duplicate key wins; lines that are not UTF-8 or have no key are skipped.
    """
    data: Dict[str, str] = {}
    lines: Dict[str, int] = {}
    raw = path.read_bytes()
    chunks = raw.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    prev: Optional[str] = None
    prev_line = 0
    unsorted_reported = False
    for n, b in enumerate(chunks, 1):
        try:
            line = b.decode("utf-8")
        except UnicodeDecodeError as e:
            key = b.split(None, 1)[0].decode("utf-8", "replace") if b.split() else ""
            issues.append(LoadIssue(
                name, n,
                f"not valid UTF-8 (key '{key}', byte 0x{b[e.start]:02x} at column {e.start + 1})",
                "convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) in data prep",
                "line dropped",
            ))
            continue
        parts = line.split(None, 1)
        if not parts:
            issues.append(LoadIssue(name, n, "empty line", f"remove it, or run {fixcmd}", "line dropped"))
            continue
        key = parts[0]
        value = parts[1].rstrip() if len(parts) == 2 else ""
        if key in data:
            issues.append(LoadIssue(
                name, n, f"duplicate key '{key}' (first on line {lines[key]})",
                f"remove the duplicate in data prep, or run {fixcmd} (keeps the first)",
                "kept the first line",
            ))
            continue
        if prev is not None and key < prev and not unsorted_reported:
            issues.append(LoadIssue(
                name, n, f"keys not sorted in C locale: '{key}' comes after '{prev}' (line {prev_line})",
                f"sort with `LC_ALL=C sort -k1,1 {path} -o {path}`, or run {fixcmd}",
                "sorted",
            ))
            unsorted_reported = True
        prev, prev_line = key, n
        data[key] = value
        lines[key] = n
    return data, lines


@dataclass(frozen=True)
class DataDir:
    """An in-memory Kaldi data dir (see the module docstring for the files).

    Attributes:
        wav_scp: recording id -> path or ``'cmd |'`` (recording = utterance without segments).
        utt2spk: utterance id -> speaker id.
        text: utterance id -> transcript, or None for corpora without transcripts.
        segments: utterance id -> :class:`Segment`, or None.
        utt2dur: utterance id -> duration in seconds, or None.
        extra: file name -> (key -> value) for other ``key value`` files (``utt2gender``, ...).
        source: the directory it was loaded from (for messages); not compared.
        load_issues: problems found while parsing files (duplicates, unsorted keys, bad lines,
            inconsistent spk2utt); reported by :meth:`validate`, resolved by :meth:`fix`; not compared.
    """

    wav_scp: Dict[str, str]
    utt2spk: Dict[str, str]
    text: Optional[Dict[str, str]] = None
    segments: Optional[Dict[str, Segment]] = None
    utt2dur: Optional[Dict[str, float]] = None
    extra: Dict[str, Dict[str, str]] = field(default_factory=dict)
    source: Optional[Path] = field(default=None, compare=False, repr=False)
    load_issues: Tuple[LoadIssue, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        # Own copies, so no caller's dict aliases this object's state.
        object.__setattr__(self, "wav_scp", {str(k): str(v) for k, v in self.wav_scp.items()})
        object.__setattr__(self, "utt2spk", {str(k): str(v) for k, v in self.utt2spk.items()})
        if self.text is not None:
            object.__setattr__(self, "text", {str(k): str(v) for k, v in self.text.items()})
        if self.segments is not None:
            object.__setattr__(self, "segments", {
                str(k): Segment(str(v[0]), float(v[1]), float(v[2])) for k, v in self.segments.items()
            })
        if self.utt2dur is not None:
            object.__setattr__(self, "utt2dur", {str(k): float(v) for k, v in self.utt2dur.items()})
        bad = [n for n in self.extra if n in KNOWN_FILES or "/" in n or not n or n.startswith(".")]
        if bad:
            raise ValueError(f"extra file name(s) {bad} not allowed: use the dedicated fields or plain names")
        object.__setattr__(self, "extra", {
            str(n): {str(k): str(v) for k, v in d.items()} for n, d in self.extra.items()
        })
        if self.source is not None:
            object.__setattr__(self, "source", Path(self.source))
        object.__setattr__(self, "load_issues", tuple(self.load_issues))

    # ------------------------------------------------------------------ views
    @cached_property
    def utts(self) -> List[str]:
        """Utterance ids in C-locale order."""
        return sorted(self.utt2spk)

    @cached_property
    def speakers(self) -> List[str]:
        """Speaker ids in C-locale order."""
        return sorted(set(self.utt2spk.values()))

    @cached_property
    def spk2utt(self) -> Dict[str, List[str]]:
        """Speaker id -> its utterance ids (both C-sorted)."""
        out: Dict[str, List[str]] = {}
        for u in self.utts:
            out.setdefault(self.utt2spk[u], []).append(u)
        return {s: out[s] for s in sorted(out)}

    @property
    def recordings(self) -> List[str]:
        """Recording ids (keys of ``wav.scp``) in C-locale order."""
        return sorted(self.wav_scp)

    def __len__(self) -> int:
        return len(self.utt2spk)

    def recording_of(self, utt: str) -> Tuple[str, float, Optional[float]]:
        """``(wav.scp value, start, end)`` of ``utt``; end None reads to the end of the recording."""
        if utt not in self.utt2spk:
            raise SpeechprocError(f"{self._name(UTT2SPK)}: no utterance '{utt}'; fix: use an id from utt2spk")
        if self.segments is not None:
            seg = self.segments.get(utt)
            if seg is None or seg.recording not in self.wav_scp:
                raise SpeechprocError(
                    f"{self._name(SEGMENTS)}: utterance '{utt}' has no segment with a recording in wav.scp; "
                    f"fix: run {fix_command(self.source)}"
                )
            return self.wav_scp[seg.recording], seg.start, (None if seg.end < 0 else seg.end)
        if utt not in self.wav_scp:
            raise SpeechprocError(
                f"{self._name(WAV_SCP)}: no entry for utterance '{utt}'; fix: run {fix_command(self.source)}"
            )
        return self.wav_scp[utt], 0.0, None

    def load_audio(self, utt: str, sample_rate: Optional[int] = None) -> Tuple[np.ndarray, int]:
        """Waveform of ``utt``: float32 mono ``(T,)`` and its sample rate (resampled when given)."""
        spec, start, end = self.recording_of(utt)
        try:
            return read_audio(spec, sample_rate=sample_rate, start=start, end=end)
        except AudioError as e:
            raise AudioError(f"{self._name(WAV_SCP)}: utterance '{utt}': {e}") from e

    def _name(self, fname: str, prefix: Optional[PathLike] = None) -> str:
        base = prefix if prefix is not None else self.source
        return str(Path(base) / fname) if base else fname

    # ------------------------------------------------------------------ load / save
    @classmethod
    def load(cls, path: PathLike, validate: bool = True) -> "DataDir":
        """Read a data dir; with ``validate`` raise :class:`SpeechprocError` listing every problem.

        With ``validate=False`` problems are kept in :attr:`load_issues` (see :meth:`fix`).
        """
        path = Path(path)
        fixcmd = fix_command(path)
        if not path.is_dir():
            raise SpeechprocError(f"{path}: data dir does not exist; fix: check the path, or run the data prep stage")
        for req in (WAV_SCP, UTT2SPK):
            if not (path / req).is_file():
                raise SpeechprocError(
                    f"{path / req}: missing; fix: every data dir needs wav.scp and utt2spk (written by data prep)"
                )
        issues: List[LoadIssue] = []

        def parse(name: str) -> Tuple[Dict[str, str], Dict[str, int]]:
            return _parse_file(path / name, name, issues, fixcmd)

        wav_scp, wav_lines = parse(WAV_SCP)
        for k in list(wav_scp):
            if not wav_scp[k]:
                issues.append(LoadIssue(WAV_SCP, wav_lines[k], f"recording '{k}' has no path or command",
                                        f"give its audio path, or run {fixcmd}", "line dropped"))
                del wav_scp[k]
        utt2spk, u_lines = parse(UTT2SPK)
        for k in list(utt2spk):
            if not utt2spk[k] or _has_space(utt2spk[k]):
                issues.append(LoadIssue(UTT2SPK, u_lines[k], f"utterance '{k}' needs exactly one speaker id, "
                                        f"got '{utt2spk[k]}'", f"write `<utt> <spk>`, or run {fixcmd}", "line dropped"))
                del utt2spk[k]
        text = parse(TEXT)[0] if (path / TEXT).is_file() else None
        segments: Optional[Dict[str, Segment]] = None
        if (path / SEGMENTS).is_file():
            raw, s_lines = parse(SEGMENTS)
            segments = {}
            for k, v in raw.items():
                f = v.split()
                try:
                    if len(f) != 3:
                        raise ValueError
                    segments[k] = Segment(f[0], float(f[1]), float(f[2]))
                except ValueError:
                    issues.append(LoadIssue(
                        SEGMENTS, s_lines[k],
                        f"utterance '{k}': expected `<utt> <recording> <start> <end>`, got '{k} {v}'",
                        f"write start and end in seconds, or run {fixcmd}", "line dropped"))
        utt2dur: Optional[Dict[str, float]] = None
        if (path / UTT2DUR).is_file():
            raw, d_lines = parse(UTT2DUR)
            utt2dur = {}
            for k, v in raw.items():
                try:
                    utt2dur[k] = float(v)
                except ValueError:
                    issues.append(LoadIssue(UTT2DUR, d_lines[k], f"utterance '{k}': duration '{v}' is not a number",
                                            f"recompute it, or run {fixcmd}", "line dropped"))
        # spk2utt must agree with utt2spk; it is always rewritten from utt2spk.
        expected: Dict[str, List[str]] = {}
        for u in sorted(utt2spk):
            expected.setdefault(utt2spk[u], []).append(u)
        if (path / SPK2UTT).is_file():
            s2u, su_lines = parse(SPK2UTT)
            for spk, v in s2u.items():
                listed = sorted(v.split())
                want = expected.get(spk, [])
                if listed != want:
                    missing = sorted(set(want) - set(listed))
                    surplus = sorted(set(listed) - set(want))
                    detail = "; ".join(filter(None, [
                        f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}" if missing else "",
                        f"not mapped to it in utt2spk: {surplus[:3]}{'...' if len(surplus) > 3 else ''}"
                        if surplus else "",
                    ]))
                    issues.append(LoadIssue(SPK2UTT, su_lines[spk],
                                            f"speaker '{spk}' disagrees with utt2spk ({detail})",
                                            f"regenerate spk2utt from utt2spk, or run {fixcmd}",
                                            "rewritten from utt2spk"))
            absent = [s for s in expected if s not in s2u]
            if absent:
                issues.append(LoadIssue(SPK2UTT, None, f"speaker(s) {absent[:5]} of utt2spk have no line",
                                        f"regenerate spk2utt from utt2spk, or run {fixcmd}", "rewritten from utt2spk"))
        else:
            issues.append(LoadIssue(SPK2UTT, None, "missing", f"run {fixcmd} to write it from utt2spk",
                                    "written from utt2spk"))
        extra: Dict[str, Dict[str, str]] = {}
        for p in sorted(path.iterdir()):
            if p.is_file() and _is_extra_name(p.name):
                extra[p.name] = parse(p.name)[0]
            elif p.is_file() and not p.name.startswith(".") and p.name not in KNOWN_FILES:
                logger.debug("%s: not a key-value data-dir file; ignored", p)
        d = cls(wav_scp=wav_scp, utt2spk=utt2spk, text=text, segments=segments, utt2dur=utt2dur,
                extra=extra, source=path, load_issues=tuple(issues))
        if validate:
            d.validate(path_for_messages=str(path))
        return d

    def save(self, path: PathLike, overwrite: bool = True) -> None:
        """Validate, then write the data dir to ``path`` atomically (sorted, spk2utt derived).

        An existing ``path`` is replaced as a whole (unless ``overwrite`` is False: then it is an
        error). On any error nothing is written.
        """
        path = Path(path)
        problems = self.problems(path_for_messages=path, include_load_issues=False)
        if problems:
            raise SpeechprocError(_format_problems(problems, path, "cannot save"))
        with atomic_output_dir(path, overwrite=overwrite) as tmp:
            self.write_files(tmp)
        logger.debug("wrote %s (%d utterances)", path, len(self))

    def write_files(self, directory: PathLike) -> None:
        """Write the files into an existing directory without validating (use :meth:`save`)."""
        directory = Path(directory)

        def write(name: str, lines: Iterable[str]) -> None:
            with open(directory / name, "w", encoding="utf-8", newline="\n") as f:
                for line in lines:
                    f.write(line + "\n")

        def kv(d: Dict[str, str]) -> Iterable[str]:
            return (f"{k} {d[k]}" if d[k] != "" else k for k in sorted(d))

        write(WAV_SCP, kv(self.wav_scp))
        write(UTT2SPK, kv(self.utt2spk))
        write(SPK2UTT, (f"{s} {' '.join(us)}" for s, us in self.spk2utt.items()))
        if self.text is not None:
            write(TEXT, kv(self.text))
        if self.segments is not None:
            segs = self.segments
            write(SEGMENTS, (f"{u} {segs[u].recording} {_fmt_num(segs[u].start)} {_fmt_num(segs[u].end)}"
                             for u in sorted(segs)))
        if self.utt2dur is not None:
            write(UTT2DUR, (f"{u} {_fmt_num(self.utt2dur[u])}" for u in sorted(self.utt2dur)))
        for name in sorted(self.extra):
            write(name, kv(self.extra[name]))

    # ------------------------------------------------------------------ validation
    def validate(
        self,
        check_audio: bool = False,
        sample_rate: Optional[int] = None,
        path_for_messages: Optional[PathLike] = None,
        headers: bool = False,
    ) -> None:
        """Raise :class:`SpeechprocError` listing every problem (file, key or line, value, fix).

        Args:
            check_audio: decode every recording (catches corrupt/truncated files, failing pipes,
                stereo, wrong rate, segments past the end).
            sample_rate: expected sample rate; without ``check_audio`` only file headers are read.
            path_for_messages: directory named in messages (default: where it was loaded from).
            headers: read the header of every plain audio file (cheap): unreadable, empty (no
                samples) or multi-channel files and segments past the end are problems. The verbs
                (``validate_data_dir``, ``fix_data_dir``, ``prepare_data``) do this by default.
        """
        prefix = path_for_messages if path_for_messages is not None else self.source
        problems = self.problems(check_audio, sample_rate, prefix, include_load_issues=True, headers=headers)
        if problems:
            raise SpeechprocError(_format_problems(problems, prefix, "invalid data dir"))

    def problems(
        self,
        check_audio: bool = False,
        sample_rate: Optional[int] = None,
        path_for_messages: Optional[PathLike] = None,
        include_load_issues: bool = True,
        headers: bool = False,
    ) -> List[str]:
        """Every problem :meth:`validate` would report, as messages (empty list: valid).

        ``include_load_issues=False`` ignores parse problems that writing resolves (order,
        duplicates, spk2utt), as :meth:`save` does.
        """
        prefix = path_for_messages
        name = lambda f: self._name(f, prefix)  # noqa: E731
        out: List[str] = []
        if include_load_issues:
            for i in self.load_issues:
                where = f"{name(i.file)} line {i.line}" if i.line is not None else name(i.file)
                out.append(f"{where}: {i.message}; fix: {i.fix}")
        if not self.utt2spk:
            out.append(f"{name(UTT2SPK)}: no utterances; fix: check the data prep stage")
        per_utt, other = self._utt_problems(check_audio, sample_rate, prefix, headers)
        out.extend(other)
        for msgs in per_utt.values():
            out.extend(msgs)
        return out

    def _utt_problems(
        self, check_audio: bool, sample_rate: Optional[int], prefix: Optional[PathLike], headers: bool = False
    ) -> Tuple[Dict[str, List[str]], List[str]]:
        """``(utt -> problems that drop it, problems of keys without an utterance)``."""
        name = lambda f: self._name(f, prefix)  # noqa: E731
        fixcmd = fix_command(prefix)
        bad: Dict[str, List[str]] = {}
        other: List[str] = []

        def add(utt: str, msg: str) -> None:
            bad.setdefault(utt, []).append(msg)

        utts = self.utt2spk
        for u, s in utts.items():
            if _has_space(u):
                add(u, f"{name(UTT2SPK)}: utterance id '{u}' is empty or has whitespace; fix: rename it in data prep")
            if _has_space(s):
                add(u, f"{name(UTT2SPK)}: utterance '{u}' has speaker '{s}' (empty or with whitespace); "
                       "fix: one speaker id per utterance")
            elif not u.startswith(s):
                add(u, f"{name(UTT2SPK)}: speaker '{s}' does not prefix utterance '{u}'; fix: name utterances "
                       f"'<spk>-<id>' (e.g. '{s}-{u}') in data prep, so that sorting by utterance groups speakers")
        if self.text is not None:
            for u in utts:
                if u not in self.text:
                    add(u, f"{name(TEXT)}: utterance '{u}' (in utt2spk) has no transcript; "
                           f"fix: add it, or run {fixcmd} to drop the utterance")
                elif not self.text[u].strip():
                    add(u, f"{name(TEXT)}: utterance '{u}' has an empty transcript; "
                           f"fix: add the transcript, or run {fixcmd} to drop it")
            for u in self.text:
                if u not in utts:
                    other.append(f"{name(TEXT)}: utterance '{u}' is not in utt2spk; fix: run {fixcmd}")
        # audio entries
        used_recs: Dict[str, List[str]] = {}
        if self.segments is not None:
            for u in utts:
                seg = self.segments.get(u)
                if seg is None:
                    add(u, f"{name(SEGMENTS)}: utterance '{u}' (in utt2spk) has no segment; "
                           f"fix: add it, or run {fixcmd}")
                    continue
                if seg.recording not in self.wav_scp:
                    add(u, f"{name(SEGMENTS)}: utterance '{u}': recording '{seg.recording}' is not in wav.scp; "
                           f"fix: add the recording, or run {fixcmd}")
                    continue
                if seg.start < 0 or (seg.end != -1 and seg.end <= seg.start):
                    add(u, f"{name(SEGMENTS)}: utterance '{u}': start {seg.start} / end {seg.end} "
                           f"(need 0 <= start < end, or end -1); fix: correct the times, or run {fixcmd}")
                    continue
                used_recs.setdefault(seg.recording, []).append(u)
            for u in self.segments:
                if u not in utts:
                    other.append(f"{name(SEGMENTS)}: utterance '{u}' is not in utt2spk; fix: run {fixcmd}")
        else:
            for u in utts:
                if u not in self.wav_scp:
                    add(u, f"{name(WAV_SCP)}: utterance '{u}' (in utt2spk) has no audio; "
                           f"fix: add it, or run {fixcmd}")
                else:
                    used_recs[u] = [u]
            for r in self.wav_scp:
                if r not in utts:
                    other.append(f"{name(WAV_SCP)}: '{r}' is not in utt2spk (and there is no segments file); "
                                 f"fix: run {fixcmd}")
        for r, spec in self.wav_scp.items():
            if _has_space(r):
                other.append(f"{name(WAV_SCP)}: recording id '{r}' is empty or has whitespace; fix: rename it")
            if not spec.strip():
                for u in used_recs.pop(r, []):
                    add(u, f"{name(WAV_SCP)}: recording '{r}' has no path or command; fix: give its audio")
        # cheap existence check of plain files
        for r in list(used_recs):
            spec = self.wav_scp[r]
            if not is_pipe(spec) and not os.path.isfile(spec):
                for u in used_recs.pop(r):
                    add(u, f"{name(WAV_SCP)}: recording '{r}': audio file '{spec}' does not exist; "
                           f"fix: correct the path, or run {fixcmd} to drop it")
        # utt2dur and extra files
        if self.utt2dur is not None:
            for u in utts:
                if u not in self.utt2dur:
                    add(u, f"{name(UTT2DUR)}: utterance '{u}' has no duration; "
                           f"fix: recompute utt2dur, or run {fixcmd}")
                elif not self.utt2dur[u] > 0:
                    add(u, f"{name(UTT2DUR)}: utterance '{u}' has duration {self.utt2dur[u]}; "
                           f"fix: recompute utt2dur, or run {fixcmd} to drop it")
            for u in self.utt2dur:
                if u not in utts:
                    other.append(f"{name(UTT2DUR)}: utterance '{u}' is not in utt2spk; fix: run {fixcmd}")
        spk_of: Dict[str, List[str]] = {}
        for u, s in utts.items():
            spk_of.setdefault(s, []).append(u)
        for fname, d in self.extra.items():
            kind = _keyed_by(fname)
            if kind == "utt":
                for u in utts:
                    if u not in d:
                        add(u, f"{name(fname)}: utterance '{u}' has no line; fix: add it, or run {fixcmd}")
                for u in d:
                    if u not in utts:
                        other.append(f"{name(fname)}: utterance '{u}' is not in utt2spk; fix: run {fixcmd}")
            elif kind == "spk":
                for s, us in spk_of.items():
                    if s not in d:
                        for u in us:
                            add(u, f"{name(fname)}: speaker '{s}' has no line; fix: add it, or run {fixcmd}")
                for s in d:
                    if s not in spk_of:
                        other.append(f"{name(fname)}: speaker '{s}' is not in utt2spk; fix: run {fixcmd}")
            elif kind == "reco":
                for r, us in used_recs.items():
                    if r not in d:
                        for u in us:
                            add(u, f"{name(fname)}: recording '{r}' has no line; fix: add it, or run {fixcmd}")
                for r in d:
                    if r not in self.wav_scp:
                        other.append(f"{name(fname)}: recording '{r}' is not in wav.scp; fix: run {fixcmd}")
        # header / decode checks
        if check_audio or sample_rate is not None or headers:
            for r, us, info, err in self._audio_checks(used_recs, full=check_audio):
                spec = self.wav_scp[r]
                where = f"{name(WAV_SCP)}: recording '{r}'"
                drop = "fix_data_dir --check-audio" if check_audio else "fix_data_dir"
                drop = f"{drop} {prefix}" if prefix else drop
                if err is not None:
                    for u in us:
                        add(u, f"{where}: {err}; or run `python -m speechproc.bin.{drop}` to drop it")
                    continue
                if info is None:
                    continue
                if info.num_frames == 0:
                    for u in us:
                        add(u, f"{where}: '{spec}' holds no samples; fix: remove it from the data prep, or run "
                               f"`python -m speechproc.bin.{drop}` to drop it")
                    continue
                if info.channels != 1:
                    for u in us:
                        add(u, f"{where}: '{spec}' has {info.channels} channels, data dirs need mono; "
                               "fix: select one channel in data prep (or a pipe that writes mono WAV)")
                if sample_rate is not None and info.sample_rate != sample_rate:
                    for u in us:
                        add(u, f"{where}: '{spec}' has sample rate {info.sample_rate}, expected {sample_rate}; "
                               f"fix: resample it in data prep, or use --sample-rate {info.sample_rate}")
                if self.segments is not None:
                    for u in us:
                        seg = self.segments[u]
                        if seg.end > info.duration + MAX_OVERSHOOT or seg.start >= info.duration:
                            add(u, f"{name(SEGMENTS)}: utterance '{u}': segment {seg.start}-{seg.end} s is past the "
                                   f"end of recording '{r}' ({info.duration:.3f} s); fix: correct the times")
        return bad, other

    def _audio_checks(self, used_recs: Dict[str, List[str]], full: bool
                      ) -> List[Tuple[str, List[str], Optional[AudioInfo], Optional[str]]]:
        """Decode (``full``) or read headers of plain files; ``(rec, utts, info, error)`` per recording."""

        def one(rec: str) -> Tuple[Optional[AudioInfo], Optional[str]]:
            spec = self.wav_scp[rec]
            try:
                if full:
                    return check_audio_file(spec), None
                if is_pipe(spec):
                    return None, None
                return audio_info(spec), None
            except AudioError as e:
                return None, str(e)

        recs = sorted(used_recs)
        if not recs:
            return []
        workers = max(1, min(8, (os.cpu_count() or 1) * 2, len(recs)))
        with cf.ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(one, recs))
        return [(r, used_recs[r], info, err) for r, (info, err) in zip(recs, results)]

    # ------------------------------------------------------------------ fix
    def fix(self, check_audio: bool = False, sample_rate: Optional[int] = None, headers: bool = False
            ) -> Tuple["DataDir", List[str]]:
        """Keep the utterances that are consistent in every file (Kaldi ``fix_data_dir.sh``).

        Args:
            check_audio: also drop utterances whose audio does not decode, is not mono, or (with
                ``sample_rate``) has another rate.
            sample_rate: expected sample rate.

        Returns:
            ``(fixed data dir, report)``; report lines are ``'<file> line N: <problem>: <action>'``
            for parse problems, ``'dropped <id>: <reason>'`` for every dropped entry, and a
            final ``'kept N of M utterances (S speakers)'``.
        """
        report: List[str] = []
        for i in self.load_issues:
            where = f"{i.file} line {i.line}" if i.line is not None else i.file
            report.append(f"{where}: {i.message}: {i.action}")
        bad, _ = self._utt_problems(check_audio, sample_rate, "", headers)
        for u in sorted(bad):
            report.append(f"dropped {u}: {_strip_fix(bad[u][0])}")
        keep = [u for u in self.utts if u not in bad]
        keep_set = set(keep)
        for fname, d in (("text", self.text), ("segments", self.segments), ("utt2dur", self.utt2dur)):
            for k in sorted(d or {}):
                if k not in self.utt2spk:
                    report.append(f"dropped {k}: in {fname} but not in utt2spk")
        fixed = self._restrict(keep_set)
        if self.segments is None:
            for r in sorted(self.wav_scp):
                if r not in self.utt2spk:
                    report.append(f"dropped {r}: in wav.scp but not in utt2spk")
        else:
            for r in sorted(set(self.wav_scp) - set(fixed.wav_scp)):
                report.append(f"dropped recording {r}: no kept segment uses it")
        for fname, d in self.extra.items():
            kind = _keyed_by(fname)
            if kind in ("utt", "spk"):
                ref = self.utt2spk if kind == "utt" else set(self.utt2spk.values())
                for k in sorted(d):
                    if k not in ref:
                        report.append(f"dropped {k}: in {fname} but not in utt2spk")
        report.append(f"kept {len(keep)} of {len(self.utt2spk)} utterances ({len(fixed.speakers)} speakers)")
        return fixed, report

    # ------------------------------------------------------------------ selection
    def _restrict(self, keep: Iterable[str]) -> "DataDir":
        """A new DataDir with only the utterances ``keep`` (and their speakers and recordings)."""
        keep_l = sorted(set(keep) & set(self.utt2spk))
        ks = set(keep_l)
        utt2spk = {u: self.utt2spk[u] for u in keep_l}
        spks = set(utt2spk.values())
        if self.segments is not None:
            segments: Optional[Dict[str, Segment]] = {u: self.segments[u] for u in keep_l if u in self.segments}
            recs = {s.recording for s in segments.values()}
        else:
            segments = None
            recs = ks
        wav_scp = {r: self.wav_scp[r] for r in sorted(recs) if r in self.wav_scp}
        text = {u: self.text[u] for u in keep_l if u in self.text} if self.text is not None else None
        utt2dur = {u: self.utt2dur[u] for u in keep_l if u in self.utt2dur} if self.utt2dur is not None else None
        extra: Dict[str, Dict[str, str]] = {}
        for fname, d in self.extra.items():
            kind = _keyed_by(fname)
            ref = {"utt": ks, "spk": spks, "reco": set(wav_scp)}.get(kind or "")
            extra[fname] = {k: v for k, v in sorted(d.items()) if ref is None or k in ref}
        return DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text, segments=segments, utt2dur=utt2dur, extra=extra)

    def subset(self, utts: Iterable[str], strict: bool = True) -> "DataDir":
        """The utterances ``utts`` (any order); with ``strict`` an unknown id is an error."""
        ids = list(utts)
        unknown = [u for u in ids if u not in self.utt2spk]
        if unknown and strict:
            raise SpeechprocError(
                f"{self._name(UTT2SPK)}: {len(unknown)} requested utterance id(s) not in the data dir, "
                f"e.g. '{unknown[0]}'; fix: use ids from utt2spk"
            )
        return self._restrict(ids)

    def subset_first(self, n: int) -> "DataDir":
        """The first ``n`` utterances in sorted order (Kaldi ``subset_data_dir.sh --first``)."""
        if n < 1 or n > len(self.utt2spk):
            raise SpeechprocError(
                f"{self._name(UTT2SPK)}: cannot take the first {n} of {len(self.utt2spk)} utterances; "
                f"fix: use 1 <= N <= {len(self.utt2spk)}"
            )
        return self._restrict(self.utts[:n])

    def subset_speakers(self, speakers: Iterable[str], strict: bool = True) -> "DataDir":
        """All utterances of ``speakers``; with ``strict`` an unknown speaker is an error."""
        spks = list(speakers)
        s2u = self.spk2utt
        unknown = [s for s in spks if s not in s2u]
        if unknown and strict:
            raise SpeechprocError(
                f"{self._name(UTT2SPK)}: {len(unknown)} requested speaker(s) not in the data dir, "
                f"e.g. '{unknown[0]}'; fix: use speakers from spk2utt"
            )
        return self._restrict(u for s in spks for u in s2u.get(s, []))

    def exclude(self, utts: Iterable[str]) -> "DataDir":
        """All utterances except ``utts`` (unknown ids are ignored)."""
        drop = set(utts)
        return self._restrict(u for u in self.utt2spk if u not in drop)

    def split(self, nj: int, by_speaker: bool = False) -> List["DataDir"]:
        """``nj`` contiguous parts in sorted order, sizes as equal as possible (deterministic).

        With ``by_speaker`` every speaker lies in one part, and the boundaries balance the
        number of utterances (Kaldi ``split_data.sh``).
        """
        utts = self.utts
        if by_speaker:
            groups = [us for us in self._speaker_runs()]
            if not 1 <= nj <= len(groups):
                raise SpeechprocError(
                    f"{self._name(SPK2UTT)}: cannot split {len(groups)} speakers into {nj} parts; "
                    f"fix: use 1 <= nj <= {len(groups)}, or split by utterance"
                )
            cum = np.cumsum([0] + [len(g) for g in groups])
            total = cum[-1]
            bounds = [0]
            for k in range(1, nj):
                lo, hi = bounds[-1] + 1, len(groups) - (nj - k)
                target = k * total / nj
                best = min(range(lo, hi + 1), key=lambda i: (abs(cum[i] - target), i))
                bounds.append(best)
            bounds.append(len(groups))
            return [self._restrict(u for g in groups[a:b] for u in g) for a, b in zip(bounds, bounds[1:])]
        if not 1 <= nj <= len(utts):
            raise SpeechprocError(
                f"{self._name(UTT2SPK)}: cannot split {len(utts)} utterances into {nj} parts; "
                f"fix: use 1 <= nj <= {len(utts)}"
            )
        base, rem = divmod(len(utts), nj)
        parts, a = [], 0
        for k in range(nj):
            b = a + base + (1 if k < rem else 0)
            parts.append(self._restrict(utts[a:b]))
            a = b
        return parts

    def _speaker_runs(self) -> List[List[str]]:
        """Utterances grouped by speaker, speakers in order of their first utterance."""
        order: Dict[str, List[str]] = {}
        for u in self.utts:
            order.setdefault(self.utt2spk[u], []).append(u)
        return list(order.values())

    # ------------------------------------------------------------------ combine / perturb
    @classmethod
    def combine(cls, dirs: Sequence["DataDir"], drop_text: bool = False) -> "DataDir":
        """Union of data dirs with disjoint utterance ids (Kaldi ``combine_data.sh``).

        A recording id may repeat only with the same ``wav.scp`` value. If some inputs have
        ``segments``, the others get whole-recording segments. Optional files present in only
        some inputs are dropped (logged), except ``utt2uniq`` (missing entries map to themselves).
        Transcripts must be in all inputs or in none, unless ``drop_text`` leaves them out (audio-only
        uses such as vocoder training).
        """
        dirs = list(dirs)
        if not dirs:
            raise SpeechprocError("combine: no data dirs given; fix: pass at least one")
        if drop_text:
            dirs = [replace(d, text=None) for d in dirs]

        def where(i: int) -> str:
            return str(dirs[i].source) if dirs[i].source else f"input {i + 1}"

        has_text = [d.text is not None for d in dirs]
        if any(has_text) and not all(has_text):
            i = has_text.index(False)
            raise SpeechprocError(
                f"combine: {where(i)} has no text file but other inputs do; fix: combine only dirs that all "
                "have transcripts (or all have none), or drop them all (combine_data_dir --no-text)"
            )
        if any(d.segments is not None for d in dirs):
            dirs = [d if d.segments is not None else d._with_whole_segments() for d in dirs]
        utt2spk: Dict[str, str] = {}
        owner: Dict[str, int] = {}
        wav_scp: Dict[str, str] = {}
        rec_owner: Dict[str, int] = {}
        for i, d in enumerate(dirs):
            for u, s in d.utt2spk.items():
                if u in utt2spk:
                    raise SpeechprocError(
                        f"combine: utterance '{u}' is in both {where(owner[u])} and {where(i)}; fix: give the "
                        "inputs distinct ids (e.g. a prefix per set)"
                    )
                utt2spk[u], owner[u] = s, i
            for r, spec in d.wav_scp.items():
                if r in wav_scp and wav_scp[r] != spec:
                    raise SpeechprocError(
                        f"combine: recording '{r}' is '{wav_scp[r]}' in {where(rec_owner[r])} but '{spec}' in "
                        f"{where(i)}; fix: give the inputs distinct recording ids"
                    )
                wav_scp[r], rec_owner[r] = spec, i
        text = {k: v for d in dirs for k, v in (d.text or {}).items()} if all(has_text) else None
        segments = ({k: v for d in dirs for k, v in d.segments.items()}  # type: ignore[union-attr]
                    if dirs[0].segments is not None else None)
        utt2dur = None
        if all(d.utt2dur is not None for d in dirs):
            utt2dur = {k: v for d in dirs for k, v in d.utt2dur.items()}  # type: ignore[union-attr]
        elif any(d.utt2dur is not None for d in dirs):
            logger.warning("combine: utt2dur is missing in some inputs; the output has none")
        extra: Dict[str, Dict[str, str]] = {}
        names = sorted({n for d in dirs for n in d.extra})
        for n in names:
            present = [n in d.extra for d in dirs]
            if not all(present) and n != "utt2uniq":
                logger.warning("combine: %s is missing in %s; the output has none", n, where(present.index(False)))
                continue
            merged: Dict[str, str] = {}
            for i, d in enumerate(dirs):
                src = d.extra.get(n, {u: u for u in d.utt2spk})
                for k, v in src.items():
                    if k in merged and merged[k] != v:
                        raise SpeechprocError(
                            f"combine: {n} key '{k}' is '{merged[k]}' in one input but '{v}' in {where(i)}; "
                            "fix: make them agree"
                        )
                    merged[k] = v
            extra[n] = merged
        d = DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text, segments=segments, utt2dur=utt2dur, extra=extra)
        return d._restrict(d.utt2spk)  # sorted copy

    def _with_whole_segments(self) -> "DataDir":
        """The same data with one whole-recording segment per utterance (needs durations)."""
        dur = self.with_utt2dur().utt2dur or {}
        segs = {u: Segment(u, 0.0, dur[u]) for u in self.utt2spk}
        return replace(self, segments=segs, load_issues=())

    def speed_perturb(self, factor: float) -> "DataDir":
        """A copy played ``factor`` times faster (Kaldi ``perturb_data_dir_speed.sh``).

        Utterance, speaker and recording ids get the prefix ``sp<factor>-`` (``sp0.9-``,
        ``sp1.0-``); ``wav.scp`` entries become ``python -m speechproc.bin.wav_speed`` pipes
        (unchanged for 1.0); segment times and ``utt2dur`` are divided by ``factor``;
        ``utt2uniq`` maps each new id to the original utterance. Length-dependent extra files
        (``utt2num_frames``, ``feats.scp``, ``cmvn.scp``) are dropped unless ``factor`` is 1.
        """
        factor = float(factor)
        if not factor > 0:
            raise SpeechprocError(f"speed factor must be positive, got {factor}; fix: use e.g. 0.9 1.0 1.1")
        p = f"sp{factor!r}-"
        utt2spk = {p + u: p + s for u, s in self.utt2spk.items()}
        wav_scp = {p + r: (spec if factor == 1.0 else speed_spec(spec, factor)) for r, spec in self.wav_scp.items()}
        text = {p + u: t for u, t in self.text.items()} if self.text is not None else None
        segments = None
        if self.segments is not None:
            segments = {
                p + u: Segment(p + s.recording, s.start / factor, s.end if s.end == -1 else s.end / factor)
                for u, s in self.segments.items()
            }
        utt2dur = {p + u: d / factor for u, d in self.utt2dur.items()} if self.utt2dur is not None else None
        extra: Dict[str, Dict[str, str]] = {}
        for n, d in self.extra.items():
            if factor != 1.0 and n in _LENGTH_DEPENDENT:
                continue
            if n == "utt2uniq":
                continue
            kind = _keyed_by(n)
            if n == "reco2dur":
                extra[n] = {p + k: _fmt_num(float(v) / factor) for k, v in d.items()}
            elif kind is not None:
                extra[n] = {p + k: v for k, v in d.items()}
            elif factor == 1.0:
                extra[n] = dict(d)
        uniq = self.extra.get("utt2uniq", {})
        extra["utt2uniq"] = {p + u: uniq.get(u, u) for u in self.utt2spk}
        return DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text, segments=segments, utt2dur=utt2dur, extra=extra)

    def with_utt2dur(self, recompute: bool = False) -> "DataDir":
        """A copy with ``utt2dur`` from the audio headers (pipes are run); unchanged if complete."""
        if not recompute and self.utt2dur is not None and all(u in self.utt2dur for u in self.utt2spk):
            return self
        rec_dur: Dict[str, float] = {}

        def duration(rec: str) -> float:
            if rec not in rec_dur:
                try:
                    rec_dur[rec] = audio_info(self.wav_scp[rec]).duration
                except AudioError as e:
                    raise AudioError(f"{self._name(WAV_SCP)}: recording '{rec}': {e}") from e
            return rec_dur[rec]

        dur: Dict[str, float] = {}
        for u in self.utts:
            if self.segments is not None:
                seg = self.segments[u]
                end = duration(seg.recording) if seg.end < 0 else seg.end
                dur[u] = round(end - seg.start, 6)
            else:
                dur[u] = round(duration(u), 6)
        return replace(self, utt2dur=dur, load_issues=(), source=None)


def _strip_fix(msg: str) -> str:
    """A validation message without its leading path and trailing '; fix: ...' (for fix reports)."""
    msg = re.sub(r"; fix: .*$", "", msg)
    return msg


def _format_problems(problems: List[str], prefix: Optional[PathLike], what: str) -> str:
    head = f"{what} {prefix}" if prefix else what
    shown = problems[:_MAX_LISTED]
    more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
    return f"{head}: {len(problems)} problem(s):\n  " + "\n  ".join(shown) + more
