"""Long-audio benchmark: a trained ASR experiment transcribes recordings of ``--minutes`` each, made of a data dir's
utterances played one after another with ``--gap`` seconds of silence between (repeated as needed), through the
``transcribe`` verb in a fresh process each, so its peak memory is its own. Writes a JSON and a markdown table:
length, peak RSS, wall time, real-time factor, and WER of the long transcript against the joined references,
next to the WER of the same utterances decoded one by one.

    python -m speechproc.bin.benchmark_long_audio --exp-dir exp/full/v1 --data data/an4/test --minutes 10 120 \\
        --mode greedy --out exp/long_audio

``Speech2Text`` cuts audio longer than ``max_segment_seconds`` (at most the model's input window) at pauses and
decodes the pieces in batches, so memory does not grow with the length of the recording.
"""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="trained ASR experiment")
    p.add_argument("--data", required=True, help="data dir whose utterances make the recordings")
    p.add_argument("--minutes", type=float, nargs="+", default=[10.0, 120.0], help="recording lengths")
    p.add_argument("--gap", type=float, default=1.0, help="silence between utterances in seconds (default 1)")
    p.add_argument("--mode", default=None, help="decode mode of transcribe (greedy for Whisper)")
    p.add_argument("--split-pause-seconds", type=float, default=0.0,
                   help="transcribe --split-pause-seconds: cut at every pause this long (0: only at the window end)")
    p.add_argument("--pause-pad-seconds", type=float, nargs="+", default=None,
                   help="transcribe --pause-pad-seconds: keep this much of each pause around the speech, drop the "
                        "rest; several values: one row each (default: cut in the middle of the pause)")
    p.add_argument("--normalize", default="whisper_en", help="text normalisation of the scoring")
    p.add_argument("--out", required=True, help="output dir (recordings, transcripts, result.json, result.md)")
    p.add_argument("--keep-audio", action="store_true", help="keep the long recordings (large)")
    return p


def build_recording(data, minutes: float, gap: float, rate: int = 16000):
    """``(waveform, reference words, utterance ids)``: the utterances in order, ``gap`` s of silence after each,
    repeated until ``minutes`` are filled (the last utterance that fits is the last one)."""
    target = int(minutes * 60 * rate)
    silence = np.zeros(int(gap * rate), dtype=np.float32)
    pieces: List[np.ndarray] = []
    words: List[str] = []
    ids: List[str] = []
    total = 0
    waves: Dict[str, np.ndarray] = {}  # each utterance is read once, however often the recording repeats it
    while True:
        added = False
        for utt in data.utts:
            if utt not in waves:
                waves[utt] = np.asarray(data.load_audio(utt, sample_rate=rate)[0], dtype=np.float32)
            wave = waves[utt]
            if total + len(wave) + len(silence) > target:
                return np.concatenate(pieces) if pieces else np.zeros(0, np.float32), words, ids
            pieces += [wave, silence]
            words += data.text[utt].split()
            ids.append(utt)
            total += len(wave) + len(silence)
            added = True
        if not added:
            break
    return np.concatenate(pieces), words, ids


def _run_measured(cmd: List[str], stdout_path: Path) -> Dict[str, float]:
    """Run ``cmd`` with stdout to a file; its wall time and peak RSS (of the process and its children)."""
    start = time.time()
    with open(stdout_path, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SpeechprocError(f"{shlex.join(cmd)} failed with exit code {code}")
    return {"wall_seconds": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024.0, 1)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    import soundfile as sf

    from speechproc.data.datadir import DataDir
    from speechproc.score.asr import score
    from speechproc.score.results import write_benchmark

    args = get_parser().parse_args(argv)
    setup_logging()
    data = DataDir.load(args.data)
    if data.text is None:
        raise SpeechprocError(f"{args.data}: no text file; the benchmark scores against the transcripts")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: List[Dict[str, object]] = []

    # the same utterances one by one (the reference point of the long transcripts)
    one_by_one = out / "one_by_one.txt"
    cmd = [sys.executable, "-m", "speechproc.bin.transcribe", "--exp-dir", args.exp_dir, "--data", args.data]
    if args.mode:
        cmd += ["--mode", args.mode]
    stats = _run_measured(cmd, one_by_one)
    hyp = dict(line.rstrip("\n").partition(" ")[::2] for line in one_by_one.read_text().splitlines())
    res = score(dict(data.text), hyp, "word", normalize=args.normalize)
    audio_s = float(sum((data.with_utt2dur().utt2dur or {}).values()))
    rows.append({"recording": f"{len(data)} utterances one by one", "minutes": round(audio_s / 60, 1),
                 "wer": round(res.error_rate, 2), "wer_one_by_one": round(res.error_rate, 2), **stats,
                 "rtf": round(stats["wall_seconds"] / audio_s, 4)})
    for minutes in args.minutes:
        wave, words, ids = build_recording(data, minutes, args.gap)
        wav = out / f"long_{minutes:g}min.wav"
        sf.write(wav, wave, 16000, subtype="PCM_16")
        # the same utterances in the same order, decoded one by one and joined: the like-for-like reference
        same = score({"long": " ".join(words)}, {"long": " ".join(hyp.get(u, "") for u in ids)}, "word",
                     normalize=args.normalize)
        for pad in args.pause_pad_seconds or [None]:
            cmd = [sys.executable, "-m", "speechproc.bin.transcribe", "--exp-dir", args.exp_dir, str(wav),
                   "--split-pause-seconds", str(args.split_pause_seconds)]
            if pad is not None:
                cmd += ["--pause-pad-seconds", str(pad)]
            if args.mode:
                cmd += ["--mode", args.mode]
            txt = out / (f"long_{minutes:g}min.txt" if pad is None else f"long_{minutes:g}min_pad{pad:g}.txt")
            logger.info("transcribing %s (%.1f min)", wav, len(wave) / 16000 / 60)
            stats = _run_measured(cmd, txt)
            text = txt.read_text(encoding="utf-8").strip().partition(" ")[2]
            res = score({"long": " ".join(words)}, {"long": text}, "word", normalize=args.normalize)
            where = "" if pad is None else f", pieces keep {pad:g} s of each pause"
            rows.append({"recording": f"{len(wave) / 16000 / 60:.1f} min, utterances + {args.gap:g}-s gaps{where}",
                         "minutes": round(len(wave) / 16000 / 60, 1), "wer": round(res.error_rate, 2),
                         "wer_one_by_one": round(same.error_rate, 2), **stats,
                         "rtf": round(stats["wall_seconds"] / (len(wave) / 16000), 4)})
        if not args.keep_audio:
            wav.unlink()
    result = {"exp_dir": args.exp_dir, "data": args.data, "gap": args.gap, "mode": args.mode,
              "split_pause_seconds": args.split_pause_seconds, "pause_pad_seconds": args.pause_pad_seconds,
              "command": shlex.join(["python", "-m", "speechproc.bin.benchmark_long_audio"]
                                    + list(sys.argv[1:] if argv is None else argv)), "rows": rows}
    lines = ["| recording | minutes | WER % | the same utterances one by one: WER % | peak RSS MB | wall s | "
             "RTF (1 thread) |", "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['recording']} | {r['minutes']} | {r['wer']:.2f} | {r['wer_one_by_one']:.2f} | "
              f"{r['peak_rss_mb']:.0f} | {r['wall_seconds']:.0f} | {r['rtf']:.3f} |" for r in rows]
    write_benchmark(out, result, "\n".join(lines))
    return 0


if __name__ == "__main__":
    run_verb(main)
