"""The neural vocoder: multi-resolution STFT loss, HiFi-GAN training through the shared trainer
(spectral warm-up, then adversarial), and loading the result behind the vocoder interface."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechproc.decode.vocoder import GANVocoder, make_vocoder
from speechproc.features.mel import MelConfig, compute_mel, dump_mel
from speechproc.models.vocoder import MultiResolutionSTFTLoss
from speechproc.utils import SpeechprocError
from test_tts import harmonic

torch.set_num_threads(1)

TOY = """
task: vocoder
seed: 1
__set_seed: !apply:speechbrain.utils.seed.seed_everything [!ref <seed>]
output_folder: !PLACEHOLDER
train_data: !PLACEHOLDER
valid_data: !PLACEHOLDER
number_of_epochs: 3
epoch_counter: !new:speechbrain.utils.epoch_loop.EpochCounter
    limit: !ref <number_of_epochs>
segment_frames: 12
max_valid_utts: 2
train_dataloader_opts:
    batch_size: 2
valid_dataloader_opts:
    batch_size: 2
keep_checkpoints: 3
average_n: 1
lr: 0.001
opt_class: !name:torch.optim.AdamW
    lr: !ref <lr>
    betas: [0.8, 0.99]
opt_class_discriminator: !name:torch.optim.AdamW
    lr: 0.0002
    betas: [0.8, 0.99]
lr_scheduler: null
generator: !new:speechbrain.lobes.models.HifiGAN.HifiganGenerator
    in_channels: 80
    out_channels: 1
    resblock_type: "2"
    resblock_dilation_sizes: [[1, 2]]
    resblock_kernel_sizes: [3]
    upsample_kernel_sizes: [16, 16, 8]
    upsample_initial_channel: 16
    upsample_factors: [8, 8, 4]
    inference_padding: 0
discriminator: !new:speechbrain.lobes.models.HifiGAN.HifiganDiscriminator
generator_loss: !new:speechbrain.lobes.models.HifiGAN.GeneratorLoss
    mseg_loss: !new:speechbrain.lobes.models.HifiGAN.MSEGLoss
    mseg_loss_weight: 1
    feat_match_loss: !new:speechbrain.lobes.models.HifiGAN.MelganFeatureLoss
    feat_match_loss_weight: 2
discriminator_loss: !new:speechbrain.lobes.models.HifiGAN.DiscriminatorLoss
    msed_loss: !new:speechbrain.lobes.models.HifiGAN.MSEDLoss
mel_loss_weight: 45
stft_loss: !new:speechproc.models.vocoder.MultiResolutionSTFTLoss
stft_loss_weight: 1
init_model: null
discriminator_start_step: DSTART
modules:
    generator: !ref <generator>
    discriminator: !ref <discriminator>
"""


def test_stft_loss_is_zero_on_identity_and_grows_with_noise() -> None:
    loss = MultiResolutionSTFTLoss()
    x = torch.from_numpy(harmonic(0.5))[None, None]
    mag, sc = loss(x, x)
    assert float(mag) == 0.0 and float(sc) == 0.0
    g = torch.Generator().manual_seed(0)
    values = [sum(loss(x + a * torch.randn(x.shape, generator=g), x)) for a in (0.001, 0.01, 0.1)]
    assert 0 < float(values[0]) < float(values[1]) < float(values[2])
    with pytest.raises(ValueError, match="same number of resolutions"):
        MultiResolutionSTFTLoss(n_ffts=(512,), hop_lengths=(128, 64), win_lengths=(512,))


def test_generator_adversarial_loss_gives_the_full_graph_gradient_and_leaves_the_discriminator_alone() -> None:
    from speechbrain.lobes.models.HifiGAN import GeneratorLoss, MelganFeatureLoss, MSEGLoss

    import speechbrain as sb
    from speechproc.models.vocos import VocosDiscriminator, VocosGenerator
    from speechproc.tasks.vocoder import generator_adversarial_loss

    torch.manual_seed(0)
    gen = VocosGenerator(n_mels=8, dim=16, intermediate_dim=32, num_layers=1, n_fft=64, hop_length=16)
    disc = VocosDiscriminator(periods=[2, 3], period_channels=[4, 8], n_ffts=[64, 32], resolution_channels=4)
    loss_fn = GeneratorLoss(mseg_loss=MSEGLoss(), feat_match_loss=MelganFeatureLoss(), feat_match_loss_weight=10)
    mel, real = torch.randn(2, 8, 20), 0.1 * torch.randn(2, 1, 320)

    def grads(fast: bool):
        gen.zero_grad()
        disc.zero_grad()
        fake = gen(mel)[:, :, :320]
        if fast:
            g = generator_adversarial_loss(disc, loss_fn, fake, real)
        else:
            scores_fake, feats_fake = disc(fake)
            _, feats_real = disc(real)
            g = loss_fn(sb.Stage.TRAIN, fake, real, scores_fake, feats_fake, feats_real)
        g["G_loss"].backward()
        return float(g["G_loss"]), [p.grad.clone() for p in gen.parameters()]

    loss_full, full = grads(False)
    loss_fast, fast = grads(True)
    assert loss_fast == pytest.approx(loss_full, rel=1e-6) and loss_fast > 0
    for a, b in zip(full, fast):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert all(p.grad is None or not p.grad.any() for p in disc.parameters())
    assert all(p.requires_grad for p in disc.parameters())  # the discriminator still trains in its own step


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> Path:
    from speechproc.data import DataDir

    root = tmp_path_factory.mktemp("voc")
    for part, n in (("train", 4), ("dev", 2)):
        wavs = {}
        for i in range(n):
            p = root / f"{part}{i}.wav"
            sf.write(p, harmonic(0.4 + 0.05 * i, f0=120 + 30 * i, sr=24000, seed=i), 24000)  # resampled to 22.05 kHz
            wavs[f"spk-{part}{i}"] = str(p)
        DataDir(wav_scp=wavs, utt2spk={u: "spk" for u in wavs}, text={u: "a" for u in wavs}).save(root / part)
        dump_mel(root / part, root / f"dump_{part}")
    return root


VOCOS = """
generator: !new:speechproc.models.vocos.VocosGenerator
    n_mels: 80
    dim: 16
    intermediate_dim: 32
    num_layers: 2
    n_fft: 1024
    hop_length: 256
discriminator: !new:speechproc.models.vocos.VocosDiscriminator
    period_channels: [4, 8]
    resolution_channels: 4
"""


def _train(dumps: Path, out: Path, start: int, *extra: str, vocos: bool = False):
    from speechproc.train import train

    conf = out.parent / f"{out.name}.yaml"
    text = TOY.replace("DSTART", str(start))
    if vocos:  # swap the HiFi-GAN generator and discriminator for the Vocos-style ones
        head, rest = text.split("generator: !new:", 1)
        tail = rest[rest.index("generator_loss:"):]
        text = head + VOCOS.lstrip() + tail
    conf.write_text(text)
    return train([str(conf), "--output_folder", str(out), "--train_data", str(dumps / "dump_train"),
                  "--valid_data", str(dumps / "dump_dev"), *extra])


def _log(exp: Path):
    rows = []
    for line in (exp / "train_log.txt").read_text().splitlines():
        train_part = line.split(" - ")[1]
        rows.append({kv.split(": ")[0].replace("train ", ""): float(kv.split(": ")[1]) for kv in train_part.split(", ")})
    return rows


@pytest.mark.slow
def test_hifigan_trains_spectral_then_adversarial_and_vocodes(dumps: Path, tmp_path: Path) -> None:
    exp = tmp_path / "hifigan"
    brain = _train(dumps, exp, start=2)  # 2 updates per epoch: epoch 1 spectral only, then with the discriminator
    assert brain.optimizer_steps == 6
    rows = _log(exp)
    assert "d_loss" not in rows[0] and "adv_loss" not in rows[0]
    assert all(k in rows[1] for k in ("d_loss", "adv_loss", "feat_loss", "mel_loss", "stft_mag_loss"))
    state = torch.load(exp / "model.pt")
    assert set(state["modules"]) == {"generator", "discriminator"}

    voc = make_vocoder("hifigan", MelConfig(), checkpoint=str(exp))
    assert isinstance(voc, GANVocoder) and voc.sample_rate == 22050 and voc.name == "hifigan"
    mel = compute_mel(harmonic(0.3))
    wave = voc(mel)
    assert wave.shape == (mel.shape[0] * 256,) and wave.dtype == np.float32
    assert np.isfinite(wave).all() and np.abs(wave).max() <= 1.0
    with pytest.raises(SpeechprocError, match="trained on mel settings"):
        GANVocoder(exp, MelConfig(sample_rate=16000))
    with pytest.raises(SpeechprocError, match="needs a trained vocoder"):
        make_vocoder("hifigan", MelConfig())


def test_vocos_trains_adversarially_and_is_the_auto_vocoder(dumps: Path, tmp_path: Path) -> None:
    exp = tmp_path / "vocos"
    brain = _train(dumps, exp, 0, vocos=True)
    assert brain.optimizer_steps == 6
    rows = _log(exp)
    assert all(k in rows[0] for k in ("d_loss", "adv_loss", "feat_loss", "mel_loss"))
    voc = make_vocoder("auto", MelConfig(), checkpoint=str(exp))
    assert isinstance(voc, GANVocoder) and voc.name == "vocos"
    mel = compute_mel(harmonic(0.3))
    wave = voc(mel)
    assert wave.shape == (mel.shape[0] * 256,) and np.isfinite(wave).all() and np.abs(wave).max() <= 1.0
    assert make_vocoder("auto", MelConfig()).name == "griffin_lim"  # no checkpoint: Griffin-Lim
    with pytest.raises(SpeechprocError, match="trained on mel settings"):
        make_vocoder("vocos", MelConfig(n_mels=40), checkpoint=str(exp))


def test_vocoder_fine_tunes_from_init_model_and_refuses_a_mismatched_one(dumps: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    _train(dumps, base, 0, "--number_of_epochs", "1", vocos=True)
    ft = tmp_path / "ft"  # learning rate 0: the fine-tuned weights are exactly the initial model's
    _train(dumps, ft, 0, "--number_of_epochs", "1", "--init_model", str(base / "model.pt"), "--lr", "0",
           vocos=True)
    a = torch.load(base / "model.pt")["modules"]["generator"]
    b = torch.load(ft / "model.pt")["modules"]["generator"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    hifi = tmp_path / "hifi"
    _train(dumps, hifi, 10**6, "--number_of_epochs", "1")
    with pytest.raises(SpeechprocError, match="does not match"):
        _train(dumps, tmp_path / "bad", 0, "--init_model", str(hifi / "model.pt"), vocos=True)


def test_spectral_training_lowers_the_mel_loss(dumps: Path, tmp_path: Path) -> None:
    exp = tmp_path / "spectral"
    _train(dumps, exp, 10**6, "--number_of_epochs", "8", "--lr", "0.003")
    rows = _log(exp)
    assert len(rows) == 8 and all("d_loss" not in r for r in rows)
    assert rows[-1]["mel_loss"] < 0.8 * rows[0]["mel_loss"]
    valid = [float(ln.split("valid loss: ")[1].split(",")[0]) for ln in (exp / "train_log.txt").read_text().splitlines()]
    assert valid[-1] < valid[0]


def test_stale_dump_is_refused(dumps: Path, tmp_path: Path) -> None:
    import shutil

    from speechproc.tasks.vocoder import make_vocoder_dataset

    dump = tmp_path / "dump"
    shutil.copytree(dumps / "dump_train", dump)
    wav = Path((dump / "wav.scp").read_text().split()[1])
    short = tmp_path / "short.wav"
    sf.write(short, sf.read(wav)[0][:2400], 24000)  # 0.1 s instead of 0.4 s
    lines = (dump / "wav.scp").read_text().splitlines()
    lines[0] = f"{lines[0].split()[0]} {short}"
    (dump / "wav.scp").write_text("\n".join(lines) + "\n")
    ds = make_vocoder_dataset(dump, segment_frames=None)
    with pytest.raises(SpeechprocError, match="stale: re-run compute_mel"):
        ds[0]


class _Payload:
    """A pickle that would create a file when unpickled (what a tampered model.pt could carry)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_model_file_with_a_pickle_payload_is_refused_and_never_runs(dumps: Path, tmp_path: Path) -> None:
    exp = tmp_path / "voc"
    _train(dumps, exp, 0, "--number_of_epochs", "1", vocos=True)
    state = torch.load(exp / "model.pt")
    marker = tmp_path / "payload_ran"
    state["extra"] = _Payload(str(marker))
    torch.save(state, exp / "model.pt")
    with pytest.raises(SpeechprocError, match="not a plain weights file"):
        make_vocoder("vocos", MelConfig(), checkpoint=str(exp))
    with pytest.raises(SpeechprocError, match="not a plain weights file"):
        _train(dumps, tmp_path / "ft", 0, "--init_model", str(exp / "model.pt"), vocos=True)
    assert not marker.exists()
    (exp / "model.pt").write_bytes(b"\x80\x02truncated")
    with pytest.raises(SpeechprocError, match="weights file"):
        make_vocoder("vocos", MelConfig(), checkpoint=str(exp))
