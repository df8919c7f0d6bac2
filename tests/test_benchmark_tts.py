"""benchmark_tts: a TTS recipe's evaluation stage as one verb driven by a benchmark config."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechproc.bin.benchmark_tts import load_benchmark, main
from speechproc.utils import SpeechprocError

REPO = Path(__file__).resolve().parent.parent
CONFIG = """\
voc: griffin_lim
iters: 4
names: a b
tables:
  - table: exp/result_copy.md
    section: copy
    title: !ref Copy synthesis with <voc>
    ref: data/ref
    ref_name: natural clips
    systems:
      - name: !ref <voc> (<iters> iterations)
        dir: !ref exp/copy_<iters>
        synthesize: !ref --copy-synthesis --data data/ref --vocoder <voc> --griffin-lim-iters <iters> --plots 0
      - foreach: !ref <names>
        name: "made elsewhere: {item}"
        dir: exp/made_{item}
"""


def _clip(path: Path, f0: float) -> None:
    t = np.arange(int(0.5 * 22050)) / 22050
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32), 22050)


@pytest.fixture()
def recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recipe dir with two natural clips, two synthesis dirs made 'by an earlier stage', a README with markers."""
    from speechproc.data import DataDir

    monkeypatch.chdir(tmp_path)
    for d, sub in (("data/ref", ""), ("exp/made_a", ""), ("exp/made_b", "")):
        (tmp_path / d).mkdir(parents=True)
        wav = {}
        for k, f0 in enumerate((150.0, 210.0)):
            _clip(tmp_path / d / f"c-{k}.wav", f0)
            wav[f"c-{k}"] = str(tmp_path / d / f"c-{k}.wav")
        DataDir(wav_scp=wav, utt2spk={u: "c" for u in wav}, text={u: "a tone" for u in wav}).write_files(tmp_path / d)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "bench.yaml").write_text(CONFIG)
    (tmp_path / "README.md").write_text("# r\n\n<!-- results:copy -->\nold\n<!-- /results:copy -->\n")
    return tmp_path


def test_the_config_expands_foreach_and_takes_text_overrides(recipe: Path) -> None:
    tables = load_benchmark("conf/bench.yaml", {"iters": "08", "names": "x y z"})
    systems = tables[0]["systems"]
    assert [s["name"] for s in systems] == ["griffin_lim (08 iterations)", "made elsewhere: x",
                                            "made elsewhere: y", "made elsewhere: z"]
    assert systems[0]["dir"] == "exp/copy_08" and systems[0]["synthesize"].endswith("--griffin-lim-iters 08 --plots 0")
    assert [s["dir"] for s in systems[1:]] == ["exp/made_x", "exp/made_y", "exp/made_z"]
    assert all(s["synthesize"] is None for s in systems[1:])
    assert tables[0]["title"] == "Copy synthesis with griffin_lim"


def test_synthesizes_once_evaluates_and_writes_the_readme(recipe: Path) -> None:
    argv = ["conf/bench.yaml", "--readme", "README.md", "--judge-backend", "none", "--eval-opts=--no-mos --no-f0"]
    assert main(argv) == 0
    table = (recipe / "exp" / "result_copy.md").read_text()
    rows = [ln.split("|")[1].strip() for ln in table.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert rows == ["system", "griffin_lim (4 iterations)", "made elsewhere: a", "made elsewhere: b", "natural clips"]
    assert "**Copy synthesis with griffin_lim**" in table
    readme = (recipe / "README.md").read_text()
    assert "old" not in readme and "| griffin_lim (4 iterations) | 2 |" in readme
    assert "command (in the recipe dir): `python -m speechproc.bin.benchmark_tts conf/bench.yaml --readme" in readme
    made = recipe / "exp" / "copy_4" / "wav.scp"
    assert sorted(made.read_text().split()[::2]) == ["c-0", "c-1"]

    # the same command again: the synthesis is current and is not redone
    stamp = made.stat().st_mtime_ns
    assert main(argv) == 0
    assert made.stat().st_mtime_ns == stamp
    # overrides that spell the same command: still current
    assert main([*argv, "--iters", "4", "--voc", "griffin_lim", "--names", "a"]) == 0
    assert made.stat().st_mtime_ns == stamp
    # the same command on data changed since: synthesized again
    later = stamp / 1e9 + 5
    os.utime(recipe / "data" / "ref" / "text", (later, later))
    assert main(argv) == 0 and made.stat().st_mtime_ns != stamp
    # another command (a setting of the config): synthesized again
    stamp = made.stat().st_mtime_ns
    (recipe / "conf" / "bench.yaml").write_text(CONFIG.replace("--plots 0", "--plots 1"))
    assert main(argv) == 0
    assert made.stat().st_mtime_ns != stamp


def test_bad_configs_name_the_file_and_the_key(recipe: Path) -> None:
    bad = recipe / "conf" / "bad.yaml"
    bad.write_text("tables:\n  - ref: data/ref\n    table: exp/t.md\n    system: []\n")
    with pytest.raises(SpeechprocError, match=r"bad.yaml: tables\[0\]: unknown keys \['system'\]"):
        load_benchmark(str(bad), {})
    bad.write_text("tables:\n  - ref: data/ref\n    systems: [{name: x, dir: d}]\n")
    with pytest.raises(SpeechprocError, match=r"bad.yaml: tables\[0\]: missing 'table'"):
        load_benchmark(str(bad), {})
    with pytest.raises(SpeechprocError, match="must name top-level keys"):
        load_benchmark("conf/bench.yaml", {"voice": "x"})
    with pytest.raises(SpeechprocError, match="not found"):
        load_benchmark("conf/none.yaml", {})
    with pytest.raises(SpeechprocError, match="exp/made_c: synthesis dir of 'made elsewhere: c' not found"):
        main(["conf/bench.yaml", "--judge-backend", "none", "--eval-opts=--no-mos --no-f0", "--names", "c"])


def test_every_teacher_benchmark_config_loads() -> None:
    confs = sorted((REPO / "egs" / "ljspeech_teacher" / "tts" / "conf" / "benchmark").glob("*.yaml"))
    assert len(confs) >= 8
    for conf in confs:
        for table in load_benchmark(str(conf), {}):
            assert table["systems"] and str(table["table"]).startswith("exp/result_")
            for s in table["systems"]:
                assert "<" not in s["dir"] and "{item}" not in s["dir"] and "," not in s["name"]


def test_trainer_overrides_from_a_file(tmp_path: Path) -> None:
    from speechproc.train import parse_train_args

    f = tmp_path / "m.yaml"
    f.write_text("lora:\n  lr: 0.001\n  strategy: {name: lora}\nfull:\n  lr: 0.0001\n")
    _, ov = parse_train_args(["c.yaml", "--overrides", f"{f}:lora", "--lr", "0.5"])
    assert ov == {"lr": 0.5, "strategy": {"name": "lora"}}
    with pytest.raises(SpeechprocError, match=r"has no entry 'adapters'; it has \['full', 'lora'\]"):
        parse_train_args(["c.yaml", "--overrides", f"{f}:adapters"])
    methods = REPO / "egs" / "ljspeech_teacher" / "tts" / "conf" / "adapt_methods.yaml"
    for m in ("decoder", "full", "lora", "adapters"):
        _, ov = parse_train_args(["c.yaml", "--overrides", f"{methods}:{m}"])
        assert ov["lr_scheduler"] is None and ov["strategy"]["name"] and ov["lr"] > 0


def test_a_combined_reference_is_made_once_and_remade_when_a_part_changes(recipe: Path) -> None:
    from speechproc.data import DataDir

    (recipe / "data" / "other").mkdir()
    _clip(recipe / "data" / "other" / "d-0.wav", 180.0)
    DataDir(wav_scp={"d-0": str(recipe / "data" / "other" / "d-0.wav")}, utt2spk={"d-0": "d"},
            text={"d-0": "a tone"}).write_files(recipe / "data" / "other")
    conf = recipe / "conf" / "both.yaml"
    conf.write_text("tables:\n  - table: exp/result_both.md\n    ref: data/both\n    combine: [data/ref, data/other]\n"
                    "    systems:\n      - name: copy\n        dir: exp/copy_both\n"
                    "        synthesize: --copy-synthesis --data data/both --vocoder griffin_lim --griffin-lim-iters 2"
                    " --plots 0\n")
    argv = [str(conf), "--judge-backend", "none", "--eval-opts=--no-mos --no-f0"]
    assert main(argv) == 0
    both = recipe / "data" / "both" / "wav.scp"
    assert sorted(both.read_text().split()[::2]) == ["c-0", "c-1", "d-0"]
    stamps = both.stat().st_mtime_ns, (recipe / "exp" / "copy_both" / "wav.scp").stat().st_mtime_ns
    assert main(argv) == 0  # nothing changed: neither the reference nor the synthesis is made again
    assert (both.stat().st_mtime_ns, (recipe / "exp" / "copy_both" / "wav.scp").stat().st_mtime_ns) == stamps
    later = stamps[0] / 1e9 + 5
    os.utime(recipe / "data" / "other" / "text", (later, later))
    assert main(argv) == 0 and both.stat().st_mtime_ns != stamps[0]
