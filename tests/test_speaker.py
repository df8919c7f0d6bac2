"""Speaker embeddings (task spk): EER on hand-made scores, labels, data errors, and a trained model separating speakers.

The main test trains a tiny ECAPA-TDNN through the shared trainer on three synthetic "speakers" whose
only consistent difference is the vocal tract (formant scaling and spectral tilt): pitch and content
(the vowel sequence) are drawn at random for every utterance from the same ranges for all speakers.
On held-out utterances the cosine of two utterances of one speaker must exceed that of two speakers.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import built_once
from dummies import make_datadir
from speechproc.data.datadir import DataDir
from speechproc.score.speaker import (
    SpeakerEmbedder,
    centroid,
    compute_eer,
    cosine,
    identify_data_dir,
    make_trials,
    speaker_similarity,
    verify_data_dir,
)
from speechproc.tasks.spk import SpeakerLabels, normalize_features, speaker_holdout, spk_datasets
from speechproc.utils import SpeechprocError


REPO = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------------------------------
# EER and trials


@pytest.mark.parametrize("tar, non, eer", [
    ([0.9, 0.8, 0.7], [0.3, 0.2, 0.1], 0.0),                       # separated
    ([0.1, 0.2], [0.8, 0.9], 1.0),                                  # reversed
    ([0.9, 0.8, 0.7, 0.3], [0.6, 0.5, 0.4, 0.2], 0.25),            # one error on each side
    ([3.0, 2.0], [2.5, 1.0, 0.0], 5.0 / 12.0),                      # FAR 1/3, FRR 1/2 at 2.0: SpeechBrain's interpolation
    ([1.0, 0.5, 0.5, 0.0], [0.5, 0.5, -1.0, -2.0], 0.375),          # ties accepted together: (0, .75) -> (.5, .25)
])
def test_compute_eer_on_hand_made_scores(tar, non, eer):
    scores = tar + non
    labels = [True] * len(tar) + [False] * len(non)
    got, thr = compute_eer(scores, labels)
    assert got == pytest.approx(eer, abs=1e-6)
    assert min(scores) <= thr <= max(scores)
    got_shuffled, _ = compute_eer(scores[::-1], labels[::-1])
    assert got_shuffled == pytest.approx(eer, abs=1e-6)


def test_compute_eer_errors():
    with pytest.raises(SpeechprocError, match="target and non-target"):
        compute_eer([0.1, 0.2], [True, True])
    with pytest.raises(ValueError):
        compute_eer([0.1, 0.2], [True])


def test_make_trials_counts_and_sampling():
    utt2spk = {f"s{s}-u{i}": f"s{s}" for s in range(3) for i in range(4)}
    trials = make_trials(utt2spk)
    assert len(trials) == 12 * 11 // 2
    assert sum(t for _, _, t in trials) == 3 * (4 * 3 // 2)
    assert all(a < b for a, b, _ in trials)
    sample = make_trials(utt2spk, max_trials=10, seed=1)
    assert len(sample) == 10 and sample == make_trials(utt2spk, max_trials=10, seed=1)
    assert set(sample) <= set(trials)


def test_cosine_and_centroid():
    assert cosine([1, 0], [0, 2]) == pytest.approx(0.0)
    assert cosine([1, 1], [2, 2]) == pytest.approx(1.0)
    c = centroid([np.array([2.0, 0.0]), np.array([0.0, 5.0])])
    assert np.linalg.norm(c) == pytest.approx(1.0) and c[0] == pytest.approx(c[1])


# ------------------------------------------------------------------------------------------------
# labels and data


def test_label_encoder_round_trip(tmp_path):
    data = make_datadir(tmp_path, n_utts=6, n_spk=3)
    labels = SpeakerLabels.from_data_dir(tmp_path / "data")
    assert labels.speakers == ["spk1", "spk2", "spk3"] and len(labels) == 3
    assert [labels.decode(labels.encode(s)) for s in data.speakers] == data.speakers
    labels.save(tmp_path / "speakers.txt")
    assert (tmp_path / "speakers.txt").read_text() == "spk1 0\nspk2 1\nspk3 2\n"
    assert SpeakerLabels.load(tmp_path / "speakers.txt") == labels
    with pytest.raises(SpeechprocError, match="speaker 'bob' was not seen in training.*holdout_per_speaker"):
        labels.encode("bob", where="dev/utt2spk")
    with pytest.raises(SpeechprocError, match="out of range"):
        labels.decode(3)
    (tmp_path / "bad.txt").write_text("spk1 0\nspk2 5\n")
    with pytest.raises(SpeechprocError, match="line 2"):
        SpeakerLabels.load(tmp_path / "bad.txt")


def test_data_dir_without_utt2spk_is_a_clear_error(tmp_path):
    make_datadir(tmp_path, n_utts=4, n_spk=2)
    (tmp_path / "data" / "utt2spk").unlink()
    with pytest.raises(SpeechprocError, match="utt2spk: missing"):
        SpeakerLabels.from_data_dir(tmp_path / "data")


def test_unseen_validation_speaker_is_an_error(tmp_path):
    data = make_datadir(tmp_path, n_utts=6, n_spk=3)
    data.subset_speakers(["spk1", "spk2"]).save(tmp_path / "train")
    data.subset_speakers(["spk2", "spk3"]).save(tmp_path / "valid")
    hparams = {"train_data": str(tmp_path / "train"), "valid_data": str(tmp_path / "valid"),
               "output_folder": str(tmp_path / "exp"), "n_speakers": 2}
    with pytest.raises(SpeechprocError, match=r"valid/utt2spk \(utterance spk3-utt001\): speaker 'spk3' was not seen"):
        spk_datasets(hparams)
    with pytest.raises(SpeechprocError, match="n_speakers is 3 .* has 2 speakers; fix: pass --n_speakers 2"):
        spk_datasets(dict(hparams, n_speakers=3))


def test_speaker_holdout(tmp_path):
    data = make_datadir(tmp_path, n_utts=15, n_spk=3)  # 5 utterances per speaker
    train, held = speaker_holdout(data, num_per_speaker=2, seed=3)
    assert {s: len(u) for s, u in held.spk2utt.items()} == {"spk1": 2, "spk2": 2, "spk3": 2}
    assert set(train.utts) | set(held.utts) == set(data.utts) and not set(train.utts) & set(held.utts)
    assert speaker_holdout(data, num_per_speaker=2, seed=3)[1].utts == held.utts
    with pytest.raises(SpeechprocError, match="no speaker has 9 utterances"):
        speaker_holdout(data, num_per_speaker=7)


def test_utterance_mean_norm_ignores_padding():
    torch.manual_seed(0)
    a, b = torch.randn(1, 7, 4) + 3.0, torch.randn(1, 4, 4) - 1.0
    batch = torch.zeros(2, 7, 4)
    batch[0], batch[1, :4] = a[0], b[0]
    out = normalize_features(batch, torch.tensor([7, 4]))
    assert torch.allclose(out[0], normalize_features(a, torch.tensor([7]))[0], atol=1e-6)
    assert torch.allclose(out[1, :4], normalize_features(b, torch.tensor([4]))[0], atol=1e-6)
    assert float(out[1, 4:].abs().sum()) == 0.0
    assert torch.allclose(out[0].mean(0), torch.zeros(4), atol=1e-5)


# ------------------------------------------------------------------------------------------------
# a trained model separates speakers

SR = 16000
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410), (300, 870, 2240))
SPEAKERS = {"spkA": (0.82, -0.4), "spkB": (1.0, 0.0), "spkC": (1.22, 0.4)}  # formant scale, spectral tilt


def _voice(rng: np.random.Generator, scale: float, tilt: float) -> np.ndarray:
    """1-1.6 s of 4-7 random vowels at a random pitch; the speaker is only the formant scale and tilt."""
    f0 = rng.uniform(110.0, 210.0)
    pieces = []
    for _ in range(int(rng.integers(4, 8))):
        n = int(rng.uniform(0.18, 0.26) * SR)
        t = np.arange(n) / SR
        contour = f0 * (1.0 + 0.05 * np.sin(2 * np.pi * rng.uniform(1.0, 3.0) * t + rng.uniform(0, 6.28)))
        phase = 2 * np.pi * np.cumsum(contour) / SR
        formants = np.array(VOWELS[int(rng.integers(len(VOWELS)))]) * scale
        x = np.zeros(n)
        for k in range(1, int(7000 / f0)):
            f = k * f0
            env = sum(np.exp(-0.5 * ((f - fm) / (60.0 + 0.08 * fm)) ** 2) / (i + 1) for i, fm in enumerate(formants))
            x += (env + 0.01) * (f / 1000.0) ** tilt * np.sin(k * phase)
        pieces.append(x * np.hanning(n) ** 0.2)
    x = np.concatenate(pieces)
    x = 0.3 * x / np.abs(x).max() + 0.002 * rng.standard_normal(len(x))
    return x.astype(np.float32)


def _voices(root: Path, n_per_spk: int = 10, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    wav_scp, utt2spk = {}, {}
    for spk, (scale, tilt) in SPEAKERS.items():
        for i in range(n_per_spk):
            uid = f"{spk}-u{i:02d}"
            path = root / "wav" / f"{uid}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, _voice(rng, scale, tilt), SR, subtype="PCM_16")
            wav_scp[uid], utt2spk[uid] = str(path), spk
    DataDir(wav_scp=wav_scp, utt2spk=utt2spk).with_utt2dur().save(root / "all")
    return root / "all"


TINY_SPK_YAML = """\
task: spk
seed: 1234
__set_seed: !apply:speechbrain.utils.seed.seed_everything [!ref <seed>]
output_folder: !PLACEHOLDER
train_data: !PLACEHOLDER
valid_data: !PLACEHOLDER
cmvn_stats: !PLACEHOLDER
n_speakers: 3
emb_dim: 16
crop_seconds: 0.8
valid_crop_seconds: null
utterance_mean_norm: true
train_dataloader_opts:
    batch_size: 8
valid_dataloader_opts:
    batch_size: 8
number_of_epochs: 12
epoch_counter: !new:speechbrain.utils.epoch_loop.EpochCounter
    limit: !ref <number_of_epochs>
max_grad_norm: 5.0
best_key: loss
best_mode: min
keep_checkpoints: 2
average_n: 1
lr: 0.005
opt_class: !name:torch.optim.Adam
    lr: !ref <lr>
spec_augment: []
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: 80
    channels: [24, 24, 24, 24, 64]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 8
    se_channels: 8
    res2net_scale: 4
    lin_neurons: !ref <emb_dim>
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: !ref <emb_dim>
    out_neurons: !ref <n_speakers>
compute_cost: !new:speechbrain.nnet.losses.LogSoftmaxWrapper
    loss_fn: !new:speechbrain.nnet.losses.AdditiveAngularMargin
        margin: 0.2
        scale: 30
normalize: !apply:speechproc.features.cmvn.GlobalCMVN.from_stats [!ref <cmvn_stats>]
modules:
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
    normalize: !ref <normalize>
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Dict[str, Path]:
    """Three synthetic speakers, 8 training / 2 held-out utterances each, a tiny model trained 12 epochs."""
    def build(root: Path) -> str:
        from speechproc.features.cmvn import compute_cmvn_stats
        from speechproc.train import train

        torch.set_num_threads(1)
        train_dir, held_dir = speaker_holdout(DataDir.load(_voices(root)), num_per_speaker=2, seed=0)
        train_dir.save(root / "train")
        held_dir.save(root / "held")
        compute_cmvn_stats(root / "train").save(root / "cmvn.npz")
        (root / "train.yaml").write_text(TINY_SPK_YAML)
        train([str(root / "train.yaml"), "--output_folder", str(root / "exp"), "--train_data", str(root / "train"),
               "--valid_data", str(root / "held"), "--cmvn_stats", str(root / "cmvn.npz")])
        return str(root)

    root = Path(built_once(tmp_path_factory, "speaker", build))
    return {"root": root, "exp": root / "exp", "train": root / "train", "held": root / "held"}


def _log(exp: Path):
    return [line for line in (exp / "train_log.txt").read_text().splitlines() if line.startswith("epoch")]


def test_trained_model_same_speaker_cosine_exceeds_different_speaker(trained):
    """Held-out utterances: every same-speaker pair scores above the mean different-speaker pair, on average by a margin."""
    exp = trained["exp"]
    for f in ("model.pt", "speakers.txt", "fbank.json", "cmvn.npz", "train_summary.json"):
        assert (exp / f).is_file(), f
    log = _log(exp)
    first, last = log[0], log[-1]
    assert float(last.split("train loss: ")[1].split(",")[0]) < 0.5 * float(first.split("train loss: ")[1].split(",")[0])

    emb = SpeakerEmbedder.from_pretrained(exp)
    assert emb.dim == 16 and emb.labels.speakers == sorted(SPEAKERS)
    held = DataDir.load(trained["held"])
    embs = emb.embed_data_dir(held)
    assert all(abs(np.linalg.norm(e) - 1.0) < 1e-5 and e.shape == (16,) for e in embs.values())
    same = [cosine(embs[a], embs[b]) for a, b, t in make_trials(held.utt2spk) if t]
    diff = [cosine(embs[a], embs[b]) for a, b, t in make_trials(held.utt2spk) if not t]
    assert len(same) == 3 and len(diff) == 12
    assert np.mean(same) > np.mean(diff) + 0.3, (same, diff)
    assert min(same) > np.mean(diff)

    # the waveform API gives the same embedding, at another sample rate too (resampled)
    u = held.utts[0]
    wave, sr = held.load_audio(u)
    assert np.allclose(emb(wave, sr), embs[u], atol=1e-5)
    from speechproc.data.audio import resample

    assert cosine(emb.embed(resample(wave, sr, 22050), 22050), embs[u]) > 0.95
    with pytest.raises(SpeechprocError, match="too short"):
        emb.embed(np.zeros(100, dtype=np.float32), SR)


def test_speaker_similarity_verification_and_identification(trained, tmp_path):
    held = DataDir.load(trained["held"])
    train_dd = DataDir.load(trained["train"])
    emb = SpeakerEmbedder.from_pretrained(trained["exp"])
    # "converted" = held-out speech of spkA; target = spkA's training speech, source = spkB's
    held.subset_speakers(["spkA"]).save(tmp_path / "conv")
    train_dd.subset_speakers(["spkA"]).save(tmp_path / "tgt")
    train_dd.subset_speakers(["spkB"]).save(tmp_path / "src")
    sim = speaker_similarity(tmp_path / "conv", tmp_path / "tgt", tmp_path / "src", embedder=emb)
    assert sim["n_utts"] == 2 and sim["target_utts"] == 8 and sim["source_utts"] == 8
    assert sim["to_target"] > sim["to_source"] + 0.2, sim
    assert set(sim["per_utt"]) == set(held.spk2utt["spkA"])
    assert speaker_similarity(tmp_path / "conv", tmp_path / "tgt", embedder=trained["exp"])["to_source"] is None

    res = verify_data_dir(emb, trained["held"], tmp_path / "eval")
    assert res["n_target"] == 3 and res["n_nontarget"] == 12 and res["eer"] <= 34.0
    assert json.loads((tmp_path / "eval" / "eer.json").read_text())["eer"] == res["eer"]
    assert len((tmp_path / "eval" / "trials").read_text().splitlines()) == 15
    assert "EER %" in (tmp_path / "eval" / "result.md").read_text()

    acc = identify_data_dir(emb, trained["held"], tmp_path / "ident")
    assert acc["n_utts"] == 6 and acc["accuracy"] >= 50.0
    make_datadir(tmp_path / "other", n_utts=2, n_spk=1)
    with pytest.raises(SpeechprocError, match="speaker 'spk1' was not seen in training"):
        identify_data_dir(emb, tmp_path / "other" / "data")


def test_vc_evaluation_loads_the_embedder(trained):
    """speechproc.score.vc loads a trained speaker model's exp dir as its similarity embedder."""
    from speechproc.score.vc import load_speaker_embedder

    fn, note = load_speaker_embedder(trained["exp"])
    assert fn is not None, note
    wave, sr = DataDir.load(trained["held"]).load_audio(DataDir.load(trained["held"]).utts[0])
    assert np.asarray(fn(wave, sr)).shape == (16,)


# ------------------------------------------------------------------------------------------------
# recipe configs


@pytest.mark.parametrize("name", ["train_ecapa.yaml", "train_ecapa_debug.yaml"])
def test_recipe_configs_load(name, tmp_path):
    from speechproc.features.cmvn import CMVNStats
    from speechproc.train import load_hparams

    CMVNStats().accumulate(np.random.default_rng(0).standard_normal((20, 80))).save(tmp_path / "cmvn.npz")
    hp, _, _ = load_hparams(str(REPO / "egs/an4/spk/conf" / name),
                            {"output_folder": str(tmp_path / "exp"), "train_data": "x", "valid_data": "y",
                             "cmvn_stats": str(tmp_path / "cmvn.npz")})
    assert hp["task"] == "spk" and set(hp["modules"]) == {"embedding_model", "classifier", "normalize"}
    emb = hp["embedding_model"](torch.randn(2, 120, 80), torch.tensor([1.0, 0.6]))
    assert emb.shape == (2, 1, hp["emb_dim"])
    assert hp["classifier"].weight.shape[0] >= 74


@pytest.mark.slow
def test_an4_spk_recipe_smoke_on_a_slice(tmp_path):
    """All stages of egs/an4/spk with --profile quick on 5 training speakers and 2 test speakers of AN4."""
    import subprocess

    from conftest import recipe_copy, recipe_env, require_corpus

    require_corpus("an4")
    d = recipe_copy(tmp_path, "an4/spk")

    def run(*args: str) -> None:
        r = subprocess.run(["bash", "run.sh", *args], cwd=d, env=recipe_env(OMP_NUM_THREADS="1"),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]

    run("--stop-stage", "1", "--nj", "1")
    assert len(DataDir.load(d / "data/train_spk").speakers) == 74
    assert len(DataDir.load(d / "data/dev_spk")) == 148
    train_slice = DataDir.load(d / "data/train_spk").subset_first(50)
    train_slice.save(d / "data/train_spk")
    DataDir.load(d / "data/dev_spk").subset_speakers(train_slice.speakers).save(d / "data/dev_spk")
    DataDir.load(d / "data/test").subset_first(26).save(d / "data/test")
    run("--stage", "2", "--profile", "quick", "--nj", "1")

    exp = d / "exp/ecapa_quick"  # the quick profile's own exp dir: the full model exp/ecapa is never touched
    assert not (d / "exp/ecapa").exists()
    assert "train_ecapa_debug.yaml" in (exp / "cmd.txt").read_text()
    eer = json.loads((exp / "eval_test/eer.json").read_text())
    assert eer["n_speakers"] == 2 and eer["n_trials"] == 26 * 25 // 2 and 0.0 <= eer["eer"] <= 100.0
    acc = json.loads((exp / "eval_dev_spk/accuracy.json").read_text())
    assert acc["n_utts"] == 2 * len(train_slice.speakers)
