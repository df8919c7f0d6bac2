"""Versioned experiment dirs of continual fine-tuning: ``exp/<model>/v1``, ``v2``, ...

Each new-data period fine-tunes the latest version (or the pretrained model) into the next one. A version
dir is an ordinary training experiment dir (``hparams.yaml``, ``model.pt``, logs) plus:

- ``card.json``, the version card: the parent (the version or pretrained model it started from), the
  method, every period's data so far (name, data dir, utterances, hours, rehearsal), the trainable
  parameters and training time, the evaluation suite's results (``eval``: WER/CER per set) and the
  general-domain check against the pretrained model (``general``: WER, the zero-shot WER, the tolerance,
  ``ok``). A version without ``card.json`` is unfinished and is neither listed nor used as a parent.
- ``hf/`` for methods that chain their weights: the fine-tuned model as a ``transformers`` checkpoint
  (LoRA folded in), the ``source`` of the next version's training.
- ``decode_<set>/``: the evaluation suite's decode dirs (``text``, ``score_wer``, ``score_cer``).

Versions are never modified once their card is written: a new period always writes a new number.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional

from speechproc.utils import PathLike, SpeechprocError, atomic_write_text

__all__ = ["CARD", "versions", "latest_version", "version_dir", "next_version_dir", "read_card", "write_card",
           "card_periods"]

CARD = "card.json"
_NAME = re.compile(r"^v(\d+)$")


def versions(model_dir: PathLike) -> List[Path]:
    """The finished versions of ``model_dir`` (those with a card), oldest first."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    found = []
    for p in model_dir.iterdir():
        m = _NAME.match(p.name)
        if m and (p / CARD).is_file():
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_version(model_dir: PathLike) -> Optional[Path]:
    """The newest finished version, or None when there is none yet."""
    vs = versions(model_dir)
    return vs[-1] if vs else None


def version_dir(model_dir: PathLike, name: str) -> Path:
    """``model_dir/<name>`` (``v2``, or ``latest``) when that version exists; else an error listing them."""
    vs = versions(model_dir)
    if name == "latest":
        if not vs:
            raise SpeechprocError(f"{model_dir}: no version yet; fix: run the first period (it writes v1)")
        return vs[-1]
    for v in vs:
        if v.name == name:
            return v
    have = ", ".join(v.name for v in vs) or "none"
    raise SpeechprocError(f"{model_dir}: version '{name}' does not exist (versions: {have}); fix: give one of "
                          "them, or 'latest'")


def next_version_dir(model_dir: PathLike) -> Path:
    """The dir of the next version: one past the highest number used so far (finished or not), so an
    unfinished attempt is never reused under the same name."""
    model_dir = Path(model_dir)
    numbers = [int(m.group(1)) for p in (model_dir.iterdir() if model_dir.is_dir() else [])
               if (m := _NAME.match(p.name)) and p.is_dir()]
    return model_dir / f"v{max(numbers, default=0) + 1}"


def read_card(vdir: PathLike) -> Dict[str, Any]:
    """The card of a version dir (an error naming the file when missing or unreadable)."""
    path = Path(vdir) / CARD
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpeechprocError(f"{path}: no version card; {vdir} is not a finished version") from None
    except json.JSONDecodeError as e:
        raise SpeechprocError(f"{path}: not valid JSON ({e}); the version card is damaged") from None


def write_card(vdir: PathLike, card: Dict[str, Any]) -> Path:
    """Write ``card.json`` atomically; a version whose card exists already is never rewritten."""
    path = Path(vdir) / CARD
    if path.exists():
        raise SpeechprocError(f"{path}: the version is finished and is never modified; fix: add a new version")
    atomic_write_text(path, json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path


def card_periods(card: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The periods recorded in a card (none for the pretrained model)."""
    return list((card or {}).get("periods", []))
