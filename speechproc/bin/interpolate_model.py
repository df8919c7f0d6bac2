"""Interpolate a fine-tuned experiment's weights with those of the model it started from (WiSE-FT, Wortsman et
al. 2022: weight-space ensembling of the zero-shot and the fine-tuned model).

    python -m speechproc.bin.interpolate_model --base exp/fastspeech2 --weight 0.5 \\
        exp/fastspeech2_adapt_full exp/fastspeech2_adapt_full_wise0.5

Writes an experiment dir that loads like the fine-tuned one: its config files, and a ``model.pt`` whose every
floating-point tensor is ``(1 - weight) * base + weight * fine_tuned`` (integer tensors, e.g. batch-norm
counters, are the fine-tuned ones). ``--weight 0`` is the base model, ``1`` the fine-tuned one. Both models
must have the same modules, tensor names and shapes (a full or decoder-only fine-tuning; LoRA or adapter
runs add tensors: merge them first).
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from speechproc.utils import SpeechprocError, run_verb, setup_logging

__all__ = ["interpolate_states", "main"]


def interpolate_states(base: Dict[str, Dict[str, torch.Tensor]], tuned: Dict[str, Dict[str, torch.Tensor]],
                       weight: float, where: str = "") -> Dict[str, Dict[str, torch.Tensor]]:
    """``(1 - weight) * base + weight * tuned`` for each module's floating-point tensors (``{module: state_dict}``)."""
    if set(base) != set(tuned):
        raise SpeechprocError(f"{where}: modules differ: base {sorted(base)}, fine-tuned {sorted(tuned)}")
    out: Dict[str, Dict[str, torch.Tensor]] = {}
    for name, state in tuned.items():
        ref = base[name]
        if set(ref) != set(state):
            extra = sorted(set(state) ^ set(ref))[:3]
            raise SpeechprocError(f"{where}: module '{name}' has other tensors than the base model ({extra} ...); "
                                  f"interpolation needs the same architecture (merge LoRA/adapters first)")
        mixed = {}
        for key, t in state.items():
            b = ref[key]
            if b.shape != t.shape:
                raise SpeechprocError(f"{where}: tensor '{name}.{key}' is {tuple(t.shape)} in the fine-tuned model and "
                                      f"{tuple(b.shape)} in the base model")
            mixed[key] = torch.lerp(b.float(), t.float(), weight).to(t.dtype) if t.is_floating_point() else t.clone()
        out[name] = mixed
    return out


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("tuned", help="fine-tuned experiment dir")
    p.add_argument("out", help="output experiment dir")
    p.add_argument("--base", required=True, help="experiment dir of the model the fine-tuning started from")
    p.add_argument("--weight", type=float, required=True, help="weight of the fine-tuned model, 0..1")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    from speechproc.exp import SNAPSHOT_FILES

    if not 0.0 <= args.weight <= 1.0:
        raise SpeechprocError(f"--weight must be in [0, 1], got {args.weight}")
    tuned_dir, base_dir, out = Path(args.tuned), Path(args.base), Path(args.out)
    files = {}
    for d in (tuned_dir, base_dir):
        f = d / "model.pt"
        if not f.is_file():
            raise SpeechprocError(f"{f} not found: --base and the fine-tuned dir must be trained experiment dirs")
        files[d] = torch.load(f, map_location="cpu", weights_only=True)
        if not isinstance(files[d], dict) or "modules" not in files[d]:
            raise SpeechprocError(f"{f} is not a model.pt written by speechproc.bin.train (no 'modules')")
    mixed = interpolate_states(files[base_dir]["modules"], files[tuned_dir]["modules"], args.weight,
                               where=f"{tuned_dir}/model.pt vs {base_dir}/model.pt")
    out.mkdir(parents=True, exist_ok=True)
    for name in SNAPSHOT_FILES:
        if (tuned_dir / name).is_file():
            shutil.copyfile(tuned_dir / name, out / name)
    meta = {k: v for k, v in files[tuned_dir].items() if k != "modules"}
    meta["interpolated"] = {"base": str(base_dir), "fine_tuned": str(tuned_dir), "weight": args.weight}
    tmp = out / f".model.pt.tmp.{os.getpid()}"
    torch.save({"modules": mixed, **meta}, tmp)
    os.replace(tmp, out / "model.pt")
    print(f"{out}/model.pt: {1 - args.weight:g} x {base_dir} + {args.weight:g} x {tuned_dir}")
    return 0


if __name__ == "__main__":
    run_verb(main)
