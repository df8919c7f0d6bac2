"""Naturalness (DistillMOS), WORLD/SPTK MCD and F0, and the Vocos-style GAN vocoder at toy size."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import require_corpus
from speechproc.score.mcd import f0_metrics, mcd, mcep_params, world_analysis
from speechproc.utils import SpeechprocError


def lj_clip(n: int = 1) -> tuple:
    root = require_corpus("ljspeech")
    wave, sr = sf.read(str(root / "LJSpeech-1.1" / "wavs" / f"LJ001-{n:04d}.wav"), dtype="float32")
    return wave, sr


def with_noise(wave: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(wave)).astype(np.float32)
    noise *= np.sqrt(np.mean(wave ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    return wave + noise


# ------------------------------------------------------------------------------------------------
# MCD and F0 (WORLD + SPTK)


def test_f0_of_a_150_hz_tone() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    f0 = world_analysis(0.3 * np.sin(2 * np.pi * 150.0 * t), sr).f0
    voiced = f0[f0 > 0]
    assert len(voiced) > 0.8 * len(f0)
    assert abs(float(np.median(voiced)) - 150.0) <= 2.0


def test_mcep_settings_follow_the_sample_rate() -> None:
    assert mcep_params(16000) == (24, 0.42)
    order, alpha = mcep_params(22050)
    assert order == 34 and alpha == pytest.approx(0.455, abs=1e-3)


def test_mcd_of_a_signal_against_itself_is_zero_and_grows_with_noise() -> None:
    wave, sr = lj_clip(2)
    same = mcd(wave, wave, sr)
    assert same.mcd == pytest.approx(0.0, abs=1e-9)
    assert same.mcd == 0.0 and same.frames_syn == same.frames_ref
    values = [mcd(with_noise(wave, snr), wave, sr).mcd for snr in (30.0, 15.0, 5.0)]
    assert 0.5 < values[0] < values[1] < values[2]
    f = f0_metrics(mcd(with_noise(wave, 30.0), wave, sr))
    assert f.corr > 0.9 and f.log_f0_rmse < 0.1


def test_mcd_refuses_bad_audio() -> None:
    with pytest.raises(SpeechprocError, match="empty"):
        mcd(np.zeros(0), np.ones(1600), 16000)
    with pytest.raises(SpeechprocError, match="mono"):
        mcd(np.zeros((2, 1600)), np.ones(1600), 16000)


# ------------------------------------------------------------------------------------------------
# DistillMOS


@pytest.fixture(scope="module")
def mos():
    pytest.importorskip("distillmos", reason="distillmos is installed by tools/install.sh")
    from speechproc.score.mos import MOSPredictor

    return MOSPredictor(batch_size=4)


def test_mos_ranks_clean_above_noise_and_griffin_lim(mos) -> None:
    from speechproc.decode.vocoder import GriffinLimVocoder
    from speechproc.features.mel import MelConfig, compute_mel

    wave, sr = lj_clip(3)
    gl = GriffinLimVocoder(MelConfig(), n_iter=8)(compute_mel(wave, MelConfig()))
    clean, noisy, copy = mos([wave, with_noise(wave, 5.0), gl], sr)
    assert clean > 3.5
    assert clean > noisy + 0.5
    assert clean > copy + 0.3


def test_mos_batched_equals_one_by_one_and_keeps_order(mos) -> None:
    a, sr = lj_clip(4)
    b, _ = lj_clip(5)
    long = np.concatenate([a, b, a])  # over one 7.68-s window: scored on its own
    batched = mos([a, b, long], sr)
    alone = np.array([mos([x], sr)[0] for x in (a, b, long)])
    np.testing.assert_allclose(batched, alone, atol=1e-4)
    assert batched[0] != pytest.approx(batched[1], abs=1e-3)


def test_mos_refuses_silent_short_and_stereo_audio(mos) -> None:
    with pytest.raises(SpeechprocError, match="silent"):
        mos([np.zeros(16000, dtype=np.float32)], 16000, names=["data/x/wav.scp: u1"])
    with pytest.raises(SpeechprocError, match="too short"):
        mos([np.ones(100, dtype=np.float32)], 16000)
    with pytest.raises(SpeechprocError, match="mono"):
        mos([np.ones((16000, 2), dtype=np.float32)], 16000)


def test_predict_mos_verb_writes_utt2mos(mos, tmp_path: Path) -> None:
    from speechproc.bin.predict_mos import main
    from speechproc.data import DataDir
    from speechproc.score.mos import read_mos

    root = require_corpus("ljspeech") / "LJSpeech-1.1" / "wavs"
    utts = {f"lj-{i}": str(root / f"LJ001-{i:04d}.wav") for i in (6, 7)}
    DataDir(wav_scp=utts, utt2spk={u: "lj" for u in utts}).save(tmp_path / "d")
    assert main([str(tmp_path / "d"), "--table", str(tmp_path / "t.md")]) == 0
    scores = read_mos(tmp_path / "d" / "utt2mos")
    assert sorted(scores) == sorted(utts) and all(1.0 <= s <= 5.0 for s in scores.values())
    assert "| 2 |" in (tmp_path / "t.md").read_text()


# ------------------------------------------------------------------------------------------------
# Vocos-style GAN vocoder


def toy_vocoder():
    from speechproc.models.vocos import VocosDiscriminator, VocosGenerator

    torch.manual_seed(0)
    g = VocosGenerator(n_mels=80, dim=32, intermediate_dim=64, num_layers=2, n_fft=1024, hop_length=256)
    d = VocosDiscriminator(period_channels=(4, 8), resolution_channels=4)
    return g, d


def test_vocos_generator_and_discriminators_shapes_and_backward() -> None:
    g, d = toy_vocoder()
    mel = torch.randn(2, 80, 12)
    wave = g(mel)
    assert wave.shape == (2, 1, 12 * 256)
    scores, feats = d(wave)
    assert len(scores) == len(feats) == 5 + 3  # five periods, three resolutions
    assert all(s.shape[0] == 2 for s in scores) and all(len(f) >= 3 for f in feats)
    loss = sum(s.mean() for s in scores)
    loss.backward()
    assert all(p.grad is not None for p in g.parameters())
    with pytest.raises(ValueError, match="log-mel"):
        g(torch.randn(2, 40, 12))


def test_vocos_one_step_lowers_the_losses() -> None:
    import speechbrain as sb
    from speechbrain.lobes.models.HifiGAN import (DiscriminatorLoss, GeneratorLoss, MelganFeatureLoss, MSEDLoss,
                                                  MSEGLoss)

    from speechproc.features.mel import LogMel, MelConfig

    g, d = toy_vocoder()
    log_mel = LogMel(MelConfig())
    t = torch.arange(32 * 256) / 22050.0
    real = (0.3 * torch.sin(2 * torch.pi * 200.0 * t))[None, None].repeat(2, 1, 1)
    mel = log_mel(real.squeeze(1)).transpose(1, 2)[:, :, :32]  # T frames <-> T * hop samples
    g_loss = GeneratorLoss(mseg_loss=MSEGLoss(), mseg_loss_weight=1, feat_match_loss=MelganFeatureLoss(),
                           feat_match_loss_weight=2)
    d_loss = DiscriminatorLoss(msed_loss=MSEDLoss())
    opt_g = torch.optim.Adam(g.parameters(), 1e-3)
    opt_d = torch.optim.Adam(d.parameters(), 1e-3)

    def losses():
        fake = g(mel)
        ld = d_loss(*[d(fake.detach())[0], d(real)[0]])["D_loss"]
        sf_, ff = d(fake)
        _, fr = d(real)
        mel_l1 = torch.nn.functional.l1_loss(log_mel(fake.squeeze(1)), log_mel(real.squeeze(1)))
        lg = g_loss(sb.Stage.TRAIN, fake, real, sf_, ff, fr)["G_loss"] + 45 * mel_l1
        return ld, lg, mel_l1

    ld0, lg0, mel0 = losses()
    opt_d.zero_grad()
    ld0.backward()
    opt_d.step()
    _, lg, _ = losses()
    opt_g.zero_grad()
    lg.backward()
    opt_g.step()
    ld1, lg1, mel1 = losses()
    assert float(ld1) < float(ld0)
    assert float(mel1) < float(mel0)


# ------------------------------------------------------------------------------------------------
# bad input of synthesis


def test_synthesis_refuses_unspeakable_text_and_silent_audio(tmp_path: Path) -> None:
    from speechproc.data import DataDir
    from speechproc.decode.tts import CopySynthesis, synthesize_dir
    from speechproc.decode.vocoder import GriffinLimVocoder
    from speechproc.text.tokenizer import encode_text
    from speechproc.text.tokenizer import train_tokenizer

    tok = train_tokenizer(["hello world"], "char", cleaners="english")
    with pytest.raises(SpeechprocError, match="no tokens"):
        encode_text(tok, "   ")
    with pytest.raises(SpeechprocError, match="no speakable character"):
        encode_text(tok, "!!! ???")
    assert encode_text(tok, "hello").shape == (6,)

    class Mute:
        sample_rate = 16000

        def __call__(self, text: str) -> np.ndarray:
            return np.zeros(1600, dtype=np.float32)

    with pytest.raises(SpeechprocError, match="data/x: utterance 'u1' synthesized to an empty, silent"):
        synthesize_dir(Mute(), {"u1": "hello"}, tmp_path / "out", info={"source": "data/x"})
    assert not (tmp_path / "out").exists()  # nothing half-written

    sf.write(str(tmp_path / "s.wav"), np.zeros(22050, dtype=np.float32), 22050)
    data = DataDir(wav_scp={"s-1": str(tmp_path / "s.wav")}, utt2spk={"s-1": "s"}, text={"s-1": "a"})
    with pytest.raises(SpeechprocError, match="utterance 's-1'.*silent"):
        synthesize_dir(CopySynthesis(data, GriffinLimVocoder()), {"s-1": "a"}, tmp_path / "o2",
                       inputs={"s-1": "s-1"}, info={"source": "data/s"})


def test_copy_synthesis_needs_audio_only(tmp_path: Path) -> None:
    """A data dir without text (a voice-conversion target) copy-synthesizes into a synthesis dir without text;
    synthesis from text still refuses it, naming the dir."""
    from speechproc.bin.synthesize import main
    from speechproc.data import DataDir

    t = np.arange(int(0.6 * 22050)) / 22050
    sf.write(str(tmp_path / "a.wav"), (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 22050)
    (tmp_path / "d").mkdir()
    DataDir(wav_scp={"s-1": str(tmp_path / "a.wav")}, utt2spk={"s-1": "s"}).write_files(tmp_path / "d")
    assert main(["--copy-synthesis", "--vocoder", "griffin_lim", "--data", str(tmp_path / "d"),
                 str(tmp_path / "out")]) == 0
    out = DataDir.load(tmp_path / "out")
    assert out.text is None and list(out.wav_scp) == ["s-1"]
    wave, sr = sf.read(out.wav_scp["s-1"])
    assert sr == 22050 and abs(len(wave) - len(t)) <= 256 and np.abs(wave).max() > 0.05
    with pytest.raises(SpeechprocError, match=f"{tmp_path / 'd'}: no text file to synthesize"):
        main(["--exp-dir", str(tmp_path / "none"), "--data", str(tmp_path / "d"), str(tmp_path / "o2")])


def test_an_unchanged_evaluation_is_reused_and_a_changed_one_is_not(tmp_path: Path) -> None:
    from speechproc.data import DataDir
    from speechproc.score.tts import evaluate_synthesis

    wave, sr = lj_clip(1)
    wave = wave[: sr * 2]
    for d, x in (("ref", wave), ("syn", with_noise(wave, 20))):
        (tmp_path / d).mkdir()
        sf.write(str(tmp_path / d / "LJ-1.wav"), x, sr)
        DataDir(wav_scp={"LJ-1": str(tmp_path / d / "LJ-1.wav")}, utt2spk={"LJ-1": "LJ"},
                text={"LJ-1": "printing in the only sense"}).save(tmp_path / d / "data")
    calls = []

    def judge(audio):
        calls.append(len(audio))
        return "printing in the only sense", []

    def run(reuse: bool = True):
        return evaluate_synthesis(tmp_path / "syn" / "data", tmp_path / "ref" / "data", judge=judge, mos=False,
                                  judge_backend="fake", judge_model="x", reuse=reuse)

    first = run()
    assert len(calls) == 2  # synthesized and natural
    again = run()
    assert len(calls) == 2 and again["rows"][0]["mcd"] == first["rows"][0]["mcd"]  # unchanged: reused
    run(reuse=False)
    assert len(calls) == 4
    sf.write(str(tmp_path / "syn" / "LJ-1.wav"), with_noise(wave, 5), sr)  # new audio: evaluated again
    second = run()
    assert len(calls) == 6 and second["rows"][0]["mcd"] > first["rows"][0]["mcd"]


def test_speaker_similarity_column_ranks_the_same_voice_above_a_shifted_one(tmp_path: Path, monkeypatch) -> None:
    """With a speaker model, the evaluation adds the cosine to the natural speaker's centroid: the natural clips
    with light noise stay close to it, the same clips with their spectrum shifted (a different voice) do not; the
    natural row compares each clip with the centroid of the others, or with --speaker-ref's centroid."""
    import librosa

    from speechproc.data import DataDir
    from speechproc.score import speaker
    from speechproc.score.tts import evaluate_synthesis, format_table

    class SpectrumEmbedder:
        """Fake speaker model: the mean log spectrum (a shifted spectral envelope is another voice)."""

        def __call__(self, wave: np.ndarray, sr: int) -> np.ndarray:
            e = np.log(np.abs(librosa.stft(np.asarray(wave, dtype=np.float32), n_fft=512)) + 1e-3).mean(axis=1)
            return e - e.mean()

    monkeypatch.setattr(speaker.SpeakerEmbedder, "from_pretrained",
                        classmethod(lambda cls, exp_dir, device="cpu": SpectrumEmbedder()))
    (tmp_path / "spk").mkdir()
    (tmp_path / "spk" / "model.pt").write_bytes(b"")
    clips = {f"LJ-{n}": lj_clip(n) for n in (1, 2, 3)}
    shift = {u: librosa.effects.pitch_shift(w[: 2 * sr], sr=sr, n_steps=7) for u, (w, sr) in clips.items()}
    sets = {"ref": {u: w[: 2 * sr] for u, (w, sr) in clips.items()},
            "same": {u: with_noise(w[: 2 * sr], 30) for u, (w, sr) in clips.items()}, "shifted": shift}
    for d, waves in sets.items():
        (tmp_path / d).mkdir()
        for u, w in waves.items():
            sf.write(str(tmp_path / d / f"{u}.wav"), w, 22050)
        DataDir(wav_scp={u: str(tmp_path / d / f"{u}.wav") for u in waves}, utt2spk={u: "LJ" for u in waves},
                text={u: "printing" for u in waves}).save(tmp_path / d / "data")

    def run(d, **kw):
        return evaluate_synthesis(tmp_path / d / "data", tmp_path / "ref" / "data", judge=False, mos=False, f0=False,
                                  speaker_exp=tmp_path / "spk", **kw)["rows"]

    same, natural = run("same")
    shifted, _ = run("shifted")
    assert -1.0 <= shifted["spk_sim"] < same["spk_sim"] <= 1.0
    assert natural["spk_sim"] < 1.0 - 1e-6  # not its own reference
    assert same["spk_sim"] - shifted["spk_sim"] > 0.05  # measured: 0.92 against 0.80
    table = format_table([same, shifted, natural])
    assert "| spk sim |" in table and f"| {same['spk_sim']:.3f} |" in table
    assert "spk sim" not in format_table([{"system": "x", "n": 1}])  # no speaker model: no column
    _, against_shifted = run("same", speaker_ref=tmp_path / "shifted" / "data")
    assert against_shifted["spk_sim"] < natural["spk_sim"]


def test_a_resynthesis_of_the_same_audio_keeps_its_evaluation(tmp_path: Path) -> None:
    from speechproc.data import DataDir
    from speechproc.decode.tts import synthesize_dir
    from speechproc.score.tts import evaluate_synthesis

    wave, sr = lj_clip(1)
    wave = wave[: sr * 2]
    sf.write(str(tmp_path / "LJ-1.wav"), wave, sr)
    DataDir(wav_scp={"LJ-1": str(tmp_path / "LJ-1.wav")}, utt2spk={"LJ-1": "LJ"},
            text={"LJ-1": "printing"}).save(tmp_path / "ref")

    class Echo:
        sample_rate = sr
        gain = 0.5

        def __call__(self, text: str) -> np.ndarray:
            return (self.gain * wave).astype(np.float32)

    calls = []

    def judge(audio):
        calls.append(1)
        return "printing", []

    tts = Echo()
    for gain, want in ((0.5, 2), (0.5, 2), (0.25, 4)):  # same audio: reused; other audio: evaluated again
        tts.gain = gain
        synthesize_dir(tts, {"LJ-1": "printing"}, tmp_path / "syn", info={"source": "ref"})
        evaluate_synthesis(tmp_path / "syn", tmp_path / "ref", judge=judge, mos=False, judge_backend="fake",
                           judge_model="x", reuse=True)
        assert len(calls) == want
