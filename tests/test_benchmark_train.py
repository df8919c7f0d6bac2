"""The training-speed benchmark (speechproc.bin.benchmark_train): one short run per core setting, the trainer's
own timing in the table, the fastest setting named, bad settings refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dummies_asr import prepare_tone_experiment
from speechproc.bin import benchmark_train
from speechproc.utils import SpeechprocError


def test_every_setting_trains_once_and_the_table_names_the_fastest(tmp_path: Path) -> None:
    exp = prepare_tone_experiment(tmp_path, n=8)
    readme = tmp_path / "README.md"
    readme.write_text("# r\n\n<!-- results:train_speed -->\n<!-- /results:train_speed -->\n")
    out = tmp_path / "speed"
    assert benchmark_train.main([exp["config"], "--settings", "threads=1", "threads=2", "--max-train-utts", "6",
                                 "--max-valid-utts", "2", "--out", str(out), "--readme", str(readme), "--",
                                 "--train_data", exp["train_data"], "--valid_data", exp["valid_data"],
                                 "--token_dir", exp["token_dir"], "--cmvn_stats", exp["cmvn_stats"]]) == 0
    result = json.loads((out / "result.json").read_text())
    assert [(r["setting"], r["processes"], r["threads"]) for r in result["rows"]] == [("threads=1", 1, 1),
                                                                                      ("threads=2", 1, 2)]
    for r in result["rows"]:
        run = out / r["setting"].replace("=", "")
        env = json.loads((run / "env.json").read_text())
        assert env["num_threads"] == r["threads"]  # the setting reached the trainer
        summary = json.loads((run / "train_summary.json").read_text())
        assert r["train_seconds"] == round(summary["train_seconds_this_run"], 2) and summary["epochs"] == 1
        assert summary["train_utterances"] == r["utterances"] == 6
        assert r["utts_per_second"] == pytest.approx(6 / summary["train_seconds_this_run"], rel=1e-2)
    fastest = max(result["rows"], key=lambda r: r["utts_per_second"])["setting"]
    assert result["fastest"] == fastest
    text = readme.read_text()
    assert f"| {fastest} (fastest) |" in text and "speechproc.bin.benchmark_train" in text


def test_a_bad_setting_is_refused_before_anything_runs(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("task: asr\n")
    for bad in ("cores=2", "threads=0", "nproc=two"):
        with pytest.raises(SpeechprocError, match=f"--settings {bad}: expected threads=K or nproc=N"):
            benchmark_train.main([str(conf), "--settings", bad, "--out", str(tmp_path / "o")])
    assert not (tmp_path / "o").exists()
