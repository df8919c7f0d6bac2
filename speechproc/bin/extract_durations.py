"""Token durations from a trained Tacotron 2's teacher-forced attention (for FastSpeech 2).

    extract_durations --exp-dir exp/tacotron2 dump/train exp/tacotron2/durations/train \\
                      dump/dev exp/tacotron2/durations/dev

For each mel dump dir (``speechproc compute_mel``) the model runs teacher-forced over every
utterance; its attention (one row per decoder step, interpolated linearly over the ``r`` frames of the step) is
turned into a hard monotonic alignment by the monotonic alignment search of Glow-TTS
(SpeechBrain's ``maximum_path_numpy`` on the log attention), so every token, ``<sos/eos>``
included, gets at least one frame and the durations sum to the utterance's frames exactly.

Writes into each output dir ``durations`` (``utt d1 d2 ...``, one integer per token),
``align.json`` (the model, token count, focus rate: mean over decoder steps of the attention
maximum, ESPnet's duration-quality measure; utterances below ``--min-focus-rate`` are listed) and
attention PNGs of the first ``--plots`` utterances with their hard path.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from speechproc.utils import SpeechprocError, atomic_output_dir, path_pairs, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``extract_durations``."""
    p = argparse.ArgumentParser(prog="extract_durations", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="trained Tacotron 2 run (train.yaml, model.pt)")
    p.add_argument("--batch-size", type=int, default=16, help="utterances per teacher-forced batch")
    p.add_argument("--min-focus-rate", type=float, default=0.5,
                   help="list utterances whose attention focus rate is below this in align.json")
    p.add_argument("--plots", type=int, default=2, help="attention/path PNGs of the first N utterances")
    p.add_argument("--nthreads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("dirs", nargs="+", help="pairs: mel dump dir, output dir")
    return p


def hard_durations(align: torch.Tensor, r: int, n_frames: Sequence[int], n_tokens: Sequence[int]) -> List[List[int]]:
    """Frames per token from attention ``(B, steps, L)`` of a reduction-``r`` decoder.

    Each step's row is interpolated linearly over its ``r`` frames; the monotonic alignment search picks the best path
    through ``log(attention)`` that visits every token in order.
    """
    from speechbrain.lobes.models.FastSpeech2 import maximum_path_numpy

    B = align.shape[0]
    T = max(n_frames)
    L = align.shape[2]
    # each step's row sits at the centre of its r frames; rows are interpolated linearly in between
    frames = align.float() if r == 1 else torch.nn.functional.interpolate(
        align.float().transpose(1, 2), scale_factor=r, mode="linear", align_corners=False).transpose(1, 2)
    frames = frames[:, :T]                                             # (B, T, L)
    if frames.shape[1] < T:
        frames = torch.nn.functional.pad(frames, (0, 0, 0, T - frames.shape[1]))
    value = torch.log(frames.transpose(1, 2).float() + 1e-6)           # (B, L, T)
    mask = torch.zeros(B, L, T)
    for b in range(B):
        mask[b, :n_tokens[b], :n_frames[b]] = 1
    path = maximum_path_numpy(value, mask)                             # (B, L, T) one-hot per frame
    return [path[b, :n_tokens[b], :n_frames[b]].sum(1).long().tolist() for b in range(B)]


def extract(model, normalize, tokenizer, dump: Path, out: Path, batch_size: int, min_focus: float, plots: int,
            info: Dict[str, object]) -> Dict[str, object]:
    """Durations of every utterance of the dump dir ``dump`` into ``out``; returns the summary."""
    from tqdm import tqdm

    from speechproc.data.dataset import load_data_dir
    from speechproc.plot import save_attention_png
    from speechproc.features.fbank import FeatureStore
    from speechproc.models.tts.fastspeech2 import durations_to_alignment
    from speechproc.text.tokenizer import encode_text

    data = load_data_dir(dump)
    if data.text is None:
        raise SpeechprocError(f"{dump}: no text file; durations need the transcripts")
    store = FeatureStore(dump)
    utts = sorted(data.utts, key=lambda u: store.num_frames(u))
    durations: Dict[str, List[int]] = {}
    focus: Dict[str, float] = {}
    r = int(getattr(model, "r", 1))
    with atomic_output_dir(out) as tmp:
        if plots:
            (tmp / "plots").mkdir()
        for i in tqdm(range(0, len(utts), batch_size), desc=f"durations {dump}", unit="batch"):
            batch = utts[i:i + batch_size]
            toks = [encode_text(tokenizer, data.text[u]) for u in batch]
            mels = [torch.from_numpy(store[u].copy()) for u in batch]
            n_tok, n_mel = [len(t) for t in toks], [len(m) for m in mels]
            for u, nt, nm in zip(batch, n_tok, n_mel):
                if nm < nt:
                    raise SpeechprocError(f"{dump}: utterance {u} has {nm} frames for {nt} tokens; "
                                          f"a duration of at least one frame per token is impossible")
            tokens = torch.nn.utils.rnn.pad_sequence(toks, batch_first=True)
            mel = torch.nn.utils.rnn.pad_sequence(mels, batch_first=True)
            tl, ml = torch.tensor(n_tok), torch.tensor(n_mel)
            with torch.no_grad():
                mel, _ = normalize(mel, ml)
                align = model(tokens, tl, mel, ml)["alignments"]
            for b, (u, d) in enumerate(zip(batch, hard_durations(align, r, n_mel, n_tok))):
                durations[u] = d
                steps = (n_mel[b] + r - 1) // r
                focus[u] = float(align[b, :steps, :n_tok[b]].max(-1).values.mean())
                if len(durations) <= plots:
                    save_attention_png(align[b, :steps, :n_tok[b]], tmp / "plots" / f"{u}_att.png",
                                       title=f"{u}: teacher-forced attention")
                    save_attention_png(durations_to_alignment(torch.tensor([d]))[0], tmp / "plots" / f"{u}_path.png",
                                       title=f"{u}: durations (monotonic path)", ylabel="mel frame")
        with open(tmp / "durations", "w", encoding="utf-8") as f:
            for u in sorted(durations, key=lambda s: s.encode("utf-8")):
                f.write(u + " " + " ".join(map(str, durations[u])) + "\n")
        rates = np.array(list(focus.values()))
        low = sorted(u for u, v in focus.items() if v < min_focus)
        summary = dict(info, dump=str(dump), n_utts=len(durations), focus_rate_mean=round(float(rates.mean()), 4),
                       focus_rate_min=round(float(rates.min()), 4), min_focus_rate=min_focus,
                       low_focus_utts=low, frames_per_token=round(float(sum(map(sum, durations.values())))
                                                                  / sum(map(len, durations.values())), 3))
        (tmp / "align.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    logger.info("%s: %d utterances, focus rate mean %.3f (min %.3f, %d below %.2f) -> %s/durations", dump,
                len(durations), summary["focus_rate_mean"], summary["focus_rate_min"], len(low), min_focus, out)
    return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Load the Tacotron 2 run and write the durations of every dump dir."""
    args = get_parser().parse_args(argv)
    setup_logging()
    torch.set_num_threads(args.nthreads)
    pairs = path_pairs(args.dirs, "DUMP_DIR OUT_DIR")
    from speechproc.exp import load_trained_modules

    hparams, modules = load_trained_modules(args.exp_dir)
    model, normalize = modules.get("model"), modules.get("normalize")
    if model is None or normalize is None or not hasattr(model, "decoder") or not hasattr(model, "r"):
        raise SpeechprocError(f"{args.exp_dir}: not a Tacotron 2 run (modules 'model' with an attention decoder "
                              f"and 'normalize'); durations come from a trained Tacotron 2")
    tokenizer = hparams["tokenizer"]
    info = {"exp_dir": str(args.exp_dir), "vocab_size": tokenizer.vocab_size, "reduction_factor": int(model.r)}
    for dump, out in pairs:
        if not Path(dump).is_dir():
            raise SpeechprocError(f"{dump}: mel dump dir not found (speechproc compute_mel)")
        extract(model, normalize, tokenizer, Path(dump), Path(out), args.batch_size, args.min_focus_rate,
                args.plots, info)
    return 0


if __name__ == "__main__":
    from speechproc.utils import run_verb

    run_verb(main)
