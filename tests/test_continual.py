"""Continual fine-tuning: L2-SP, LoRA folding and switching, the rehearsal mix, versioned exp dirs and their
cards, and the bad inputs of a new period (on the tiny random Whisper of conftest.py)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from dummies import make_datadir
from dummies_asr import make_tone_corpus
from speechproc.data.datadir import DataDir
from speechproc.data.rehearsal import rehearsal_counts, rehearsal_mix
from speechproc.models.pretrained.finetune import L2SP, merge_lora
from speechproc.models.pretrained.whisper_asr import WhisperASR
from speechproc.utils import SpeechprocError

LORA = {"name": "lora", "lora": {"rank": 4, "alpha": 8, "target_modules": ["*.q_proj", "*.v_proj", "*.fc1"]}}


def _wavs(n: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    lens = torch.tensor([16000, 12000][:n])
    w = torch.from_numpy((0.1 * rng.standard_normal((n, 16000))).astype(np.float32))
    return w, lens


def _logits(m: WhisperASR, seed: int = 0) -> torch.Tensor:
    wavs, lens = _wavs(seed=seed)
    tokens = torch.tensor([[11, 12, 13], [14, 15, 0]])
    with torch.no_grad():
        return m(wavs, lens, tokens, torch.tensor([3, 2]))[0]


def _perturb_trainable(m: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn(p.shape, generator=g))


# --------------------------------------------------------------------------- L2-SP
def test_l2sp_is_zero_at_the_reference_and_its_gradient_points_back(tiny_whisper: str) -> None:
    m = WhisperASR(tiny_whisper, window_seconds=1.0)
    reference = m.pretrained_state(tiny_whisper)
    reg = L2SP(m.hf, reference, weight=0.5)
    assert float(reg().detach()) == 0.0
    _perturb_trainable(m.hf, 1)
    value = reg()
    drift = {n: (p.detach() - reference[n]) for n, p in m.hf.named_parameters() if p.requires_grad and n in reference}
    expected = 0.5 * sum(float((d ** 2).sum()) for d in drift.values())
    assert float(value.detach()) == pytest.approx(expected, rel=1e-5) and expected > 0
    m.hf.zero_grad()
    value.backward()
    for n, p in m.hf.named_parameters():
        if n in drift:  # d/dtheta = 2 w (theta - theta_0): a descent step moves theta back toward theta_0
            assert torch.allclose(p.grad, 2 * 0.5 * drift[n], atol=1e-6), n
    with torch.no_grad():
        for n, p in m.hf.named_parameters():
            if n in drift:
                p -= 0.1 * p.grad
    assert float(reg().detach()) < float(value.detach())
    with pytest.raises(SpeechprocError, match="no trainable parameter of the model is in the reference"):
        L2SP(m.hf, {}, 1.0)


# --------------------------------------------------------------------------- LoRA
def test_merged_lora_and_the_exported_checkpoint_compute_what_the_lora_model_computes(tiny_whisper: str,
                                                                                      tmp_path: Path) -> None:
    torch.manual_seed(0)
    m = WhisperASR(tiny_whisper, window_seconds=1.0, strategy=LORA).eval()
    _perturb_trainable(m, 2)  # non-zero up-projections, as after training
    before = _logits(m)
    out = m.export_hf(tmp_path / "hf")
    assert (out / "config.json").is_file() and (out / "tokenizer.json").is_file()
    assert json.loads((out / "config.json").read_text())["max_source_positions"] == 1500  # full table restored
    reloaded = WhisperASR(str(out), window_seconds=1.0).eval()  # a plain source: no adapter left
    assert not any("adapter" in n for n, _ in reloaded.named_parameters())
    assert torch.allclose(reloaded.hf.model.encoder.embed_positions.weight,
                          m.hf.model.encoder.embed_positions.weight)
    assert torch.allclose(_logits(reloaded), before, atol=1e-5)
    assert merge_lora(m.hf) == 8  # encoder: q, v, fc1; decoder: q, v of self and cross attention, fc1
    assert torch.allclose(_logits(m), before, atol=1e-5)
    with pytest.raises(SpeechprocError, match="Houlsby adapters"):
        merge_lora(WhisperASR(tiny_whisper, window_seconds=1.0, strategy={"name": "adapters"}).hf)


def test_switching_per_period_lora_gives_exactly_each_periods_model(tiny_whisper: str) -> None:
    torch.manual_seed(0)
    m1 = WhisperASR(tiny_whisper, window_seconds=1.0, strategy=LORA).eval()
    _perturb_trainable(m1, 3)
    m2 = WhisperASR(tiny_whisper, window_seconds=1.0, strategy=LORA).eval()
    _perturb_trainable(m2, 4)
    out1, out2 = _logits(m1), _logits(m2)
    assert not torch.allclose(out1, out2)
    served = WhisperASR(tiny_whisper, window_seconds=1.0, strategy=LORA).eval()
    for state, out in ((m1.trainable_state(), out1), (m2.trainable_state(), out2), (m1.trainable_state(), out1)):
        served.load_trained_state(state)
        assert torch.equal(_logits(served), out)


# --------------------------------------------------------------------------- rehearsal
def test_rehearsal_mix_delivers_the_configured_share_over_an_epoch(tmp_path: Path) -> None:
    new = make_datadir(tmp_path / "new", 80, 4, seconds=0.1)
    old_a = make_datadir(tmp_path / "a", 50, 5, seconds=0.1).speed_perturb(1.0)
    old_b = make_datadir(tmp_path / "b", 6, 2, seconds=0.1, with_segments=False).speed_perturb(0.5)
    assert rehearsal_counts(80, [50, 6], 0.2) == [14, 6]  # 20 old in all, the small dir gives all it has
    mixed = rehearsal_mix(new, [old_a, old_b], share=0.2, seed=1)
    epoch = list(mixed.utts)  # one epoch visits every utterance of the training dir once
    old = [u for u in epoch if u.startswith(("sp1.0-", "sp0.5-"))]
    assert len(epoch) == 100 and len(old) == 20 and len(old) / len(epoch) == pytest.approx(0.2)
    assert set(new.utts) <= set(epoch)
    assert rehearsal_mix(new, [old_a, old_b], 0.2, seed=1).utts == epoch  # seeded
    assert rehearsal_mix(new, [old_a, old_b], 0.2, seed=2).utts != epoch
    assert len(rehearsal_mix(new, [old_a], 0.25, seed=0)) == 107  # round(80 / 3) = 27 old: a share of 0.252
    with pytest.raises(SpeechprocError, match="needs 80 old utterances but the earlier data holds 56"):
        rehearsal_mix(new, [old_a, old_b], 0.5)
    with pytest.raises(SpeechprocError, match=r"share must be in \[0, 1\)"):
        rehearsal_counts(10, [5], 1.0)


# --------------------------------------------------------------------------- versions and the verb
def _methods(tmp_path: Path, tiny_whisper: str) -> Path:
    conf = (Path(__file__).resolve().parents[1] / "egs/an4/asr_continual/conf/finetune.yaml").read_text()
    conf = conf.replace("n_warmup_steps: 10", "n_warmup_steps: 1").replace("max_valid_utts: 50", "max_valid_utts: 4")
    (tmp_path / "ft.yaml").write_text(conf)
    strategy = json.dumps(LORA)
    (tmp_path / "methods.yaml").write_text(
        f"merged:\n  strategy: {strategy}\n  train_args: \"--lr 0.01\"\n"
        f"switch:\n  chain: separate\n  strategy: {strategy}\n  train_args: \"--lr 0.01\"\n"
        f"replay:\n  rehearsal_share: 0.25\n  strategy: {strategy}\n  train_args: \"--lr 0.01\"\n"
        f"routed:\n  chain: separate\n  router_background: background\n  strategy: {strategy}\n"
        f"  train_args: \"--lr 0.01\"\n  beam_size: 2\n  zeroshot: {tmp_path / 'zeroshot'}\n")
    return tmp_path / "methods.yaml"


def _zeroshot(tmp_path: Path, wers: dict, texts: dict = None) -> Path:
    for name, wer in wers.items():
        for kind in ("wer", "cer"):
            d = tmp_path / "zeroshot" / f"decode_{name}" / f"score_{kind}"
            d.mkdir(parents=True)
            (d / "score.json").write_text(json.dumps({kind: wer, "n": 10}))
        if texts and name in texts:  # the pretrained model's transcripts (routing takes them for background)
            (tmp_path / "zeroshot" / f"decode_{name}" / "text").write_text(
                "".join(f"{u} ZEROSHOT\n" for u in texts[name]))
    return tmp_path / "zeroshot"


def _tree_hash(path: Path) -> str:
    h = hashlib.sha1()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.mark.slow
def test_two_periods_make_two_versions_whose_cards_list_parent_and_periods(tiny_whisper: str, tmp_path: Path,
                                                                           monkeypatch) -> None:
    from speechproc.bin import continual_finetune
    from speechproc.score.continual import format_continual_table
    from speechproc.versions import latest_version, read_card, version_dir, versions

    monkeypatch.chdir(tmp_path)
    p1 = make_tone_corpus(tmp_path / "p1", 4, seed=1)
    p2 = tmp_path / "p2" / "data_sp"  # other utterance ids than p1's (rehearsal mixes them)
    DataDir.load(make_tone_corpus(tmp_path / "p2", 4, seed=2)).speed_perturb(1.0).save(p2)
    methods = _methods(tmp_path, tiny_whisper)
    utts = {"general": DataDir.load(p1).utts, "p1": DataDir.load(p1).utts, "p2": DataDir.load(p2).utts}
    zs = _zeroshot(tmp_path, {"general": 50.0, "p1": 80.0, "p2": 90.0}, utts)
    DataDir.load(make_tone_corpus(tmp_path / "bg", 3, seed=3)).save("background")  # speech of no period
    common = ["--methods", str(methods), "--config", str(tmp_path / "ft.yaml"), "--base", tiny_whisper,
              "--window-seconds", "2", "--eval", f"general={p1}", f"p1={p1}", f"p2={p2}", "--zeroshot", str(zs),
              "--train-args", "--number_of_epochs 1 --max_duration 2"]
    for method in ("merged", "switch", "replay", "routed"):
        for name, data in (("p1", p1), ("p2", p2)):
            # the last period also rewrites the results table of every method (the recipe's stage 6)
            table = (["--table", "exp/RESULTS.md", "--table-methods", "merged", "switch", "replay", "routed",
                      "--plot", "exp/general_wer.png"] if (method, name) == ("routed", "p2") else [])
            assert continual_finetune.main(["--model-dir", f"exp/{method}", "--method", method, "--new-data", str(data),
                                            "--valid-data", str(data), "--period", name] + common + table) == 0
    merged = versions("exp/merged")
    assert [v.name for v in merged] == ["v1", "v2"]
    c1, c2 = read_card(merged[0]), read_card(merged[1])
    assert c1["parent"] == f"pretrained:{tiny_whisper}" and c2["parent"] == "exp/merged/v1"
    assert c2["weights_from"] == "exp/merged/v1/hf" and (merged[1] / "hf" / "config.json").is_file()
    assert [p["name"] for p in c2["periods"]] == ["p1", "p2"] and [p["data"] for p in c2["periods"]] == [str(p1), str(p2)]
    assert c2["periods"][1]["utts"] == 4 and c2["text_style"] == "upper"
    assert set(c2["eval"]) == {"general", "p1", "p2"} and c2["general"]["zeroshot_wer"] == 50.0
    assert c2["general"]["ok"] == (c2["eval"]["general"]["wer"] <= 55.0)
    switch = read_card(latest_version("exp/switch"))
    assert switch["weights_from"] == tiny_whisper and not (Path("exp/switch/v2") / "hf").exists()
    replay = read_card(version_dir("exp/replay", "v2"))
    assert replay["periods"][1]["rehearsal"]["old_utts"] == 1  # round(0.25 / 0.75 * 4)
    assert len(DataDir.load(replay["periods"][1]["rehearsal"]["data"])) == 5
    table = format_continual_table("exp", ["merged", "switch", "replay"], ["general", "p1", "p2"], zeroshot_dir=zs)
    assert "| switch (oracle task id) | p2 | v2 | 50.00 |" in table  # general: the pretrained model answers
    assert f"| merged | p2 | v2 | {c2['eval']['general']['wer']:.2f} | {c2['eval']['p1']['wer']:.2f} |" in table
    # the domain router: every utterance of the suite takes the transcript of the decoding it was routed to
    r2 = read_card(version_dir("exp/routed", "v2"))
    assert r2["routing"]["labels"] == ["background", "p1", "p2"] and "routing" not in switch
    # the routed method decodes the suite by beam search on each version's CTranslate2 export
    assert r2["decoding"] == "beam 2 (CTranslate2 float32)" and switch["decoding"] == "greedy (PyTorch)"
    assert r2["zeroshot"] == str(zs) and (Path("exp/routed/v2/ct2") / "model.bin").is_file()
    info = json.loads(Path("exp/routed/v2/decode_p2/decode.json").read_text())
    assert (info["backend"], info["beam_size"]) == ("ct2", 2)
    owner = {"background": Path("zeroshot"), "p1": Path("exp/routed/v1"), "p2": Path("exp/routed/v2")}
    for name in ("general", "p1", "p2"):
        assert sum(r2["routing"]["routes"][name].values()) == len(utts[name])
        routed = dict(ln.split(" ", 1) for ln in Path(f"exp/routed/v2/decode_{name}_routed/text").read_text().splitlines())
        for line in Path(f"exp/routed/v2/decode_{name}_routed/route").read_text().splitlines():
            utt, label, prob = line.split()
            want = dict(ln.split(" ", 1) for ln in (owner[label] / f"decode_{name}" / "text").read_text().splitlines())
            assert routed[utt] == want[utt] and 0.0 < float(prob) <= 1.0
    assert json.loads(Path("exp/routed/v1/router.json").read_text())["labels"] == ["background", "p1"]
    table = format_continual_table("exp", ["routed"], ["general", "p1", "p2"], zeroshot_dir=zs)
    g = r2["routing"]["eval"]["general"]["wer"]
    assert f"| routed (domain router, no task id) | p2 | v2 | {g:.2f} |" in table
    written = Path("exp/RESULTS.md").read_text()
    assert f"| routed (domain router, no task id) | p2 | v2 | {g:.2f} |" in written and "| replay " in written
    assert Path("exp/general_wer.png").stat().st_size > 0


def test_the_results_say_how_the_versions_and_the_zero_shot_model_were_decoded(tmp_path: Path) -> None:
    from speechproc.score.continual import decoding_note
    from speechproc.versions import write_card

    for method, decoding in (("greedy_m", None), ("beam_m", "beam 5 (CTranslate2 float32)")):
        Path(tmp_path / "exp" / method / "v1").mkdir(parents=True)
        write_card(tmp_path / "exp" / method / "v1", {"version": "v1"} if decoding is None else
                   {"version": "v1", "decoding": decoding})
    zs = tmp_path / "exp" / "zeroshot_beam5" / "decode_general"
    zs.mkdir(parents=True)
    (zs / "decode.json").write_text(json.dumps({"backend": "ct2", "beam_size": 5, "window_seconds": 30.0}))
    assert decoding_note(tmp_path / "exp", ["beam_m"], ["general"], zs.parent) == (
        "fine-tuned versions: beam 5 (CTranslate2 float32), their own window; zero-shot: ct2 beam 5, 30-s window")
    assert decoding_note(tmp_path / "exp", ["greedy_m"], ["general"]) == (  # a card from before the key: greedy
        "fine-tuned versions: greedy (PyTorch), their own window; zero-shot: unknown (no decode.json)")


def test_a_method_whose_beam_size_is_not_a_positive_whole_number_is_an_error(tmp_path: Path) -> None:
    from speechproc.bin.continual_finetune import load_method

    for bad in ("0", "2.5", "five"):
        (tmp_path / "m.yaml").write_text(f"m:\n  beam_size: {bad}\n")
        with pytest.raises(SpeechprocError, match=r"m.yaml: method 'm': beam_size must be a whole number >= 1"):
            load_method(str(tmp_path / "m.yaml"), "m", "ft.yaml")
    (tmp_path / "m.yaml").write_text("m:\n  beam_size: 5\n  zeroshot: exp/zeroshot_beam5\n")
    assert load_method(str(tmp_path / "m.yaml"), "m", "ft.yaml")["beam_size"] == 5


def test_bad_new_data_is_a_clear_error_and_leaves_every_version_as_it_was(tiny_whisper: str, tmp_path: Path,
                                                                          monkeypatch) -> None:
    from speechproc.bin import continual_finetune
    from speechproc.versions import versions, write_card

    monkeypatch.chdir(tmp_path)
    p1 = make_tone_corpus(tmp_path / "p1", 4, seed=1)
    p2 = make_tone_corpus(tmp_path / "p2", 4, seed=2)
    methods = _methods(tmp_path, tiny_whisper)
    for v in ("v1", "v2"):  # two finished versions (cards only: every check runs before any training)
        Path(f"exp/merged/{v}").mkdir(parents=True)
        write_card(Path(f"exp/merged/{v}"), {"version": v, "text_style": "upper", "periods": [{"name": "p1"}]})
    with pytest.raises(SpeechprocError, match="is finished and is never modified"):
        write_card(Path("exp/merged/v1"), {})
    common = ["--methods", str(methods), "--config", str(tmp_path / "ft.yaml"), "--base", tiny_whisper,
              "--window-seconds", "2", "--eval", f"general={p1}"]
    before = _tree_hash(Path("exp/merged"))
    args = ["--model-dir", "exp/merged", "--method", "merged", "--valid-data", str(p1)] + common
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("wav.scp", "utt2spk", "spk2utt", "text"):
        (empty / name).write_text("")
    with pytest.raises(SpeechprocError, match="(?s)--new-data .*empty.*no utterances"):
        continual_finetune.main(args + ["--new-data", str(empty)])
    with pytest.raises(SpeechprocError, match="no such data dir"):
        continual_finetune.main(args + ["--new-data", str(tmp_path / "nope")])
    d8 = DataDir.load(p1)
    for u, spec in d8.wav_scp.items():
        x, _ = sf.read(spec)
        sf.write(tmp_path / f"{u}.wav", x[::2], 8000)
    d8 = DataDir(wav_scp={u: str(tmp_path / f"{u}.wav") for u in d8.wav_scp}, utt2spk=d8.utt2spk, text=d8.text)
    d8.save(tmp_path / "rate8k")
    with pytest.raises(SpeechprocError, match="4 recording\\(s\\) are at 8000 Hz but the model takes 16000 Hz.*--resample"):
        continual_finetune.main(args + ["--new-data", str(tmp_path / "rate8k")])
    lower = DataDir(wav_scp=DataDir.load(p1).wav_scp, utt2spk=DataDir.load(p1).utt2spk,
                    text={u: t.lower() + "." for u, t in DataDir.load(p1).text.items()})
    lower.save(tmp_path / "lower")
    with pytest.raises(SpeechprocError, match=r"lower/text line 1 \(spk1-utt000\): '.*\.' is not upper case"):
        continual_finetune.main(args + ["--new-data", str(tmp_path / "lower")])
    with pytest.raises(SpeechprocError, match=r"version 'v7' does not exist \(versions: v1, v2\)"):
        continual_finetune.main(args + ["--new-data", str(p2), "--parent", "v7"])
    with pytest.raises(SpeechprocError, match="no method 'mergd' \\(did you mean merged\\?\\)"):
        continual_finetune.main(["--model-dir", "exp/merged", "--method", "mergd", "--valid-data", str(p1),
                                 "--new-data", str(p2)] + common)
    assert _tree_hash(Path("exp/merged")) == before
    assert [v.name for v in versions("exp/merged")] == ["v1", "v2"]


# --------------------------------------------------------------------------- deployment
def test_export_ct2_gives_faster_whisper_the_fine_tuned_weights(tiny_whisper: str, tmp_path: Path) -> None:
    """A LoRA fine-tuned model exported as CTranslate2 (float32, so the comparison is exact up to float error):
    CTranslate2's encoder and decoder give the PyTorch model's outputs, and faster-whisper decodes on the
    model's own window."""
    import ctranslate2

    from speechproc.models.pretrained.whisper import EXPORT_INFO, FasterWhisperGreedy, export_ct2_whisper

    torch.manual_seed(0)
    m = WhisperASR(tiny_whisper, window_seconds=2.0, strategy=LORA).eval()
    _perturb_trainable(m, 5)
    out = export_ct2_whisper(m.export_hf(tmp_path / "hf"), tmp_path / "ct2", "float32", 2.0)
    assert json.loads((out / EXPORT_INFO).read_text())["window_seconds"] == 2.0
    wavs, lens = _wavs()
    feats = m.log_mel(torch.nn.functional.pad(wavs, (0, 16000)), lens)  # (2, 80, 200): the 2-s window
    with torch.no_grad():
        enc = m.encode(feats=feats).numpy()
    ct2 = ctranslate2.models.Whisper(str(out), device="cpu", compute_type="float32")
    enc_ct2 = np.array(ct2.encode(ctranslate2.StorageView.from_array(feats.numpy().copy())))
    assert np.abs(enc_ct2 - enc).max() < 1e-4
    got = ct2.generate(ctranslate2.StorageView.from_array(feats.numpy().copy()), [m.prompt, m.prompt], beam_size=1,
                       max_length=4, suppress_blank=False, suppress_tokens=[], return_logits_vocab=True)
    ids = torch.tensor([m.prompt, m.prompt])
    with torch.no_grad():  # the same greedy search on the PyTorch model, nothing suppressed
        for _ in range(4):
            nxt = m.hf(encoder_outputs=(torch.from_numpy(enc),), decoder_input_ids=ids).logits[:, -1].argmax(-1)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
        first = m.hf(encoder_outputs=(torch.from_numpy(enc),), decoder_input_ids=ids[:, :len(m.prompt)]).logits[:, -1]
    for b in range(2):  # the first step's scores over the whole vocabulary, then the greedy tokens
        ct2_first = np.array(got[b].logits[0][0])
        assert np.abs(ct2_first - first[b].numpy()).max() < 1e-4
        want = ids[b, len(m.prompt):].tolist()
        want = want[: want.index(m.tokenizer.eos_id)] if m.tokenizer.eos_id in want else want
        assert got[b].sequences_ids[0] == want[: len(got[b].sequences_ids[0])] and got[b].sequences_ids[0]
    fw = FasterWhisperGreedy(str(out))
    assert fw.chunk_length == 2
    text, ids = fw(wavs[0, :16000].numpy())
    assert isinstance(text, str)


def test_ct2_decoder_runs_the_model_on_its_own_window_with_beam_search_and_nbest(tiny_whisper: str,
                                                                                 tmp_path: Path) -> None:
    """The exported model decoded by CTranslate2 on its 2-s window: the features are those of fine-tuning, and the
    n-best list is sorted, n long, led by the beam's 1-best."""
    from speechproc.models.pretrained.whisper import CT2WhisperDecoder, export_ct2_whisper

    torch.manual_seed(0)
    m = WhisperASR(tiny_whisper, window_seconds=2.0, strategy=LORA, max_new_tokens=6).eval()
    _perturb_trainable(m, 6)
    out = export_ct2_whisper(m.export_hf(tmp_path / "hf"), tmp_path / "ct2", "float32", 2.0)
    dec = CT2WhisperDecoder(str(out))
    assert dec.window_seconds == 2.0 and dec.prompt == m.prompt
    wavs, lens = _wavs()
    audio = wavs[0, :16000].numpy()
    feats = m.log_mel(torch.from_numpy(audio)[None], torch.tensor([16000]))
    assert np.abs(dec.features(audio) - feats[0].numpy()).max() < 1e-4  # the fine-tuning front end
    beam = CT2WhisperDecoder(str(out), beam_size=3)
    best = beam(audio)[0]
    nb = beam.nbest(audio, 3)
    assert len(nb) == 3 and [s for s, _, _ in nb] == sorted((s for s, _, _ in nb), reverse=True)
    assert nb[0][1] == best and all(n >= 1 for _, _, n in nb)
    with pytest.raises(SpeechprocError, match="longer than the model's 2-s window"):
        dec(np.zeros(40000, dtype=np.float32))
    # temperature fallback: a threshold no decode can meet makes every temperature run and the last one answers
    # (a sampled text, unlike the greedy one); thresholds nothing fails keep the greedy result
    always = CT2WhisperDecoder(str(out), temperatures=(0.0, 0.5, 1.0), log_prob_threshold=0.0, best_of=3)
    sampled = always(audio)
    assert always.last_temperature == 1.0 and sampled[1] and sampled != dec(audio)
    never = CT2WhisperDecoder(str(out), temperatures=(0.0, 0.5, 1.0), log_prob_threshold=-1e9,
                              compression_ratio_threshold=1e9)
    assert never(audio) == dec(audio) and never.last_temperature == 0.0
    assert dec.needs_fallback("yes yes yes yes yes yes yes yes yes yes yes yes yes yes", -0.1)  # a loop
    assert not dec.needs_fallback("the quick brown fox", -0.2) and dec.needs_fallback("the quick brown fox", -1.5)
    with pytest.raises(SpeechprocError, match="must be >= 0"):
        CT2WhisperDecoder(str(out), temperatures=(-0.1,))


def test_silence_and_noise_transcribe_to_nothing_and_speech_still_does() -> None:
    """tiny.en says "you" on digital silence; the no-speech probability (about 0.95 there, below 0.3 on AN4
    speech) turns silence and faint noise of 0.5-5 s into an empty transcript, greedy, beam and n-best alike."""
    from conftest import require_corpus
    from speechproc.models.pretrained.whisper import CT2WhisperDecoder

    wav = require_corpus("an4") / "wav" / "an4test_clstk" / "fcaw" / "an406-fcaw-b.wav"
    speech, sr = sf.read(str(wav), dtype="float32")
    assert sr == 16000
    dec = CT2WhisperDecoder("tiny.en")
    never = CT2WhisperDecoder("tiny.en", no_speech_threshold=1.0)
    assert never(np.zeros(16000, dtype=np.float32))[0] != ""  # the hallucination the threshold removes
    for seconds in (0.5, 2.0, 5.0):
        n = int(16000 * seconds)
        for audio in (np.zeros(n, dtype=np.float32),
                      (np.random.RandomState(0).randn(n) * 0.003).astype(np.float32)):
            assert dec(audio) == ("", []) and dec.last_no_speech_prob > 0.6
    beam = CT2WhisperDecoder("tiny.en", beam_size=3)
    assert beam.nbest(np.zeros(32000, dtype=np.float32), 3) == [(0.0, "", 0)]
    text, ids = dec(speech)
    assert "rub out" in text.lower() and ids and dec.last_no_speech_prob < 0.3
