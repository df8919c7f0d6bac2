"""The domain router of per-period LoRA modules (speechproc.decode.router): it separates the domains it was fitted
on, reads back from its plain-data file with the same decisions, and says clearly what is wrong with bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speechproc.decode.router import DomainRouter, routed_texts
from speechproc.utils import SpeechprocError


def _clusters(seed: int, n: int = 40, d: int = 12):
    rng = np.random.default_rng(seed)
    centres = {"background": np.zeros(d), "an4": np.r_[6.0, np.zeros(d - 1)], "yesno": np.r_[0.0, -6.0, np.zeros(d - 2)]}
    return {k: [c + rng.standard_normal(d) for _ in range(n)] for k, c in centres.items()}


def test_the_router_sends_each_domain_to_its_module_and_other_speech_to_the_pretrained_model() -> None:
    train, test = _clusters(0), _clusters(1, n=30)
    router = DomainRouter.fit({"an4": train["an4"], "yesno": train["yesno"]}, train["background"])
    assert router.labels == ["background", "an4", "yesno"]
    for label, vectors in test.items():
        routed = [router.route(v) for v in vectors]
        assert routed.count(label) >= 28, (label, routed)  # the clusters are 6 standard deviations apart
    p = router.probabilities(np.stack(test["an4"]))
    assert p.shape == (30, 3) and np.allclose(p.sum(axis=1), 1.0)


def test_one_domain_and_background_is_a_two_class_router() -> None:
    train = _clusters(2)
    router = DomainRouter.fit({"an4": train["an4"]}, train["background"])
    assert router.coef.shape == (2, 12)
    assert router.route(np.r_[6.0, np.zeros(11)]) == "an4" and router.route(np.zeros(12)) == "background"


def test_the_saved_router_is_plain_json_and_decides_the_same(tmp_path: Path) -> None:
    train, test = _clusters(3), _clusters(4, n=10)
    router = DomainRouter.fit({"an4": train["an4"], "yesno": train["yesno"]}, train["background"], info={"base": "x"})
    path = router.save(tmp_path / "router.json")
    data = json.loads(path.read_text())
    assert data["labels"] == ["background", "an4", "yesno"] and data["info"]["base"] == "x"
    back = DomainRouter.load(path)
    x = np.stack([v for vs in test.values() for v in vs])
    assert np.allclose(back.probabilities(x), router.probabilities(x))
    states = {f"u{i}": v for i, v in enumerate(x)}
    assert back.route_all(states) == router.route_all(states)


def test_bad_router_input_is_a_clear_error(tmp_path: Path) -> None:
    train = _clusters(5)
    with pytest.raises(SpeechprocError, match="needs background audio"):
        DomainRouter.fit({"an4": train["an4"]}, [])
    with pytest.raises(SpeechprocError, match="'background' is the router's name"):
        DomainRouter.fit({"background": train["an4"]}, train["background"])
    with pytest.raises(SpeechprocError, match="class 'yesno' has no utterances"):
        DomainRouter.fit({"an4": train["an4"], "yesno": []}, train["background"])
    router = DomainRouter.fit({"an4": train["an4"]}, train["background"])
    with pytest.raises(SpeechprocError, match="have 5 features; the router was fitted on 12"):
        router.route(np.zeros(5))
    bad = tmp_path / "router.json"
    bad.write_text("{not json")
    with pytest.raises(SpeechprocError, match="router.json: not a router file"):
        DomainRouter.load(bad)
    router.save(bad)
    bad.write_text(bad.read_text().replace('"format_version": 1', '"format_version": 9'))
    with pytest.raises(SpeechprocError, match="format version 9; this speechproc reads version 1"):
        DomainRouter.load(bad)


def test_routed_texts_take_each_utterance_from_the_decoding_it_was_routed_to() -> None:
    texts = {"background": {"a": "HELLO", "b": "YES NO"}, "an4": {"a": "H E L L O", "b": "Y"}}
    routes = {"a": ("an4", 0.9), "b": ("background", 0.8)}
    assert routed_texts(routes, texts) == [("a", "H E L L O"), ("b", "YES NO")]
    with pytest.raises(SpeechprocError, match="routed to 'yesno', which has no decoding"):
        routed_texts({"a": ("yesno", 0.7)}, texts)


def test_a_router_on_a_merged_chain_is_refused(tmp_path: Path) -> None:
    from speechproc.bin.continual_finetune import load_method

    methods = tmp_path / "methods.yaml"
    methods.write_text("m:\n  config: ft.yaml\n  router_background: data/background\n")
    with pytest.raises(SpeechprocError, match="method 'm': router_background routes between separate modules"):
        load_method(str(methods), "m")
    methods.write_text("m:\n  config: ft.yaml\n  chain: separate\n  router_backgrund: data/background\n")
    with pytest.raises(SpeechprocError, match="unknown key 'router_backgrund' \\(did you mean router_background\\?\\)"):
        load_method(str(methods), "m")
