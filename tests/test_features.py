"""Kaldi fbank (on the fly and dumped), global CMVN stats and normalisation."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torchaudio.compliance import kaldi

from conftest import require_corpus
from speechproc.bin import compute_cmvn_stats as cmvn_verb
from speechproc.bin import compute_fbank as fbank_verb
from speechproc.data.datadir import DataDir
from speechproc.features import (
    CMVNStats,
    Fbank,
    FbankConfig,
    FeatureStore,
    GlobalCMVN,
    compute_cmvn_stats,
    compute_fbank,
    dump_fbank,
    fbank_of_utt,
    load_fbank_config,
    num_frames,
)
from speechproc.utils import SpeechprocError

SR = 16000


def _tone(n: int, freq: float = 440.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """A sine tone plus a little noise, float32 in [-1, 1]."""
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(n)).astype(np.float32)


def _make_data_dir(root: Path, lengths: dict, sr: int = SR) -> Path:
    """A data dir with one 16-bit wav per utterance ``{utt: num_samples}`` (speaker = prefix before '-')."""
    wav_dir = root / "wav"
    wav_dir.mkdir(parents=True)
    data = root / "data"
    data.mkdir()
    utts = sorted(lengths)
    for i, u in enumerate(utts):
        sf.write(str(wav_dir / f"{u}.wav"), _tone(lengths[u], 300.0 + 100 * i, sr, seed=i), sr, subtype="PCM_16")
    (data / "wav.scp").write_text("".join(f"{u} {wav_dir / u}.wav\n" for u in utts))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in utts))
    spk2utt = {}
    for u in utts:
        spk2utt.setdefault(u.split("-")[0], []).append(u)
    (data / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    (data / "text").write_text("".join(f"{u} WORD {i}\n" for i, u in enumerate(utts)))
    return data


# ---------------------------------------------------------------------------------------- fbank


@pytest.mark.parametrize("n", [400, 401, 559, 560, 561, 12345, 16000])
def test_frames_follow_kaldi_formula(n):
    feats = compute_fbank(_tone(n))
    assert feats.shape == (1 + (n - 400) // 160, 80)
    assert num_frames(n, FbankConfig()) == feats.shape[0]
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()


def test_short_and_no_snip_edges():
    assert compute_fbank(_tone(399)).shape == (0, 80)
    cfg = FbankConfig(snip_edges=False, num_mel_bins=40)
    for n in (1000, 16000, 16079, 16080):
        assert compute_fbank(_tone(n), cfg).shape == ((n + 80) // 160, 40) == (num_frames(n, cfg), 40)
    assert compute_fbank(_tone(399), cfg).shape == (0, 40) and num_frames(399, cfg) == 0


def test_values_match_kaldi_on_int16_scale():
    wave = _tone(8000)
    ref = kaldi.fbank(torch.from_numpy(wave)[None] * 32768, num_mel_bins=80, dither=0.0, energy_floor=0.0)
    assert torch.equal(compute_fbank(wave), ref)
    # int16-scale log-mel of a 0.5-amplitude tone: the loudest bin is large and positive
    assert ref.max() > 15


def test_tone_peaks_in_its_mel_bin():
    """A 1 kHz tone has its largest energy in the mel bin whose centre is nearest 1 kHz."""
    feats = compute_fbank(_tone(16000, freq=1000.0)).mean(0)
    mel = lambda f: 1127.0 * np.log(1 + f / 700.0)  # noqa: E731
    lo, hi = mel(20.0), mel(8000.0)
    centres_mel = lo + (np.arange(80) + 1) * (hi - lo) / 81
    nearest = int(np.argmin(np.abs(centres_mel - mel(1000.0))))
    assert abs(int(feats.argmax()) - nearest) <= 1


def test_batch_equals_each_utterance_alone():
    lengths = [16000, 400, 9001, 3210]
    waves = [torch.from_numpy(_tone(n, 200.0 + 50 * i, seed=i)) for i, n in enumerate(lengths)]
    padded = torch.zeros(4, 17000)  # extra padding past the longest utterance
    for i, w in enumerate(waves):
        padded[i, : len(w)] = w
    padded[1, 400:] = 0.7  # garbage in the padding must not leak into the features
    fb = Fbank().eval()
    feats, out_len = fb(padded, torch.tensor(lengths))
    assert out_len.tolist() == [1 + (n - 400) // 160 for n in lengths]
    assert feats.shape == (4, max(out_len), 80)
    for i, w in enumerate(waves):
        alone = compute_fbank(w)
        assert torch.equal(feats[i, : out_len[i]], alone)
        assert feats[i, out_len[i]:].abs().sum() == 0

    # SpeechBrain relative lengths: floating in, fractions of T' out
    rel = torch.tensor(lengths, dtype=torch.float32) / padded.shape[1]
    feats_r, rel_out = fb(padded, rel)
    assert torch.equal(feats_r, feats)
    assert torch.allclose(rel_out * feats.shape[1], out_len.float())


def test_fbank_module_options_and_dither():
    wave = torch.from_numpy(_tone(4000))[None]
    fb = Fbank(dither=1.0, num_mel_bins=23)
    assert fb.feat_dim == 23
    fb.eval()
    a, _ = fb(wave)
    assert torch.equal(a[0], compute_fbank(wave[0], FbankConfig(num_mel_bins=23)))
    fb.train()
    b, _ = fb(wave)
    assert not torch.equal(a, b) and (a - b).abs().max() < 1.0


def test_config_errors(tmp_path):
    with pytest.raises(SpeechprocError, match="window_type 'square' unknown"):
        FbankConfig(window_type="square")
    with pytest.raises(SpeechprocError, match="high_freq"):
        FbankConfig(sample_rate=8000, high_freq=6000)
    bad = tmp_path / "fbank.yaml"
    bad.write_text("num_mel_bins: 40\nmel_bins: 3\n")
    with pytest.raises(SpeechprocError, match=r"unknown fbank option\(s\) \['mel_bins'\]"):
        load_fbank_config(bad)


# ----------------------------------------------------------------------------------------- dump


def test_dump_round_trip(tmp_path):
    lengths = {"spk1-a": 16000, "spk1-b": 8123, "spk2-c": 300, "spk2-d": 4000}  # spk2-c: < one window
    data_dir = _make_data_dir(tmp_path, lengths)
    conf = tmp_path / "fbank.yaml"
    conf.write_text("num_mel_bins: 40\nlow_freq: 40\n")
    dump = tmp_path / "dump" / "train"
    assert fbank_verb.main(["--fbank-config", str(conf), "--num-mel-bins", "24", str(data_dir), str(dump)]) == 0

    cfg = load_fbank_config(dump)
    assert (cfg.num_mel_bins, cfg.low_freq, cfg.sample_rate) == (24, 40.0, SR)  # CLI > file > default
    assert json.loads((dump / "fbank.json").read_text())["feat_dim"] == 24

    kept = ["spk1-a", "spk1-b", "spk2-d"]
    scp = [ln.split() for ln in (dump / "feats.scp").read_text().splitlines()]
    assert [k for k, _ in scp] == kept
    assert all(Path(p).is_absolute() and Path(p) == dump.absolute() / "feats" / f"{k}.npy" for k, p in scp)
    n2f = dict(ln.split() for ln in (dump / "utt2num_frames").read_text().splitlines())
    assert n2f == {u: str(1 + (lengths[u] - 400) // 160) for u in kept}

    out = DataDir.load(dump)  # the dump dir is a valid data dir without the dropped utterance
    assert out.utts == kept and out.text["spk1-b"] == "WORD 1"
    assert set(out.extra) >= {"feats.scp", "utt2num_frames"}

    data = DataDir.load(data_dir)
    store = FeatureStore(dump)
    assert store.utts == kept and store.config == cfg
    for u in kept:
        arr = store[u]
        assert arr.dtype == np.float32 and arr.shape == (int(n2f[u]), 24) == (store.num_frames(u), 24)
        np.testing.assert_array_equal(arr, fbank_of_utt(data, u, cfg).numpy())
    assert not list(dump.parent.glob(".train.tmp.*"))  # no temp dir left behind


def test_dump_parallel_jobs_equal_serial(tmp_path):
    data_dir = _make_data_dir(tmp_path, {f"s{i}-u": 3000 + 500 * i for i in range(5)})
    one = dump_fbank(data_dir, tmp_path / "one", FbankConfig(num_mel_bins=20))
    two = dump_fbank(data_dir, tmp_path / "two", FbankConfig(num_mel_bins=20), nj=2)
    assert one.utts == two.utts and one.extra["utt2num_frames"] == two.extra["utt2num_frames"]
    a, b = FeatureStore(tmp_path / "one"), FeatureStore(tmp_path / "two")
    for u in one.utts:
        np.testing.assert_array_equal(a[u], b[u])


def test_dump_resamples_to_config_rate(tmp_path):
    data_dir = _make_data_dir(tmp_path, {"s-u": 8000}, sr=8000)  # 1 s at 8 kHz
    dump_fbank(data_dir, tmp_path / "dump", FbankConfig())
    assert FeatureStore(tmp_path / "dump")["s-u"].shape == (1 + (16000 - 400) // 160, 80)


def test_an4_fbank(tmp_path):
    an4 = require_corpus("an4")
    wav = sorted((an4 / "wav" / "an4test_clstk").glob("*/*.wav"))[0]
    wave, sr = sf.read(str(wav), dtype="float32")
    assert sr == SR
    feats = compute_fbank(wave)
    assert feats.shape == (1 + (len(wave) - 400) // 160, 80)
    assert 0 < feats.mean() < 20


# ----------------------------------------------------------------------------------------- cmvn


def test_cmvn_stats_of_known_array(tmp_path):
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    stats = CMVNStats().accumulate(x[:1]).accumulate(x[1:])
    np.testing.assert_array_equal(stats.sum, [9.0, 12.0])
    np.testing.assert_array_equal(stats.sum_sq, [35.0, 56.0])
    assert stats.count == 3
    np.testing.assert_array_equal(stats.mean, [3.0, 4.0])
    np.testing.assert_allclose(stats.std(), np.sqrt([8 / 3, 8 / 3]), rtol=1e-12)
    merged = CMVNStats().accumulate(x[:2]).merge(CMVNStats().accumulate(x[2:]))
    np.testing.assert_array_equal(merged.sum_sq, stats.sum_sq)
    out = tmp_path / "cmvn.stats"  # the name is kept as given (no '.npz' appended)
    stats.save(out)
    back = CMVNStats.load(out)
    assert back.count == 3 and np.array_equal(back.sum, stats.sum) and np.array_equal(back.sum_sq, stats.sum_sq)
    with np.load(out) as z:
        np.testing.assert_allclose(z["std"], stats.std())
    with pytest.raises(SpeechprocError, match="dimension 3 differs from 2"):
        stats.accumulate(np.zeros((1, 3)))
    with pytest.raises(SpeechprocError, match="0 frames"):
        CMVNStats().mean


def test_global_cmvn_normalises_and_keeps_padding_zero():
    rng = np.random.default_rng(0)
    lengths = [50, 31, 7]
    B, T, D = 3, 50, 6
    x = torch.from_numpy(rng.normal(5.0, 3.0, size=(B, T, D)).astype(np.float32))
    stats = CMVNStats()
    for b, n in enumerate(lengths):
        stats.accumulate(x[b, :n])
    cmvn = GlobalCMVN.from_stats(stats)
    y, lens = cmvn(x, torch.tensor(lengths))
    valid = torch.cat([y[b, :n] for b, n in enumerate(lengths)])
    assert torch.allclose(valid.mean(0), torch.zeros(D), atol=1e-5)
    assert torch.allclose(valid.std(0, unbiased=False), torch.ones(D), atol=1e-5)
    assert y[1, 31:].abs().sum() == 0 and y[2, 7:].abs().sum() == 0
    y_rel, _ = cmvn(x, torch.tensor(lengths, dtype=torch.float32) / T)
    assert torch.equal(y_rel, y)
    y_nolen, none = cmvn(x)
    assert none is None and torch.equal(y_nolen[0], y[0])
    means_only = GlobalCMVN(stats.mean, stats.std(), norm_vars=False)
    assert torch.allclose(means_only(x)[0][0], x[0] - torch.from_numpy(stats.mean).float(), atol=1e-6)


def test_cmvn_verb_dump_and_data_dir_agree(tmp_path):
    data_dir = _make_data_dir(tmp_path, {"spk1-a": 6000, "spk1-b": 7000, "spk2-c": 5000})
    cfg = FbankConfig(num_mel_bins=16)
    dump_fbank(data_dir, tmp_path / "dump", cfg)
    assert cmvn_verb.main([str(tmp_path / "dump"), str(tmp_path / "a.npz")]) == 0
    assert cmvn_verb.main(["--num-mel-bins", "16", str(data_dir), str(tmp_path / "b.npz")]) == 0
    a, b = CMVNStats.load(tmp_path / "a.npz"), CMVNStats.load(tmp_path / "b.npz")
    store = FeatureStore(tmp_path / "dump")
    allf = np.concatenate([store[u] for u in store.utts]).astype(np.float64)
    assert a.count == b.count == allf.shape[0] == sum(1 + (n - 400) // 160 for n in (6000, 7000, 5000))
    np.testing.assert_allclose(a.sum, allf.sum(0), rtol=1e-10)
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-6)
    np.testing.assert_allclose(compute_cmvn_stats(tmp_path / "dump").std(), allf.std(0), rtol=1e-6)
    with pytest.raises(SpeechprocError, match="neither a dump dir"):
        compute_cmvn_stats(tmp_path)


def test_fbank_verb_dumps_several_dirs_and_writes_the_first_ones_cmvn_stats(tmp_path):
    train = _make_data_dir(tmp_path / "tr", {"spk1-a": 6000, "spk1-b": 7000})
    test = _make_data_dir(tmp_path / "te", {"spk2-c": 5000})
    assert fbank_verb.main(["--num-mel-bins", "16", "--cmvn-stats", str(tmp_path / "cmvn.npz"), str(train),
                            str(tmp_path / "d_tr"), str(test), str(tmp_path / "d_te")]) == 0
    assert FeatureStore(tmp_path / "d_tr").utts == ["spk1-a", "spk1-b"]
    assert FeatureStore(tmp_path / "d_te").utts == ["spk2-c"]
    stats, ref = CMVNStats.load(tmp_path / "cmvn.npz"), compute_cmvn_stats(tmp_path / "d_tr")
    assert stats.count == ref.count == 2 + (6000 - 400) // 160 + (7000 - 400) // 160
    np.testing.assert_allclose(stats.sum, ref.sum)
    with pytest.raises(SpeechprocError, match=r"expected pairs DATA_DIR DUMP_DIR, got 3 paths: .*te/data$"):
        fbank_verb.main([str(train), str(tmp_path / "x"), str(test)])


def test_config_replace_keeps_validation():
    with pytest.raises(SpeechprocError, match="num_mel_bins must be >= 1"):
        dataclasses.replace(FbankConfig(), num_mel_bins=0)
