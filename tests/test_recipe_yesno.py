"""The yesno ASR recipe end to end: every stage, WER 0 % on the test half, in under two minutes."""
from __future__ import annotations

import json
import subprocess
import time

from conftest import recipe_copy, recipe_env, require_corpus


def test_yesno_recipe_end_to_end(tmp_path):
    require_corpus("yesno")
    d = recipe_copy(tmp_path, "yesno/asr")
    start = time.time()
    r = subprocess.run(["bash", "run.sh", "--nj", "2"], cwd=d, env=recipe_env(), capture_output=True, text=True)
    elapsed = time.time() - start
    assert r.returncode == 0, r.stderr[-3000:]
    assert elapsed < 120, f"yesno took {elapsed:.0f} s"
    score = json.loads((d / "exp/asr/decode_test/score_wer/score.json").read_text())
    assert score["n_utts"] == 30 and score["n"] == 240 and score["n_missing"] == 0
    assert score["wer"] == 0.0, score
    assert "%WER 0.00 [ 0 / 240" in (d / "exp/asr/decode_test/score_wer/result.txt").read_text()
    assert "|decode_test|test|0.00|0.00|30|" in (d / "exp/RESULTS.md").read_text()
    for f in ("cmd.txt", "hparams.yaml", "env.json", "model.pt", "train_log.txt"):
        assert (d / "exp/asr" / f).is_file()
    info = json.loads((d / "exp/asr/decode_test/decode.json").read_text())
    assert info["nj"] == 2 and info["rtf"] < 1.0
