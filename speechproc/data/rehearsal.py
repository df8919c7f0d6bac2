"""Rehearsal for continual fine-tuning: a period's training data mixed with a share of earlier data.

``rehearsal_mix(new, old, share)`` returns one data dir holding all of ``new`` plus utterances drawn from
the ``old`` dirs (earlier periods, or pseudo-rehearsal data standing in for the pretraining domain) so
that old utterances are ``share`` of the result: ``round(share / (1 - share) * len(new))`` of them,
taken evenly from every old dir (as many as each has), without replacement, seeded. Every epoch over the
result therefore sees exactly that share of old data (Chaudhry et al.'s experience replay with a fixed
buffer, the simplest rehearsal that a data-dir recipe can show and count).
"""
from __future__ import annotations

import logging
import random
from typing import Dict, List, Sequence

from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

__all__ = ["rehearsal_counts", "rehearsal_mix"]

logger = logging.getLogger(__name__)


def rehearsal_counts(num_new: int, old_sizes: Sequence[int], share: float) -> List[int]:
    """How many utterances to take from each old dir: ``round(share / (1 - share) * num_new)`` in all,
    split as evenly as the dirs' sizes allow (a small dir gives all it has, the others make up the rest)."""
    if not 0.0 <= share < 1.0:
        raise SpeechprocError(f"rehearsal share must be in [0, 1), got {share}; fix: e.g. 0.2 for one old "
                              "utterance in five")
    want = int(round(share / (1.0 - share) * num_new)) if share > 0 else 0
    if want > sum(old_sizes):
        raise SpeechprocError(f"rehearsal: a share of {share} needs {want} old utterances but the earlier data "
                              f"holds {sum(old_sizes)}; fix: lower the share")
    counts = [0] * len(old_sizes)
    left = want
    open_dirs = [i for i, n in enumerate(old_sizes) if n > 0]
    while left > 0 and open_dirs:
        each = max(1, left // len(open_dirs))
        for i in list(open_dirs):
            take = min(each, old_sizes[i] - counts[i], left)
            counts[i] += take
            left -= take
            if counts[i] == old_sizes[i]:
                open_dirs.remove(i)
            if left == 0:
                break
    return counts


def rehearsal_mix(new: DataDir, old: Sequence[DataDir], share: float, seed: int = 0) -> DataDir:
    """``new`` plus a seeded draw of old utterances making up ``share`` of the result (module docstring).
    Utterance ids must not collide between new and old data."""
    if not len(new):
        raise SpeechprocError("rehearsal: the new data has no utterance")
    counts = rehearsal_counts(len(new), [len(d) for d in old], share)
    rng = random.Random(seed)
    parts = [new]
    for d, n in zip(old, counts):
        if n:
            parts.append(d.subset(sorted(rng.sample(list(d.utts), n))))
    mixed = DataDir.combine(parts)
    taken: Dict[str, int] = {str(d.source or f"old {i + 1}"): n for i, (d, n) in enumerate(zip(old, counts))}
    logger.info("rehearsal: %d new + %d old utterances (share %.3f): %s", len(new), sum(counts),
                sum(counts) / max(1, len(mixed)), taken)
    return mixed
