"""Voice conversion, method 1 (frame-level feature transform): DTW pairs, GMM/MLPG and DNN mappings,
the differential resynthesis, the verbs, the evaluation table (with the speaker-similarity hook)
and a smoke test of the VCC2016 recipe on a few real utterances."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import recipe_copy, recipe_env, require_corpus
from speechproc.data import DataDir
from speechproc.score.mcd import mcd
from speechproc.vc.convert import IdentityMapping, VoiceConverter, check_config, parallel_pairs
from speechproc.vc.dnn import DNNMapping
from speechproc.vc.features import (
    VCFeatureConfig,
    align_pairs,
    append_deltas,
    extract_mcep,
    mcep_to_log_amplitude,
    speech_mask,
)
from speechproc.vc.gmm import JointGMM, mlpg
from speechproc.utils import SpeechprocError

torch.set_num_threads(1)

SR = 16000
CFG = VCFeatureConfig()


def _trajectory(t: np.ndarray, centre: float, depth: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random trajectory around ``centre`` (sum of three slow sinusoids)."""
    out = np.full_like(t, centre)
    for _ in range(3):
        out += depth / 3 * np.sin(2 * np.pi * rng.uniform(0.7, 3.0) * t + rng.uniform(0, 2 * np.pi))
    return out


def voiced(seconds: float = 1.5, f0: float = 120.0, formant_scale: float = 1.0, seed: int = 0,
           stretch: float = 1.0) -> np.ndarray:
    """A speech-like signal: harmonics of a gliding F0 shaped by three moving formants (the same
    trajectories for the same seed), with syllable-like loudness; ``stretch`` plays it that many
    times slower (trajectories and all, pitch unchanged)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * stretch * SR)
    t = np.arange(n) / SR / stretch  # the content's own time axis
    f = f0 * (1.0 + 0.1 * np.sin(2 * np.pi * 0.8 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    formants = [_trajectory(t, c, d, rng) * formant_scale for c, d in ((600, 300), (1500, 600), (2600, 400))]
    x = np.zeros(n)
    for k in range(1, int(7600 / (f0 * 1.2))):
        fk = k * f
        amp = sum(np.exp(-0.5 * ((fk - fm) / 120.0) ** 2) for fm in formants) + 0.02
        x += amp * np.sin(k * phase) / np.sqrt(k)
    loud = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t) ** 2
    return (0.05 * x * loud / np.sqrt(np.mean(x ** 2)) + 1e-4 * rng.standard_normal(n)).astype(np.float32)


def _static_delta(wave: np.ndarray) -> np.ndarray:
    return append_deltas(extract_mcep(wave, CFG)[:, 1:])


# ------------------------------------------------------------------------------------------------
# features, DTW


def test_dtw_follows_a_time_stretched_copy() -> None:
    x = voiced(1.5, seed=3)
    y = voiced(1.5, seed=3, stretch=1.5)  # the same content 1.5 times slower
    cx, cy = extract_mcep(x, CFG), extract_mcep(y, CFG)
    (path,), _ = align_pairs([cx[:, 1:]], [cy[:, 1:]], [np.ones(len(cx), bool)], [np.ones(len(cy), bool)])
    assert path[0].tolist() == [0, 0] and path[-1].tolist() == [len(cx) - 1, len(cy) - 1]
    dev = np.abs(path[:, 1] - 1.5 * path[:, 0])
    assert np.median(dev) <= 1.0 and np.percentile(dev, 95) <= 3.0 and dev.max() <= 5.0, (np.median(dev), dev.max())


def test_align_pairs_skips_silence_and_indexes_the_full_sequences() -> None:
    x = np.concatenate([np.zeros(1600, np.float32), voiced(1.0, seed=1), np.zeros(1600, np.float32)])
    c = extract_mcep(x + 1e-6 * np.random.default_rng(0).standard_normal(len(x)).astype(np.float32), CFG)
    mask = speech_mask(c, CFG.silence_db)
    assert not mask[:10].any() and mask[len(mask) // 2] and not mask[-10:].any()
    (path,), dist = align_pairs([c[:, 1:]], [c[:, 1:]], [mask], [mask])
    assert dist == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_array_equal(path[:, 0], np.flatnonzero(mask))
    np.testing.assert_array_equal(path[:, 0], path[:, 1])


def test_log_amplitude_of_mel_cepstrum_inverts_the_analysis() -> None:
    x = voiced(0.5, seed=2)
    c = extract_mcep(x, CFG)
    env = mcep_to_log_amplitude(c, CFG.alpha, CFG.n_fft)
    # re-analysing the smooth envelope on the warped axis gives back the same coefficients
    from speechproc.vc.features import _warped_axis

    n_bins = CFG.n_fft // 2 + 1
    omega = np.linspace(0, np.pi, n_bins)
    lw = np.stack([np.interp(_warped_axis(n_bins, CFG.alpha), omega, e) for e in env])
    theta = np.linspace(0, np.pi, n_bins)
    w = np.full(n_bins, 1.0)
    w[0] = w[-1] = 0.5
    back = lw @ (np.cos(np.outer(np.arange(CFG.order + 1), theta)) * w / (n_bins - 1)).T
    np.testing.assert_allclose(back, c, atol=2e-3 * np.abs(c).max())


def test_mlpg_with_consistent_deltas_returns_the_trajectory() -> None:
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.standard_normal((50, 3)), axis=0)
    np.testing.assert_allclose(mlpg(append_deltas(y), np.ones((50, 6))), y, atol=1e-8)
    # huge static variance: the trajectory follows the deltas (up to the mean, pinned by the statics)
    smooth = mlpg(append_deltas(y) + np.concatenate([rng.standard_normal((50, 3)), np.zeros((50, 3))], 1),
                  np.concatenate([np.full((50, 3), 1e3), np.full((50, 3), 1e-3)], 1))
    np.testing.assert_allclose(smooth - smooth.mean(0), y - y.mean(0), atol=0.2)


# ------------------------------------------------------------------------------------------------
# mappings


def _features(seeds: Sequence[int]) -> np.ndarray:
    return np.concatenate([_static_delta(voiced(1.0, seed=s)) for s in seeds])


def test_gmm_em_log_likelihood_never_decreases() -> None:
    x = _features([0, 1])
    z = np.concatenate([x, x[:, :24] * 0.8 + 0.1], axis=1)[:, ::4]
    g = JointGMM(n_mix=4, n_iter=12, reg=1e-4, seed=0, tol=-np.inf).fit(z)
    h = np.asarray(g.history)
    assert len(h) == 12  # one per EM iteration
    assert np.all(np.diff(h) >= -1e-7 * np.abs(h[:-1])), np.diff(h)
    assert h[-1] > h[0]


def test_gmm_trained_on_identical_source_and_target_is_close_to_identity() -> None:
    x = _features([0, 1, 2])
    g = JointGMM(n_mix=4, n_iter=10, reg=1e-3, seed=0).fit(np.concatenate([x, x], axis=1))
    test = _static_delta(voiced(1.0, seed=7))
    for mixture in ("best", "posterior"):
        y = g.convert(test, mixture=mixture)
        err = np.sqrt(np.mean((y - test[:, :24]) ** 2))
        assert err < 0.05 * test[:, :24].std(), (mixture, err)


def test_dnn_trained_on_identical_source_and_target_is_close_to_identity() -> None:
    utts = [_static_delta(voiced(1.0, seed=s)) for s in range(4)]
    pairs = [np.stack([np.arange(len(u))] * 2, 1) for u in utts]
    m = DNNMapping(context=1, hidden=64, layers=2, epochs=25, batch_size=64, lr=3e-3, valid_fraction=0.0).fit(
        utts, utts, pairs)
    assert m.history[-1]["train_loss"] < 0.2 * m.history[0]["train_loss"]
    test = _static_delta(voiced(1.0, seed=7))
    err = np.sqrt(np.mean((m.convert(test) - test[:, :24]) ** 2))
    assert err < 0.25 * test[:, :24].std(), err


# ------------------------------------------------------------------------------------------------
# resynthesis


def test_identity_conversion_returns_the_waveform() -> None:
    x = voiced(1.0, seed=4)
    y = VoiceConverter(IdentityMapping())(x, SR)
    assert y.shape == x.shape and np.max(np.abs(y - x)) < 1e-4
    # 8 kHz input comes back at the analysis rate
    assert len(VoiceConverter(IdentityMapping())(x[::2], SR // 2)) == len(x)


def test_gmm_identity_model_converts_a_waveform_to_nearly_itself() -> None:
    x = _features([0, 1, 2])
    g = JointGMM(n_mix=4, n_iter=10, reg=1e-3, seed=0).fit(np.concatenate([x, x], axis=1))
    conv = VoiceConverter(g, config={"method": "gmm"})
    wave = voiced(1.0, seed=5)
    out = conv(wave, SR)
    assert len(out) == len(wave)
    assert mcd(out, wave, SR).mcd < 1.0


def test_spectral_filter_moves_the_envelope_towards_the_target() -> None:
    """A mapping that returns the target's cepstra: the filtered source gets the target's spectrum."""
    src, tgt = voiced(1.0, seed=6), voiced(1.0, seed=6, formant_scale=1.15)
    c_tgt = extract_mcep(tgt, CFG)[:, 1:]

    class Oracle:
        def convert(self, x: np.ndarray, **_) -> np.ndarray:
            return c_tgt[: len(x)]

    out = VoiceConverter(Oracle(), config={"method": "dnn", "mlpg": False})(src, SR)
    assert mcd(out, tgt, SR).mcd < 0.5 * mcd(src, tgt, SR).mcd


WORLD_CFG = {"method": "identity", "features": {"analysis": "world", "alpha": 0.42}, "vocoder": "world",
             "f0_transform": "linear"}


def test_linear_log_f0_transform_maps_mean_and_variance() -> None:
    from speechproc.vc.features import F0Stats

    rng = np.random.default_rng(0)
    src = np.exp(np.log(110.0) + 0.15 * rng.standard_normal(2000))
    src[::7] = 0.0  # unvoiced frames stay unvoiced
    s_stats = F0Stats(float(np.log(src[src > 0]).mean()), float(np.log(src[src > 0]).std()), int((src > 0).sum()))
    t_stats = F0Stats(float(np.log(220.0)), 0.25, 1000)
    out = VoiceConverter(IdentityMapping(), VCFeatureConfig(analysis="world", alpha=0.42), s_stats, t_stats,
                         WORLD_CFG).convert_f0(src)
    assert np.array_equal(out == 0, src == 0)
    lo = np.log(out[out > 0])
    assert lo.mean() == pytest.approx(np.log(220.0), abs=1e-9) and lo.std() == pytest.approx(0.25, abs=1e-9)


def test_world_vocoder_converts_length_rate_and_pitch() -> None:
    from speechproc.score.mcd import world_analysis
    from speechproc.vc.features import F0Stats

    x = voiced(1.0, f0=120.0, seed=7)
    conv = VoiceConverter(IdentityMapping(), VCFeatureConfig(analysis="world", alpha=0.42),
                          F0Stats(float(np.log(120.0)), 0.1, 100), F0Stats(float(np.log(180.0)), 0.1, 100), WORLD_CFG)
    y = conv(x[::2], SR // 2)  # 8 kHz input: resampled to the analysis rate first
    assert y.dtype == np.float32 and len(y) == len(x) and conv.sample_rate == SR
    f_in, f_out = world_analysis(x, SR).f0, world_analysis(y, SR).f0
    ratio = np.median(f_out[f_out > 0]) / np.median(f_in[f_in > 0])
    assert ratio == pytest.approx(1.5, rel=0.05)
    with pytest.raises(SpeechprocError, match="vocoder world needs WORLD features"):
        check_config({**WORLD_CFG, "features": {"analysis": "stft"}})
    with pytest.raises(SpeechprocError, match="f0_transform linear goes with vocoder world"):
        check_config({**WORLD_CFG, "vocoder": "diff"})


def test_config_errors_name_the_option() -> None:
    with pytest.raises(SpeechprocError, match="unknown option 'n_mixtures'"):
        check_config({"gmm": {"n_mixtures": 3}})
    with pytest.raises(SpeechprocError, match="method 'wavenet'"):
        check_config({"method": "wavenet"})


# ------------------------------------------------------------------------------------------------
# verbs and evaluation on a synthetic parallel corpus


def _parallel_corpus(root: Path, n: int = 4) -> Tuple[Path, Path]:
    """Speakers 'aa' (F0 120 Hz) and 'bb' (F0 150 Hz, formants x 1.12) reading the same 'sentences'."""
    dirs = []
    for spk, f0, scale in (("aa", 120.0, 1.0), ("bb", 150.0, 1.12)):
        wav_scp = {}
        for i in range(n):
            path = root / "wav" / spk / f"{i:03d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), voiced(0.8, f0=f0, formant_scale=scale, seed=10 + i), SR)
            wav_scp[f"{spk}_{i:03d}"] = str(path)
        d = root / "data" / spk
        DataDir(wav_scp=wav_scp, utt2spk={u: spk for u in wav_scp}, text=None).save(d)
        dirs.append(d)
    return dirs[0], dirs[1]


def _run(module: str, *args: str) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", f"speechproc.bin.{module}", *args], capture_output=True, text=True,
                       env=recipe_env(OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    return p


@pytest.mark.slow
def test_train_convert_evaluate_verbs(tmp_path: Path) -> None:
    src, tgt = _parallel_corpus(tmp_path)
    exp = tmp_path / "exp" / "aa_bb_gmm"
    _run("train_vc", "--src", str(src), "--tgt", str(tgt), "--method", "gmm", "--set", "gmm.n_mix=2",
         "--set", "gmm.n_iter=5", "--set", "align_iterations=2", str(exp))
    info = json.loads((exp / "vc.json").read_text())
    assert info["method"] == "gmm" and info["utterances"] == 4 and len(info["rounds"]) == 2
    assert info["f0"]["shift_semitones"] == pytest.approx(12 * np.log2(150 / 120), abs=0.6)
    assert (exp / "model.npz").is_file() and (exp / "train.log").is_file() and "train_vc" in info["command"]
    conv_dir = exp / "convert_aa"
    _run("convert_vc", "--exp-dir", str(exp), "--data", str(src), "--nj", "2", str(conv_dir))
    conv = DataDir.load(conv_dir)
    assert conv.utts == DataDir.load(src).utts and (conv_dir / "logs" / "convert.2.log").is_file()
    assert json.loads((conv_dir / "convert.json").read_text())["rtf"] > 0
    # the library call gives the same audio as the verb
    wave, sr = DataDir.load(src).load_audio("aa_000")
    direct = VoiceConverter.from_pretrained(exp)(wave, sr)
    written, _ = sf.read(conv.wav_scp["aa_000"], dtype="float32")
    assert np.max(np.abs(direct - written)) < 1e-3
    # conversion-time options only: the vocoder may change, the trained model may not
    gl = VoiceConverter.from_pretrained(exp, {"vocoder": "griffin_lim"})(wave, sr)
    assert gl.shape == direct.shape and mcd(gl, direct, SR).mcd < 6.0  # Griffin-Lim copies measure 4-5 dB (WORLD MCD)
    with pytest.raises(SpeechprocError, match="cannot change a trained model"):
        VoiceConverter.from_pretrained(exp, {"gmm": {"n_mix": 3}})
    table = tmp_path / "RESULTS.md"
    _run("evaluate_vc", "--src", str(src), "--tgt", str(tgt), "--judge-backend", "none", "--no-f0",
         "--speaker-exp", "none", "--table", str(table), str(conv_dir))
    text = table.read_text()
    assert "| no conversion (source) | 4 |" in text and "| aa_bb_gmm | 4 |" in text and "| natural target | 4 |" in text
    rows = json.loads((conv_dir / "eval" / "evaluate.json").read_text())["rows"]
    none, gmm = rows[0], rows[1]
    assert gmm["mcd_tgt"] < none["mcd_tgt"] and gmm["mcd_tgt"] < gmm["mcd_src"]  # closer to the target


def test_parallel_dirs_must_match(tmp_path: Path) -> None:
    src, tgt = _parallel_corpus(tmp_path, n=3)
    short = DataDir.load(tgt).subset(["bb_000", "bb_001"])
    short.save(tmp_path / "short")
    with pytest.raises(SpeechprocError, match="re-run data preparation"):
        parallel_pairs(DataDir.load(src), DataDir.load(tmp_path / "short"))
    assert len(parallel_pairs(DataDir.load(src), DataDir.load(tmp_path / "short"), strict=False)) == 2


def test_speaker_similarity_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No speaker model given: no columns; a dir without a finished model: '-' and how to train one; a model:
    cosine similarities in the table."""
    import speechproc.score.speaker as speaker
    from speechproc.score.vc import evaluate_conversion, load_speaker_embedder

    fn, note = load_speaker_embedder(None)
    assert fn is None and "off" in note
    fn, note = load_speaker_embedder(tmp_path / "nothing")
    assert fn is None and "'-'" in note and "egs/an4/spk/run.sh" in note
    src, tgt = _parallel_corpus(tmp_path, n=2)

    class FakeEmbedder:
        """Fake speaker model: the mean log spectrum (two speakers with different formants differ)."""

        def __call__(self, wave: np.ndarray, sr: int) -> np.ndarray:
            c = extract_mcep(np.asarray(wave, dtype=np.float32), CFG)[:, 1:]
            return c.mean(0)

    loaded = []
    monkeypatch.setattr(speaker.SpeakerEmbedder, "from_pretrained",
                        classmethod(lambda cls, exp_dir, device="cpu": loaded.append(exp_dir) or FakeEmbedder()))
    (tmp_path / "spk_exp").mkdir()
    (tmp_path / "spk_exp" / "model.pt").write_bytes(b"")
    summary = evaluate_conversion([], src, tgt, judge=False, f0=False, speaker_exp=tmp_path / "spk_exp",
                                  table=tmp_path / "t.md")
    assert loaded == [tmp_path / "spk_exp"]
    none, natural = summary["rows"][0], summary["rows"][-1]
    assert none["sim_src"] > none["sim_tgt"] and natural["sim_tgt"] > natural["sim_src"]
    assert "| no conversion (source) | 2 |" in (tmp_path / "t.md").read_text()


# ------------------------------------------------------------------------------------------------
# recipe smoke test


@pytest.mark.slow
def test_vcc2016_vc_recipe_smoke(tmp_path: Path) -> None:
    """All stages of egs/vcc2016/vc in the quick profile on 3 real utterance pairs: the table has numbers."""
    require_corpus("vcc2016")
    pytest.importorskip("faster_whisper", reason="faster-whisper is not installed")
    recipe = recipe_copy(tmp_path, "vcc2016/vc")
    p = subprocess.run(["bash", str(recipe / "run.sh"), "--profile", "quick", "--nj", "1", "--max-utts", "3",
                        "--methods", "gmm dnn seq2seq recsynth"],
                       capture_output=True, text=True, env=recipe_env(OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    table = (recipe / "exp" / "quick" / "RESULTS_SF1_TF1.md").read_text()
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in table.splitlines() if line.startswith("| ")}
    assert set(rows) >= {"no conversion (source)", "gmm", "dnn", "seq2seq", "recsynth", "natural target"}
    for name in ("no conversion (source)", "gmm", "dnn", "seq2seq", "recsynth"):
        mos, mcd_tgt, cer = (rows[name][i].strip() for i in (1, 2, 7))  # utts, MOS, MCD to target, ..., CER
        assert 1.0 <= float(mos) <= 5.0 and float(mcd_tgt) > 0 and float(cer) >= 0, (name, rows[name])
    assert (recipe / "exp" / "quick" / "SF1_TF1_gmm" / "convert_SF1_eval" / "eval" / "result.md").is_file()
    # recognition-synthesis: one converted wav per source utterance, at the vocoder's rate, as long as the source
    import soundfile as sf

    from speechproc.data import DataDir

    src = DataDir.load(recipe / "data" / "SF1_eval")
    conv = DataDir.load(recipe / "exp" / "quick" / "SF1_TF1_recsynth" / "convert_SF1_eval")
    assert len(conv.utts) == 3
    for utt in conv.utts:
        info = sf.info(conv.wav_scp[utt])
        assert info.samplerate == 22050 and info.channels == 1
        src_seconds = src.load_audio(utt)[0].shape[0] / 16000
        assert abs(info.duration - src_seconds) <= 2 * 256 / 22050, (utt, info.duration, src_seconds)
    # the packed model converts on its own (no recipe dumps needed)
    from speechproc.exp import pack
    from speechproc.vc.convert import VoiceConverter

    zipped = pack(recipe / "exp" / "quick" / "SF1_TF1_recsynth", tmp_path / "recsynth.zip")
    wave = src.load_audio(conv.utts[0])[0]
    y = VoiceConverter.from_pretrained(zipped)(wave, 16000)
    assert abs(len(y) / 22050 - len(wave) / 16000) <= 2 * 256 / 22050


def test_train_vc_dispatches_the_neural_methods_and_keeps_their_dumps_fresh(tmp_path: Path) -> None:
    """One training verb for every method: the neural names parse, a mel dump is remade only when it belongs to
    another data dir, and a missing starting model or vocoder is an error naming it and the fix."""
    from speechproc.bin.train_vc import main
    from speechproc.vc.neural import mel_dump, neural_method

    assert neural_method("recsynth_n15") == ("recsynth", 15) and neural_method("seq2seq") == ("seq2seq", None)
    assert neural_method("gmm_world") is None and neural_method("recsynth") == ("recsynth", None)
    with pytest.raises(SpeechprocError, match="N >= 1"):
        neural_method("recsynth_n0")
    src, tgt = _parallel_corpus(tmp_path, n=2)
    dump = mel_dump(tgt, tmp_path / "dump" / "tgt")
    stamp = (dump / "cmvn.npz").stat().st_mtime_ns
    assert (dump / "feats.scp").is_file() and mel_dump(tgt, dump) == dump
    assert (dump / "cmvn.npz").stat().st_mtime_ns == stamp  # the same data dir: kept
    mel_dump(src, dump)  # another speaker's data into the same place: made again
    assert (dump / "utt2spk").read_text() == (src / "utt2spk").read_text()
    conf = tmp_path / "vc_recsynth.yaml"
    conf.write_text("init_model: exp/none/model.pt\nvocoder_checkpoint: null\n")
    with pytest.raises(SpeechprocError, match="pre-trained decoder exp/none/model.pt not found.*stages 1-3 and 21"):
        main(["--src", str(src), "--tgt", str(tgt), "--method", "recsynth_n2", "--config",
              str(tmp_path / "vc_{method}.yaml"), str(tmp_path / "exp")])
    with pytest.raises(SpeechprocError, match="vocoder nowhere/model.pt not found"):
        main(["--src", str(src), "--tgt", str(tgt), "--method", "recsynth", "--config", str(conf),
              "--recsynth-init", "null", "--vocoder", "nowhere", "--dump-dir", str(tmp_path / "dump"),
              str(tmp_path / "exp")])
    with pytest.raises(SpeechprocError, match="not one of gmm, dnn, identity"):
        main(["--src", str(src), "--tgt", str(tgt), "--method", "gmm_wrld", str(tmp_path / "exp")])
