"""The LibriSpeech ASR recipe, all stages on the synthetic LibriSpeech fixture (debug config)."""
from __future__ import annotations

import json
import subprocess

import pytest

from conftest import recipe_copy, recipe_env



@pytest.mark.slow
def test_librispeech_recipe_all_stages_on_fixture(tmp_path):
    from dummies_corpora import make_librispeech

    make_librispeech(tmp_path / "corpus")
    d = recipe_copy(tmp_path, "librispeech/asr")
    env = dict(recipe_env(), LIBRISPEECH=str(tmp_path / "corpus"))
    r = subprocess.run(["bash", "run.sh", "--nj", "2", "--profile", "quick", "--parts", "dev-clean test-clean",
                        "--train-set", "dev_clean", "--valid-set", "dev_clean", "--test-sets", "test_clean",
                        "--token-type", "char", "--nbpe", "100"], cwd=d, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert (d / "exp/asr_conformer/model.pt").is_file()
    score = json.loads((d / "exp/asr_conformer/decode_test_clean_beam/score_wer/score.json").read_text())
    assert score["n_utts"] == 2 and score["wer"] >= 0.0
    assert "decode_test_clean_beam" in (d / "exp/RESULTS.md").read_text()
