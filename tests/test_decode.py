"""Decoding: beam 1 without LM equals greedy, Speech2Text, the decode verb with JOB=1:nj, LM verbs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import built_once
from dummies_asr import prepare_tone_experiment, train_argv
from speechproc.decode.asr import DecodeConfig, Speech2Text, greedy_attention
from speechproc.models.asr import ConformerASR
from speechproc.utils import SpeechprocError



class _Tok:
    """Minimal tokenizer for a toy vocabulary (ids 2..V-2 are symbols)."""

    blank_id, unk_id = 0, 1

    def __init__(self, vocab: int) -> None:
        self.vocab_size = vocab
        self.sos_id = self.eos_id = vocab - 1

    def decode(self, ids):
        return " ".join(f"t{i}" for i in ids)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    def build(root: Path) -> dict:
        from speechproc.train import train

        torch.set_num_threads(1)
        exp_files = prepare_tone_experiment(root, n=24)
        train(train_argv(exp_files, root / "exp", "--number_of_epochs", "25"))
        return {"root": str(root), "exp_files": exp_files}

    built = built_once(tmp_path_factory, "decode_tone", build)
    return Path(built["root"]), built["exp_files"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam1_without_lm_equals_greedy(seed):
    torch.manual_seed(seed)
    V = 9
    model = ConformerASR(V, input_size=20, d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                         d_ffn=64, kernel_size=5, subsampling_channels=4).eval()
    s2t = Speech2Text(model, torch.nn.Identity(), _Tok(V), beam_size=1, ctc_weight=0.0, max_decode_ratio=0.5)
    s2t.normalize = lambda x, n: (x, n)
    feats = torch.randn(3, 60, 20)
    lengths = torch.tensor([60, 48, 36])
    beam = s2t.decode_ids(feats, lengths)
    with torch.no_grad():
        enc, el = model.encode(feats, lengths)
    steps = int(enc.shape[1] * 0.5)  # max_decode_ratio * longest encoder output
    greedy = greedy_attention(model, enc, el, sos=V - 1, eos=V - 1, max_len=steps)
    # An untrained model rarely says <eos>: the searcher spends its last allowed step on <eos>.
    assert beam == [g if len(g) < steps else g[: steps - 1] for g in greedy]
    assert any(len(h) > 0 for h in beam)


def test_decode_config_checks(tmp_path):
    assert DecodeConfig(beam_size=3)["beam_size"] == 3
    (tmp_path / "d.yaml").write_text("beam_size: 4\nctc_weight: 0.5\n")
    cfg = DecodeConfig(tmp_path / "d.yaml", ctc_weight=0.2)
    assert cfg["beam_size"] == 4 and cfg["ctc_weight"] == 0.2
    with pytest.raises(SpeechprocError, match="unknown decode option 'beam'"):
        DecodeConfig(beam=3)
    with pytest.raises(SpeechprocError, match="greedy_ctc"):
        DecodeConfig(mode="fast")


def test_speech2text_from_pretrained_recognises_training_audio(trained):
    root, exp_files = trained
    from speechproc.data.datadir import DataDir

    data = DataDir.load(exp_files["train_data"])
    s2t = Speech2Text.from_pretrained(root / "exp", beam_size=3, ctc_weight=0.3)
    greedy = Speech2Text.from_pretrained(root / "exp", mode="greedy_ctc")
    utts = data.utts[:6]
    hyps = [s2t(data.wav_scp[u]) for u in utts]
    correct = sum(h == data.text[u] for h, u in zip(hyps, utts))
    assert correct >= 5, list(zip(hyps, [data.text[u] for u in utts]))
    wave, sr = sf.read(data.wav_scp[utts[0]], dtype="float32")
    assert greedy(wave, sr) == s2t.transcribe_batch([wave], sr)[0] == data.text[utts[0]]


def test_pause_cuts_tile_the_audio_and_cut_in_pauses():
    from speechproc.decode.asr import pause_cuts

    sr = 1000
    rng = np.random.default_rng(0)
    # 1.3-s bursts of noise separated by 0.4 s of silence, 40 s in all
    wave = np.concatenate([np.concatenate([rng.standard_normal(1300), np.zeros(400)]) for _ in range(24)])[:40000]
    cuts = pause_cuts(wave, sr, max_seconds=5.0)
    assert cuts[0][0] == 0 and cuts[-1][1] == len(wave)
    assert all(a == b for (_, a), (b, _) in zip(cuts, cuts[1:]))
    assert all(0 < b - a <= 5000 for a, b in cuts) and cuts[-1][1] - cuts[-1][0] >= 1000
    # the last pause before 5 s in each window, cut near its middle: 4.9 s, then two 1.7-s periods a piece
    assert len(cuts) == 11
    for k, (_, cut) in enumerate(cuts[:-1]):
        assert abs(cut - (4900 + 3400 * k)) <= 30, f"cut at {cut} is not in the middle of a pause"
    assert pause_cuts(wave[:4000], sr, 5.0) == [(0, 4000)]
    with pytest.raises(SpeechprocError, match="max_segment_seconds"):
        pause_cuts(wave, sr, 0)
    # split_pause_seconds: long audio is cut in the middle of every pause of at least 0.3 s (one burst a piece)
    vad = pause_cuts(wave, sr, max_seconds=5.0, split_pause_seconds=0.3)
    assert vad[0][0] == 0 and vad[-1][1] == len(wave) and all(a == b for (_, a), (b, _) in zip(vad, vad[1:]))
    assert len(vad) == 24
    for k, (_, cut) in enumerate(vad[:-1]):
        assert abs(cut - (1500 + 1700 * k)) <= 30, f"cut at {cut} is not in the middle of pause {k}"
    assert pause_cuts(wave, sr, max_seconds=5.0, split_pause_seconds=0.5) == cuts  # no pause that long
    # pause_pad_seconds: each piece keeps 0.1 s of the pauses around its burst and the rest of the pause is
    # dropped; the trailing silence goes the same way
    padded = pause_cuts(wave, sr, max_seconds=5.0, split_pause_seconds=0.3, pause_pad_seconds=0.1)
    assert len(padded) == 24
    for k, (a, b) in enumerate(padded):
        assert abs(a - max(0, 1700 * k - 100)) <= 10 and abs(b - min(1700 * k + 1400, len(wave))) <= 10, (k, a, b)
    assert all(np.abs(wave[b:c]).max() == 0 for (_, b), (c, _) in zip(padded, padded[1:]))  # only pause dropped
    wide = pause_cuts(wave, sr, max_seconds=5.0, split_pause_seconds=0.3, pause_pad_seconds=1.0)
    assert [b for _, b in wide[:-1]] == [c for c, _ in wide[1:]]  # a pad wider than half the pause: the middle


def test_long_audio_is_decoded_in_pieces_cut_at_pauses(trained):
    """A 2-minute recording (longer than the Conformer's positional table of 100 s, which made a single pass
    fail) transcribes: it is cut at pauses into pieces of at most max_segment_seconds, decoded in batches of at
    most batch_seconds, and the pieces' texts are joined in order."""
    root, exp_files = trained
    from speechproc.data.datadir import DataDir
    from speechproc.decode.asr import pause_cuts

    data = DataDir.load(exp_files["train_data"])
    gap = np.zeros(4800, dtype=np.float32)
    waves = []
    while sum(len(w) for w in waves) < 125 * 16000:
        for u in data.utts:
            waves += [sf.read(data.wav_scp[u], dtype="float32")[0], gap]
    long = np.concatenate(waves)
    s2t = Speech2Text.from_pretrained(root / "exp", mode="greedy_ctc", max_segment_seconds=20.0, batch_seconds=45)
    hyp = s2t(long, 16000)
    assert len(hyp.split()) > 200 and set(hyp.split()) == {"LOW", "HIGH"}
    # the pieces and their order: a decoder that names each piece by its frame count
    cuts = pause_cuts(long, 16000, 20.0)
    seen = []

    def fake(feats, lengths):
        seen.append(lengths.tolist())
        return [f"n{n}" for n in lengths.tolist()]

    s2t.decode_features = fake
    names = s2t(long, 16000).split()
    assert len(names) == len(cuts) >= 7
    from speechproc.features.fbank import compute_fbank

    assert names == [f"n{compute_fbank(long[a:b], s2t.fbank_config).shape[0]}" for a, b in cuts]
    assert all(sum(batch) <= 45 * 100 + len(batch) for batch in seen) and len(seen) >= 3
    with pytest.raises(SpeechprocError, match="mono"):
        s2t.transcribe_batch([np.zeros((16000, 2), dtype=np.float32)])


def test_beam1_equals_greedy_on_trained_model(trained):
    root, exp_files = trained
    from speechproc.data.dataset import make_asr_dataset, make_dataloader

    s2t = Speech2Text.from_pretrained(root / "exp", beam_size=1, ctc_weight=0.0)
    batch = next(iter(make_dataloader(make_asr_dataset(exp_files["train_data"]), batch_size=8)))
    feats, rel = batch.feats
    lengths = torch.round(rel * feats.shape[1]).long()
    beam = s2t.decode_ids(feats, lengths)
    with torch.no_grad():
        x, _ = s2t.normalize(feats, lengths)
        enc, el = s2t.model.encode(x, lengths)
    eos = s2t.tokenizer.eos_id
    assert beam == greedy_attention(s2t.model, enc, el, sos=eos, eos=eos)
    assert all(0 < len(h) < int(enc.shape[1]) - 1 for h in beam)  # every hypothesis ended with <eos>


def test_decode_verb_two_jobs_matches_one_job(trained, tmp_path):
    root, exp_files = trained
    from speechproc.bin.decode_asr import main

    main(["--exp-dir", str(root / "exp"), "--data", exp_files["train_data"], "--beam-size", "2",
          str(tmp_path / "one")])
    main(["--exp-dir", str(root / "exp"), "--data", exp_files["train_data"], "--beam-size", "2", "--nj", "2",
          str(tmp_path / "two")])
    one = (tmp_path / "one" / "text").read_text()
    assert one == (tmp_path / "two" / "text").read_text()
    assert len(one.splitlines()) == 24
    info = json.loads((tmp_path / "two" / "decode.json").read_text())
    assert info["nj"] == 2 and info["config"]["beam_size"] == 2
    assert 0 < info["rtf"] < 5 and info["audio_seconds"] > 10
    assert len(list((tmp_path / "two" / "logs").glob("decode.*.log"))) == 2


def test_lm_train_perplexity_and_generate(tmp_path, capsys):
    from speechproc.bin.generate import main as generate
    from speechproc.bin.lm_perplexity import main as lm_perplexity
    from speechproc.text.tokenizer import train_tokenizer
    from speechproc.train import train

    torch.set_num_threads(1)
    sentences = ["ONE TWO THREE", "TWO THREE FOUR", "THREE FOUR FIVE", "ONE TWO THREE FOUR FIVE"] * 10
    (tmp_path / "train.txt").write_text("\n".join(sentences) + "\n")
    (tmp_path / "valid.txt").write_text("ONE TWO THREE\nTWO THREE FOUR\n")
    train_tokenizer(sentences, "word").save(tmp_path / "token")
    conf = Path(__file__).resolve().parent.parent / "egs/an4/asr/conf/train_lm_debug.yaml"
    train([str(conf), "--output_folder", str(tmp_path / "lm"), "--token_dir", str(tmp_path / "token"),
           "--train_text", str(tmp_path / "train.txt"), "--valid_text", str(tmp_path / "valid.txt"),
           "--number_of_epochs", "30", "--lr", "0.01", "--warmup_steps", "10"])
    lm_perplexity(["--lm-dir", str(tmp_path / "lm"), str(tmp_path / "valid.txt"), str(tmp_path / "ppl")])
    ppl = json.loads((tmp_path / "ppl" / "perplexity.json").read_text())
    # 5 words + <sos/eos> (+ 2 specials that never occur): a uniform model has ppl ~8; the trained one far less.
    assert ppl["tokens"] == 8 and ppl["ppl"] < 3.0
    capsys.readouterr()
    generate(["--lm-dir", str(tmp_path / "lm"), "--prompt", "ONE TWO", "--temperature", "0.1", "--top-k", "2",
              "-n", "2", "--seed", "0"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("ONE TWO THREE") for ln in lines)
    with pytest.raises(SpeechprocError, match="temperature"):
        generate(["--lm-dir", str(tmp_path / "lm"), "--temperature", "0"])

    # n-best rescoring with the same LM: it prefers the sentence it knows over a first pass's acoustic favourite
    from speechproc.bin.rescore_nbest import main as rescore_main
    from speechproc.decode.rescore import LMScorer, read_nbest, rescore

    nb = tmp_path / "nbest"
    nb.write_text("u1 1 -0.50 4 one two tree\nu1 2 -0.60 4 One Two three\n"
                  "u2 1 -0.20 4 three four five\nu2 2 -0.90 4 three for five\n")
    lm = LMScorer(tmp_path / "lm", normalize="upper")
    lp = lm(["one two three", "one two tree"])
    assert lp[0] > lp[1] + 1.0  # <unk> for TREE costs the LM much more than the known word
    hyps = read_nbest(nb)
    assert [h.rank for h in hyps["u1"]] == [1, 2] and hyps["u1"][1].am_logprob == pytest.approx(-2.4)
    assert rescore(hyps, lm, 0.0) == {"u1": "one two tree", "u2": "three four five"}
    assert rescore(hyps, lm, 1.0) == {"u1": "One Two three", "u2": "three four five"}
    (tmp_path / "ref").write_text("u1 ONE TWO THREE\nu2 THREE FOUR FIVE\n")
    assert rescore_main([str(nb), str(tmp_path / "resc"), "--lm-dir", str(tmp_path / "lm"), "--normalize", "upper",
                         "--tune-nbest", str(nb), "--tune-ref", str(tmp_path / "ref")]) == 0
    info = json.loads((tmp_path / "resc" / "rescore.json").read_text())
    assert info["lm_weight"] > 0 and info["changed_from_first_pass"] == 1
    assert min(g["wer"] for g in info["grid"]) == 0.0 and info["grid"][0]["wer"] > 0  # weight 0: TREE stays
    assert (tmp_path / "resc" / "text").read_text() == "u1 One Two three\nu2 three four five\n"
    nb.write_text("u1 1 -0.5 one two tree\n")
    with pytest.raises(SpeechprocError, match="line 1: expected 'utt rank score tokens text'"):
        read_nbest(nb)


def test_ctc_only_beam_search_equals_greedy_ctc(trained):
    """ctc_weight 1.0: a CTC prefix beam search; on a confident model it finds the best path's labels
    (SpeechBrain's searcher alone accumulates scores across steps here and emits <unk> runs)."""
    root, exp_files = trained
    from speechproc.data.dataset import make_asr_dataset, make_dataloader

    batch = next(iter(make_dataloader(make_asr_dataset(exp_files["train_data"]), batch_size=8)))
    feats, rel = batch.feats
    lengths = torch.round(rel * feats.shape[1]).long()
    greedy = Speech2Text.from_pretrained(root / "exp", mode="greedy_ctc").decode_ids(feats, lengths)
    for beam_size in (1, 4):
        ctc_only = Speech2Text.from_pretrained(root / "exp", beam_size=beam_size, ctc_weight=1.0)
        assert ctc_only.decode_ids(feats, lengths) == greedy
    assert all(len(g) > 0 for g in greedy) and ctc_only.tokenizer.unk_id not in sum(greedy, [])


def test_long_recordings_of_the_benchmark_join_utterances_with_gaps(tmp_path):
    """benchmark_long_audio's recordings: utterances in order with the gap after each, repeated to fill the
    length, and the matching reference words and utterance ids."""
    from dummies import make_datadir
    from speechproc.bin.benchmark_long_audio import build_recording

    data = make_datadir(tmp_path, n_utts=3, n_spk=1, seconds=0.5)
    wave, words, ids = build_recording(data, minutes=4.6 / 60, gap=0.5)  # 4 x (0.5 + 0.5) s fit, a 5th does not
    assert ids == data.utts + data.utts[:1] and len(wave) == 4 * 16000
    assert words == sum((data.text[u].split() for u in ids), [])
    assert np.all(wave[8000:16000] == 0) and np.any(wave[:8000] != 0)


def _beam_search(model, enc, lens, scorer, cached: bool, beam: int):
    """Hypotheses (id lists) and scores of a joint beam search over ``enc`` of a tiny model (eos 11)."""
    from speechproc.decode.asr import _SearcherLinear
    from speechproc.decode.searcher import JointBeamSearcher

    s = JointBeamSearcher(modules=[model.transformer, _SearcherLinear(model.seq_lin)], bos_index=1, eos_index=11,
                          min_decode_ratio=0.0, max_decode_ratio=1.0, beam_size=beam, using_eos_threshold=False,
                          length_normalization=True, scorer=scorer, cached=cached)
    s.bos_index = 11
    hyps, _, scores, _ = s(enc, lens.float() / enc.shape[1])
    return [list(map(int, h)) for h in hyps], scores


def test_the_cached_decoder_equals_the_full_recomputation_and_finds_the_same_hypotheses() -> None:
    from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder

    from speechproc.decode.searcher import CachedTransformerDecoder, FastCTCScorer
    from speechproc.models.asr import ConformerASR

    torch.manual_seed(0)
    model = ConformerASR(vocab_size=12, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=3, d_ffn=64).eval()
    enc, lens = torch.randn(3, 40, 32), torch.tensor([40, 31, 17])
    tokens = torch.randint(1, 12, (3, 9))
    with torch.no_grad():
        full = model.transformer.decode(tokens, enc, lens)[0]
    dec = CachedTransformerDecoder(model.transformer)
    cache = dec.start(enc, lens)
    steps = []
    for i in range(tokens.shape[1]):
        out, cache = dec.step(tokens[:, i], cache)
        steps.append(out)
    assert (torch.stack(steps, 1) - full).abs().max() < 1e-5

    def search(cached: bool, ctc: float):  # cached: also the fast CTC prefix scorer; else SpeechBrain's own
        kind = FastCTCScorer if cached else CTCScorer
        scorer = ScorerBuilder(full_scorers=[kind(ctc_fc=model.ctc_lin, blank_index=0, eos_index=11)],
                               weights={"ctc": ctc}) if ctc else None
        return _beam_search(model, enc, lens, scorer, cached, beam=5)

    for ctc in (0.0, 0.3, 1.0):
        (h_full, s_full), (h_cached, s_cached) = search(False, ctc), search(True, ctc)
        assert h_cached == h_full and any(len(h) > 2 for h in h_full)
        assert (s_cached - s_full).abs().max() < 1e-4


def test_the_cached_lm_scorer_equals_speechbrains_and_fusion_finds_the_same_hypotheses() -> None:
    from speechbrain.decoders.scorer import CTCScorer, ScorerBuilder
    from speechbrain.decoders.scorer import TransformerLMScorer as SBLMScorer

    from speechproc.decode.searcher import FastCTCScorer, FastTransformerLMScorer
    from speechproc.models.asr import ConformerASR
    from speechproc.models.lm import TransformerLM

    torch.manual_seed(0)
    lm = TransformerLM(vocab_size=12, d_model=16, nhead=2, num_layers=2, d_ffn=32).eval()
    sb_scorer, fast = SBLMScorer(lm, temperature=1.3), FastTransformerLMScorer(lm, temperature=1.3)
    assert type(fast).__name__ == "TransformerLMScorer"  # ScorerBuilder keys the lm_weight by the class name
    mem_sb = mem_fast = None
    tokens = torch.full((6,), 11)
    for step in range(7):  # steps with the beams reordered in between, as the search does
        lp_sb, mem_sb = sb_scorer.score(tokens, mem_sb, None, None)
        lp_fast, mem_fast = fast.score(tokens, mem_fast, None, None)
        assert (lp_sb - lp_fast).abs().max() < 1e-5, step
        index = torch.randint(0, 6, (6,))
        mem_sb, mem_fast = sb_scorer.permute_mem(mem_sb, index), fast.permute_mem(mem_fast, index)
        tokens = torch.randint(1, 11, (6,))

    model = ConformerASR(vocab_size=12, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=2, d_ffn=64).eval()
    enc, lens = torch.randn(2, 30, 32), torch.tensor([30, 22])

    def search(cached: bool):
        ctc = (FastCTCScorer if cached else CTCScorer)(ctc_fc=model.ctc_lin, blank_index=0, eos_index=11)
        lms = (FastTransformerLMScorer if cached else SBLMScorer)(lm)
        scorer = ScorerBuilder(full_scorers=[ctc, lms], weights={"ctc": 0.5, "transformerlm": 0.6})
        return _beam_search(model, enc, lens, scorer, cached, beam=4)

    (h_sb, s_sb), (h_fast, s_fast) = search(False), search(True)
    assert h_fast == h_sb and any(len(h) > 1 for h in h_sb)
    assert (s_fast - s_sb).abs().max() < 1e-4
    with pytest.raises(ValueError, match="encoder layers only"):
        FastTransformerLMScorer(torch.nn.Linear(2, 2))


def test_benchmark_decode_compares_the_searches_on_a_data_dir(trained, tmp_path) -> None:
    from speechproc.bin.benchmark_decode import main as bench

    root, exp_files = trained
    out = tmp_path / "speed"
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- results:decode_speed -->\n<!-- /results:decode_speed -->\n")
    assert bench(["--exp-dir", str(root / "exp"), "--data", exp_files["train_data"], "--threads", "1", "--max-utts", "6",
                  "--out", str(out), "--readme", str(readme)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert [r["variant"] for r in result["rows"]] == ["project", "speechbrain"]
    assert result["utterances"] == 6 and result["identical_transcripts"] == 6
    assert all(r["rtf"] > 0 and r["wer"] is not None and r["beam_size"] == 10 for r in result["rows"])
    assert (out / "text.project").read_text() == (out / "text.speechbrain").read_text()
    assert "| SpeechBrain's search |" in readme.read_text()
    with pytest.raises(SpeechprocError, match="unknown"):
        bench(["--exp-dir", str(root / "exp"), "--data", exp_files["train_data"], "--variants", "espnet",
               "--out", str(out)])
