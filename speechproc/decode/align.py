"""Word alignment with a CTC model and cutting words out of recordings.

- :func:`ctc_word_frames`: Viterbi forced alignment of a transcript to a CTC model's frame posteriors
  (``torchaudio.functional.forced_align``) and the encoder frames each word's tokens occupy.
- :func:`word_cuts`: clip boundaries in seconds around each aligned word. CTC emits a token as a spike
  of one or two frames somewhere inside (or just after) its sound, so the spike alone does not bound the
  word: each word owns the stretch between the midpoints of the gaps to its neighbours' spikes, the
  word's sound is the run of frames above an energy floor that contains (or is nearest to) its spike
  within that stretch, and the clip is that run plus ``context`` seconds on each side, never crossing
  into a neighbour's stretch.
- :class:`CTCAligner` (a trained CTC/attention experiment, its own CTC head) and :class:`WhisperCTCAligner` (a
  fine-tuned Whisper experiment and a character CTC head fitted on its frozen encoder): word spans of a
  transcript in a waveform, for the ``align_words`` verb (Kaldi CTM lines ``utt 1 start duration word``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["WordSpan", "ctc_word_frames", "word_cuts", "CTCAligner", "WhisperCTCAligner"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WordSpan:
    """One aligned word: its text, first and last-plus-one encoder frame of its tokens, and mean token
    log-probability along the alignment."""

    word: str
    start: int
    end: int
    score: float


def ctc_word_frames(logp: torch.Tensor, words: Sequence[str], word_ids: Sequence[Sequence[int]],
                    blank: int) -> List[WordSpan]:
    """Forced alignment of ``words`` (token ids ``word_ids``, one list per word) to CTC log-probabilities
    ``logp`` ``(T, V)``; the frames of each word's tokens."""
    flat = [t for ids in word_ids for t in ids]
    owner = [i for i, ids in enumerate(word_ids) for _ in ids]
    if any(len(ids) == 0 for ids in word_ids):
        bad = [w for w, ids in zip(words, word_ids) if not ids]
        raise SpeechprocError(f"words without tokens cannot be aligned: {bad}")
    repeats = sum(1 for a, b in zip(flat, flat[1:]) if a == b)
    if logp.shape[0] < len(flat) + repeats:
        raise SpeechprocError(f"{logp.shape[0]} frames are too few for {len(flat)} tokens ({repeats} repeated)")
    from torchaudio.functional import forced_align, merge_tokens

    path, scores = forced_align(logp[None].float(), torch.tensor([flat], dtype=torch.int32), blank=blank)
    spans = merge_tokens(path[0], scores[0], blank=blank)
    if len(spans) != len(flat):
        raise SpeechprocError(f"alignment gave {len(spans)} token spans for {len(flat)} tokens")
    out: List[WordSpan] = []
    for i, w in enumerate(words):
        mine = [s for s, o in zip(spans, owner) if o == i]
        out.append(WordSpan(w, mine[0].start, mine[-1].end, float(np.mean([s.score for s in mine]))))
    return out


def _frame_energy_db(wave: np.ndarray, sample_rate: int, hop: float = 0.01, win: float = 0.025) -> np.ndarray:
    h, n = int(round(hop * sample_rate)), int(round(win * sample_rate))
    if len(wave) < n:
        wave = np.pad(wave, (0, n - len(wave)))
    frames = np.lib.stride_tricks.sliding_window_view(wave.astype(np.float64), n)[::h]
    return 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)


def word_cuts(wave: np.ndarray, sample_rate: int, spans: Sequence[Tuple[float, float]], context: float = 0.1,
              floor_db: Optional[float] = None, above_floor_db: float = 12.0, max_gap: float = 0.1
              ) -> List[Tuple[float, float]]:
    """Clip boundaries ``(start, end)`` in seconds for words whose CTC spikes span ``spans`` (seconds,
    in order); see the module docstring. ``floor_db``: the recording's noise floor (default: its 10th
    percentile frame energy); a frame is sound when ``above_floor_db`` over it; gaps of sound up to
    ``max_gap`` seconds stay inside one word."""
    hop = 0.01
    energy = _frame_energy_db(np.asarray(wave), sample_rate, hop)
    dur = len(wave) / sample_rate
    floor = float(np.percentile(energy, 10)) if floor_db is None else float(floor_db)
    loud = energy > floor + above_floor_db
    gap = int(round(max_gap / hop))
    out: List[Tuple[float, float]] = []
    for i, (s, e) in enumerate(spans):
        lo = 0.0 if i == 0 else (spans[i - 1][1] + s) / 2
        hi = dur if i == len(spans) - 1 else (e + spans[i + 1][0]) / 2
        f_lo, f_hi = int(lo / hop), min(len(loud), int(np.ceil(hi / hop)))
        seed = [f for f in range(int(s / hop), min(f_hi, int(np.ceil(e / hop)) + 1)) if f_lo <= f < f_hi and loud[f]]
        if not seed:  # the spike sits in a quiet frame: the nearest sound in the word's stretch
            near = [f for f in range(f_lo, f_hi) if loud[f]]
            seed = [min(near, key=lambda f: abs(f * hop - (s + e) / 2))] if near else []
        if seed:
            a, b = min(seed), max(seed)
            while True:  # grow over sound, bridging gaps of up to max_gap
                left = [f for f in range(max(f_lo, a - gap - 1), a) if loud[f]]
                right = [f for f in range(b + 1, min(f_hi, b + gap + 2)) if loud[f]]
                if not left and not right:
                    break
                a = min(left) if left else a
                b = max(right) if right else b
            start, end = a * hop + 0.0125, b * hop + 0.0125  # the centres of the first and last 25-ms windows
        else:
            start, end = s, e
        out.append((max(lo, start - context, 0.0), min(hi, end + context, dur)))
    return out


class CTCAligner:
    """Word alignment with a trained CTC/attention experiment (fbank input, a CTC head).

    >>> aligner = CTCAligner.from_pretrained("exp/asr_conformer")        # doctest: +SKIP
    >>> aligner.align(wave, 16000, "R O B E R T")                         # doctest: +SKIP
    [WordSpan(word='R', start=12, end=13, score=-0.01), ...]
    """

    def __init__(self, s2t) -> None:
        if not hasattr(s2t.model, "ctc_logprobs") or s2t.input != "fbank":
            raise SpeechprocError("CTC alignment needs a model with a CTC head on fbank input (a Conformer/"
                                  "Transformer CTC/attention experiment)")
        self.s2t = s2t

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, device: str = "cpu") -> "CTCAligner":
        from speechproc.decode.asr import Speech2Text

        return cls(Speech2Text.from_pretrained(exp_dir, device=device, mode="greedy_ctc"))

    @property
    def sample_rate(self) -> int:
        return int(self.s2t.fbank_config.sample_rate)

    @torch.no_grad()
    def align(self, wave: np.ndarray, text: str) -> Tuple[List[WordSpan], float]:
        """Word spans of ``text`` in ``wave`` (at :attr:`sample_rate`) and the seconds per encoder frame."""
        s2t = self.s2t
        words = text.split()
        if not words:
            raise SpeechprocError("nothing to align: the transcript is empty")
        tok = s2t.tokenizer
        word_ids = [tok.encode(w) for w in words]
        unk = [w for w, ids in zip(words, word_ids) if tok.unk_id in ids]
        if unk:
            raise SpeechprocError(f"words with symbols the tokenizer does not know: {unk}")
        feats, lengths = s2t.features([wave])
        if s2t.normalize is not None:
            feats, _ = s2t.normalize(feats, lengths)
        enc, enc_lengths = s2t.model.encode(feats, lengths)
        logp = s2t.model.ctc_logprobs(enc)[0, : int(enc_lengths[0])]
        sub = max(1, round(int(lengths[0]) / max(1, int(enc_lengths[0]))))  # the encoder's subsampling
        shift = float(s2t.fbank_config.frame_shift) / 1000 * sub
        return ctc_word_frames(logp, words, word_ids, tok.blank_id), shift


class WhisperCTCAligner:
    """Word alignment with a fine-tuned Whisper experiment, which has no CTC head of its own: a character CTC
    head (a linear layer, blank = 0) is fitted on the frozen encoder's output for a training data dir
    (:meth:`fit`; the encoder runs once per utterance, the head trains on the cached states in seconds), then
    forced alignment runs on its posteriors (one frame per 20 ms). The head is saved with :meth:`save` and
    read back with :meth:`load`.

    >>> al = WhisperCTCAligner.from_pretrained("exp/finetune_lora")    # doctest: +SKIP
    >>> al.fit(DataDir.load("data/train_nodev")); al.save("exp/align/ctc_head.pt")  # doctest: +SKIP
    """

    sample_rate = 16000      # Whisper's input rate
    frame_seconds = 0.02     # one encoder state per two 10-ms log-mel hops

    def __init__(self, s2t) -> None:
        if not hasattr(s2t.model, "window_samples") or not hasattr(s2t.model, "hf"):
            raise SpeechprocError("a Whisper CTC head needs a fine-tuned Whisper experiment (task whisper)")
        self.model = s2t.model
        self.chars: List[str] = []
        self.index: Dict[str, int] = {}   # character -> head output (0 is the blank)
        self.head: Optional[torch.nn.Linear] = None

    def _set_chars(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)
        self.index = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, device: str = "cpu") -> "WhisperCTCAligner":
        from speechproc.decode.asr import Speech2Text

        return cls(Speech2Text.from_pretrained(exp_dir, device=device, mode="greedy"))

    @torch.no_grad()
    def states(self, wave: np.ndarray) -> torch.Tensor:
        """Encoder states ``(T, d_model)`` of the frames that hold audio (one per 20 ms: two log-mel hops)."""
        w = torch.as_tensor(np.asarray(wave, dtype=np.float32))
        n = len(w)
        if n > self.model.window_samples:
            raise SpeechprocError(f"{n / self.sample_rate:.2f} s of audio is longer than the model's "
                                  f"{self.model.window_samples / self.sample_rate:.2f}-s window")
        enc = self.model.encode(w[None], torch.tensor([n]))[0]
        return enc[: max(1, int(np.ceil(n / (self.frame_seconds * self.sample_rate))))].float()

    def _ids(self, word: str) -> List[int]:
        bad = sorted({c for c in word if c not in self.index})
        if bad:
            raise SpeechprocError(f"word '{word}' has characters the CTC head was not fitted on: {bad}")
        return [self.index[c] for c in word]

    def fit(self, data, epochs: int = 40, lr: float = 3e-3, seed: int = 0, progress: bool = True) -> Dict[str, float]:
        """Fit the head on the utterances of ``data`` (a :class:`~speechproc.data.datadir.DataDir` with text);
        returns the last epoch's mean CTC loss per frame and the greedy character error rate on those utterances."""
        from tqdm import tqdm

        if data.text is None:
            raise SpeechprocError(f"{data.source}: fitting a CTC head needs transcripts (a text file)")
        self._set_chars(sorted({c for t in data.text.values() for c in t if not c.isspace()}))
        feats, targets = [], []
        for utt in tqdm(data.utts, desc="encoder states", unit="utt", disable=not progress):
            wave, _ = data.load_audio(utt, sample_rate=self.sample_rate)
            feats.append(self.states(wave))
            targets.append([i for w in data.text[utt].split() for i in self._ids(w)])
        torch.manual_seed(seed)
        d = feats[0].shape[-1]
        self.head = torch.nn.Linear(d, len(self.chars) + 1)
        opt = torch.optim.Adam(self.head.parameters(), lr=lr)
        order = torch.Generator().manual_seed(seed)
        last = 0.0
        for _ in tqdm(range(epochs), desc="CTC head", unit="epoch", disable=not progress):
            total, frames = 0.0, 0
            for b in torch.randperm(len(feats), generator=order).split(32):
                x = torch.nn.utils.rnn.pad_sequence([feats[i] for i in b], batch_first=True)
                xl = torch.tensor([len(feats[i]) for i in b])
                y = torch.cat([torch.tensor(targets[i]) for i in b])
                yl = torch.tensor([len(targets[i]) for i in b])
                logp = torch.log_softmax(self.head(x), -1).transpose(0, 1)
                loss = torch.nn.functional.ctc_loss(logp, y, xl, yl, blank=0, reduction="sum", zero_infinity=True)
                opt.zero_grad()
                (loss / int(xl.sum())).backward()
                opt.step()
                total, frames = total + float(loss.detach()), frames + int(xl.sum())
            last = total / frames
        import jiwer

        errors = chars = 0
        with torch.no_grad():
            for f, t in zip(feats, targets):
                best = torch.unique_consecutive(self.head(f).argmax(-1))
                hyp = "".join(self.chars[i - 1] for i in best.tolist() if i)
                ref = "".join(self.chars[i - 1] for i in t)
                out = jiwer.process_characters(ref, hyp)
                chars += len(ref)
                errors += out.substitutions + out.deletions + out.insertions
        return {"ctc_loss_per_frame": last, "greedy_cer": 100.0 * errors / max(1, chars)}

    def save(self, path: PathLike) -> None:
        if self.head is None:
            raise SpeechprocError("no CTC head: fit it first")
        torch.save({"chars": self.chars, "state": self.head.state_dict()}, str(path))

    def load(self, path: PathLike) -> "WhisperCTCAligner":
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
            self._set_chars(obj["chars"])
            state = obj["state"]
            self.head = torch.nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
            self.head.load_state_dict(state)
        except Exception as e:  # unreadable, not a torch file, or another dict: one clear message
            raise SpeechprocError(f"{path}: not a CTC head written by align_words ({type(e).__name__}); fit it "
                                  f"again") from None
        return self

    @torch.no_grad()
    def align(self, wave: np.ndarray, text: str) -> Tuple[List[WordSpan], float]:
        """Word spans of ``text`` in ``wave`` (16 kHz) and the seconds per frame (0.02)."""
        if self.head is None:
            raise SpeechprocError("no CTC head: fit or load it first")
        words = text.split()
        if not words:
            raise SpeechprocError("nothing to align: the transcript is empty")
        logp = torch.log_softmax(self.head(self.states(wave)), -1)
        return ctc_word_frames(logp, words, [self._ids(w) for w in words], 0), self.frame_seconds

