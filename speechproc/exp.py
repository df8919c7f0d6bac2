"""The experiment dir: how anything reads a finished training run (``exp/<model>/``).

A finished run of :mod:`speechproc.bin.train` holds ``train.yaml`` (the recipe's yaml text),
``overrides.yaml`` (its command-line overrides), ``env.json`` (commit, versions, the directory training
ran in) and ``model.pt`` (averaged weights). :func:`load_trained_modules` rebuilds its modules; every
loader of the project (ASR, LM, TTS, vocoder, seq2seq VC, speaker model) goes through it.

Loading never runs code from the exp dir:

- ``model.pt`` is read with ``torch.load(weights_only=True)`` (:func:`speechproc.utils.load_weights`);
- the stored yaml is HyperPyYAML, whose tags call Python. Before it is built, every tag is checked
  against :data:`ALLOWED_TAGS`: object tags (``!new:``, ``!name:``) may only name classes
  under :data:`ALLOWED_PREFIXES` (the project's models, SpeechBrain lobes/layers, torch optimisers and
  layers), ``!apply:`` only the functions in :data:`ALLOWED_CALLS` (``getattr`` only of a public
  attribute name). Anything else (``!apply:os.system``, ``!include:``, ``!module:``) is refused with the
  file, line and tag, before any object is created.

The recipe's own ``conf/*.yaml`` files, which the user writes and runs, are loaded by the trainer
without this check.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

from speechproc.utils import PathLike, SpeechprocError, load_weights, load_yaml_plain

if TYPE_CHECKING:
    from speechbrain.utils.checkpoints import Checkpoint, Checkpointer

__all__ = ["ALLOWED_PREFIXES", "ALLOWED_CALLS", "ALLOWED_TAGS", "check_config_tags", "load_exp_hparams",
           "load_trained_modules", "write_model", "write_snapshot", "SNAPSHOT_FILES", "pack", "unpack",
           "resolve_exp_dir"]

#: tags that only refer to other keys or mark values (no code runs)
ALLOWED_TAGS = ("!ref", "!copy", "!tuple", "!PLACEHOLDER")
#: what ``!new:`` / ``!name:`` may construct or name in a stored config
ALLOWED_PREFIXES = (
    "speechproc.models.",
    "speechbrain.lobes.models.",
    "speechbrain.nnet.",
    "speechbrain.augment.",
    "speechbrain.utils.epoch_loop.",
    "speechbrain.utils.dynamic_chunk_training.",  # streaming ASR: chunk-size samplers (dataclasses)
    "torch.nn.",
    "torch.optim.",
)
#: what ``!apply:`` may call in a stored config
ALLOWED_CALLS = (
    "getattr",
    "speechbrain.utils.seed.seed_everything",
    "speechproc.features.cmvn.GlobalCMVN.from_stats",
    "speechproc.text.tokenizer.load_tokenizer",
)


def _tags(node, out: List[Tuple[str, int, object]]) -> None:
    import yaml

    if node.tag.startswith("!"):
        out.append((node.tag, node.start_mark.line + 1, node))
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _tags(child, out)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _tags(key, out)
            _tags(value, out)


def _public_getattr(node) -> bool:
    """``!apply:getattr [obj, name]`` with a plain public attribute name (no ``__globals__`` walks)."""
    import yaml

    if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
        return False
    name = node.value[1]
    return isinstance(name, yaml.ScalarNode) and not name.tag.startswith("!") and not str(name.value).startswith("_")


def check_config_tags(text: str, where: str) -> None:
    """Refuse a stored HyperPyYAML text whose tags could run code outside the allow-lists.

    Raises :class:`SpeechprocError` naming ``where``, the line and the tag.
    """
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise SpeechprocError(f"{where}: not valid YAML ({e}); the exp dir is damaged: retrain or restore it") from None
    found: List[Tuple[str, int, object]] = []
    if root is not None:
        _tags(root, found)
    for tag, line, node in found:
        kind, _, target = tag.partition(":")
        if kind in ALLOWED_TAGS and not target:
            continue
        # a class (CamelCase last component) under an allowed package
        if kind in ("!new", "!name") and target.startswith(ALLOWED_PREFIXES) and target.rsplit(".", 1)[-1][:1].isupper():
            continue
        if kind == "!apply" and target in ALLOWED_CALLS:
            if target != "getattr" or _public_getattr(node):
                continue
        raise SpeechprocError(
            f"{where}:{line}: tag '{tag}' is not allowed in a stored model config (loading an exp dir never "
            f"runs code from it; allowed: !new:/!name: under {', '.join(ALLOWED_PREFIXES)}, !apply: of "
            f"{', '.join(ALLOWED_CALLS)}). If you wrote this config, train with it again from your recipe's conf/")


def _resolve(path: str, base: Optional[Path]) -> str:
    """``path`` relative to the training run's directory ``base`` when it exists there (a token dir,
    CMVN stats); anything else (an existing path, a model name like ``tiny.en``) unchanged."""
    p = Path(path)
    if p.is_absolute() or p.exists() or base is None or not (base / p).exists():
        return path
    return str(base / p)


# ------------------------------------------------------------------------------------------------
# packed models (speechproc pack EXP_DIR OUT.zip)

PACK_FORMAT = 1
#: what a pack keeps of the exp dir itself
PACK_EXP_FILES = ("train.yaml", "env.json", "model.pt", "train_summary.json", "cmd.txt",
                  "target_f0.json")  # + rewritten overrides
#: what a pack keeps of a directory the run points to (a token list, a dump dir's feature settings and
#: statistics): small settings files, never features or audio
PACK_DIR_PATTERNS = ("*.json", "*.npz", "*.model", "tokens.txt")


def pack(exp_dir: PathLike, out_zip: PathLike) -> Path:
    """Write ``out_zip``: what inference needs from the finished run ``exp_dir`` and nothing else.

    The zip holds the model (``model.pt``), the stored config, and copies of the files and dirs its
    overrides point to (token list, CMVN statistics, feature settings of the training dump), with the
    overrides rewritten to those copies; plus ``manifest.json`` (format, files, task, commit) and a
    ``README.md`` card (data, command, commit, final metrics). It loads anywhere:
    ``Speech2Text.from_pretrained("m.zip")``, :func:`load_trained_modules`.
    """
    import hashlib
    import time
    import zipfile

    import yaml

    exp_dir = Path(exp_dir)
    for name in ("train.yaml", "model.pt"):
        if not (exp_dir / name).is_file():
            raise SpeechprocError(f"{exp_dir / name}: not found; {exp_dir} is not a finished training run")
    check_config_tags((exp_dir / "train.yaml").read_text(encoding="utf-8"), str(exp_dir / "train.yaml"))
    env = _read_env(exp_dir)
    base = Path(env["cwd"]) if env.get("cwd") else None
    overrides = _read_overrides(exp_dir)
    members: Dict[str, Path] = {name: exp_dir / name for name in PACK_EXP_FILES if (exp_dir / name).is_file()}
    packed_overrides: Dict[str, object] = {}
    for key, value in overrides.items():
        if key == "output_folder" or not isinstance(value, str):
            packed_overrides[key] = value
            continue
        path = Path(_resolve(value, base))
        if not path.exists():
            packed_overrides[key] = value
            continue
        if path.is_file():
            members[f"files/{key}/{path.name}"] = path
            packed_overrides[key] = f"files/{key}/{path.name}"
        else:
            found = sorted({f for pattern in PACK_DIR_PATTERNS for f in path.glob(pattern) if f.is_file()})
            for f in found:
                members[f"files/{key}/{f.name}"] = f
            packed_overrides[key] = f"files/{key}"
    summary = {}
    if (exp_dir / "train_summary.json").is_file():
        summary = json.loads((exp_dir / "train_summary.json").read_text(encoding="utf-8"))
    config = load_yaml_plain((exp_dir / "train.yaml").read_text(encoding="utf-8"))
    task = config.get("task") if isinstance(config, dict) else None
    manifest = {"format": PACK_FORMAT, "task": task, "commit": env.get("git_commit", "unknown"),
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "source": str(exp_dir.resolve()),
                "files": {}}
    card = [f"# {exp_dir.name} (speechproc pack)", "",
            f"- task: {task}", f"- trained at commit: {manifest['commit']}",
            f"- training data: {overrides.get('train_data', '?')} (validation: {overrides.get('valid_data', '?')})",
            f"- command: `{(exp_dir / 'cmd.txt').read_text(encoding='utf-8').strip().splitlines()[-1]}`"
            if (exp_dir / "cmd.txt").is_file() else "- command: ?",
            f"- epochs: {summary.get('epochs', '?')}, parameters: {summary.get('parameters', '?')}, "
            f"averaged checkpoints: {', '.join(summary.get('averaged', [])) or '?'}", "",
            "Load it with `speechproc.decode.asr.Speech2Text.from_pretrained(\"<this zip>\")` (ASR) or "
            "`speechproc.exp.load_trained_modules(\"<this zip>\")`.", ""]
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_zip.with_name(f".{out_zip.name}.tmp.{os.getpid()}")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        contents = {arc: path.read_bytes() for arc, path in members.items()}
        contents["overrides.yaml"] = yaml.safe_dump(packed_overrides, sort_keys=False).encode()
        for arc, data in sorted(contents.items()):
            manifest["files"][arc] = hashlib.sha256(data).hexdigest()
            z.writestr(arc, data)
        z.writestr("README.md", "\n".join(card))
        z.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out_zip)
    return out_zip


def unpack(zip_path: PathLike, cache_dir: Optional[PathLike] = None) -> Path:
    """Extract a pack (once per content) into ``cache_dir`` (default ``$SPEECHPROC_CACHE`` or
    ``~/.cache/speechproc``) and return the exp dir it holds; every file is checked against the manifest."""
    import hashlib
    import zipfile

    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise SpeechprocError(f"{zip_path}: packed model not found")
    try:
        z = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise SpeechprocError(f"{zip_path}: not a readable zip ({e}); copy the pack again or re-run "
                              f"'speechproc pack EXP_DIR {zip_path.name}'") from None
    with z:
        names = set(z.namelist())
        if "manifest.json" not in names:
            raise SpeechprocError(f"{zip_path}: no manifest.json, so it is not a speechproc pack; make one with "
                                  f"'speechproc pack EXP_DIR {zip_path.name}'")
        try:
            manifest = json.loads(z.read("manifest.json"))
        except ValueError as e:
            raise SpeechprocError(f"{zip_path}: manifest.json is not valid JSON ({e}); re-pack the model") from None
        fmt = manifest.get("format")
        if not isinstance(fmt, int) or fmt > PACK_FORMAT:
            raise SpeechprocError(f"{zip_path}: pack format {fmt!r} is newer than this speechproc reads "
                                  f"({PACK_FORMAT}); update speechproc, or re-pack with this version")
        files = manifest.get("files", {})
        for arc in files:
            if arc.startswith("/") or ".." in Path(arc).parts or arc not in names:
                raise SpeechprocError(f"{zip_path}: manifest entry '{arc}' is missing or not a plain relative path; "
                                      f"re-pack the model")
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
        root = Path(cache_dir or os.environ.get("SPEECHPROC_CACHE") or Path.home() / ".cache" / "speechproc")
        out = root / "packs" / f"{zip_path.stem}-{digest}"
        if (out / ".complete").is_file():
            return out
        tmp = out.with_name(f".{out.name}.tmp.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        for arc, want in files.items():
            data = z.read(arc)
            if hashlib.sha256(data).hexdigest() != want:
                raise SpeechprocError(f"{zip_path}: '{arc}' does not match its checksum in manifest.json (the zip "
                                      f"is damaged or was edited); copy it again or re-pack the model")
            (tmp / arc).parent.mkdir(parents=True, exist_ok=True)
            (tmp / arc).write_bytes(data)
        (tmp / "manifest.json").write_bytes(z.read("manifest.json"))
        (tmp / ".complete").write_text("")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    return out


def _read_env(exp_dir: Path) -> dict:
    env_path = exp_dir / "env.json"
    try:
        env = json.loads(env_path.read_text(encoding="utf-8")) if env_path.is_file() else {}
    except json.JSONDecodeError as e:
        raise SpeechprocError(f"{env_path}: not valid JSON ({e}); restore it from the training run") from None
    return env if isinstance(env, dict) else {}


def _read_overrides(exp_dir: Path) -> dict:
    import yaml

    overrides_path = exp_dir / "overrides.yaml"
    if not overrides_path.is_file():
        return {}
    text = overrides_path.read_text(encoding="utf-8")
    check_config_tags(text, str(overrides_path))
    overrides = yaml.safe_load(text) or {}
    if not isinstance(overrides, dict):
        raise SpeechprocError(f"{overrides_path}: expected a mapping of key: value; restore it from the training run")
    return overrides


def resolve_exp_dir(exp_dir: PathLike) -> Path:
    """``exp_dir`` itself, or for a packed model (``*.zip``) the dir it unpacks to."""
    p = Path(exp_dir)
    if p.suffix == ".zip":
        return unpack(p)
    return p


def train_seconds(summary: Dict[str, object]) -> Optional[float]:
    """Training wall time of a run from its ``train_summary.json`` contents: the total over its resumed or
    repeated runs, or the one run of a summary written before totals were kept."""
    value = summary.get("train_seconds_total", summary.get("train_seconds_this_run"))
    return None if value is None else float(value)  # type: ignore[arg-type]


def exp_settings(exp_dir: PathLike) -> Dict[str, object]:
    """The plain settings of a training run without building anything: ``train.yaml`` read as data
    (HyperPyYAML tags as None) updated by its ``overrides.yaml``, whose relative paths are resolved as
    :func:`load_exp_hparams` resolves them (so ``train_data`` etc. name the dirs the run used)."""
    from speechproc.utils import load_yaml_plain

    exp_dir = resolve_exp_dir(exp_dir)
    conf_path = exp_dir / "train.yaml"
    if not conf_path.is_file():
        raise SpeechprocError(f"{conf_path}: not found; {exp_dir} is not a training run (speechproc.bin.train)")
    settings = load_yaml_plain(conf_path.read_text(encoding="utf-8")) or {}
    if not isinstance(settings, dict):
        raise SpeechprocError(f"{conf_path}: expected a mapping of settings")
    env = _read_env(exp_dir)
    base = exp_dir if (exp_dir / "manifest.json").is_file() else (Path(env["cwd"]) if env.get("cwd") else None)
    for k, v in _read_overrides(exp_dir).items():
        settings[k] = _resolve(v, base) if isinstance(v, str) and k != "output_folder" else v
    return settings


def load_exp_hparams(exp_dir: PathLike, extra_overrides: Optional[dict] = None) -> Dict[str, object]:
    """The hyperparameters of a finished run (objects built, weights not loaded), after the tag check.

    Relative paths of the training run (token dir, CMVN stats) are resolved against the directory
    training ran in (``env.json`` key ``cwd``) when they do not exist from here.
    """
    import yaml
    from hyperpyyaml import load_hyperpyyaml

    exp_dir = resolve_exp_dir(exp_dir)
    conf_path = exp_dir / "train.yaml"
    if not conf_path.is_file():
        raise SpeechprocError(f"{conf_path}: not found; {exp_dir} is not a finished training run (speechproc.bin.train)")
    env = _read_env(exp_dir)
    base = Path(env["cwd"]) if env.get("cwd") else None

    # The training yaml + its command-line overrides (not the merged text, whose !ref values are
    # already substituted), with relative paths resolved against the exp dir (a pack's own copies) or else
    # the directory training ran in.
    text = conf_path.read_text(encoding="utf-8")
    check_config_tags(text, str(conf_path))
    overrides_path = exp_dir / "overrides.yaml"
    overrides = _read_overrides(exp_dir)
    packed = (exp_dir / "manifest.json").is_file()
    overrides = {k: (_resolve(v, exp_dir if packed else base) if isinstance(v, str) and k != "output_folder" else v)
                 for k, v in overrides.items()}
    overrides["output_folder"] = str(exp_dir)
    overrides.update(extra_overrides or {})
    # overrides are merged into the yaml as text: a value that reads as a tag must stay a string
    check_config_tags(yaml.safe_dump(overrides), f"{overrides_path} (with the caller's overrides)")
    return load_hyperpyyaml(text, overrides)


def load_trained_modules(exp_dir: PathLike, extra_overrides: Optional[dict] = None, device: str = "cpu"):
    """Rebuild a trained experiment (an exp dir or a packed ``*.zip``): (hparams, modules with ``model.pt``
    weights, in eval mode)."""
    exp_dir = resolve_exp_dir(exp_dir)
    weights = exp_dir / "model.pt"
    if not weights.is_file():
        raise SpeechprocError(f"{weights}: not found; {exp_dir} is not a finished training run (speechproc.bin.train)")
    hparams = load_exp_hparams(exp_dir, extra_overrides)
    state = load_weights(weights)  # tensors and plain data only: loading never runs code
    modules = hparams["modules"]
    strategy = hparams.get("strategy")
    model = modules.get("model")
    if (isinstance(strategy, dict) and strategy.get("name") in ("lora", "adapters") and model is not None
            and not hasattr(model, "load_trained_state")):
        # a model of our own adapted by LoRA or adapters (FastSpeech 2): model.pt holds the wrapped layers, so the
        # same wrapping comes before the weights (pretrained wrappers load their trained part themselves, below)
        from speechproc.models.pretrained.finetune import apply_strategy

        apply_strategy(model, strategy, encoder_modules=getattr(model, "encoder_modules", ()))
    for name, module in modules.items():
        if name in state["modules"]:
            if hasattr(module, "load_trained_state"):  # pretrained wrappers: model.pt holds the trained part only
                module.load_trained_state(state["modules"][name], str(weights))
            else:
                try:
                    module.load_state_dict(state["modules"][name])
                except RuntimeError as e:  # shapes or names that the stored config does not build
                    lines = [ln.strip() for ln in str(e).splitlines()
                             if "size mismatch" in ln or "Missing key" in ln or "Unexpected key" in ln]
                    raise SpeechprocError(
                        f"{weights}: the weights of module '{name}' do not fit the model that {exp_dir}/train.yaml "
                        f"with its overrides builds ({lines[0] if lines else str(e).splitlines()[0]}); model.pt and "
                        f"the config come from different runs: copy the exp dir whole, or train it again") from None
        module.to(device).eval()
    return hparams, modules


# ------------------------------------------------------------------------------------------------
# writing (the trainer)


def write_model(ckpts: Sequence["Checkpoint"], modules: Sequence[str], out_path: Path, meta: dict) -> None:
    """Average ``modules`` of the checkpoints ``ckpts`` into ``out_path`` (atomically), the file inference loads."""
    import torch
    from speechbrain.utils.checkpoints import average_checkpoints

    state = {}
    for name in modules:
        state[name] = average_checkpoints(ckpts, name, parameter_loader=lambda p, **kw: torch.load(p, map_location="cpu",
                                                                                        weights_only=True))
    tmp = out_path.with_name(f".{out_path.name}.tmp.{os.getpid()}")
    torch.save({"modules": state, "averaged": [c.path.name for c in ckpts], **meta}, tmp)
    os.replace(tmp, out_path)


SNAPSHOT_FILES = ("train.yaml", "overrides.yaml", "hparams.yaml", "env.json", "cmd.txt")


def write_snapshot(checkpointer: "Checkpointer", modules: Sequence[str], out_dir: Path, epoch: int) -> Path:
    """Export the latest checkpoint as a loadable experiment dir ``out_dir/snapshots/epoch<N>``.

    The dir holds ``model.pt`` and the run's ``train.yaml``/``overrides.yaml``/``env.json``, so every
    tool that takes ``--exp-dir`` (synthesis, decoding, duration extraction) reads it like a finished run.
    """
    ckpts = checkpointer.find_checkpoints(max_num_checkpoints=1)  # the most recent: this epoch's
    if not ckpts:
        raise SpeechprocError(f"{checkpointer.checkpoints_dir}: no checkpoint to export as epoch {epoch}")
    snap = out_dir / "snapshots" / f"epoch{epoch}"
    snap.mkdir(parents=True, exist_ok=True)
    for name in SNAPSHOT_FILES:
        if (out_dir / name).is_file():
            shutil.copyfile(out_dir / name, snap / name)
    write_model(ckpts, modules, snap / "model.pt", {"epoch": epoch})
    return snap
