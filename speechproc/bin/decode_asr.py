"""Decode a data (or dump) dir with a trained ASR experiment into a decode dir.

    python -m speechproc.bin.decode_asr --exp-dir exp/asr --data dump/test \
        --config conf/decode_asr.yaml [--lm-dir exp/lm] [--nj 4 --cmd local] exp/asr/decode_test_beam10

Writes ``OUT_DIR/text`` (hypotheses, Kaldi format, C-sorted), ``OUT_DIR/decode.json`` (settings,
audio seconds, decode seconds, real-time factor) and ``OUT_DIR/logs/decode.JOB.log``. With
``--nj N`` the data dir is split in N parts decoded as ``JOB=1:N`` through :mod:`speechproc.launch`
(``--cmd local|slurm``), then merged.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from speechproc.utils import atomic_output_dir, atomic_write_text, run_verb, setup_logging

__all__ = ["get_parser", "main", "decode_dir"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="decode_asr", description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", help="decode dir to write, e.g. exp/asr/decode_test_beam10")
    p.add_argument("--exp-dir", required=True, help="trained ASR experiment dir (hparams.yaml, model.pt)")
    p.add_argument("--data", required=True, help="data dir or dump dir (feats.scp) to decode")
    p.add_argument("--config", default=None, help="decode yaml (mode, beam_size, ctc_weight, lm_weight, ...)")
    p.add_argument("--lm-dir", default=None, help="trained LM experiment dir for shallow fusion")
    p.add_argument("--beam-size", type=int, default=None, help="overrides the decode yaml")
    p.add_argument("--ctc-weight", type=float, default=None, help="overrides the decode yaml")
    p.add_argument("--lm-weight", type=float, default=None, help="overrides the decode yaml")
    p.add_argument("--length-bonus", type=float, default=None, help="overrides the decode yaml")
    p.add_argument("--mode", choices=["beam", "greedy_ctc", "greedy"], default=None, help="overrides the decode yaml")
    p.add_argument("--nj", type=int, default=1, help="parallel jobs (JOB=1:nj)")
    p.add_argument("--cmd", default="local", choices=["local", "slurm"], help="job backend")
    p.add_argument("--cmd-conf", default=None, help="launch configuration yaml")
    p.add_argument("--max-utts", type=int, default=None, help="decode only the first N utterances")
    p.add_argument("--job", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--onnx", default=None, help="run the encoder exported by export_onnx (EXP_DIR/onnx) with ONNX "
                   "Runtime instead of PyTorch")
    return p


def _decode_opts(args) -> Dict[str, object]:
    return {"beam_size": args.beam_size, "ctc_weight": args.ctc_weight, "lm_weight": args.lm_weight,
            "length_bonus": args.length_bonus, "mode": args.mode}


def decode_dir(s2t, data: str, batch_seconds: float = 200.0, max_utts: Optional[int] = None) -> Dict[str, object]:
    """Decode every utterance of ``data`` with ``s2t`` (a :class:`~speechproc.decode.asr.Speech2Text`).

    Returns ``{"hyps": {utt: text}, "audio_seconds": ..., "decode_seconds": ...}``.
    """
    from speechproc.data.dataset import make_asr_dataset, make_dataloader

    ds = make_asr_dataset(data, None, fbank_config=None, sort="descending", max_utts=max_utts,
                          input=getattr(s2t, "input", "fbank"))
    loader = make_dataloader(ds, batch_seconds=batch_seconds, shuffle=False)
    hyps: Dict[str, str] = {}
    audio = 0.0
    start = time.time()
    for batch in loader:
        feats, rel = batch.feats
        lengths = torch.round(rel * feats.shape[1]).long()
        for uid, text in zip(batch.id, s2t.decode_features(feats, lengths)):
            hyps[uid] = text
        audio += float(sum(batch.duration))
    return {"hyps": hyps, "audio_seconds": audio, "decode_seconds": time.time() - start}


def _write_text(path: Path, hyps: Dict[str, str]) -> None:
    atomic_write_text(path, "".join(f"{u} {hyps[u]}\n".replace(" \n", "\n") for u in sorted(hyps)))


def _run_job(args) -> None:
    from speechproc.decode.asr import Speech2Text

    torch.set_num_threads(1 if args.nj > 1 else torch.get_num_threads())
    s2t = Speech2Text.from_pretrained(args.exp_dir, decode_config=args.config, lm_dir=args.lm_dir, device=args.device,
                                      onnx=args.onnx, **_decode_opts(args))
    data = args.data
    if args.job is not None:
        data = str(Path(args.out_dir) / "split" / str(args.job) / "data")
    result = decode_dir(s2t, data, float(s2t.config["batch_seconds"]), args.max_utts)
    out = Path(args.out_dir) if args.job is None else Path(args.out_dir) / "split" / str(args.job)
    _write_text(out / "text", result["hyps"])
    atomic_write_text(out / "timing.json", json.dumps({k: result[k] for k in ("audio_seconds", "decode_seconds")}) + "\n")
    logger.info("decoded %d utterances (%.1f s of audio) in %.1f s", len(result["hyps"]), result["audio_seconds"],
                result["decode_seconds"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    from speechproc.decode.asr import DecodeConfig

    cfg = DecodeConfig(args.config, **_decode_opts(args))  # checks the options before any work
    if args.job is not None:
        _run_job(args)
        return 0
    out_dir = Path(args.out_dir)
    start = time.time()
    with atomic_output_dir(out_dir) as tmp:
        if args.nj == 1:
            a = argparse.Namespace(**vars(args))
            a.out_dir = str(tmp)
            _run_job(a)
            timing = json.loads((tmp / "timing.json").read_text())
        else:
            from speechproc.data.dataset import load_data_dir
            from speechproc.launch import launch

            data = load_data_dir(args.data)
            if args.max_utts:
                data = data.subset_first(args.max_utts)
            nj = min(args.nj, len(data.utts))
            feats_scp = Path(args.data) / "feats.scp"
            feats = {}
            if feats_scp.is_file():
                from speechproc.features.fbank import read_scp

                feats = read_scp(feats_scp)
            for j, part in enumerate(data.split(nj), 1):
                d = tmp / "split" / str(j) / "data"
                part.save(d)
                if feats:
                    atomic_write_text(d / "feats.scp", "".join(
                        f"{u} {Path(feats[u]) if Path(feats[u]).is_absolute() else (Path(args.data) / feats[u]).resolve()}\n"
                        for u in part.utts))
                    if (Path(args.data) / "fbank.json").is_file():
                        atomic_write_text(d / "fbank.json", (Path(args.data) / "fbank.json").read_text())
            words = [sys.executable, "-m", "speechproc.bin.decode_asr", "--exp-dir", args.exp_dir, "--data", args.data,
                     "--job", "JOB", "--nj", str(nj), "--device", args.device]
            for flag, value in (("--config", args.config), ("--lm-dir", args.lm_dir), ("--onnx", args.onnx)):
                if value:
                    words += [flag, value]
            for k, v in _decode_opts(args).items():
                if v is not None:
                    words += [f"--{k.replace('_', '-')}", str(v)]
            words.append(str(tmp))
            conf = args.cmd_conf if args.cmd_conf and (args.cmd == "slurm" or Path(args.cmd_conf).is_file()) else None
            launch(args.cmd, words, nj=nj, log=str(tmp / "logs" / "decode.JOB.log"), conf=conf)
            hyps: Dict[str, str] = {}
            timing = {"audio_seconds": 0.0, "decode_seconds": 0.0}
            for j in range(1, nj + 1):
                part_dir = tmp / "split" / str(j)
                for line in (part_dir / "text").read_text(encoding="utf-8").splitlines():
                    u, _, t = line.partition(" ")
                    hyps[u] = t
                t = json.loads((part_dir / "timing.json").read_text())
                timing["audio_seconds"] += t["audio_seconds"]
                timing["decode_seconds"] += t["decode_seconds"]
            _write_text(tmp / "text", hyps)
        wall = time.time() - start
        info = {
            "command": " ".join(shlex.quote(a) for a in [sys.executable, "-m", "speechproc.bin.decode_asr",
                                                            *(sys.argv[1:] if argv is None else argv)]),
            "exp_dir": args.exp_dir, "data": args.data, "lm_dir": args.lm_dir, "onnx": args.onnx, "nj": args.nj,
            "config": cfg,
            "audio_seconds": round(timing["audio_seconds"], 2),
            "decode_cpu_seconds": round(timing["decode_seconds"], 2),
            "wall_seconds": round(wall, 2),
            "rtf": round(timing["decode_seconds"] / max(timing["audio_seconds"], 1e-9), 4),
            "rtf_wall": round(wall / max(timing["audio_seconds"], 1e-9), 4),
        }
        atomic_write_text(tmp / "decode.json", json.dumps(info, indent=2) + "\n")
    logger.info("wrote %s/text; RTF %.4f (decode time / audio time per job), wall RTF %.4f",
                out_dir, info["rtf"], info["rtf_wall"])
    return 0


if __name__ == "__main__":
    run_verb(main)
