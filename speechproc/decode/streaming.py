"""Streaming speech recognition with a dynamic-chunk-trained Conformer (WeNet U2 style).

Audio arrives in pieces of any size (:meth:`Speech2TextStreaming.accept_waveform`). Kaldi fbank frames
are computed as soon as their 25 ms window is complete (with ``snip_edges`` every frame depends only on
its own window, so the frames equal the offline ones), normalised, subsampled 4x (an encoder frame needs
7 fbank frames: 45 ms of look-ahead past its 40 ms), and every ``chunk_size`` encoder frames go through
the encoder with the left-context cache (:meth:`~speechproc.models.asr.ConformerASR.encode_chunk`). The
CTC posteriors of each chunk extend a CTC prefix beam search whose best prefix is the partial result;
at the end of speech the n-best prefixes are rescored with the attention decoder over the utterance's
encoder states ("attention rescoring", WeNet's second pass) and the best one is the final result.

End of speech: the end of the input (:meth:`finish`), or CTC-blank endpointing: after some speech,
``endpoint_seconds`` of frames whose most likely CTC label is blank close the segment (its final result
is emitted and the search starts afresh); ``max_silence_seconds`` of blank with no speech at all discards
the frames. ``endpoint_seconds: 0`` turns endpointing off.

The prefix beam search is this project's own (a token-level one over token ids, carried from chunk to
chunk): SpeechBrain's ``CTCPrefixBeamSearcher`` keeps its beams as text for word-level n-gram LMs, while
attention rescoring needs the token ids of each prefix.

    >>> s2t = Speech2TextStreaming.from_pretrained("exp/asr_streaming", chunk_ms=640)  # doctest: +SKIP
    >>> for piece in pieces:                                                       # doctest: +SKIP
    ...     for r in s2t.accept_waveform(piece):
    ...         print("final" if r.final else "partial", r.text)
    >>> s2t.finish()                                                              # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["StreamResult", "Speech2TextStreaming", "ctc_prefix_beam_step"]

_NEG_INF = -float("inf")


@dataclass
class StreamResult:
    """A partial (``final`` False) or final transcript; ``end_seconds``: audio consumed when it was made."""

    text: str
    final: bool
    end_seconds: float


def _logaddexp(a: float, b: float) -> float:
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def ctc_prefix_beam_step(beams: Dict[Tuple[int, ...], Tuple[float, float]], logp: torch.Tensor, beam_size: int,
                         blank: int = 0) -> Dict[Tuple[int, ...], Tuple[float, float]]:
    """Extend CTC prefix beams over frames ``logp`` ``(T, V)``.

    ``beams`` maps a prefix (token ids) to ``(log P(prefix, ending in blank), log P(prefix, ending in a
    token))``; start with ``{(): (0.0, -inf)}``. Each frame considers the ``beam_size`` most likely labels
    and keeps the ``beam_size`` best prefixes.
    """
    lp = logp.detach().cpu().double()
    k = min(beam_size, lp.shape[1])
    for t in range(lp.shape[0]):
        frame = lp[t]
        top_lp, top_ids = frame.topk(k)
        nxt: Dict[Tuple[int, ...], List[float]] = {}

        def add(prefix, b=_NEG_INF, nb=_NEG_INF):
            cur = nxt.get(prefix)
            if cur is None:
                nxt[prefix] = [b, nb]
            else:
                cur[0], cur[1] = _logaddexp(cur[0], b), _logaddexp(cur[1], nb)

        for prefix, (pb, pnb) in beams.items():
            total = _logaddexp(pb, pnb)
            last = prefix[-1] if prefix else None
            for p, c in zip(top_lp.tolist(), top_ids.tolist()):
                if c == blank:
                    add(prefix, b=total + p)
                elif c == last:
                    add(prefix, nb=pnb + p)              # the repeated token collapses
                    add(prefix + (c,), nb=pb + p)        # a blank separated them: a new token
                else:
                    add(prefix + (c,), nb=total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logaddexp(*kv[1]), reverse=True)[:beam_size]
        beams = {p: (v[0], v[1]) for p, v in ranked}
    return beams


class Speech2TextStreaming:
    """Chunk-by-chunk recogniser around a trained :class:`~speechproc.models.asr.ConformerASR`.

    Args:
        model, normalize, tokenizer, fbank_config: as :class:`~speechproc.decode.asr.Speech2Text`.
        chunk_size: encoder frames (40 ms each) per chunk; 16 is 640 ms.
        left_chunks: chunks of left context the encoder attends to (the cache size).
        beam_size: CTC prefix beam width (also the n-best rescored at the end).
        ctc_weight: final score = attention log-probability + ``ctc_weight`` x CTC prefix log-probability
            (WeNet's attention rescoring); ``rescore: False`` keeps the CTC prefix beam's best.
        endpoint_seconds: trailing CTC blank after speech that ends a segment (0: off).
        max_silence_seconds: blank with no speech after which the frames are dropped (0: never).
    """

    def __init__(self, model, normalize, tokenizer, fbank_config=None, chunk_size: int = 16,
                 left_chunks: Optional[int] = None, beam_size: int = 10, ctc_weight: float = 0.5,
                 rescore: bool = True, endpoint_seconds: float = 0.8, max_silence_seconds: float = 5.0,
                 left_context_seconds: float = 16.0, device: str = "cpu") -> None:
        from speechproc.features.fbank import FbankConfig

        if not hasattr(model, "encode_chunk"):
            raise SpeechprocError(f"streaming needs a Conformer CTC/attention model; {type(model).__name__} has no "
                                  f"chunk-by-chunk encoder")
        if int(chunk_size) < 1:
            raise SpeechprocError(f"chunk size must be at least one encoder frame (40 ms), got {chunk_size}")
        self.model = model.to(device).eval()
        self.normalize = normalize.to(device).eval() if normalize is not None else None
        self.tokenizer = tokenizer
        self.fbank_config = fbank_config or FbankConfig()
        self.device = device
        self.chunk_size = int(chunk_size)
        if left_chunks is None:  # the cache must be finite: as many chunks as cover left_context_seconds
            left_chunks = max(1, math.ceil(left_context_seconds / (0.04 * self.chunk_size)))
        self.left_chunks = int(left_chunks)
        self.beam_size = int(beam_size)
        self.ctc_weight = float(ctc_weight)
        self.rescore = bool(rescore) and getattr(model, "has_decoder", False)
        self.endpoint_frames = int(round(float(endpoint_seconds) / 0.04))
        self.max_silence_frames = int(round(float(max_silence_seconds) / 0.04))
        self.reset()

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, chunk_ms: float = 640.0, device: str = "cpu",
                        **options) -> "Speech2TextStreaming":
        """Load ``exp_dir`` (as :meth:`Speech2Text.from_pretrained`) for chunks of ``chunk_ms`` (a multiple of
        40 ms)."""
        from speechproc.decode.asr import Speech2Text

        s2t = Speech2Text.from_pretrained(exp_dir, device=device, mode="greedy_ctc")
        frames = float(chunk_ms) / 40.0
        if frames < 1 or abs(frames - round(frames)) > 1e-6:
            raise SpeechprocError(f"chunk of {chunk_ms} ms: streaming chunks are multiples of the encoder's 40 ms "
                                  f"frame (160, 320, 640 ...)")
        if not getattr(s2t.model, "streaming", False):
            import logging

            logging.getLogger(__name__).warning(
                "%s was trained in full context only (no dynamic_chunk in its config): chunk-by-chunk decoding "
                "will be far worse than offline; train a streaming model (egs/an4/asr: conf/train_asr_streaming.yaml)",
                exp_dir)
        return cls(s2t.model, s2t.normalize, s2t.tokenizer, s2t.fbank_config, chunk_size=int(round(frames)),
                   device=device, **options)

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything: a new stream."""
        self._samples = np.zeros(0, dtype=np.float32)
        self._feats: Optional[torch.Tensor] = None          # normalised fbank frames not yet subsampled
        self._sub: Optional[torch.Tensor] = None            # subsampled frames waiting for a full chunk
        self._context = self.model.make_streaming_context(self.chunk_size, self.left_chunks)
        self._consumed = 0                                  # samples accepted
        self.chunks_done = 0                                # encoder chunks computed
        self._new_segment()

    def _new_segment(self) -> None:
        self._beams: Dict[Tuple[int, ...], Tuple[float, float]] = {(): (0.0, _NEG_INF)}
        self._enc: List[torch.Tensor] = []                  # encoder states of this segment
        self._trailing_blank = 0
        self._speech = False
        self._silence = 0
        self._partial = ""

    @property
    def partial(self) -> str:
        """The current best prefix of the open segment."""
        return self._partial

    # ------------------------------------------------------------------ input
    def _check(self, wave: Union[np.ndarray, torch.Tensor], sample_rate: Optional[int]) -> np.ndarray:
        w = wave.detach().cpu().numpy() if torch.is_tensor(wave) else np.asarray(wave)
        if w.ndim != 1:
            raise SpeechprocError(f"streaming input must be mono samples of shape (n,), got {w.shape}; average the "
                                  f"channels first")
        rate = self.fbank_config.sample_rate
        if sample_rate is not None and int(sample_rate) != rate:
            raise SpeechprocError(f"the stream is at {sample_rate} Hz but the model reads {rate} Hz; record at {rate} Hz "
                                  f"(arecord -r {rate}) or convert first (sox - -r {rate} ...); whole files are "
                                  f"resampled by transcribe --stream")
        return w.astype(np.float32, copy=False)

    @torch.no_grad()
    def accept_waveform(self, wave: Union[np.ndarray, torch.Tensor], sample_rate: Optional[int] = None
                        ) -> List[StreamResult]:
        """Feed the next samples (float mono, at the model's rate or ``sample_rate``); returns the partial and
        final results they produced (a partial whenever the best prefix changes)."""
        from speechproc.features.fbank import compute_fbank

        w = self._check(wave, sample_rate)
        self._consumed += len(w)
        self._samples = np.concatenate([self._samples, w]) if len(self._samples) else w
        cfg = self.fbank_config
        win, shift = cfg.window_size, cfg.window_shift
        if len(self._samples) < win:
            return []
        n = 1 + (len(self._samples) - win) // shift
        feats = compute_fbank(self._samples[: (n - 1) * shift + win], cfg).to(self.device)
        self._samples = self._samples[n * shift:]
        if self.normalize is not None:
            feats, _ = self.normalize(feats[None], torch.tensor([feats.shape[0]], device=self.device))
            feats = feats[0]
        self._feats = feats if self._feats is None else torch.cat([self._feats, feats])
        return self._advance(final=False)

    def finish(self) -> List[StreamResult]:
        """End of the input: the remaining frames as a last (shorter) chunk, then the final result of the open
        segment (if it holds speech). The recogniser is then ready for a new stream."""
        with torch.no_grad():
            out = self._advance(final=True)
        self.reset()
        return out

    def _advance(self, final: bool) -> List[StreamResult]:
        model = self.model
        if self._feats is not None and self._feats.shape[0] >= 7:
            k = ((self._feats.shape[0] - 1) // 2 - 1) // 2
            sub = model.subsampling(self._feats[: 4 * k + 3][None])[0]
            self._feats = self._feats[4 * k:]
            self._sub = sub if self._sub is None else torch.cat([self._sub, sub])
        out: List[StreamResult] = []
        while self._sub is not None and (self._sub.shape[0] >= self.chunk_size or (final and self._sub.shape[0])):
            chunk, self._sub = self._sub[: self.chunk_size], self._sub[self.chunk_size:]
            enc = model.encode_chunk(chunk[None], self._context)[0]
            self.chunks_done += 1
            out += self._search(enc)
        if final:
            result = self._finalize()
            if result is not None:
                out.append(result)
        return out

    # ------------------------------------------------------------------ search
    def _seconds(self) -> float:
        return self._consumed / float(self.fbank_config.sample_rate)

    def _search(self, enc: torch.Tensor) -> List[StreamResult]:
        logp = self.model.ctc_logprobs(enc[None])[0]                                   # (n, V)
        blank = self.tokenizer.blank_id
        out: List[StreamResult] = []
        start = 0
        is_blank = (logp.argmax(-1) == blank).tolist()
        for t, b in enumerate(is_blank):  # endpointing decisions are per frame; the search runs on spans
            if b:
                self._trailing_blank += 1
                self._silence += 0 if self._speech else 1
            else:
                self._trailing_blank, self._speech = 0, True
            ended = self.endpoint_frames > 0 and self._speech and self._trailing_blank >= self.endpoint_frames
            idle = self.max_silence_frames > 0 and not self._speech and self._silence >= self.max_silence_frames
            if ended or idle:
                self._enc.append(enc[start: t + 1])
                self._beams = ctc_prefix_beam_step(self._beams, logp[start: t + 1], self.beam_size, blank)
                result = self._finalize() if ended else None
                if result is not None:
                    out.append(result)
                self._new_segment()
                start = t + 1
        if start < enc.shape[0]:
            self._enc.append(enc[start:])
            self._beams = ctc_prefix_beam_step(self._beams, logp[start:], self.beam_size, blank)
            best = max(self._beams.items(), key=lambda kv: _logaddexp(*kv[1]))[0]
            text = self.tokenizer.decode(list(best))
            if text != self._partial:
                self._partial = text
                out.append(StreamResult(text, False, self._seconds()))
        return out

    def _finalize(self) -> Optional[StreamResult]:
        if not self._enc or not any(p for p in self._beams):
            return None
        ranked = sorted(self._beams.items(), key=lambda kv: _logaddexp(*kv[1]), reverse=True)
        best = ranked[0][0]
        if self.rescore and len(ranked) > 1:
            best = self._attention_rescore(torch.cat(self._enc), [(p, _logaddexp(*v)) for p, v in ranked])
        text = self.tokenizer.decode(list(best))
        return StreamResult(text, True, self._seconds()) if text.strip() else None

    def _attention_rescore(self, enc: torch.Tensor, hyps: Sequence[Tuple[Tuple[int, ...], float]]) -> Tuple[int, ...]:
        """The hypothesis with the best attention log-probability (teacher-forced, ``<eos>`` included) plus
        ``ctc_weight`` x its CTC prefix log-probability."""
        eos = self.tokenizer.eos_id
        n = len(hyps)
        L = max(len(h) for h, _ in hyps) + 1
        bos = torch.full((n, L), eos, dtype=torch.long, device=enc.device)
        target = torch.full((n, L), eos, dtype=torch.long, device=enc.device)
        for i, (h, _) in enumerate(hyps):
            if h:
                bos[i, 1: len(h) + 1] = torch.tensor(h)
                target[i, : len(h)] = torch.tensor(h)
        encs = enc[None].expand(n, -1, -1)
        lens = torch.full((n,), enc.shape[0], dtype=torch.long, device=enc.device)
        logp = self.model.decoder_logprobs(bos, encs, lens)                          # (n, L, V)
        tok = logp.gather(-1, target[..., None])[..., 0]
        scores = []
        for i, (h, ctc) in enumerate(hyps):
            scores.append(float(tok[i, : len(h) + 1].sum()) + self.ctc_weight * ctc)
        return hyps[int(np.argmax(scores))][0]

    # ------------------------------------------------------------------ whole inputs
    def _whole(self, wave: Union[np.ndarray, torch.Tensor], sample_rate: Optional[int]) -> np.ndarray:
        from speechproc.data.audio import resample

        w = wave.detach().cpu().numpy() if torch.is_tensor(wave) else np.asarray(wave, dtype=np.float32)
        rate = self.fbank_config.sample_rate
        if sample_rate is not None and int(sample_rate) != rate and w.ndim == 1 and len(w):
            w = resample(w.astype(np.float32), int(sample_rate), rate)
        return self._check(w, None)

    def transcribe(self, wave: Union[np.ndarray, torch.Tensor], sample_rate: Optional[int] = None,
                   piece_seconds: Optional[float] = None) -> str:
        """Text of a whole waveform decoded as a stream (in pieces of ``piece_seconds``, default one chunk;
        another ``sample_rate`` is resampled first); the final results of its segments joined by spaces."""
        rate = self.fbank_config.sample_rate
        w = self._whole(wave, sample_rate)
        step = max(1, int(round((piece_seconds or 0.04 * self.chunk_size) * rate)))
        self.reset()
        finals = []
        for i in range(0, len(w), step):
            finals += [r.text for r in self.accept_waveform(w[i: i + step]) if r.final]
        finals += [r.text for r in self.finish() if r.final]
        return " ".join(finals)

    __call__ = transcribe

    @torch.no_grad()
    def transcribe_full_context(self, wave: Union[np.ndarray, torch.Tensor], sample_rate: Optional[int] = None) -> str:
        """The same search (CTC prefix beam, endpointing, attention rescoring) over the encoder run on the whole
        utterance in full context: the offline reference of the streaming results."""
        from speechproc.features.fbank import compute_fbank

        w = self._whole(wave, sample_rate)
        feats = compute_fbank(w, self.fbank_config).to(self.device)[None]
        if feats.shape[1] < 7:
            return ""
        lengths = torch.tensor([feats.shape[1]], device=self.device)
        if self.normalize is not None:
            feats, _ = self.normalize(feats, lengths)
        enc, _ = self.model.encode(feats, lengths)
        self.reset()
        self._consumed = len(w)
        finals = [r.text for r in self._search(enc[0]) if r.final]
        last = self._finalize()
        self.reset()
        return " ".join(finals + ([last.text] if last is not None else []))
