"""Convert a data dir with a trained voice converter into a conversion dir (a data dir of wavs).

    convert_vc --exp-dir exp/SF1_TF1_gmm --data data/SF1_eval exp/SF1_TF1_gmm/convert_SF1_eval
    convert_vc --exp-dir exp/SF1_TF1_gmm --data data/SF1_eval --nj 4 --cmd slurm OUT_DIR

Writes ``OUT_DIR/wav/<utt>.wav`` (16 kHz), ``wav.scp``, ``utt2spk``, ``spk2utt`` (and ``text`` when
the input has one), ``convert.json`` (command, audio seconds, conversion seconds, real-time factor)
and with ``--nj N`` one log per job (``logs/convert.JOB.log``, ``JOB=1:N`` through :mod:`speechproc.launch`).
Each utterance is converted by ``VoiceConverter.from_pretrained(exp_dir)(wave, sample_rate)``.
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from speechproc.utils import atomic_output_dir, atomic_write_text, run_verb, setup_logging

__all__ = ["get_parser", "main"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``convert_vc``."""
    p = argparse.ArgumentParser(prog="convert_vc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="trained converter (vc.json + model)")
    p.add_argument("--data", required=True, help="source speaker's data dir to convert")
    p.add_argument("--nj", type=int, default=1, help="parallel jobs (JOB=1:nj)")
    p.add_argument("--cmd", default="local", choices=["local", "slurm"], help="job backend")
    p.add_argument("--cmd-conf", default=None, help="launch configuration yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="conversion-time option, e.g. vocoder=griffin_lim, gmm.mixture=best, gv_postfilter=0.5")
    p.add_argument("--max-utts", type=int, default=None, help="convert only the first N utterances")
    p.add_argument("--job", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("out_dir", help="conversion dir to write")
    return p


def _run_job(exp_dir: str, data: str, out: Path, overrides: Sequence[str] = ()) -> None:
    import torch

    from speechproc.bin.train_vc import parse_overrides
    from speechproc.vc.convert import VoiceConverter, convert_data_dir

    torch.set_num_threads(1)
    conv = VoiceConverter.from_pretrained(exp_dir, parse_overrides(overrides))
    timing = convert_data_dir(conv, data, out)
    atomic_write_text(out / "timing.json", json.dumps(timing) + "\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert every utterance (split into jobs when --nj > 1) and write the conversion dir."""
    args = get_parser().parse_args(argv)
    setup_logging()
    from speechproc.data import DataDir

    if args.job is not None:
        part = Path(args.out_dir) / "split" / str(args.job)
        _run_job(args.exp_dir, str(part / "data"), part, args.set)
        return 0
    out_dir = Path(args.out_dir)
    data = DataDir.load(args.data)
    if args.max_utts:
        data = data.subset_first(args.max_utts)
    start = time.time()
    with atomic_output_dir(out_dir) as tmp:
        nj = max(1, min(args.nj, len(data.utts)))
        if nj == 1:
            src = args.data
            if args.max_utts:
                data.save(tmp / "split" / "1" / "data")
                src = str(tmp / "split" / "1" / "data")
            _run_job(args.exp_dir, src, tmp, args.set)
            timing = json.loads((tmp / "timing.json").read_text())
            (tmp / "timing.json").unlink()
        else:
            from speechproc.launch import launch

            for j, part in enumerate(data.split(nj), 1):
                part.save(tmp / "split" / str(j) / "data")
            words = [sys.executable, "-m", "speechproc.bin.convert_vc", "--exp-dir", args.exp_dir, "--data", args.data,
                     "--job", "JOB"] + [f"--set={o}" for o in args.set] + [str(tmp)]
            conf = args.cmd_conf if args.cmd_conf and (args.cmd == "slurm" or Path(args.cmd_conf).is_file()) else None
            launch(args.cmd, words, nj=nj, log=str(tmp / "logs" / "convert.JOB.log"), conf=conf)
            timing = {"audio_seconds": 0.0, "convert_seconds": 0.0}
            wav_scp, utt2spk, text = {}, {}, {}
            (tmp / "wav").mkdir()
            for j in range(1, nj + 1):
                part_dir = tmp / "split" / str(j)
                t = json.loads((part_dir / "timing.json").read_text())
                timing["audio_seconds"] += t["audio_seconds"]
                timing["convert_seconds"] += t["convert_seconds"]
                part = DataDir.load(part_dir)
                for u in part.utts:
                    wav = tmp / "wav" / f"{u}.wav"
                    Path(part.wav_scp[u]).replace(wav)
                    wav_scp[u] = str((out_dir / "wav" / f"{u}.wav").resolve())
                    utt2spk[u] = part.utt2spk[u]
                    if part.text is not None:
                        text[u] = part.text[u]
            DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text or None).write_files(tmp)
        shutil.rmtree(tmp / "split", ignore_errors=True)  # the job inputs; the wavs were moved out
        if nj == 1:
            # wav.scp was written with the temporary dir's paths: point it at the final location
            d = DataDir.load(tmp, validate=False)
            DataDir(wav_scp={u: str((out_dir / "wav" / f"{u}.wav").resolve()) for u in d.utts}, utt2spk=dict(d.utt2spk),
                    text=None if d.text is None else dict(d.text)).write_files(tmp)
        wall = time.time() - start
        info = {
            "command": " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.convert_vc",
                                                            *(sys.argv[1:] if argv is None else argv)]),
            "exp_dir": args.exp_dir, "data": args.data, "overrides": args.set, "nj": nj, "utterances": len(data.utts),
            "audio_seconds": round(timing["audio_seconds"], 2),
            "convert_seconds": round(timing["convert_seconds"], 2), "wall_seconds": round(wall, 2),
            "rtf": round(timing["convert_seconds"] / max(timing["audio_seconds"], 1e-9), 4),
        }
        atomic_write_text(tmp / "convert.json", json.dumps(info, indent=2) + "\n")
    logger.info("converted %d utterances (%.1f s of audio) into %s; RTF %.3f", info["utterances"],
                info["audio_seconds"], out_dir, info["rtf"])
    return 0


if __name__ == "__main__":
    run_verb(main)
