"""One period of continual fine-tuning: the latest version of a model (or the pretrained model) fine-tuned on
new data into the next version (``exp/<model>/v<N+1>``, :mod:`speechproc.versions`), evaluated on the whole
evaluation suite, with a version card that says whether it may replace the deployed one.

    python -m speechproc.bin.continual_finetune --model-dir exp/lora_merged --method lora_merged \\
        --methods conf/methods.yaml --new-data data/yesno_train --valid-data data/yesno_dev --period yesno \\
        --eval general=data/general an4=data/an4_test yesno=data/yesno_test --zeroshot exp/zeroshot

A method (one entry of the ``--methods`` yaml, plain data) names the training config and how periods chain:

```yaml
lora_merged:
  config: conf/finetune.yaml   # shared-trainer config (task: whisper; default: --config)
  strategy: {name: lora, lora: {rank: 16, alpha: 32}}  # the fine-tuning strategy (default: the config's)
  train_args: "--lr 0.001"     # other speechproc.bin.train overrides of that config
  chain: merged          # merged: the next period starts from this version's weights (hf/, LoRA folded in)
                         # separate: every period trains its own modules on the pretrained model
  rehearsal_share: 0.0   # share of earlier periods' data mixed into the training data (0: none)
  pseudo_rehearsal: null # a data dir standing in for the pretraining domain in the rehearsal pool
  l2sp: false            # pass the pretrained model as the L2-SP reference (the config sets l2sp_weight)
  router_background: null  # separate chain only: a data dir of speech from no period (audio only); a domain
                           # router (speechproc.decode.router) fitted on it and on the periods' training audio
                           # picks, per utterance, the LoRA of its period or the pretrained model (no task id)
  beam_size: 1           # decoding of the suite: 1 greedy (decode_asr, PyTorch); N > 1: beam search of width N
                         # with Whisper's length penalty, on the version exported to CTranslate2 float32 (ct2/)
  zeroshot: null         # the zero-shot dir to compare with (default --zeroshot); decode it the same way as the
                         # method (a beam method needs a zero-shot decoding with the same beam)
```

The new data is checked before anything is written: it must exist and hold utterances, its audio headers
must give ``--sample-rate`` (unless ``--resample``), and its transcripts must follow the text style of the
earlier periods (upper case without punctuation, as AN4, or not); a failed check, or a failed training,
leaves every existing version as it was. The general-domain set (``--general``) is compared with the
zero-shot decode of the pretrained model (``--zeroshot``): a version more than ``--tolerance`` (relative)
worse is flagged in its card and in the log.
"""
from __future__ import annotations

import argparse
import difflib
import json
import logging
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)

METHOD_KEYS = {"config": None, "chain": "merged", "rehearsal_share": 0.0, "pseudo_rehearsal": None, "l2sp": False,
               "strategy": None, "train_args": "", "router_background": None, "beam_size": 1, "zeroshot": None}
_UPPER = re.compile(r"^[A-Z0-9' ]*$")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", required=True, help="exp/<model>: its versions are v1, v2, ...")
    p.add_argument("--method", required=True, help="method name (an entry of --methods)")
    p.add_argument("--methods", required=True, help="yaml of the methods (plain data, see above)")
    p.add_argument("--config", default=None, help="training config of methods that name none")
    p.add_argument("--new-data", required=True, help="data dir of the new period")
    p.add_argument("--valid-data", required=True, help="data dir that picks the checkpoint (same domain)")
    p.add_argument("--period", default=None, help="name of the period (default: the new data dir's name)")
    p.add_argument("--parent", default="latest", help="version to start from: latest (default), v1, ...")
    p.add_argument("--base", default="tiny.en", help="the pretrained model (whisper name or dir; default tiny.en)")
    p.add_argument("--window-seconds", type=float, default=10.0, help="input window of training and decoding")
    p.add_argument("--eval", nargs="+", default=[], metavar="NAME=DATA_DIR", help="the evaluation suite")
    p.add_argument("--general", default="general", help="the suite's general-domain set (default: general)")
    p.add_argument("--zeroshot", default=None, help="zero-shot dir with decode_<set>/score_wer/score.json")
    p.add_argument("--tolerance", type=float, default=0.10, help="allowed relative general-domain WER increase")
    p.add_argument("--sample-rate", type=int, default=16000, help="the model's audio rate (default 16000)")
    p.add_argument("--resample", action="store_true", help="accept new data at another rate (resampled on load)")
    p.add_argument("--decode-config", default=None, help="decode yaml of the suite (greedy by default)")
    p.add_argument("--train-args", default="", help="extra speechproc.bin.train options, e.g. '--number_of_epochs 2'")
    p.add_argument("--seed", type=int, default=0, help="seed of the rehearsal draw")
    p.add_argument("--cmd", default="local", choices=["local", "slurm"], help="job backend of the training")
    p.add_argument("--cmd-conf", default=None, help="launch configuration yaml")
    p.add_argument("--nproc", type=int, default=1, help="training processes")
    p.add_argument("--nj", type=int, default=1, help="decoding jobs")
    p.add_argument("--table", default=None, help="then rewrite the results table of the exp root (the model dir's "
                                                 "parent) here, as continual_results does")
    p.add_argument("--table-methods", nargs="+", default=None,
                   help="the methods of --table, in row order (default: this one)")
    p.add_argument("--plot", default=None, help="with --table: also the PNG of the general-domain WER per period")
    return p


def load_method(path: str, name: str, config: Optional[str] = None) -> Dict[str, Any]:
    """The method ``name`` of the methods yaml, with defaults; unknown names and keys are errors naming the
    nearest valid one."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise SpeechprocError(f"{p}: methods file not found")
    methods = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if name not in methods:
        near = difflib.get_close_matches(name, list(methods), n=1)
        raise SpeechprocError(f"{p}: no method '{name}'{f' (did you mean {near[0]}?)' if near else ''}; "
                              f"methods: {', '.join(methods)}")
    entry = dict(methods[name] or {})
    for key in entry:
        if key not in METHOD_KEYS:
            near = difflib.get_close_matches(key, list(METHOD_KEYS), n=1)
            raise SpeechprocError(f"{p}: method '{name}': unknown key '{key}'"
                                  f"{f' (did you mean {near[0]}?)' if near else ''}; keys: {', '.join(METHOD_KEYS)}")
    method = {**METHOD_KEYS, **entry}
    method["config"] = method["config"] or config
    if not method["config"]:
        raise SpeechprocError(f"{p}: method '{name}' has no config; fix: add 'config: conf/<training yaml>' "
                              "or pass --config")
    if method["chain"] not in ("merged", "separate"):
        raise SpeechprocError(f"{p}: method '{name}': chain must be merged or separate, not '{method['chain']}'")
    if not isinstance(method["beam_size"], int) or isinstance(method["beam_size"], bool) or method["beam_size"] < 1:
        raise SpeechprocError(f"{p}: method '{name}': beam_size must be a whole number >= 1 (1: greedy), not "
                              f"{method['beam_size']!r}")
    if method["router_background"] and method["chain"] != "separate":
        raise SpeechprocError(f"{p}: method '{name}': router_background routes between separate modules; it needs "
                              "chain: separate")
    return method


def text_style(data: DataDir) -> str:
    """``upper`` when every transcript is upper case without punctuation (AN4, yesno), else ``mixed``."""
    return "upper" if all(_UPPER.match(t) for t in (data.text or {}).values()) else "mixed"


def check_new_data(path: str, sample_rate: int, resample: bool, style: Optional[str], role: str) -> DataDir:
    """Load and check a period's data dir (module docstring); returns it."""
    from speechproc.data.audio import AudioError, audio_info, is_pipe

    p = Path(path)
    if not p.is_dir():
        raise SpeechprocError(f"{role} {p}: no such data dir; fix: prepare it first (wav.scp, text, utt2spk)")
    try:
        data = DataDir.load(p)
    except SpeechprocError as e:
        raise SpeechprocError(f"{role} {p}: {e}") from None
    if not len(data):
        raise SpeechprocError(f"{role} {p}: the data dir holds no utterance; fix: give a prepared, non-empty dir")
    if data.text is None:
        raise SpeechprocError(f"{role} {p}: no text file; fine-tuning needs transcripts")
    rates: Dict[int, int] = {}
    for rec, spec in data.wav_scp.items():
        if is_pipe(spec):
            continue
        try:
            rate = audio_info(spec).sample_rate
        except AudioError as e:
            raise SpeechprocError(f"{role} {p}/wav.scp: recording {rec} ({spec}) cannot be read: {e}") from None
        rates[rate] = rates.get(rate, 0) + 1
    other = {r: n for r, n in rates.items() if r != sample_rate}
    if other and not resample:
        r, n = next(iter(other.items()))
        raise SpeechprocError(
            f"{role} {p}: {n} recording(s) are at {r} Hz but the model takes {sample_rate} Hz; fix: resample the "
            "data, or pass --resample to have it resampled on load (recorded in the version card)")
    if style == "upper":
        lines = sorted(data.text.items())
        for i, (utt, t) in enumerate(lines, 1):
            if not _UPPER.match(t):
                raise SpeechprocError(
                    f"{role} {p}/text line {i} ({utt}): '{t}' is not upper case without punctuation, the text "
                    "style of the model's earlier periods; fix: normalise the transcripts the same way "
                    "(upper case, no punctuation)")
    return data


def hours(data: DataDir) -> Optional[float]:
    d = data.with_utt2dur().utt2dur
    return round(sum(d.values()) / 3600.0, 4) if d else None


def run_training(method: Dict[str, Any], args: argparse.Namespace, vdir: Path, source: str, train_dir: Path
                 ) -> None:
    cmd = [sys.executable, "-m", "speechproc.bin.train", str(method["config"]), "--nproc", str(args.nproc),
           "--cmd", args.cmd, "--output_folder", str(vdir), "--train_data", str(train_dir),
           "--valid_data", args.valid_data, "--whisper", source, "--window_seconds", str(args.window_seconds)]
    if args.cmd_conf:
        cmd += ["--cmd-conf", args.cmd_conf]
    if method["strategy"] is not None:
        cmd += ["--strategy", json.dumps(method["strategy"])]
    if method["l2sp"]:
        cmd += ["--l2sp_reference", args.base]
    cmd += shlex.split(str(method["train_args"] or "")) + shlex.split(args.train_args)
    logger.info("training: %s", shlex.join(cmd))
    rc = subprocess.call(cmd)
    if rc != 0:
        raise SpeechprocError(f"training of {vdir} failed (exit code {rc}); no version was added (log: "
                              f"{vdir}/train_log_full.txt if it got that far)")


def evaluate(vdir: Path, suite: Dict[str, str], args: argparse.Namespace, beam_size: int = 1
             ) -> Dict[str, Dict[str, float]]:
    """Decode and score (Whisper-normalised WER/CER) every set of the suite with the version: greedy with the
    PyTorch model (``beam_size`` 1), or beam search on its CTranslate2 float32 export (``<vdir>/ct2``)."""
    from speechproc.bin import decode_asr, export_ct2, score_asr, whisper_decode
    from speechproc.score.continual import read_scores

    ct2 = vdir / "ct2"
    if beam_size > 1 and not (ct2 / "model.bin").is_file():
        export_ct2.main(["--exp-dir", str(vdir), "--quantization", "float32", str(ct2)])
    results: Dict[str, Dict[str, float]] = {}
    for name, data in suite.items():
        out = vdir / f"decode_{name}"
        if beam_size > 1:
            whisper_decode.main(["--backend", "ct2", "--model", str(ct2), "--beam-size", str(beam_size), data,
                                 str(out)])
        else:
            argv = [str(out), "--exp-dir", str(vdir), "--data", data, "--mode", "greedy", "--nj", str(args.nj)]
            if args.decode_config:
                argv += ["--config", args.decode_config]
            decode_asr.main(argv)
        score_asr.main(["--ref", f"{data}/text", "--hyp", str(out / "text"), "--normalize", "whisper_en", str(out)])
        results[name] = read_scores(out)
    return results


def lineage(parent: Optional[Path]) -> List[Path]:
    """The version dirs from the first version to ``parent`` (empty without a parent), following the cards'
    ``parent`` entries."""
    from speechproc.versions import read_card

    chain: List[Path] = []
    while parent is not None:
        chain.append(parent)
        up = str(read_card(parent).get("parent", ""))
        parent = None if (not up or up.startswith("pretrained:")) else Path(up)
    return chain[::-1]


def route_suite(vdir: Path, owners: List[Path], periods: List[Dict[str, Any]], suite: Dict[str, str],
                background: str, zeroshot: Optional[str], args: argparse.Namespace) -> Dict[str, Any]:
    """Domain routing without a task id (``speechproc.decode.router``): a router fitted on every period's training
    audio and on ``background`` sends each utterance of the suite to the version that trained its period
    (``owners[j]`` for ``periods[j]``, whose decoding of the suite exists) or, as background, to the pretrained
    model (the ``zeroshot`` decoding). Writes ``router.json`` and ``decode_<set>_routed/`` (``text``, ``route``:
    utterance, label, probability; scored), returns the card entry."""
    from speechproc.bin import score_asr
    from speechproc.decode.router import DomainRouter, data_dir_states, routed_texts
    from speechproc.models.pretrained.whisper_asr import WhisperASR
    from speechproc.score.asr import read_kaldi_text
    from speechproc.score.continual import read_scores

    if not zeroshot:
        raise SpeechprocError("routing sends background utterances to the pretrained model, whose decoding of the "
                              "suite it takes from --zeroshot; fix: pass --zeroshot exp/zeroshot")
    names = [p["name"] for p in periods]
    if len(set(names)) != len(names):
        raise SpeechprocError(f"routing needs distinct period names; the periods are {names}")
    if len(owners) != len(periods):
        raise SpeechprocError(f"{vdir}: {len(periods)} periods but {len(owners)} versions in its lineage")
    bg = Path(background)
    if not (bg / "wav.scp").is_file():
        raise SpeechprocError(f"router_background {bg}: no such data dir (wav.scp); fix: prepare speech of no "
                              "period there (the recipe's stage 1 makes data/background)")
    model = WhisperASR(source=args.base, window_seconds=args.window_seconds).eval()
    domains = {p["name"]: list(data_dir_states(model, DataDir.load(p["data"]), desc=f"router: {p['name']}").values())
               for p in periods}
    bg_states = data_dir_states(model, DataDir.load(bg), desc="router: background")
    router = DomainRouter.fit(domains, list(bg_states.values()), info={"base": args.base, "background": str(bg),
                                                                      "window_seconds": args.window_seconds})
    router.save(vdir / "router.json")
    results: Dict[str, Dict[str, float]] = {}
    counts: Dict[str, Dict[str, int]] = {}
    for name, data in suite.items():
        texts = {p["name"]: read_kaldi_text(owner / f"decode_{name}" / "text") for p, owner in zip(periods, owners)}
        texts[DomainRouter.BACKGROUND] = read_kaldi_text(Path(zeroshot) / f"decode_{name}" / "text")
        routes = router.route_all(data_dir_states(model, DataDir.load(data), desc=f"routing {name}"))
        out = vdir / f"decode_{name}_routed"
        out.mkdir(parents=True, exist_ok=True)
        (out / "text").write_text("".join(f"{u} {t}\n" for u, t in routed_texts(routes, texts)), encoding="utf-8")
        (out / "route").write_text("".join(f"{u} {lab} {p:.4f}\n" for u, (lab, p) in routes.items()), encoding="utf-8")
        score_asr.main(["--ref", f"{data}/text", "--hyp", str(out / "text"), "--normalize", "whisper_en", str(out)])
        results[name] = read_scores(out)
        counts[name] = {lab: sum(1 for r in routes.values() if r[0] == lab) for lab in router.labels}
        logger.info("routed %s: %s; WER %.2f", name, counts[name], results[name]["wer"])
    return {"background": str(bg), "labels": router.labels, "routes": counts, "eval": results}


def main(argv: Optional[Sequence[str]] = None) -> int:
    from speechproc.data.rehearsal import rehearsal_mix
    from speechproc.exp import train_seconds
    from speechproc.score.continual import read_scores
    from speechproc.versions import latest_version, next_version_dir, read_card, version_dir, write_card

    args = get_parser().parse_args(argv)
    setup_logging()
    method = load_method(args.methods, args.method, args.config)
    model_dir = Path(args.model_dir)
    suite: Dict[str, str] = {}
    for item in args.eval:
        name, sep, data = item.partition("=")
        if not sep or not name or not data:
            raise SpeechprocError(f"--eval {item}: expected NAME=DATA_DIR, e.g. general=data/general")
        if not (Path(data) / "text").is_file():
            raise SpeechprocError(f"--eval {item}: {data}/text not found; every suite set needs transcripts")
        suite[name] = data
    parent = version_dir(model_dir, args.parent) if (args.parent != "latest" or latest_version(model_dir)) else None
    parent_card = read_card(parent) if parent else None
    periods: List[Dict[str, Any]] = list((parent_card or {}).get("periods", []))
    style = (parent_card or {}).get("text_style")
    new = check_new_data(args.new_data, args.sample_rate, args.resample, style, "--new-data")
    check_new_data(args.valid_data, args.sample_rate, args.resample, style, "--valid-data")
    period = args.period or Path(args.new_data).name

    vdir = next_version_dir(model_dir)
    source = str(parent / "hf") if (parent and method["chain"] == "merged") else args.base
    train_dir = Path(args.new_data)
    rehearsal = None
    if float(method["rehearsal_share"]) > 0:
        pool = [DataDir.load(p["data"]) for p in periods]
        if method["pseudo_rehearsal"]:
            pseudo = Path(method["pseudo_rehearsal"])
            if not (pseudo / "text").is_file():
                raise SpeechprocError(f"{args.methods}: method '{args.method}' rehearses {pseudo}, which is not a "
                                      "prepared data dir; fix: make it first (recipe stage 3) or drop "
                                      "pseudo_rehearsal from the method")
            pool.append(DataDir.load(pseudo))
        if pool:
            mixed = rehearsal_mix(new, pool, float(method["rehearsal_share"]), seed=args.seed)
            train_dir = model_dir / f"{vdir.name}_train"
            mixed.save(train_dir)
            rehearsal = {"share": float(method["rehearsal_share"]), "pool": [str(d.source) for d in pool],
                         "old_utts": len(mixed) - len(new), "data": str(train_dir)}
    logger.info("%s: period '%s' from %s (%s) into %s", args.method, period, parent or args.base, source, vdir)
    run_training(method, args, vdir, source, train_dir)

    if method["chain"] == "merged":
        from speechproc.exp import load_trained_modules

        _, modules = load_trained_modules(vdir)
        modules["model"].export_hf(vdir / "hf")
    results = evaluate(vdir, suite, args, method["beam_size"])
    zeroshot = method["zeroshot"] or args.zeroshot
    periods.append({"name": period, "data": str(Path(args.new_data)), "utts": len(new), "hours": hours(new),
                    "resampled": bool(args.resample), "rehearsal": rehearsal})
    routing = None
    if method["router_background"]:
        routing = route_suite(vdir, lineage(parent) + [vdir], periods, suite, str(method["router_background"]),
                              zeroshot, args)
    summary = json.loads((vdir / "train_summary.json").read_text())
    card: Dict[str, Any] = {
        "model": str(model_dir), "version": vdir.name, "method": args.method, "method_settings": method,
        "parent": str(parent) if parent else f"pretrained:{args.base}", "base": args.base,
        "weights_from": source, "text_style": style or text_style(new), "periods": periods,
        "trainable_parameters": summary.get("trainable_parameters"), "parameters": summary.get("parameters"),
        "train_seconds": train_seconds(summary), "window_seconds": args.window_seconds,
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "eval": results,
        "decoding": ("greedy (PyTorch)" if method["beam_size"] == 1 else
                     f"beam {method['beam_size']} (CTranslate2 float32)"), "zeroshot": zeroshot,
    }
    if routing is not None:
        card["routing"] = routing
    if args.general in results and zeroshot:
        zs = read_scores(Path(zeroshot) / f"decode_{args.general}")
        wer = results[args.general]["wer"]
        limit = zs["wer"] * (1.0 + args.tolerance)
        card["general"] = {"set": args.general, "wer": wer, "zeroshot_wer": zs["wer"], "tolerance": args.tolerance,
                           "relative_change": round((wer - zs["wer"]) / zs["wer"], 4) if zs["wer"] else None,
                           "ok": wer <= limit + 1e-9}
        if not card["general"]["ok"]:
            logger.warning("%s: general-domain WER %.2f %% is more than %.0f %% (relative) above the zero-shot "
                           "model's %.2f %%: flagged, do not deploy it in place of the pretrained model",
                           vdir, wer, 100 * args.tolerance, zs["wer"])
    write_card(vdir, card)
    logger.info("%s: %s", vdir, ", ".join(f"{k} WER {v['wer']:.2f}" for k, v in results.items()))
    if args.table:
        from speechproc.bin import continual_results

        continual_results.main([str(model_dir.parent), "--methods", *(args.table_methods or [args.method]),
                                "--sets", *suite, "--general", args.general, "--tolerance", str(args.tolerance),
                                "--table", args.table, *(["--plot", args.plot] if args.plot else []),
                                *(["--zeroshot", args.zeroshot] if args.zeroshot else [])])
    return 0


if __name__ == "__main__":
    run_verb(main)
