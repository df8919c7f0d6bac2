"""ASR scoring: alignment counts, WER/CER values, sclite-style reports, RESULTS.md generation."""

from __future__ import annotations

import json
import logging
import random
import subprocess
from pathlib import Path

import jiwer
import pytest

from speechproc.bin import make_results, score_asr
from speechproc.score.asr import (
    AlignedPair,
    Counts,
    align,
    format_report,
    normalize_for_scoring,
    read_kaldi_text,
    score,
    tokenize,
    write_report,
)
from speechproc.score.results import collect_scores, format_results_md, git_commit
from speechproc.utils import SpeechprocError


def ops(ali):
    return "".join(p.op for p in ali)


# ---------------------------------------------------------------------------------------------
# align()


def test_align_substitution_and_insertion():
    ali = align("a b c".split(), "a x c d".split())
    assert ali == [("C", "a", "a"), ("S", "b", "x"), ("C", "c", "c"), ("I", None, "d")]
    assert Counts.from_alignment(ali) == Counts(n=3, c=2, s=1, d=0, i=1)


def test_align_empty_hyp_is_all_deletions():
    ali = align("a b c".split(), [])
    assert ali == [AlignedPair("D", t, None) for t in "abc"]
    assert Counts.from_alignment(ali) == Counts(n=3, c=0, s=0, d=3, i=0)


def test_align_empty_ref_is_all_insertions():
    ali = align([], ["x", "y"])
    assert ali == [("I", None, "x"), ("I", None, "y")]
    assert Counts.from_alignment(ali) == Counts(n=0, c=0, s=0, d=0, i=2)
    assert align([], []) == []


def test_align_insertions_around_a_match():
    ali = align(["a"], "x a y".split())
    assert ops(ali) == "ICI"
    assert Counts.from_alignment(ali) == Counts(n=1, c=1, s=0, d=0, i=2)


def test_align_mixed():
    ref = "the cat sat on the mat today".split()
    hyp = "a the bat sat on mat".split()
    c = Counts.from_alignment(align(ref, hyp))
    # a:I, the:C, cat->bat:S, sat on:C, the:D, mat:C, today:D
    assert (c.n, c.c, c.s, c.d, c.i) == (7, 4, 1, 2, 1)
    assert c.rate == pytest.approx(100 * 4 / 7)


def test_align_prefers_matches_like_sclite():
    # Two alignments have 2 edits: S S, or D C I. sclite's weights (sub 4, ins/del 3) pick D C I.
    assert align(["a", "b"], ["b", "c"]) == [("D", "a", None), ("C", "b", "b"), ("I", None, "c")]


# (reference, hypothesis) pairs from sclite's pra output on AN4 character scoring; the alignment
# printed by sclite is reproduced column by column ('*' runs mark the missing side).
SCLITE_PRA = [
    ("E L E V e N <space> t w e n t y", "* * O N e * <space> t w e n t y"),
    ("t h * r E E <space> n i n e", "t h I r T Y <space> n i n e"),
    ("* * X <SPACE> n <space> K <SPACE> U <space> e i g h t", "S E V E n <space> T W O <space> e i g h t"),
    (
        "s I X <SPACE> e I G H T <space> t h r e e <space> s i x <SPACE> Z E R o * <space> t w o",
        "s * * ******* e * V E N <space> t h r e e <space> s i x ******* T Y <SPACE> o H <space> t w o",
    ),
    ("J A n U A r Y <space> s e v e n T H <space> n", "* E n T E r * <space> s e v e n * * <space> n"),
    ("T W O <SPACE> t W O <space> s i x", "* F I F t * Y <space> s i x"),
    ("e n t e r <space> * O n e <space> s", "e n t e r <space> N I n e <space> s"),
    ("* i * * <space> v", "F i V E <space> v"),
]


@pytest.mark.parametrize("ref_line,hyp_line", SCLITE_PRA)
def test_align_reproduces_sclite_alignments(ref_line, hyp_line):
    r_cols, h_cols = ref_line.split(), hyp_line.split()
    assert len(r_cols) == len(h_cols)
    expected, ref, hyp = "", [], []
    for a, b in zip(r_cols, h_cols):
        if set(a) == {"*"}:
            expected += "I"
            hyp.append(b.lower())
        elif set(b) == {"*"}:
            expected += "D"
            ref.append(a.lower())
        else:
            expected += "C" if a == b else "S"
            ref.append(a.lower())
            hyp.append(b.lower())
    assert ops(align(ref, hyp)) == expected


def test_align_counts_equal_levenshtein_distance():
    rng = random.Random(0)
    for _ in range(300):
        ref = [rng.choice("abcd") for _ in range(rng.randint(1, 12))]
        hyp = [rng.choice("abcde") for _ in range(rng.randint(0, 12))]
        c = Counts.from_alignment(align(ref, hyp))
        out = jiwer.process_words(" ".join(ref), " ".join(hyp) if hyp else "")
        assert c.errors == out.substitutions + out.deletions + out.insertions
        assert c.n == len(ref) and c.c + c.s + c.i == len(hyp)


# ---------------------------------------------------------------------------------------------
# normalisation and tokens


def test_normalize_modes():
    text = '  Don\'t  stop, "NOW"-please!  <unk> '
    assert normalize_for_scoring(text, "none") == 'Don\'t stop, "NOW"-please! <unk>'
    assert normalize_for_scoring(text, "upper") == 'DON\'T STOP, "NOW"-PLEASE! <UNK>'
    assert normalize_for_scoring(text, "lower") == "don't stop now please <unk>"
    with pytest.raises(SpeechprocError, match="unknown text normalisation 'whisper'"):
        normalize_for_scoring(text, "whisper")


def test_char_tokens_use_espnet_space_symbol():
    assert tokenize("ab  cd", "char") == ["a", "b", "<space>", "c", "d"]
    assert tokenize("ab cd", "char", space_symbol=None) == ["a", "b", "c", "d"]
    assert tokenize("ab cd", "token") == ["ab", "cd"]


# ---------------------------------------------------------------------------------------------
# score()

REF = {
    "spk1-u1": "the cat sat on the mat",
    "spk1-u2": "hello world",
    "spk2-u1": "good morning everyone",
    "spk2-u2": "a b c",
}
HYP = {
    "spk1-u1": "the bat sat on mat",  # 1 S, 1 D
    "spk1-u2": "hello big world",  # 1 I
    "spk2-u1": "good morning every one",  # 1 S, 1 I
    # spk2-u2 missing: 3 D
}


def test_score_totals_and_wer_exact(caplog):
    with caplog.at_level(logging.WARNING):
        r = score(REF, HYP)
    t = r.totals
    assert (t.n, t.c, t.s, t.d, t.i) == (14, 8, 2, 4, 2)
    assert r.error_rate == pytest.approx(800 / 14)
    assert r.n_utts == 4 and r.n_err_utts == 4 and r.ser == 100.0
    assert r.missing == ["spk2-u2"]
    assert "1 utterance(s) of ref have no hypothesis in hyp" in caplog.text and "spk2-u2" in caplog.text
    assert r.kaldi_lines() == [
        "%WER 57.14 [ 8 / 14, 2 ins, 4 del, 2 sub ]",
        "%SER 100.00 [ 4 / 4 ]",
        "Scored 4 sentences, 1 not present in hyp.",
    ]


def test_per_speaker_sums_equal_totals():
    utt2spk = {"spk1-u1": "A", "spk1-u2": "B", "spk2-u1": "A", "spk2-u2": "B"}
    r = score(REF, HYP, utt2spk=utt2spk)
    assert [s.spk for s in r.speakers] == ["A", "B"]
    total = Counts()
    for s in r.speakers:
        total = total + s.counts
    assert total == r.totals
    assert sum(s.n_utts for s in r.speakers) == r.n_utts == 4
    a = r.speakers[0]
    assert (a.counts.n, a.counts.s, a.counts.d, a.counts.i) == (9, 2, 1, 1)


def test_speaker_defaults_to_id_prefix():
    r = score(REF, HYP)
    assert [(s.spk, s.n_utts) for s in r.speakers] == [("spk1", 2), ("spk2", 2)]


def test_utt2spk_missing_utt_is_an_error():
    with pytest.raises(SpeechprocError, match=r"data/test/utt2spk: no speaker for utterance 'spk2-u2'"):
        score(REF, HYP, utt2spk={"spk1-u1": "A", "spk1-u2": "A", "spk2-u1": "B"}, utt2spk_name="data/test/utt2spk")


def test_unknown_hyp_utt_is_an_error():
    hyp = dict(HYP, **{"spk9-x": "extra"})
    with pytest.raises(SpeechprocError, match=r"exp/d/text: utterance 'spk9-x' not in the reference data/t/text"):
        score(REF, hyp, ref_name="data/t/text", hyp_name="exp/d/text")


def test_empty_reference_is_an_error():
    with pytest.raises(SpeechprocError, match="no utterances"):
        score({}, {})
    with pytest.raises(SpeechprocError, match="no word tokens at all"):
        score({"u1": "", "u2": ""}, {"u1": "x"})


def test_empty_reference_utterance_counts_insertions():
    r = score({"u1": "", "u2": "a b"}, {"u1": "x y", "u2": "a b"})
    assert (r.totals.n, r.totals.i, r.totals.errors) == (2, 2, 2)
    assert r.error_rate == 100.0 and r.n_err_utts == 1


def test_cer_with_space_token():
    r = score({"u1": "ab cd"}, {"u1": "ab ce"}, unit="char")
    assert r.metric == "cer"
    assert (r.totals.n, r.totals.s) == (5, 1)
    assert r.error_rate == pytest.approx(20.0)
    r2 = score({"u1": "ab cd"}, {"u1": "abce"}, unit="char")
    assert (r2.totals.d, r2.totals.s) == (1, 1)  # lost word boundary counts as a deletion
    r3 = score({"u1": "ab cd"}, {"u1": "abce"}, unit="char", space_symbol=None)
    assert (r3.totals.n, r3.totals.errors) == (4, 1)


def test_normalize_applies_to_both_sides():
    ref, hyp = {"u": "Hello, World!"}, {"u": "hello world"}
    assert score(ref, hyp).totals.errors == 2
    assert score(ref, hyp, normalize="lower").totals.errors == 0


# ---------------------------------------------------------------------------------------------
# result.txt / score.json


def test_report_pra_blocks_and_tables(tmp_path):
    r = score(REF, HYP, ref_name="data/test/text", hyp_name="exp/m/decode_test/text")
    write_report(r, tmp_path / "score_wer")
    text = (tmp_path / "score_wer" / "result.txt").read_text()
    assert (
        "id: (spk1-u1)\n"
        "Scores: (#C #S #D #I) 4 1 1 0\n"
        "REF:  the CAT sat on THE mat\n"
        "HYP:  the BAT sat on *** mat\n"
        "Eval:     S          D\n"
    ) in text
    assert "REF:  hello *** world\nHYP:  hello BIG world\nEval:       I\n" in text
    assert "REF:  A B C\nHYP:  * * *\nEval: D D D\n" in text
    assert "1 reference utterance(s) have no hypothesis (scored as all deletions):\n    spk2-u2\n" in text
    assert "%WER 57.14 [ 8 / 14, 2 ins, 4 del, 2 sub ]" in text
    assert "       | SPKR   | # Snt # Wrd | Corr    Sub    Del    Ins    Err  S.Err |\n" in text
    assert "       | spk1   |    2      8 | 75.0   12.5   12.5   12.5   37.5  100.0 |\n" in text
    assert "       | Sum/Avg|    4     14 | 57.1   14.3   28.6   14.3   57.1  100.0 |\n" in text
    assert "       | Sum    |    4     14 |    8      2      4      2      8      4 |\n" in text
    assert "Speaker sentences   1:  spk2   #utts: 2\n" in text
    js = json.loads((tmp_path / "score_wer" / "score.json").read_text())
    assert {k: js[k] for k in ("n", "c", "s", "d", "i", "n_utts", "n_missing")} == {
        "n": 14,
        "c": 8,
        "s": 2,
        "d": 4,
        "i": 2,
        "n_utts": 4,
        "n_missing": 1,
    }
    assert js["wer"] == pytest.approx(57.142857, abs=1e-5) and js["ser"] == 100.0
    assert (tmp_path / "score_wer" / "ref.trn").read_text().splitlines()[0] == "the cat sat on the mat\t(spk1-spk1-u1)"


def test_report_keeps_case_only_substitutions_visible():
    text = format_report(score({"u": "Hello world"}, {"u": "hello world"}))
    assert "REF:  Hello world\nHYP:  hello world\nEval: S\n" in text


def test_report_aligns_wide_characters():
    # wide characters take two columns, so '**' fills a deleted one and Eval letters line up
    text = format_report(score({"u": "前より面倒だ"}, {"u": "前より面道"}, unit="char"))
    assert "REF:  前 よ り 面 倒 だ\nHYP:  前 よ り 面 ** 道\nEval:             D  S\n" in text


def test_char_report_uses_space_token(tmp_path):
    r = score({"a-1": "ab cd"}, {"a-1": "abce"}, unit="char")
    text = format_report(r)
    assert "REF:  a b <SPACE> c D\nHYP:  a b ******* c E\nEval:     D         S\n" in text
    assert "word boundaries: scored as the token <space>" in text


# ---------------------------------------------------------------------------------------------
# Kaldi text files and the verb


def test_read_kaldi_text_errors(tmp_path):
    p = tmp_path / "text"
    p.write_text("u1 hello world\nu2\nu3   spaced   out \n")
    assert read_kaldi_text(p) == {"u1": "hello world", "u2": "", "u3": "spaced   out"}
    p.write_bytes("u1 ok\nu2 caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpeechprocError, match=r"text:2: not valid UTF-8"):
        read_kaldi_text(p)
    p.write_text("u1 a\n   b\n")
    with pytest.raises(SpeechprocError, match=r"text:2: line starts with whitespace, so it has no utterance id"):
        read_kaldi_text(p)
    p.write_text("u1 a\n\nu2 b\n")
    with pytest.raises(SpeechprocError, match=r"text:2: empty line"):
        read_kaldi_text(p)
    p.write_text("u1 a\nu1 b\n")
    with pytest.raises(SpeechprocError, match=r"text:2: duplicate utterance id 'u1' \(first on line 1\)"):
        read_kaldi_text(p)


def _write_data(root: Path) -> tuple[Path, Path]:
    data = root / "data" / "test"
    data.mkdir(parents=True)
    (data / "text").write_text("".join(f"{u} {t}\n" for u, t in sorted(REF.items())))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in sorted(REF)))
    dec = root / "exp" / "conformer" / "decode_test_beam4"
    dec.mkdir(parents=True)
    (dec / "text").write_text("".join(f"{u} {t}\n" for u, t in sorted(HYP.items())))
    return data, dec


def test_score_asr_verb(tmp_path, capsys):
    data, dec = _write_data(tmp_path)
    rc = score_asr.main(["--ref", str(data / "text"), "--hyp", str(dec / "text"), str(dec)])
    assert rc == 0
    out = capsys.readouterr().out.splitlines()
    assert "%WER 57.14 [ 8 / 14, 2 ins, 4 del, 2 sub ]" in out
    assert out[3].startswith("%CER ")
    for metric in ("wer", "cer"):
        js = json.loads((dec / f"score_{metric}" / "score.json").read_text())
        assert js["set"] == "test" and js["n_utts"] == 4 and metric in js
        assert (dec / f"score_{metric}" / "result.txt").is_file()
    cer = json.loads((dec / "score_cer" / "score.json").read_text())
    # chars incl. <space>: 22 + 11 + 21 + 5 = 59 reference tokens
    assert cer["n"] == 59


def test_score_asr_verb_rewrites_results_md(tmp_path, capsys):
    data, _ = _write_data(tmp_path)
    exp = tmp_path / "exp"
    for name in ("decode_a", "decode_b"):  # each call rewrites RESULTS.md with every scored dir so far
        dec = exp / "m" / name
        dec.mkdir(parents=True)
        (dec / "text").write_text((data / "text").read_text())
        assert score_asr.main(["--ref", str(data / "text"), "--hyp", str(dec / "text"), "--results", str(exp),
                               str(dec)]) == 0
        assert f"|{name}|test|0.00|" in (exp / "RESULTS.md").read_text()
    assert "|decode_a|test|0.00|" in (exp / "RESULTS.md").read_text()


def test_score_asr_verb_rejects_unknown_hyp_utt(tmp_path):
    data, dec = _write_data(tmp_path)
    with open(dec / "text", "a") as f:
        f.write("spk3-u9 stray line\n")
    with pytest.raises(SpeechprocError, match=r"decode_test_beam4/text: utterance 'spk3-u9' not in the reference"):
        score_asr.main(["--ref", str(data / "text"), "--hyp", str(dec / "text"), "--unit", "word", str(dec)])
    assert not (dec / "score_wer").exists()


# ---------------------------------------------------------------------------------------------
# RESULTS.md


ENV = {
    "date": "Mon Jan 01 00:00:00 UTC 2024",
    "git commit": "abc1234",
    "python version": "3.11.7",
    "torch version": "2.11.0",
    "CPU": "test cpu",
}


def test_results_md_from_fake_exp_tree(tmp_path):
    data, dec = _write_data(tmp_path)
    score_asr.main(["--ref", str(data / "text"), "--hyp", str(dec / "text"), str(dec)])
    # a second model with only a WER score, nested one level deeper
    other = tmp_path / "exp" / "asr_whisper" / "lora" / "decode_test"
    r = score({"a-1": "one two three four"}, {"a-1": "one two three for"})
    r.meta["set"] = "test"
    write_report(r, other / "score_wer")
    rows = collect_scores(tmp_path / "exp")
    assert [(d.model, d.decode_dir, d.set_name, sorted(d.metrics)) for d in rows] == [
        ("asr_whisper/lora", "decode_test", "test", ["wer"]),
        ("conformer", "decode_test_beam4", "test", ["cer", "wer"]),
    ]
    md = format_results_md(tmp_path / "exp", "python -m speechproc.bin.make_results exp", env=ENV)
    cer = json.loads((dec / "score_cer" / "score.json").read_text())["cer"]
    assert "- git commit: `abc1234`\n" in md
    assert "- command: `python -m speechproc.bin.make_results exp`\n" in md
    assert (
        "## conformer\n\n|decode dir|set|WER (%)|CER (%)|#utts|\n|---|---|---|---|---|\n"
        f"|decode_test_beam4|test|57.14|{cer:.2f}|4|\n"
    ) in md
    assert (
        "## asr_whisper/lora\n\n|decode dir|set|WER (%)|#utts|\n|---|---|---|---|\n|decode_test|test|25.00|1|\n" in md
    )
    assert md.index("## asr_whisper/lora") < md.index("## conformer")


def test_make_results_verb_and_errors(tmp_path):
    data, dec = _write_data(tmp_path)
    with pytest.raises(SpeechprocError, match="no score_\\*/score.json found"):
        make_results.main([str(tmp_path / "exp")])
    score_asr.main(["--ref", str(data / "text"), "--hyp", str(dec / "text"), "--unit", "word", str(dec)])
    assert make_results.main([str(tmp_path / "exp"), "--out", str(tmp_path / "RESULTS.md")]) == 0
    md = (tmp_path / "RESULTS.md").read_text()
    assert md.startswith("<!-- Generated by speechproc.bin.make_results; do not edit by hand. -->\n# RESULTS\n")
    for key in ("date", "git commit", "python version", "torch version", "CPU"):
        assert f"- {key}: `" in md
    assert "|decode_test_beam4|test|57.14|4|" in md
    (dec / "score_wer" / "score.json").write_text("{broken")
    with pytest.raises(SpeechprocError, match="score_wer/score.json: not a valid score.json"):
        make_results.main([str(tmp_path / "exp")])


def test_git_commit_marks_dirty_tree(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    assert git_commit(repo) == "unknown"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q"], check=True)
    (repo / "f.txt").write_text("a\n")
    subprocess.run(git + ["add", "f.txt"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "x"], check=True)
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert git_commit(repo) == head
    (repo / "f.txt").write_text("b\n")
    assert git_commit(repo) == head + "-dirty"
