"""Train a frame-level voice converter (method 1: GMM+MLPG or DNN on DTW-aligned parallel frames).

    train_vc --src data/SF1_train --tgt data/TF1_train --config conf/vc_gmm.yaml exp/SF1_TF1_gmm
    train_vc --src data/clb_train --tgt data/slt_train --method dnn --set dnn.epochs=5 exp/clb_slt_dnn

The two data dirs must be parallel (ids equal after the speaker prefix). Options are resolved
once: the defaults of :data:`speechproc.vc.convert.DEFAULT_CONFIG` < ``--config`` yaml <
``--method`` < ``--set key.sub=value`` (values parsed as yaml). Writes the experiment dir
(``vc.json``, ``config.yaml``, ``model.npz``/``model.pt``, ``train.log``); see :mod:`speechproc.vc.convert`.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from speechproc.utils import SpeechprocError, run_verb, setup_logging

__all__ = ["get_parser", "main", "parse_overrides"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``train_vc``."""
    from speechproc.vc.convert import METHODS

    p = argparse.ArgumentParser(prog="train_vc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help="source speaker's training data dir")
    p.add_argument("--tgt", required=True, help="target speaker's parallel training data dir")
    p.add_argument("--config", default=None, help="yaml of options (see speechproc.vc.convert.DEFAULT_CONFIG)")
    p.add_argument("--method", choices=METHODS, default=None, help="mapping (overrides the yaml's method)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one option, e.g. gmm.n_mix=16 (repeatable)")
    p.add_argument("--max-utts", type=int, default=None, help="train on the first N parallel utterances only")
    p.add_argument("--nthreads", type=int, default=1, help="torch/BLAS threads (default 1)")
    p.add_argument("--force", action="store_true", help="retrain when OUT_DIR/vc.json exists already")
    p.add_argument("out_dir", help="experiment dir to write, e.g. exp/SF1_TF1_gmm")
    return p


def parse_overrides(items: Sequence[str]) -> Dict[str, Any]:
    """``["gmm.n_mix=16", "mlpg=false"]`` -> ``{"gmm": {"n_mix": 16}, "mlpg": False}`` (yaml values)."""
    import yaml

    out: Dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpeechprocError(f"--set {item!r}: expected KEY=VALUE, e.g. gmm.n_mix=16")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Resolve the options and train."""
    args = get_parser().parse_args(argv)
    setup_logging()
    import torch
    import yaml

    from speechproc.vc.convert import DEFAULT_CONFIG, check_config, merge_config, train_voice_converter

    torch.set_num_threads(args.nthreads)
    out = Path(args.out_dir)
    if (out / "vc.json").is_file() and not args.force:
        logger.info("%s/vc.json exists already - skipping (--force to retrain)", out)
        return 0
    cfg: Dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise SpeechprocError(f"--config {path}: file not found")
        try:
            cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise SpeechprocError(f"{path}: not valid yaml ({e})") from None
        cfg = merge_config(DEFAULT_CONFIG, cfg, where=str(path))
    cfg = merge_config(DEFAULT_CONFIG, cfg, {"method": args.method} if args.method else None,
                       parse_overrides(args.set), where="train_vc options")
    cfg = check_config(cfg)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.train_vc"]
                       + list(sys.argv[1:] if argv is None else argv))
    train_voice_converter(args.src, args.tgt, out, cfg, command=command, max_utts=args.max_utts)
    return 0


if __name__ == "__main__":
    run_verb(main)
