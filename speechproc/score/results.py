"""RESULTS.md from an experiment tree: every ``score_*/score.json`` under it, one table per model.

Layout read (what ``speechproc.bin.score_asr`` writes)::

    <exp>/<model>/<decode dir>/score_wer/score.json
    <exp>/<model>/<decode dir>/score_cer/score.json

The model is the path of the decode dir's parent relative to ``<exp>`` (nested model dirs work);
the set is the ``set`` field of ``score.json`` (the data dir of the reference). The file starts
with the environment that generated it (date, git commit with ``-dirty`` for uncommitted changes
to tracked files, Python/torch versions, CPU) and the command line, so every figure says where it
came from. It is generated, never typed by hand.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

from speechproc.exp import train_seconds
from speechproc.utils import SpeechprocError, atomic_write_text, load_yaml_plain

__all__ = ["DecodeScores", "collect_scores", "git_commit", "environment_info", "format_results_md", "write_results_md",
           "finetune_rows", "format_finetune_table", "format_short_commands_table", "results_header",
           "write_benchmark"]

PathLike = Union[str, Path]
_METRIC_ORDER = ("wer", "cer", "ter")


@dataclass
class DecodeScores:
    """The scores of one decode dir: ``metrics`` maps ``wer``/``cer``/``ter`` to its ``score.json``."""

    model: str
    decode_dir: str
    set_name: str
    metrics: Dict[str, Dict[str, object]] = field(default_factory=dict)

    @property
    def n_utts(self) -> Optional[int]:
        """Number of scored utterances (from any metric)."""
        for m in self.metrics.values():
            if "n_utts" in m:
                return int(m["n_utts"])  # type: ignore[call-overload]
        return None


def collect_scores(exp_dir: PathLike) -> List[DecodeScores]:
    """Find every ``score_<metric>/score.json`` under ``exp_dir``.

    Args:
        exp_dir: the experiment root (e.g. ``exp``).

    Returns:
        One entry per decode dir, sorted by model then decode dir (C locale).
    """
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise SpeechprocError(f"{exp_dir}: no such directory; pass the experiment dir (e.g. exp)")
    found: Dict[Path, DecodeScores] = {}
    for path in sorted(exp_dir.rglob("score.json")):
        score_dir = path.parent
        if not score_dir.name.startswith("score_") or any(p.startswith(".") for p in path.relative_to(exp_dir).parts):
            continue  # not a score dir, or the temporary dir of a writer
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SpeechprocError(f"{path}: not a valid score.json ({e}); re-run the scoring stage") from None
        metric = score_dir.name[len("score_") :]
        if metric not in data:
            raise SpeechprocError(
                f"{path}: has no '{metric}' field; it was not written by score_asr, re-run the scoring stage"
            )
        decode = score_dir.parent
        rel_model = decode.parent.relative_to(exp_dir).as_posix() if decode != exp_dir else "."
        entry = found.get(decode)
        if entry is None:
            set_name = str(data.get("set") or "-")
            entry = found[decode] = DecodeScores(rel_model, decode.name, set_name)
        entry.metrics[metric] = data
    return sorted(found.values(), key=lambda d: (d.model, d.decode_dir))


def _run_git(args: List[str], cwd: Path) -> Optional[str]:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit(path: PathLike) -> str:
    """``git rev-parse --short HEAD`` of the repository holding ``path``, with ``-dirty`` when
    tracked files have uncommitted changes; ``unknown`` outside a repository or before the first commit."""
    cwd = Path(path)
    cwd = cwd if cwd.is_dir() else cwd.parent
    commit = _run_git(["rev-parse", "--short", "HEAD"], cwd)
    if not commit:
        return "unknown"
    status = _run_git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return commit + ("-dirty" if status else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment_info(repo_path: PathLike) -> Dict[str, str]:
    """Date, git commit of ``repo_path`` (falling back to the speechproc checkout), Python, torch, CPU."""
    commit = git_commit(repo_path)
    if commit == "unknown":
        commit = git_commit(Path(__file__).resolve().parent)
    return {
        "date": datetime.datetime.now().astimezone().strftime("%a %b %d %H:%M:%S %Z %Y"),
        "git commit": commit,
        "python version": platform.python_version(),
        "torch version": _version("torch"),
        "CPU": _cpu_model(),
    }


def _fmt(metric: Optional[Mapping[str, object]], key: str) -> str:
    if not metric or key not in metric:
        return "-"
    return f"{float(metric[key]):.2f}"  # type: ignore[arg-type]


def _read_json(path: Path) -> Optional[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except json.JSONDecodeError as e:
        raise SpeechprocError(f"{path}: not valid JSON ({e}); re-run the stage that wrote it") from None


def _strategy_of(model_dir: Path) -> str:
    """The ``strategy.name`` of a training run's yaml (tags ignored), or ``-``."""
    for name in ("hparams.yaml", "train.yaml"):
        p = model_dir / name
        if not p.is_file():
            continue
        data = load_yaml_plain(p.read_text(encoding="utf-8")) or {}
        strategy = data.get("strategy")
        if isinstance(strategy, dict) and strategy.get("name"):
            return str(strategy["name"])
    return "-"


def finetune_rows(exp_dir: PathLike, dev_set: str, test_set: str) -> List[Dict[str, object]]:
    """One row per model dir of ``exp_dir`` for the before/after table of a fine-tuning recipe.

    A model dir with ``train_summary.json`` is a training run (strategy from its yaml, trainable
    parameters, training wall time, peak RSS); one without it is a zero-shot system (its
    ``decode_<set>/decode.json`` gives the backend and window). Scores come from
    ``decode_<set>/score_{wer,cer}`` (raw text) and ``decode_<set>_whisper_en/score_{wer,cer}``
    (Whisper's English normalisation).
    """
    exp = Path(exp_dir)
    scores = {(d.model, d.decode_dir): d for d in collect_scores(exp)}
    models = sorted({m for m, _ in scores}, key=lambda m: (Path(exp / m / "train_summary.json").is_file(), m))
    rows = []
    for model in models:
        def metric(decode_dir: str, m: str) -> Optional[float]:
            d = scores.get((model, decode_dir))
            v = d.metrics.get(m, {}).get(m) if d else None
            return float(v) if v is not None else None  # type: ignore[arg-type]

        summary = _read_json(exp / model / "train_summary.json")
        row: Dict[str, object] = {"system": model}
        if summary is not None:
            row.update(strategy=_strategy_of(exp / model), trainable=summary.get("trainable_parameters"),
                       total=summary.get("parameters"),
                       train_min=(train_seconds(summary) or 0.0) / 60,
                       peak_rss_mb=summary.get("peak_rss_mb_this_run"), epochs=summary.get("epochs"))
        else:
            info = _read_json(exp / model / f"decode_{test_set}" / "decode.json") or {}
            backend = info.get("backend", "?")
            win = info.get("window_seconds", 30.0)
            row.update(strategy=f"zero-shot ({backend}, {float(win):g}-s window)", trainable=0)
        for key, dd in (("dev", f"decode_{dev_set}"), ("test", f"decode_{test_set}"),
                        ("test_norm", f"decode_{test_set}_whisper_en"), ("dev_norm", f"decode_{dev_set}_whisper_en")):
            row[f"{key}_wer"], row[f"{key}_cer"] = metric(dd, "wer"), metric(dd, "cer")
        rows.append(row)
    return rows


def format_finetune_table(exp_dir: PathLike, dev_set: str, test_set: str) -> str:
    """Markdown of :func:`finetune_rows`: the before/after table."""
    rows = finetune_rows(exp_dir, dev_set, test_set)

    def pct(v: object) -> str:
        return "-" if v is None else f"{float(v):.2f}"  # type: ignore[arg-type]

    head = ["system", "strategy", "trainable params", "train time (min)", "peak RSS (MB)",
            f"{dev_set} WER", f"{dev_set} CER", f"{test_set} WER", f"{test_set} CER",
            f"{test_set} WER (norm.)", f"{test_set} CER (norm.)"]
    lines = ["## Before/after fine-tuning", "",
             "WER/CER in %, greedy decoding. Raw: hypotheses against the references as they are (upper case, "
             "spelled letters). Norm.: both sides through Whisper's English normaliser "
             "(`score_asr --normalize whisper_en`).", "",
             "|" + "|".join(head) + "|", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        trainable = r.get("trainable")
        total = r.get("total")
        if trainable is None:
            tp = "-"
        elif total:
            tp = f"{int(trainable) / 1e6:.2f} M ({100.0 * int(trainable) / int(total):.2f} %)"  # type: ignore[call-overload]
        else:
            tp = f"{int(trainable) / 1e6:.2f} M"  # type: ignore[call-overload]
        cells = [str(r["system"]), str(r["strategy"]), tp,
                 f"{float(r['train_min']):.1f}" if r.get("train_min") is not None else "-",  # type: ignore[arg-type]
                 f"{float(r['peak_rss_mb']):.0f}" if r.get("peak_rss_mb") is not None else "-",  # type: ignore[arg-type]
                 pct(r["dev_wer"]), pct(r["dev_cer"]), pct(r["test_wer"]), pct(r["test_cer"]),
                 pct(r["test_norm_wer"]), pct(r["test_norm_cer"])]
        lines.append("|" + "|".join(cells) + "|")
    lines.append("")
    return "\n".join(lines)


def format_short_commands_table(exp_dir: PathLike, full_set: str, word_sets: Sequence[str],
                                nonspeech_set: Optional[str]) -> str:
    """Markdown table of every model dir of ``exp_dir``: WER on ``full_set`` (whole utterances) next to the
    one-word sets ``word_sets`` (``decode_<set>/score_wer``), raw and Whisper-normalised
    (``decode_<set>_whisper_en``), and how many clips of ``nonspeech_set`` got any output, and how many of those any
    letter or digit (``decode_<set>/text``)."""
    exp = Path(exp_dir)
    scores = {(d.model, d.decode_dir): d for d in collect_scores(exp)}
    models = sorted({m for m, _ in scores})
    if not models:
        raise SpeechprocError(f"{exp}: no scored decode dirs; run the decoding and scoring stages first")
    sets = [full_set] + list(word_sets)

    def wer(model: str, decode_dir: str) -> str:
        d = scores.get((model, decode_dir))
        v = d.metrics.get("wer", {}).get("wer") if d else None
        return "-" if v is None else f"{float(v):.2f}"  # type: ignore[arg-type]

    head = ["system"] + [f"{s} WER" for s in sets] + [f"{s} WER (norm.)" for s in sets]
    if nonspeech_set:
        head.append(f"{nonspeech_set}: clips with output")
    lines = ["|" + "|".join(head) + "|", "|" + "|".join(["---"] * len(head)) + "|"]
    for model in models:
        cells = [model] + [wer(model, f"decode_{s}") for s in sets] + [wer(model, f"decode_{s}_whisper_en") for s in sets]
        if nonspeech_set:
            text = exp / model / f"decode_{nonspeech_set}" / "text"
            if text.is_file():
                hyps = [ln.split(None, 1) for ln in text.read_text(encoding="utf-8").splitlines() if ln.strip()]
                said = [h[1] for h in hyps if len(h) > 1 and h[1].strip()]
                worded = [t for t in said if any(c.isalnum() for c in t)]
                cells.append(f"{len(said)} of {len(hyps)}" + (f" ({len(worded)} with words)" if len(worded) != len(said) else ""))
            else:
                cells.append("-")
        lines.append("|" + "|".join(cells) + "|")
    lines.append("")
    return "\n".join(lines)


def results_header(exp_dir: PathLike, command: str, env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The first lines of every RESULTS.md: the title and the environment block (default
    :func:`environment_info` of ``exp_dir``) with the generating ``command``."""
    env = dict(environment_info(exp_dir) if env is None else env)
    return (["<!-- Generated by speechproc.bin.make_results; do not edit by hand. -->", "# RESULTS", "", "## Environments"]
            + [f"- {k}: `{v}`" for k, v in env.items()] + [f"- command: `{command}`", ""])


def format_results_md(exp_dir: PathLike, command: str, env: Optional[Mapping[str, str]] = None) -> str:
    """Render RESULTS.md for ``exp_dir``.

    Args:
        exp_dir: the experiment root.
        command: the command line that generates the file (recorded in it).
        env: the environment block; default :func:`environment_info` of ``exp_dir``.

    Returns:
        The markdown text.
    """
    scores = collect_scores(exp_dir)
    if not scores:
        raise SpeechprocError(
            f"{exp_dir}: no score_*/score.json found below it; run the scoring stage (speechproc.bin.score_asr) first"
        )
    lines = results_header(exp_dir, command, env)
    by_model: Dict[str, List[DecodeScores]] = {}
    for d in scores:
        by_model.setdefault(d.model, []).append(d)
    for model, rows in by_model.items():
        metrics = [m for m in _METRIC_ORDER if any(m in r.metrics for r in rows)]
        head = ["decode dir", "set"] + [f"{m.upper()} (%)" for m in metrics] + ["#utts"]
        lines += [f"## {model}", "", "|" + "|".join(head) + "|", "|" + "|".join(["---"] * len(head)) + "|"]
        for r in rows:
            cells = [r.decode_dir, r.set_name] + [_fmt(r.metrics.get(m), m) for m in metrics]
            cells.append(str(r.n_utts) if r.n_utts is not None else "-")
            lines.append("|" + "|".join(cells) + "|")
        lines.append("")
    return "\n".join(lines)


def write_results_md(
    exp_dir: PathLike, out_path: PathLike, command: str, env: Optional[Mapping[str, str]] = None,
    finetune_sets: Optional[tuple] = None,
) -> Path:
    """Write :func:`format_results_md` to ``out_path`` atomically (with the before/after table of
    :func:`format_finetune_table` first when ``finetune_sets`` is ``(dev_set, test_set)``);
    returns ``out_path``."""
    text = format_results_md(exp_dir, command, env)
    if finetune_sets is not None:
        cut = text.find("\n## ", text.find("## Environments") + 1)  # after the environment block
        cut = len(text) if cut < 0 else cut + 1
        text = text[:cut] + format_finetune_table(exp_dir, *finetune_sets) + "\n" + text[cut:]
    atomic_write_text(out_path, text)
    return Path(out_path)


def write_benchmark(out: PathLike, result: Mapping[str, object], table: str, readme: Optional[PathLike] = None,
                    section: Optional[str] = None) -> None:
    """The outputs of every ``benchmark_*`` verb: ``result.json`` and ``result.md`` (the markdown ``table``) in
    ``out``, the README section ``section`` of ``readme`` where one is given, and the table on stdout."""
    out = Path(out)
    atomic_write_text(out / "result.json", json.dumps(result, indent=2) + "\n")
    table = table if table.endswith("\n") else table + "\n"
    atomic_write_text(out / "result.md", table)
    if readme:
        update_readme_section(readme, str(section), table)
    print(table.rstrip("\n"))


def update_readme_section(readme: PathLike, key: str, content: str) -> Path:
    """Replace the block between ``<!-- results:KEY -->`` and ``<!-- /results:KEY -->`` in ``readme``
    with ``content`` (a generated table), so that README figures are written by the stage that
    measured them, never typed. A README without the markers gets the block appended at its end."""
    path = Path(readme)
    if not path.is_file():
        raise SpeechprocError(f"{path}: README not found; give the recipe's README.md")
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- results:{key} -->", f"<!-- /results:{key} -->"
    block = f"{start}\n{content.rstrip()}\n{end}"
    i, j = text.find(start), text.find(end)
    if (i < 0) != (j < 0) or (i >= 0 and j < i):
        raise SpeechprocError(f"{path}: the markers '{start}' and '{end}' must both be there, in that order")
    text = text[:i] + block + text[j + len(end):] if i >= 0 else text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(path, text)
    return path
