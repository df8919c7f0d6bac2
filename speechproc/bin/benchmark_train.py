"""Training speed on this machine's cores: the same short training run (one epoch on the first
``--max-train-utts`` utterances) with each ``--settings`` entry, so a recipe can pick how to use its cores.

    python -m speechproc.bin.benchmark_train conf/train_asr_conformer.yaml --settings threads=1 threads=2 nproc=2 \\
        --max-train-utts 200 --out exp/train_speed -- --train_data dump/train_nodev_sp --valid_data dump/train_dev \\
        --token_dir data/token/bpe30 --cmvn_stats dump/train_nodev_sp/cmvn.npz

A setting is ``threads=K`` (one process with ``K`` torch threads) or ``nproc=N`` (``N`` data-parallel processes
through ``torchrun``, one thread each). Everything after ``--`` goes to ``speechproc.bin.train`` unchanged. The
speed is the trainer's own ``train_seconds_this_run`` (``train_summary.json``: the epoch and its validation on
``--max-valid-utts`` utterances, without start-up); the wall time of the whole command is reported beside it.
Writes ``result.json``, ``result.md`` and, with ``--readme``, the README section; the fastest setting is named.
Run it on an otherwise idle machine: timings taken beside other jobs are not figures.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from speechproc.utils import SpeechprocError, run_verb, setup_logging


def parse_setting(text: str) -> Tuple[int, int]:
    """``(processes, threads per process)`` of ``threads=K`` or ``nproc=N``."""
    key, sep, value = text.partition("=")
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not sep or key not in ("threads", "nproc") or n < 1:
        raise SpeechprocError(f"--settings {text}: expected threads=K or nproc=N with a positive integer, "
                              "e.g. threads=2 or nproc=2")
    return (1, n) if key == "threads" else (n, 1)


def train_command(config: str, out: Path, procs: int, threads: int, max_train: int, max_valid: int,
                  extra: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """The training command of one setting and its environment: the threads go through ``SPEECHPROC_NUM_THREADS``
    (and ``OMP_NUM_THREADS``), and through ``--num_threads`` as well where the config pins them."""
    cmd = [sys.executable, "-m", "speechproc.bin.train", config, "--nproc", str(procs), "--output_folder", str(out),
           "--number_of_epochs", "1", "--max_train_utts", str(max_train), "--max_valid_utts", str(max_valid)]
    if re.search(r"^num_threads\s*:", Path(config).read_text(encoding="utf-8"), re.M):
        cmd += ["--num_threads", str(threads)]
    env = {**os.environ, "SPEECHPROC_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    return cmd + list(extra), env


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="training yaml (as for speechproc.bin.train)")
    p.add_argument("--settings", nargs="+", default=["threads=1", "threads=2", "nproc=2"],
                   help="threads=K / nproc=N entries (default: threads=1 threads=2 nproc=2)")
    p.add_argument("--max-train-utts", type=int, default=200, help="utterances of the timed epoch (default 200)")
    p.add_argument("--max-valid-utts", type=int, default=10, help="utterances of its validation (default 10)")
    p.add_argument("--out", required=True, help="output dir (one training dir per setting, result.json/md)")
    p.add_argument("--readme", default=None, help="README whose section --section gets the table")
    p.add_argument("--section", default="train_speed", help="README section key (default train_speed)")
    return p


def format_table(result: Dict) -> str:
    rows = result["rows"]
    base = rows[0]["utts_per_second"]
    lines = [f"One epoch of `{result['config']}` on the first {rows[0]['utterances']} training utterances "
             f"(validation on {result['max_valid_utts']}), each setting in a fresh process; utterances per second "
             "from the trainer's own clock (`train_summary.json`), wall time of the whole command beside it.", "",
             "| setting | processes | threads each | train s | utterances/s | speed-up | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        best = " (fastest)" if r["setting"] == result["fastest"] else ""
        lines.append(f"| {r['setting']}{best} | {r['processes']} | {r['threads']} | {r['train_seconds']:.1f} | "
                     f"{r['utts_per_second']:.2f} | {r['utts_per_second'] / base:.2f}x | {r['wall_seconds']:.1f} |")
    env = result["environment"]
    lines += ["", f"Command: `{result['command']}` (commit {result['commit']}; CPU {env.get('CPU', '?')}, "
              f"{env.get('CPUs', '?')} CPUs)."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: List[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    args = get_parser().parse_args(argv)
    from speechproc.score.results import environment_info, git_commit, write_benchmark

    if not Path(args.config).is_file():
        raise SpeechprocError(f"{args.config}: training config not found")
    settings = [(s, *parse_setting(s)) for s in args.settings]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, procs, threads in settings:
        run_dir = out / name.replace("=", "")
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a benchmark's own scratch dir: every setting starts from nothing
        cmd, env = train_command(args.config, run_dir, procs, threads, args.max_train_utts, args.max_valid_utts,
                                 extra)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, env=env)
        wall = time.perf_counter() - t0
        if rc != 0:
            raise SpeechprocError(f"setting {name}: training failed (exit code {rc}); command: {shlex.join(cmd)}")
        summary = json.loads((run_dir / "train_summary.json").read_text())
        secs = float(summary["train_seconds_this_run"])
        utts = int(summary.get("train_utterances") or args.max_train_utts)  # fewer where the data holds fewer
        rows.append({"setting": name, "processes": procs, "threads": threads, "train_seconds": round(secs, 2),
                     "utterances": utts, "utts_per_second": round(utts / max(secs, 1e-9), 3),
                     "wall_seconds": round(wall, 2), "command": shlex.join(cmd)})
    fastest = max(rows, key=lambda r: r["utts_per_second"])["setting"]
    root = Path(__file__).resolve().parents[2]
    env = environment_info(root)
    env["CPUs"] = str(os.cpu_count())
    result = {"command": shlex.join([sys.executable, "-m", "speechproc.bin.benchmark_train",
                                     *argv, *(["--", *extra] if extra else [])]),
              "commit": git_commit(root), "config": args.config, "max_train_utts": args.max_train_utts,
              "max_valid_utts": args.max_valid_utts, "rows": rows, "fastest": fastest, "environment": env}
    table = format_table(result)
    write_benchmark(out, result, table, args.readme, args.section)
    return 0


if __name__ == "__main__":
    run_verb(main)
