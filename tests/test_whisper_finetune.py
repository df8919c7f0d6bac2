"""Whisper fine-tuning: the log-mel front end, the strategies (LoRA, adapters, frozen encoder),
batched greedy decoding, and the shared trainer on a tiny randomly initialised Whisper written
in transformers format (its tokenizer is the real tiny.en one, converted offline)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from speechproc.models.pretrained.finetune import apply_strategy, count_parameters, trainable_state_dict
from speechproc.models.pretrained.whisper import whisper_features
from speechproc.models.pretrained.whisper_asr import WhisperASR
from speechproc.utils import SpeechprocError

REPO = Path(__file__).resolve().parents[1]


def _batch(n: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    lens = [16000, 24000, 12000][:n]
    wavs = [torch.from_numpy((0.1 * rng.standard_normal(t)).astype(np.float32)) for t in lens]
    return torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True), torch.tensor(lens), wavs


def test_log_mel_equals_transformers_feature_extractor(tiny_whisper: str) -> None:
    wavs, lens, singles = _batch()
    for window in (30.0, 4.0):
        m = WhisperASR(tiny_whisper, window_seconds=window)
        feats = m.log_mel(wavs, lens)
        assert feats.shape == (3, 80, int(window * 100))
        for i, w in enumerate(singles):  # padding of the batch does not leak into an utterance
            ref = torch.from_numpy(whisper_features(w.numpy(), "hf"))[:, : int(window * 100)]
            assert torch.allclose(feats[i], ref, atol=1e-4), float((feats[i] - ref).abs().max())
    m = WhisperASR(tiny_whisper, window_seconds=4.0)
    assert m.hf.model.encoder.embed_positions.weight.shape[0] == 200
    with pytest.raises(SpeechprocError, match="longer than the 4.00-s input window"):
        m.log_mel(torch.zeros(1, 5 * 16000), torch.tensor([5 * 16000]))


def test_lora_freezes_pretrained_weights_bit_identically(tiny_whisper: str) -> None:
    torch.manual_seed(0)
    m = WhisperASR(tiny_whisper, window_seconds=2.0,
                   strategy={"name": "lora", "lora": {"rank": 4, "alpha": 8, "target_modules": ["*.q_proj", "*.v_proj"]}})
    names = [n for n, p in m.named_parameters() if p.requires_grad]
    assert names and all("adapter_" in n for n in names), names[:4]
    assert sum("q_proj" in n for n in names) == 2 * 3  # encoder self, decoder self + cross: down and up each
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    wavs, lens, _ = _batch(2)
    tokens = torch.tensor([[m.tokenizer.encode("HELLO")[0], 0], [11, 12]])
    logits, targets = m(wavs[:, :32000], lens, tokens, torch.tensor([1, 2]))
    torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).backward()
    opt.step()
    after = dict(m.named_parameters())
    for n, p in before.items():
        if "adapter_" in n:
            continue
        assert torch.equal(p, after[n].detach()), f"frozen weight {n} changed"
    ups = [n for n in before if n.endswith("adapter_up_proj.weight")]
    assert ups and all(not torch.equal(before[n], after[n].detach()) for n in ups)
    state = trainable_state_dict(m)
    assert set(state) == set(names)


def test_lora_on_tiny_en_trains_under_five_percent() -> None:
    m = WhisperASR("tiny.en", window_seconds=7.0, strategy={
        "name": "lora", "lora": {"rank": 16, "alpha": 32, "target_modules": ["*.q_proj", "*.k_proj", "*.v_proj",
                                                                              "*.out_proj"]}})
    c = count_parameters(m)
    assert c["trainable"] == 589824  # 4 enc x 4 + 4 dec x 8 projections x (384 x 16 x 2)
    assert c["trainable"] / c["total"] < 0.05


def test_adapters_start_as_the_pretrained_model_and_freeze_encoder(tiny_whisper: str) -> None:
    wavs, lens, _ = _batch(2)
    wavs = wavs[:, :32000]
    tokens, tl = torch.tensor([[11, 12]]).expand(2, -1), torch.tensor([2, 2])
    torch.manual_seed(0)
    plain = WhisperASR(tiny_whisper, window_seconds=2.0).eval()
    torch.manual_seed(0)
    ad = WhisperASR(tiny_whisper, window_seconds=2.0,
                    strategy={"name": "adapters", "adapters": {"projection_size": 4}}).eval()
    with torch.no_grad():
        assert torch.allclose(plain(wavs, lens, tokens, tl)[0], ad(wavs, lens, tokens, tl)[0], atol=1e-6)
    trainable = [n for n, p in ad.named_parameters() if p.requires_grad]
    assert trainable and all("adapter_" in n and ".fc2." in n for n in trainable)
    fe = WhisperASR(tiny_whisper, window_seconds=2.0, strategy={"name": "freeze_encoder"})
    for n, p in fe.named_parameters():
        assert p.requires_grad == (not n.startswith("hf.model.encoder.")), n
    with pytest.raises(SpeechprocError, match="unknown"):
        apply_strategy(torch.nn.Linear(2, 2), {"name": "bitfit"})
    with pytest.raises(SpeechprocError, match="match no nn.Linear"):
        apply_strategy(torch.nn.Sequential(torch.nn.Linear(2, 2)), {"name": "lora", "lora": {"target_modules": ["*.q"]}})


def test_batched_greedy_equals_one_by_one(tiny_whisper: str) -> None:
    m = WhisperASR(tiny_whisper, window_seconds=2.0, max_new_tokens=8).eval()
    wavs, lens, singles = _batch(3)
    batched = m.greedy_decode(wavs[:, :32000], lens.clamp(max=32000))
    for i, w in enumerate(singles):
        one = m.greedy_decode(w[None, :32000], torch.tensor([min(len(w), 32000)]))[0]
        assert one == batched[i]
    assert all(0 < len(h) <= 8 for h in batched)


def test_trainer_fine_tunes_whisper_and_decode_asr_reads_the_exp(tiny_whisper: str, tmp_path: Path) -> None:
    """The shared trainer with ``task: whisper``: the loss falls over epochs, the checkpoint
    holds only the trainable weights (frozen encoder: the decoder's), decode_asr decodes through the
    launcher."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from dummies_asr import make_tone_corpus

    from speechproc.bin import decode_asr
    from speechproc.train import train

    data = make_tone_corpus(tmp_path / "corpus", 8)
    conf = (REPO / "egs/an4/asr_whisper/conf/finetune_freeze_encoder.yaml").read_text()
    assert "limit_to_stop: 2" in conf
    (tmp_path / "ft.yaml").write_text(conf.replace("limit_to_stop: 2", "limit_to_stop: 100")
                                      .replace("n_warmup_steps: 50", "n_warmup_steps: 2"))
    out = tmp_path / "exp"
    torch.set_num_threads(1)
    train([str(tmp_path / "ft.yaml"), "--output_folder", str(out), "--train_data", str(data), "--valid_data", str(data),
           "--whisper", tiny_whisper, "--window_seconds", "2", "--max_duration", "2", "--number_of_epochs", "6",
           "--lr", "0.02", "--train_dataloader_opts", "{batch_seconds: 4}"])
    log = (out / "train_log.txt").read_text().splitlines()
    losses = [float(line.split("train loss: ")[1].split(" ")[0]) for line in log if "train loss" in line]
    assert len(losses) == 6 and losses[-1] < 0.7 * losses[0], losses
    summary = json.loads((out / "train_summary.json").read_text())
    assert 0 < summary["trainable_parameters"] < summary["parameters"]
    state = torch.load(out / "model.pt", map_location="cpu")["modules"]["model"]
    assert state and all(k.startswith("hf.model.decoder.") or k == "hf.proj_out.weight" for k in state), list(state)
    assert any(k.startswith("hf.model.decoder.layers.0.") for k in state)
    assert sum(v.numel() for v in state.values()) == summary["trainable_parameters"]
    dec = tmp_path / "decode"
    decode_asr.main(["--exp-dir", str(out), "--data", str(data), "--mode", "greedy", "--nj", "2", str(dec)])
    hyps = dict(line.partition(" ")[::2] for line in (dec / "text").read_text().splitlines())
    assert len(hyps) == 8
    assert json.loads((dec / "decode.json").read_text())["nj"] == 2


def test_before_after_table_is_generated_from_the_exp_tree(tmp_path: Path) -> None:
    """make_results --finetune-table: one row per system, zero-shot rows from decode.json, trained
    rows from train_summary.json and the yaml's strategy; figures from the score dirs."""
    from speechproc.bin import make_results, score_asr

    ref = tmp_path / "ref"
    ref.write_text("u1 G E O R G E\nu2 ERASE C Q\n")
    exp = tmp_path / "exp"
    systems = {"zeroshot_faster_whisper": "u1 George.\nu2 Erase CQ.\n", "finetune_lora": "u1 G E O R G E\nu2 ERASE C Q\n"}
    for name, hyp in systems.items():
        for s in ("dev", "test"):
            d = exp / name / f"decode_{s}"
            d.mkdir(parents=True)
            (d / "text").write_text(hyp)
            score_asr.main(["--ref", str(ref), "--hyp", str(d / "text"), str(d)])
            score_asr.main(["--ref", str(ref), "--hyp", str(d / "text"), "--normalize", "whisper_en", f"{d}_whisper_en"])
    (exp / "zeroshot_faster_whisper/decode_test/decode.json").write_text(json.dumps({"backend": "faster-whisper",
                                                                                   "window_seconds": 30.0}))
    (exp / "finetune_lora/train_summary.json").write_text(json.dumps({
        "trainable_parameters": 589824, "parameters": 37318656, "train_seconds_this_run": 1200.0,
        "peak_rss_mb_this_run": 2301.0, "epochs": 5}))
    (exp / "finetune_lora/hparams.yaml").write_text("task: whisper\nstrategy:\n    name: lora\nmodel: !new:foo.Bar\n")
    make_results.main([str(exp), "--finetune-table", "--dev-set", "dev", "--test-set", "test"])
    md = (exp / "RESULTS.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("|zeroshot") or line.startswith("|finetune")]
    assert rows[0].split("|")[1:4] == ["zeroshot_faster_whisper", "zero-shot (faster-whisper, 30-s window)", "0.00 M"]
    zs = rows[0].split("|")
    # raw: every word differs (case, spelled letters joined); normalised: only "erase" matches
    assert zs[6:12] == ["100.00", "80.00", "100.00", "80.00", "88.89", "35.00"], zs
    ft = rows[1].split("|")
    assert ft[1:6] == ["finetune_lora", "lora", "0.59 M (1.58 %)", "20.0", "2301"]
    assert ft[6:12] == ["0.00"] * 6
    assert md.index("## Before/after fine-tuning") < md.index("## finetune_lora")


def test_speech2text_cuts_long_audio_to_the_whisper_window(tiny_whisper: str) -> None:
    """Audio longer than a fine-tuned Whisper's input window is cut at pauses into pieces that fit it (before,
    it was an error past the window)."""
    from speechproc.decode.asr import Speech2Text

    m = WhisperASR(tiny_whisper, window_seconds=2.0, max_new_tokens=4).eval()
    s2t = Speech2Text(m, None, m.tokenizer, input="wave", mode="greedy")
    assert s2t.config["max_segment_seconds"] == 2.0
    rng = np.random.default_rng(0)
    wave = np.concatenate([0.1 * rng.standard_normal(24000), np.zeros(4000), 0.1 * rng.standard_normal(30000)])
    assert isinstance(s2t(wave.astype(np.float32), 16000), str)
