"""AN4 recipe: stages 1-13 on a 40-utterance slice with the debug configs, and an overfit test on 10 utterances."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import recipe_copy, recipe_env, require_corpus


def _run(d: Path, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run(["bash", "run.sh", *args], cwd=d, env=recipe_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r


@pytest.mark.slow
def test_an4_smoke_stages_1_to_13_on_40_utterances(tmp_path):
    require_corpus("an4")
    from speechproc.data.datadir import DataDir

    d = recipe_copy(tmp_path, "an4/asr")
    _run(d, "--stop-stage", "1", "--nj", "2")
    for name, n in (("train_nodev", 40), ("train_dev", 8), ("test", 8)):
        DataDir.load(d / "data" / name).subset_first(n).save(d / "data" / name)
    # stage 14 (the training-speed benchmark: three more trainings) is test_benchmark_train's
    _run(d, "--stage", "2", "--stop-stage", "13", "--profile", "quick", "--nj", "2")

    assert len((d / "data/train_nodev_sp/wav.scp").read_text().splitlines()) == 120
    for f in ("dump/train_nodev_sp/feats.scp", "dump/train_nodev_sp/cmvn.npz", "dump/test/feats.scp",
              "data/token/bpe30/tokens.txt", "exp/lm_quick/model.pt", "exp/asr_conformer_quick/model.pt",
              "exp/asr_conformer_quick/hparams.yaml", "exp/asr_conformer_quick/env.json", "exp/RESULTS.md"):
        assert (d / f).exists(), f
    ppl = json.loads((d / "exp/lm_quick/perplexity_test/perplexity.json").read_text())
    assert ppl["sentences"] == 8 and ppl["ppl"] > 1.0
    for dec in ("decode_test_beam", "decode_test_beam_lm"):
        ddir = d / "exp/asr_conformer_quick" / dec
        assert len((ddir / "text").read_text().splitlines()) == 8
        score = json.loads((ddir / "score_wer/score.json").read_text())
        assert score["n_utts"] == 8 and 0.0 <= score["wer"]
        assert (ddir / "score_cer/result.txt").is_file()
        assert len(list((ddir / "logs").glob("decode.*.log"))) == 2
    results = (d / "exp/RESULTS.md").read_text()
    assert "decode_test_beam_lm" in results and "WER" in results
    assert "--profile" not in (d / "exp/asr_conformer_quick/cmd.txt").read_text()
    assert "train_asr_debug.yaml" in (d / "exp/asr_conformer_quick/cmd.txt").read_text()
    assert not (d / "exp/asr_conformer").exists() and not (d / "exp/lm").exists()  # the full profile's names
    onnx = json.loads((d / "exp/asr_conformer_quick/onnx/benchmark/result.json").read_text())
    assert onnx["utterances"] == 8 and onnx["identical_transcripts"] == 8 and onnx["max_abs_diff_ctc_logprobs"] < 1e-4
    # stages 11-12: the streaming model, decoded chunk by chunk at each chunk size and in full context
    assert "DynChunkTrainConfigRandomSampler" in (d / "exp/asr_streaming_quick/hparams.yaml").read_text()
    stream = json.loads((d / "exp/asr_streaming_quick/streaming_test/result.json").read_text())
    assert stream["utterances"] == 8 and [r["chunk"] for r in stream["rows"]] == ["160 ms", "320 ms", "640 ms", "full"]
    assert [r["chunk_frames"] for r in stream["rows"]] == [4, 8, 16, None]
    for r in stream["rows"]:
        assert r["rtf"] > 0 and 0 <= r["wer"] and r["final_latency_ms_avg"] > 0
        assert (r["latency_ms_avg"] is None) == (r["chunk"] == "full")
    assert len((d / "exp/asr_streaming_quick/streaming_test/text.640ms").read_text().splitlines()) == 8
    speed = json.loads((d / "exp/asr_streaming_quick/decode_speed/result.json").read_text())  # stage 13
    assert speed["utterances"] == 8 and speed["identical_transcripts"] == 8
    assert [r["variant"] for r in speed["rows"]] == ["project", "speechbrain"]


@pytest.mark.slow
def test_an4_overfit_ten_utterances(tmp_path):
    """The debug Conformer memorises 10 AN4 utterances: joint beam-search WER < 10 % on them."""
    require_corpus("an4")
    from speechproc.data.datadir import DataDir
    from speechproc.features.cmvn import compute_cmvn_stats
    from speechproc.text.tokenizer import train_tokenizer

    d = recipe_copy(tmp_path, "an4/asr")
    _run(d, "--stop-stage", "1", "--nj", "2")
    full = DataDir.load(d / "data/train_nodev")
    data10 = tmp_path / "data10"
    full.subset_first(10).save(data10)
    train_tokenizer([full.text[u] for u in full.utts], "bpe", 30).save(tmp_path / "token")
    compute_cmvn_stats(data10).save(tmp_path / "cmvn.npz")
    py = sys.executable
    subprocess.run([py, "-m", "speechproc.bin.train", str(d / "conf/train_asr_debug.yaml"),
                    "--output_folder", str(tmp_path / "exp"), "--train_data", str(data10), "--valid_data", str(data10),
                    "--token_dir", str(tmp_path / "token"), "--cmvn_stats", str(tmp_path / "cmvn.npz"),
                    "--number_of_epochs", "60", "--train_dataloader_opts", "{batch_seconds: 8, num_buckets: 3}",
                    "--spec_augment", "[]", "--lr", "0.003", "--warmup_steps", "50", "--min_duration", "0"],
                   check=True, capture_output=True, env=recipe_env())
    subprocess.run([py, "-m", "speechproc.bin.decode_asr", "--exp-dir", str(tmp_path / "exp"), "--data", str(data10),
                    "--config", str(d / "conf/decode_asr.yaml"), str(tmp_path / "decode")],
                   check=True, capture_output=True, env=recipe_env())
    subprocess.run([py, "-m", "speechproc.bin.score_asr", "--ref", str(data10 / "text"), "--hyp",
                    str(tmp_path / "decode/text"), str(tmp_path / "decode")], check=True, capture_output=True)
    score = json.loads((tmp_path / "decode/score_wer/score.json").read_text())
    assert score["n_utts"] == 10 and score["wer"] < 10.0, score
