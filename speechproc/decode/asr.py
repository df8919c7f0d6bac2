"""ASR inference: :class:`Speech2Text` (``from_pretrained(exp_dir)``, ``__call__(wav)``).

Decoding modes (``mode`` in the decode yaml):

- ``beam``: batched joint CTC/attention beam search (SpeechBrain's ``S2STransformerBeamSearcher``,
  through :class:`speechproc.decode.searcher.JointBeamSearcher`, which makes ``ctc_weight: 1.0`` work,
  with ``CTCScorer`` prefix scoring, optional ``TransformerLMScorer`` shallow fusion and
  ``LengthScorer`` bonus). Score = (1 - ctc_weight) * attention + ctc_weight * CTC
  + lm_weight * LM + length_bonus * length. The attention decoder runs position by position with cached keys
  and values (:class:`speechproc.decode.searcher.CachedTransformerDecoder`, the same scores as SpeechBrain's
  full recomputation of the prefix at every step) and the CTC prefix scores come from the project's loop-free
  version of SpeechBrain's scorer; ``fast_search: false`` runs SpeechBrain's own search (same hypotheses, slower).
- ``greedy_ctc``: best-path CTC (fast, no decoder).
- ``greedy``: the model's own batched greedy decoding (pretrained sequence-to-sequence models
  such as :class:`~speechproc.models.pretrained.whisper_asr.WhisperASR`). Whisper models get Whisper's
  silence gate: no-speech probability above ``no_speech_threshold`` (0.6; null: off) and average token
  log-probability below ``logprob_threshold`` (-1.0) decode to an empty text; ``allow_empty: true`` lets the
  end of text come first (Whisper forbids it; models fine-tuned with empty transcripts need it).

Audio of any length: :meth:`Speech2Text.transcribe_batch` (and ``__call__``, the ``transcribe`` verb) cuts
a waveform longer than ``max_segment_seconds`` (at most the input window of a Whisper model) at pauses
(:func:`pause_cuts`), decodes the pieces in
batches of ``batch_seconds`` and joins their texts, so memory stays bounded and the encoder never sees
more than it was built for (a Conformer's positional table, Whisper's 30-s window).

Models trained on waveforms (yaml ``input: wave``: Whisper, wav2vec2-style encoders) get padded
waveforms instead of fbank features.

A decode yaml (``conf/decode_asr.yaml``) holds ``mode beam_size ctc_weight lm_weight length_bonus
max_decode_ratio batch_seconds max_segment_seconds``; the verb ``decode_asr`` writes a decode dir with ``text``
(hypotheses, Kaldi format) and ``decode.json`` (settings, timings, real-time factor).
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from speechproc.exp import load_trained_modules
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["DecodeConfig", "Speech2Text", "greedy_attention", "pause_cuts"]

logger = logging.getLogger(__name__)



DEFAULTS: Dict[str, object] = {
    "mode": "beam",
    "beam_size": 10,
    "ctc_weight": 0.3,
    "lm_weight": 0.0,
    "length_bonus": 0.0,
    "max_decode_ratio": 1.0,
    "min_decode_ratio": 0.0,
    "batch_seconds": 200.0,
    "temperature": 1.0,
    "max_segment_seconds": 30.0,
    "split_pause_seconds": 0.0,
    "pause_pad_seconds": None,
    "fast_search": True,
    "no_speech_threshold": 0.6,
    "logprob_threshold": -1.0,
    "allow_empty": False,
}


def DecodeConfig(path: Optional[PathLike] = None, _keep_none: bool = False, **overrides) -> Dict[str, object]:
    """Decode settings: :data:`DEFAULTS` < yaml file ``path`` < ``overrides`` (unknown keys are errors). An override
    of None means "not given" (command-line options), unless ``_keep_none`` (a complete config passed on, whose
    None values, such as ``no_speech_threshold: null``, were chosen)."""
    cfg = dict(DEFAULTS)
    sources = []
    if path is not None:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise SpeechprocError(f"{p}: decode config not found")
        sources.append((str(p), yaml.safe_load(p.read_text(encoding="utf-8")) or {}))
    sources.append(("arguments", {k: v for k, v in overrides.items() if v is not None or _keep_none}))
    for where, values in sources:
        for k, v in values.items():
            if k not in DEFAULTS:
                raise SpeechprocError(f"{where}: unknown decode option '{k}'; known: {', '.join(DEFAULTS)}")
            cfg[k] = v
    if cfg["mode"] not in ("beam", "greedy_ctc", "greedy"):
        raise SpeechprocError(f"decode option mode: '{cfg['mode']}' unknown; use beam, greedy_ctc or greedy")
    return cfg


def _middle_of_quietest(energy: np.ndarray) -> int:
    """Index in the middle of the run of frames around the minimum that are within 1 % (of the range) of it
    (a flat stretch of silence is cut in its middle, not at its first frame)."""
    i = int(np.argmin(energy))
    quiet = energy <= energy[i] + 0.01 * (float(energy.max()) - float(energy[i]))
    a, b = i, i
    while a > 0 and quiet[a - 1]:
        a -= 1
    while b + 1 < len(energy) and quiet[b + 1]:
        b += 1
    return (a + b) // 2


def pause_cuts(wave: np.ndarray, sample_rate: int, max_seconds: float, min_tail_seconds: float = 1.0,
               hop_seconds: float = 0.01, smooth_seconds: float = 0.2, split_pause_seconds: float = 0.0,
               pause_pad_seconds: Optional[float] = None) -> List[Tuple[int, int]]:
    """``(start, end)`` sample ranges of at most ``max_seconds`` that tile ``wave`` end to end.

    Each cut lies at the quietest ``smooth_seconds`` stretch (a pause between words where there is one)
    in the last third of its window; the window is shortened so that the last piece keeps at least
    ``min_tail_seconds``. Audio no longer than ``max_seconds`` is one piece. With ``split_pause_seconds``
    > 0, audio longer than ``max_seconds`` is first cut in the middle of every pause at least that long
    (frames 40 dB below the loudest, as a voice activity detector would), so that each piece holds one
    stretch of speech, as the utterances a model was trained on; pieces still too long are cut as above.
    ``pause_pad_seconds`` (with ``split_pause_seconds``): instead of cutting in the middle of a pause, keep that
    much of it on each side of the speech and drop the rest, as a voice activity detector pads its segments
    (silence at the start and end of the recording is dropped the same way). The pieces then no longer tile the
    audio: what lies between them is pause.
    """
    n = len(wave)
    max_len = int(max_seconds * sample_rate)
    if max_seconds <= 0:
        raise SpeechprocError(f"decode option max_segment_seconds must be > 0, not {max_seconds}")
    if n <= max_len:
        return [(0, n)]
    hop = max(1, int(hop_seconds * sample_rate))
    frames = n // hop
    raw = np.square(np.asarray(wave[: frames * hop], dtype=np.float64)).reshape(frames, hop).mean(axis=1)
    width = max(1, int(round(smooth_seconds / hop_seconds)))
    energy = np.convolve(raw, np.ones(width) / width, mode="same")
    if split_pause_seconds > 0:
        db = 10 * np.log10(raw + 1e-12)
        quiet = db < db.max() - 40.0
        need = max(1, int(round(split_pause_seconds / hop_seconds)))
        # no pad: the whole pause stays, cut in its middle (a pad wider than half the pause gives the same)
        pad = math.inf if pause_pad_seconds is None else max(0, int(pause_pad_seconds * sample_rate))
        spans, start, i = [], 0, 0  # (start, end) of the speech stretches between the pauses
        while i < frames:
            if quiet[i]:
                j = i
                while j + 1 < frames and quiet[j + 1]:
                    j += 1
                a, b = i * hop, (j + 1) * hop if j < frames - 1 else n
                if i == 0:  # leading silence
                    start = max(b - pad, 0)
                elif j == frames - 1:  # trailing silence
                    spans.append((start, min(a + pad, n)))
                    start = n
                elif j - i + 1 >= need:
                    mid = ((i + j) // 2) * hop if pause_pad_seconds is None else (a + b) // 2  # frame / sample middle
                    spans.append((start, min(a + pad, mid)))
                    start = max(b - pad, mid)
                i = j + 1
            else:
                i += 1
        if start < n:
            spans.append((start, n))
        spans = [(a, b) for a, b in spans if b > a] or [(0, n)]
    else:
        spans = [(0, n)]
    out: List[Tuple[int, int]] = []
    for a, b in spans:
        out += [(a + x, a + y) for x, y in _window_cuts(energy[a // hop: b // hop], b - a, hop, max_len,
                                                         min(int(min_tail_seconds * sample_rate), max_len // 2))]
    return out


def _window_cuts(energy: np.ndarray, n: int, hop: int, max_len: int, min_tail: int) -> List[Tuple[int, int]]:
    """Cuts of ``n`` samples (``energy``: their smoothed frame energies) into pieces of at most ``max_len``, each
    at the quietest point of the last third of its window (see :func:`pause_cuts`)."""
    cuts, start = [], 0
    while n - start > max_len:
        end = start + min(max_len, n - start - min_tail)
        lo, hi = (start + (2 * (end - start)) // 3) // hop, min(end // hop, len(energy))
        cut = (lo + _middle_of_quietest(energy[lo:hi])) * hop if hi > lo else end
        cut = min(max(cut, start + 1), end)
        cuts.append((start, cut))
        start = cut
    cuts.append((start, n))
    return cuts


@torch.no_grad()
def greedy_attention(model, enc: torch.Tensor, enc_lengths: torch.Tensor, sos: int, eos: int,
                     max_len: Optional[int] = None) -> List[List[int]]:
    """Greedy attention decoding (argmax each step until ``eos``), one utterance at a time.

    Args:
        model: a :class:`~speechproc.models.asr.ConformerASR`.
        enc: ``(B, T', d_model)`` encoder output; enc_lengths: ``(B,)``.

    Returns:
        token ids per utterance, without ``sos``/``eos``.
    """
    out = []
    for b in range(enc.shape[0]):
        n = int(enc_lengths[b])
        e = enc[b : b + 1, :n]
        seq = [sos]
        for _ in range(max_len or n):
            logp = model.decoder_logprobs(torch.tensor([seq], device=enc.device), e, enc_lengths[b : b + 1])
            nxt = int(logp[0, -1].argmax())
            if nxt == eos:
                break
            seq.append(nxt)
        out.append(seq[1:])
    return out


class _SearcherLinear(torch.nn.Module):
    """Exposes an ``nn.Linear`` as SpeechBrain's ``Linear`` (the searcher reads ``fc.w.out_features``)."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.w = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w(x)


class Speech2Text:
    """Speech recognizer around a trained :class:`~speechproc.models.asr.ConformerASR`.

    Args:
        model: the ASR model (eval mode).
        normalize: feature normalisation module (``(B, T, D), lengths -> (B, T, D), lengths``).
        tokenizer: the training tokenizer.
        fbank_config: :class:`~speechproc.features.fbank.FbankConfig` of the training features.
        lm: optional language model (``(B, L) tokens -> (B, L, V) logits``) for shallow fusion.
        device: torch device.
        **decode: decode settings (see :data:`DEFAULTS`).

    >>> s2t = Speech2Text.from_pretrained("exp/asr_conformer", beam_size=5)   # doctest: +SKIP
    >>> s2t(wave)                                                             # doctest: +SKIP
    'YES'
    """

    def __init__(self, model, normalize, tokenizer, fbank_config=None, lm=None, device: str = "cpu",
                 input: str = "fbank", onnx: Optional[PathLike] = None, **decode) -> None:
        from speechproc.features.fbank import FbankConfig

        self.model = model.to(device).eval()
        self.normalize = normalize.to(device).eval() if normalize is not None else None
        self.input = input
        self.tokenizer = tokenizer
        self.fbank_config = fbank_config or FbankConfig()
        self.lm = lm.to(device).eval() if lm is not None else None
        self.device = device
        self.config = DecodeConfig(_keep_none=True, **decode)
        window = getattr(self.model, "window_samples", None)  # Whisper: the input window the model was built with
        if window and float(self.config["max_segment_seconds"]) > window / self.fbank_config.sample_rate:
            self.config["max_segment_seconds"] = window / self.fbank_config.sample_rate
        if self.config["lm_weight"] and self.lm is None:
            raise SpeechprocError("decode option lm_weight > 0 needs a language model (--lm-dir)")
        mode = self.config["mode"]
        if mode == "greedy" and not hasattr(self.model, "greedy_decode"):
            raise SpeechprocError(f"decode mode greedy needs a model with its own greedy decoding (Whisper); "
                                  f"{type(self.model).__name__} has none: use beam or greedy_ctc")
        if mode == "beam" and not hasattr(self.model, "transformer"):
            raise SpeechprocError(f"decode mode beam needs a CTC/attention model; {type(self.model).__name__} "
                                  f"decodes with mode {'greedy' if hasattr(self.model, 'greedy_decode') else 'greedy_ctc'}")
        if mode == "greedy_ctc" and not hasattr(self.model, "ctc_logprobs"):
            raise SpeechprocError(f"decode mode greedy_ctc needs a CTC model; {type(self.model).__name__} has no CTC "
                                  f"head: use mode greedy")
        self.searcher = self._build_searcher() if self.config["mode"] == "beam" else None
        self.onnx = None
        if onnx is not None:  # the exported encoder + CTC head (speechproc.decode.onnx) replaces the PyTorch one
            from speechproc.decode.onnx import OnnxEncoder

            if self.input != "fbank" or mode == "greedy":
                raise SpeechprocError("an ONNX encoder serves Conformer/Transformer CTC models (decode modes "
                                      "greedy_ctc and beam), not Whisper-style models")
            self.onnx = OnnxEncoder(onnx)

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, decode_config: Optional[PathLike] = None,
                        lm_dir: Optional[PathLike] = None, device: str = "cpu", onnx: Optional[PathLike] = None,
                        **decode) -> "Speech2Text":
        """Load ``exp_dir`` (``hparams.yaml`` + averaged ``model.pt``) and optionally an LM exp dir; ``onnx``: an
        exported encoder (``EXP_DIR/onnx``, :func:`speechproc.decode.onnx.export_asr_onnx`) run with ONNX Runtime."""
        hparams, modules = load_trained_modules(exp_dir, device=device)
        lm = None
        if lm_dir is not None:
            _, lm_modules = load_trained_modules(lm_dir, device=device)
            lm = lm_modules["model"]
        cfg = DecodeConfig(decode_config, **decode)
        fbank_config = None
        train_data = hparams.get("train_data")
        if train_data and (Path(train_data) / "fbank.json").is_file():
            from speechproc.features.fbank import load_fbank_config

            fbank_config = load_fbank_config(train_data)
        return cls(modules["model"], modules.get("normalize"), hparams["tokenizer"], fbank_config, lm, device,
                   input=hparams.get("input", "fbank"), onnx=onnx, **cfg)

    # ------------------------------------------------------------------
    def _build_searcher(self):
        from speechbrain.decoders.scorer import CTCScorer, LengthScorer, ScorerBuilder, TransformerLMScorer

        from speechproc.decode.searcher import FastCTCScorer, FastTransformerLMScorer, JointBeamSearcher

        c = self.config
        tok = self.tokenizer
        eos, blank, vocab = tok.eos_id, tok.blank_id, tok.vocab_size
        full, weights = [], {}
        ctc_weight = float(c["ctc_weight"])
        if ctc_weight > 0:
            kind = FastCTCScorer if c["fast_search"] else CTCScorer
            full.append(kind(ctc_fc=self.model.ctc_lin, blank_index=blank, eos_index=eos))
            weights["ctc"] = ctc_weight
        if float(c["lm_weight"]) > 0:
            kind = FastTransformerLMScorer if c["fast_search"] else TransformerLMScorer
            full.append(kind(language_model=self.lm, temperature=float(c["temperature"])))
            weights["transformerlm"] = float(c["lm_weight"])
        if float(c["length_bonus"]) != 0:
            full.append(LengthScorer(vocab_size=vocab))
            weights["length"] = float(c["length_bonus"])
        scorer = ScorerBuilder(full_scorers=full, weights=weights) if full else None
        # <sos> and <eos> share one id (ESPnet token lists); SpeechBrain refuses bos == eos when
        # CTC scoring is on, although bos is only the first decoder input: build with another id
        # and set bos afterwards.
        searcher = JointBeamSearcher(
            modules=[self.model.transformer, _SearcherLinear(self.model.seq_lin)],
            bos_index=tok.unk_id if ctc_weight > 0 else eos,
            eos_index=eos,
            min_decode_ratio=float(c["min_decode_ratio"]),
            max_decode_ratio=float(c["max_decode_ratio"]),
            beam_size=int(c["beam_size"]),
            using_eos_threshold=False,
            length_normalization=float(c["length_bonus"]) == 0,
            scorer=scorer,
            cached=bool(c["fast_search"]),
        )
        searcher.bos_index = eos
        return searcher

    def features(self, waves: Sequence[Union[np.ndarray, torch.Tensor]], sample_rate: Optional[int] = None):
        """Model input of each waveform, padded: fbank ``(B, T, D)`` (or, for ``input: wave``
        models, the waveforms ``(B, T)``) and ``(B,)`` lengths."""
        from speechproc.data.audio import resample
        from speechproc.features.fbank import compute_fbank

        feats = []
        for w in waves:
            w = np.asarray(w, dtype=np.float32)
            if sample_rate is not None and sample_rate != self.fbank_config.sample_rate:
                w = resample(w, sample_rate, self.fbank_config.sample_rate)
            feats.append(torch.from_numpy(w) if self.input == "wave" else compute_fbank(w, self.fbank_config))
        if self.input == "wave":
            lengths = torch.tensor([len(f) for f in feats], dtype=torch.long)
            return torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), lengths
        return self.pad(feats)

    @staticmethod
    def pad(feats: Sequence[torch.Tensor]):
        """Pad a list of ``(T_i, D)`` tensors to ``(B, T, D)``; returns it and ``(B,)`` lengths."""
        lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
        out = torch.zeros(len(feats), int(lengths.max()), feats[0].shape[1])
        for i, f in enumerate(feats):
            out[i, : f.shape[0]] = torch.as_tensor(f)
        return out, lengths

    @torch.no_grad()
    def decode_ids(self, feats: torch.Tensor, lengths: torch.Tensor) -> List[List[int]]:
        """Token ids of a padded batch of features ``(B, T, D)`` with frame counts ``(B,)``."""
        from speechproc.models.asr.ctc import ctc_greedy_ids

        feats, lengths = feats.to(self.device), lengths.to(self.device)
        if self.config["mode"] == "greedy":
            if getattr(self.model, "no_speech_id", None) is not None:  # Whisper: its silence gate
                ns = self.config["no_speech_threshold"]
                return self.model.greedy_decode(feats, lengths, no_speech_threshold=None if ns is None else float(ns),
                                                logprob_threshold=float(self.config["logprob_threshold"]),
                                                allow_empty=bool(self.config["allow_empty"]))
            return self.model.greedy_decode(feats, lengths)
        if self.input == "fbank" and int(lengths.min()) < 7:
            raise SpeechprocError("an utterance is shorter than 7 frames (~0.09 s); it cannot be recognised")
        if self.onnx is not None:  # normalisation, encoder and CTC head in one ONNX Runtime call
            logp, enc, enc_lengths = self.onnx(feats, lengths)
            enc, enc_lengths = enc.to(self.device), enc_lengths.to(self.device)
        else:
            if self.normalize is not None:
                feats, _ = self.normalize(feats, lengths)
            enc, enc_lengths = self.model.encode(feats, lengths)
            logp = None
        if self.config["mode"] == "greedy_ctc":
            logp = self.model.ctc_logprobs(enc) if logp is None else logp
            return ctc_greedy_ids(logp, enc_lengths, self.tokenizer.blank_id)
        rel = enc_lengths.float() / enc.shape[1]
        hyps, _, _, _ = self.searcher(enc, rel)
        eos = self.tokenizer.eos_id
        out = []
        for h in hyps:
            ids = [int(t) for t in (h.tolist() if torch.is_tensor(h) else h)]
            out.append([t for t in ids if t != eos])
        return out

    def decode_features(self, feats: torch.Tensor, lengths: torch.Tensor) -> List[str]:
        """Texts of a padded batch of features."""
        return [self.tokenizer.decode(ids) for ids in self.decode_ids(feats, lengths)]

    def transcribe_batch(self, waves: Sequence[Union[np.ndarray, torch.Tensor]], sample_rate: Optional[int] = None) -> List[str]:
        """Texts of several waveforms (float, mono), each of any length: waveforms longer than
        ``max_segment_seconds`` are cut at pauses (:func:`pause_cuts`) and their pieces' texts joined;
        pieces are decoded in batches of at most ``batch_seconds`` of audio."""
        from speechproc.data.audio import resample

        rate = self.fbank_config.sample_rate
        pieces: List[Tuple[int, np.ndarray]] = []
        for i, w in enumerate(waves):
            w = w.detach().cpu().numpy() if torch.is_tensor(w) else w
            w = np.asarray(w, dtype=np.float32)
            if w.ndim != 1:
                raise SpeechprocError(f"waveform {i}: expected mono audio of shape (samples,), got {w.shape}; "
                                      f"average the channels first")
            if sample_rate is not None and sample_rate != rate:
                w = resample(w, sample_rate, rate)
            pieces += [(i, w[a:b]) for a, b in pause_cuts(w, rate, float(self.config["max_segment_seconds"]),
                                                           split_pause_seconds=float(self.config["split_pause_seconds"]),
                                                           pause_pad_seconds=self.config["pause_pad_seconds"])]
        texts: List[List[str]] = [[] for _ in waves]
        budget = float(self.config["batch_seconds"]) * rate
        batch: List[Tuple[int, np.ndarray]] = []

        def flush() -> None:
            if batch:
                for (i, _), text in zip(batch, self.decode_features(*self.features([p for _, p in batch]))):
                    texts[i].append(text)
                batch.clear()

        for piece in pieces:
            if batch and sum(len(p) for _, p in batch) + len(piece[1]) > budget:
                flush()
            batch.append(piece)
        flush()
        return [" ".join(t for t in parts if t.strip()) for parts in texts]

    def __call__(self, wav: Union[np.ndarray, torch.Tensor, str], sample_rate: Optional[int] = None) -> str:
        """Text of one waveform ``(T,)`` (or an audio file path / wav.scp spec)."""
        if isinstance(wav, (str, os.PathLike)):
            from speechproc.data.audio import read_audio

            wav, sample_rate = read_audio(str(wav), sample_rate=self.fbank_config.sample_rate)
        return self.transcribe_batch([wav], sample_rate)[0]
