"""Short spoken commands: CTC word alignment, cutting words into clips, clips without speech, Whisper's
silence gate and silence in Whisper fine-tuning, and the short-commands table."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from speechproc.data.audio import NONSPEECH_KINDS, nonspeech_clip
from speechproc.decode.align import ctc_word_frames, word_cuts
from speechproc.utils import SpeechprocError


def _spiky_logp(t: int, v: int, spikes: dict) -> torch.Tensor:
    """(T, V) log-probabilities: blank (0) everywhere except ``spikes`` frame -> token."""
    p = torch.full((t, v), 0.01)
    p[:, 0] = 1.0
    for f, tok in spikes.items():
        p[f] = 0.01
        p[f, tok] = 1.0
    return torch.log(p / p.sum(-1, keepdim=True))


def test_ctc_word_frames_follow_the_spikes() -> None:
    logp = _spiky_logp(20, 5, {3: 1, 7: 2, 8: 2, 12: 3})
    spans = ctc_word_frames(logp, ["A", "BC"], [[1], [2, 3]], blank=0)
    assert [(s.word, s.start, s.end) for s in spans] == [("A", 3, 4), ("BC", 7, 13)]
    assert all(s.score > -0.1 for s in spans)
    with pytest.raises(SpeechprocError, match="too few"):
        ctc_word_frames(logp[:2], ["A", "BC"], [[1], [2, 3]], blank=0)
    with pytest.raises(SpeechprocError, match="without tokens"):
        ctc_word_frames(logp, ["A", ""], [[1], []], blank=0)


def test_word_cuts_take_the_sound_around_the_spike_plus_context() -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    wave = 1e-4 * rng.standard_normal(2 * sr)
    for a, b in ((0.2, 0.5), (0.8, 1.1)):  # two "words"
        wave[int(a * sr): int(b * sr)] += 0.1 * rng.standard_normal(int((b - a) * sr))
    # spikes late in the first word, early in the second
    cuts = word_cuts(wave, sr, [(0.44, 0.48), (0.84, 0.88)], context=0.1)
    (s1, e1), (s2, e2) = cuts
    assert s1 == pytest.approx(0.1, abs=0.02) and e1 == pytest.approx(0.6, abs=0.03)
    # the second word's stretch starts at the middle of the gap between the spikes (0.66): the context stops there
    assert s2 == pytest.approx(0.70, abs=0.02) and e2 == pytest.approx(1.2, abs=0.03)
    # a spike in silence takes the nearest sound of its stretch
    (s, e), = word_cuts(wave, sr, [(1.5, 1.54)], context=0.0)
    assert s == pytest.approx(0.2, abs=0.02) or s == pytest.approx(0.8, abs=0.02)


@pytest.mark.parametrize("kind", NONSPEECH_KINDS)
def test_nonspeech_clips_have_the_asked_length_and_level(kind: str) -> None:
    x = nonspeech_clip(1.5, 16000, kind, -50.0, np.random.default_rng(1))
    assert x.shape == (24000,) and x.dtype == np.float32
    rms_db = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-30)
    if kind == "zeros":
        assert not x.any()
    else:
        assert rms_db == pytest.approx(-50.0, abs=0.1)
    with pytest.raises(SpeechprocError, match="unknown kind"):
        nonspeech_clip(1.0, 16000, "speech")


def test_whisper_silence_gate(tiny_whisper: str) -> None:
    from speechproc.models.pretrained.whisper_asr import WhisperASR

    m = WhisperASR(tiny_whisper, window_seconds=2.0, max_new_tokens=6).eval()
    assert m.no_speech_id == m.tokenizer.tok.convert_tokens_to_ids("<|nocaptions|>")
    wavs = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 16000)).astype(np.float32) * 0.1)
    lens = torch.tensor([16000, 12000])
    plain = m.greedy_decode(wavs, lens)
    assert all(plain)
    assert m.greedy_decode(wavs, lens, no_speech_threshold=1.1) == plain  # a probability is never above 1.1
    assert m.greedy_decode(wavs, lens, no_speech_threshold=-1.0, logprob_threshold=1.0) == [[], []]
    assert m.greedy_decode(wavs, lens, no_speech_threshold=-1.0, logprob_threshold=-1e9) == plain

    from speechproc.decode.asr import DecodeConfig, Speech2Text

    conf = Path(tiny_whisper) / "decode_nogate.yaml"
    conf.write_text("mode: greedy\nno_speech_threshold: null\nallow_empty: true\n")
    s2t = Speech2Text(m, None, m.tokenizer, input="wave", **DecodeConfig(conf))
    assert s2t.config["no_speech_threshold"] is None and s2t.config["allow_empty"] is True  # a yaml null stays null
    assert DecodeConfig(conf, no_speech_threshold=None)["no_speech_threshold"] is None  # an option not given

    class EndFirst(torch.nn.Module):  # an output layer that always prefers the end of text
        def __init__(self, proj: torch.nn.Module, eot: int) -> None:
            super().__init__()
            self.proj, self.eot = proj, eot

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.proj(x).clone()
            y[..., self.eot] += 100.0
            return y

    m.hf.proj_out = EndFirst(m.hf.proj_out, m.tokenizer.eos_id)
    forced = m.greedy_decode(wavs, lens)  # Whisper forbids the end of text at the first step: one token comes out
    assert [len(h) for h in forced] == [1, 1]
    assert m.greedy_decode(wavs, lens, allow_empty=True) == [[], []]


def test_nonspeech_examples_join_a_training_batch_with_an_empty_target(tiny_whisper: str) -> None:
    from speechproc.models.pretrained.whisper_asr import WhisperASR
    from speechproc.tasks.whisper import WhisperBrain

    m = WhisperASR(tiny_whisper, window_seconds=2.0)
    fake = SimpleNamespace(nonspeech=dict(per_batch=2, lo=0.5, hi=2.0, levels=[-90.0, -40.0],
                                          kinds=list(NONSPEECH_KINDS), rng=np.random.default_rng(0)))
    wavs, lens = torch.randn(3, 8000), torch.tensor([8000, 6000, 4000])
    toks, tok_lens = torch.tensor([[5, 6, 7], [5, 6, 0], [9, 0, 0]]), torch.tensor([3, 2, 1])
    w2, l2, t2, tl2 = WhisperBrain.add_nonspeech(fake, wavs, lens, toks, tok_lens)
    assert w2.shape[0] == 5 and t2.shape == (5, 3)
    assert torch.equal(w2[:3, :8000], wavs) and torch.equal(l2[:3], lens)
    assert all(8000 <= int(n) <= 32000 for n in l2[3:])
    assert tl2.tolist() == [3, 2, 1, 0, 0]
    assert float(w2[3:].abs().max()) < 0.1  # quiet
    _, targets = m.decoder_io(t2, tl2)
    n = len(m.prompt)
    eot = m.tokenizer.eos_id
    for row in targets[3:]:  # the empty transcript: only the end of text is learnt
        assert row[n - 1] == eot and (row[n:] == -100).all() and (row[: n - 1] == -100).all()


def test_align_cut_and_table_verbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cut_words on a hand-written CTM: one clip per word with its word as text, band-limiting keeps the rate
    and length; make_nonspeech_data; the short-commands table counts clips with words."""
    import soundfile as sf

    from speechproc.bin import cut_words, make_nonspeech_data, make_results
    from speechproc.data.datadir import DataDir

    sr = 16000
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    wave = 1e-4 * rng.standard_normal(2 * sr)
    wave[int(0.2 * sr): int(0.5 * sr)] += 0.1 * np.sin(2 * np.pi * 3000 * np.arange(int(0.3 * sr)) / sr)
    wave[int(0.8 * sr): int(1.1 * sr)] += 0.1 * rng.standard_normal(int(0.3 * sr))
    sf.write(str(data / "a.wav"), wave, sr, subtype="PCM_16")
    (data / "wav.scp").write_text(f"spk1-u1 {data / 'a.wav'}\n")
    (data / "utt2spk").write_text("spk1-u1 spk1\n")
    (data / "spk2utt").write_text("spk1 spk1-u1\n")
    (data / "text").write_text("spk1-u1 YES NO\n")
    (tmp_path / "ctm").write_text("spk1-u1 1 0.440 0.040 YES -0.1\nspk1-u1 1 0.840 0.040 NO -0.2\n")
    cut_words.main(["--data", str(data), "--ctm", str(tmp_path / "ctm"), str(tmp_path / "words")])
    cut_words.main(["--data", str(data), "--ctm", str(tmp_path / "ctm"), "--band-limit", "4000", str(tmp_path / "w4k")])
    d = DataDir.load(tmp_path / "words")
    assert d.text == {"spk1-u1-w00": "YES", "spk1-u1-w01": "NO"}
    a, _ = d.load_audio("spk1-u1-w00")
    assert 0.35 <= len(a) / sr <= 0.6
    b, rate = DataDir.load(tmp_path / "w4k").load_audio("spk1-u1-w00")
    assert rate == sr and len(b) == len(a)
    spec = lambda x: np.abs(np.fft.rfft(x))  # noqa: E731
    hi = np.fft.rfftfreq(len(a), 1 / sr) > 2100
    assert spec(b)[hi].sum() < 0.05 * spec(a)[hi].sum()  # the 3-kHz tone is gone below a 4-kHz rate
    (tmp_path / "bad_ctm").write_text("spk1-u1 1 zero 0.04 YES\n")
    with pytest.raises(SpeechprocError, match="bad_ctm:1"):
        cut_words.main(["--data", str(data), "--ctm", str(tmp_path / "bad_ctm"), str(tmp_path / "x")])

    make_nonspeech_data.main([str(tmp_path / "ns"), "--seconds", "0.5", "1", "--levels", "-60"])
    ns = DataDir.load(tmp_path / "ns")
    assert len(ns) == 2 + 3 * 2 and ns.text is None

    exp = tmp_path / "exp"
    for sys_name, texts in (("good", {"test": "YES NO", "words": "YES", "nonspeech": ""}),
                            ("bad", {"test": "YES", "words": "NO", "nonspeech": "THANK YOU"}),
                            ("dots", {"test": "YES NO", "words": "YES", "nonspeech": "."})):
        for s, hyp in texts.items():
            dd = exp / sys_name / f"decode_{s}"
            dd.mkdir(parents=True)
            (dd / "text").write_text(f"u1 {hyp}\n" if hyp else "u1\n")
            if s != "nonspeech":
                (dd / "score_wer").mkdir()
                wer = {"YES NO": 0.0, "YES": 50.0 if s == "test" else 0.0, "NO": 100.0}[hyp]
                (dd / "score_wer" / "score.json").write_text(json.dumps({"wer": wer, "set": s, "n_utts": 1}))
    make_results.main([str(exp), "--short-commands-table", "test", "words", "nonspeech=nonspeech"])
    table = (exp / "RESULTS.md").read_text()
    assert "|bad|50.00|100.00|-|-|1 of 1|" in table and "|good|0.00|0.00|-|-|0 of 1|" in table
    assert "|dots|0.00|0.00|-|-|1 of 1 (0 with words)|" in table


def test_whisper_ctc_head_fits_saves_loads_and_aligns(tiny_whisper: str, tmp_path: Path) -> None:
    """A character CTC head on a (here random, tiny) Whisper encoder: fitting lowers the CTC loss on its own data,
    save/load gives the same posteriors, alignment returns one span per word in order; bad input is an error."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from dummies_asr import make_tone_corpus

    from speechproc.data.datadir import DataDir
    from speechproc.decode.align import WhisperCTCAligner
    from speechproc.models.pretrained.whisper_asr import WhisperASR

    data = DataDir.load(make_tone_corpus(tmp_path / "corpus", 6))
    model = WhisperASR(tiny_whisper, window_seconds=2.0).eval()
    al = WhisperCTCAligner(SimpleNamespace(model=model))
    with pytest.raises(SpeechprocError, match="fit or load"):
        al.align(np.zeros(8000, dtype=np.float32), "A")
    short = al.fit(data, epochs=2, progress=False)
    fit = al.fit(data, epochs=30, progress=False)
    assert fit["ctc_loss_per_frame"] < short["ctc_loss_per_frame"]
    assert al.chars == sorted({c for t in data.text.values() for c in t if c != " "})
    utt = data.utts[0]
    wave, _ = data.load_audio(utt, sample_rate=16000)
    spans, shift = al.align(wave, data.text[utt])
    assert shift == 0.02 and [s.word for s in spans] == data.text[utt].split()
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    al.save(tmp_path / "head.pt")
    again = WhisperCTCAligner(SimpleNamespace(model=model)).load(tmp_path / "head.pt")
    assert again.align(wave, data.text[utt]) == (spans, shift)
    with pytest.raises(SpeechprocError, match="characters the CTC head was not fitted on"):
        al.align(wave, "#")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SpeechprocError, match="not a CTC head"):
        WhisperCTCAligner(SimpleNamespace(model=model)).load(tmp_path / "bad.pt")
    with pytest.raises(SpeechprocError, match="fine-tuned Whisper"):
        WhisperCTCAligner(SimpleNamespace(model=torch.nn.Linear(2, 2)))
