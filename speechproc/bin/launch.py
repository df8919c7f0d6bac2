"""Run a command as parallel jobs, locally or on Slurm, like Kaldi's run.pl / slurm.pl.

    python -m speechproc.bin.launch --cmd local|slurm [--conf FILE] [--max-parallel N] \\
        JOB=1:4 exp/log/foo.JOB.log -- command args with JOB

``JOB`` in the log path and the command is replaced by 1..4; each job writes its own log. The job
range is optional (one job, no ``JOB`` needed). The command is given after ``--`` (or directly after
the log path when it has no ``--`` of its own). One word is a complete bash command line (``"sort a |
uniq"``); several words are joined like run.pl does: a word without spaces goes to bash as is (``\\|``
pipes), a word with spaces is quoted. On failure the exit status is 1 and the tail of the first
failing log is printed to stderr.
"""
from __future__ import annotations

import argparse
import logging
from typing import List, Optional, Sequence

from speechproc.launch import BACKENDS, LaunchError, kaldi_join, launch, parse_job_range
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="launch",
        description=__doc__.split("\n\n", 1)[0],
        usage="%(prog)s [options] [JOB=1:N] LOG -- COMMAND [ARGS...]",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--cmd", choices=BACKENDS, default="local", help="backend (default: local)")
    parser.add_argument("--conf", help="launch/site conf YAML, e.g. conf/slurm.yaml (partition, time, mem, cpus, gpus, ...)")
    parser.add_argument("--max-parallel", type=int, help="most jobs running at once (local default: number of CPUs)")
    parser.add_argument("--job-name", help="Slurm job name (default: the log name without JOB)")
    parser.add_argument("--cpus", "--num-threads", dest="cpus", type=int, help="CPUs per job (sbatch --cpus-per-task)")
    parser.add_argument("--gpus", "--gpu", dest="gpus", type=int, help="GPUs per job")
    parser.add_argument("--mem", help="memory per job, e.g. 4G")
    parser.add_argument("--time", help="time limit per job, e.g. 2:00:00")
    parser.add_argument("--partition", help="Slurm partition")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="[JOB=1:N] LOG [--] COMMAND [ARGS...]")
    return parser


def _split(argv: List[str], parser: argparse.ArgumentParser):
    """Options and positionals before ``--``, command words after it (or after the log path)."""
    if "--" in argv:
        i = argv.index("--")
        args = parser.parse_args(argv[:i])
        words, command = list(args.args), argv[i + 1:]
    else:
        args = parser.parse_args(argv)
        words, command = list(args.args), None
    if not words:
        parser.error("missing the log path (and optional JOB=1:N) before the command")
    var, first, last = "JOB", 1, 1
    if "=" in words[0] and not words[0].startswith(("/", ".")) and words[0].split("=", 1)[0].isidentifier():
        var, first, last = parse_job_range(words.pop(0))
    if not words:
        parser.error("missing the log path after the job range")
    log = words.pop(0)
    if command is None:
        command = words
    elif words:
        parser.error(f"unexpected arguments before '--': {' '.join(words)}")
    if not command:
        parser.error("missing the command to run")
    return args, var, first, last, log, command


def main(argv: Optional[Sequence[str]] = None) -> int:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = get_parser()
    args, var, first, last, log, words = _split(argv, parser)
    setup_logging(args.verbose)
    command = words[0] if len(words) == 1 else kaldi_join(words)
    launch(
        args.cmd,
        command,
        nj=last - first + 1,
        log=log,
        max_parallel=args.max_parallel,
        conf=args.conf,
        job_name=args.job_name,
        job_var=var,
        first=first,
        cpus=args.cpus,
        gpus=args.gpus,
        mem=args.mem,
        time=args.time,
        partition=args.partition,
    )
    return 0


__all__ = ["get_parser", "main", "LaunchError"]

if __name__ == "__main__":
    run_verb(main)
