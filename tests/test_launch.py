"""speechproc.launch: JOB=1:nj expansion, per-job logs, bounded parallelism, failures, local and real Slurm."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speechproc.launch import (
    LaunchError,
    default_job_name,
    kaldi_join,
    launch,
    load_conf,
    make_tasks,
    parse_job_range,
    substitute_job,
)
from speechproc.launch.slurm import batch_script, queue_paths, sbatch_args

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "speechproc.bin.launch"]


def _sigint_default() -> None:
    """In the child: undo an inherited 'ignore SIGINT' (background jobs of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
FOOTER = re.compile(
    r"# Accounting: time=(\d+) threads=(\d+)\n# Ended \(code (\d+)\) at .+, elapsed time (\d+) seconds\n\Z"
)


def read_log(path: Path) -> str:
    return path.read_text()


def check_log(path: Path, command: str, code: int) -> str:
    """Assert the run.pl framing of a log; return the command's own output between header and footer."""
    text = read_log(path)
    lines = text.splitlines()
    assert lines[0] == f"# {command}"
    assert lines[1].startswith("# Started at ")
    m = FOOTER.search(text)
    assert m, f"no run.pl footer at the end of {path}:\n{text}"
    assert int(m.group(3)) == code
    body_start = text.index("#\n", len(lines[0]) + len(lines[1])) + 2
    return text[body_start:m.start()]


# --------------------------------------------------------------------------------------------
# pure functions


def test_substitute_job_replaces_whole_words_only():
    assert substitute_job("exp/log/foo.JOB.log", 3) == "exp/log/foo.3.log"
    assert substitute_job("split4/JOB/feats JOB", 2) == "split4/2/feats 2"
    assert substitute_job("$SLURM_JOB_ID JOBS xJOB", 2) == "$SLURM_JOB_ID JOBS xJOB"
    assert substitute_job("a.N.log", 5, var="N") == "a.5.log"


def test_parse_job_range():
    assert parse_job_range("JOB=1:4") == ("JOB", 1, 4)
    assert parse_job_range("N=3:5") == ("N", 3, 5)
    assert parse_job_range("JOB=2") == ("JOB", 2, 2)
    for bad in ("JOB=4:1", "JOB=0:2", "JOB=1-4", "1:4"):
        with pytest.raises(LaunchError, match="VAR=START:END|START <= END"):
            parse_job_range(bad)


def test_make_tasks_and_job_name():
    tasks = make_tasks(["echo", "a b", "JOB"], "exp/log/fbank.JOB.log", nj=3)
    assert [t.index for t in tasks] == [1, 2, 3]
    assert tasks[1].command == "echo 'a b' 2"
    assert tasks[2].log == Path("exp/log/fbank.3.log")
    assert make_tasks("cut -f JOB x | sort", "l.JOB.log", nj=2)[1].command == "cut -f 2 x | sort"
    assert default_job_name("exp/log/fbank.JOB.log") == "fbank"
    assert default_job_name("exp/log/JOB.log") == "speechproc"
    with pytest.raises(LaunchError, match=r"does not contain JOB but nj=2"):
        make_tasks("true", "exp/log/foo.log", nj=2)
    with pytest.raises(LaunchError, match="command is empty"):
        make_tasks([], "exp/log/foo.log", nj=1)


def test_kaldi_join_quotes_only_words_with_spaces():
    assert kaldi_join(["copy-feats", "ark:gunzip -c a.gz|", "ark:-", "|", "wc", "-l"]) == (
        "copy-feats 'ark:gunzip -c a.gz|' ark:- | wc -l"
    )


def test_load_conf_checks_keys_and_types(tmp_path):
    conf = tmp_path / "slurm.yaml"
    conf.write_text("partition: gpu\nmem: 4G\ncpus: 2\nextra_args: ['--qos=high']\n")
    assert load_conf(conf) == {"partition": "gpu", "mem": "4G", "cpus": 2, "extra_args": ["--qos=high"]}
    conf.write_text("partiton: gpu\n")
    with pytest.raises(LaunchError, match=r"slurm\.yaml: unknown key 'partiton'; allowed keys: partition"):
        load_conf(conf)
    conf.write_text("cpus: two\n")
    with pytest.raises(LaunchError, match=r"key 'cpus' has value 'two'; expected int"):
        load_conf(conf)
    with pytest.raises(LaunchError, match="not found"):
        load_conf(tmp_path / "missing.yaml")
    assert load_conf(REPO / "tools" / "slurm" / "slurm.yaml")["cpus"] == 1


def test_sbatch_args_from_conf_and_overrides(tmp_path):
    tasks = make_tasks("true", tmp_path / "log" / "x.JOB.log", nj=4)
    _, script, out, rc_prefix = queue_paths(tasks, "x")
    args = sbatch_args(
        tasks,
        {"partition": "gpu", "time": "1:00:00", "mem": "4G", "cpus": 2, "gpus": 1, "max_parallel": 2,
         "extra_args": "--qos=high --account=speech"},
        "x",
        out,
    )
    assert args[:3] == ["--parsable", "--job-name=x", "--array=1-4%2"]
    assert f"--output={tmp_path}/log/q/x.%a.out" in args
    assert f"--chdir={os.getcwd()}" in args and "--export=ALL" in args
    for a in ("--cpus-per-task=2", "--partition=gpu", "--time=1:00:00", "--mem=4G", "--gres=gpu:1",
              "--qos=high", "--account=speech"):
        assert a in args
    assert "--gpus-per-task=2" in sbatch_args(tasks, {"gpus": 2, "gpu_option": "--gpus-per-task={gpus}"}, "x", out)
    assert script == tmp_path / "log" / "q" / "x.sh"


def test_batch_script_runs_one_task_without_slurm(tmp_path, monkeypatch):
    """The batch script alone, as Slurm would run task 2: right command, log framing, exit-code file."""
    monkeypatch.chdir(tmp_path)
    tasks = make_tasks("echo task JOB in $(pwd); exit JOB", "log/b.JOB.log", nj=3)
    q_dir, script, _, rc_prefix = queue_paths(tasks, "b")
    q_dir.mkdir(parents=True)
    script.write_text(batch_script(tasks, rc_prefix, threads=2))
    env = dict(os.environ, SLURM_ARRAY_TASK_ID="2", SLURM_ARRAY_JOB_ID="77")
    r = subprocess.run(["bash", str(script)], cwd="/", env=env)
    assert r.returncode == 2
    log = tmp_path / "log" / "b.2.log"
    body = check_log(log, "echo task 2 in $(pwd); exit 2", code=2)
    assert body == f"task 2 in {tmp_path}\n"
    assert "# Slurm job 77_2 on " in read_log(log)
    assert FOOTER.search(read_log(log)).group(2) == "2"
    assert (q_dir / "b.2.rc").read_text() == "2\n"
    assert not (tmp_path / "log" / "b.1.log").exists()


# --------------------------------------------------------------------------------------------
# local backend


def test_local_runs_each_job_into_its_own_log(tmp_path):
    launch("local", "echo out JOB; echo err JOB >&2", nj=4, log=tmp_path / "log" / "t.JOB.log")
    for i in range(1, 5):
        body = check_log(tmp_path / "log" / f"t.{i}.log", f"echo out {i}; echo err {i} >&2", code=0)
        assert sorted(body.splitlines()) == [f"err {i}", f"out {i}"]


def test_local_word_list_is_quoted(tmp_path):
    launch("local", ["printf", "%s|%s\\n", "a b", "JOB"], nj=2, log=tmp_path / "p.JOB.log")
    assert check_log(tmp_path / "p.2.log", "printf '%s|%s\\n' 'a b' 2", code=0) == "a b|2\n"


def test_local_inherits_cwd_and_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECHPROC_LAUNCH_MARK", "mark-42")
    launch("local", "echo $SPEECHPROC_LAUNCH_MARK $(pwd)", nj=1, log="e.log")
    assert check_log(tmp_path / "e.log", "echo $SPEECHPROC_LAUNCH_MARK $(pwd)", 0) == f"mark-42 {tmp_path}\n"


def test_local_max_parallel_is_bounded(tmp_path):
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    cmd = f"date +%s.%N > {stamps}/JOB.start; sleep 0.3; date +%s.%N > {stamps}/JOB.end"
    t0 = time.time()
    launch("local", cmd, nj=6, log=tmp_path / "log" / "par.JOB.log", max_parallel=2)
    elapsed = time.time() - t0
    spans = [(float((stamps / f"{i}.start").read_text()), float((stamps / f"{i}.end").read_text())) for i in range(1, 7)]
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running, most = 0, 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most == 2
    assert elapsed >= 0.85  # three rounds of 0.3 s
    assert FOOTER.search(read_log(tmp_path / "log" / "par.6.log")).group(3) == "0"


def test_local_failure_names_first_failing_log_and_its_tail(tmp_path):
    cmd = "for i in $(seq 30); do echo line$i-JOB; done; [ JOB -lt 3 ] || { echo boom JOB; exit JOB; }"
    with pytest.raises(LaunchError) as e:
        launch("local", cmd, nj=4, log=tmp_path / "f.JOB.log", max_parallel=4)
    msg = str(e.value)
    assert msg.startswith("2 of 4 jobs failed (JOB=3: exit code 3, JOB=4: exit code 4)")
    assert f"first failing log: {tmp_path}/f.3.log" in msg
    assert "boom 3" in msg and "line30-3" in msg and "# Ended (code 3)" in msg
    assert "line10-3" not in msg  # only the last 20 lines
    assert "boom 4" not in msg
    # the other tasks still ran to the end
    assert FOOTER.search(read_log(tmp_path / "f.1.log")).group(3) == "0"


def test_unknown_backend_is_an_error(tmp_path):
    with pytest.raises(LaunchError, match="unknown launch backend 'sge'; use one of: local, slurm"):
        launch("sge", "true", log=tmp_path / "x.log")


def test_cli_exit_status_and_stderr(tmp_path):
    ok = subprocess.run(CLI + ["JOB=1:3", "log/ok.JOB.log", "--", "echo", "v=JOB", "|", "tr", "v", "w"],
                        cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for i in range(1, 4):  # a bare | word is a pipe, as with run.pl
        assert check_log(tmp_path / "log" / f"ok.{i}.log", f"echo v={i} | tr v w", 0) == f"w={i}\n"
    bad = subprocess.run(CLI + ["--max-parallel", "1", "JOB=1:2", "log/bad.JOB.log", "echo out JOB; exit $((JOB - 1))"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "launch: error: 1 of 2 jobs failed (JOB=2: exit code 1); first failing log: log/bad.2.log" in bad.stderr
    assert "\nout 2\n" in bad.stderr
    single = subprocess.run(CLI + ["log/one.log", "--", "echo single"], cwd=tmp_path, capture_output=True, text=True)
    assert single.returncode == 0 and check_log(tmp_path / "log" / "one.log", "echo single", 0) == "single\n"
    usage = subprocess.run(CLI + ["JOB=1:2", "log/x.JOB.log"], cwd=tmp_path, capture_output=True, text=True)
    assert usage.returncode == 2 and "missing the command" in usage.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_local_interrupt_kills_running_jobs(tmp_path, sig):
    # --max-parallel 2: both jobs run at once even where this process may use a single CPU
    p = subprocess.Popen(CLI + ["--max-parallel", "2", "JOB=1:2", "log/int.JOB.log", "--", "echo $$ > pid.JOB; exec sleep 30"],
                         cwd=tmp_path, stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_default)
    pids = [tmp_path / "pid.1", tmp_path / "pid.2"]
    deadline = time.time() + 20  # both jobs must be running before the interrupt (slow on a loaded machine)
    while time.time() < deadline and not all(f.exists() and f.read_text().strip() for f in pids):
        time.sleep(0.05)
    assert all(f.exists() for f in pids), "the jobs did not start within 20 s"
    p.send_signal(sig)
    _, err = p.communicate(timeout=15)
    assert p.returncode == 130, err
    for f in pids:
        pid = int(f.read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert FOOTER.search(read_log(tmp_path / "log" / "int.1.log")).group(3) == "143"


# --------------------------------------------------------------------------------------------
# slurm backend, on a real cluster (tools/slurm_cluster.sh)


def _queue(job_name: str) -> list:
    r = subprocess.run(["squeue", "-h", "-n", job_name, "-o", "%i %T"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.usefixtures("slurm_cluster")
def test_slurm_array_runs_each_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECHPROC_LAUNCH_MARK", "mark-7")
    cmd = "echo task JOB $SLURM_ARRAY_TASK_ID $SPEECHPROC_LAUNCH_MARK $(pwd)"
    launch("slurm", cmd, nj=4, log="log/s.JOB.log", job_name=f"sp-test-{os.getpid()}")
    for i in range(1, 5):
        log = tmp_path / "log" / f"s.{i}.log"
        body = check_log(log, substitute_job(cmd, i), 0)
        assert body == f"task {i} {i} mark-7 {tmp_path}\n"
        assert re.search(rf"^# Slurm job \d+_{i} on ", read_log(log), re.M)
        assert (tmp_path / "log" / "q" / f"sp-test-{os.getpid()}.{i}.rc").read_text() == "0\n"


@pytest.mark.usefixtures("slurm_cluster")
def test_slurm_failing_task_raises_with_log_tail(tmp_path):
    cmd = "echo start JOB; if [ JOB = 2 ]; then echo broken input JOB >&2; exit 5; fi"
    with pytest.raises(LaunchError) as e:
        launch("slurm", cmd, nj=3, log=tmp_path / "log" / "f.JOB.log", max_parallel=2,
               conf={"poll_interval": 1})
    msg = str(e.value)
    assert msg.startswith("1 of 3 jobs failed (JOB=2: exit code 5); first failing log: ")
    assert f"{tmp_path}/log/f.2.log" in msg
    assert "broken input 2" in msg and "# Ended (code 5)" in msg
    assert "JobState=FAILED" in msg
    assert FOOTER.search(read_log(tmp_path / "log" / "f.3.log")).group(3) == "0"


@pytest.mark.usefixtures("slurm_cluster")
def test_slurm_cli_sigint_cancels_the_array(tmp_path):
    name = f"sp-cancel-{os.getpid()}"
    p = subprocess.Popen(CLI + ["--cmd", "slurm", "--job-name", name, "JOB=1:3", "log/c.JOB.log", "--", "sleep 120"],
                         cwd=tmp_path, stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_default)
    deadline = time.time() + 30
    while time.time() < deadline and "RUNNING" not in _queue(name):
        time.sleep(0.2)
    assert "RUNNING" in _queue(name), "the array never started"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "cancelling Slurm job" in err
    assert _queue(name) == []
