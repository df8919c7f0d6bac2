"""Shared pytest set-up: corpus location and the repository root."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/dummies*.py helpers


def corpora_root() -> Path:
    """Folder with the real corpora: $SPEECHPROC_CORPORA, else ../shared/corpora beside the repo."""
    return Path(os.environ.get("SPEECHPROC_CORPORA", REPO.parent / "shared" / "corpora"))


def require_corpus(name: str) -> Path:
    """Path of corpus ``name``; skip the test with a visible reason when it is absent."""
    path = corpora_root() / name
    if not path.is_dir():
        pytest.skip(f"corpus {name} not found at {path}; set SPEECHPROC_CORPORA")
    return path
