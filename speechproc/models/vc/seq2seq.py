"""Tacotron-style sequence-to-sequence VC: source mel -> target mel with attention.

Reuses :class:`speechproc.models.tts.tacotron2.Tacotron2` (encoder conv/BiLSTM stack, decoder,
attention, postnet); only the symbol embedding is replaced by a mel prenet (a linear layer of the
source mel frames to ``embedding_dim``). Train it with
:class:`speechproc.models.tts.tacotron2.Tacotron2Loss` (``token_lengths`` = source frame lengths).
"""

from __future__ import annotations

import torch
from torch import nn

from speechproc.models.tts.tacotron2 import Tacotron2


class Seq2SeqVC(Tacotron2):
    """Tacotron2 whose input is a source mel ``(B, T_src, n_src_mels)`` instead of token ids.

    Args:
        n_src_mels: source mel bins. Other arguments as :class:`Tacotron2` (``n_mels`` = target bins).
    """

    def __init__(self, n_src_mels: int = 80, embedding_dim: int = 512, **kwargs) -> None:
        super().__init__(vocab_size=1, embedding_dim=embedding_dim, **kwargs)
        del self.embedding
        self.n_src_mels = n_src_mels
        self.src_prenet = nn.Sequential(nn.Linear(n_src_mels, embedding_dim), nn.ReLU())

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
    state = torch.load(path, map_location="cpu")
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
