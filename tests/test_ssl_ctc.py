"""SSLEncoderCTC: tiny random wav2vec2 / HuBERT checkpoints written in HF format and loaded from their directory
(the path a user takes): shapes and lengths, HF's front end, freezing, LoRA, trainable-only checkpoints, fine-tuning
through the shared trainer with egs/an4/asr_whisper/conf/finetune_wav2vec2.yaml, loading for decoding, errors."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from speechproc.models.pretrained.ssl_ctc import SSLEncoderCTC, resolve_ssl_source
from speechproc.utils import SpeechprocError

REPO = Path(__file__).resolve().parent.parent
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16, 16),
            conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
            layerdrop=0.0)  # no random layer skipping: every trainable weight gets a gradient in each step
V = 7


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """Tiny random checkpoints: wav2vec2 base-like (group norm), wav2vec2 lv60-like (layer norm), HuBERT."""
    from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2Model

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ssl")
    torch.manual_seed(0)
    Wav2Vec2Model(Wav2Vec2Config(**TINY)).save_pretrained(root / "wav2vec2")
    Wav2Vec2Model(Wav2Vec2Config(feat_extract_norm="layer", do_stable_layer_norm=True, **TINY)).save_pretrained(
        root / "wav2vec2_layer")
    HubertModel(HubertConfig(**TINY)).save_pretrained(root / "hubert")
    return root


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([4000, 3100, 2400])
    wavs = 0.1 * torch.randn(3, 4000, generator=g)
    wavs[1, 3100:] = 0
    wavs[2, 2400:] = 0
    targets = torch.randint(1, V - 1, (3, 6), generator=g)
    return wavs, lengths, targets, torch.tensor([6, 5, 4])


def _ctc_loss(model, wavs, lengths, targets, target_lengths):
    logp, dec, out_lengths = model(wavs, lengths)
    assert dec is None
    return torch.nn.functional.ctc_loss(logp.transpose(0, 1), targets, out_lengths, target_lengths, blank=0)


def _hf_lengths(lengths, kernels=(10, 3), strides=(5, 2)):
    out = []
    for n in lengths:
        for k, s in zip(kernels, strides):
            n = (n - k) // s + 1
        out.append(n)
    return out


def _snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("kind", ["wav2vec2", "wav2vec2_layer", "hubert"])
def test_shapes_lengths_and_weights_from_the_checkpoint(ckpt, kind):
    model = SSLEncoderCTC(str(ckpt / kind), vocab_size=V).eval()
    assert type(model.ssl).__name__ == ("HubertModel" if kind == "hubert" else "Wav2Vec2Model")
    assert model.use_attention_mask == (kind == "wav2vec2_layer")
    wavs, lengths, _, _ = _batch()
    with torch.no_grad():
        logp, dec, out_lengths = model(wavs, lengths)
    expected = _hf_lengths(lengths.tolist())
    assert expected == [399, 309, 239]
    assert out_lengths.tolist() == expected == model.ssl._get_feat_extract_output_lengths(lengths).tolist()
    assert dec is None and logp.shape == (3, 399, V)
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 399), atol=1e-5)
    # the weights are the checkpoint's, not a fresh initialisation
    from safetensors.torch import load_file

    saved = load_file(str(ckpt / kind / "model.safetensors"))
    w = "encoder.layers.1.feed_forward.output_dense.weight"
    assert torch.equal(model.ssl.state_dict()[w], saved[w])


@pytest.mark.parametrize("kind", ["wav2vec2", "wav2vec2_layer"])
def test_front_end_matches_hf_feature_extractor(ckpt, kind):
    """Same encoder output as HF's Wav2Vec2FeatureExtractor + model: batched with the attention mask for layer-norm
    models; per utterance for group-norm ones (HF pads them with zeros, no mask)."""
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    model = SSLEncoderCTC(str(ckpt / kind), vocab_size=V).eval()
    hf = Wav2Vec2Model.from_pretrained(str(ckpt / kind)).eval()
    layer = kind == "wav2vec2_layer"
    fe = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=layer)
    wavs, lengths, _, _ = _batch(1)
    wavs = wavs + 0.3  # a DC offset, removed by the normalisation
    with torch.no_grad():
        enc, enc_lengths = model.encode(wavs, lengths)
        for i in range(3) if not layer else []:
            n = int(lengths[i])
            inputs = fe([wavs[i, :n].numpy()], sampling_rate=16000, return_tensors="pt")
            ref = hf(**inputs).last_hidden_state[0]
            alone, _ = model.encode(wavs[i: i + 1, :n])
            assert torch.allclose(alone[0], ref, atol=1e-4)
        if layer:
            arrays = [wavs[i, : int(n)].numpy() for i, n in enumerate(lengths)]
            inputs = fe(arrays, sampling_rate=16000, padding=True, return_tensors="pt")
            ref = hf(**inputs).last_hidden_state
            for i, n in enumerate(enc_lengths.tolist()):
                assert torch.allclose(enc[i, :n], ref[i, :n], atol=1e-4)
            # with the mask, an utterance's output does not depend on the batch's padding
            alone, _ = model.encode(wavs[2:3, : int(lengths[2])])
            assert torch.allclose(enc[2, : enc_lengths[2]], alone[0], atol=1e-5)
    assert float(enc[2, enc_lengths[2]:].abs().max()) == 0.0  # frames past the end are zero


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert"])
def test_freeze_feature_encoder_and_first_layers(ckpt, kind):
    torch.manual_seed(0)
    model = SSLEncoderCTC(str(ckpt / kind), vocab_size=V, freeze_feature_encoder=True, freeze_layers=1).train()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = {n for n, _ in model.named_parameters()
                if n.startswith("ssl.feature_extractor.") or n.startswith("ssl.encoder.layers.0.")}
    assert frozen == expected and any(n.startswith("ssl.encoder.layers.0.") for n in frozen)
    assert model.ssl.feature_extractor._requires_grad is False
    before = _snapshot(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    wavs, lengths, targets, tlens = _batch()
    _ctc_loss(model, wavs, lengths, targets, tlens).backward()
    opt.step()
    after = _snapshot(model)
    changed = {n for n in after if not torch.equal(after[n], before[n])}
    assert not changed & frozen                     # bit-identical
    trained = set(after) - frozen - {"ssl.masked_spec_embed"}  # used only where the random time mask falls
    assert trained <= changed and "ssl.encoder.layers.1.attention.q_proj.weight" in changed
    assert "ssl.feature_projection.projection.weight" in changed and "ctc_lin.weight" in changed

    # no freezing at all: the CNN trains too
    model = SSLEncoderCTC(str(ckpt / kind), vocab_size=V, freeze_feature_encoder=False)
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(SpeechprocError, match="freeze_layers 3"):
        SSLEncoderCTC(str(ckpt / kind), vocab_size=V, freeze_layers=3)


def test_lora_trains_only_adapters_and_head(ckpt):
    torch.manual_seed(0)
    strategy = {"name": "lora", "lora": {"rank": 4, "alpha": 8, "target_modules": ["*.q_proj", "*.v_proj"]}}
    model = SSLEncoderCTC(str(ckpt / "wav2vec2"), vocab_size=V, strategy=strategy).train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    lora = {n for n in trainable if "adapter_" in n}
    assert len(lora) == 2 * 2 * 2  # 2 layers x (q, v) x (down, up)
    assert trainable == lora | {"ctc_lin.weight", "ctc_lin.bias"}
    assert model.counts["trainable"] / model.counts["total"] < 0.5
    before = _snapshot(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    wavs, lengths, targets, tlens = _batch()
    for _ in range(2):  # the up projection starts at zero: the down projection moves from the 2nd step on
        opt.zero_grad()
        _ctc_loss(model, wavs, lengths, targets, tlens).backward()
        opt.step()
    after = _snapshot(model)
    for n in after:
        assert torch.equal(after[n], before[n]) == (n not in trainable), n


@pytest.mark.parametrize("strategy", [None, {"name": "lora"}])
def test_trainable_only_checkpoint_round_trip(ckpt, tmp_path, strategy):
    from speechbrain.utils.checkpoints import Checkpointer

    torch.manual_seed(0)
    src = str(ckpt / "wav2vec2_layer")
    model = SSLEncoderCTC(src, vocab_size=V, strategy=strategy, freeze_layers=1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    wavs, lengths, targets, tlens = _batch()
    for _ in range(2):
        opt.zero_grad()
        _ctc_loss(model, wavs, lengths, targets, tlens).backward()
        opt.step()
    ck = Checkpointer(tmp_path / "ckpt", {"model": model}).save_checkpoint()
    saved = torch.load(ck.paramfiles["model"], weights_only=True)
    assert set(saved) == {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any(k.startswith("ssl.feature_extractor.") or k.startswith("ssl.encoder.layers.0.") for k in saved)

    torch.manual_seed(1)  # another head initialisation
    fresh = SSLEncoderCTC(src, vocab_size=V, strategy=strategy, freeze_layers=1)
    model.eval()
    fresh.eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(wavs, lengths)[0], model(wavs, lengths)[0])
        Checkpointer(tmp_path / "ckpt", {"model": fresh}).recover_if_possible()
        assert torch.equal(fresh(wavs, lengths)[0], model(wavs, lengths)[0])
    # a checkpoint of another strategy does not fit
    other = SSLEncoderCTC(src, vocab_size=V, strategy={"name": "adapters", "adapters": {
        "target_modules": ["*.feed_forward.output_dense"]}})
    with pytest.raises(SpeechprocError, match="does not fit"):
        other.load_trained_state(saved, "ckpt")


def test_bad_sources(ckpt, tmp_path):
    missing = tmp_path / "no" / "such_dir"
    with pytest.raises(SpeechprocError, match=re.escape(f"{missing}: not found; expected a Hugging Face checkpoint directory")):
        SSLEncoderCTC(str(missing), vocab_size=V)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SpeechprocError, match=re.escape(f"{empty}: no config.json")):
        SSLEncoderCTC(str(empty), vocab_size=V)
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((ckpt / "wav2vec2" / "config.json").read_text())
    with pytest.raises(SpeechprocError, match=re.escape(f"{no_weights}: no weights")):
        SSLEncoderCTC(str(no_weights), vocab_size=V)
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (bert / "model.safetensors").write_bytes(b"")
    with pytest.raises(SpeechprocError, match=re.escape(f"{bert}: model_type 'bert' is not supported")):
        SSLEncoderCTC(str(bert), vocab_size=V)
    a_file = tmp_path / "model.pt"
    a_file.write_bytes(b"")
    with pytest.raises(SpeechprocError, match="is a file, not a directory"):
        SSLEncoderCTC(str(a_file), vocab_size=V)
    with pytest.raises(SpeechprocError, match="'no_such_setting' is not a setting"):
        SSLEncoderCTC(str(ckpt / "wav2vec2"), vocab_size=V, config_overrides={"no_such_setting": 1})
    # a hub id is passed on unchanged (downloaded by transformers where there is internet)
    assert resolve_ssl_source("facebook/wav2vec2-base") == ("facebook/wav2vec2-base", False)
    model = SSLEncoderCTC(str(ckpt / "hubert"), vocab_size=V, config_overrides={"mask_time_prob": 0.2})
    assert model.ssl.config.mask_time_prob == 0.2
    too_short = r"15 samples is shorter than the encoder's receptive field \(1 frame needs 20 samples\)"
    with pytest.raises(SpeechprocError, match=too_short):
        model(torch.zeros(2, 1000), torch.tensor([1000, 15]))


def test_finetune_with_the_recipe_config_through_the_shared_trainer(ckpt, tmp_path):
    """egs/an4/asr_whisper/conf/finetune_wav2vec2.yaml on the tone corpus: the CTC loss falls; model.pt holds
    the trainable part only and loads back for decoding (load_trained_modules, Speech2Text greedy_ctc)."""
    from dummies_asr import make_tone_corpus
    from speechproc.data.dataset import make_asr_dataset
    from speechproc.decode.asr import Speech2Text
    from speechproc.exp import load_trained_modules
    from speechproc.models.asr.ctc import ctc_greedy_ids
    from speechproc.text.tokenizer import train_tokenizer
    from speechproc.train import train

    torch.set_num_threads(1)
    data = make_tone_corpus(tmp_path / "corpus", 8)
    train_tokenizer(["LOW HIGH"], "char").save(tmp_path / "token")
    exp = tmp_path / "exp"
    conf = REPO / "egs" / "an4" / "asr_whisper" / "conf" / "finetune_wav2vec2.yaml"
    brain = train([str(conf), "--output_folder", str(exp), "--train_data", str(data), "--valid_data", str(data),
                   "--token_dir", str(tmp_path / "token"), "--source", str(ckpt / "wav2vec2"), "--device", "cpu",
                   "--number_of_epochs", "4", "--lr", "0.002", "--warmup_steps", "3", "--total_steps", "100",
                   "--batch_seconds", "4", "--layerdrop", "0.0", "--patience", "10"])
    assert brain.optimizer_steps >= 10
    log = (exp / "train_log.txt").read_text().splitlines()
    assert len(log) == 4
    state = torch.load(exp / "model.pt", weights_only=True)
    model_state = state["modules"]["model"]
    assert set(model_state) == {n for n, p in brain.modules.model.named_parameters() if p.requires_grad}
    assert not any(k.startswith("ssl.feature_extractor.") for k in model_state)  # freeze_feature_encoder: true

    hparams, modules = load_trained_modules(exp)
    trained = modules["model"]
    assert set(modules) == {"model"} and not trained.training
    assert torch.equal(trained.ctc_lin.weight, model_state["ctc_lin.weight"])
    tok = hparams["tokenizer"]
    ds = make_asr_dataset(data, tok, input="wave")
    items = [ds[i] for i in range(len(ds))]
    lengths = torch.tensor([len(it["feats"]) for it in items])
    wavs = torch.zeros(len(items), int(lengths.max()))
    for i, it in enumerate(items):
        wavs[i, : lengths[i]] = it["feats"]
    targets = torch.nn.utils.rnn.pad_sequence([it["tokens"] for it in items], batch_first=True)
    tlens = torch.tensor([len(it["tokens"]) for it in items])

    def loss_of(model):
        logp, _, out_lengths = model(wavs, lengths)
        return float(torch.nn.functional.ctc_loss(logp.transpose(0, 1), targets, out_lengths, tlens, blank=0))

    torch.manual_seed(1234)  # the config's seed: the head the run started from
    initial = SSLEncoderCTC(str(ckpt / "wav2vec2"), vocab_size=tok.vocab_size).eval()
    with torch.no_grad():
        before, after = loss_of(initial), loss_of(trained)
    assert after < 0.7 * before, (before, after)

    # greedy CTC decoding through Speech2Text's model API (encode + ctc_logprobs) on waveforms
    s2t = Speech2Text(trained, torch.nn.Identity(), tok, mode="greedy_ctc")
    s2t.normalize = lambda x, n: (x, n)  # no feature normalisation for waveform models
    hyps = s2t.decode_ids(wavs, lengths)
    with torch.no_grad():
        logp, _, out_lengths = trained(wavs, lengths)
    assert hyps == ctc_greedy_ids(logp, out_lengths, 0)
    assert all(0 < t < tok.vocab_size for h in hyps for t in h)
