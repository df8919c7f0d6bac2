"""Local backend: run tasks with bash in a bounded process pool on this machine.

Each task runs as ``bash -c <command>`` in its own process group with the caller's working
directory and environment, stdin from /dev/null, stdout and stderr appended to its log between
the ``run.pl``-style header and footer. Ctrl-C, SIGTERM or SIGHUP (the terminal closed) stop every
running task's process group (SIGTERM, then SIGKILL after two seconds) and start no further task.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import signal
import subprocess
import threading
import time
from typing import Dict, List, Optional, Sequence

from speechproc.launch import Task, log_footer, log_header

__all__ = ["run_local", "default_parallelism"]

logger = logging.getLogger(__name__)


def default_parallelism() -> int:
    """Number of CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Pool:
    """Runs tasks, remembers the live processes so an interrupt can kill them."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.lock = threading.Lock()
        self.procs: Dict[int, subprocess.Popen] = {}
        self.stopping = threading.Event()

    def run_one(self, task: Task) -> Optional[int]:
        if self.stopping.is_set():
            return None
        path = task.log_abs
        start = time.time()
        with open(path, "w", encoding="utf-8") as f:
            f.write(log_header(task.command))
            f.flush()
            with self.lock:
                if self.stopping.is_set():
                    return None
                try:
                    proc = subprocess.Popen(
                        ["bash", "-c", task.command],
                        stdin=subprocess.DEVNULL,
                        stdout=f,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except OSError as e:
                    f.write(f"cannot start bash: {e}\n")
                    f.write(log_footer(127, 0, self.threads))
                    return 127
                self.procs[task.index] = proc
            code = proc.wait()
            with self.lock:
                self.procs.pop(task.index, None)
            if code < 0:  # killed by a signal: report it as bash does
                code = 128 - code
            elapsed = int(round(time.time() - start))
            f.write(log_footer(code, elapsed, self.threads))
        return code

    def kill_all(self) -> None:
        self.stopping.set()
        with self.lock:
            procs = list(self.procs.values())
        for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 0.0)):
            for p in procs:
                if p.poll() is None:
                    try:
                        os.killpg(p.pid, sig)
                    except (ProcessLookupError, PermissionError):
                        pass
            deadline = time.time() + grace
            while time.time() < deadline and any(p.poll() is None for p in procs):
                time.sleep(0.05)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_local(tasks: Sequence[Task], max_parallel: Optional[int] = None, threads: int = 1) -> Dict[int, Optional[int]]:
    """Run ``tasks`` with at most ``max_parallel`` at once and return ``{index: exit code}``.

    Args:
        tasks: from :func:`speechproc.launch.make_tasks`; their log directories must exist.
        max_parallel: pool size (default: number of CPUs).
        threads: the value written as ``threads=`` in each log's accounting line.

    Raises:
        KeyboardInterrupt: on Ctrl-C, SIGTERM or SIGHUP, after all running tasks were killed.
    """
    workers = max_parallel or default_parallelism()
    workers = max(1, min(workers, len(tasks)))
    logger.info("running %d job(s) locally, %d at a time, logs like %s", len(tasks), workers, tasks[0].log)
    pool = _Pool(threads)
    old_handlers: Dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):  # the tasks run in their own sessions: pass these on
            old_handlers[sig] = signal.signal(sig, _raise_interrupt)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="launch")
    try:
        futures: List[concurrent.futures.Future] = [executor.submit(pool.run_one, t) for t in tasks]
        pending = set(futures)
        while pending:  # short waits so that KeyboardInterrupt reaches this thread promptly
            _, pending = concurrent.futures.wait(pending, timeout=0.2)
        return {t.index: f.result() for t, f in zip(tasks, futures)}
    except BaseException:
        pool.kill_all()
        logger.warning("interrupted: killed the running local jobs")
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)
