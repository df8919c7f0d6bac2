"""Write ``utt2dur`` into data dirs, decoding (and so checking) every recording in ``nj`` jobs.

    python -m speechproc.bin.compute_utt2dur [--cmd local|slurm] [--nj 4] [--cmd-conf conf/slurm.yaml] \\
        [--sample-rate 16000] [--work-dir exp/utt2dur] DATA_DIR [DATA_DIR ...]

Each data dir is split into ``nj`` parts (``<work-dir>/<set>/split<nj>/JOB``); job JOB validates its part
with every recording fully decoded (a truncated or corrupt file, a failing pipe, a wrong sample rate fails
the job and its log ``<work-dir>/<set>/log/utt2dur.JOB.log`` says which) and writes the part's durations.
When all jobs succeed, the merged ``utt2dur`` is added to the data dir, which is replaced atomically.

``--part PART_DIR OUT_FILE`` is the per-job mode the launcher runs.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Dict, Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.launch import launch
from speechproc.utils import SpeechprocError, atomic_write_text, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="compute_utt2dur",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cmd", choices=["local", "slurm"], default="local", help="job backend")
    p.add_argument("--cmd-conf", default=None, help="launch configuration (YAML) for the backend")
    p.add_argument("--nj", type=int, default=4, help="number of jobs per data dir")
    p.add_argument("--sample-rate", type=int, default=None, help="expected sample rate of every recording")
    p.add_argument("--work-dir", default="exp/utt2dur", help="where the splits and per-job logs go")
    p.add_argument("--part", nargs=2, metavar=("PART_DIR", "OUT_FILE"),
                   help="per-job mode: check one part and write its utt2dur to OUT_FILE")
    p.add_argument("--source", default=None, help="per-job mode: the data dir the part was split from (for messages)")
    p.add_argument("data_dirs", nargs="*", help="data dirs to complete with utt2dur")
    return p


def compute_part(part_dir: Path, out_file: Path, sample_rate: Optional[int] = None,
                 source: Optional[Path] = None) -> int:
    """Decode every recording of one part, write its ``utt2dur``; returns the utterance count.

    Problems are reported against ``source`` (the data dir the part was split from), where the user fixes them.
    """
    part = DataDir.load(part_dir)
    part.validate(check_audio=True, sample_rate=sample_rate, path_for_messages=source)
    part = part.with_utt2dur(recompute=True)
    assert part.utt2dur is not None
    atomic_write_text(out_file, "".join(f"{u} {part.utt2dur[u]:g}\n" for u in part.utts))
    logger.info("%s: %d utterances, %.1f s of audio", part_dir, len(part), sum(part.utt2dur.values()))
    return len(part)


def _read_utt2dur(path: Path) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, value = line.split()
        out[key] = float(value)
    return out


def compute_utt2dur(
    data_dir: Path,
    backend: str = "local",
    nj: int = 4,
    conf: Optional[str] = None,
    sample_rate: Optional[int] = None,
    work_dir: Path = Path("exp/utt2dur"),
) -> DataDir:
    """Add ``utt2dur`` to ``data_dir`` (replaced atomically), checking all audio in ``nj`` jobs.

    Args:
        data_dir: a valid data dir.
        backend: ``local`` or ``slurm`` (see :func:`speechproc.launch.launch`).
        nj: number of jobs (at most one per utterance).
        conf: launch configuration file.
        sample_rate: expected sample rate; a recording at another rate fails its job.
        work_dir: parent of ``<set>/split<nj>`` and ``<set>/log``.

    Returns:
        the data dir with ``utt2dur``.

    Raises:
        speechproc.launch.LaunchError: a job failed (its log tail is in the message).
    """
    data = DataDir.load(data_dir)
    nj = max(1, min(nj, len(data)))
    set_dir = Path(work_dir) / f"{data_dir.resolve().parent.name}_{data_dir.name}"
    split_dir = set_dir / f"split{nj}"
    for i, part in enumerate(data.split(nj), 1):
        part.save(split_dir / str(i))
    launch(
        backend,
        [sys.executable, "-m", "speechproc.bin.compute_utt2dur",
         *(["--sample-rate", str(sample_rate)] if sample_rate else []),
         "--source", str(data_dir),
         "--part", str(split_dir / "JOB"), str(split_dir / "JOB" / "utt2dur.part")],
        nj=nj,
        log=set_dir / "log" / "utt2dur.JOB.log",
        conf=conf,
    )
    durations: Dict[str, float] = {}
    for i in range(1, nj + 1):
        durations.update(_read_utt2dur(split_dir / str(i) / "utt2dur.part"))
    missing = [u for u in data.utts if u not in durations]
    if missing:
        raise SpeechprocError(f"{split_dir}: jobs gave no duration for {len(missing)} utterances "
                              f"(first: {missing[0]}); rerun the stage")
    out = replace(data, utt2dur={u: durations[u] for u in data.utts})
    out.save(data_dir)
    logger.info("%s: utt2dur for %d utterances (%.1f h), %d jobs (%s)", data_dir, len(out),
                sum(durations.values()) / 3600, nj, backend)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    if args.part:
        compute_part(Path(args.part[0]), Path(args.part[1]), args.sample_rate,
                     Path(args.source) if args.source else None)
        return 0
    if not args.data_dirs:
        raise SpeechprocError("no data dir given; usage: compute_utt2dur [options] DATA_DIR [DATA_DIR ...]")
    conf = args.cmd_conf if args.cmd_conf and Path(args.cmd_conf).exists() else None
    if args.cmd_conf and conf is None and args.cmd == "slurm":
        raise SpeechprocError(f"--cmd-conf {args.cmd_conf}: file not found; create it (see "
                              "tools/slurm/slurm.yaml) or leave the option out")
    for d in args.data_dirs:
        compute_utt2dur(Path(d), args.cmd, args.nj, conf, args.sample_rate, Path(args.work_dir))
    return 0


if __name__ == "__main__":
    run_verb(main)
