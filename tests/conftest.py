"""Shared pytest set-up: corpus location and the repository root."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/dummies*.py helpers


def corpora_root() -> Path:
    """Folder with the real corpora: $SPEECHPROC_CORPORA, else ../shared/corpora beside the repo."""
    return Path(os.environ.get("SPEECHPROC_CORPORA", REPO.parent / "shared" / "corpora"))


def recipe_copy(tmp_path: Path, recipe: str) -> Path:
    """A copy of egs/<recipe> (run.sh, stage scripts, db.sh, conf/, local/) in ``tmp_path/egs``.

    A link ``tmp_path/tools`` to the repo's tools/ lets run.sh source the shared runner as in the repo;
    outputs (data/, exp/, .stages/) then go to the copy, never into the repo.
    """
    src = REPO / "egs" / recipe
    dst = tmp_path / "egs" / recipe
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.suffix == ".sh":
            shutil.copy2(f, dst / f.name)
    for sub in ("conf", "local"):
        if (src / sub).is_dir():
            shutil.copytree(src / sub, dst / sub, ignore=shutil.ignore_patterns("__pycache__"))
    if not (tmp_path / "tools").exists():
        (tmp_path / "tools").symlink_to(REPO / "tools")
    if not (tmp_path / "egs" / "TEMPLATE").exists():  # the shared stage scripts of `recipe_template NAME`
        (tmp_path / "egs" / "TEMPLATE").symlink_to(REPO / "egs" / "TEMPLATE")
    return dst


def recipe_env(**extra: str) -> dict:
    """Environment for running a recipe in a test: this one, without torchrun's per-rank variables."""
    env = dict(os.environ, SPEECHPROC_CORPORA=str(corpora_root()), **extra)
    for var in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    return env


# Recipes run by the tests find the corpora the same way.
os.environ.setdefault("SPEECHPROC_CORPORA", str(corpora_root()))


def require_corpus(name: str) -> Path:
    """Path of corpus ``name``; skip the test with a visible reason when it is absent."""
    path = corpora_root() / name
    if not path.is_dir():
        pytest.skip(f"corpus {name} not found at {path}; set SPEECHPROC_CORPORA")
    return path


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Start (or find) the local Slurm cluster of tools/slurm_cluster.sh.

    Skips with the script's reason only where the cluster cannot be installed (exit 2: not root,
    3: no apt-get); any other failure fails the test. SPEECHPROC_REQUIRE_SLURM=1 (set by
    tools/test.sh once the cluster is up) turns every skip into a failure.
    """
    r = subprocess.run(["bash", str(REPO / "tools" / "slurm_cluster.sh"), "start"],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        lines = (r.stderr.strip() or r.stdout.strip() or "no output").splitlines()
        reason = next((line for line in reversed(lines) if "error:" in line), lines[-1])
        if r.returncode in (2, 3) and not os.environ.get("SPEECHPROC_REQUIRE_SLURM"):
            pytest.skip(f"no local Slurm cluster: {reason}")
        pytest.fail(f"tools/slurm_cluster.sh start failed (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer, d_model 16 Whisper with random weights, saved like any local HF checkpoint (the real tiny.en
    tokenizer, converted offline)."""
    import json

    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    from speechproc.models.pretrained.whisper import resolve_whisper

    src = Path(resolve_whisper("tiny.en"))
    out = tmp_path_factory.mktemp("tiny_whisper")
    cfg = json.loads((src / "config.json").read_text())
    cfg.update(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
               encoder_ffn_dim=32, decoder_ffn_dim=32)
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(WhisperConfig(**cfg))
    model.save_pretrained(str(out))
    for f in src.iterdir():
        if f.name.startswith("tokenizer") or f.name in ("generation_config.json", "preprocessor_config.json"):
            shutil.copy(f, out / f.name)
    return str(out)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build) -> object:
    """``build(root)`` run once per test run into the dir ``root``; returns what it returned (JSON data).

    Under pytest-xdist the workers share ``root`` (in the run's base temp dir, under a file lock): the first
    builds it, the others wait and reuse it, so an expensive module fixture (a trained model that the tests only
    read) is not built once per worker. Tests write their own outputs to ``tmp_path``, never into ``root``."""
    import json

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's base temp dir, shared by the workers
    root = base / f"built_{name}"
    with FileLock(str(root) + ".lock"):
        done = root / ".built.json"
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            done.write_text(json.dumps(build(root)))
        return json.loads(done.read_text())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes a minute or more (a recipe end to end, a real training); "
                                       "scheduled first so that parallel workers (pytest -n) end together")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Slow tests first, so that ``pytest -n N`` does not start a six-minute test last; the order is otherwise
    the collection order."""
    items.sort(key=lambda it: 0 if it.get_closest_marker("slow") else 1)
