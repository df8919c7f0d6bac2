"""Recognition-synthesis VC (method 3): content features, the decoder, the log-F0 transform, the converter's
checks of its inputs, and the trainer's checks of the pre-trained decoder and the vocoder."""

import json

import numpy as np
import pytest
import torch

from speechproc.features.cmvn import GlobalCMVN
from speechproc.features.content import ContentConfig, _interp_frames, compute_content, log_f0_track
from speechproc.features.mel import MelConfig, num_mel_frames
from speechproc.models.vc import ContentDecoder
from speechproc.utils import SpeechprocError
from speechproc.vc.recsynth import RecSynthConverter, log_f0_stats, transform_log_f0


def _tone(hz: float, seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * hz * t) + 0.1 * np.sin(2 * np.pi * 2 * hz * t)).astype(np.float32)


def test_log_f0_transform_maps_source_statistics_to_the_target():
    rng = np.random.default_rng(0)
    n = 400
    lf0 = np.log(120.0) + 0.15 * rng.standard_normal(n)  # a "male" contour
    feats = np.zeros((n, 6), dtype=np.float32)
    feats[:, -2], feats[:, -1] = lf0, 1.0
    feats[::7, -1] = 0.0  # some unvoiced frames (their interpolated value is transformed too)
    src = log_f0_stats(feats)
    out = transform_log_f0(feats, src, (np.log(230.0), 0.08))
    voiced = out[:, -1] > 0.5
    assert out[voiced, -2].mean() == pytest.approx(np.log(230.0), abs=1e-3)
    assert out[voiced, -2].std() == pytest.approx(0.08, abs=1e-3)
    np.testing.assert_array_equal(out[:, :-2], feats[:, :-2])  # content untouched
    np.testing.assert_array_equal(out[:, -1], feats[:, -1])


def test_log_f0_stats_refuses_a_contour_without_voiced_frames():
    with pytest.raises(SpeechprocError, match="no voiced frames"):
        log_f0_stats(np.zeros((50, 4), dtype=np.float32))


def test_world_log_f0_of_a_150_hz_tone():
    track = log_f0_track(_tone(150.0), 16000, 80, 256 / 22050)
    voiced = track[:, 1] > 0.5
    assert voiced.mean() > 0.8
    assert np.exp(np.median(track[voiced, 0])) == pytest.approx(150.0, abs=2.0)


def test_interpolation_puts_content_on_the_mel_frame_times():
    x = torch.arange(10, dtype=torch.float32)[:, None]  # frame i at 20 ms * i has value i
    y = _interp_frames(x, 0.02, 5, 0.01)  # 10-ms grid: values 0, 0.5, 1, 1.5, 2
    np.testing.assert_allclose(y[:, 0].numpy(), [0, 0.5, 1.0, 1.5, 2.0])
    assert float(_interp_frames(x, 0.02, 40, 0.01)[-1, 0]) == 9.0  # held at the end


def test_content_features_line_up_with_the_mel_frames():
    pytest.importorskip("transformers")
    cfg = ContentConfig()
    wave = _tone(180.0, 1.3)
    feats = compute_content(wave, cfg, 16000)
    n_mel = num_mel_frames(int(round(len(wave) * 22050 / 16000)), MelConfig())
    assert feats.shape == (n_mel, 384 + 2)
    assert np.isfinite(feats).all()
    assert np.exp(np.median(feats[feats[:, -1] > 0.5, -2])) == pytest.approx(180.0, abs=3.0)
    assert compute_content(np.zeros(400, dtype=np.float32), cfg, 16000) is None  # 25 ms: too short
    with pytest.raises(SpeechprocError, match="mono"):
        compute_content(np.zeros((2, 16000), dtype=np.float32), cfg, 16000)


def test_decoder_output_shape_and_padding_does_not_leak():
    torch.manual_seed(0)
    model = ContentDecoder(content_dim=8, n_mels=5, dim=16, intermediate_dim=32, num_layers=2, dropout=0.0).eval()
    a = torch.randn(1, 30, 10)
    a[..., -1] = 1.0
    a[..., -2] = 5.0
    padded = torch.cat([a, 100 * torch.randn(1, 20, 10)], dim=1)
    out_a = model(a, torch.tensor([30]))
    out_p = model(padded, torch.tensor([30]))
    assert out_a.shape == (1, 30, 5) and out_p.shape == (1, 50, 5)
    torch.testing.assert_close(out_p[:, :30], out_a, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="expected 10 input features"):
        model(torch.randn(1, 5, 9))


@pytest.fixture(scope="module")
def converter():
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = ContentDecoder(content_dim=384, n_mels=80, dim=16, intermediate_dim=32, num_layers=1)
    norm = GlobalCMVN(np.full(80, -5.0), np.ones(80))
    return RecSynthConverter(model, norm, ContentConfig(), MelConfig(), (np.log(220.0), 0.1), vocoder="griffin_lim")


def test_converter_output_length_and_rate(converter):
    wave = _tone(130.0, 1.0)
    y = converter(wave, 16000)
    assert converter.sample_rate == 22050
    assert abs(len(y) - 22050) <= 256 + 1
    assert np.isfinite(y).all() and np.abs(y).max() <= 1.0
    mel = converter.last["mel"]
    assert mel.shape[1] == 80


@pytest.mark.parametrize("wave, rate, match", [
    (np.zeros(16000, dtype=np.float32), 16000, "no voiced frame"),
    (_tone(150.0, 0.02), 16000, "too short for the content encoder"),
    (np.stack([_tone(150.0), _tone(150.0)]), 16000, "mono"),
    (_tone(150.0, 1.0, 8000), 8000, "below the 16000 Hz"),
])
def test_converter_refuses_bad_sources_with_the_reason(converter, wave, rate, match):
    with pytest.raises(SpeechprocError, match=match) as e:
        converter(wave, rate, where="in/bad.wav")
    assert "in/bad.wav" in str(e.value)


def _fake_exp(path, train_data, task="recsynth"):
    path.mkdir(parents=True)
    (path / "train.yaml").write_text(f"task: {task}\ntrain_data: {train_data}\n")
    (path / "model.pt").write_bytes(b"")
    return path


def _dump_with(path, name, settings):
    path.mkdir(parents=True)
    (path / name).write_text(json.dumps(settings))
    return path


def test_training_refuses_a_pretrained_decoder_of_other_content_settings(tmp_path):
    from speechproc.tasks.recsynth import check_recsynth_inputs

    ours = _dump_with(tmp_path / "tgt_content", "content.json", ContentConfig(layer=4).to_dict())
    mel = _dump_with(tmp_path / "tgt_mel", "mel.json", MelConfig().to_dict())
    theirs = _dump_with(tmp_path / "pre_content", "content.json", ContentConfig(layer=2).to_dict())
    pre = _fake_exp(tmp_path / "pre", theirs)
    with pytest.raises(SpeechprocError, match="--layer 2"):
        check_recsynth_inputs(ours, mel, pre / "model.pt")
    check_recsynth_inputs(ours, mel, _fake_exp(tmp_path / "pre4", ours) / "model.pt")  # same settings: fine


def test_training_refuses_a_vocoder_of_other_mel_settings(tmp_path):
    from speechproc.tasks.recsynth import check_recsynth_inputs

    ours = _dump_with(tmp_path / "c", "content.json", ContentConfig().to_dict())
    mel = _dump_with(tmp_path / "m", "mel.json", MelConfig().to_dict())
    other = _dump_with(tmp_path / "vm", "mel.json", MelConfig(sample_rate=24000, fmax=12000.0).to_dict())
    voc = _fake_exp(tmp_path / "voc", other, task="vocoder")
    with pytest.raises(SpeechprocError, match="vocoder_checkpoint .*24000"):
        check_recsynth_inputs(ours, mel, vocoder_checkpoint=voc)
    with pytest.raises(SpeechprocError, match="no trained vocoder exp"):
        check_recsynth_inputs(ours, mel, vocoder_checkpoint=tmp_path / "missing")


def _frames_of(wave, config):
    n = 1 + len(wave) // 256
    return np.tile(np.arange(n, dtype=np.float32)[:, None], (1, config))


def _zeros_of(wave, config):
    return np.zeros((1 + len(wave) // 256, config), dtype=np.float32)


def _dumps(tmp_path, n_utts=3, content_dim=4, mismatch=0, compute=_frames_of):
    import soundfile as sf

    from speechproc.data import DataDir
    from speechproc.features.dump import dump_features

    wav_scp, utt2spk = {}, {}
    for i in range(n_utts):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, np.zeros(22050 + 256 * 10 * i, dtype=np.float32), 22050)
        wav_scp[f"spk-u{i}"], utt2spk[f"spk-u{i}"] = str(path), "spk"
    (tmp_path / "data").mkdir()
    DataDir(wav_scp=wav_scp, utt2spk=utt2spk).write_files(tmp_path / "data")
    content = dump_features(tmp_path / "data", tmp_path / "content", "content", compute, content_dim + 2,
                            ContentConfig().to_dict())
    dump_features(tmp_path / "data", tmp_path / "mel", "mel", _frames_of, 80, MelConfig().to_dict())
    if mismatch:
        utt = content.utts[0]
        np.save(content.extra["feats.scp"][utt], np.zeros((int(content.extra["utt2num_frames"][utt]) + mismatch,
                                                           content_dim + 2), dtype=np.float32))
        (tmp_path / "content" / "utt2num_frames").write_text("".join(
            f"{u} {int(content.extra['utt2num_frames'][u]) + (mismatch if u == utt else 0)}\n" for u in content.utts))
    return tmp_path / "content", tmp_path / "mel"


def test_dataset_pairs_content_with_mel_and_repeats_a_small_set(tmp_path):
    from speechproc.tasks.recsynth import make_recsynth_dataset

    content, mel = _dumps(tmp_path)
    ds = make_recsynth_dataset(content, mel, segment_frames=50, repeat_to=8)
    items = [ds[i] for i in range(len(ds))]
    assert len(items) == 8
    assert sorted({it["id"].split("#")[0] for it in items}) == ["spk-u0", "spk-u1", "spk-u2"]
    for it in items:
        assert it["feats"].shape == (50, 6) and it["mel"].shape == (50, 80)
        torch.testing.assert_close(it["feats"][:, 0], it["mel"][:, 0])  # the same frames of both dumps
    assert len(make_recsynth_dataset(content, mel, max_utts=2)) == 2


def test_dataset_refuses_dumps_of_different_audio(tmp_path):
    from speechproc.tasks.recsynth import make_recsynth_dataset

    content, mel = _dumps(tmp_path, mismatch=10)
    with pytest.raises(SpeechprocError, match="content frames but .* mel frames"):
        make_recsynth_dataset(content, mel)


def test_training_on_clips_without_voiced_frames_is_refused_before_any_update(tmp_path):
    from conftest import REPO

    from speechproc.features.cmvn import compute_cmvn_stats
    from speechproc.train import train

    content, mel = _dumps(tmp_path, compute=_zeros_of)  # content, log-F0 and voicing all zero: silence
    compute_cmvn_stats(mel).save(tmp_path / "cmvn.npz")
    exp = tmp_path / "exp"
    with pytest.raises(SpeechprocError, match=r"train_data .*content: no usable clip \(no voiced frames"):
        train([str(REPO / "egs/vcc2016/vc/conf/vc_recsynth_quick.yaml"), "--output_folder", str(exp),
               "--train_data", str(content), "--train_mel", str(mel), "--valid_data", str(content),
               "--valid_mel", str(mel), "--cmvn_stats", str(tmp_path / "cmvn.npz"), "--init_model", "null",
               "--vocoder_checkpoint", "null"])
    assert not (exp / "model.pt").exists()
