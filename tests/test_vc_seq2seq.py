"""Seq2seq VC (method 2): toy-size model, the ``vc`` task of the shared trainer, the converter."""

import json

import pytest
import torch

from conftest import REPO

from speechproc.models.tts.tacotron2 import Tacotron2Loss
from speechproc.models.vc.seq2seq import Seq2SeqVC


def test_seq2seq_vc_forward_backward():
    torch.manual_seed(0)
    model = Seq2SeqVC(n_src_mels=8, n_mels=8, embedding_dim=16, encoder_n_convolutions=1, encoder_kernel_size=3,
                      attention_rnn_dim=16, decoder_rnn_dim=16, attention_dim=8, attention_location_n_filters=4,
                      attention_location_kernel_size=3, prenet_dim=8, postnet_embedding_dim=8,
                      postnet_n_convolutions=2, reduction_factor=2)
    src, src_len = torch.randn(2, 11, 8), torch.tensor([11, 7])
    tgt, tgt_len = torch.randn(2, 9, 8), torch.tensor([9, 6])
    out = model(src, src_len, tgt, tgt_len)
    assert out["mel_after"].shape == (2, 10, 8)
    assert out["alignments"].shape == (2, 5, 11)
    loss = Tacotron2Loss()(out, tgt, tgt_len, src_len, model.r)["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    assert model.src_prenet[0].weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.decoder.parameters())


def _toy(**kw):
    return Seq2SeqVC(n_src_mels=8, n_mels=8, embedding_dim=16, encoder_n_convolutions=1, encoder_kernel_size=3,
                     attention_rnn_dim=16, decoder_rnn_dim=16, attention_dim=8, attention_location_n_filters=4,
                     attention_location_kernel_size=3, prenet_dim=8, postnet_embedding_dim=8,
                     postnet_n_convolutions=2, p_attention_dropout=0.0, p_decoder_dropout=0.0, **kw)


def test_guided_attention_prefers_diagonal():
    L, S = 10, 10
    lengths = torch.tensor([L])
    diag = torch.eye(S, L)[None]
    rand = torch.softmax(torch.randn(1, S, L) * 3, dim=-1)
    crit = Tacotron2Loss()
    mels = torch.zeros(1, S, 8)
    base = {"mel_before": mels, "mel_after": mels, "gate": torch.zeros(1, S)}
    d = crit({**base, "alignments": diag}, mels, torch.tensor([S]), lengths, 1)["attn_loss"]
    r = crit({**base, "alignments": rand}, mels, torch.tensor([S]), lengths, 1)["attn_loss"]
    assert d < r


def test_seq2seq_vc_overfits_two_pairs():
    torch.manual_seed(0)
    model = _toy()
    src, src_len = torch.randn(2, 8, 8), torch.tensor([8, 6])
    tgt, tgt_len = torch.randn(2, 8, 8), torch.tensor([8, 6])
    crit = Tacotron2Loss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(120):
        opt.zero_grad()
        loss = crit(model(src, src_len, tgt, tgt_len), tgt, tgt_len, src_len, model.r)["loss"]
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_init_from_copies_matching_tensors(tmp_path):
    from speechproc.models.tts.tacotron2 import Tacotron2
    from speechproc.models.vc.seq2seq import init_from

    torch.manual_seed(1)
    tts = Tacotron2(vocab_size=5, n_mels=8, embedding_dim=16, encoder_n_convolutions=1, encoder_kernel_size=3,
                    attention_rnn_dim=16, decoder_rnn_dim=16, attention_dim=8, attention_location_n_filters=4,
                    attention_location_kernel_size=3, prenet_dim=8, postnet_embedding_dim=8, postnet_n_convolutions=2)
    torch.save({"model": tts.state_dict()}, tmp_path / "model.pt")
    vc = _toy()
    copied, skipped = init_from(vc, tmp_path / "model.pt")
    assert copied and any(k.startswith("embedding") for k in skipped)
    for k in copied:
        assert torch.equal(vc.state_dict()[k], tts.state_dict()[k])


def test_source_frames_are_stacked_for_the_encoder():
    torch.manual_seed(0)  # the test's own weights, whatever ran before it in this process
    model = _toy(src_reduction=3)
    src = torch.arange(2 * 7 * 8, dtype=torch.float32).view(2, 7, 8)
    stacked, lengths = model.stack_source(src, torch.tensor([7, 4]))
    assert stacked.shape == (2, 3, 24) and lengths.tolist() == [3, 2]
    assert torch.equal(stacked[0, 1], src[0, 3:6].reshape(-1))  # frames 3, 4, 5 side by side
    assert torch.equal(stacked[0, 2, 8:], torch.zeros(16))  # the last step is zero-padded
    out = model(src, torch.tensor([7, 4]), torch.randn(2, 6, 8), torch.tensor([6, 5]))
    assert out["alignments"].shape[-1] == 3 and out["src_lengths"].tolist() == [3, 2]
    model.gate_threshold = 1.1  # never stops: the output runs to the length cap
    mel, lengths, align = model.eval().infer(src[:1], max_len_ratio=2.0)
    # the cap counts source frames (2 x 7), not the padded stacked steps (2 x 3 x 3 = 18)
    assert mel.shape[1] == 2 * 7 and align.shape[-1] == 3


# ------------------------------------------------------------------------------------------------
# task vc of the shared trainer, the converter, the recipe configs

VC_CONF = REPO / "egs" / "vcc2016" / "vc" / "conf"


def _vc_dumps(tmp_path):
    """Mel dumps (TTS settings) and CMVN stats of a 4-pair synthetic parallel corpus."""
    from test_vc import _parallel_corpus

    from speechproc.features.cmvn import compute_cmvn_stats
    from speechproc.features.mel import dump_mel

    src, tgt = _parallel_corpus(tmp_path)
    dumps = []
    for d in (src, tgt):
        dump = tmp_path / "dump" / d.name
        dump_mel(d, dump)
        compute_cmvn_stats(dump).save(dump / "cmvn.npz")
        dumps.append(dump)
    return src, dumps[0], dumps[1]


def test_vc_task_trains_from_a_tts_model_and_converts(tmp_path):
    import subprocess
    import sys

    import numpy as np
    from hyperpyyaml import load_hyperpyyaml

    from conftest import recipe_env
    from speechproc.data import DataDir
    from speechproc.models.vc.seq2seq import init_from
    from speechproc.utils import SpeechprocError
    from speechproc.vc import VoiceConverter
    from speechproc.vc.seq2seq import Seq2SeqConverter

    src_data, src_dump, tgt_dump = _vc_dumps(tmp_path)
    # a "trained TTS model" with the debug sizes of egs/ljspeech/tts (the quick VC config matches them)
    tts_conf = REPO / "egs" / "ljspeech" / "tts" / "conf" / "train_tacotron2_debug.yaml"
    text = tts_conf.read_text()
    tts = load_hyperpyyaml(text[text.index("reduction_factor:"):text.index("loss:")].replace(
        "!ref <vocab_size>", "30").replace("!ref <reduction_factor>", "2"))["model"]
    torch.save({"modules": {"model": tts.state_dict()}}, tmp_path / "tts.pt")
    exp = tmp_path / "exp" / "aa_bb_seq2seq"
    args = ["--output_folder", str(exp), "--src_train_data", str(src_dump), "--tgt_train_data", str(tgt_dump),
            "--src_valid_data", str(src_dump), "--tgt_valid_data", str(tgt_dump),
            "--src_cmvn", str(src_dump / "cmvn.npz"), "--tgt_cmvn", str(tgt_dump / "cmvn.npz"),
            "--init_tts", str(tmp_path / "tts.pt"), "--number_of_epochs", "2", "--reduction_factor", "2"]
    p = subprocess.run([sys.executable, "-m", "speechproc.bin.train", str(VC_CONF / "vc_seq2seq_quick.yaml"), *args],
                       capture_output=True, text=True, env=recipe_env(OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    init = json.loads((exp / "init_from.json").read_text())
    assert "decoder.linear_projection.linear_layer.weight" in init["copied"]
    assert init["skipped"] == ["embedding.weight (not initialised)"]
    log = (exp / "train_log.txt").read_text()
    assert "epoch: 2" in log and "valid attn_loss" in log
    assert json.loads((exp / "train_summary.json").read_text())["optimizer_steps_this_run"] == 2  # 4 pairs, batch 4
    # the trained decoder moved away from its initialisation
    trained = torch.load(exp / "model.pt")["modules"]["model"]
    key = "decoder.linear_projection.linear_layer.weight"
    assert not torch.equal(trained[key], tts.state_dict()[key])

    conv = VoiceConverter.from_pretrained(exp)
    assert isinstance(conv, Seq2SeqConverter) and conv.sample_rate == 22050
    wave, sr = DataDir.load(src_data).load_audio("aa_000")
    y = conv(wave, sr)
    n_src = conv.last["alignment"].shape[-1] * conv.model.src_reduction
    assert y.dtype == np.float32 and 0 < len(y) <= (3 * n_src + conv.model.r) * 256 + 1024
    assert np.abs(y).max() <= 0.99 + 1e-6
    # min_len_ratio (ESPnet's minlenratio) holds the stop token back: at least as many frames as the source
    longer = VoiceConverter.from_pretrained(exp, {"min_len_ratio": 1.0, "max_len_ratio": 1.5})
    n_frames = longer.convert_mel(wave, sr).shape[0]
    assert n_src <= n_frames <= 1.5 * n_src + 2 * conv.model.r
    with pytest.raises(SpeechprocError, match="do not apply to a sequence-to-sequence model"):
        VoiceConverter.from_pretrained(exp, {"gmm": {"mixture": "best"}})
    assert conv.vocoder.name == "griffin_lim"  # auto without a vocoder checkpoint
    with pytest.raises(SpeechprocError, match="checkpoint not found"):
        VoiceConverter.from_pretrained(exp, {"vocoder_checkpoint": str(tmp_path / "no_vocoder")})
    # init_from on a model whose sizes differ reports the shape mismatches instead of copying
    other = _toy()
    copied, skipped = init_from(other, tmp_path / "tts.pt")
    assert any("shape" in s for s in skipped)


@pytest.mark.parametrize("pair", [("vcc2016", "vc_seq2seq.yaml", "train_tacotron2_overfit.yaml"),
                                  ("vcc2016", "vc_seq2seq_quick.yaml", "train_tacotron2_debug.yaml"),
                                  ("cmu_arctic", "vc_seq2seq.yaml", "train_tacotron2_overfit.yaml")])
def test_vc_config_sizes_match_the_tts_model_it_starts_from(tmp_path, pair):
    """Every encoder/attention/decoder/postnet tensor of the TTS model fits the VC model of the recipe."""
    from hyperpyyaml import load_hyperpyyaml

    from speechproc.models.vc.seq2seq import init_from

    corpus, vc_conf, tts_conf = pair
    text = (REPO / "egs" / corpus / "vc" / "conf" / vc_conf).read_text()
    vc = load_hyperpyyaml(text[text.index("reduction_factor:"):text.index("loss:")])["model"]
    assert isinstance(vc, Seq2SeqVC)
    text = (REPO / "egs" / "ljspeech" / "tts" / "conf" / tts_conf).read_text()
    section = text[text.index("reduction_factor:"):text.index("loss:")].replace("!ref <vocab_size>", "30")
    torch.save({"modules": {"model": load_hyperpyyaml(section)["model"].state_dict()}}, tmp_path / "m.pt")
    copied, skipped = init_from(vc, tmp_path / "m.pt")
    assert skipped == ["embedding.weight (not initialised)"] and len(copied) > 20


def test_attention_window_keeps_the_peak_moving_forward_by_at_most_the_window():
    torch.manual_seed(3)
    model = _toy(src_reduction=1).eval()
    model.gate_threshold = 2.0  # never stop: decode all max steps
    src = torch.randn(1, 12, 8)
    _, _, free = model.infer(src, max_len_ratio=4.0)
    _, _, constrained = model.infer(src, max_len_ratio=4.0, attention_window=(0, 1))
    peaks = constrained[0].argmax(-1)
    steps = peaks[1:] - peaks[:-1]
    assert constrained.shape == free.shape and len(peaks) > 10
    assert int(steps.min()) >= 0 and int(steps.max()) <= 1
    assert not torch.equal(free, constrained)
