"""Results of continual fine-tuning: the accuracy matrix of every method, gain and forgetting, a plot.

Reads the version cards (:mod:`speechproc.versions`) of ``exp/<method>`` and the zero-shot decode dirs
(``exp/zeroshot/decode_<set>/score_wer/score.json``). An evaluation set named like a period (``an4``,
``yesno``) is that period's task; the general-domain set belongs to no period.

Per method, with ``R[k][s]`` the WER on set ``s`` after period ``k`` (``k = 0``: the zero-shot model):

- *new-task gain*: the mean over periods ``j`` of ``R[0][j] - R[j][j]`` (WER points the period's own
  fine-tuning gained on its task);
- *forgetting* (backward transfer, Lopez-Paz and Ranzato 2017, in WER so that positive means worse):
  the mean over the periods ``j`` before the last of ``R[T][j] - R[j][j]``;
- *general change*: ``R[T][general] - R[0][general]``, also relative.

Methods whose periods train separate modules (``chain: separate``, one LoRA per period) get two rows per
period: *no task id* (the newest LoRA serves every set: the version's own evaluation) and *oracle task id*
(each set decoded by the LoRA of its period, the pretrained model where no period owns the set). Where the
versions were routed (method key ``router_background``, card entry ``routing``), a third row per period,
*domain router*, takes each utterance from the LoRA or the pretrained model that the router chose for it: no task
id is given, and the router never saw the evaluation sets.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["read_scores", "method_matrix", "format_continual_table", "format_deploy_table", "plot_general_wer",
           "decoding_note"]


def read_scores(decode_dir: PathLike) -> Dict[str, float]:
    """``{"wer", "cer", "words"}`` of a decode dir scored by ``score_asr`` (WER/CER rounded to 0.01)."""
    decode_dir = Path(decode_dir)
    try:
        wer = json.loads((decode_dir / "score_wer" / "score.json").read_text())
        cer = json.loads((decode_dir / "score_cer" / "score.json").read_text())
    except FileNotFoundError:
        raise SpeechprocError(f"{decode_dir}: not scored; run score_asr on it first") from None
    return {"wer": round(float(wer["wer"]), 2), "cer": round(float(cer["cer"]), 2), "words": int(wer["n"])}


def _zeroshot(zeroshot_dir: Path, sets: Sequence[str]) -> Dict[str, float]:
    for s in sets:
        if not (zeroshot_dir / f"decode_{s}").is_dir():
            raise SpeechprocError(f"{zeroshot_dir}/decode_{s}: no zero-shot decoding of set '{s}'; run the "
                                  "zero-shot stage first")
    return {s: read_scores(zeroshot_dir / f"decode_{s}")["wer"] for s in sets}


def decoding_note(exp_dir: PathLike, methods: Sequence[str], sets: Sequence[str],
                  zeroshot_dir: Optional[PathLike] = None) -> str:
    """How the table's WERs were decoded, from the versions' cards (``decoding``; cards before that key: greedy
    with PyTorch) and the zero-shot decode dirs' ``decode.json``: e.g. ``fine-tuned versions: beam 5
    (CTranslate2 float32), their own window; zero-shot: ct2 beam 5, 30-s window``."""
    from speechproc.versions import read_card, versions

    exp_dir = Path(exp_dir)
    tuned = sorted({str(read_card(v).get("decoding", "greedy (PyTorch)")) for m in methods
                    for v in versions(exp_dir / m)})
    zs = []
    for s in sets:
        info_file = (Path(zeroshot_dir) if zeroshot_dir else exp_dir / "zeroshot") / f"decode_{s}" / "decode.json"
        if info_file.is_file():
            info = json.loads(info_file.read_text())
            beam = int(info.get("beam_size") or 1)
            zs.append(f"{info.get('backend', '?')} {'greedy' if beam == 1 else f'beam {beam}'}, "
                      f"{float(info.get('window_seconds') or 30):g}-s window")
    zs = sorted(set(zs))
    return (f"fine-tuned versions: {' / '.join(tuned) or '-'}, their own window; zero-shot: "
            f"{' / '.join(zs) or 'unknown (no decode.json)'}")


def method_matrix(model_dir: PathLike, zeroshot: Mapping[str, float], oracle: bool = False, routed: bool = False
                  ) -> List[Dict[str, Any]]:
    """Rows ``{"after": period name, "version", "wer": {set: WER}, "card"}`` of one method, the zero-shot row
    first. With ``oracle``, each set is taken from the version of its own period; with ``routed``, from the
    version's domain-routed decoding (module docstring)."""
    from speechproc.versions import read_card, versions

    cards = [read_card(v) for v in versions(model_dir)]
    rows: List[Dict[str, Any]] = [{"after": "zero-shot", "version": "-", "wer": dict(zeroshot), "card": None}]
    for k, card in enumerate(cards):
        evals = card["eval"]
        if routed:
            if "routing" not in card:
                raise SpeechprocError(f"{model_dir}/{card['version']}: the version was not routed (no 'routing' in "
                                      "its card)")
            evals = card["routing"]["eval"]
        wer = {s: evals[s]["wer"] for s in zeroshot if s in evals}
        if oracle:
            owner = {p["name"]: j for j, p in enumerate(card["periods"])}
            wer = {}
            for s in zeroshot:
                j = owner.get(s)
                wer[s] = cards[j]["eval"][s]["wer"] if j is not None and j <= k else zeroshot[s]
        rows.append({"after": card["periods"][-1]["name"], "version": card["version"], "wer": wer, "card": card})
    return rows


def _summary(rows: List[Dict[str, Any]], general: str) -> Dict[str, Optional[float]]:
    periods = [r["after"] for r in rows[1:]]
    zs = rows[0]["wer"]
    gains = [zs[p] - rows[j + 1]["wer"][p] for j, p in enumerate(periods) if p in zs]
    last = rows[-1]["wer"]
    forgetting = [last[p] - rows[j + 1]["wer"][p] for j, p in enumerate(periods[:-1]) if p in last]
    change = last.get(general, 0.0) - zs.get(general, 0.0) if general in zs else None
    return {
        "gain": sum(gains) / len(gains) if gains else None,
        "forgetting": sum(forgetting) / len(forgetting) if forgetting else None,
        "general_change": change,
        "general_relative": (change / zs[general] if change is not None and zs.get(general) else None),
    }


def _f(x: Optional[float], fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def format_continual_table(exp_dir: PathLike, methods: Sequence[str], sets: Sequence[str], general: str = "general",
                           zeroshot_dir: Optional[PathLike] = None, tolerance: float = 0.10) -> str:
    """Markdown: the accuracy matrix (WER % after every period, on every set) of every method, then one summary
    line per method (gain, forgetting, general change, trainable parameters, training time per period)."""
    exp_dir = Path(exp_dir)
    zs = _zeroshot(Path(zeroshot_dir) if zeroshot_dir else exp_dir / "zeroshot", sets)
    head = ["method", "after period", "version"] + [f"{s} WER %" for s in sets] + [
        "trainable params", "train min", f"general within {tolerance:.0%}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(sets) + 2) + "---|"]
    summary_lines = ["| method | new-task gain (WER points) | forgetting (WER points) | general change | final "
                     + " | final ".join(f"{s} WER %" for s in sets) + " |",
                     "|---|---:|---:|---:|" + "---:|" * len(sets)]
    for m in methods:
        model_dir = exp_dir / m
        plain = method_matrix(model_dir, zs)
        if len(plain) < 2:
            continue
        variants = [(m, "plain")]
        if plain[1]["card"]["method_settings"].get("chain") == "separate":
            variants = [(f"{m} (no task id)", "plain"), (f"{m} (oracle task id)", "oracle")]
            if all("routing" in r["card"] for r in plain[1:]):
                variants.insert(1, (f"{m} (domain router, no task id)", "routed"))
        for label, mode in variants:
            rows = plain if mode == "plain" else method_matrix(model_dir, zs, oracle=mode == "oracle",
                                                               routed=mode == "routed")
            for r in rows[1:]:
                card = r["card"]
                tp = card.get("trainable_parameters")
                ok = card.get("general", {}).get("ok")
                if mode == "oracle":  # the general set is the pretrained model's in the oracle setting
                    ok = True
                elif mode == "routed" and general in r["wer"] and general in zs:
                    ok = r["wer"][general] <= zs[general] * (1.0 + tolerance) + 1e-9
                lines.append("| " + " | ".join(
                    [label, r["after"], r["version"]] + [_f(r["wer"].get(s)) for s in sets]
                    + ["-" if tp is None else f"{tp / 1e6:.2f} M",
                       _f(card.get("train_seconds") and card["train_seconds"] / 60.0, "{:.1f}"),
                       "-" if ok is None else ("yes" if ok else "**no (flagged)**")]) + " |")
            s = _summary(rows, general)
            rel = s["general_relative"]
            summary_lines.append("| " + " | ".join(
                [label, _f(s["gain"]), _f(s["forgetting"]),
                 "-" if s["general_change"] is None else f"{s['general_change']:+.2f} ({rel:+.0%})"
                 if rel is not None else f"{s['general_change']:+.2f}"]
                + [_f(rows[-1]["wer"].get(x)) for x in sets]) + " |")
    zrow = "| zero-shot | - | - | " + " | ".join(_f(zs[s]) for s in sets) + " | 0 | - | - |"
    return "\n".join(lines[:2] + [zrow] + lines[2:]) + "\n\n" + "\n".join(summary_lines) + "\n"


def plot_general_wer(exp_dir: PathLike, methods: Sequence[str], general: str, out_png: PathLike,
                     zeroshot_dir: Optional[PathLike] = None) -> Path:
    """Line plot of the general-domain WER after every period, one line per method (matplotlib, PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exp_dir = Path(exp_dir)
    zs = _zeroshot(Path(zeroshot_dir) if zeroshot_dir else exp_dir / "zeroshot", [general])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    labels: List[str] = ["zero-shot"]
    for m in methods:
        rows = method_matrix(exp_dir / m, zs)
        if len(rows) < 2:
            continue
        ys = [r["wer"].get(general) for r in rows]
        separate = rows[1]["card"]["method_settings"].get("chain") == "separate"
        ax.plot(range(len(ys)), ys, marker="o", label=f"{m} (no task id)" if separate else m)
        if len(rows) > len(labels):
            labels = [r["after"] if i else "zero-shot" for i, r in enumerate(rows)]
    ax.axhline(zs[general], color="grey", linestyle=":", linewidth=1, label="pretrained model")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(["zero-shot"] + [f"after {x}" for x in labels[1:]])
    ax.set_xlabel("period")
    ax.set_yscale("log")
    ax.set_ylabel(f"{general} WER % (Whisper-normalised, log scale)")
    ax.set_title("General-domain WER over continual fine-tuning periods")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(out_png.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out_png)
    return out_png


def format_deploy_table(version: PathLike, deployed: PathLike, sets: Sequence[str]) -> str:
    """Markdown: the version as trained (PyTorch, ``<version>/decode_<set>``) against its CTranslate2 export
    (``<deployed>/decode_<set>``: CTranslate2 on the model's window, greedy; ``decode_<set>_beam<N>``: beam search;
    ``decode_<set>_fw``: faster-whisper), each where present: WER, CER and real-time factor per set."""
    from speechproc.models.pretrained.whisper import export_info

    version, deployed = Path(version), Path(deployed)
    q = export_info(deployed).get("quantization", "?")
    lines = ["| model | decoder | set | WER % | CER % | RTF (1 thread) |", "|---|---|---|---:|---:|---:|"]
    for s in sets:
        rows = [("PyTorch float32", "speechproc greedy", version / f"decode_{s}"),
                (f"CTranslate2 {q}", "CTranslate2 greedy, own window", deployed / f"decode_{s}")]
        rows += [(f"CTranslate2 {q}", f"CTranslate2 beam {d.name.rsplit('_beam', 1)[1]}, own window", d)
                 for d in sorted(deployed.glob(f"decode_{s}_beam*"))]
        rows.append((f"CTranslate2 {q}", "faster-whisper greedy (features padded to 30 s)", deployed / f"decode_{s}_fw"))
        for label, decoder, d in rows:
            if not (d / "score_wer" / "score.json").is_file() and d.name != f"decode_{s}":
                continue  # an optional decoding (beam, faster-whisper) that was not run
            sc = read_scores(d)
            rtf = json.loads((d / "decode.json").read_text()).get("rtf") if (d / "decode.json").is_file() else None
            lines.append(f"| {label} | {decoder} | {s} | {sc['wer']:.2f} | {sc['cer']:.2f} | {_f(rtf, '{:.3f}')} |")
    return "\n".join(lines) + "\n"
