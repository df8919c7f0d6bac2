"""Tacotron-style sequence-to-sequence VC: source mel -> target mel with attention.

Reuses :class:`speechproc.models.tts.tacotron2.Tacotron2` (encoder conv/BiLSTM stack, decoder,
attention, postnet); only the symbol embedding is replaced by a mel prenet (a linear layer of the
source mel frames to ``embedding_dim``), and ``src_reduction`` consecutive source frames are stacked
into one encoder step (ESPnet's encoder reduction factor), which shortens the attention memory. Train
it with :class:`speechproc.models.tts.tacotron2.Tacotron2Loss`, ``token_lengths`` = the
``src_lengths`` of the output dict (stacked source lengths); ``task: vc`` of the shared trainer
(:mod:`speechproc.tasks.vc`) does this.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
from torch import nn

from speechproc.models.tts.tacotron2 import Tacotron2
from speechproc.utils import load_weights


class Seq2SeqVC(Tacotron2):
    """Tacotron2 whose input is a source mel ``(B, T_src, n_src_mels)`` instead of token ids.

    Args:
        n_src_mels: source mel bins.
        src_reduction: source frames stacked per encoder step (1: none).
        Other arguments as :class:`Tacotron2` (``n_mels`` = target bins).
    """

    def __init__(self, n_src_mels: int = 80, embedding_dim: int = 512, src_reduction: int = 1, **kwargs) -> None:
        super().__init__(vocab_size=1, embedding_dim=embedding_dim, **kwargs)
        del self.embedding
        if src_reduction < 1:
            raise ValueError(f"src_reduction must be >= 1, got {src_reduction}")
        self.n_src_mels = n_src_mels
        self.src_reduction = src_reduction
        self.src_prenet = nn.Sequential(nn.Linear(n_src_mels * src_reduction, embedding_dim), nn.ReLU())

    def stack_source(self, src: torch.Tensor, src_lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(B, ceil(T / k), k * n_src_mels)`` and the stacked lengths ``ceil(len / k)`` (``k = src_reduction``;
        the last step is zero-padded)."""
        k = self.src_reduction
        if k == 1:
            return src, src_lengths
        B, T, D = src.shape
        src = nn.functional.pad(src, (0, 0, 0, (-T) % k))
        return src.reshape(B, -1, k * D), (src_lengths + k - 1) // k

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, mels: torch.Tensor,
                mel_lengths: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Teacher-forced pass (see :meth:`Tacotron2.forward`); also returns ``src_lengths`` (stacked)."""
        src, src_lengths = self.stack_source(src, src_lengths)
        out = super().forward(src, src_lengths, mels, mel_lengths)
        out["src_lengths"] = src_lengths
        return out

    @torch.no_grad()
    def infer(self, src: torch.Tensor, src_lengths: Optional[torch.Tensor] = None, max_len_ratio: float = 3.0,
              min_len_ratio: float = 0.0, attention_window: Optional[Tuple[int, int]] = None,
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free-running conversion; the length ratios count output frames per *source frame*;
        ``attention_window`` counts encoder steps (stacked source frames), see :meth:`Tacotron2.infer`."""
        if src_lengths is None:
            src_lengths = torch.full((src.shape[0],), src.shape[1], dtype=torch.long, device=src.device)
        frames = float(src_lengths.max())
        src, src_lengths = self.stack_source(src, src_lengths)
        k = frames / float(src_lengths.max())  # source frames per encoder step (the last step may be padded)
        return super().infer(src, src_lengths, max_len_ratio * k, min_len_ratio * k, attention_window)

    def embed_inputs(self, src: torch.Tensor) -> torch.Tensor:
        """Encoder input ``(B, T_src, embedding_dim)`` of source mels ``(B, T_src, n_src_mels)``; the rest of
        :meth:`Tacotron2.encode` (length sorting, conv/BiLSTM encoder) is shared."""
        return self.src_prenet(src)


def init_from(model: nn.Module, path, module: str = "model", prefixes=("encoder.", "decoder.", "postnet.")):
    """Copy the tensors of a trained exp's ``model.pt`` (``{module_name: state_dict}``) into ``model``.

    Only keys under ``prefixes`` whose name and shape match are copied (a Tacotron2 TTS model gives
    the encoder conv/BiLSTM stack, decoder, attention and postnet; the symbol embedding never fits the
    mel prenet, and mel-size-dependent tensors are skipped when ``n_mels`` differs).

    Returns:
        ``(copied, skipped)`` lists of key names (skipped with the reason).
    """
    state = load_weights(path)
    if isinstance(state.get("modules"), dict):  # the trainer's model.pt: {"modules": {name: state_dict}}
        state = state["modules"]
    src = state[module] if module in state and isinstance(state[module], dict) else state
    own = model.state_dict()
    copied, skipped = [], []
    for k, v in src.items():
        if not k.startswith(tuple(prefixes)):
            skipped.append(f"{k} (not initialised)")
        elif k not in own:
            skipped.append(f"{k} (missing in model)")
        elif own[k].shape != v.shape:
            skipped.append(f"{k} (shape {tuple(v.shape)} != {tuple(own[k].shape)})")
        else:
            own[k] = v.clone()
            copied.append(k)
    model.load_state_dict(own)
    return copied, skipped
