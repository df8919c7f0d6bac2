"""Cut every aligned word out of its recording into a data dir of one-word utterances (short spoken commands).

    python -m speechproc.bin.cut_words --data data/test --ctm exp/align_test/ctm --context 0.1 data/test_words
    python -m speechproc.bin.cut_words --data data/test --ctm exp/align_test/ctm --band-limit 8000 data/test_words_8k

Clip boundaries: :func:`speechproc.decode.align.word_cuts` (the word's sound around its CTC span plus
``--context`` seconds, never into a neighbour's share). ``--band-limit R`` resamples each clip to R Hz and
back (telephone or car audio). Writes ``wav/<utt>-wNN.wav`` (16-bit, the data's rate) with ``wav.scp``,
``text`` (the word), ``utt2spk``, ``utt2dur`` and ``segments.tsv`` (where each clip came from).
"""
from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from speechproc.utils import SpeechprocError, atomic_output_dir, run_verb, setup_logging

__all__ = ["get_parser", "main", "read_ctm"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cut_words", description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", help="data dir to write")
    p.add_argument("--data", required=True, help="the data dir that was aligned")
    p.add_argument("--ctm", required=True, help="align_words output (utt 1 start duration word [score])")
    p.add_argument("--context", type=float, default=0.1, help="seconds of audio kept on each side of a word (0.1)")
    p.add_argument("--band-limit", type=int, default=None, help="resample every clip to this rate and back (e.g. 8000)")
    return p


def read_ctm(path: str) -> Dict[str, List[Tuple[float, float, str]]]:
    """utt -> [(start, end, word)] in file order; a malformed line is an error naming it."""
    out: Dict[str, List[Tuple[float, float, str]]] = defaultdict(list)
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        f = line.split()
        if not f:
            continue
        try:
            start, dur = float(f[2]), float(f[3])
            word = f[4]
        except (IndexError, ValueError):
            raise SpeechprocError(f"{path}:{n}: expected 'utt channel start duration word [score]', got '{line}'") from None
        out[f[0]].append((start, start + dur, word))
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    import numpy as np
    import soundfile as sf
    from tqdm import tqdm

    from speechproc.data.audio import resample
    from speechproc.data.datadir import DataDir
    from speechproc.decode.align import word_cuts

    data = DataDir.load(args.data)
    ctm = read_ctm(args.ctm)
    known = set(data.utts)
    missing = [u for u in ctm if u not in known]
    if missing:
        raise SpeechprocError(f"{args.ctm}: utterances not in {args.data}: {missing[:3]}; align this data dir again")
    with atomic_output_dir(Path(args.out_dir)) as tmp:
        (tmp / "wav").mkdir()
        wav_scp, text, utt2spk, utt2dur, where = {}, {}, {}, {}, []
        final = Path(args.out_dir).resolve()
        for utt in tqdm(sorted(ctm), desc="cut_words", unit="utt"):
            wave, sr = data.load_audio(utt)
            words = ctm[utt]
            if data.text is not None and [w for _, _, w in words] != data.text[utt].split():
                raise SpeechprocError(f"{args.ctm}: the words of {utt} differ from its transcript in {args.data}; "
                                      f"align this data dir again")
            for k, ((s, e), (_, _, word)) in enumerate(zip(word_cuts(wave, sr, [(s, e) for s, e, _ in words],
                                                                     context=args.context), words)):
                clip = wave[int(s * sr): int(np.ceil(e * sr))]
                if args.band_limit:
                    clip = resample(resample(clip, sr, args.band_limit), args.band_limit, sr)[: len(clip)]
                uid = f"{utt}-w{k:02d}"
                sf.write(str(tmp / "wav" / f"{uid}.wav"), np.clip(clip, -1, 1), sr, subtype="PCM_16")
                wav_scp[uid] = str(final / "wav" / f"{uid}.wav")
                text[uid] = word
                utt2spk[uid] = data.utt2spk[utt]
                utt2dur[uid] = round(len(clip) / sr, 4)
                where.append(f"{uid}\t{utt}\t{s:.3f}\t{e:.3f}")
        DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text, utt2dur=utt2dur).write_files(tmp)
        (tmp / "segments.tsv").write_text("utt\trecording_utt\tstart\tend\n" + "\n".join(where) + "\n", encoding="utf-8")
    DataDir.load(args.out_dir)  # validates what was written
    logger.info("wrote %s: %d one-word clips from %d utterances", args.out_dir, len(text), len(ctm))
    return 0


if __name__ == "__main__":
    run_verb(main)
