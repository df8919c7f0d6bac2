"""wav2vec2 / HuBERT / WavLM / data2vec-audio encoders with a CTC head (``task: asr``, ``input: wave``).

:class:`SSLEncoderCTC` loads a self-supervised speech encoder in Hugging Face ``transformers``
format (``config.json`` + ``model.safetensors`` or ``pytorch_model.bin``, as ``save_pretrained``
writes it) and adds a linear CTC head, as ``Wav2Vec2ForCTC`` does:

- ``source``: a local checkpoint directory (read with ``local_files_only``; nothing is
  downloaded), or a hub id ``org/name`` passed on unchanged (needs internet). A directory saved
  from ``Wav2Vec2ForCTC`` / ``HubertForCTC`` also works: its pretrained head is dropped and a
  new one of ``vocab_size`` outputs is trained;
- the waveform front end of ``Wav2Vec2FeatureExtractor``: optional zero-mean unit-variance
  normalisation of every utterance over its valid samples (``normalize_wav``; by default the
  checkpoint's ``preprocessor_config.json`` ``do_normalize``, else on), padding set to zero, and
  an attention mask only for models with ``feat_extract_norm == "layer"`` (wav2vec2 large/lv60,
  WavLM, data2vec-audio). ``"group"``-norm models (wav2vec2 base, HuBERT base) were trained
  without one: HF recommends zero-padded input and no mask for them, as done here (their
  outputs then depend on the padding: attention sees it, and the first layer's group norm);
  each utterance is normalised over its own samples, as HF's extractor does one utterance at a
  time (batched without a mask, it would include the padding);
- fine-tuning as configuration: the strategies of :mod:`speechproc.models.pretrained.finetune`
  (``full``, ``freeze_encoder``, ``lora``, ``adapters``, ``frozen``) apply to the pretrained
  encoder, whose module names are the HF ones (``feature_extractor``, ``feature_projection``,
  ``encoder.layers.N.attention.q_proj`` ...); the CTC head is new and always trains (so
  ``frozen`` is a linear probe). On top, ``freeze_feature_encoder`` freezes the CNN
  (``feature_extractor``, as HF's ``freeze_feature_encoder()`` and fairseq's
  ``feature_grad_mult: 0``; ``feature_projection`` still trains) and ``freeze_layers: N``
  freezes ``encoder.layers.0`` .. ``N-1`` (LoRA/adapter weights inside them included);
  ``strategy.unfreeze`` overrides both.

The model's output, ``(ctc_logprobs (B, T', V), None, lengths (B,))``, is what
:class:`speechproc.tasks.asr.ASRBrain` expects of a CTC-only model (``ctc_weight: 1.0``, no
``normalize`` module); ``encode`` / ``ctc_logprobs`` mirror
:class:`~speechproc.models.asr.ConformerASR` for greedy CTC decoding. Checkpoints hold only
the parameters that train (SpeechBrain checkpoint hooks, as :class:`WhisperASR`): the
pretrained weights are read from ``source`` again, the fine-tuned ones from the experiment.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Optional, Tuple

import torch

from speechproc.models.pretrained.finetune import TrainableStateModule, apply_strategy
from speechproc.utils import SpeechprocError

__all__ = ["SSL_MODEL_TYPES", "SSLEncoderCTC", "resolve_ssl_source"]

logger = logging.getLogger(__name__)

SSL_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_EXPECTED = ("a Hugging Face checkpoint directory of a wav2vec2 / HuBERT / WavLM / data2vec-audio model "
             "(config.json and model.safetensors or pytorch_model.bin, as save_pretrained writes them), "
             "or a hub id org/name")


def resolve_ssl_source(source: str) -> Tuple[str, bool]:
    """``(path or hub id, is_local)`` of ``source``; a :class:`SpeechprocError` naming the path
    and what is expected when it is neither a usable local checkpoint nor a hub id."""
    path = Path(str(source)).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SpeechprocError(f"{source}: no config.json in this directory; expected {_EXPECTED}")
        if not any((path / f).is_file() for f in WEIGHT_FILES):
            raise SpeechprocError(f"{source}: no weights ({' / '.join(WEIGHT_FILES[:2])}) in this directory; "
                                  f"expected {_EXPECTED}")
        try:
            model_type = json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError) as e:
            raise SpeechprocError(f"{path / 'config.json'}: not readable JSON ({e}); expected {_EXPECTED}") from None
        _check_model_type(model_type, str(source))
        return str(path), True
    if path.exists():
        raise SpeechprocError(f"{source}: is a file, not a directory; expected {_EXPECTED}")
    if _HUB_ID.fullmatch(str(source)):
        return str(source), False
    raise SpeechprocError(f"{source}: not found; expected {_EXPECTED}")


def _check_model_type(model_type: Optional[str], where: str) -> None:
    if model_type not in SSL_MODEL_TYPES:
        raise SpeechprocError(f"{where}: model_type '{model_type}' is not supported; SSLEncoderCTC loads "
                              f"{', '.join(SSL_MODEL_TYPES)}")


class SSLEncoderCTC(TrainableStateModule):
    """Pretrained self-supervised encoder + linear CTC head (see the module docstring).

    Args:
        source: local HF checkpoint directory (or hub id).
        vocab_size: CTC outputs ``V`` (blank = 0 with the project's tokenizers).
        strategy: fine-tuning strategy dict (default full fine-tuning); module names are the
            encoder's HF names; ``freeze_encoder`` freezes ``encoder`` (the transformer).
        freeze_feature_encoder: freeze the CNN feature encoder (``feature_extractor``).
        freeze_layers: freeze the first ``N`` transformer layers.
        dropout: dropout before the CTC head (None: the config's ``final_dropout``).
        normalize_wav: per-utterance zero-mean unit-variance input (None: the checkpoint's
            ``preprocessor_config.json`` ``do_normalize``, else True).
        config_overrides: config values changed at load, e.g. ``{mask_time_prob: 0.05,
            layerdrop: 0.0}`` (HF's SpecAugment-style masking and LayerDrop in training).
    """

    def __init__(self, source: str, vocab_size: int, strategy: Optional[dict] = None,
                 freeze_feature_encoder: bool = True, freeze_layers: int = 0, dropout: Optional[float] = None,
                 normalize_wav: Optional[bool] = None, config_overrides: Optional[dict] = None):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        path, local = resolve_ssl_source(source)
        self.source = path
        try:
            config = AutoConfig.from_pretrained(path, local_files_only=local)
            _check_model_type(getattr(config, "model_type", None), str(source))
            for key, value in (config_overrides or {}).items():
                if not hasattr(config, key):
                    raise SpeechprocError(f"config_overrides: '{key}' is not a setting of the {config.model_type} "
                                          f"config of {source}")
                setattr(config, key, value)
            self.ssl = AutoModel.from_pretrained(path, config=config, local_files_only=local, dtype=torch.float32)
        except OSError as e:
            where = "the local directory" if local else "the hub (needs internet)"
            raise SpeechprocError(f"{source}: could not load it from {where}: {e}; expected {_EXPECTED}") from None
        for name in ("feature_extractor", "encoder"):
            if not hasattr(self.ssl, name):
                raise SpeechprocError(f"{source}: {type(self.ssl).__name__} has no '{name}' module")
        cfg = self.ssl.config
        n_layers = len(self.ssl.encoder.layers)
        if not 0 <= int(freeze_layers) <= n_layers:
            raise SpeechprocError(f"freeze_layers {freeze_layers} must be in [0, {n_layers}] (the encoder's layers)")
        self.use_attention_mask = getattr(cfg, "feat_extract_norm", "layer") == "layer"
        if normalize_wav is None:
            pre = Path(path) / "preprocessor_config.json"
            normalize_wav = bool(json.loads(pre.read_text(encoding="utf-8")).get("do_normalize", True)) \
                if local and pre.is_file() else True
        self.normalize_wav = bool(normalize_wav)
        self.vocab_size = int(vocab_size)
        self.dropout = torch.nn.Dropout(getattr(cfg, "final_dropout", 0.0) if dropout is None else float(dropout))
        self.ctc_lin = torch.nn.Linear(cfg.hidden_size, self.vocab_size)
        # as Wav2Vec2ForCTC initialises its head
        torch.nn.init.normal_(self.ctc_lin.weight, std=getattr(cfg, "initializer_range", 0.02))
        torch.nn.init.zeros_(self.ctc_lin.bias)

        strategy = dict(strategy or {"name": "full"})
        frozen = (["feature_extractor"] if freeze_feature_encoder else []) + \
            [f"encoder.layers.{i}" for i in range(int(freeze_layers))]
        self.strategy = dict(strategy, freeze=frozen + list(strategy.get("freeze") or []))
        self.counts = apply_strategy(self.ssl, self.strategy, encoder_modules=["encoder"])
        fe = self.ssl.feature_extractor
        if hasattr(fe, "_requires_grad"):  # what HF's freeze_feature_encoder() sets (gradient checkpointing)
            fe._requires_grad = any(p.requires_grad for p in fe.parameters())
        self.counts = {"total": self.counts["total"] + sum(p.numel() for p in self.ctc_lin.parameters()),
                       "trainable": self.counts["trainable"] + sum(p.numel() for p in self.ctc_lin.parameters())}
        logger.info("%s (%s, %d layers) + CTC head (%d outputs): %d of %d parameters train", source, cfg.model_type,
                    n_layers, self.vocab_size, self.counts["trainable"], self.counts["total"])

    # ------------------------------------------------------------------ front end and encoder
    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Encoder frames of ``lengths`` samples (HF's ``_get_feat_extract_output_lengths``)."""
        return self.ssl._get_feat_extract_output_lengths(lengths).long()

    def prepare(self, wavs: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Model input (normalised if ``normalize_wav``, padding zero) and attention mask (or None)."""
        mask = torch.arange(wavs.shape[1], device=wavs.device)[None] < lengths[:, None]
        x = wavs.float() * mask
        if self.normalize_wav:  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm over the valid samples
            n = lengths.clamp(min=1)[:, None].float()
            mean = x.sum(1, keepdim=True) / n
            var = (((x - mean) * mask) ** 2).sum(1, keepdim=True) / n
            x = (x - mean) / torch.sqrt(var + 1e-7) * mask
        return x, (mask.long() if self.use_attention_mask else None)

    def encode(self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder states ``(B, T', H)`` (zero past each utterance's end) and ``(B,)`` frame counts of
        16-kHz waveforms ``(B, T)`` with ``(B,)`` sample counts (None: all ``T``)."""
        if wavs.dim() == 1:
            wavs = wavs[None]
        if wavs.dim() != 2:
            raise SpeechprocError(f"SSLEncoderCTC takes waveforms (B, T); got shape {tuple(wavs.shape)} "
                                  f"(set input: wave in the training yaml)")
        b, t = wavs.shape
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long, device=wavs.device)
        lengths = lengths.to(wavs.device).long().clamp(max=t)
        out_lengths = self.output_lengths(lengths)
        if int(out_lengths.min()) < 1:
            short = int(lengths[int(out_lengths.argmin())])
            raise SpeechprocError(f"an utterance of {short} samples is shorter than the encoder's receptive field "
                                  f"(1 frame needs {self._receptive_field()} samples); drop it with min_duration")
        x, attention_mask = self.prepare(wavs, lengths)
        hidden = self.ssl(x, attention_mask=attention_mask).last_hidden_state
        out_lengths = out_lengths.clamp(max=hidden.shape[1])
        valid = torch.arange(hidden.shape[1], device=hidden.device)[None] < out_lengths[:, None]
        return hidden * valid.unsqueeze(-1), out_lengths

    def _receptive_field(self) -> int:
        n = 1
        for k, s in reversed(list(zip(self.ssl.config.conv_kernel, self.ssl.config.conv_stride))):
            n = (n - 1) * s + k
        return n

    def ctc_logprobs(self, enc: torch.Tensor) -> torch.Tensor:
        """CTC log-probabilities ``(B, T', V)`` of encoder states ``(B, T', H)``."""
        return torch.log_softmax(self.ctc_lin(self.dropout(enc)), dim=-1)

    def forward(self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None,
                tokens_bos: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, None, torch.Tensor]:
        """``(B, T)`` waveforms, ``(B,)`` sample counts -> ``(ctc_logprobs (B, T', V), None, lengths (B,))``
        (``tokens_bos`` is ignored: there is no attention decoder)."""
        del tokens_bos
        enc, out_lengths = self.encode(wavs, lengths)
        return self.ctc_logprobs(enc), None, out_lengths

