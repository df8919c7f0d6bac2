"""GAN vocoder training (``task: vocoder``): log-mel -> waveform (Vocos-style or HiFi-GAN).

Expected hparams (HyperPyYAML):

- ``modules``: ``generator`` (:class:`speechproc.models.vocos.VocosGenerator`, ConvNeXt + inverse
  STFT, or ``speechbrain.lobes.models.HifiGAN.HifiganGenerator``, upsampling by the mel hop; either
  maps ``(B, n_mels, T)`` to ``(B, 1, T * hop)``) and, optionally, ``discriminator``
  (:class:`speechproc.models.vocos.VocosDiscriminator`: multi-period + multi-resolution, or
  ``HifiganDiscriminator``: multi-period + multi-scale), with ``generator_loss`` (SpeechBrain's
  ``GeneratorLoss``: least-squares adversarial loss, feature matching), ``discriminator_loss``
  (``DiscriminatorLoss``), ``opt_class_discriminator`` and ``discriminator_start_step`` (generator
  updates with the spectral losses only before the discriminator joins: Parallel WaveGAN's warm-up);
- ``mel_loss_weight``: the L1 log-mel term, computed with the project's
  :class:`~speechproc.features.mel.LogMel`, so the vocoder learns exactly the features the acoustic
  models predict; optional ``stft_loss`` (:class:`~speechproc.models.vocoder.MultiResolutionSTFTLoss`)
  and ``stft_loss_weight``;
- ``init_model``: optional ``model.pt`` of a trained vocoder to fine-tune (e.g. on a new speaker's clips);
- ``opt_class`` (generator); ``train_data``/``valid_data``: mel dump dirs (``speechproc compute_mel``;
  their ``wav.scp`` gives the audio, resampled to the dump's rate); ``segment_frames`` (training
  excerpt length in mel frames), ``max_valid_utts``, ``cache_audio``.

Training batches are random excerpts of ``segment_frames`` frames and the matching
``segment_frames * hop`` samples; validation vocodes whole utterances and reports the L1 log-mel
distance of the result (the ``loss`` that picks the best checkpoint).
:class:`~speechproc.decode.vocoder.GANVocoder` loads the generator from the experiment dir.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import speechbrain as sb
import torch
from speechbrain.dataio.dataset import DynamicItemDataset

from speechproc.tasks.base import TaskBrain
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["VocoderBrain", "make_vocoder_dataset", "vocoder_datasets"]

logger = logging.getLogger(__name__)


def make_vocoder_dataset(path: PathLike, segment_frames: Optional[int], max_utts: Optional[int] = None,
                         cache_audio: bool = True) -> DynamicItemDataset:
    """Dataset of a mel dump dir: items ``id mel sig duration``.

    ``mel`` is ``(T, n_mels)``, ``sig`` is ``(T * hop,)`` (the audio at the dump's sample rate, cut
    or zero-padded to the frames). With ``segment_frames``, each access takes a random excerpt of
    that many frames (the whole utterance, padded, when shorter).
    """
    from speechproc.data.audio import read_audio
    from speechproc.data.dataset import load_data_dir
    from speechproc.features.fbank import FeatureStore
    from speechproc.features.mel import load_mel_config, num_mel_frames

    path = Path(path)
    data = load_data_dir(path)
    store = FeatureStore(path)
    config = load_mel_config(path)
    hop = config.hop_length
    utts = data.utts if max_utts is None else data.utts[:max_utts]
    if not utts:
        raise SpeechprocError(f"{path}: no utterance in the dump dir")
    entries = {u: {"duration": store.num_frames(u) * config.frame_shift_s} for u in utts}
    cache: Dict[str, np.ndarray] = {}

    def audio(uid: str, frames: int) -> np.ndarray:
        if uid in cache:
            return cache[uid]
        wave, _ = read_audio(data.wav_scp[uid], sample_rate=config.sample_rate)
        expected = num_mel_frames(len(wave), config)
        if abs(expected - frames) > 1:
            raise SpeechprocError(
                f"{path}/feats.scp: utterance {uid} has {frames} mel frames but its audio ({data.wav_scp[uid]}) "
                f"gives {expected} at {config.sample_rate} Hz, hop {hop}; the dump is stale: re-run compute_mel")
        wave = np.asarray(wave, dtype=np.float32)
        want = frames * hop
        wave = wave[:want] if len(wave) >= want else np.pad(wave, (0, want - len(wave)))
        if cache_audio:
            cache[uid] = wave
        return wave

    def item(uid: str):
        mel = store[uid]
        frames = mel.shape[0]
        wave = audio(uid, frames)
        if segment_frames:
            if frames > segment_frames:
                s = random.randrange(frames - segment_frames + 1)
                mel, wave = mel[s:s + segment_frames], wave[s * hop:(s + segment_frames) * hop]
            elif frames < segment_frames:
                pad = segment_frames - frames
                mel = np.pad(mel, ((0, pad), (0, 0)), constant_values=float(np.log(config.log_floor)))
                wave = np.pad(wave, (0, pad * hop))
        yield torch.from_numpy(np.ascontiguousarray(mel, dtype=np.float32))
        yield torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))

    ds = DynamicItemDataset(entries)
    ds.add_dynamic_item(item, takes=["id"], provides=["mel", "sig"])
    ds.set_output_keys(["id", "mel", "sig", "duration"])
    return ds


def generator_adversarial_loss(disc: torch.nn.Module, generator_loss, fake: torch.Tensor,
                               real: torch.Tensor) -> Dict[str, torch.Tensor]:
    """SpeechBrain's generator loss dict (``G_loss``, ``G_mse_fake_loss``, ``G_feat_match_loss``) of ``fake``
    against ``disc``. Only the generator learns from it, so the discriminator's weights are frozen for this
    pass and the real audio's features are computed without a graph: the same generator gradient as the
    full-graph pass, at about 0.3 s less per update of the teacher config on one core."""
    disc.requires_grad_(False)
    try:
        scores_fake, feats_fake = disc(fake)
        with torch.no_grad():
            _, feats_real = disc(real)
    finally:
        disc.requires_grad_(True)
    return generator_loss(sb.Stage.TRAIN, fake, real, scores_fake, feats_fake, feats_real)


def vocoder_datasets(hparams: dict) -> Tuple[DynamicItemDataset, DynamicItemDataset]:
    """(train, valid) datasets of the trainer (keys ``train_data``, ``valid_data``, ``segment_frames``,
    ``max_train_utts``, ``max_valid_utts``, ``cache_audio``)."""
    seg = int(hparams.get("segment_frames", 32))
    cache = bool(hparams.get("cache_audio", True))
    train = make_vocoder_dataset(hparams["train_data"], seg, hparams.get("max_train_utts"), cache)
    valid = make_vocoder_dataset(hparams["valid_data"], None, hparams.get("max_valid_utts", 8), cache)
    return train, valid


class VocoderBrain(TaskBrain):
    """HiFi-GAN: per batch, one generator update on the spectral losses alone until ``discriminator_start_step``,
    then one discriminator update followed by one generator update with the adversarial terms added."""

    def on_fit_start(self) -> None:
        from speechproc.features.mel import LogMel, load_mel_config

        self.log_mel = LogMel(load_mel_config(self.hparams.train_data)).to(self.device)
        self.load_init_model()
        super().on_fit_start()

    def init_optimizers(self) -> None:
        if self.opt_class is None:
            return
        self.optimizer = self.opt_class(self.modules.generator.parameters())  # its lr is the one logged
        self.optimizers_dict = {"generator": self.optimizer}
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("optimizer", self.optimizer)
        if "discriminator" in self.modules:
            self.optimizer_d = self.hparams.opt_class_discriminator(self.modules.discriminator.parameters())
            self.optimizers_dict["discriminator"] = self.optimizer_d
            if self.checkpointer is not None:
                self.checkpointer.add_recoverable("optimizer_d", self.optimizer_d)

    def generate(self, mel: torch.Tensor, num_samples: int) -> torch.Tensor:
        """``(B, T, n_mels)`` log-mel -> ``(B, 1, num_samples)`` waveform."""
        return self.modules.generator(mel.transpose(1, 2))[:, :, :num_samples]

    def mel_loss(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.l1_loss(self.log_mel(fake.squeeze(1)), self.log_mel(real.squeeze(1)))

    def adversarial(self) -> bool:
        """Whether this update trains against the discriminator: there is one, and the generator has had
        ``discriminator_start_step`` spectral-only updates (Parallel WaveGAN's warm-up; a very large value
        trains with the spectral losses only, for budgets where the discriminator is too slow)."""
        if "discriminator" not in self.modules:
            return False
        return self.global_step() >= int(getattr(self.hparams, "discriminator_start_step", 0) or 0)

    def fit_batch(self, batch):
        batch = batch.to(self.device)
        mel, real = batch.mel[0], batch.sig[0][:, None]
        fake = self.generate(mel, real.shape[-1])
        losses = {}
        if self.adversarial():
            disc = self.modules.discriminator
            # discriminator step on the current generator's output
            scores_fake, _ = disc(fake.detach())
            scores_real, _ = disc(real)
            loss_d = self.hparams.discriminator_loss(scores_fake, scores_real)["D_loss"]
            self.check_loss_isfinite(loss_d)
            self.optimizer_d.zero_grad()
            loss_d.backward()
            self._clip(disc)
            self.optimizer_d.step()
            losses["d_loss"] = loss_d.detach()
            # generator step against the updated discriminator
            g = generator_adversarial_loss(disc, self.hparams.generator_loss, fake, real)
        else:
            g = {"G_loss": fake.new_zeros(())}
        mel_loss = self.mel_loss(fake, real)
        losses["mel_loss"] = mel_loss.detach()
        loss_g = g["G_loss"] + float(self.hparams.mel_loss_weight) * mel_loss
        stft = getattr(self.hparams, "stft_loss", None)
        if stft is not None:
            mag, sc = stft(fake, real)
            loss_g = loss_g + float(getattr(self.hparams, "stft_loss_weight", 1.0)) * (mag + sc)
            losses.update(stft_mag_loss=mag.detach(), stft_sc_loss=sc.detach())
        self.check_loss_isfinite(loss_g)
        self.optimizer.zero_grad()
        loss_g.backward()
        self._clip(self.modules.generator)
        self.optimizer.step()

        for key, name in (("G_mse_fake_loss", "adv_loss"), ("G_feat_match_loss", "feat_loss")):
            if key in g:
                losses[name] = g[key].detach()
        self.add_batch_losses(losses)
        self.on_fit_batch_end(batch, fake, loss_g, True)
        return loss_g.detach().cpu()

    def _clip(self, module: torch.nn.Module) -> None:
        max_norm = getattr(self.hparams, "max_grad_norm", None)
        if max_norm:
            torch.nn.utils.clip_grad_norm_(module.parameters(), float(max_norm))

    def evaluate_batch(self, batch, stage):
        batch = batch.to(self.device)
        mel, mel_rel = batch.mel
        real, sig_rel = batch.sig
        with torch.no_grad():
            fake = self.generate(mel, real.shape[-1])
            losses = []
            for b in range(mel.shape[0]):  # each utterance at its own length
                n = int(round(float(sig_rel[b]) * real.shape[-1]))
                losses.append(self.mel_loss(fake[b:b + 1, :, :n], real[b:b + 1, None, :n]))
            loss = torch.stack(losses).mean()
        self.add_batch_losses({"mel_loss": loss})
        return loss.detach().cpu()
