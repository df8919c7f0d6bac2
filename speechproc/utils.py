"""Small shared helpers: logging set-up, user-facing errors, atomic file and directory writes.

Every module logs through ``logging.getLogger(__name__)``; verbs call :func:`setup_logging` once.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

__all__ = [
    "LOG_FORMAT",
    "PathLike",
    "SpeechprocError",
    "setup_logging",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_output_dir",
    "dir_lock",
    "load_yaml_plain",
    "run_verb",
]

LOG_FORMAT = "%(asctime)s %(levelname)s [%(filename)s:%(lineno)d] %(message)s"

PathLike = Union[str, os.PathLike]


class SpeechprocError(Exception):
    """An error caused by the user's input or environment.

    The message must name the file, the key or line, the offending value, and the fix.
    Verbs print it without a traceback and exit with status 1.
    """


def setup_logging(verbose: bool = False) -> None:
    """Configure the root logger with the project's one log format (idempotent)."""
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    if not any(getattr(h, "_speechproc", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler._speechproc = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def _tmp_sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}.{os.getpid()}.{uuid.uuid4().hex[:8]}")


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    A reader never sees a half-written file, even if the writer is killed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(path, "tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode(encoding))


def _remove_stale_tmp(path: Path) -> None:
    """Remove leftovers ``.<name>.tmp.*`` / ``.<name>.old.*`` of killed writers of ``path``."""
    if not path.parent.is_dir():
        return
    for p in path.parent.glob(f".{path.name}.tmp.*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    for p in path.parent.glob(f".{path.name}.old.*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_output_dir(path: PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces ``path`` when the block succeeds.

    On an exception (or if the process is killed) ``path`` is left as it was and the temporary
    directory is removed (or cleaned by the next call), so an interrupted writer never leaves
    a directory that looks complete.

    Args:
        path: the final directory.
        overwrite: replace an existing ``path``; if False an existing ``path`` is an error.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(path)
    if path.exists() and not overwrite:
        raise SpeechprocError(f"{path} exists already; remove it or pass --force/overwrite")
    tmp = _tmp_sibling(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = _tmp_sibling(path, "old")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def path_pairs(paths: Sequence[str], what: str = "DATA_DIR DUMP_DIR") -> List[Tuple[str, str]]:
    """``[(a1, b1), (a2, b2), ...]`` of a verb's ``a1 b1 a2 b2 ...`` arguments; an odd count is an error
    naming the expected pairs ``what`` and the paths given."""
    if len(paths) % 2:
        raise SpeechprocError(f"expected pairs {what}, got {len(paths)} paths: {' '.join(map(str, paths))}")
    return list(zip(paths[::2], paths[1::2]))


def key_value_overrides(items: Sequence[str], as_yaml: bool = True) -> Dict[str, object]:
    """``["--lr", "0.1", "--name=x"]`` -> ``{"lr": 0.1, "name": "x"}``: a verb's ``--key value`` (or ``--key=value``)
    overrides of its yaml's top-level keys, each value read as YAML (text that is not YAML stays text), or with
    ``as_yaml=False`` kept as the text given (``0.50`` stays ``"0.50"``)."""
    import yaml

    overrides: Dict[str, object] = {}
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--"):
            raise SpeechprocError(f"unexpected argument '{item}': overrides are --key value pairs")
        if "=" in item:
            key, value = item[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(items):
                raise SpeechprocError(f"override {item} needs a value")
            key, value = item[2:], items[i + 1]
            i += 2
        try:
            overrides[key] = yaml.safe_load(value) if as_yaml else value
        except yaml.YAMLError:
            overrides[key] = value
    return overrides


def load_yaml_plain(text: str) -> object:
    """YAML text as plain data, HyperPyYAML tags (``!new:``, ``!ref`` ...) read as None (nothing is built)."""
    import yaml

    loader = type("_PlainLoader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!", lambda ld, suffix, node: None)
    return yaml.load(text, Loader=loader)


@contextlib.contextmanager
def dir_lock(path: PathLike, what: str = "training") -> Iterator[None]:
    """Hold an exclusive lock on directory ``path`` (a sibling file ``.<name>.lock``) while the block runs.

    A second holder fails at once with a :class:`SpeechprocError` naming the holder's PID, host, command and
    start time. The lock is the kernel's (``flock``): it ends with its process, so a lock file left by a
    killed run is taken over, with a warning naming the dead PID.
    """
    import fcntl
    import json
    import shlex
    import socket
    import time

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / f".{path.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                holder = {}
            raise SpeechprocError(
                f"{path}: {holder.get('what', what)} is already running there (PID {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')} since {holder.get('time', '?')}: {holder.get('command', '?')}); wait for "
                f"it to finish, or give this run another output dir (lock file {lock_path})") from None
        try:
            previous = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            previous = {}
        if previous.get("pid"):
            logging.getLogger(__name__).warning(
                "%s: taking over the lock of PID %s (%s), which is no longer running", path, previous["pid"],
                previous.get("command", "?"))
        info = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                "what": what, "command": " ".join(shlex.quote(a) for a in getattr(sys, "orig_argv", sys.argv))}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_verb(main: Callable[[Optional[Sequence[str]]], Optional[int]], argv: Optional[Sequence[str]] = None) -> None:
    """Run a verb's ``main``: user errors print ``<verb>: error: <message>`` and exit 1."""
    prog = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "speechproc"
    if prog == "__main__":
        prog = main.__module__.rsplit(".", 1)[-1]
    try:
        rc = main(argv)
    except SpeechprocError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(rc or 0)


def load_weights(path: PathLike) -> object:
    """``torch.load`` of a weights file with ``weights_only=True`` (tensors, dicts, lists, numbers and
    strings only), so loading a model never runs code from it; anything else is refused with an
    error naming the file."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise SpeechprocError(f"{path}: weights file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise SpeechprocError(f"{path}: not a plain weights file (it holds objects other than tensors and plain "
                              f"data, which could run code when loaded); refusing to load it. Re-export the "
                              f"weights or retrain: {str(e).splitlines()[0]}") from e
    except Exception as e:  # noqa: BLE001 - a corrupt file fails anywhere inside the unpickler
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise SpeechprocError(f"{path}: unreadable or truncated weights file ({type(e).__name__}: {first}); "
                              f"re-export or retrain it") from e
