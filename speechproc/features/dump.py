"""Feature dumps: features of every utterance of a data dir written to disk, and read back.

A dump dir holds:

- the data dir files (for the utterances that got features), so it loads as a data dir;
- ``feats.scp`` (``<utt> <absolute path>/feats/<utt>.npy``) and ``utt2num_frames``;
- ``feats/<utt>.npy``: float32 arrays ``(num_frames, feat_dim)``;
- ``<kind>.json``: the extractor settings plus ``feat_dim`` (``fbank.json``, ``mel.json``, ...).

The whole dir is written under a temporary name and renamed when complete, so an interrupted dump
never looks finished. Every feature type (Kaldi fbank for ASR, log-mel for TTS/VC) dumps through
:func:`dump_features`; only the per-utterance computation differs.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch

from speechproc.data.datadir import DataDir
from speechproc.utils import PathLike, SpeechprocError, atomic_output_dir

__all__ = ["Compute", "settings_from_dict", "load_settings", "dump_features", "read_scp", "FeatureStore"]

logger = logging.getLogger(__name__)

#: ``compute(wave (T,) float32, config) -> features (frames, dim)``, or ``None`` when the utterance is too
#: short to give a frame. Must be a module-level function (it is sent to worker processes). A function with the
#: attribute ``per_utterance = True`` is called as ``compute(wave, config, utt)`` (features that also depend on the
#: utterance's text or labels: ground-truth-aligned predictions).
Compute = Callable[..., Optional[np.ndarray]]


def settings_from_dict(cls: Any, d: Dict[str, Any], where: str, kind: str) -> Any:
    """Build the extractor settings dataclass ``cls`` from a dict (a yaml file, a dump's
    ``<kind>.json``), ignoring the ``feat_dim`` that :func:`dump_features` writes beside them;
    unknown keys are an error that names them, the file and the known ones. Numbers written as
    strings (YAML 1.1 reads ``1e-05``, the JSON form of 0.00001, as a string) are converted to
    the field's type; a value that is not a number is an error naming the key."""
    import typing

    names = {f.name for f in dataclasses.fields(cls)}
    d = {k: v for k, v in d.items() if k != "feat_dim"}
    unknown = sorted(set(d) - names)
    if unknown:
        raise SpeechprocError(f"{where}: unknown {kind} option(s) {unknown}; known: {', '.join(sorted(names))}")
    hints = typing.get_type_hints(cls)
    for k, v in list(d.items()):
        if hints.get(k) in (float, int) and isinstance(v, str):
            try:
                d[k] = hints[k](float(v)) if hints[k] is int else float(v)
            except ValueError:
                raise SpeechprocError(f"{where}: {kind} option '{k}' must be a number, got {v!r}") from None
    return cls(**d)


def load_settings(cls: Any, path: PathLike, kind: str, writer: str) -> Any:
    """Read extractor settings ``cls`` from a yaml/json file, or from a dump dir's ``<kind>.json``.

    Args:
        cls: the settings dataclass (``FbankConfig``, ``MelConfig``).
        path: a file, or a dump dir.
        kind: ``fbank``, ``mel``: the dump's file name and the word used in errors.
        writer: the verb that writes the file, named when it is missing.
    """
    import yaml

    path = Path(path)
    if path.is_dir():
        path = path / f"{kind}.json"
    if not path.is_file():
        raise SpeechprocError(f"{path}: not found; it is written by 'speechproc {writer}' (or give a yaml file)")
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise SpeechprocError(f"{path}: not valid yaml/json ({e})") from None
    if not isinstance(d, dict):
        raise SpeechprocError(f"{path}: expected a mapping of {kind} options, got {type(d).__name__}")
    return settings_from_dict(cls, d, str(path), kind)


def _check_utt_name(data_dir: PathLike, utt: str) -> None:
    if "/" in utt or utt in (".", "..") or utt.startswith("."):
        raise SpeechprocError(
            f"{data_dir}: utterance id '{utt}' cannot name a feature file (no '/', no leading '.'); "
            f"rename it in the data dir"
        )


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
    tmp.replace(path)


def _dump_part(data: DataDir, utts: List[str], compute: Compute, config: Any, sample_rate: Optional[int],
               feats_dir: str) -> Tuple[Dict[str, int], List[str]]:
    """Compute and save the features of ``utts``; return ({utt: frames}, [dropped report lines])."""
    torch.set_num_threads(1)
    frames: Dict[str, int] = {}
    dropped: List[str] = []
    for utt in utts:
        wave, _ = data.load_audio(utt, sample_rate=sample_rate)
        feats = compute(wave, config, utt) if getattr(compute, "per_utterance", False) else compute(wave, config)
        if feats is None or feats.shape[0] == 0:
            dropped.append(f"dropped {utt}: {len(wave)} samples, too short for one feature frame")
            continue
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        _save_npy_atomic(Path(feats_dir) / f"{utt}.npy", feats)
        frames[utt] = int(feats.shape[0])
    return frames, dropped


def dump_features(
    data_dir: PathLike,
    dump_dir: PathLike,
    kind: str,
    compute: Compute,
    config: Any,
    settings: Dict[str, Any],
    sample_rate: Optional[int] = None,
    nj: int = 1,
) -> DataDir:
    """Compute features for every utterance of ``data_dir`` and write the dump dir ``dump_dir``.

    Utterances too short for one frame are left out of the dump (each one logged).

    Args:
        data_dir: Kaldi data dir.
        dump_dir: output dir (layout in the module docstring); replaces an existing one.
        kind: feature type, names the settings file ``<kind>.json``.
        compute: per-utterance extractor (see :data:`Compute`).
        config: passed to ``compute``.
        settings: JSON-serialisable extractor settings, written to ``<kind>.json``.
        sample_rate: audio is resampled to this rate before ``compute`` (None: as stored).
        nj: worker processes.

    Returns:
        the :class:`~speechproc.data.datadir.DataDir` of the dump dir.
    """
    data = DataDir.load(data_dir)
    utts = list(data.utts)
    if not utts:
        raise SpeechprocError(f"{data_dir}: the data dir has no utterances; check its wav.scp and utt2spk")
    for utt in utts:
        _check_utt_name(data_dir, utt)
    dump_dir = Path(dump_dir).absolute()
    nj = max(1, min(int(nj), len(utts)))
    start = time.perf_counter()
    with atomic_output_dir(dump_dir) as tmp:
        feats_dir = tmp / "feats"
        feats_dir.mkdir()
        if nj == 1:
            results = [_dump_part(data, utts, compute, config, sample_rate, str(feats_dir))]
        else:
            with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(_dump_part, data, utts[i::nj], compute, config, sample_rate, str(feats_dir))
                           for i in range(nj)]
                results = [f.result() for f in futures]
        frames: Dict[str, int] = {}
        dropped: List[str] = []
        for f, d in results:
            frames.update(f)
            dropped.extend(d)
        for line in sorted(dropped):
            logger.warning("%s", line)
        if not frames:
            raise SpeechprocError(f"{data_dir}: every utterance is too short for one feature frame; nothing to dump")
        kept = [u for u in utts if u in frames]
        out = data.subset(kept) if dropped else data
        extra = dict(out.extra)
        extra["feats.scp"] = {u: str(dump_dir / "feats" / f"{u}.npy") for u in kept}
        extra["utt2num_frames"] = {u: str(frames[u]) for u in kept}
        dataclasses.replace(out, extra=extra).write_files(tmp)  # the data dir was validated when loaded
        feat_dim = int(np.load(feats_dir / f"{kept[0]}.npy", mmap_mode="r").shape[1])
        (tmp / f"{kind}.json").write_text(json.dumps({**settings, "feat_dim": feat_dim}, indent=2) + "\n",
                                          encoding="utf-8")
    elapsed = time.perf_counter() - start
    logger.info("wrote %s (%d dims) of %d utterances (%d frames) to %s in %.1f s (%.1f ms/utt), %d dropped",
                kind, feat_dim, len(kept), sum(frames.values()), dump_dir, elapsed,
                1000 * elapsed / len(utts), len(dropped))
    return DataDir.load(dump_dir)


def read_scp(path: PathLike) -> Dict[str, str]:
    """Read a Kaldi ``key value`` file (value = rest of the line) into a dict, checking duplicates."""
    path = Path(path)
    if not path.is_file():
        raise SpeechprocError(f"{path}: not found")
    out: Dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise SpeechprocError(f"{path}: line {n}: expected '<key> <value>', got '{line}'")
            if parts[0] in out:
                raise SpeechprocError(f"{path}: line {n}: key '{parts[0]}' appears twice; fix the file")
            out[parts[0]] = parts[1]
    return out


class FeatureStore:
    """Read access to dumped features (a dump dir, or any dir with a ``feats.scp``).

    ``store[utt]`` is the float32 array ``(num_frames, feat_dim)``; ``len(store)``, iteration
    over utterance ids (C-sorted) and ``store.num_frames(utt)`` are available. ``store.kind`` and
    ``store.settings`` come from the dump's ``<kind>.json`` (None when there is none);
    ``store.config`` is the :class:`~speechproc.features.fbank.FbankConfig` of an fbank dump.

    Args:
        path: the dir holding ``feats.scp`` (and ``utt2num_frames``, ``<kind>.json`` if present).
        mmap: memory-map the arrays instead of reading them.
    """

    KINDS = ("fbank", "mel")

    def __init__(self, path: PathLike, mmap: bool = False) -> None:
        self.path = Path(path)
        scp = self.path / "feats.scp"
        if not scp.is_file():
            raise SpeechprocError(
                f"{scp}: not found; {self.path} is not a feature dump, run 'speechproc compute_fbank' "
                f"(or compute_mel)"
            )
        self._scp = read_scp(scp)
        n2f = self.path / "utt2num_frames"
        self._frames = {k: int(v) for k, v in read_scp(n2f).items()} if n2f.is_file() else None
        self.mmap = mmap
        self.kind: Optional[str] = next((k for k in self.KINDS if (self.path / f"{k}.json").is_file()), None)
        self.settings: Optional[Dict[str, Any]] = (
            json.loads((self.path / f"{self.kind}.json").read_text(encoding="utf-8")) if self.kind else None
        )
        self.config = None
        if self.kind == "fbank":
            from speechproc.features.fbank import load_fbank_config

            self.config = load_fbank_config(self.path)

    @property
    def utts(self) -> List[str]:
        """Utterance ids, C-sorted."""
        return sorted(self._scp)

    def __len__(self) -> int:
        return len(self._scp)

    def __contains__(self, utt: str) -> bool:
        return utt in self._scp

    def __iter__(self) -> Iterator[str]:
        return iter(self.utts)

    def file_of(self, utt: str) -> Path:
        """Path of the array of ``utt`` (relative entries resolve against the dump dir)."""
        try:
            p = Path(self._scp[utt])
        except KeyError:
            raise SpeechprocError(f"{self.path}/feats.scp: no utterance '{utt}'; re-run the feature stage") from None
        return p if p.is_absolute() else self.path / p

    def __getitem__(self, utt: str) -> np.ndarray:
        p = self.file_of(utt)
        try:
            return np.load(p, mmap_mode="r" if self.mmap else None)
        except (OSError, ValueError) as e:
            raise SpeechprocError(
                f"{self.path}/feats.scp: utterance '{utt}': cannot read {p} ({e}); re-run the feature stage"
            ) from None

    def num_frames(self, utt: str) -> int:
        """Frame count of ``utt`` (from ``utt2num_frames``, else from the array header)."""
        if self._frames is not None and utt in self._frames:
            return self._frames[utt]
        return int(np.load(self.file_of(utt), mmap_mode="r").shape[0])
