"""Loading an exp dir never runs code from it: tag payloads in the stored yaml, pickle payloads in model.pt."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dummies_asr import prepare_tone_experiment, train_argv
from speechproc.exp import check_config_tags, load_trained_modules
from speechproc.utils import SpeechprocError


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from speechproc.train import train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("exp")
    exp = prepare_tone_experiment(root, n=8)
    train(train_argv(exp, root / "asr", "--number_of_epochs", "1"))
    return root / "asr"


class _Payload:
    """Unpickling this creates ``path`` (what a tampered file could carry)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def _copy(trained: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copied"
    shutil.copytree(trained, out)
    return out


PAYLOADS = [
    "pwn: !apply:os.system [touch {marker}]",
    "pwn: !new:subprocess.Popen [[touch, {marker}]]",
    "pwn: !name:os.system",
    "pwn: !apply:pathlib.Path.touch [!new:pathlib.Path [{marker}]]",
    "pwn: !new:speechproc.models.asr.ctc_greedy_helper_that_is_a_function",
    "pwn: !apply:getattr [!ref <seed>, __class__]",
    "pwn: !include:{marker}.yaml",
    "pwn: !module:os",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_tag_payload_in_the_stored_config_is_refused_and_never_runs(trained: Path, tmp_path: Path,
                                                                      payload: str) -> None:
    exp = _copy(trained, tmp_path)
    marker = tmp_path / "ran"
    conf = exp / "train.yaml"
    lines = conf.read_text().splitlines()
    conf.write_text("\n".join(lines + [payload.format(marker=marker)]) + "\n")
    with pytest.raises(SpeechprocError, match=rf"train.yaml:{len(lines) + 1}: tag '!") as err:
        load_trained_modules(exp)
    assert "never runs code" in str(err.value)
    from speechproc.decode.asr import Speech2Text

    with pytest.raises(SpeechprocError, match="train.yaml"):
        Speech2Text.from_pretrained(exp)
    assert not marker.exists()


def test_a_tag_payload_in_the_overrides_is_refused(trained: Path, tmp_path: Path) -> None:
    exp = _copy(trained, tmp_path)
    marker = tmp_path / "ran"
    with (exp / "overrides.yaml").open("a") as f:
        f.write(f"pwn: !apply:os.system [touch {marker}]\n")
    with pytest.raises(SpeechprocError, match="overrides.yaml:.*'!apply:os.system'"):
        load_trained_modules(exp)
    assert not marker.exists()


def test_a_pickle_payload_in_model_pt_is_refused_and_never_runs(trained: Path, tmp_path: Path) -> None:
    exp = _copy(trained, tmp_path)
    marker = tmp_path / "ran"
    state = torch.load(exp / "model.pt", weights_only=True)
    state["extra"] = _Payload(marker)
    with (exp / "model.pt").open("wb") as f:
        pickle.dump(state, f)
    with pytest.raises(SpeechprocError, match="model.pt"):
        load_trained_modules(exp)
    assert not marker.exists()


def test_a_clean_copy_loads_with_the_trained_weights(trained: Path, tmp_path: Path) -> None:
    exp = _copy(trained, tmp_path)
    _, modules = load_trained_modules(exp)
    state = torch.load(trained / "model.pt", weights_only=True)["modules"]["model"]
    for k, v in modules["model"].state_dict().items():
        assert torch.equal(v, state[k]), k
    from speechproc.decode.asr import Speech2Text

    s2t = Speech2Text.from_pretrained(exp, mode="greedy_ctc")
    assert isinstance(s2t(np.zeros(16000, dtype=np.float32) + 0.01), str)


def test_weights_that_do_not_fit_the_config_name_the_file_module_and_tensor(trained: Path, tmp_path: Path) -> None:
    exp = _copy(trained, tmp_path)
    blob = torch.load(exp / "model.pt", weights_only=True)
    w = blob["modules"]["model"]["ctc_lin.weight"]
    blob["modules"]["model"]["ctc_lin.weight"] = torch.zeros(w.shape[0] + 3, w.shape[1])
    torch.save(blob, exp / "model.pt")
    with pytest.raises(SpeechprocError) as e:
        load_trained_modules(exp)
    msg = str(e.value)
    assert str(exp / "model.pt") in msg and "module 'model'" in msg and "ctc_lin.weight" in msg
    assert "copy the exp dir whole, or train it again" in msg


def test_every_stored_config_the_recipes_write_passes_the_check() -> None:
    """The allow-lists cover every tag the project's own conf/ files use."""
    repo = Path(__file__).resolve().parent.parent
    confs = sorted(repo.glob("egs/*/*/conf/*.yaml"))
    assert len(confs) > 20
    for conf in confs:
        check_config_tags(conf.read_text(encoding="utf-8"), str(conf))


def test_check_names_the_line_and_rejects_broken_yaml() -> None:
    with pytest.raises(SpeechprocError, match=r"x.yaml:3: tag '!apply:eval'"):
        check_config_tags("a: 1\nb: !ref <a>\nc: !apply:eval ['1']\n", "x.yaml")
    with pytest.raises(SpeechprocError, match="x.yaml: not valid YAML"):
        check_config_tags("a: [1\n", "x.yaml")
    check_config_tags("m: !new:torch.nn.Linear [2, 3]\nn: !apply:getattr [!ref <m>, weight]\n", "x.yaml")


def test_a_packed_model_loads_without_the_recipe_and_transcribes_the_same(trained: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import os
    import zipfile

    from speechproc.bin.pack import main as pack_main
    from speechproc.decode.asr import Speech2Text

    root = trained.parent
    data = root / "corpus" / "data"
    waves = [line.split()[1] for line in (data / "wav.scp").read_text().splitlines()[:3]]
    audio = [__import__("soundfile").read(w, dtype="float32")[0] for w in waves]
    before = [Speech2Text.from_pretrained(trained, mode="greedy_ctc")(a, 16000) for a in audio]
    assert pack_main([str(trained), str(tmp_path / "m.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "m.zip") as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        card = z.read("README.md").decode()
    assert {"model.pt", "train.yaml", "overrides.yaml", "manifest.json", "README.md"} <= names
    assert "files/cmvn_stats/cmvn.npz" in names and "files/token_dir/tokens.txt" in names
    assert not any(n.endswith(".wav") or "checkpoints" in n for n in names)
    assert manifest["format"] == 1 and manifest["task"] == "asr" and "epochs: 1" in card
    # the recipe's token list, statistics and data are gone; loading happens from another directory
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("token", "cmvn.npz", "corpus", "asr"):
        os.rename(root / name, moved / name)
    try:
        monkeypatch.setenv("SPEECHPROC_CACHE", str(tmp_path / "cache"))
        monkeypatch.chdir(tmp_path)
        after = [Speech2Text.from_pretrained(tmp_path / "m.zip", mode="greedy_ctc")(a, 16000) for a in audio]
        assert after == before
        # a second load reuses the extraction
        assert len(list((tmp_path / "cache" / "packs").iterdir())) == 1
        load_trained_modules(tmp_path / "m.zip")
        assert len(list((tmp_path / "cache" / "packs").iterdir())) == 1
    finally:
        for name in ("token", "cmvn.npz", "corpus", "asr"):
            os.rename(moved / name, root / name)


def test_bad_packs_get_clear_errors(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import zipfile

    from speechproc.exp import pack

    monkeypatch.setenv("SPEECHPROC_CACHE", str(tmp_path / "cache"))
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(SpeechprocError, match="junk.zip: not a readable zip"):
        load_trained_modules(tmp_path / "junk.zip")
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as z:
        z.writestr("model.pt", b"")
    with pytest.raises(SpeechprocError, match="plain.zip: no manifest.json, so it is not a speechproc pack"):
        load_trained_modules(tmp_path / "plain.zip")
    good = pack(trained, tmp_path / "good.zip")
    with zipfile.ZipFile(good) as z:
        items = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(items["manifest.json"])
    for name, change in (("newer.zip", {"manifest.json": json.dumps(dict(manifest, format=99)).encode()}),
                         ("edited.zip", {"train.yaml": items["train.yaml"] + b"pwn: !apply:os.system [true]\n"})):
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for n, data in items.items():
                z.writestr(n, change.get(n, data))
    with pytest.raises(SpeechprocError, match="pack format 99 is newer than this speechproc reads"):
        load_trained_modules(tmp_path / "newer.zip")
    with pytest.raises(SpeechprocError, match="'train.yaml' does not match its checksum"):
        load_trained_modules(tmp_path / "edited.zip")
    with pytest.raises(SpeechprocError, match="not a finished training run"):
        pack(tmp_path, tmp_path / "x.zip")


def test_exp_settings_merge_the_overrides_and_resolve_their_paths(tmp_path):
    import json as _json

    from speechproc.exp import exp_settings

    run_dir = tmp_path / "recipe"
    (run_dir / "dump" / "train_content").mkdir(parents=True)
    exp = run_dir / "exp" / "m"
    exp.mkdir(parents=True)
    (exp / "train.yaml").write_text("task: recsynth\ntrain_data: !PLACEHOLDER\nmodel: !new:torch.nn.Linear [2, 2]\n"
                                    "lr: 0.1\n")
    (exp / "overrides.yaml").write_text("train_data: dump/train_content\nlr: 0.5\n")
    (exp / "env.json").write_text(_json.dumps({"cwd": str(run_dir)}))
    settings = exp_settings(exp)
    assert settings["task"] == "recsynth" and settings["lr"] == 0.5 and settings["model"] is None
    assert settings["train_data"] == str(run_dir / "dump" / "train_content")  # from anywhere, not the cwd
    (exp / "overrides.yaml").write_text("x: !apply:os.system ['echo planted']\n")
    with pytest.raises(SpeechprocError):
        exp_settings(exp)


def test_training_draws_curves_and_attention_maps(trained: Path) -> None:
    from PIL import Image

    from speechproc.plot import train_log_curves

    curves = train_log_curves(trained / "train_log.txt")
    assert [e for e, _ in curves["train loss"]] == [1.0] and "valid loss" in curves and "valid ctc_WER" in curves
    with Image.open(trained / "plots" / "curves.png") as im:
        assert im.size[0] > 300 and im.size[1] > 200
    maps = sorted((trained / "plots" / "epoch001").glob("*_att.png"))
    assert len(maps) == 2  # num_plots validation utterances
    with Image.open(maps[0]) as im:
        assert im.size[0] > 200 and len(set(im.convert("L").getdata())) > 20  # a drawn figure, not a blank


def test_figures_are_drawn_every_plot_every_epochs_and_at_the_last(tmp_path: Path) -> None:
    from speechproc.train import train

    exp = prepare_tone_experiment(tmp_path, n=4)
    conf = tmp_path / "plots.yaml"
    conf.write_text(Path(exp["config"]).read_text() + "\nplot_every: 2\n")  # a setting of the config
    exp["config"] = str(conf)
    train(train_argv(exp, tmp_path / "asr", "--number_of_epochs", "3"))
    assert sorted(p.name for p in (tmp_path / "asr" / "plots").iterdir()) == ["curves.png", "epoch002", "epoch003"]
    train(train_argv(exp, tmp_path / "none", "--number_of_epochs", "2", "--plot_every", "0"))
    assert not (tmp_path / "none" / "plots").exists()


def test_train_log_curves_read_every_number_and_keep_a_resumed_epochs_last_value(tmp_path: Path) -> None:
    from speechproc.plot import train_log_curves

    log = tmp_path / "train_log.txt"
    log.write_text("epoch: 1, lr: 1.00e-03, steps: 10 - train loss: 2.5 - valid loss: 2.0, valid acc: 0.25\n"
                   "epoch: 2, lr: 9.0e-04, steps: 20 - train loss: 1.5 - valid loss: 1.9, valid acc: 0.5\n"
                   "epoch: 2, lr: 9.0e-04, steps: 20 - train loss: 1.4 - valid loss: 1.8, valid acc: 0.5\n"
                   "epoch loaded: 2 - test loss: 1.7\n")
    c = train_log_curves(log)
    assert c["train loss"] == [(1.0, 2.5), (2.0, 1.4)] and c["valid acc"] == [(1.0, 0.25), (2.0, 0.5)]
    assert c["lr"] == [(1.0, 1e-3), (2.0, 9e-4)] and "test loss" not in c


def test_interpolate_model_mixes_the_weights_and_keeps_the_config(tmp_path) -> None:
    import torch

    from speechproc.bin.interpolate_model import main as interpolate
    from speechproc.utils import SpeechprocError

    def exp(name, w, extra=None):
        d = tmp_path / name
        d.mkdir()
        state = {"w": torch.full((2, 3), w), "bn.num_batches_tracked": torch.tensor(int(w))}
        if extra:
            state[extra] = torch.zeros(1)
        torch.save({"modules": {"model": state}, "averaged": [name]}, d / "model.pt")
        (d / "hparams.yaml").write_text(f"name: {name}\n")
        return d

    base, tuned = exp("base", 1.0), exp("tuned", 3.0)
    assert interpolate(["--base", str(base), "--weight", "0.25", str(tuned), str(tmp_path / "mix")]) == 0
    mixed = torch.load(tmp_path / "mix" / "model.pt", weights_only=True)
    assert torch.allclose(mixed["modules"]["model"]["w"], torch.full((2, 3), 1.5))
    assert int(mixed["modules"]["model"]["bn.num_batches_tracked"]) == 3          # counters: the fine-tuned ones
    assert mixed["interpolated"]["weight"] == 0.25
    assert (tmp_path / "mix" / "hparams.yaml").read_text() == "name: tuned\n"
    lora = exp("lora", 3.0, extra="w.lora_A")
    with pytest.raises(SpeechprocError, match="other tensors than the base model"):
        interpolate(["--base", str(base), "--weight", "0.5", str(lora), str(tmp_path / "bad")])
    with pytest.raises(SpeechprocError, match=r"--weight must be in \[0, 1\]"):
        interpolate(["--base", str(base), "--weight", "1.5", str(tuned), str(tmp_path / "bad")])
