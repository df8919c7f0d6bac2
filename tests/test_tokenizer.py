"""Tokenizers (bpe, unigram, char, word), token dirs, and text cleaners."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from conftest import require_corpus
from speechproc.bin import train_tokenizer as train_tokenizer_verb
from speechproc.text import normalize
from speechproc.text.tokenizer import (
    BLANK,
    SOS_EOS,
    SPACE,
    UNK,
    CharTokenizer,
    WordTokenizer,
    load_tokenizer,
    load_training_text,
    read_tokens,
    train_tokenizer,
)
from speechproc.utils import SpeechprocError

# AN4-style transcripts: spelled letters, digits as words, short commands.
AN4_LIKE = [
    "YES",
    "NO",
    "GO",
    "RUBOUT",
    "ERASE",
    "STOP",
    "ENTER SIX",
    "ENTER FIVE",
    "START",
    "REPEAT",
    "P I T T S B U R G H",
    "A M Y",
    "R O B E R T",
    "ONE FIVE TWO THREE",
    "TWO SIX EIGHT FOUR",
    "SEVEN NINE ZERO OH",
    "FIFTEEN TWENTY FOURTEEN",
    "J A N E T",
    "FOUR THREE TWO ONE",
    "NINETEEN SIXTY FIVE",
    "C L Q X V W Z K",
    "JUNE TWENTY FIRST NINETEEN EIGHTY",
    "ENTER TWO THOUSAND",
    "DECEMBER SEVENTH",
    "H O W A R D",
    "FIFTY THREE FORTY",
]


def _roundtrip(tok, sentences):
    for s in sentences:
        ids = tok.encode(s)
        assert ids, s
        assert all(2 <= i < tok.vocab_size - 1 for i in ids), (s, ids)  # no blank/unk/sos-eos
        assert tok.decode(ids) == s


@pytest.mark.parametrize("token_type,vocab_size", [("bpe", 30), ("unigram", 40), ("char", None), ("word", None)])
def test_round_trip_and_token_list_layout(tmp_path, token_type, vocab_size):
    tok = train_tokenizer(AN4_LIKE, token_type, vocab_size)
    _roundtrip(tok, AN4_LIKE)
    tokens = tok.tokens
    assert tokens[0] == BLANK and tokens[1] == UNK and tokens[-1] == SOS_EOS
    assert (tok.blank_id, tok.unk_id, tok.sos_id, tok.eos_id) == (0, 1, len(tokens) - 1, len(tokens) - 1)
    assert len(set(tokens)) == len(tokens) == tok.vocab_size
    if vocab_size is not None:
        assert tok.vocab_size == vocab_size

    out = tmp_path / f"{token_type}{vocab_size or ''}"
    tok.save(out)
    lines = (out / "tokens.txt").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and lines[:-1] == tokens  # one token per line, id = line number
    ids = tok.encode("ENTER SIX")
    assert [lines[i] for i in ids] == tok.tokenize("ENTER SIX")
    cfg = json.loads((out / "tokenizer.json").read_text())
    assert cfg["type"] == token_type and cfg["vocab_size"] == len(tokens)

    loaded = load_tokenizer(out)
    assert type(loaded) is type(tok)
    assert loaded.tokens == tokens
    assert [loaded.encode(s) for s in AN4_LIKE] == [tok.encode(s) for s in AN4_LIKE]


def test_sentencepiece_model_file_and_pieces(tmp_path):
    tok = train_tokenizer(AN4_LIKE, "unigram", 60)
    tok.save(tmp_path / "unigram60")
    assert (tmp_path / "unigram60" / "unigram.model").is_file()
    # a 60-entry unigram list must contain whole-word pieces beyond single characters
    assert any(t.startswith("\u2581") and len(t) > 2 for t in tok.tokens)
    assert tok.tokenize("YES")[0].startswith("\u2581")


def test_char_tokens_and_space():
    tok = train_tokenizer(AN4_LIKE, "char")
    assert SPACE in tok.tokens
    assert tok.tokenize("A  M Y") == ["A", SPACE, "M", SPACE, "Y"]
    assert tok.decode(tok.encode("A  M Y")) == "A M Y"  # whitespace runs become one space
    # 'E' is the most frequent letter of AN4_LIKE: by-frequency order puts it right after the specials
    counts = {c: sum(s.count(c) for s in AN4_LIKE) for c in set("".join(AN4_LIKE)) - {" "}}
    assert tok.tokens[3] == max(sorted(counts), key=lambda c: counts[c]) == "E"
    assert tok.encode("Ä") == [tok.unk_id]


def test_word_unknown_and_vocab_limit():
    tok = train_tokenizer(AN4_LIKE, "word")
    ids = tok.encode("ENTER BANANA")
    assert ids == [tok.tokens.index("ENTER"), tok.unk_id]
    assert tok.decode(ids) == "ENTER <unk>"
    # counts: TWO 3, ONE 2, FOUR 1, SIX 1 -> keep the 3 most frequent, ties in code-point order
    small = train_tokenizer(["ONE TWO", "TWO SIX", "TWO ONE", "FOUR"], "word", vocab_size=6)
    assert small.tokens == [BLANK, UNK, "TWO", "ONE", "FOUR", SOS_EOS]
    assert small.decode(small.encode("ONE SIX")) == "ONE <unk>"


@pytest.mark.parametrize("token_type", ["char", "word", "bpe"])
def test_symbols_outside_the_token_list_are_counted_and_reported(token_type, caplog, tmp_path):
    tok = train_tokenizer(AN4_LIKE, token_type, vocab_size=40 if token_type == "bpe" else None)
    texts = {"u1": "ENTER ÄRGER", "u2": "ENTER", "u3": "ÄÖ 北京 ENTER"}
    utts, counts = tok.unknown_symbols(texts)
    assert utts == ["u1", "u3"]
    if token_type == "word":
        assert counts == {"ÄRGER": 1, "ÄÖ": 1, "北京": 1}
    else:
        assert counts == {"Ä": 2, "Ö": 1, "北": 1, "京": 1}
    with caplog.at_level("WARNING"):
        assert tok.report_unknown(texts, "data/x") == 2
    assert "data/x: 2 of 3 utterances have symbols outside the token list, which become <unk>" in caplog.text
    assert tok.unknown_symbols({"u2": "ENTER"}) == ([], {})


@pytest.mark.parametrize("token_type,vocab_size", [("bpe", 45), ("unigram", 45), ("char", None), ("word", None)])
def test_training_is_deterministic(tmp_path, token_type, vocab_size):
    for run in ("a", "b"):
        train_tokenizer(AN4_LIKE, token_type, vocab_size).save(tmp_path / run)
    for name in sorted(p.name for p in (tmp_path / "a").iterdir()):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_vocab_too_large_or_small_errors():
    with pytest.raises(SpeechprocError) as e:
        train_tokenizer(AN4_LIKE, "bpe", 5000)
    msg = str(e.value)
    assert "--vocab-size 5000 is too large for bpe" in msg
    most = int(msg.split("use --vocab-size ")[1].split()[0])
    assert 30 < most < 5000
    train_tokenizer(AN4_LIKE, "bpe", most)  # the suggested size works
    with pytest.raises(SpeechprocError, match=f"use --vocab-size {most} or less"):
        train_tokenizer(AN4_LIKE, "bpe", most + 1)

    with pytest.raises(SpeechprocError) as e:
        train_tokenizer(AN4_LIKE, "unigram", 10)
    least = int(str(e.value).split("use --vocab-size ")[1].split()[0])
    # 26 letters + the word-boundary mark + <unk>, then <blank> and <sos/eos>
    assert least == 26 + 1 + 1 + 2
    assert train_tokenizer(AN4_LIKE, "unigram", least).vocab_size == least


def test_bad_inputs():
    with pytest.raises(SpeechprocError, match="unknown tokenizer type 'phone'"):
        train_tokenizer(AN4_LIKE, "phone")
    with pytest.raises(SpeechprocError, match="every sentence is empty"):
        train_tokenizer(["", "  "], "char")
    with pytest.raises(ValueError, match="outside"):
        train_tokenizer(AN4_LIKE, "char").decode([999])


def test_cleaners_are_saved_and_applied(tmp_path):
    tok = train_tokenizer(["yes no", "Go!"], "char", cleaners=["strip_punctuation", "upper"])
    assert "!" not in tok.tokens and "y" not in tok.tokens
    tok.save(tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert loaded.cleaners == ["strip_punctuation", "upper"]
    assert loaded.encode("go!") == loaded.encode("GO")
    assert loaded.decode(loaded.encode("yes,  go")) == "YES GO"


def test_token_dir_errors(tmp_path):
    with pytest.raises(SpeechprocError, match="tokenizer.json: not found"):
        load_tokenizer(tmp_path)
    bad = tmp_path / "tokens.txt"
    bad.write_text("<unk>\n<blank>\nA\n<sos/eos>\n")
    with pytest.raises(SpeechprocError, match="expected '<blank>' first"):
        read_tokens(bad)
    bad.write_text("<blank>\n<unk>\nA\nA\n<sos/eos>\n")
    with pytest.raises(SpeechprocError, match="line 4: token 'A' appears twice"):
        read_tokens(bad)


def test_verb_text_file_with_extra_text(tmp_path):
    text = tmp_path / "train.txt"
    text.write_text("\n".join(AN4_LIKE[:10]) + "\n")
    extra = tmp_path / "extra.txt"
    extra.write_text("\n".join(AN4_LIKE[10:]) + "\n")
    assert load_training_text(text, [extra]) == AN4_LIKE
    out = tmp_path / "token" / "bpe30"
    argv = ["--type", "bpe", "--vocab-size", "30", "--extra-text", str(extra), str(text), str(out)]
    rc = train_tokenizer_verb.main(argv)
    assert rc == 0
    tok = load_tokenizer(out)
    assert tok.vocab_size == 30
    _roundtrip(tok, AN4_LIKE)
    with pytest.raises(SpeechprocError, match="no such file"):
        load_training_text(text, [tmp_path / "missing.txt"])


def test_verb_data_dir_source(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    utts = [f"spk1-u{i:02d}" for i in range(len(AN4_LIKE))]
    for u in utts:
        sf.write(str(data / f"{u}.wav"), np.zeros(800, dtype=np.float32), 16000)
    (data / "wav.scp").write_text("".join(f"{u} {data / u}.wav\n" for u in utts))
    (data / "utt2spk").write_text("".join(f"{u} spk1\n" for u in utts))
    (data / "spk2utt").write_text("spk1 " + " ".join(utts) + "\n")
    (data / "text").write_text("".join(f"{u} {s}\n" for u, s in zip(utts, AN4_LIKE)))
    assert load_training_text(data) == AN4_LIKE
    out = tmp_path / "word"
    train_tokenizer_verb.main(["--type", "word", str(data), str(out)])
    tok = load_tokenizer(out)
    assert isinstance(tok, WordTokenizer)
    _roundtrip(tok, AN4_LIKE)


def test_an4_bpe30_like_espnet(tmp_path):
    an4 = require_corpus("an4")
    lines = (an4 / "etc" / "an4_train.transcription").read_text().splitlines()
    texts = [ln.rsplit("(", 1)[0].replace("<s>", "").replace("</s>", "").strip() for ln in lines]
    assert len(texts) == 948
    tok = train_tokenizer(texts, "bpe", 30)
    # 30 entries: <blank> <unk> + word-boundary mark + 26 letters + <sos/eos>
    assert tok.vocab_size == 30
    assert sorted(tok.tokens[3:-1]) == [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    assert tok.tokens[2] == "\u2581"
    _roundtrip(tok, texts[:200])
    assert isinstance(train_tokenizer(texts, "char"), CharTokenizer)


def test_cleaners():
    assert normalize.english_cleaner("Mr.  Smith met  Dr. Jones\t") == "mister smith met doctor jones"
    assert normalize.strip_punctuation("Hello, world! It's fine.") == "Hello world It's fine"
    assert normalize.upper_cleaner(" go  home ") == "GO HOME"
    assert normalize.collapse_whitespace(" a \n b ") == "a b"
    assert normalize.clean("Dr. Who?", ["english", "strip_punctuation", "upper"]) == "DOCTOR WHO"
    assert normalize.clean("x", None) == "x"
    with pytest.raises(SpeechprocError, match="unknown text cleaner 'klingon'"):
        normalize.get_cleaner("klingon")
