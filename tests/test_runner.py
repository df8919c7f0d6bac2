"""The shared recipe runner (tools/recipe.sh) and the stage-1 data preparation of the recipes."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict

import pytest

from conftest import REPO, recipe_copy, require_corpus
from dummies_corpora import make_an4

RECIPES = ["an4/asr", "yesno/asr", "ljspeech/tts", "vcc2016/vc", "cmu_arctic/vc", "librispeech/asr"]


def toy_recipe(tmp_path: Path) -> Path:
    """A recipe with three stages that record what ran and with which options."""
    d = tmp_path / "egs" / "toy" / "task"
    d.mkdir(parents=True)
    (tmp_path / "tools").symlink_to(REPO / "tools")
    (d / "run.sh").write_text(
        "#!/usr/bin/env bash\n"
        '. "$(dirname "$0")/../../../tools/recipe.sh"\n'
        "train_set=train_nodev   # data dir to train on\n"
        "beam_size=10            # decoding beam\n"
        'recipe_main "$@"\n'
    )
    (d / "01_prep.sh").write_text(
        "#!/usr/bin/env bash\n# prepare things\n# outputs: out/prep.txt\n"
        "mkdir -p out\necho \"$train_set $nj $cmd\" >> out/prep.log\necho ok > out/prep.txt\n"
    )
    (d / "02_train.sh").write_text(
        "#!/usr/bin/env bash\n# train the model\necho \"$beam_size\" >> out/train.log\n"
        '[ "${FAIL_TRAIN:-0}" = 0 ] || { echo "02_train.sh: forced failure" >&2; exit 3; }\n'
    )
    (d / "04_score.sh").write_text("#!/usr/bin/env bash\n# score\necho scored >> out/score.log\n")
    return d


def run(recipe: Path, *args: str, env: Dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.run(["bash", str(recipe / "run.sh"), *args], capture_output=True, text=True, env=full_env)
    if check and p.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def test_help_lists_options_defaults_and_stages(tmp_path: Path) -> None:
    d = toy_recipe(tmp_path)
    out = run(d, "--help").stdout
    assert "--train-set" in out and "[train_nodev] data dir to train on" in out
    assert "--beam-size" in out and "[10] decoding beam" in out
    for common in ("--stage", "--stop-stage", "--nj", "--cmd", "--force"):
        assert common in out
    assert "    1  prepare things" in out and "    2  train the model" in out and "    4  score" in out


def test_profiles_keep_their_own_done_markers(tmp_path: Path) -> None:
    """A stage done with --profile quick is not done for the full profile (and the other way round): each
    profile has its own markers, so a full run after a quick one never reuses the quick run's stages."""
    d = toy_recipe(tmp_path)
    run(d, "--profile", "quick")
    assert sorted(p.name for p in (d / ".stages/quick").glob("*.done")) == ["01_prep.done", "02_train.done",
                                                                            "04_score.done"]
    assert not list((d / ".stages").glob("*.done"))
    p = run(d)
    assert "done already" not in p.stdout and (d / "out/score.log").read_text() == "scored\nscored\n"
    assert run(d, "--profile", "quick").stdout.count("done already") == 3
    assert run(d).stdout.count("done already") == 3
    # exp dirs too: stage scripts name them exp/<name>${profile_suffix}
    (d / "05_model.sh").write_text("#!/usr/bin/env bash\n# model into exp/m${profile_suffix}\n"
                                   "# outputs: exp/m${profile_suffix}/done\nmkdir -p exp/m$profile_suffix\n"
                                   "echo \"$profile\" > exp/m$profile_suffix/done\n")
    assert "Stage 5: model into exp/m_quick" in run(d, "--profile", "quick", "--stage", "5").stdout
    assert "Stage 5: model into exp/m\n" in run(d, "--stage", "5").stdout + "\n"
    assert (d / "exp/m_quick/done").read_text() == "quick\n" and (d / "exp/m/done").read_text() == "full\n"


def test_a_template_shares_stages_and_options_and_a_recipe_script_replaces_its_namesake(tmp_path: Path) -> None:
    tpl = tmp_path / "egs" / "TEMPLATE" / "toy"
    tpl.mkdir(parents=True)
    (tpl / "options.sh").write_text("lr=0.1                  # learning rate\nepochs=5                # epochs\n")
    (tpl / "01_prep.sh").write_text("#!/usr/bin/env bash\n# template prep\necho template > prep.txt\n")
    (tpl / "02_train.sh").write_text("#!/usr/bin/env bash\n# train with lr $lr\necho \"$lr $epochs $PWD\" > train.txt\n")
    d = tmp_path / "egs" / "corpus" / "toy"
    d.mkdir(parents=True)
    (tmp_path / "tools").symlink_to(REPO / "tools")
    (d / "run.sh").write_text("#!/usr/bin/env bash\n" '. "$(dirname "$0")/../../../tools/recipe.sh"\n'
                              "recipe_template toy\nlr=0.5                  # this corpus's rate\n" 'recipe_main "$@"\n')
    (d / "01_prep.sh").write_text("#!/usr/bin/env bash\n# corpus prep\necho corpus > prep.txt\n")
    out = run(d, "--help").stdout
    assert "[0.5] this corpus's rate" in out and "--epochs" in out and "[5] epochs" in out
    assert "    1  corpus prep" in out and "    2  train with lr 0.5" in out
    run(d, "--epochs", "7")
    assert (d / "prep.txt").read_text() == "corpus\n"  # the recipe's own stage 1, not the template's
    assert (d / "train.txt").read_text() == f"0.5 7 {d}\n"  # the template's stage 2, run in the recipe dir
    assert "done already" in run(d, "--epochs", "7").stdout
    (d / "run.sh").write_text((d / "run.sh").read_text().replace("recipe_template toy", "recipe_template nope"))
    p = run(d, "--help", check=False)
    assert p.returncode != 0 and "recipe_template nope: no template egs/TEMPLATE/nope" in p.stderr


def test_options_unknown_option_and_bad_values(tmp_path: Path) -> None:
    d = toy_recipe(tmp_path)
    p = run(d, "--no-such-option", "1", check=False)
    assert p.returncode != 0 and "unknown option --no-such-option" in p.stderr
    p = run(d, "--nj", "zero", check=False)
    assert p.returncode != 0 and "--nj must be a positive number, got 'zero'" in p.stderr
    p = run(d, "--cmd", "pbs", check=False)
    assert p.returncode != 0 and "--cmd must be local or slurm" in p.stderr
    run(d, "--train-set", "train_sp", "--beam-size=3", "--nj", "2", "--stop-stage", "2")
    assert (d / "out/prep.log").read_text() == "train_sp 2 local\n"
    assert (d / "out/train.log").read_text() == "3\n"
    assert not (d / "out/score.log").exists()  # --stop-stage 2


def test_stages_skip_force_and_failure(tmp_path: Path) -> None:
    d = toy_recipe(tmp_path)
    p = run(d)
    assert "Stage 1: prepare things" in p.stdout and "Stage 4: score: finished in" in p.stdout
    p = run(d)
    assert p.stdout.count("done already") == 3
    assert (d / "out/prep.log").read_text().count("\n") == 1
    run(d, "--stage", "2", "--stop-stage", "2", "--force", "true")
    assert (d / "out/train.log").read_text().count("\n") == 2
    assert (d / "out/prep.log").read_text().count("\n") == 1  # --stage 2: stage 1 not rerun
    # a missing declared output makes a done stage run again
    (d / "out/prep.txt").unlink()
    p = run(d, "--stop-stage", "1")
    assert "output out/prep.txt of a done stage is missing" in p.stdout
    assert (d / "out/prep.log").read_text().count("\n") == 2
    # a failing stage exits non-zero, names the stage, and is not marked done
    (d / ".stages/02_train.done").unlink()
    p = run(d, "--stage", "2", env={"FAIL_TRAIN": "1"}, check=False)
    assert p.returncode != 0
    assert "Stage 2 (02_train.sh) failed with exit code 3" in p.stderr
    assert "forced failure" in p.stderr
    assert not (d / ".stages/02_train.done").exists()
    assert (d / "out/score.log").read_text() == "scored\n"  # stage 4 did not run after the failure
    # a stage range that selects nothing is an error listing the stages, not a silent success
    p = run(d, "--stage", "99", check=False)
    assert p.returncode != 0 and "no stage between 99 and 10000; this recipe's stages are: 1 2 4" in p.stderr
    p = run(d, "--stage", "3", "--stop-stage", "3", check=False)
    assert p.returncode != 0 and "stages are: 1 2 4" in p.stderr
    p = run(d, "--stage", "4", "--stop-stage", "2", check=False)
    assert p.returncode != 0 and "--stage 4 is after --stop-stage 2" in p.stderr


def test_stage_titles_show_option_values(tmp_path: Path) -> None:
    d = toy_recipe(tmp_path)
    (d / "02_train.sh").write_text("#!/usr/bin/env bash\n# train on $train_set (beam ${beam_size}, $beam_sizes)\n")
    p = run(d, "--train-set", "train_sp", "--beam-size", "3", "--stage", "2", "--stop-stage", "2")
    assert "Stage 2: train on train_sp (beam 3, $beam_sizes)" in p.stdout
    assert "    2  train on train_nodev (beam 10, $beam_sizes)" in run(d, "--help").stdout


def test_changed_inputs_rerun_the_stage_and_every_later_one(tmp_path: Path) -> None:
    """A done marker records what its stage consumed: a changed config file, option or script re-runs the stage
    and the stages after it (a retrained model is never reported by a stale score stage); options that only say
    how to run (--nj) do not."""
    d = toy_recipe(tmp_path)
    (d / "conf").mkdir()
    (d / "conf/train.yaml").write_text("lr: 1\n")
    (d / "run.sh").write_text((d / "run.sh").read_text().replace(
        "beam_size=10", "train_config=conf/train.yaml   # training config\nbeam_size=10"))
    (d / "02_train.sh").write_text((d / "02_train.sh").read_text() + 'cat "$train_config" > out/model.txt\n')
    (d / "04_score.sh").write_text("#!/usr/bin/env bash\n# score\ncat out/model.txt > out/RESULTS.md\n")
    run(d)
    assert (d / "out/RESULTS.md").read_text() == "lr: 1\n"
    assert run(d, "--nj", "3").stdout.count("done already") == 3
    # retraining with another config: stage 2 and stage 4 re-run, stage 1 does not
    (d / "conf/train.yaml").write_text("lr: 2\n")
    p = run(d)
    assert "the inputs of done stage 02_train.sh changed" in p.stdout
    assert p.stdout.count("done already") == 1 and (d / "out/prep.log").read_text().count("\n") == 1
    assert (d / "out/RESULTS.md").read_text() == "lr: 2\n"
    # an option stage 2 reads
    run(d, "--beam-size", "4")
    assert (d / "out/train.log").read_text().splitlines()[-1] == "4"
    assert (d / "out/score.log").exists() is False  # stage 4 of this toy writes RESULTS.md only
    # retraining with --force re-runs the score stage too (its upstream marker changed)
    (d / "out/RESULTS.md").write_text("stale\n")
    run(d, "--stage", "2", "--stop-stage", "2", "--force", "true", "--beam-size", "4")
    p = run(d, "--beam-size", "4")
    assert p.stdout.count("done already") == 2 and (d / "out/RESULTS.md").read_text() == "lr: 2\n"
    # an edited stage script
    (d / "01_prep.sh").write_text((d / "01_prep.sh").read_text() + "# edited\n")
    p = run(d, "--beam-size", "4")
    assert "done already" not in p.stdout
    # a config the script names itself (a default inside the script, not an option)
    (d / "conf/score.yaml").write_text("a: 1\n")
    (d / "04_score.sh").write_text((d / "04_score.sh").read_text() + "cat conf/score.yaml >> out/RESULTS.md\n")
    run(d, "--beam-size", "4")
    assert run(d, "--beam-size", "4").stdout.count("done already") == 3
    (d / "conf/score.yaml").write_text("a: 2\n")
    p = run(d, "--beam-size", "4")
    assert p.stdout.count("done already") == 2 and (d / "out/RESULTS.md").read_text().endswith("a: 2\n")


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_recipe_has_help_and_stage1(recipe: str) -> None:
    p = subprocess.run(["bash", str(REPO / "egs" / recipe / "run.sh"), "--help"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "    1  data preparation" in p.stdout


def test_stage_outputs_lines_are_plain_paths() -> None:
    """The runner evaluates "# outputs:" lines to check a done stage: only paths and $-expansions may appear
    (a "<" or "|" there would be run as a redirection or a pipe)."""
    import re

    scripts = sorted(REPO.glob("egs/*/*/[0-9][0-9]_*.sh"))
    assert len(scripts) > 40
    for script in scripts:
        for line in script.read_text().splitlines():
            if line.startswith("# outputs:"):
                plain = re.sub(r"\$\([^)]*\)", "", line)  # command substitutions are fine
                assert not re.search(r"[<>|;&`()]", plain), f"{script}: {line}"


def data_files(recipe: Path) -> Dict[str, str]:
    out = {}
    for f in sorted((recipe / "data").rglob("*")):
        if f.is_file():
            out[str(f.relative_to(recipe))] = f.read_text()
    return out


def test_an4_stage1_counts_and_fast_skip(tmp_path: Path) -> None:
    require_corpus("an4")
    d = recipe_copy(tmp_path, "an4/asr")
    run(d, "--stage", "1", "--stop-stage", "1", "--nj", "2")
    counts = {s: len((d / "data" / s / "text").read_text().splitlines()) for s in ("train_nodev", "train_dev", "test")}
    assert counts == {"train_nodev": 848, "train_dev": 100, "test": 130}
    for s in counts:
        assert len((d / "data" / s / "utt2dur").read_text().splitlines()) == counts[s]
        v = subprocess.run([str(REPO / "tools/venv/bin/python"), "-m", "speechproc.bin.validate_data_dir",
                            str(d / "data" / s)], capture_output=True, text=True)
        assert v.returncode == 0, v.stderr
    start = time.monotonic()
    p = run(d, "--stage", "1", "--stop-stage", "1")
    assert time.monotonic() - start < 2.0
    assert "done already" in p.stdout


def test_an4_stage1_sigkill_then_rerun_gives_same_outputs(tmp_path: Path) -> None:
    require_corpus("an4")
    ref = recipe_copy(tmp_path / "ref", "an4/asr")
    run(ref, "--stop-stage", "1", "--nj", "2")
    expected = data_files(ref)

    d = recipe_copy(tmp_path / "killed", "an4/asr")
    proc = subprocess.Popen(["bash", str(d / "run.sh"), "--stop-stage", "1", "--nj", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    # kill the whole stage while its utt2dur jobs run: data dirs exist but utt2dur is not complete
    while not list((d / "exp" / "utt2dur").glob("*/log/utt2dur.*.log")):
        assert time.monotonic() < deadline and proc.poll() is None, "stage finished before it could be killed"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (d / ".stages/01_data.done").exists()
    assert not (d / "data/test/utt2dur").exists()
    run(d, "--stop-stage", "1", "--nj", "2")
    assert data_files(d) == expected


@pytest.mark.usefixtures("slurm_cluster")
def test_an4_stage1_on_slurm(tmp_path: Path) -> None:
    require_corpus("an4")
    d = recipe_copy(tmp_path, "an4/asr")
    p = run(d, "--stop-stage", "1", "--cmd", "slurm", "--nj", "4")
    assert "Stage 1: data preparation" in p.stdout
    assert len((d / "data/test/utt2dur").read_text().splitlines()) == 130
    logs = sorted((d / "exp/utt2dur/data_train_nodev/log").glob("utt2dur.*.log"))
    assert [f.name for f in logs] == [f"utt2dur.{i}.log" for i in range(1, 5)]
    for f in logs:
        assert "# Ended (code 0)" in f.read_text()


@pytest.mark.usefixtures("slurm_cluster")
def test_stage1_on_slurm_with_a_failing_task_shows_its_log(tmp_path: Path) -> None:
    corpus = tmp_path / "an4"
    make_an4(corpus, truncated=("an76-fbbh-b",))
    d = recipe_copy(tmp_path, "an4/asr")
    p = run(d, "--stop-stage", "1", "--cmd", "slurm", "--nj", "4", "--num-dev", "1", env={"AN4": str(corpus)},
            check=False)
    assert p.returncode != 0
    assert "Stage 1 (01_data.sh) failed" in p.stderr
    assert "1 of 4 jobs failed" in p.stderr
    assert "utt2dur.2.log" in p.stderr or "utt2dur.3.log" in p.stderr
    assert "fbbh-an76-b" in p.stderr  # the tail of the failing task's log names the utterance
    assert "truncated" in p.stderr.lower()
    assert "fix_data_dir --check-audio data/train_nodev" in p.stderr  # the fix names the recipe's data dir
    assert not (d / ".stages/01_data.done").exists()


def test_librispeech_stage1_on_fixture(tmp_path: Path) -> None:
    from dummies_corpora import make_librispeech

    make_librispeech(tmp_path / "corpus")
    d = recipe_copy(tmp_path, "librispeech/asr")
    run(d, "--stop-stage", "1", "--nj", "2", "--parts", "dev-clean test-clean",
        env={"LIBRISPEECH": str(tmp_path / "corpus")})
    text = (d / "data/dev_clean/text").read_text().splitlines()
    assert text[0] == "1272-128104-0000 MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES"
    assert len(text) == 3
    assert len((d / "data/test_clean/utt2dur").read_text().splitlines()) == 2
    assert (d / "data/dev_clean/utt2spk").read_text().splitlines()[0] == "1272-128104-0000 1272"


def test_a_stage_runs_once_at_a_time_and_a_dead_runs_lock_is_taken_over(tmp_path: Path) -> None:
    """Two runs of the same stage: the second exits at once naming the first's PID and command; after the first
    is killed with SIGKILL, the next run takes the lock over with a warning and finishes."""
    d = toy_recipe(tmp_path)
    (d / "03_wait.sh").write_text("#!/usr/bin/env bash\n# wait for the go file\n"
                                  "mkdir -p out\ntouch out/started\nwhile [ ! -f out/go ]; do sleep 0.1; done\n")
    first = subprocess.Popen(["bash", str(d / "run.sh"), "--stage", "3", "--stop-stage", "3", "--beam-size", "7"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for _ in range(200):
            if (d / "out" / "started").exists():
                break
            time.sleep(0.05)
        second = run(d, "--stage", "3", "--stop-stage", "3", check=False)
        assert second.returncode == 1
        assert "Stage 3 (03_wait.sh) is running in another run of this recipe" in second.stderr
        assert f"pid {first.pid} " in second.stderr and "--beam-size 7" in second.stderr
        assert run(d, "--stage", "1", "--stop-stage", "1").returncode == 0  # other stages are not blocked
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    (d / "out" / "go").write_text("")
    third = run(d, "--stage", "3", "--stop-stage", "3")
    assert "WARNING: taking over the lock of Stage 3 from a run that is gone (pid" in third.stdout + third.stderr
    assert "Stage 3: wait for the go file: finished" in third.stdout + third.stderr
    fourth = run(d, "--stage", "3", "--stop-stage", "3", "--force", "true")
    assert "taking over" not in fourth.stdout + fourth.stderr  # a finished run leaves no holder behind
