"""FastSpeech 2 acoustic model (SpeechBrain lobes) trained on external token durations.

The non-autoregressive second model of the TTS recipes: SpeechBrain's
``speechbrain.lobes.models.FastSpeech2.FastSpeech2`` (transformer encoder, duration / pitch /
energy predictors, length regulator, transformer decoder, postnet), wired batch first with explicit
lengths like :class:`~speechproc.models.tts.Tacotron2` so that the shared TTS trainer, the
synthesis front end (:class:`~speechproc.decode.tts.Text2Speech`) and the plots serve both.

Durations (frames per input token, ``<sos/eos>`` included) come from a trained Tacotron 2's
teacher-forced attention made monotonic and hard (``speechproc extract_durations``), the
"durations from the Tacotron 2 attention" route of FastSpeech (Ren et al., 2019).

Variance targets: energy is the per-frame mean of the normalised log-mel (computed here from the
target mel, so no extra data pass), averaged over each token's frames. Pitch: when the training data
carries it (``pitch_stats`` in the training yaml; ``compute_mel --pitch``), the frame-level normalised
log-F0 of :mod:`speechproc.features.pitch`, averaged over each token's voiced frames, is both the input
of the pitch embedding (teacher-forced, as the paper does) and the target of the pitch predictor (MSE);
without it the predictor runs as part of the variance adaptor and is trained only through the mel loss.

Shapes: tokens ``(B, L)``, mels ``(B, T, n_mels)`` (normalised log-mel), durations ``(B, L)``
integer frames with ``durations.sum(1) == mel_lengths``; alignments ``(B, T, L)`` one-hot.

The postnet is Tacotron 2's (five conv + batch-norm + tanh layers, as in ESPnet's FastSpeech 2)
rather than SpeechBrain's FastSpeech 2 postnet, whose final layer norm and output dropout left single
mel bins off by several standard deviations at synthesis time (a constant tone across the utterance).

The loss (:class:`FastSpeech2Loss`) is ESPnet's: masked L1 of the mel before and after the postnet,
MSE of ``log(1 + d)`` durations and MSE of the token-level energy (and pitch, when given).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from speechproc.models.tts.tacotron2 import lengths_to_mask

__all__ = ["FastSpeech2", "FastSpeech2Loss", "durations_to_alignment"]


def durations_to_alignment(durations: torch.Tensor, max_frames: Optional[int] = None) -> torch.Tensor:
    """One-hot alignment ``(B, T, L)`` of integer ``durations`` ``(B, L)``."""
    ends = durations.long().cumsum(1)                               # (B, L)
    total = int(ends[:, -1].max()) if ends.numel() else 0
    T = max(total, max_frames or 0)
    frames = torch.arange(T, device=durations.device)[None, :, None]  # (1, T, 1)
    starts = ends - durations.long()
    return ((frames >= starts[:, None, :]) & (frames < ends[:, None, :])).float()


class _TimeMajorPostnet(nn.Module):
    """Tacotron 2's postnet on ``(B, T, n_mels)`` input (SpeechBrain's reads ``(B, n_mels, T)``)."""

    def __init__(self, n_mels: int, embedding_dim: int, kernel_size: int, n_convolutions: int) -> None:
        super().__init__()
        from speechbrain.lobes.models.Tacotron2 import Postnet

        self.postnet = Postnet(n_mels, embedding_dim, kernel_size, n_convolutions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.postnet(x.transpose(1, 2)).transpose(1, 2)


class FastSpeech2(nn.Module):
    """FastSpeech 2 over token ids.

    Args:
        vocab_size: number of token ids (id 0, ``<blank>``, is the padding).
        n_mels: mel bins.
        d_model: width of encoder and decoder; ``num_heads`` attention heads each.
        enc_layers / dec_layers: transformer blocks; ``ffn_dim`` their conv feed-forward width
            (kernel sizes ``ffn_kernel_sizes``).
        dropout: transformer dropout; ``variance_dropout`` of the duration/pitch/energy predictors.
        postnet_*: the Tacotron 2 postnet (dropout 0.5 inside, as Tacotron 2).
    """

    encoder_modules = ("fs2.encPreNet", "fs2.encoder")  # the text side, frozen by strategy freeze_encoder

    r = 1  # one output frame per step: the trainer and the synthesis front end read ``model.r``

    def __init__(self, vocab_size: int, n_mels: int = 80, d_model: int = 256, num_heads: int = 2,
                 enc_layers: int = 4, dec_layers: int = 4, ffn_dim: int = 1024,
                 ffn_kernel_sizes: Sequence[int] = (9, 1), dropout: float = 0.1, variance_dropout: float = 0.5,
                 postnet_embedding_dim: int = 256, postnet_kernel_size: int = 5, postnet_n_convolutions: int = 5,
                 predictor_kernel_size: int = 3) -> None:
        super().__init__()
        from speechbrain.lobes.models.FastSpeech2 import FastSpeech2 as SBFastSpeech2

        self.n_mels = n_mels
        # SpeechBrain's conv feed-forward pads by reflection: sequences must be longer than half a kernel
        self.min_len = max(ffn_kernel_sizes) // 2 + 1
        self.fs2 = SBFastSpeech2(
            enc_num_layers=enc_layers, enc_num_head=num_heads, enc_d_model=d_model, enc_ffn_dim=ffn_dim,
            enc_k_dim=d_model, enc_v_dim=d_model, enc_dropout=dropout,
            dec_num_layers=dec_layers, dec_num_head=num_heads, dec_d_model=d_model, dec_ffn_dim=ffn_dim,
            dec_k_dim=d_model, dec_v_dim=d_model, dec_dropout=dropout,
            normalize_before=False, ffn_type="1dcnn", ffn_cnn_kernel_size_list=list(ffn_kernel_sizes),
            n_char=vocab_size, n_mels=n_mels, postnet_embedding_dim=postnet_embedding_dim,
            postnet_kernel_size=postnet_kernel_size, postnet_n_convolutions=postnet_n_convolutions,
            postnet_dropout=0.5, padding_idx=0, dur_pred_kernel_size=predictor_kernel_size,
            pitch_pred_kernel_size=predictor_kernel_size, energy_pred_kernel_size=predictor_kernel_size,
            variance_predictor_dropout=variance_dropout)
        self.fs2.postnet = _TimeMajorPostnet(n_mels, postnet_embedding_dim, postnet_kernel_size, postnet_n_convolutions)

    @staticmethod
    def frame_energy(mels: torch.Tensor) -> torch.Tensor:
        """Energy target per frame ``(B, T)``: mean of the normalised log-mel over the bins."""
        return mels.mean(-1)

    def forward(self, tokens: torch.Tensor, token_lengths: torch.Tensor, mels: torch.Tensor,
                mel_lengths: torch.Tensor, durations: Optional[torch.Tensor] = None,
                pitch: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Teacher-forced pass (ground-truth durations and energy, and pitch ``(B, T)`` when given: normalised
        log-F0 per frame, 0 unvoiced).

        Returns:
            dict with ``mel_before``/``mel_after`` ``(B, T, n_mels)``, ``log_durations`` ``(B, L)``
            predicted ``log(1 + d)``, ``durations`` ``(B, L)`` the targets, ``energy``/
            ``energy_target`` ``(B, L)`` token-level, ``alignments`` ``(B, T, L)``; with ``pitch`` also
            ``pitch``/``pitch_target`` ``(B, L)``.
        """
        if durations is None:
            raise ValueError("FastSpeech2 training needs token durations (speechproc extract_durations; "
                             "train_durations/valid_durations in the training yaml)")
        durations = durations.long()
        T = mels.shape[1]
        bad = durations.sum(1) != mel_lengths
        if bool(bad.any()):
            b = int(bad.nonzero()[0])
            raise ValueError(f"durations sum to {int(durations[b].sum())} frames but the mel has "
                             f"{int(mel_lengths[b])} (batch item {b}); re-run extract_durations on this dump")
        energy = self.frame_energy(mels) * lengths_to_mask(mel_lengths, T).float()
        if pitch is not None:
            if pitch.shape[1] < T:
                pitch = nn.functional.pad(pitch, (0, T - pitch.shape[1]))
            pitch = pitch[:, :T] * lengths_to_mask(mel_lengths, T).float()
        mel, post, log_dur, pred_pitch, avg_pitch, pred_energy, avg_energy, _ = self.fs2(
            tokens, durations=durations, pitch=pitch, energy=energy)
        pad = T - mel.shape[1]
        if pad > 0:
            mel = nn.functional.pad(mel, (0, 0, 0, pad))
            post = nn.functional.pad(post, (0, 0, 0, pad))
        out = {"mel_before": mel[:, :T], "mel_after": post[:, :T], "log_durations": log_dur,
               "durations": durations, "energy": pred_energy.squeeze(-1),
               "energy_target": avg_energy.squeeze(-1), "alignments": durations_to_alignment(durations, T)[:, :T]}
        if pitch is not None:
            out.update(pitch=pred_pitch.squeeze(-1), pitch_target=avg_pitch.squeeze(-1))
        return out

    @torch.no_grad()
    def predict_durations(self, tokens: torch.Tensor, pace: float = 1.0) -> torch.Tensor:
        """Integer frames per token ``(B, L)``: ``exp(prediction) - 1`` scaled by ``pace``, rounded."""
        _, _, log_dur, *_ = self.fs2(tokens, durations=torch.ones_like(tokens))
        return torch.clamp(torch.round(torch.expm1(log_dur) * pace), min=0).long() * (tokens != 0).long()

    @torch.no_grad()
    def infer(self, tokens: torch.Tensor, token_lengths: Optional[torch.Tensor] = None, max_len_ratio: float = 10.0,
              min_len_ratio: float = 0.0, pace: float = 1.0,
              **unused) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free synthesis from predicted durations.

        ``max_len_ratio``/``min_len_ratio`` bound the total frames per token (as for Tacotron 2):
        durations are scaled to fit when the prediction falls outside.

        Returns:
            (mels ``(B, T, n_mels)`` normalised, lengths ``(B,)``, alignments ``(B, T, L)``).
        """
        short = self.min_len - tokens.shape[1]
        if short > 0:  # pad ids (0) are masked out and get no frames
            tokens = nn.functional.pad(tokens, (0, short))
        durations = self.predict_durations(tokens, pace)
        n_tok = (tokens != 0).sum(1).clamp(min=1)
        total = durations.sum(1).clamp(min=1)
        hi, lo = (max_len_ratio * n_tok).float(), (min_len_ratio * n_tok).float()
        scale = torch.where(total > hi, hi / total, torch.where(total < lo, lo / total, torch.ones_like(hi)))
        if bool((scale != 1).any()):
            durations = torch.round(durations.float() * scale[:, None]).long()
        total = durations.sum(1)
        durations[:, 0] += (self.min_len - total).clamp(min=0)  # never an output shorter than the conv kernels
        _, post, *_ = self.fs2(tokens, durations=durations)
        lengths = durations.sum(1)
        return post[:, :int(lengths.max())], lengths, durations_to_alignment(durations)


class FastSpeech2Loss(nn.Module):
    """Masked L1 mel loss (before and after the postnet), log-duration MSE, energy MSE and, when the output has a
    pitch target, pitch MSE.

    Args:
        duration_weight / energy_weight / pitch_weight: weights of the variance losses.
    """

    def __init__(self, duration_weight: float = 1.0, energy_weight: float = 1.0, pitch_weight: float = 1.0) -> None:
        super().__init__()
        self.duration_weight = duration_weight
        self.energy_weight = energy_weight
        self.pitch_weight = pitch_weight

    def forward(self, out: Dict[str, torch.Tensor], mels: torch.Tensor, mel_lengths: torch.Tensor,
                token_lengths: torch.Tensor, r: int = 1) -> Dict[str, torch.Tensor]:
        """Losses of a :meth:`FastSpeech2.forward` output against ``mels`` ``(B, T, n_mels)``.

        Returns:
            dict ``loss`` (total), ``mel_loss``, ``dur_loss``, ``energy_loss`` (and ``pitch_loss``).
        """
        T = mels.shape[1]
        mask = lengths_to_mask(mel_lengths, T)[..., None].float()
        denom = mask.sum() * mels.shape[2]
        mel_loss = sum(((x - mels).abs() * mask).sum() / denom for x in (out["mel_before"], out["mel_after"]))
        L = out["log_durations"].shape[1]
        tmask = lengths_to_mask(token_lengths, L).float()
        n_tok = tmask.sum().clamp(min=1)
        target = torch.log1p(out["durations"].float())
        dur_loss = (((out["log_durations"] - target) ** 2) * tmask).sum() / n_tok
        energy_loss = (((out["energy"] - out["energy_target"]) ** 2) * tmask).sum() / n_tok
        loss = mel_loss + self.duration_weight * dur_loss + self.energy_weight * energy_loss
        losses = {"mel_loss": mel_loss.detach(), "dur_loss": dur_loss.detach(), "energy_loss": energy_loss.detach()}
        if "pitch_target" in out:
            pitch_loss = (((out["pitch"] - out["pitch_target"]) ** 2) * tmask).sum() / n_tok
            loss = loss + self.pitch_weight * pitch_loss
            losses["pitch_loss"] = pitch_loss.detach()
        return {"loss": loss, **losses}
