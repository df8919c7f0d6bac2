"""Corpus preparation: one module per corpus, each with a pure ``prepare_<corpus>(corpus_dir, out_dir)``.

A corpus module (``an4``, ``yesno``, ``ljspeech``, ``vcc2016``, ``cmu_arctic``, ``librispeech``)
reads the corpus in its original layout and writes Kaldi-style data dirs (``wav.scp``, ``text``,
``utt2spk``, ``spk2utt``) with :meth:`speechproc.data.datadir.DataDir.save`. Its docstring is the
dataset card. Each module defines:

- ``prepare_<corpus>(corpus_dir, out_dir, ...) -> dict[str, DataDir]``
- ``download_<corpus>(dest)``: this project never downloads at run time, so it raises
  :class:`~speechproc.utils.SpeechprocError` with the command to run on a machine with internet.
- ``DOWNLOAD_COMMAND`` (str template with ``{dest}``), ``LAYOUT`` (str, human description), ``SAMPLE_RATE`` (int) and
  ``missing_layout(corpus_dir) -> list[str]`` (the expected paths that are absent).

Where a corpus lives is one setting, resolved by :func:`resolve_corpus_dir`: an explicit
argument (``--corpus-dir``), else the environment variable named like the corpus upper-cased
(``AN4``, ``YESNO``, ``LJSPEECH``, ``VCC2016``, ``CMU_ARCTIC``, ``LIBRISPEECH``), else
``$SPEECHPROC_CORPORA/<name>``.
"""
from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

from speechproc.utils import SpeechprocError

if TYPE_CHECKING:  # pragma: no cover
    from speechproc.data.datadir import DataDir

__all__ = [
    "CORPORA",
    "ROOT_ENV",
    "corpus_module",
    "env_var",
    "resolve_corpus_dir",
    "prepare",
    "download",
    "download_command",
    "download_error",
    "write_data_dirs",
    "check_speakers",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

#: Corpora with a preparation module, by name (the module name under this package).
CORPORA: Tuple[str, ...] = ("an4", "yesno", "ljspeech", "vcc2016", "cmu_arctic", "librispeech")

#: Environment variable naming the folder that holds one sub-folder per corpus.
ROOT_ENV = "SPEECHPROC_CORPORA"


def _canonical(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    if key not in CORPORA:
        raise SpeechprocError(f"unknown corpus '{name}'; known corpora: {', '.join(CORPORA)}")
    return key


def corpus_module(name: str) -> ModuleType:
    """The preparation module of corpus ``name`` (e.g. ``"an4"`` -> ``speechproc.data.corpora.an4``)."""
    return importlib.import_module(f"{__name__}.{_canonical(name)}")


def env_var(name: str) -> str:
    """Environment variable that locates corpus ``name``: the name upper-cased (``cmu_arctic`` -> ``CMU_ARCTIC``)."""
    return _canonical(name).upper()


def _not_found(name: str, mod: ModuleType, where: Optional[Path], source: str, missing: List[str]) -> SpeechprocError:
    var = env_var(name)
    if where is None:
        head = f"corpus {name} not found: no corpus dir given and neither ${var} nor ${ROOT_ENV} is set"
    elif not where.is_dir():
        head = f"corpus {name} not found: {where} (from {source}) is not a directory"
    else:
        head = (f"corpus {name} at {where} (from {source}) lacks the expected layout; "
                f"missing: {', '.join(missing)}")
    return SpeechprocError(
        f"{head}.\n"
        f"  Where to put it: pass --corpus-dir DIR, or set {var}=DIR, "
        f"or set {ROOT_ENV}=ROOT with the corpus in ROOT/{name}.\n"
        f"  Expected layout of DIR: {mod.LAYOUT}\n"
        f"  To get it, run on a machine with internet:\n"
        f"    {download_command(name, where if where is not None else 'DIR')}"
    )


def download_command(name: str, dest: PathLike) -> str:
    """The shell command that fetches corpus ``name`` into ``dest`` (for a machine with internet)."""
    return corpus_module(name).DOWNLOAD_COMMAND.format(dest=str(dest))


def resolve_corpus_dir(name: str, corpus_dir: Optional[PathLike] = None) -> Path:
    """Locate corpus ``name`` and check that it has its original layout.

    Precedence: ``corpus_dir`` (explicit argument) > ``$<NAME>`` (e.g. ``$AN4``, ``$CMU_ARCTIC``)
    > ``$SPEECHPROC_CORPORA/<name>``. The first one that is set is used, even when it is wrong:
    there is no silent fallback to the next one.

    Args:
        name: corpus name, one of :data:`CORPORA`.
        corpus_dir: explicit location, overriding the environment.

    Returns:
        The corpus directory (as given, not symlink-resolved).

    Raises:
        SpeechprocError: nothing is set, the directory is missing, or expected files are absent;
            the message names the variables, the expected layout and the download command.
    """
    key = _canonical(name)
    mod = corpus_module(key)
    var = env_var(key)
    if corpus_dir is not None and str(corpus_dir) != "":
        where, source = Path(corpus_dir), "the corpus_dir argument"
    elif os.environ.get(var):
        where, source = Path(os.environ[var]), f"${var}"
    elif os.environ.get(ROOT_ENV):
        where, source = Path(os.environ[ROOT_ENV]) / key, f"${ROOT_ENV}/{key}"
    else:
        raise _not_found(key, mod, None, "", [])
    if not where.is_dir():
        raise _not_found(key, mod, where, source, [])
    missing = mod.missing_layout(where)
    if missing:
        raise _not_found(key, mod, where, source, missing)
    return where


def download(name: str, dest: PathLike) -> None:
    """Call ``download_<name>(dest)``; it raises with the command to run (no downloads at run time)."""
    key = _canonical(name)
    getattr(corpus_module(key), f"download_{key}")(dest)


def download_error(name: str, dest: PathLike) -> SpeechprocError:
    """The error every ``download_<corpus>`` raises: where to put the corpus and the exact command."""
    key = _canonical(name)
    return SpeechprocError(
        f"speechproc never downloads corpora at run time. "
        f"To get {key} into {dest}, run on a machine with internet:\n"
        f"    {download_command(key, dest)}\n"
        f"  then pass --corpus-dir {dest}, or set {env_var(key)}={dest} "
        f"(or {ROOT_ENV} to its parent folder when the folder is named {key}).\n"
        f"  Expected layout: {corpus_module(key).LAYOUT}"
    )


def prepare(
    name: str, corpus_dir: Optional[PathLike], out_dir: Optional[PathLike], **options: Any
) -> Dict[str, "DataDir"]:
    """Call ``prepare_<name>(corpus_dir, out_dir, **options)``; see each corpus module."""
    key = _canonical(name)
    return getattr(corpus_module(key), f"prepare_{key}")(corpus_dir, out_dir, **options)


def check_speakers(requested: List[str], available: List[str], corpus: str, where: Path) -> None:
    """Raise a SpeechprocError if a requested speaker is not in the corpus."""
    unknown = [s for s in requested if s not in available]
    if unknown:
        raise SpeechprocError(
            f"{corpus}: speaker(s) {', '.join(unknown)} not found in {where}; "
            f"available: {', '.join(sorted(available))}"
        )


def write_data_dirs(
    corpus: str,
    sets: Mapping[str, "DataDir"],
    out_dir: Optional[PathLike],
    check_audio: bool = False,
    sample_rate: Optional[int] = None,
) -> Dict[str, "DataDir"]:
    """Validate every data dir of ``sets``, then save each as ``out_dir/<set>`` (atomically).

    Args:
        corpus: corpus name, for log lines.
        sets: set name -> data dir.
        out_dir: parent folder of the data dirs; ``None`` validates only and writes nothing.
        check_audio: also decode every audio file (slow on big corpora; off by default: only the
            headers of plain files are read, which finds unreadable, empty and multi-channel files).
        sample_rate: expected sample rate when ``check_audio`` is set.

    Returns:
        ``dict(sets)``, in the same order.
    """
    for name, data in sets.items():
        where = Path(out_dir) / name if out_dir is not None else Path(f"<{corpus}:{name}>")
        data.validate(check_audio=check_audio, sample_rate=sample_rate if check_audio else None,
                      path_for_messages=str(where), headers=True)
    for name, data in sets.items():
        if out_dir is not None:
            data.save(Path(out_dir) / name)
        n_spk = len(set(data.utt2spk.values()))
        logger.info("%s: %s %s: %d utterances, %d speaker(s)", corpus,
                    "wrote" if out_dir is not None else "prepared",
                    Path(out_dir) / name if out_dir is not None else name, len(data.utt2spk), n_spk)
    return dict(sets)
