"""Corpus preparation: counts on the real corpora, fixtures in the real layouts, errors, the verb."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from conftest import REPO, require_corpus
from dummies_corpora import make_an4, make_librispeech

from speechproc.bin import prepare_data
from speechproc.data.corpora import CORPORA, ROOT_ENV, download, env_var, resolve_corpus_dir
from speechproc.data.corpora.an4 import parse_transcription_line, prepare_an4, utt_id_of
from speechproc.data.corpora.cmu_arctic import parse_festival_line, prepare_cmu_arctic
from speechproc.data.corpora.librispeech import prepare_librispeech
from speechproc.data.corpora.ljspeech import prepare_ljspeech
from speechproc.data.corpora.vcc2016 import prepare_vcc2016
from speechproc.data.corpora.yesno import prepare_yesno, text_of
from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

#: a fragment of each corpus's download command
DOWNLOAD_URLS = {
    "an4": "wget -O - http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz",
    "yesno": "https://www.openslr.org/resources/1/waves_yesno.tar.gz",
    "ljspeech": "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2",
    "vcc2016": "https://datashare.ed.ac.uk/bitstream/handle/10283/2211/vcc2016_training.zip",
    "cmu_arctic": "http://festvox.org/cmu_arctic/packed/cmu_us_${spk}_arctic.tar.bz2",
    "librispeech": "https://www.openslr.org/resources/12/${part}.tar.gz",
}


@pytest.fixture(autouse=True)
def _no_corpus_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-corpus variables set in the caller's shell must not leak into these tests."""
    for name in CORPORA:
        monkeypatch.delenv(env_var(name), raising=False)


def _stripped(data: DataDir) -> list:
    """Utterance ids without their speaker prefix, sorted."""
    return sorted(u[len(s) + 1:] for u, s in data.utt2spk.items())


# --------------------------------------------------------------------------------------- AN4

def test_an4_text_normalisation_examples() -> None:
    assert parse_transcription_line("<s> YES </s> (an251-fash-b)") == ("an251-fash-b", "YES")
    assert parse_transcription_line("<s> ENTER SIX TWO FOUR </s> (an76-fbbh-b)") == (
        "an76-fbbh-b", "ENTER SIX TWO FOUR")
    assert parse_transcription_line("RUBOUT G M E F THREE NINE (an406-fcaw-b)") == (
        "an406-fcaw-b", "RUBOUT G M E F THREE NINE")
    assert parse_transcription_line("<s>  erase  t w o </s>  (cen2-fbbh-b)\n") == ("cen2-fbbh-b", "ERASE T W O")
    assert utt_id_of("an251-fash-b") == ("fash-an251-b", "fash")
    assert utt_id_of("cen7-mjgk-b") == ("mjgk-cen7-b", "mjgk")
    with pytest.raises(ValueError):
        parse_transcription_line("<s> YES </s>")
    with pytest.raises(ValueError):
        utt_id_of("an251fash")


def test_an4_real_counts_split_and_text(tmp_path: Path) -> None:
    corpus = require_corpus("an4")
    sets = prepare_an4(corpus, tmp_path)
    assert list(sets) == ["train", "train_dev", "train_nodev", "test"]
    counts = {k: len(v.utt2spk) for k, v in sets.items()}
    assert counts == {"train": 948, "train_dev": 100, "train_nodev": 848, "test": 130}
    train, dev, nodev, test = sets["train"], sets["train_dev"], sets["train_nodev"], sets["test"]
    # ESPnet: subset_data_dir.sh --first 100 / --last 848 of the C-sorted train
    assert dev.utts == sorted(train.utt2spk)[:100]
    assert nodev.utts == sorted(train.utt2spk)[100:]
    assert dev.utts[0] == "fash-an251-b"
    assert (dev.utts[-1], nodev.utts[0]) == ("fjmd-cen8-b", "fkai-an311-b")
    assert len(set(train.utt2spk.values())) == 74 and len(set(test.utt2spk.values())) == 10
    assert train.text["fash-an251-b"] == "YES"
    assert train.text["fash-an253-b"] == "GO"
    assert test.text["fcaw-an406-b"] == "RUBOUT G M E F THREE NINE"
    assert test.utt2spk["fcaw-an406-b"] == "fcaw"
    assert all("<s>" not in t and "(" not in t and t == t.upper() for t in train.text.values())
    assert train.wav_scp["fash-an251-b"] == os.path.abspath(corpus / "wav/an4_clstk/fash/an251-fash-b.wav")
    assert test.wav_scp["fcaw-an406-b"].endswith("wav/an4test_clstk/fcaw/an406-fcaw-b.wav")
    # written to disk, validated, loadable
    for name in sets:
        assert sorted(p.name for p in (tmp_path / name).iterdir()) >= ["spk2utt", "text", "utt2spk", "wav.scp"]
    loaded = DataDir.load(tmp_path / "train_nodev")
    assert loaded.utts == nodev.utts and loaded.text == nodev.text
    first = (tmp_path / "test" / "text").read_text().splitlines()[0]
    assert first == "fcaw-an406-b RUBOUT G M E F THREE NINE"


def test_an4_fixture_sets(tmp_path: Path) -> None:
    corpus = make_an4(tmp_path / "an4")
    sets = prepare_an4(corpus, tmp_path / "data", num_dev=2)
    assert {k: len(v.utt2spk) for k, v in sets.items()} == {"train": 6, "train_dev": 2, "train_nodev": 4, "test": 3}
    assert sets["train_dev"].utts == ["fash-an251-b", "fash-an253-b"]
    assert sets["train_nodev"].utts == ["fash-cen1-b", "fbbh-an76-b", "fbbh-cen2-b", "mgah-an1-b"]
    assert sets["train"].text["fash-cen1-b"] == "H I N I C H"
    assert sets["test"].text == {"fcaw-an406-b": "RUBOUT G M E F THREE NINE", "fcaw-an407-b": "ERASE C Q Q F SEVEN",
                                 "mjgk-cen1-b": "NO"}
    with pytest.raises(SpeechprocError, match="num_dev=6"):
        prepare_an4(corpus, None, num_dev=6)


def test_an4_missing_wav_names_transcript_and_line(tmp_path: Path) -> None:
    corpus = make_an4(tmp_path / "an4")
    (corpus / "wav/an4_clstk/fash/cen1-fash-b.wav").unlink()
    with pytest.raises(SpeechprocError) as e:
        prepare_an4(corpus, tmp_path / "data", num_dev=2)
    msg = str(e.value)
    assert f"{corpus / 'etc' / 'an4_train.transcription'}:3" in msg and "cen1-fash-b" in msg
    assert not (tmp_path / "data").exists()


def test_an4_fileids_mismatch_is_an_error(tmp_path: Path) -> None:
    corpus = make_an4(tmp_path / "an4")
    ids = corpus / "etc" / "an4_test.fileids"
    lines = ids.read_text().splitlines()
    ids.write_text("\n".join([lines[1], lines[0]] + lines[2:]) + "\n")
    with pytest.raises(SpeechprocError, match=r"an4_test\.fileids:1: .*an407-fcaw-b.*an406-fcaw-b"):
        prepare_an4(corpus, None, num_dev=2)


def test_an4_truncated_wav_passes_structure_check_fails_audio_check(tmp_path: Path) -> None:
    corpus = make_an4(tmp_path / "an4", truncated=["fash-an253-b"])
    wav = corpus / "wav/an4_clstk/fash/an253-fash-b.wav"
    assert wav.stat().st_size < (corpus / "wav/an4_clstk/fash/an251-fash-b.wav").stat().st_size
    sets = prepare_an4(corpus, tmp_path / "data", num_dev=2)  # check_audio=False: structure only
    assert "fash-an253-b" in sets["train_dev"].utt2spk
    with pytest.raises(SpeechprocError, match="an253-fash-b"):
        prepare_an4(corpus, tmp_path / "data2", num_dev=2, check_audio=True)
    assert not (tmp_path / "data2").exists()


# ------------------------------------------------------------------------- corpus location

def test_resolve_corpus_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "corpora"
    via_root = make_an4(root / "an4")
    via_env = make_an4(tmp_path / "env_an4")
    explicit = make_an4(tmp_path / "explicit_an4")
    monkeypatch.setenv(ROOT_ENV, str(root))
    assert resolve_corpus_dir("an4") == via_root
    monkeypatch.setenv("AN4", str(via_env))
    assert resolve_corpus_dir("an4") == via_env
    assert resolve_corpus_dir("an4", explicit) == explicit
    assert resolve_corpus_dir("AN4", str(explicit)) == explicit
    assert env_var("cmu_arctic") == "CMU_ARCTIC" and env_var("cmu-arctic") == "CMU_ARCTIC"
    # a wrong setting is reported, not skipped in favour of the next one
    monkeypatch.setenv("AN4", str(tmp_path / "nowhere"))
    with pytest.raises(SpeechprocError, match=r"nowhere \(from \$AN4\) is not a directory"):
        resolve_corpus_dir("an4")


def test_missing_corpus_error_names_variables_layout_and_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOT_ENV, raising=False)
    with pytest.raises(SpeechprocError) as e:
        prepare_an4(None, None)
    msg = str(e.value)
    assert "corpus an4 not found" in msg
    assert "AN4=DIR" in msg and f"{ROOT_ENV}=ROOT" in msg and "--corpus-dir" in msg
    assert "etc/an4_{train,test}.transcription" in msg and "wav/an4_clstk/<spk>/<file-id>.wav" in msg
    assert "mkdir -p DIR && wget -O - http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz" in msg


@pytest.mark.parametrize("name", CORPORA)
def test_incomplete_corpus_error_names_missing_paths(name: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / name
    empty.mkdir()
    monkeypatch.setenv(env_var(name), str(empty))
    with pytest.raises(SpeechprocError) as e:
        resolve_corpus_dir(name)
    msg = str(e.value)
    assert f"{empty} (from ${env_var(name)}) lacks the expected layout; missing:" in msg
    assert DOWNLOAD_URLS[name] in msg and f"mkdir -p {empty}" in msg


@pytest.mark.parametrize("name", CORPORA)
def test_download_never_downloads_and_prints_command(name: str, tmp_path: Path) -> None:
    with pytest.raises(SpeechprocError) as e:
        download(name, tmp_path / "dest")
    msg = str(e.value)
    assert "never downloads" in msg and DOWNLOAD_URLS[name] in msg
    assert f"{env_var(name)}={tmp_path / 'dest'}" in msg
    assert not (tmp_path / "dest").exists()


def test_unknown_corpus() -> None:
    with pytest.raises(SpeechprocError, match="unknown corpus 'timit'; known corpora: an4, yesno"):
        resolve_corpus_dir("timit")


# -------------------------------------------------------------------------------------- yesno

def test_yesno_real(tmp_path: Path) -> None:
    corpus = require_corpus("yesno")
    sets = prepare_yesno(corpus, tmp_path, check_audio=True)  # 60 small files; checks 8 kHz too
    train, test = sets["train"], sets["test"]
    assert (len(train.utt2spk), len(test.utt2spk)) == (30, 30)
    assert train.utts[0] == "S0-0_0_0_0_1_1_1_1" and train.utts[-1] == "S0-0_1_1_1_1_0_1_0"
    assert test.utts[0] == "S0-0_1_1_1_1_1_1_1" and test.utts[-1] == "S0-1_1_1_1_1_1_1_1"
    assert train.text["S0-0_0_0_0_1_1_1_1"] == "NO NO NO NO YES YES YES YES"
    assert set(train.utt2spk.values()) == {"S0"} == set(test.utt2spk.values())
    assert (tmp_path / "test" / "spk2utt").read_text().split()[:2] == ["S0", "S0-0_1_1_1_1_1_1_1"]
    assert text_of("1_0") == "YES NO"
    with pytest.raises(ValueError):
        text_of("1_2_0")


# ----------------------------------------------------------------------------------- ljspeech

def test_ljspeech_real(tmp_path: Path) -> None:
    corpus = require_corpus("ljspeech")
    sets = prepare_ljspeech(corpus, tmp_path)
    assert {k: len(v.utt2spk) for k, v in sets.items()} == {"all": 32, "train": 28, "eval": 4}
    assert sets["eval"].utts == ["LJ001-0029", "LJ001-0030", "LJ001-0031", "LJ001-0032"]
    assert set(sets["all"].utt2spk.values()) == {"LJ"}
    text = sets["all"].text
    assert text["LJ001-0002"] == "in being comparatively modern."
    # the normalised column, not the raw one ("of about 1455,")
    assert text["LJ001-0007"].endswith('"forty-two line Bible" of about fourteen fifty-five,')
    assert text["LJ001-0031"].startswith("In fourteen sixty-five Sweynheim")
    only_all = prepare_ljspeech(corpus / "LJSpeech-1.1", None, num_eval=0)  # the inner folder works too
    assert list(only_all) == ["all"]


def test_ljspeech_missing_clip_names_metadata_line(tmp_path: Path) -> None:
    root = tmp_path / "lj" / "LJSpeech-1.1"
    (root / "wavs").mkdir(parents=True)
    sf.write(root / "wavs" / "LJ001-0001.wav", [0.0] * 2205, 22050, subtype="PCM_16")
    (root / "metadata.csv").write_text("LJ001-0001|Printing, in 1455|Printing, in fourteen fifty-five\n"
                                       "LJ001-0002|in being modern.|in being modern.\n")
    with pytest.raises(SpeechprocError, match=r"metadata\.csv:2: clip LJ001-0002 has no audio"):
        prepare_ljspeech(tmp_path / "lj", None, num_eval=0)


# ------------------------------------------------------------------------------------ vcc2016

def test_vcc2016_pair_sf1_tf1(tmp_path: Path) -> None:
    corpus = require_corpus("vcc2016")
    sets = prepare_vcc2016(corpus, tmp_path, src="SF1", tgt="TF1")
    assert list(sets) == ["SF1_train", "TF1_train", "SF1_eval", "TF1_eval"]
    counts = {k: len(v.utt2spk) for k, v in sets.items()}
    assert counts == {"SF1_train": 66, "TF1_train": 66, "SF1_eval": 19, "TF1_eval": 19}
    assert _stripped(sets["SF1_train"]) == _stripped(sets["TF1_train"])
    assert _stripped(sets["SF1_eval"]) == _stripped(sets["TF1_eval"])
    assert sets["SF1_train"].utts[0] == "SF1_100001" and sets["TF1_eval"].utts[0] == "TF1_200001"
    assert all(d.text is None for d in sets.values())
    assert not (tmp_path / "SF1_train" / "text").exists()
    assert sets["SF1_train"].wav_scp["SF1_100001"].endswith("vcc2016_training/SF1/100001.wav")


def test_vcc2016_other_pair_and_all_speakers(tmp_path: Path) -> None:
    corpus = require_corpus("vcc2016")
    pair = prepare_vcc2016(corpus, None, src="SF1", tgt="TM1")
    assert {k: len(v.utt2spk) for k, v in pair.items()} == {"SF1_train": 30, "TM1_train": 30, "SF1_eval": 5,
                                                            "TM1_eval": 5}
    assert _stripped(pair["SF1_train"]) == [f"1000{i:02d}" for i in range(1, 31)]
    every = prepare_vcc2016(corpus, None, src=None, tgt=None)
    assert {k: len(v.utt2spk) for k, v in every.items()} == {
        "SF1_train": 74, "SF1_eval": 23, "SM1_train": 30, "SM1_eval": 5,
        "TF1_train": 70, "TF1_eval": 19, "TM1_train": 30, "TM1_eval": 5}
    with pytest.raises(SpeechprocError, match="speaker.*XX1 not found.*available: SF1, SM1, TF1, TM1"):
        prepare_vcc2016(corpus, None, src="SF1", tgt="XX1")
    with pytest.raises(SpeechprocError, match="give both src and tgt"):
        prepare_vcc2016(corpus, None, src="SF1", tgt=None)


# --------------------------------------------------------------------------------- cmu_arctic

def test_cmu_arctic_real(tmp_path: Path) -> None:
    corpus = require_corpus("cmu_arctic")
    sets = prepare_cmu_arctic(corpus, tmp_path)
    assert {k: len(v.utt2spk) for k, v in sets.items()} == {
        "clb_all": 29, "clb_train": 24, "clb_eval": 5, "slt_all": 29, "slt_train": 24, "slt_eval": 5}
    assert _stripped(sets["clb_all"]) == _stripped(sets["slt_all"])
    assert "arctic_a0021" not in _stripped(sets["slt_all"])
    assert sets["slt_eval"].utts == [f"slt_arctic_a00{i}" for i in range(26, 31)]
    assert sets["slt_all"].text["slt_arctic_a0001"] == "Author of the danger trail, Philip Steels, etc."
    assert sets["clb_all"].text["clb_arctic_a0028"] == "Robbery, bribery, fraud,"
    assert sets["clb_all"].utt2spk["clb_arctic_a0030"] == "clb"
    pair = prepare_cmu_arctic(corpus, None, speakers=["slt"], num_eval=0)
    assert list(pair) == ["slt_all"]


def test_cmu_arctic_festival_format_and_missing_wav(tmp_path: Path) -> None:
    assert parse_festival_line('( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )') == (
        "arctic_a0001", "Author of the danger trail, Philip Steels, etc.")
    assert parse_festival_line('( arctic_b0001 "He said \\"no\\"." )') == ("arctic_b0001", 'He said "no".')
    with pytest.raises(ValueError):
        parse_festival_line("arctic_a0001 Author")
    spk = tmp_path / "arctic" / "cmu_us_bdl_arctic"
    (spk / "wav").mkdir(parents=True)
    (spk / "etc").mkdir()
    sf.write(spk / "wav" / "arctic_a0001.wav", [0.0] * 1600, 16000, subtype="PCM_16")
    (spk / "etc" / "txt.done.data").write_text('( arctic_a0001 "One." )\n( arctic_a0002 "Two." )\n')
    with pytest.raises(SpeechprocError, match=r"txt\.done\.data:2: prompt arctic_a0002 has no audio"):
        prepare_cmu_arctic(tmp_path / "arctic", None)


# -------------------------------------------------------------------------------- librispeech

def test_librispeech_fixture(tmp_path: Path) -> None:
    corpus = make_librispeech(tmp_path / "corpus")
    sets = prepare_librispeech(corpus, tmp_path / "data")
    assert list(sets) == ["dev_clean", "test_clean"]
    dev = sets["dev_clean"]
    assert dev.utts == ["1272-128104-0000", "1272-128104-0001", "174-50561-0000"]
    assert dev.utt2spk["174-50561-0000"] == "174"
    assert dev.text["1272-128104-0001"] == "NOR IS MISTER QUILTER'S MANNER LESS INTERESTING"
    assert sets["test_clean"].spk2utt == {"1089": ["1089-134686-0000", "1089-134686-0001"]}
    flac = dev.wav_scp["174-50561-0000"]
    assert flac.endswith("LibriSpeech/dev-clean/174/50561/174-50561-0000.flac")
    assert sf.info(flac).samplerate == 16000
    assert (tmp_path / "data" / "dev_clean" / "text").read_text().splitlines()[0] == (
        "1272-128104-0000 MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES")
    only = prepare_librispeech(corpus / "LibriSpeech", None, parts=["test-clean"], check_audio=True)
    assert list(only) == ["test_clean"]
    with pytest.raises(SpeechprocError, match="part.*dev-other not found.*present: dev-clean, test-clean"):
        prepare_librispeech(corpus, None, parts=["dev-other"])


def test_librispeech_missing_flac_names_transcript_line(tmp_path: Path) -> None:
    corpus = make_librispeech(tmp_path / "corpus")
    chapter = corpus / "LibriSpeech" / "dev-clean" / "1272" / "128104"
    (chapter / "1272-128104-0001.flac").unlink()
    with pytest.raises(SpeechprocError, match=r"1272-128104\.trans\.txt:2: utterance 1272-128104-0001 has no audio"):
        prepare_librispeech(corpus, None)


# --------------------------------------------------------------------------------------- verb

def test_verb_prepare_data(tmp_path: Path) -> None:
    yesno = require_corpus("yesno")
    assert prepare_data.main(["yesno", "--corpus-dir", str(yesno), str(tmp_path / "yn")]) == 0
    assert len((tmp_path / "yn" / "train" / "wav.scp").read_text().splitlines()) == 30
    assert (tmp_path / "yn" / "test" / "text").read_text().splitlines()[0] == (
        "S0-0_1_1_1_1_1_1_1 NO YES YES YES YES YES YES YES")
    vcc = require_corpus("vcc2016")
    prepare_data.main(["vcc2016", "--corpus-dir", str(vcc), "--src", "SF1", "--tgt", "TF1", str(tmp_path / "vc")])
    assert sorted(p.name for p in (tmp_path / "vc").iterdir()) == ["SF1_eval", "SF1_train", "TF1_eval", "TF1_train"]
    with pytest.raises(SpeechprocError, match="--src/--tgt apply to vcc2016 and cmu_arctic, not yesno"):
        prepare_data.main(["yesno", "--src", "A", "--tgt", "B", str(tmp_path / "x")])
    with pytest.raises(SpeechprocError, match="--num-eval applies to ljspeech and cmu_arctic, not an4"):
        prepare_data.main(["an4", "--num-eval", "3", str(tmp_path / "x")])


def test_verb_prepare_data_adds_utt2dur_to_the_named_sets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    yesno = require_corpus("yesno")
    monkeypatch.chdir(tmp_path)  # the jobs' splits and logs go to exp/utt2dur
    assert prepare_data.main(["yesno", "--corpus-dir", str(yesno), "yn", "--utt2dur", "test", "--nj", "2"]) == 0
    durs = dict(line.split() for line in Path("yn/test/utt2dur").read_text().splitlines())
    assert len(durs) == 30 and all(4.0 < float(d) < 8.0 for d in durs.values())
    assert not Path("yn/train/utt2dur").exists() and len(list(Path("exp/utt2dur").rglob("utt2dur.*.log"))) == 2
    with pytest.raises(SpeechprocError, match="--utt2dur: no set dev under yn2 \\(the yesno sets written: train test\\)"):
        prepare_data.main(["yesno", "--corpus-dir", str(yesno), "yn2", "--utt2dur", "dev"])


def test_verb_reports_missing_corpus(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (ROOT_ENV, "AN4")}
    proc = subprocess.run([sys.executable, "-m", "speechproc.bin.prepare_data", "an4", str(tmp_path / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("prepare_data: error: corpus an4 not found")
    assert "an4_sphere.tar.gz" in proc.stderr and "Traceback" not in proc.stderr
