"""Train a voice converter of any method: the one training verb of the VC recipes.

    train_vc --src data/SF1_train --tgt data/TF1_train --config conf/vc_gmm.yaml exp/SF1_TF1_gmm
    train_vc --src data/clb_train --tgt data/slt_train --method dnn --set dnn.epochs=5 exp/clb_slt_dnn
    train_vc --src data/SF1_train --tgt data/TF1_train --method recsynth --config 'conf/vc_{method}.yaml' exp/x

Method 1 (gmm, dnn, identity, and the variants a config names): a frame-level transform on DTW-aligned parallel
frames, below. ``seq2seq`` and ``recsynth`` (``recsynth_n<N>``: on the first N target clips) train through the
shared trainer with their HyperPyYAML config, after the feature dumps they need (``--dump-dir``), see
:mod:`speechproc.vc.neural`; ``--init-tts``/``--recsynth-init``/``--vocoder`` override the config's starting
model and vocoder, ``--seq2seq-args``/``--recsynth-args`` reach the trainer (``--set`` is method 1's). In
``--config``, ``{method}`` stands for the method without its ``_n<N>`` (``conf/vc_{method}_quick.yaml``).

Method 1 details: the two data dirs must be parallel (ids equal after the speaker prefix). Options are resolved
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
    p.add_argument("--method", default=None,
                   help=f"{', '.join(METHODS)} (overrides a method-1 yaml's method), seq2seq, recsynth or recsynth_n<N>; "
                        f"a name with a conf/vc_<name>.yaml of method 1 (e.g. gmm_world) takes that yaml's method")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one option, e.g. gmm.n_mix=16 (repeatable)")
    p.add_argument("--max-utts", type=int, default=None, help="train on the first N parallel utterances only")
    p.add_argument("--nthreads", type=int, default=1, help="torch/BLAS threads (default 1)")
    p.add_argument("--force", action="store_true", help="retrain when OUT_DIR/vc.json exists already (neural "
                                                        "methods: also remake the feature dumps)")
    p.add_argument("--nj", type=int, default=1, help="neural methods: feature-dump worker processes (default 1)")
    p.add_argument("--dump-dir", default="dump", help="neural methods: where the feature dumps go (default dump)")
    p.add_argument("--init-tts", default=None, help="seq2seq: the Tacotron 2 model.pt it starts from, null: from "
                                                    "scratch (default: the config's init_tts)")
    p.add_argument("--recsynth-init", default=None, help="recsynth: the pre-trained decoder's model.pt, null: from "
                                                         "scratch (default: the config's init_model)")
    p.add_argument("--vocoder", default=None, help="recsynth: GAN vocoder exp dir, none: Griffin-Lim (default: the "
                                                   "config's vocoder_checkpoint)")
    p.add_argument("--voc-config", default=None, help="recsynth: the vocoder's training config, for the fine-tuning")
    p.add_argument("--voc-ft-epochs", type=int, default=0,
                   help="recsynth: epochs of the vocoder fine-tuned on the adapted decoder's predictions (default 0)")
    p.add_argument("--voc-ft-lr", type=float, default=1e-4, help="recsynth: its learning rate (default 1e-4)")
    p.add_argument("--seq2seq-args", default="", help="seq2seq: extra trainer options, e.g. '--number_of_epochs 300'")
    p.add_argument("--recsynth-args", default="", help="recsynth: extra trainer options, e.g. '--number_of_epochs 50'")
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

    from speechproc.vc.convert import DEFAULT_CONFIG, METHODS, check_config, merge_config, train_voice_converter

    torch.set_num_threads(args.nthreads)
    from speechproc.vc.neural import neural_method, train_recsynth, train_seq2seq

    method = args.method or ""
    neural = neural_method(method)
    max_utts = args.max_utts if args.max_utts and args.max_utts > 0 else None  # 0 or less: all
    if args.config and "{method}" in args.config:
        args.config = args.config.replace("{method}", neural[0] if neural else method)
    if neural is not None:
        if args.set:
            logger.info("--set %s: method 1's options, not used by %s", " ".join(args.set), method)
        if not args.config:
            raise SpeechprocError(f"method {method}: give its training config (--config conf/vc_{neural[0]}.yaml)")
        if not Path(args.config).is_file():
            raise SpeechprocError(f"--config {args.config}: file not found")
        n = neural[1] or max_utts
        extra = shlex.split(args.seq2seq_args if neural[0] == "seq2seq" else args.recsynth_args)
        if neural[0] == "seq2seq":
            train_seq2seq(args.config, args.src, args.tgt, args.out_dir, args.dump_dir, init_tts=args.init_tts,
                          max_utts=n, nj=args.nj, force=args.force, train_args=extra)
        else:
            train_recsynth(args.config, args.tgt, args.out_dir, args.dump_dir, init_model=args.recsynth_init,
                           vocoder=args.vocoder, max_utts=n, nj=args.nj, force=args.force, train_args=extra,
                           voc_config=args.voc_config, voc_ft_epochs=args.voc_ft_epochs, voc_ft_lr=args.voc_ft_lr)
        return 0
    if args.method and args.method not in METHODS:
        if not args.config:
            raise SpeechprocError(f"--method {args.method}: not one of {', '.join(METHODS)}, seq2seq, recsynth, "
                                  f"recsynth_n<N>; a variant needs its --config")
        args.method = None  # a named variant (gmm_world ...): its yaml says which mapping
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
    train_voice_converter(args.src, args.tgt, out, cfg, command=command, max_utts=max_utts)
    return 0


if __name__ == "__main__":
    run_verb(main)
