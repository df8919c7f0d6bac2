"""Slurm backend: one ``sbatch --array`` job for all tasks, waited on through exit-code files.

For a launch with log pattern ``exp/log/foo.JOB.log`` the backend writes, next to the logs:

- ``exp/log/q/foo.sh``: the batch script. It ``cd``s into the caller's directory, picks its task
  from ``$SLURM_ARRAY_TASK_ID``, runs the command with bash into the task's log (``run.pl``-style
  header and footer) and writes the exit code to ``exp/log/q/foo.<JOB>.rc``;
- ``exp/log/q/foo.<JOB>.out``: what Slurm itself prints for the task (time limit, memory kill).

It submits ``sbatch --parsable --array=FIRST-LAST[%max_parallel] --export=ALL --chdir=<cwd>`` plus
the site options (partition, time, mem, cpus, gpus, extra_args), then waits: it is done when every
task has written its exit-code file, or when ``squeue`` no longer lists the job (tasks without an
exit code then count as failed; ``scontrol`` supplies their Slurm state for the error message).
This needs no accounting database. Ctrl-C or SIGTERM ``scancel`` the job before re-raising.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from speechproc.launch import LaunchError, Task, log_tail

__all__ = ["run_slurm", "sbatch_args", "batch_script", "cancel"]

logger = logging.getLogger(__name__)

SUBMIT_TIMEOUT = 120  # seconds for sbatch / squeue / scancel to answer
MISSING_GRACE = 3.0  # seconds to wait for exit-code files after the job left the queue
QUEUE_ERROR_LIMIT = 600.0  # give up when squeue keeps failing for this long


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", name) or "job"


def queue_paths(tasks: Sequence[Task], job_name: str) -> Tuple[Path, Path, str, str]:
    """``(q_dir, script, out_pattern, rc_prefix)`` for a launch; ``q/`` sits beside the first log."""
    q_dir = tasks[0].log_abs.parent / "q"
    base = _file_name(job_name)
    return q_dir, q_dir / f"{base}.sh", str(q_dir / f"{base}.%a.out"), str(q_dir / f"{base}.")


def sbatch_args(tasks: Sequence[Task], options: Mapping[str, Any], job_name: str, out_pattern: str) -> List[str]:
    """The ``sbatch`` options (without the script) for ``tasks`` and a launch configuration."""
    first, last = tasks[0].index, tasks[-1].index
    array = f"{first}-{last}" if last > first else f"{first}"
    if options.get("max_parallel"):
        array += f"%{options['max_parallel']}"
    args = [
        "--parsable",
        f"--job-name={job_name}",
        f"--array={array}",
        # '%' is special in Slurm file patterns; '%a' is the array index.
        f"--output={out_pattern.replace('%', '%%').replace('%%a', '%a')}",
        f"--chdir={os.getcwd()}",
        "--export=ALL",
        f"--cpus-per-task={options.get('cpus') or 1}",
    ]
    if options.get("partition"):
        args.append(f"--partition={options['partition']}")
    if options.get("time") is not None:
        args.append(f"--time={options['time']}")
    if options.get("mem") is not None:
        args.append(f"--mem={options['mem']}")
    if options.get("gpus"):
        template = options.get("gpu_option") or "--gres=gpu:{gpus}"
        args.extend(shlex.split(template.format(gpus=options["gpus"])))
    extra = options.get("extra_args") or []
    args.extend(shlex.split(extra) if isinstance(extra, str) else list(extra))
    return args


def batch_script(tasks: Sequence[Task], rc_prefix: str, threads: int) -> str:
    """The bash batch script: one ``case`` branch per task with its command and log."""
    cases = "\n".join(
        f"  {t.index}) log={shlex.quote(str(t.log_abs))}\n     cmd={shlex.quote(t.command)} ;;" for t in tasks
    )
    return f"""#!/bin/bash
# Written by speechproc.launch: {len(tasks)} task(s), logs like {tasks[0].log}
cd {shlex.quote(os.getcwd())} || exit 1
task=${{SLURM_ARRAY_TASK_ID:?submit this script with sbatch --array}}
case $task in
{cases}
  *) echo "$0: no task $task in this script" >&2; exit 1 ;;
esac
rcfile={shlex.quote(rc_prefix)}$task.rc
mkdir -p "$(dirname "$log")"
start=$(date +%s)
{{
  printf '%s\\n' "$cmd" | sed 's/^/# /'
  echo "# Started at $(LC_ALL=C date)"
  echo "# Slurm job ${{SLURM_ARRAY_JOB_ID:-?}}_$task on $(hostname)"
  echo "#"
}} > "$log"
# On scancel or a time limit Slurm sends SIGTERM: note it, and still write the footer and exit code.
trap 'echo "# terminated by SIGTERM (scancel or time limit)" >> "$log"' TERM
bash -c "$cmd" < /dev/null >> "$log" 2>&1
rc=$?
end=$(date +%s)
echo "# Accounting: time=$((end - start)) threads={threads}" >> "$log"
echo "# Ended (code $rc) at $(LC_ALL=C date), elapsed time $((end - start)) seconds" >> "$log"
echo "$rc" > "$rcfile.tmp.$$" && mv -f "$rcfile.tmp.$$" "$rcfile"
exit $rc
"""


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=SUBMIT_TIMEOUT)


def _in_queue(job_id: str) -> Optional[bool]:
    """True if ``squeue`` lists the job, False if not, None if squeue failed."""
    try:
        r = _run(["squeue", "-h", "-j", job_id, "-o", "%i"])
    except (subprocess.TimeoutExpired, OSError):
        return None
    if r.returncode != 0:
        if "Invalid job id" in r.stderr:  # purged from the controller already
            return False
        logger.warning("squeue -j %s failed: %s", job_id, r.stderr.strip())
        return None
    return bool(r.stdout.strip())


def cancel(job_id: str, wait: float = 20.0) -> None:
    """``scancel`` the job and wait up to ``wait`` seconds until ``squeue`` no longer lists it."""
    logger.warning("cancelling Slurm job %s", job_id)
    try:
        _run(["scancel", job_id])
    except (subprocess.TimeoutExpired, OSError) as e:
        logger.error("scancel %s failed: %s; cancel it by hand", job_id, e)
        return
    deadline = time.time() + wait
    while time.time() < deadline and _in_queue(job_id):
        time.sleep(0.25)


def _task_states(job_id: str) -> Dict[int, str]:
    """``{task index: "JobState=... ExitCode=..."}`` from ``scontrol`` (while the controller keeps the job)."""
    try:
        r = _run(["scontrol", "-o", "show", "job", job_id])
    except (subprocess.TimeoutExpired, OSError):
        return {}
    states = {}
    for line in r.stdout.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        idx = fields.get("ArrayTaskId", "")
        if idx.isdigit():
            states[int(idx)] = " ".join(f"{k}={fields.get(k, '?')}" for k in ("JobState", "Reason", "ExitCode"))
    return states


def _read_code(path: str) -> Optional[int]:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_slurm(
    tasks: Sequence[Task], options: Mapping[str, Any], job_name: str
) -> Tuple[Dict[int, Optional[int]], Dict[int, str]]:
    """Submit ``tasks`` as one Slurm array job, wait for it, return ``({index: exit code}, notes)``.

    A code is ``None`` when a task ended without writing its exit-code file (killed by Slurm);
    ``notes`` holds, for the first failing task, its Slurm state and the tail of Slurm's own output.

    Raises:
        LaunchError: sbatch is missing or refused the job.
        KeyboardInterrupt: on Ctrl-C or SIGTERM, after ``scancel``.
    """
    if shutil.which("sbatch") is None:
        raise LaunchError(
            "sbatch not found on PATH: Slurm is not installed here; start a local cluster with "
            "'tools/slurm_cluster.sh start' (as root) or use the local backend (--cmd local)"
        )
    threads = options.get("cpus") or 1
    q_dir, script, out_pattern, rc_prefix = queue_paths(tasks, job_name)
    q_dir.mkdir(parents=True, exist_ok=True)
    rc_files = {t.index: f"{rc_prefix}{t.index}.rc" for t in tasks}
    for t in tasks:  # results and logs of an earlier run must not count
        for stale in (rc_files[t.index], out_pattern.replace("%a", str(t.index)), t.log_abs):
            if os.path.exists(stale):
                os.unlink(stale)
    tmp = script.with_name(f".{script.name}.{os.getpid()}")
    tmp.write_text(batch_script(tasks, rc_prefix, threads))
    tmp.chmod(0o755)
    os.replace(tmp, script)

    cmd = ["sbatch"] + sbatch_args(tasks, options, job_name, out_pattern) + [str(script)]
    try:
        r = _run(cmd)
    except subprocess.TimeoutExpired as e:
        raise LaunchError(f"sbatch did not answer within {SUBMIT_TIMEOUT} s; check 'sinfo' and the controller") from e
    if r.returncode != 0:
        raise LaunchError(
            f"sbatch refused the job (exit code {r.returncode}): {r.stderr.strip()}\n"
            f"command: {shlex.join(cmd)}\n"
            "fix the partition/time/mem/cpus/gpus/extra_args in the launch conf, "
            "or check the cluster with 'tools/slurm_cluster.sh status'"
        )
    job_id = r.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise LaunchError(f"sbatch printed '{r.stdout.strip()}', not a job id; command: {shlex.join(cmd)}")
    logger.info("submitted %d task(s) as Slurm job %s (%s), logs like %s", len(tasks), job_id, job_name, tasks[0].log)

    old_term = None
    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        codes = _wait(job_id, rc_files, float(options.get("poll_interval") or 10.0))
    except KeyboardInterrupt:
        cancel(job_id)
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)

    notes: Dict[int, str] = {}
    failed = [t for t in tasks if codes[t.index] != 0]
    if failed:
        first = failed[0]
        state = _task_states(job_id).get(first.index)
        out = out_pattern.replace("%a", str(first.index))
        lines = [f"Slurm job {job_id}_{first.index}" + (f": {state}" if state else "")]
        out_tail = log_tail(out, 10)
        if out_tail:
            lines.append(f"Slurm's output {out}:\n{out_tail}")
        notes[first.index] = "\n".join(lines)
    return codes, notes


def _wait(job_id: str, rc_files: Mapping[int, str], max_interval: float) -> Dict[int, Optional[int]]:
    """Poll exit-code files and ``squeue`` until every task reported or the job left the queue."""
    interval = 0.25
    queue_error_since: Optional[float] = None
    while True:
        if all(os.path.exists(p) for p in rc_files.values()):
            break
        listed = _in_queue(job_id)
        if listed is False:
            deadline = time.time() + MISSING_GRACE  # exit-code files may lag on network file systems
            while time.time() < deadline and not all(os.path.exists(p) for p in rc_files.values()):
                time.sleep(0.2)
            break
        if listed is None:
            queue_error_since = queue_error_since or time.time()
            if time.time() - queue_error_since > QUEUE_ERROR_LIMIT:
                raise LaunchError(
                    f"squeue has failed for {QUEUE_ERROR_LIMIT:.0f} s while waiting for Slurm job {job_id}; "
                    f"the job may still run: check 'squeue -j {job_id}' and 'scancel {job_id}' if needed"
                )
        else:
            queue_error_since = None
        time.sleep(interval)
        interval = min(max_interval, interval * 1.5)
    return {i: _read_code(p) for i, p in rc_files.items()}
