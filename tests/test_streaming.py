"""Streaming ASR: the chunk-by-chunk encoder with its left-context cache equals the masked full-utterance
pass, the streaming front end equals the offline features, partial/final results, endpointing, the
``transcribe --stream`` command on files and raw PCM, and its errors."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import built_once
from dummies_asr import _render, prepare_tone_experiment, streaming_asr_yaml, train_argv
from speechproc.models.asr import ConformerASR
from speechproc.utils import SpeechprocError



def _tiny(seed: int = 0, kernel: int = 7) -> ConformerASR:
    torch.manual_seed(seed)
    return ConformerASR(vocab_size=5, input_size=80, d_model=32, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                        d_ffn=64, kernel_size=kernel, subsampling_channels=4).eval()


@pytest.mark.parametrize("chunk,left", [(1, 3), (4, 2), (8, 100), (16, 1), (3, 0)])
def test_chunk_by_chunk_with_the_cache_equals_the_masked_full_pass(chunk: int, left: int) -> None:
    model = _tiny()
    feats = torch.randn(1, 203, 80, generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([203])
    with torch.no_grad():
        full, n = model.encode(feats, lengths, chunk_size=chunk, left_chunks=left)
        sub = model.subsampling(feats)
    ctx = model.make_streaming_context(chunk, left)
    streamed = torch.cat([model.encode_chunk(sub[:, i: i + chunk], ctx) for i in range(0, sub.shape[1], chunk)], 1)
    assert streamed.shape == full.shape == (1, 50, 32) and int(n) == 50
    assert (streamed - full).abs().max() < 1e-5
    # the chunk mask is a real restriction: full context gives other states
    with torch.no_grad():
        offline, _ = model.encode(feats, lengths)
    assert (offline - full).abs().max() > 1e-2


def test_the_chunk_mask_does_not_depend_on_batch_padding() -> None:
    model = _tiny()
    g = torch.Generator().manual_seed(2)
    a = torch.randn(1, 150, 80, generator=g)
    batch = torch.randn(2, 260, 80, generator=g)
    batch[0, :150] = a[0]
    with torch.no_grad():
        one, _ = model.encode(a, torch.tensor([150]), chunk_size=8, left_chunks=2)
        both, lens = model.encode(batch, torch.tensor([150, 260]), chunk_size=8, left_chunks=2)
    assert int(lens[0]) == one.shape[1]
    assert (both[0, : one.shape[1]] - one[0]).abs().max() < 1e-5


def test_streaming_front_end_gives_the_offline_encoder_states() -> None:
    from speechproc.decode.streaming import Speech2TextStreaming
    from speechproc.features.fbank import compute_fbank
    from speechproc.text.tokenizer import train_tokenizer

    model = _tiny()
    tok = train_tokenizer(["LOW HIGH"], "word")
    s2t = Speech2TextStreaming(model, None, tok, chunk_size=4, left_chunks=3, endpoint_seconds=0, max_silence_seconds=0)
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    for i in range(0, len(wave), 333):  # pieces that cut fbank windows and chunks anywhere
        s2t.accept_waveform(wave[i: i + 333])
    s2t._advance(final=False)
    got = torch.cat(s2t._enc)
    feats = compute_fbank(wave)[None]
    with torch.no_grad():
        ref, n = model.encode(feats, torch.tensor([feats.shape[1]]), chunk_size=4, left_chunks=3)
    k = got.shape[0]
    assert int(n) == 23 and k == 20          # the full chunks so far; the rest waits for finish()
    assert (got - ref[0, :k]).abs().max() < 1e-5


def test_prefix_beam_search_sums_the_paths_of_a_prefix() -> None:
    from speechproc.decode.streaming import ctc_prefix_beam_step

    # two frames over {blank, a}: P(a) = P(a a) + P(a -) + P(- a) = .6*.6 + .6*.4 + .4*.6
    logp = torch.tensor([[0.4, 0.6], [0.4, 0.6]]).log()
    beams = ctc_prefix_beam_step({(): (0.0, -float("inf"))}, logp, beam_size=4, blank=0)
    probs = {p: float(np.logaddexp(*v)) for p, v in beams.items()}
    assert set(probs) == {(), (1,), (1, 1)}
    assert np.exp(probs[(1,)]) == pytest.approx(0.36 + 0.24 + 0.24)
    assert np.exp(probs[()]) == pytest.approx(0.16)
    assert np.exp(probs[(1, 1)]) == pytest.approx(0.0)  # needs a blank between the two a's: 3 frames
    # carried over chunks, the result is the same as over the whole
    split = ctc_prefix_beam_step(ctc_prefix_beam_step({(): (0.0, -float("inf"))}, logp[:1], 4, 0), logp[1:], 4, 0)
    assert {p: float(np.logaddexp(*v)) for p, v in split.items()} == pytest.approx(probs)


@pytest.fixture(scope="module")
def streaming_exp(tmp_path_factory) -> Path:
    def build(root: Path) -> str:
        from speechproc.train import train

        torch.set_num_threads(1)
        exp = prepare_tone_experiment(root, n=16)
        exp["config"] = str(streaming_asr_yaml(root / "train_streaming.yaml"))
        train(train_argv(exp, root / "asr", "--number_of_epochs", "20", "--lr", "0.01"))
        return str(root / "asr")

    return Path(built_once(tmp_path_factory, "streaming", build))


def _tone_refs(exp: Path):
    from speechproc.data.dataset import load_data_dir

    data = load_data_dir(exp.parent / "corpus" / "data")
    return data, {u: data.text[u] for u in data.utts}


def test_a_streaming_model_decodes_as_its_masked_full_pass(streaming_exp: Path) -> None:
    from speechproc.decode.streaming import Speech2TextStreaming
    from speechproc.score.asr import score

    s2t = Speech2TextStreaming.from_pretrained(streaming_exp, chunk_ms=160, endpoint_seconds=0)
    assert s2t.model.streaming and s2t.chunk_size == 4
    data, refs = _tone_refs(streaming_exp)
    hyps, masked = {}, {}
    for u in data.utts:
        wave, sr = data.load_audio(u)
        hyps[u] = s2t(wave, sr)
        # the same search over the masked full-utterance pass
        from speechproc.features.fbank import compute_fbank

        feats = compute_fbank(wave, s2t.fbank_config)[None]
        lengths = torch.tensor([feats.shape[1]])
        with torch.no_grad():
            x, _ = s2t.normalize(feats, lengths)
            enc, _ = s2t.model.encode(x, lengths, chunk_size=4, left_chunks=s2t.left_chunks)
        s2t.reset()
        s2t._search(enc[0])
        last = s2t._finalize()
        masked[u] = last.text if last else ""
    assert hyps == masked
    # the tones are learnt, chunk by chunk (the CTC prefix beam's best: this toy's 1-layer decoder is too weak
    # to rescore with)
    ctc = Speech2TextStreaming.from_pretrained(streaming_exp, chunk_ms=160, endpoint_seconds=0, rescore=False)
    hyps = {u: ctc(*data.load_audio(u)) for u in data.utts}
    assert score(refs, hyps).totals.rate <= 10.0, hyps
    full = {u: ctc.transcribe_full_context(*data.load_audio(u)) for u in data.utts}
    assert score(refs, full).totals.rate <= 10.0, full


def test_partial_results_grow_and_endpointing_splits_at_pauses(streaming_exp: Path) -> None:
    from speechproc.decode.streaming import Speech2TextStreaming

    s2t = Speech2TextStreaming.from_pretrained(streaming_exp, chunk_ms=160, endpoint_seconds=0.6, rescore=False)
    rng = np.random.default_rng(5)
    first, second = _render(["HIGH", "LOW"], rng=rng), _render(["LOW", "LOW", "HIGH"], rng=rng)
    wave = np.concatenate([first, np.zeros(24000, np.float32), second])
    events = []
    for i in range(0, len(wave), 640):
        events += s2t.accept_waveform(wave[i: i + 640])
    events += s2t.finish()
    finals = [e.text for e in events if e.final]
    partials = [e for e in events if not e.final]
    assert finals == ["HIGH LOW", "LOW LOW HIGH"], events
    assert partials and partials[0].end_seconds < 0.8               # a partial result long before the end
    assert events[[e.final for e in events].index(True)].end_seconds < len(first) / 16000 + 1.2  # the pause ends it
    # no speech at all: nothing final
    s2t.accept_waveform(np.zeros(16000 * 3, np.float32))
    assert [e for e in s2t.finish() if e.final] == []


def test_transcribe_stream_on_a_file_and_on_raw_pcm(streaming_exp: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from speechproc.bin.transcribe import main

    wave = _render(["LOW", "HIGH", "HIGH"], rng=np.random.default_rng(3))
    path = tmp_path / "a.wav"
    sf.write(path, np.stack([wave, wave], 1), 16000, subtype="PCM_16")   # stereo: averaged to mono
    assert main(["--exp-dir", str(streaming_exp), "--stream", "--chunk-ms", "160", "--no-rescore", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{path} final LOW HIGH HIGH"
    assert any(line.startswith(f"{path} partial ") for line in lines)
    pcm = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm)))
    assert main(["--exp-dir", str(streaming_exp), "--stream", "--chunk-ms", "160", "--no-rescore", "-"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "- final LOW HIGH HIGH"


@pytest.mark.parametrize("case,message", [
    ("odd", "stdin ended mid-sample (1 bytes"),
    ("empty", "no audio on stdin"),
    ("rate", "the stream is at 8000 Hz but the model reads 16000 Hz"),
])
def test_transcribe_stream_errors(streaming_exp: Path, monkeypatch, case: str, message: str) -> None:
    from speechproc.bin.transcribe import main

    pcm = {"odd": b"\x00\x01" * 800 + b"\x07", "empty": b"", "rate": b"\x00\x00" * 4000}[case]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm)))
    extra = ["--rate", "8000"] if case == "rate" else []
    with pytest.raises(SpeechprocError, match=message.replace("(", r"\(")):
        main(["--exp-dir", str(streaming_exp), "--stream", *extra, "-"])


def test_bad_chunk_sizes_and_stereo_arrays(streaming_exp: Path) -> None:
    from speechproc.decode.streaming import Speech2TextStreaming

    with pytest.raises(SpeechprocError, match="multiples of the encoder's 40 ms"):
        Speech2TextStreaming.from_pretrained(streaming_exp, chunk_ms=100)
    s2t = Speech2TextStreaming.from_pretrained(streaming_exp, chunk_ms=320)
    with pytest.raises(SpeechprocError, match="mono samples of shape"):
        s2t.accept_waveform(np.zeros((1600, 2), np.float32))
