"""Synthesize every system of a benchmark config and evaluate them side by side: a TTS recipe's evaluation stage
as one verb.

    benchmark_tts conf/benchmark/vocoder.yaml --readme README.md --judge-backend faster-whisper --voc_exp vocos

The config is HyperPyYAML; every other ``--key value`` overrides its top-level key of that name, as with
``train``, but as text (the recipe passes its options, e.g. ``--voc_exp "$voc_exp"``). It lists ``tables``; each has

- ``ref``: the natural data dir the systems are scored against (``evaluate_tts --ref``), or ``combine``: a list
  of data dirs first joined into ``ref`` (``combine_data_dir``);
- ``table``: the markdown file written; ``section`` (optional): its README section (with ``--readme``);
  ``title``, ``ref_name`` and ``evaluate`` (extra ``evaluate_tts`` options, e.g. ``--speaker-exp ...``);
- ``systems``: each a ``name`` (the row), a ``dir`` (the synthesis dir) and, unless an earlier stage wrote that
  dir, ``synthesize``: the ``synthesize`` options that make it (the dir is appended). An entry with ``foreach:
  "a b c"`` stands for one system per word, ``{item}`` in its other fields replaced by the word.

A system is synthesized again only when its ``synth.json`` records another command, or when a model, vocoder, data
dir or mel setting it names (``--exp-dir``, ``--vocoder-checkpoint``, ``--data``, ``--mel-config``) changed after it
was written; ``evaluate_tts`` in turn reuses
each evaluation whose inputs did not change. Per-system branching of a recipe (which models, which vocoders,
which adaptation methods) thus lives in the config, and the stage script is one line.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from speechproc.utils import SpeechprocError, key_value_overrides, run_verb, setup_logging

logger = logging.getLogger(__name__)

_TABLE_KEYS = {"ref", "combine", "table", "section", "title", "ref_name", "evaluate", "systems"}
_SYSTEM_KEYS = {"name", "dir", "synthesize", "foreach"}


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``benchmark_tts`` (other ``--key value`` pairs override config keys)."""
    p = argparse.ArgumentParser(prog="benchmark_tts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="benchmark config (HyperPyYAML), e.g. conf/benchmark/vocoder.yaml")
    p.add_argument("--readme", default=None, help="write each table with a 'section' into this README")
    p.add_argument("--judge-backend", choices=("faster-whisper", "hf", "none"), default="faster-whisper",
                   help="Whisper judge of evaluate_tts (default faster-whisper; none: no CER/WER)")
    p.add_argument("--eval-opts", default="", help="extra evaluate_tts options for every table, e.g. '--no-f0'")
    p.add_argument("--tables", default=None,
                   help="comma-separated table files (or their stems) to make; default: every table of the config")
    return p


def load_benchmark(config: str, overrides: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The tables of a benchmark config, ``foreach`` entries expanded; a malformed entry is an error naming the
    config, the table and the key."""
    from hyperpyyaml import load_hyperpyyaml

    path = Path(config)
    if not path.is_file():
        raise SpeechprocError(f"{config}: benchmark config not found")
    text = path.read_text(encoding="utf-8")
    try:
        conf = load_hyperpyyaml(text, overrides)
    except (KeyError, ValueError) as e:  # an override naming a key the config does not have
        raise SpeechprocError(f"{config}: {e}; the overrides (--key value) must name top-level keys of the "
                              f"config") from e
    tables = conf.get("tables") if isinstance(conf, dict) else None
    if not isinstance(tables, list) or not tables:
        raise SpeechprocError(f"{config}: no 'tables' list; see python -m speechproc.bin.benchmark_tts --help")
    out = []
    for k, table in enumerate(tables):
        where = f"{config}: tables[{k}]"
        if not isinstance(table, dict):
            raise SpeechprocError(f"{where}: expected a mapping with ref, table and systems")
        unknown = set(table) - _TABLE_KEYS
        if unknown:
            raise SpeechprocError(f"{where}: unknown keys {sorted(unknown)}; a table has {sorted(_TABLE_KEYS)}")
        for key in ("ref", "table", "systems"):
            if not table.get(key):
                raise SpeechprocError(f"{where}: missing '{key}'")
        systems = []
        for j, system in enumerate(table["systems"]):
            sw = f"{where}.systems[{j}]"
            if not isinstance(system, dict) or set(system) - _SYSTEM_KEYS or not system.get("dir"):
                raise SpeechprocError(f"{sw}: expected a mapping with name, dir and optionally synthesize/foreach, "
                                      f"got {system!r}")
            items = system.get("foreach")
            if items is None:
                systems.append({"name": str(system.get("name") or system["dir"]), "dir": str(system["dir"]),
                                "synthesize": system.get("synthesize")})
                continue
            words = [str(i) for i in items] if isinstance(items, list) else str(items).split()
            for word in words:
                systems.append({key: (str(v).replace("{item}", word) if v is not None else None)
                                for key, v in system.items() if key != "foreach"})
                systems[-1].setdefault("synthesize", None)
                systems[-1].setdefault("name", systems[-1]["dir"])
        if not systems:
            raise SpeechprocError(f"{where}: no systems (an empty foreach list?)")
        out.append(dict(table, systems=systems))
    return out


def _newest_input(argv: Sequence[str]) -> float:
    """The newest modification time of what a ``synthesize`` command line reads: the models (``--exp-dir``,
    ``--vocoder-checkpoint``), the data dir's ``text``/``wav.scp`` and the mel settings (0.0: none found)."""
    newest = 0.0
    for flag, inside in (("--exp-dir", ("model.pt",)), ("--vocoder-checkpoint", ("model.pt",)),
                         ("--data", ("text", "wav.scp")), ("--mel-config", ("mel.json",))):
        if flag in argv and argv.index(flag) + 1 < len(argv):
            p = Path(argv[argv.index(flag) + 1])
            for f in ([p / name for name in inside] if p.is_dir() else [p]):
                if f.is_file():
                    newest = max(newest, f.stat().st_mtime)
    return newest


def synthesis_is_current(out_dir: Path, argv: Sequence[str]) -> bool:
    """Whether ``out_dir`` holds the synthesis of exactly ``synthesize argv`` made after its inputs last changed."""
    record, wav_scp = out_dir / "synth.json", out_dir / "wav.scp"
    if not (record.is_file() and wav_scp.is_file()):
        return False
    try:
        command = json.loads(record.read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError):
        return False
    wanted = " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.synthesize", *argv])
    return command == wanted and wav_scp.stat().st_mtime > _newest_input(argv)


def run_table(table: Dict[str, Any], readme: Optional[str], judge_backend: str, eval_opts: Sequence[str],
              command: Optional[str] = None) -> None:
    """Synthesize what is missing or stale, then ``evaluate_tts`` the systems into the table (which records
    ``command``, the benchmark's own command line, as the one that made it)."""
    from speechproc.bin import evaluate_tts, synthesize

    if table.get("combine"):
        ref, parts = Path(str(table["ref"])), [str(d) for d in table["combine"]]
        made = (ref / "wav.scp").stat().st_mtime if (ref / "wav.scp").is_file() else None
        if made is None or any(_newest_input(["--data", d]) > made for d in parts):  # else its synthesis stays current
            from speechproc.bin import combine_data_dir

            combine_data_dir.main([str(ref), *parts])
    for system in table["systems"]:
        if not system["synthesize"]:
            if not (Path(system["dir"]) / "wav.scp").is_file():
                raise SpeechprocError(f"{system['dir']}: synthesis dir of '{system['name']}' not found and the "
                                      f"benchmark gives no 'synthesize' options for it; run the stage that makes it")
            continue
        argv = [*shlex.split(str(system["synthesize"])), system["dir"]]
        if synthesis_is_current(Path(system["dir"]), argv):
            logger.info("%s: up to date (%s), not synthesized again", system["dir"], system["name"])
            continue
        synthesize.main(argv)
    argv = ["--ref", str(table["ref"]), "--judge-backend", judge_backend, *eval_opts,
            *shlex.split(str(table.get("evaluate") or "")),
            "--names", ",".join(s["name"] for s in table["systems"]), "--table", str(table["table"])]
    for key, flag in (("title", "--title"), ("ref_name", "--ref-name")):
        if table.get(key):
            argv += [flag, str(table[key])]
    if readme and table.get("section"):
        argv += ["--readme", readme, "--section", str(table["section"])]
    if command:
        argv += ["--command", command]
    evaluate_tts.main([*argv, *[s["dir"] for s in table["systems"]]])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Load the config, then make each table."""
    args, rest = get_parser().parse_known_args(argv)
    setup_logging()
    import sys

    command = " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.benchmark_tts"]
                       + list(sys.argv[1:] if argv is None else argv))
    tables = load_benchmark(args.config, key_value_overrides(rest, as_yaml=False))
    if args.tables:
        wanted = set(args.tables.split(","))
        chosen = [t for t in tables if str(t["table"]) in wanted or Path(str(t["table"])).stem in wanted]
        if not chosen:
            raise SpeechprocError(f"--tables {args.tables}: none of {[str(t['table']) for t in tables]}")
        tables = chosen
    for table in tables:
        if any("," in s["name"] for s in table["systems"]):
            raise SpeechprocError(f"{args.config}: table {table['table']}: a system name holds a comma "
                                  f"({[s['name'] for s in table['systems'] if ',' in s['name']]}); rename it")
        run_table(table, args.readme, args.judge_backend, shlex.split(args.eval_opts), command)
    return 0


if __name__ == "__main__":
    run_verb(main)
