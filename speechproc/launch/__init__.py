"""Job dispatch: run ``nj`` copies of a command on this machine or on Slurm, one log per job.

Kaldi's ``run.pl``/``slurm.pl`` contract in Python::

    from speechproc.launch import launch
    launch("local", ["speechproc", "compute_fbank", "data/train/split4/JOB", "dump/JOB"],
           nj=4, log="exp/log/fbank.JOB.log")

- The word ``JOB`` in the command and in the log path is replaced by the task index 1..nj
  (``JOB=1:nj``). Only a whole word is replaced: ``foo.JOB.log`` and ``split4/JOB`` are, while
  ``$SLURM_JOB_ID`` and ``JOBS`` are not. With ``nj > 1`` the log path must contain ``JOB``.
- A command given as a string is a bash command line (pipes and redirections work); a sequence
  is a list of words, each passed to bash quoted. Commands run with bash in the caller's working
  directory and environment.
- Each log starts with the command (``# <command>``, ``# Started at <date>``) and ends with
  ``# Accounting: time=<s> threads=<cpus>`` and ``# Ended (code <N>) at <date>, elapsed time <s>
  seconds``, like Kaldi's ``run.pl``.
- If any task fails, :class:`LaunchError` says how many of the ``nj`` failed, names the first
  failing log and quotes its last 20 lines; all tasks are still run to the end first.
- Ctrl-C (or SIGTERM) stops the children (local) or ``scancel``s the array (slurm).

Backends: ``local`` (:mod:`speechproc.launch.local`, a bounded process pool; default parallelism
is the number of CPUs) and ``slurm`` (:mod:`speechproc.launch.slurm`, one ``sbatch --array`` job).

Site configuration (YAML, passed as ``conf``; recipes keep it in ``egs/<corpus>/<task>/conf/slurm.yaml``,
the annotated project default is ``tools/slurm/slurm.yaml``). Every key is optional::

    partition: gpu              # sbatch --partition; null: the cluster's default partition
    time: "4:00:00"             # sbatch --time per task; null: the partition's limit
    mem: 4G                     # sbatch --mem per task; null: the cluster default
    cpus: 1                     # sbatch --cpus-per-task; also "threads=" in each log's accounting line
    gpus: 0                     # GPUs per task, requested with gpu_option
    gpu_option: "--gres=gpu:{gpus}"   # how this site asks for GPUs (e.g. "--gpus-per-task={gpus}")
    extra_args: ["--qos=normal"]      # further sbatch arguments, a list or one string
    max_parallel: null          # tasks running at once: local pool size / sbatch --array=1-nj%N
    poll_interval: 10           # slurm: longest wait in seconds between two squeue polls

Keyword arguments of :func:`launch` (``cpus``, ``gpus``, ``mem``, ``time``, ``partition``,
``max_parallel``; the CLI's ``--gpus 1`` etc.) override the file. The local backend reads only
``max_parallel`` and ``cpus`` and ignores the rest, so one file serves ``--cmd local`` and ``--cmd slurm``.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import time as _time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from speechproc.utils import PathLike, SpeechprocError

__all__ = [
    "BACKENDS",
    "CONF_KEYS",
    "LaunchError",
    "Task",
    "default_job_name",
    "kaldi_join",
    "launch",
    "load_conf",
    "log_footer",
    "log_header",
    "log_tail",
    "make_tasks",
    "parse_job_range",
    "raise_for_failures",
    "substitute_job",
]

logger = logging.getLogger(__name__)

BACKENDS = ("local", "slurm")
TAIL_LINES = 20

#: Keys of a launch configuration and their types (``None`` is allowed for every key).
CONF_KEYS: Dict[str, tuple] = {
    "partition": (str,),
    "time": (str, int),
    "mem": (str, int),
    "cpus": (int,),
    "gpus": (int,),
    "gpu_option": (str,),
    "extra_args": (list, str),
    "max_parallel": (int,),
    "poll_interval": (int, float),
}

ConfLike = Union[PathLike, Mapping[str, Any], None]


class LaunchError(SpeechprocError):
    """One or more launched tasks failed, or the jobs could not be submitted."""


@dataclass(frozen=True)
class Task:
    """One task of a launch: its index (the value of ``JOB``), bash command line and log path."""

    index: int
    command: str
    log: Path

    @property
    def log_abs(self) -> Path:
        """The log path made absolute against the current directory (not resolving links)."""
        return Path(os.path.abspath(self.log))


def substitute_job(text: str, value: Union[int, str], var: str = "JOB") -> str:
    """Replace the whole word ``var`` in ``text`` by ``value`` (``a.JOB.log`` -> ``a.3.log``)."""
    return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(var)}(?![A-Za-z0-9_])", str(value), text)


def parse_job_range(spec: str) -> Tuple[str, int, int]:
    """Parse Kaldi's ``JOB=1:4`` into ``("JOB", 1, 4)``; a single ``JOB=3`` gives ``("JOB", 3, 3)``."""
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?", spec)
    if not m:
        raise LaunchError(f"job range '{spec}' is not of the form VAR=START:END; write e.g. JOB=1:4")
    var, first = m.group(1), int(m.group(2))
    last = int(m.group(3)) if m.group(3) is not None else first
    if first < 1 or last < first:
        raise LaunchError(f"job range '{spec}' must have 1 <= START <= END; write e.g. JOB=1:4")
    return var, first, last


def kaldi_join(words: Sequence[str]) -> str:
    """Join command words like Kaldi's ``run.pl``: a word without whitespace goes to bash as is
    (so an escaped ``\\|`` or ``\\>`` works), a word with whitespace is quoted."""
    out = []
    for w in words:
        if w and not re.search(r"\s", w):
            out.append(w)
        else:
            out.append(shlex.quote(w))
    return " ".join(out)


def make_tasks(
    command: Union[Sequence[str], str], log: PathLike, nj: int, job_var: str = "JOB", first: int = 1
) -> List[Task]:
    """Expand ``command`` and ``log`` for ``JOB = first .. first+nj-1``.

    Args:
        command: a bash command line (str) or a list of words, each quoted.
        log: log path pattern, containing ``job_var`` when ``nj > 1``.
        nj: number of tasks (>= 1).
        job_var: the word replaced by the task index.
        first: index of the first task.
    """
    if isinstance(nj, bool) or not isinstance(nj, int) or nj < 1:
        raise LaunchError(f"nj={nj!r} must be a positive integer")
    if isinstance(command, str):
        if not command.strip():
            raise LaunchError("the command is empty; give the command to run after the log path")
        words: Optional[List[str]] = None
    else:
        words = [str(w) for w in command]
        if not words:
            raise LaunchError("the command is empty; give the command to run after the log path")
    log = str(log)
    if nj > 1 and substitute_job(log, 1, job_var) == log:
        raise LaunchError(
            f"log path '{log}' does not contain {job_var} but nj={nj}: all tasks would write one log; "
            f"write e.g. exp/log/foo.{job_var}.log"
        )
    tasks = []
    for i in range(first, first + nj):
        if words is None:
            cmd = substitute_job(command, i, job_var)  # type: ignore[arg-type]
        else:
            cmd = shlex.join(substitute_job(w, i, job_var) for w in words)
        tasks.append(Task(i, cmd, Path(substitute_job(log, i, job_var))))
    return tasks


def load_conf(conf: ConfLike) -> Dict[str, Any]:
    """Read and check a launch configuration (YAML file or mapping; keys in :data:`CONF_KEYS`)."""
    if conf is None:
        return {}
    where = "launch conf"
    if isinstance(conf, Mapping):
        data: Any = dict(conf)
    else:
        import yaml

        path = Path(conf)
        where = str(path)
        if not path.is_file():
            raise LaunchError(f"{path}: launch conf not found; pass an existing YAML file (see tools/slurm/slurm.yaml)")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise LaunchError(f"{path}: not valid YAML ({e}); fix the file") from e
        if not isinstance(data, dict):
            raise LaunchError(f"{path}: must be a YAML mapping of option: value, got {type(data).__name__}")
    for key, value in data.items():
        if key not in CONF_KEYS:
            raise LaunchError(
                f"{where}: unknown key '{key}'; allowed keys: {', '.join(CONF_KEYS)}"
            )
        types = CONF_KEYS[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            want = " or ".join(t.__name__ for t in types)
            raise LaunchError(f"{where}: key '{key}' has value {value!r}; expected {want} (or null)")
    for key in ("cpus", "max_parallel"):
        if data.get(key) is not None and data[key] < 1:
            raise LaunchError(f"{where}: key '{key}' has value {data[key]!r}; must be >= 1")
    if data.get("gpus") is not None and data["gpus"] < 0:
        raise LaunchError(f"{where}: key 'gpus' has value {data['gpus']!r}; must be >= 0")
    if isinstance(data.get("extra_args"), list):
        bad = [a for a in data["extra_args"] if not isinstance(a, str)]
        if bad:
            raise LaunchError(f"{where}: key 'extra_args' must list strings; {bad[0]!r} is not one")
    return data


def log_tail(path: PathLike, n: int = TAIL_LINES) -> str:
    """The last ``n`` lines of ``path`` (empty string if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(lines[-n:])


def log_header(command: str) -> str:
    """First lines of a task log: the command (each line prefixed ``# ``) and the start date."""
    cmd_lines = "".join(f"# {line}\n" for line in command.splitlines() or [""])
    return f"{cmd_lines}# Started at {_date()}\n#\n"


def log_footer(code: int, elapsed: int, threads: int) -> str:
    """Last lines of a task log, as Kaldi's ``run.pl`` writes them."""
    return (
        f"# Accounting: time={elapsed} threads={threads}\n"
        f"# Ended (code {code}) at {_date()}, elapsed time {elapsed} seconds\n"
    )


def _date() -> str:
    """The current time in the format of ``date`` in the C locale."""
    t = _time.localtime()
    return _time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + _time.strftime(" %H:%M:%S %Z %Y", t)


def raise_for_failures(
    tasks: Sequence[Task], codes: Mapping[int, Optional[int]], notes: Optional[Mapping[int, str]] = None
) -> None:
    """Raise :class:`LaunchError` if any task's exit code is non-zero or missing (``None``).

    The message gives the count, each failing task's code (first ten), the first failing log and its tail.
    """
    notes = notes or {}
    failed = [t for t in tasks if codes.get(t.index) != 0]
    if not failed:
        return
    first = failed[0]
    shown = ", ".join(
        f"JOB={t.index}: " + (f"exit code {codes[t.index]}" if codes.get(t.index) is not None else "no exit code")
        for t in failed[:10]
    ) + (", ..." if len(failed) > 10 else "")
    tail = log_tail(first.log_abs)
    msg = f"{len(failed)} of {len(tasks)} jobs failed ({shown}); first failing log: {first.log}"
    if first.index in notes:
        msg += f"\n{notes[first.index]}"
    if tail:
        msg += f"\n---- last {TAIL_LINES} lines of {first.log} ----\n{tail}\n----"
    else:
        msg += f"\n({first.log} is missing or empty)"
    msg += "\nfix the cause shown in the log and run the command again"
    raise LaunchError(msg)


def launch(
    backend: str,
    command: Union[Sequence[str], str],
    nj: int = 1,
    log: PathLike = "log/job.JOB.log",
    max_parallel: Optional[int] = None,
    conf: ConfLike = None,
    job_name: Optional[str] = None,
    *,
    job_var: str = "JOB",
    first: int = 1,
    cpus: Optional[int] = None,
    gpus: Optional[int] = None,
    mem: Optional[str] = None,
    time: Optional[str] = None,
    partition: Optional[str] = None,
) -> None:
    """Run ``command`` as ``nj`` tasks (``JOB`` = 1..nj) on ``backend`` and wait for all of them.

    Args:
        backend: ``"local"`` or ``"slurm"``.
        command: bash command line (str) or list of words; ``JOB`` is replaced by the task index.
        nj: number of tasks.
        log: per-task log path pattern, e.g. ``exp/log/fbank.JOB.log``.
        max_parallel: most tasks running at once (local default: number of CPUs; slurm default: no limit).
        conf: launch configuration, a YAML path or a mapping (keys in the module docstring).
        job_name: Slurm job name (default: the log file name without ``JOB`` and ``.log``).
        job_var: the word replaced by the task index (Kaldi allows e.g. ``N=1:4``).
        first: index of the first task (``JOB=first:first+nj-1``).
        cpus, gpus, mem, time, partition: per-call overrides of ``conf``.

    Raises:
        LaunchError: a task failed (message: count, first failing log and its tail), or submission failed.
        KeyboardInterrupt: on Ctrl-C or SIGTERM, after the tasks were stopped.
    """
    if backend not in BACKENDS:
        raise LaunchError(f"unknown launch backend '{backend}'; use one of: {', '.join(BACKENDS)}")
    options = load_conf(conf)
    overrides = {"cpus": cpus, "gpus": gpus, "mem": mem, "time": time, "partition": partition,
                 "max_parallel": max_parallel}
    options.update({k: v for k, v in overrides.items() if v is not None})
    options = load_conf(options)  # checks the overrides too
    tasks = make_tasks(command, log, nj, job_var=job_var, first=first)
    for t in tasks:
        t.log_abs.parent.mkdir(parents=True, exist_ok=True)
    if backend == "local":
        from speechproc.launch.local import run_local

        codes = run_local(tasks, max_parallel=options.get("max_parallel"), threads=options.get("cpus") or 1)
        raise_for_failures(tasks, codes)
    else:
        from speechproc.launch.slurm import run_slurm

        name = job_name or default_job_name(log, job_var)
        codes, notes = run_slurm(tasks, options, job_name=name)
        raise_for_failures(tasks, codes, notes)


def default_job_name(log: PathLike, job_var: str = "JOB") -> str:
    """``exp/log/fbank.JOB.log`` -> ``fbank``: the log file name without the job index and ``.log``."""
    name = Path(str(log)).name
    name = substitute_job(name, "", job_var)
    name = re.sub(r"\.log$", "", name)
    name = re.sub(r"\.{2,}", ".", name).strip("._-")
    return name or "speechproc"
