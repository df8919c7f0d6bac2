"""Every numbered stage script of every recipe: a title line, a verb that exists, and no variable that is
neither a recipe option nor set by the script itself (a typo there fails only when the stage runs)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(REPO.glob("egs/*/*/[0-9][0-9]_*.sh"))
COMMON = {"stage", "stop_stage", "nj", "cmd", "cmd_conf", "nproc", "force", "profile", "profile_suffix"}
VERBS = {p.stem for p in (REPO / "speechproc" / "bin").glob("*.py") if not p.stem.startswith("_")}
#: Data-dir utilities that a data-preparation stage may chain, as ESPnet's stage 1 runs local/data.sh: a corpus is
#: prepared, then split, subset, combined or measured. Every other stage calls one verb (maybe once per set or
#: system, in a loop).
DATA_VERBS = {"prepare_data", "compute_utt2dur", "holdout_per_speaker", "subset_data_dir", "combine_data_dir",
              "fix_data_dir"}
#: Stage scripts that still chain several verbs; each is to become one verb (with a config, as the TTS evaluation
#: stages did with benchmark_tts). The list may only shrink.
CHAINED = {
    "an4/asr_continual/03_pseudo.sh",
    "an4/asr_continual/07_deploy.sh", "an4/asr_whisper/05_score.sh", "an4/asr_whisper/06_lm.sh",
    "an4/asr_whisper/07_nbest.sh", "an4/asr_whisper/08_short_commands.sh", "an4/asr_whisper/09_finetune_words.sh",
    "an4/asr_whisper/10_short_commands_eval.sh", "ljspeech_teacher/tts/08_adapt_data.sh",
    "ljspeech_teacher/tts/21_recsynth_pretrain.sh", "ljspeech_teacher/tts/22_recsynth_layers.sh",
    "ljspeech_teacher/tts/23_train_vocoder_multi.sh",
}


def _options(run_sh: Path) -> set:
    return {m.group(1) for m in re.finditer(r"^([a-z_][a-z0-9_]*)=", run_sh.read_text(), re.M)}


def _set_in(text: str) -> set:
    found = set(re.findall(r"(?:^|[\s;(])(?:local\s+|export\s+|readonly\s+)?([a-z_][a-z0-9_]*)(?:\[[^]]*\])?\+?=", text, re.M))
    found |= set(re.findall(r"\bfor\s+([a-z_][a-z0-9_]*)\s+in\b", text))
    found |= set(re.findall(r"\bread\s+(?:-r\s+)?([a-z_][a-z0-9_ ]*)", text))
    return {w for group in found for w in group.split()}


def _template_of(recipe: Path):
    """``egs/TEMPLATE/<name>`` of a run.sh that calls ``recipe_template <name>``, else None."""
    m = re.search(r"^recipe_template\s+(\S+)", (recipe / "run.sh").read_text(), re.M)
    return REPO / "egs" / "TEMPLATE" / m.group(1) if m else None


def _recipes_of(script: Path) -> list:
    """The recipe dirs a stage script runs in: its own, or for a template's script every recipe using it."""
    if script.parent.parent.name != "TEMPLATE":
        return [script.parent]
    return [run.parent for run in sorted(REPO.glob("egs/*/*/run.sh")) if _template_of(run.parent) == script.parent]


def test_every_template_serves_a_recipe_and_no_recipe_links_its_stage_scripts() -> None:
    for template in sorted(p for p in (REPO / "egs" / "TEMPLATE").iterdir() if p.is_dir()):
        assert len(_recipes_of(template / "options.sh")) >= 2, f"{template}: shared by fewer than two recipes"
    import subprocess

    staged = subprocess.run(["git", "ls-files", "--stage", "egs"], cwd=REPO, capture_output=True, text=True)
    if staged.returncode != 0:
        pytest.skip("not a git checkout")
    links = [line.split("\t")[1] for line in staged.stdout.splitlines() if line.startswith("120000")]
    assert links == []  # shared stage scripts and configs live in egs/TEMPLATE or are the recipe's own files


def test_there_are_stage_scripts() -> None:
    assert len(SCRIPTS) > 40


def problems(script: Path) -> list:
    """What is wrong with one stage script (empty: nothing)."""
    text = script.read_text()
    lines = text.splitlines()
    out = []
    if not lines or lines[0] != "#!/usr/bin/env bash":
        out.append("first line: the shebang #!/usr/bin/env bash")
    if len(lines) < 2 or not lines[1].startswith("# ") or len(lines[1]) <= 5:
        out.append("second line: '# <what this stage does>' (its log title)")
    verbs = set(re.findall(r"speechproc\.bin\.([a-z_0-9]+)", text))
    unknown = verbs - VERBS
    if unknown:
        out.append(f"verbs that do not exist: {sorted(unknown)}")
    name = "/".join(script.parts[-3:])
    if len(verbs) > 1 and not verbs <= DATA_VERBS and name not in CHAINED:
        out.append(f"{len(verbs)} verbs {sorted(verbs)}: a stage calls one verb; move the chain into a verb or a "
                   f"config (see benchmark_tts), or split the stage")
    allowed = COMMON | _set_in(text)
    for recipe in _recipes_of(script):
        allowed |= _options(recipe / "run.sh")
        if (recipe / "db.sh").is_file():
            allowed |= _set_in((recipe / "db.sh").read_text())
        template = _template_of(recipe)
        if template is not None and (template / "options.sh").is_file():
            allowed |= _options(template / "options.sh")
    code = "\n".join(ln.split(" #")[0] for ln in lines if not ln.lstrip().startswith("#"))
    undefined = set(re.findall(r"\$\{?([a-z_][a-z0-9_]*)", code)) - allowed
    if undefined:
        out.append(f"variables that are neither recipe options nor set in the script: {sorted(undefined)}")
    return out


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO / "egs")))
def test_stage_script(script: Path) -> None:
    assert problems(script) == []


def test_the_chained_stage_list_only_names_scripts_that_still_chain() -> None:
    chained = set()
    for script in SCRIPTS:
        verbs = set(re.findall(r"speechproc\.bin\.([a-z_0-9]+)", script.read_text()))
        if len(verbs) > 1 and not verbs <= DATA_VERBS:
            chained.add("/".join(script.parts[-3:]))
    assert chained == CHAINED  # a script that now calls one verb leaves the list


def test_the_check_finds_a_typo_and_a_missing_verb(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("train_set=train  # data\n")
    bad = tmp_path / "02_train.sh"
    bad.write_text("#!/usr/bin/env bash\n# train\nout=exp/x\n"
                   "python -m speechproc.bin.trian --data data/$train_sett --out $out\n")
    found = problems(bad)
    assert any("trian" in p for p in found) and any("['train_sett']" in p for p in found)
    bad.write_text("#!/usr/bin/env bash\n# train\npython -m speechproc.bin.train --data data/$train_set\n")
    assert problems(bad) == []
    bad.write_text("#!/usr/bin/env bash\n# train\npython -m speechproc.bin.train --data data/$train_set\n"
                   "python -m speechproc.bin.synthesize x\n")
    assert any("2 verbs ['synthesize', 'train']" in p for p in problems(bad))
    bad.write_text("#!/usr/bin/env bash\n# data\npython -m speechproc.bin.prepare_data an4 data\n"
                   "python -m speechproc.bin.subset_data_dir --first 4 data/train data/train_q\n")
    assert problems(bad) == []
