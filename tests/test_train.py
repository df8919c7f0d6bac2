"""The shared trainer: experiment dir records, checkpoints, resume after SIGKILL, torchrun with 2 processes."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dummies_asr import prepare_tone_experiment, train_argv
from speechproc.train import AtomicCheckpointer, parse_train_args, train
from speechproc.utils import SpeechprocError

REPO = Path(__file__).resolve().parent.parent


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", SPEECHPROC_NUM_THREADS="1")
    env.pop("LOCAL_RANK", None)
    return env


def _ckpts(exp: Path):
    return sorted((exp / "checkpoints").glob("CKPT+*"))


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    return prepare_tone_experiment(tmp_path_factory.mktemp("tone"), n=16)


def test_override_parsing():
    args, over = parse_train_args(["c.yaml", "--nproc", "2", "--lr", "0.1", "--train_data=dump/x", "--flag", "true"])
    assert args.config == "c.yaml" and args.nproc == 2
    assert over == {"lr": 0.1, "train_data": "dump/x", "flag": True}
    with pytest.raises(SpeechprocError, match="needs a value"):
        parse_train_args(["c.yaml", "--lr"])


def test_every_registered_task_resolves_to_a_brain_and_a_dataset_builder():
    import speechbrain as sb

    from speechproc.train import TASKS, _task

    for name in TASKS:
        brain, data, length_key = _task(name)
        assert issubclass(brain, sb.Brain) and callable(data) and length_key in ("duration", "length"), name
    with pytest.raises(SpeechprocError, match="unknown task 'tts2'.*known tasks: asr, lm, tts"):
        _task("tts2")


def test_unknown_override_is_an_error(tone, tmp_path):
    with pytest.raises(SpeechprocError, match="not_a_key"):
        train(train_argv(tone, tmp_path / "exp", "--not_a_key", "1"))
    with pytest.raises(SpeechprocError, match=r"--number_of_epoch names no key of this config \(did you mean "
                                              r"--number_of_epochs\?\)"):
        train(train_argv(tone, tmp_path / "exp", "--number_of_epoch", "1"))


def test_a_config_key_that_nothing_reads_is_an_error_naming_the_line_and_the_nearest_key(tone, tmp_path):
    """A typo inside the yaml (a key no part of the trainer reads and no entry references) is rejected before
    anything is built; a variable that another entry references is fine, and so is every shipped config."""
    import glob

    from speechproc.train import check_config_keys
    from speechproc.utils import load_yaml_plain

    lines = Path(tone["config"]).read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("number_of_epochs:"))
    bad = tmp_path / "typo.yaml"
    bad.write_text("\n".join(lines[:i] + [lines[i].replace("number_of_epochs", "numbr_of_epochs")] + lines[i + 1:]))
    text = bad.read_text()
    if "<number_of_epochs>" in text:  # the epoch counter references it: give it its own line
        bad.write_text("\n".join(lines + ["max_grad_nrom: 5.0"]) + "\n")
        with pytest.raises(SpeechprocError, match=rf"typo.yaml:{len(lines) + 1}: key 'max_grad_nrom' is read by "
                                                  r"nothing.*did you mean max_grad_norm\?"):
            train(train_argv(dict(tone, config=str(bad)), tmp_path / "exp"))
    else:
        with pytest.raises(SpeechprocError, match=rf"typo.yaml:{i + 1}: key 'numbr_of_epochs' is read by nothing.*"
                                                  r"did you mean number_of_epochs\?"):
            train(train_argv(dict(tone, config=str(bad)), tmp_path / "exp"))
    assert not (tmp_path / "exp" / "train.yaml").exists()
    check_config_keys("ok.yaml", "task: asr\nhidden: 8\nmodel: !new:torch.nn.Linear [!ref <hidden>, 2]\n", {})
    for conf in sorted(glob.glob(str(Path(__file__).resolve().parents[1] / "egs/*/*/conf/*.yaml"))):
        text = Path(conf).read_text()
        if isinstance(load_yaml_plain(text), dict) and "task" in load_yaml_plain(text):
            check_config_keys(conf, text, {})


class _TagsAsText(__import__("yaml").SafeLoader):
    """Reads HyperPyYAML's merged yaml as plain data (``!new:``/``!apply:`` tags ignored)."""


_TagsAsText.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_a_config_can_pin_the_thread_count(tone, tmp_path):
    """num_threads in a config sets torch's threads for the training, whatever the caller's, and env.json records
    it: a recipe whose result must not depend on the machine's thread count pins it there."""
    conf = tmp_path / "pinned.yaml"
    conf.write_text(Path(tone["config"]).read_text() + "\nnum_threads: 1\n")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        train(train_argv(dict(tone, config=str(conf)), tmp_path / "exp", "--number_of_epochs", "1"))
        assert torch.get_num_threads() == 1
        assert json.loads((tmp_path / "exp" / "env.json").read_text())["num_threads"] == 1
    finally:
        torch.set_num_threads(before)


def test_train_records_experiment_and_resume_is_a_no_op(tone, tmp_path):
    torch.set_num_threads(1)
    exp = tmp_path / "exp"
    brain = train(train_argv(tone, exp, "--number_of_epochs", "4", "--snapshot_epochs", "[2]"))
    for name in ("cmd.txt", "train.yaml", "overrides.yaml", "hparams.yaml", "env.json", "train_log.txt", "model.pt"):
        assert (exp / name).is_file(), name
    assert "speechproc.bin.train" in (exp / "cmd.txt").read_text()
    import yaml

    merged = yaml.load((exp / "hparams.yaml").read_text(), Loader=_TagsAsText)  # long values may wrap: parse
    assert merged["output_folder"] == str(exp) and merged["number_of_epochs"] == 4

    assert yaml.safe_load((exp / "overrides.yaml").read_text())["output_folder"] == str(exp)
    env = json.loads((exp / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["git_commit"] and env["device"] == "cpu"
    log = (exp / "train_log.txt").read_text().splitlines()
    assert [ln.split(",")[0] for ln in log] == [f"epoch: {i}" for i in range(1, 5)]
    assert len(_ckpts(exp)) == 4
    assert any((exp / "tensorboard").rglob("events.out.tfevents.*"))
    summary = json.loads((exp / "train_summary.json").read_text())
    steps_per_epoch = brain.optimizer_steps // 4
    assert steps_per_epoch > 0 and summary["optimizer_steps_this_run"] == 4 * steps_per_epoch
    assert summary["optimizer_steps_total"] == 4 * steps_per_epoch
    assert summary["train_seconds_total"] == summary["train_seconds_this_run"]
    assert len(summary["averaged"]) == 2
    state = torch.load(exp / "model.pt")
    assert set(state["modules"]) == {"model", "normalize"}
    # The epoch-2 snapshot is a loadable experiment dir holding epoch 2's weights (not the final ones).
    snap = exp / "snapshots" / "epoch2"
    assert sorted(p.name for p in (exp / "snapshots").iterdir()) == ["epoch2"]
    assert (snap / "train.yaml").read_text() == (exp / "train.yaml").read_text()
    snap_state = torch.load(snap / "model.pt")
    assert snap_state["epoch"] == 2 and set(snap_state["modules"]) == {"model", "normalize"}
    epoch2 = [c for c in _ckpts(exp) if "epoch: 2" in (c / "CKPT.yaml").read_text()]
    assert len(epoch2) == 1
    saved = torch.load(epoch2[0] / "model.ckpt")
    for k, v in snap_state["modules"]["model"].items():
        assert torch.equal(v, saved[k]), k
    assert any(not torch.equal(v, state["modules"]["model"][k]) for k, v in snap_state["modules"]["model"].items())
    from speechproc.exp import load_trained_modules

    _, modules = load_trained_modules(snap)
    w = next(iter(modules["model"].state_dict().items()))
    assert torch.equal(w[1], snap_state["modules"]["model"][w[0]])
    # Losses fell: the toy task is learnable.
    first, last = (float(ln.split("valid loss: ")[1].split(",")[0]) for ln in (log[0], log[-1]))
    assert last < first

    # A second run with the same command finds all epochs done and trains nothing.
    brain2 = train(train_argv(tone, exp, "--number_of_epochs", "4"))
    assert brain2.optimizer_steps == 0
    again = json.loads((exp / "train_summary.json").read_text())  # the totals keep the first run's work
    assert again["optimizer_steps_this_run"] == 0 and again["optimizer_steps_total"] == 4 * steps_per_epoch
    assert again["train_seconds_total"] >= summary["train_seconds_total"] > again["train_seconds_this_run"]
    assert len((exp / "train_log.txt").read_text().splitlines()) == 4
    assert (exp / "cmd.txt").read_text().count("speechproc.bin.train") == 2


def test_stale_partial_checkpoint_is_ignored_and_removed(tmp_path):
    ckdir = tmp_path / "checkpoints"
    layer = torch.nn.Linear(2, 2)
    ck = AtomicCheckpointer(ckdir, recoverables={"layer": layer})
    ck.save_checkpoint(meta={"loss": 1.0})
    partial = ckdir / ".tmp-CKPT+2099-01-01+00-00-00+00"
    partial.mkdir()
    (partial / "layer.ckpt").write_bytes(b"half a file")
    assert len(ck.find_checkpoints()) == 1
    AtomicCheckpointer(ckdir, recoverables={"layer": layer})
    assert not partial.exists()
    assert len(list(ckdir.glob("CKPT+*"))) == 1


def test_resume_after_sigkill_mid_epoch(tmp_path):
    exp_files = prepare_tone_experiment(tmp_path / "tone", n=64)
    exp = tmp_path / "exp"
    cmd = [sys.executable, "-m", "speechproc.bin.train", *train_argv(exp_files, exp, "--number_of_epochs", "4")]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.time() + 120
    while len(_ckpts(exp)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.15)  # into epoch 3
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(_ckpts(exp))
    assert 2 <= done < 4, f"the kill should land in epoch 3 (checkpoints: {done})"
    epochs_logged = len((exp / "train_log.txt").read_text().splitlines())
    assert epochs_logged == done

    subprocess.run(cmd, env=_env(), check=True, capture_output=True, cwd=tmp_path)
    log = (exp / "train_log.txt").read_text().splitlines()
    assert [ln.split(",")[0] for ln in log] == [f"epoch: {i}" for i in range(1, 5)], log
    summary = json.loads((exp / "train_summary.json").read_text())
    steps_per_epoch = int(log[0].split("steps: ")[1].split(" ")[0])
    assert summary["optimizer_steps_this_run"] == (4 - done) * steps_per_epoch
    assert summary["epochs"] == 4
    assert not list((exp / "checkpoints").glob(".tmp-*"))


@pytest.mark.slow
def test_torchrun_two_processes_half_the_steps_same_model(tone, tmp_path):
    single = tmp_path / "single"
    subprocess.run([sys.executable, "-m", "speechproc.bin.train",
                    *train_argv(tone, single, "--number_of_epochs", "1")], env=_env(), check=True,
                   capture_output=True, cwd=tmp_path)
    steps_single = json.loads((single / "train_summary.json").read_text())["optimizer_steps_this_run"]

    ddp = tmp_path / "ddp"
    r = subprocess.run([sys.executable, "-m", "speechproc.bin.train", "--nproc", "2",
                        *train_argv(tone, ddp, "--number_of_epochs", "1")], env=_env(), capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((ddp / f"train_summary.rank{i}.json").read_text()) for i in (0, 1)]
    assert [rk["optimizer_steps_this_run"] for rk in ranks] == [math.ceil(steps_single / 2)] * 2
    assert ranks[0]["final_model_sha1"] == ranks[1]["final_model_sha1"]
    assert (ddp / "model.pt").is_file()
    assert json.loads((ddp / "env.json").read_text())["world_size"] == 2


@pytest.mark.usefixtures("slurm_cluster")
def test_train_as_a_slurm_job(tone, tmp_path):
    exp = tmp_path / "exp"
    r = subprocess.run([sys.executable, "-m", "speechproc.bin.train", "--cmd", "slurm",
                        *train_argv(tone, exp, "--number_of_epochs", "1")], env=_env(), capture_output=True,
                       text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    log = (exp / "train.log").read_text()
    assert "# Ended (code 0)" in log
    assert (exp / "model.pt").is_file()
    assert "--cmd" not in (exp / "cmd.txt").read_text()


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_run_that_fails_at_start_leaves_a_finished_exp_dir_byte_identical(tone, tmp_path):
    torch.set_num_threads(1)
    exp = tmp_path / "exp"
    train(train_argv(tone, exp, "--number_of_epochs", "1"))
    before = _tree(exp)
    assert "model.pt" in before and "train.yaml" in before
    empty = tmp_path / "not_a_data_dir"
    empty.mkdir()
    for bad in (str(tmp_path / "missing"), str(empty)):
        with pytest.raises(SpeechprocError):
            train(train_argv(tone, exp, "--number_of_epochs", "2", "--train_data", bad))
        after = _tree(exp)
        assert sorted(after) == sorted(before)
        assert all(after[k] == before[k] for k in before), [k for k in before if after[k] != before[k]]
    # a run that does start records its command and overrides
    train(train_argv(tone, exp, "--number_of_epochs", "2"))
    assert "number_of_epochs: 2" in (exp / "overrides.yaml").read_text()
    assert (exp / "cmd.txt").read_text().count("speechproc.bin.train") == 2


def test_a_second_training_into_the_same_exp_dir_is_refused_and_a_dead_holder_is_taken_over(tone, tmp_path, caplog):
    exp = tmp_path / "exp"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom speechproc.utils import dir_lock\n"
         f"with dir_lock({str(exp)!r}, 'training'):\n    print('locked', flush=True)\n    time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True, env=_env(), cwd=str(REPO))
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SpeechprocError, match=rf"(?s)already running there \(PID {holder.pid} on .* since .*dir_lock") as err:
            train(train_argv(tone, exp, "--number_of_epochs", "1"))
        assert "another output dir" in str(err.value)
        assert not (exp / "train.yaml").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the killed holder's lock is the kernel's: it is gone, and the next run takes it over with a warning
    with caplog.at_level("WARNING"):
        train(train_argv(tone, exp, "--number_of_epochs", "1"))
    assert (exp / "model.pt").is_file()
    assert f"taking over the lock of PID {holder.pid}" in caplog.text
    # a finished run leaves the lock free: a second run resumes without a warning
    caplog.clear()
    with caplog.at_level("WARNING"):
        train(train_argv(tone, exp, "--number_of_epochs", "1"))
    assert "taking over" not in caplog.text


@pytest.mark.slow
def test_resume_after_sigkill_is_faithful(tmp_path):
    """kill -9 at three points of a training that draws random numbers (dropout), resume each: the final model is
    the uninterrupted run's, bit for bit (the checkpoints carry the random generators' states)."""
    exp_files = prepare_tone_experiment(tmp_path / "tone", n=32)
    conf = Path(exp_files["config"])
    conf.write_text(conf.read_text().replace("dropout: 0.0", "dropout: 0.3"))

    def cmd(exp: Path):
        return [sys.executable, "-m", "speechproc.bin.train", *train_argv(exp_files, exp, "--number_of_epochs", "5")]

    subprocess.run(cmd(tmp_path / "straight"), env=_env(), check=True, capture_output=True, cwd=tmp_path)
    want = json.loads((tmp_path / "straight" / "train_summary.json").read_text())["final_model_sha1"]
    for kill_after in (1, 2, 3):
        exp = tmp_path / f"killed{kill_after}"
        proc = subprocess.Popen(cmd(exp), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        deadline = time.time() + 120
        while len(_ckpts(exp)) < kill_after and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 1 <= len(_ckpts(exp)) < 5
        assert all((c / "rng.ckpt").is_file() for c in _ckpts(exp))
        subprocess.run(cmd(exp), env=_env(), check=True, capture_output=True, cwd=tmp_path)
        got = json.loads((exp / "train_summary.json").read_text())["final_model_sha1"]
        assert got == want, f"resumed after {len(_ckpts(exp))} checkpoints: another model"


def test_config_syntax_and_type_errors_name_the_file_line_and_key(tone, tmp_path):
    conf = Path(tone["config"])
    bad = tmp_path / "bad.yaml"
    lines = conf.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("lr:"))
    bad.write_text("\n".join(lines[:i] + ["lr: [0.003"] + lines[i + 1:]) + "\n")
    syntax = rf"bad.yaml:{i + 2}: YAML syntax error: .*flow sequence opened at line {i + 1}\); fix that line"
    with pytest.raises(SpeechprocError, match=syntax):
        train(train_argv(dict(tone, config=str(bad)), tmp_path / "exp"))
    j = next(k for k, ln in enumerate(lines) if ln.strip().startswith("d_model:"))
    bad.write_text("\n".join(lines[:j] + ["    d_model: wide"] + lines[j + 1:]) + "\n")
    k = next(n for n, ln in enumerate(lines) if "!new:speechproc.models.asr.ConformerASR" in ln)
    with pytest.raises(SpeechprocError, match=rf"ConformerASR \(line {k + 1} \('model'\)\) rejected its arguments"):
        train(train_argv(dict(tone, config=str(bad)), tmp_path / "exp"))
    assert not (tmp_path / "exp" / "train.yaml").exists()


def test_resuming_from_checkpoints_of_another_config_names_the_checkpoint_and_the_fix(tone, tmp_path):
    torch.set_num_threads(1)
    exp = tmp_path / "exp"
    train(train_argv(tone, exp, "--number_of_epochs", "1"))
    wider = tmp_path / "wider.yaml"
    wider.write_text(Path(tone["config"]).read_text().replace("d_model: 32", "d_model: 48"))
    with pytest.raises(SpeechprocError, match=r"CKPT\+.*: this checkpoint was written by another model config.*"
                                              r"size mismatch.*remove .*checkpoints to train this config") as err:
        train(train_argv(dict(tone, config=str(wider)), exp, "--number_of_epochs", "2"))
    assert "Traceback" not in str(err.value)


def test_a_truncated_latest_checkpoint_falls_back_to_the_previous_good_one(tone, tmp_path, caplog):
    torch.set_num_threads(1)
    exp = tmp_path / "exp"
    train(train_argv(tone, exp, "--number_of_epochs", "2", "--keep_checkpoints", "3"))
    first, latest = _ckpts(exp)[0], _ckpts(exp)[-1]
    assert first != latest
    per_epoch = json.loads((exp / "train_summary.json").read_text())["optimizer_steps_this_run"] // 2
    model = next(latest.glob("model.ckpt"))
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])  # a disk that filled up mid-write
    with caplog.at_level("WARNING"):
        brain = train(train_argv(tone, exp, "--number_of_epochs", "3", "--keep_checkpoints", "3"))
    assert any(str(latest) in r.getMessage() and "cannot be read" in r.getMessage() for r in caplog.records)
    # resumed after epoch 1 (the good checkpoint): epochs 2 and 3 ran, not only epoch 3
    assert brain.hparams.epoch_counter.current == 3
    assert per_epoch > 0
    assert json.loads((exp / "train_summary.json").read_text())["optimizer_steps_this_run"] == 2 * per_epoch


def test_tensorboard_gets_per_step_scalars_against_the_global_step(tone, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.set_num_threads(1)
    exp = tmp_path / "exp"
    brain = train(train_argv(tone, exp, "--number_of_epochs", "2"))
    steps_first = brain.global_step()
    train(train_argv(tone, exp, "--number_of_epochs", "4"))  # resumed: the step count goes on
    scalars = []
    for events in sorted((exp / "tensorboard").rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events))
        acc.Reload()
        if "train_step/loss" in acc.Tags()["scalars"]:
            scalars += [(e.step, e.value) for e in acc.Scalars("train_step/loss")]
            assert "train_step/lr" in acc.Tags()["scalars"]
    steps = [s for s, _ in scalars]
    total = json.loads((exp / "train_summary.json").read_text())["optimizer_steps_this_run"] + steps_first
    assert steps == list(range(10, total + 1, 10)) and len(steps) >= 2, (steps, total)
    assert all(math.isfinite(v) and v > 0 for _, v in scalars)
