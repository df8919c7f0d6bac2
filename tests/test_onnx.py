"""ONNX export of the ASR encoder: same outputs (1e-4) and transcripts as PyTorch, dynamic batch and length,
clear errors for files that are not an exported encoder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import built_once
from dummies_asr import prepare_tone_experiment, train_argv
from speechproc.utils import SpeechprocError


pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    def build(root: Path) -> str:
        from speechproc.bin.export_onnx import main as export_main
        from speechproc.train import train

        torch.set_num_threads(1)
        exp = prepare_tone_experiment(root, n=8)
        train(train_argv(exp, root / "asr", "--number_of_epochs", "3"))
        assert export_main(["--exp-dir", str(root / "asr")]) == 0
        return str(root / "asr")

    return Path(built_once(tmp_path_factory, "onnx", build))


def test_the_gather_rel_shift_equals_speechbrains() -> None:
    from speechbrain.nnet.attention import RelPosMHAXL

    from speechproc.decode.onnx import _rel_shift_gather

    attn = RelPosMHAXL(16, 2)
    for t in (1, 2, 7, 30):
        x = torch.randn(3, 2, t, 2 * t - 1)
        assert torch.equal(_rel_shift_gather(attn, x), attn.rel_shift(x))


def test_export_writes_the_graph_and_its_description(exported: Path) -> None:
    meta = json.loads((exported / "onnx" / "onnx.json").read_text())
    assert (exported / "onnx" / "encoder_ctc.onnx").stat().st_size > 10_000
    assert meta["format"] == 1 and meta["normalisation_inside"] is True
    assert meta["inputs"]["feats"] == ["batch", "frames", 80]
    assert meta["outputs"]["ctc_logprobs"][2] == 5  # <blank> <unk> HIGH LOW <sos/eos>, the tone tokenizer's list


def test_onnx_outputs_match_pytorch_at_any_batch_and_length(exported: Path) -> None:
    from speechproc.decode.asr import Speech2Text
    from speechproc.decode.onnx import OnnxEncoder

    s2t = Speech2Text.from_pretrained(exported, mode="greedy_ctc")
    enc = OnnxEncoder(exported / "onnx", threads=1)
    gen = torch.Generator().manual_seed(0)
    for lens in ([57], [300, 211, 64], [9, 8, 7, 120, 33]):
        feats = torch.randn(len(lens), max(lens), 80, generator=gen)
        lengths = torch.tensor(lens)
        with torch.no_grad():
            x, _ = s2t.normalize(feats, lengths)
            ref_enc, ref_len = s2t.model.encode(x, lengths)
            ref = s2t.model.ctc_logprobs(ref_enc)
        logp, states, out_len = enc(feats, lengths)
        assert torch.equal(out_len, ref_len)
        valid = (torch.arange(ref.shape[1])[None, :] < ref_len[:, None]).numpy()
        assert np.abs(logp.numpy() - ref.numpy())[valid].max() < 1e-4
        assert np.abs(states.numpy() - ref_enc.numpy())[valid].max() < 1e-4


@pytest.mark.parametrize("mode", ["greedy_ctc", "beam"])
def test_onnx_transcripts_equal_pytorch_on_the_data(exported: Path, mode: str) -> None:
    from speechproc.bin.decode_asr import decode_dir
    from speechproc.decode.asr import Speech2Text

    data = str(exported.parent / "corpus" / "data")
    ref = decode_dir(Speech2Text.from_pretrained(exported, mode=mode, beam_size=3), data)["hyps"]
    out = decode_dir(Speech2Text.from_pretrained(exported, mode=mode, beam_size=3, onnx=exported / "onnx"), data)["hyps"]
    assert len(ref) == 8 and out == ref
    assert any(t.strip() for t in ref.values())  # the 3-epoch model says something, so equality is not vacuous


def test_files_that_are_not_an_exported_encoder_get_clear_errors(exported: Path, tmp_path: Path) -> None:
    from speechproc.decode.onnx import OnnxEncoder

    with pytest.raises(SpeechprocError, match="no exported encoder; run python -m speechproc.bin.export_onnx"):
        OnnxEncoder(tmp_path)
    bad = tmp_path / "encoder_ctc.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(SpeechprocError, match=f"{bad}: not a loadable ONNX encoder"):
        OnnxEncoder(bad)


def test_the_benchmark_compares_both_runtimes(exported: Path, tmp_path: Path) -> None:
    from speechproc.bin.benchmark_onnx import main as bench

    readme = tmp_path / "README.md"
    readme.write_text("# r\n\n<!-- results:onnx -->\nold\n<!-- /results:onnx -->\n")
    assert bench(["--exp-dir", str(exported), "--data", str(exported.parent / "corpus" / "data"), "--threads", "1",
                  "--out", str(tmp_path / "b"), "--readme", str(readme)]) == 0
    r = json.loads((tmp_path / "b" / "result.json").read_text())
    assert r["utterances"] == 8 and r["identical_transcripts"] == 8
    assert r["max_abs_diff_ctc_logprobs"] < 1e-4 and r["max_abs_diff_encoder"] < 1e-4
    assert r["runtimes"]["PyTorch"]["wer"] == r["runtimes"]["ONNX Runtime"]["wer"]
    assert all(v["rtf"] > 0 for v in r["runtimes"].values())
    assert "|ONNX Runtime|" in readme.read_text() and "old" not in readme.read_text()
    # --export: the graph written first (a recipe's one-verb ONNX stage), here to another file
    assert bench(["--export", "--exp-dir", str(exported), "--onnx", str(tmp_path / "g" / "m.onnx"), "--data",
                  str(exported.parent / "corpus" / "data"), "--threads", "1", "--max-utts", "2",
                  "--out", str(tmp_path / "b2")]) == 0
    assert (tmp_path / "g" / "m.onnx").is_file() and (tmp_path / "g" / "onnx.json").is_file()
    assert json.loads((tmp_path / "b2" / "result.json").read_text())["identical_transcripts"] == 2
