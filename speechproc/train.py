"""The one shared trainer: HyperPyYAML config + overrides -> experiment dir -> Brain.fit.

``python -m speechproc.bin.train CONF.yaml --output_folder exp/asr [--key value ...]``

What it does, in order:

1. parses the command line; ``--key value`` pairs that are not trainer options override yaml
   keys (``--output_folder``, ``--number_of_epochs``, ``--train_data``, ...);
2. with ``--nproc N > 1`` outside torchrun it re-runs itself under
   ``torchrun --nproc_per_node N`` (gloo on CPU, nccl on GPU); with ``--cmd slurm`` it
   submits itself as a Slurm job through :func:`speechproc.launch.launch` and waits;
3. loads the yaml with the overrides and records the experiment dir: ``cmd.txt`` (exact command),
   ``train.yaml`` (the yaml text), ``overrides.yaml``, ``hparams.yaml`` (merged yaml text),
   ``env.json`` (git commit, torch/speechbrain versions, device, world size);
4. builds the task's datasets and Brain (``task:`` key, see :data:`TASKS`), an atomic
   :class:`AtomicCheckpointer` over ``modules`` + epoch counter + LR schedule + optimizer,
   ``train_log.txt`` and tensorboard loggers; resumes from the latest complete checkpoint;
5. trains, then averages the ``average_n`` best checkpoints (by ``best_key``) into
   ``model.pt`` (``{module_name: state_dict}``), which inference loads. Epochs listed in
   ``snapshot_epochs`` are also exported as they finish, each as a loadable experiment dir
   ``snapshots/epoch<N>`` (an early model for another stage, e.g. FastSpeech 2 durations).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import platform
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.checkpoints import Checkpoint, Checkpointer
from speechbrain.utils.distributed import ddp_barrier, ddp_broadcast, if_main_process

from speechproc.exp import write_model
from speechproc.utils import SpeechprocError, atomic_write_text, key_value_overrides, load_yaml_plain

__all__ = [
    "TASKS",
    "AtomicCheckpointer",
    "parse_train_args",
    "load_hparams",
    "record_experiment",
    "average_best",
    "train",
    "main",
]

logger = logging.getLogger(__name__)

TRAINER_OPTIONS = ("nproc", "cmd", "cmd_conf", "device", "log")


# ------------------------------------------------------------------------------------------------
# checkpoints


@sb.utils.checkpoints.register_checkpoint_hooks
class RNGState:
    """The random generators' states (python ``random``, numpy's global, torch's CPU and CUDA ones) as a
    checkpoint recoverable: a run resumed from a checkpoint draws the same dropout masks, crops, shuffles and
    augmentations as the run that wrote it, so resuming after a kill ends with the same model. Stored as
    tensors and plain lists (loaded with ``weights_only``)."""

    @sb.utils.checkpoints.mark_as_saver
    def save(self, path) -> None:
        import random

        import numpy as np

        version, state, gauss = random.getstate()
        name, keys, pos, has_gauss, cached = np.random.get_state()
        torch.save({"python": [version, list(state), gauss],
                    "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
                    "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}, path)

    @sb.utils.checkpoints.mark_as_loader
    def load(self, path, end_of_epoch=True) -> None:
        import random

        import numpy as np

        state = torch.load(path, map_location="cpu", weights_only=True)
        version, values, gauss = state["python"]
        random.setstate((version, tuple(values), gauss))
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])


class AtomicCheckpointer(Checkpointer):
    """A SpeechBrain Checkpointer whose checkpoints appear all at once.

    Everything is written into ``.tmp-CKPT+...`` (a name :meth:`find_checkpoints` ignores), the
    meta file last, then the directory is renamed to ``CKPT+...``. A process killed while saving
    leaves only a temporary directory, removed at the next start; resume never sees a partial
    checkpoint.
    """

    def __init__(self, checkpoints_dir, recoverables=None, **kwargs):
        super().__init__(checkpoints_dir, recoverables, **kwargs)
        if if_main_process() and self.checkpoints_dir.is_dir():
            for stale in self.checkpoints_dir.glob(".tmp-CKPT+*"):
                shutil.rmtree(stale, ignore_errors=True)

    def recover_if_possible(self, importance_key=None, max_key=None, min_key=None, ckpt_predicate=None):
        """SpeechBrain's resume, with two house rules: checkpoints from another config are a clear error, and
        a checkpoint that cannot be read (truncated, corrupt) is skipped with a warning for the next one the
        selection picks (the previous good epoch), instead of ending the run."""
        unreadable = set()

        def usable(ckpt):
            return ckpt.path not in unreadable and (ckpt_predicate is None or ckpt_predicate(ckpt))

        while True:
            chosen = self.find_checkpoint(importance_key, max_key, min_key, usable)
            if chosen is None:
                return None
            try:
                self.load_checkpoint(chosen)
                return chosen
            except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
                text = str(e)
                if "size mismatch" in text or "Missing key" in text or "Unexpected key" in text:
                    detail = next((ln.strip() for ln in text.splitlines()
                                   if "size mismatch" in ln or "key" in ln.lower()), text.splitlines()[0])
                    raise SpeechprocError(
                        f"{chosen.path}: this checkpoint was written by another model config than the one being "
                        f"trained ({detail}); remove {self.checkpoints_dir} to train this config from scratch, or "
                        f"train it into another --output_folder") from None
                unreadable.add(chosen.path)
                logger.warning("%s: cannot be read (%s: %s); resuming from the previous checkpoint instead",
                               chosen.path, type(e).__name__, text.splitlines()[0] if text else "")

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):  # noqa: B006
        final = self._new_checkpoint_dirpath() if name is None else self._custom_checkpoint_dirpath(name)
        tmp = final.with_name(".tmp-" + final.name)
        if if_main_process():
            os.makedirs(tmp, exist_ok=True)
        ddp_barrier()
        paramfiles = {}
        for rec_name, obj in self.recoverables.items():
            path = tmp / f"{rec_name}.ckpt"
            paramfiles[rec_name] = final / f"{rec_name}.ckpt"
            if rec_name in self.custom_save_hooks:
                self.custom_save_hooks[rec_name](obj, path)
                continue
            hook = sb.utils.checkpoints.get_default_hook(obj, sb.utils.checkpoints.DEFAULT_SAVE_HOOKS)
            if hook is None:
                raise RuntimeError(f"don't know how to save {type(obj)}; register a save hook for '{rec_name}'")
            hook(obj, path)
        saved_meta = None
        if if_main_process():
            saved_meta = self._save_checkpoint_metafile(tmp / sb.utils.checkpoints.METAFNAME, meta, end_of_epoch)
            for p in tmp.iterdir():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
            os.rename(tmp, final)
            logger.log(verbosity, "saved %s checkpoint in %s", "end-of-epoch" if end_of_epoch else "intra-epoch",
                       final)
        ddp_barrier()
        saved_meta = ddp_broadcast(saved_meta, src=0)
        return Checkpoint(final, saved_meta, paramfiles)


# ------------------------------------------------------------------------------------------------
# tasks


def _asr_data(hparams: dict) -> Tuple[object, object]:
    from speechproc.data.dataset import make_asr_dataset

    tok = hparams["tokenizer"]
    train = make_asr_dataset(hparams["train_data"], tok, min_duration=hparams.get("min_duration", 0.0),
                             max_duration=hparams.get("max_duration"), max_utts=hparams.get("max_train_utts"),
                             input=hparams.get("input", "fbank"))
    valid = make_asr_dataset(hparams["valid_data"], tok, sort="ascending", max_utts=hparams.get("max_valid_utts"),
                             input=hparams.get("input", "fbank"))
    return train, valid


#: The task registry: ``task:`` name -> (Brain class, ``hparams -> (train, valid)`` dataset builder, length key
#: of dynamic batching), the first two as ``"module:attribute"`` (imported when the task is used).
TASKS: Dict[str, Tuple[str, str, str]] = {
    "asr": ("speechproc.tasks.asr:ASRBrain", "speechproc.train:_asr_data", "duration"),
    "lm": ("speechproc.tasks.lm:LMBrain", "speechproc.tasks.lm:lm_datasets", "length"),
    "tts": ("speechproc.tasks.tts:TTSBrain", "speechproc.tasks.tts:tts_datasets", "duration"),
    "vc": ("speechproc.tasks.vc:VCBrain", "speechproc.tasks.vc:vc_datasets", "duration"),
    "recsynth": ("speechproc.tasks.recsynth:RecSynthBrain", "speechproc.tasks.recsynth:recsynth_datasets", "duration"),
    "vocoder": ("speechproc.tasks.vocoder:VocoderBrain", "speechproc.tasks.vocoder:vocoder_datasets", "duration"),
    "whisper": ("speechproc.tasks.whisper:WhisperBrain", "speechproc.train:_asr_data", "duration"),
    "spk": ("speechproc.tasks.spk:SpeakerBrain", "speechproc.tasks.spk:spk_datasets", "duration"),
}


def _resolve(ref: str) -> object:
    import importlib

    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


def _task(name: str) -> Tuple[type, Callable[[dict], Tuple[object, object]], str]:
    """(Brain class, dataset builder, length key for dynamic batching) of task ``name`` (:data:`TASKS`)."""
    if name not in TASKS:
        raise SpeechprocError(f"unknown task '{name}' (yaml key 'task'); known tasks: {', '.join(TASKS)}")
    brain, data, length_key = TASKS[name]
    return _resolve(brain), _resolve(data), length_key  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------
# command line and config


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train",
        description="Train a model from a HyperPyYAML config. Other --key value pairs override yaml keys.",
    )
    parser.add_argument("config", help="HyperPyYAML file, e.g. conf/train_asr.yaml")
    parser.add_argument("--nproc", type=int, default=1, help="processes (torchrun --nproc_per_node); default 1")
    parser.add_argument("--cmd", default="local", choices=["local", "slurm"], help="run here or as a Slurm job")
    parser.add_argument("--cmd-conf", "--cmd_conf", dest="cmd_conf", default=None,
                        help="site options for --cmd slurm (default conf/slurm.yaml or tools/slurm/slurm.yaml)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:0 (default: cuda if available)")
    parser.add_argument("--log", default=None, help="with --cmd slurm: job log (default <output_folder>/train.log)")
    parser.add_argument("--overrides", default=None, metavar="FILE[:KEY]",
                        help="a YAML mapping of overrides (the one under KEY), e.g. one method of a recipe's "
                             "conf/adapt_methods.yaml; --key value pairs on the command line win over it")
    return parser


def overrides_from_file(spec: str) -> Dict[str, object]:
    """The overrides mapping of ``--overrides FILE[:KEY]``; a missing file or key is an error naming both and the
    keys there are."""
    import yaml

    path, _, key = spec.partition(":")
    if not Path(path).is_file():
        raise SpeechprocError(f"--overrides {spec}: {path} not found")
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise _config_error(path, "", e) from e
    if key:
        if not isinstance(data, dict) or key not in data:
            known = sorted(data) if isinstance(data, dict) else []
            raise SpeechprocError(f"--overrides {spec}: {path} has no entry '{key}'; it has {known}")
        data = data[key]
    if not isinstance(data, dict):
        raise SpeechprocError(f"--overrides {spec}: expected a mapping of config keys to values, got {data!r}")
    return dict(data)


def parse_train_args(argv: Sequence[str]) -> Tuple[argparse.Namespace, Dict[str, object]]:
    """Split the command line into trainer options and yaml overrides (``--key value``)."""
    parser = get_parser()
    args, rest = parser.parse_known_args(list(argv))
    overrides = overrides_from_file(args.overrides) if args.overrides else {}
    overrides.update(key_value_overrides(rest))
    return args, overrides


def _config_error(config: str, text: str, e: Exception) -> Exception:
    """A :class:`SpeechprocError` naming the file, line and key of a YAML syntax error or of the object whose
    constructor rejected its arguments; other errors unchanged."""
    import re

    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    if mark is not None and hasattr(mark, "line"):
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        ctx = getattr(e, "context_mark", None)
        opened = (f", in the {e.context.replace('while parsing ', '')} opened at line {ctx.line + 1}"
                  if ctx is not None and getattr(e, "context", None) and ctx.line != mark.line else "")
        return SpeechprocError(f"{config}:{mark.line + 1}: YAML syntax error: {problem} (column {mark.column + 1}"
                               f"{opened}); fix that line")
    first = str(e.args[0]) if e.args else ""
    m = re.match(r"Invalid argument to (?:class|function|method) (\S+)", first)
    if m:
        target = m.group(1).split(".")[-1]
        detail = str(e.args[1]) if len(e.args) > 1 else ""
        tag = re.compile(rf"!(new|name|apply):\S*\b{re.escape(target)}\b")
        lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if tag.search(ln)]
        where = ", ".join(f"line {i} ('{ln.split(':')[0].strip()}')" for i, ln in lines) or "its entry"
        return SpeechprocError(f"{config}: {m.group(1)} ({where}) rejected its arguments: {detail}; check the values "
                               f"under that key and the --key overrides that set them (a number given as text?)")
    return e


#: Top-level config keys that the trainer, the tasks or SpeechBrain's Brain (its run options) read. Any other key
#: of a training yaml must be a variable that another entry uses (``!ref <key>``); a key that nothing reads is a
#: typo or a leftover and is rejected by :func:`check_config_keys`.
SETTINGS = frozenset("""
task seed output_folder train_data valid_data modules epoch_counter number_of_epochs train_dataloader_opts
valid_dataloader_opts opt_class lr lr_scheduler best_key best_mode keep_checkpoints average_n snapshot_epochs
init_model strategy max_train_utts max_valid_utts min_duration max_duration input tokenizer token_dir cmvn_stats
normalize spec_augment label_smoothing ctc_weight blank_index log_every_steps use_tensorboard tensorboard_logger
train_logger model loss num_plots plot_every max_frames reduction_factor train_durations valid_durations extra_text
extra_text_cleaners train_text valid_text l2sp_weight l2sp_reference crop_seconds valid_crop_seconds compute_cost
n_speakers utterance_mean_norm init_tts src_train_data src_valid_data tgt_train_data tgt_valid_data src_cmvn tgt_cmvn
normalize_src train_mel valid_mel vocoder_checkpoint repeat_to_utts segment_frames l2_weight cache_audio generator
discriminator generator_loss discriminator_loss opt_class_discriminator discriminator_start_step mel_loss_weight
stft_loss stft_loss_weight feat_match_loss_weight context whisper window_seconds num_threads
nonspeech_per_batch nonspeech_seconds nonspeech_level_dbfs pitch_stats
""".split())


def _brain_run_options() -> frozenset:
    import dataclasses

    return frozenset(f.name for f in dataclasses.fields(sb.core.RunOptions))


def check_config_keys(config: str, text: str, overrides: Dict[str, object]) -> None:
    """Reject keys that nothing reads, with the nearest valid key: an override (``--key``) must name a key of the
    yaml, and a top-level key of the yaml must be a setting (:data:`SETTINGS`, SpeechBrain's run options) or a
    variable that another entry references (``<key>``). Keys starting with ``__`` (``__set_seed``) run on load."""
    import difflib
    import re

    from speechproc.utils import load_yaml_plain

    try:
        plain = load_yaml_plain(text)
    except Exception:  # noqa: BLE001 - a syntax error is reported (with its line) by the real load
        return
    if not isinstance(plain, dict):
        raise SpeechprocError(f"{config}: a training config is a mapping of keys to values at the top level")
    keys = [str(k) for k in plain]
    known = SETTINGS | _brain_run_options()
    for key in overrides:
        if key not in plain:
            near = difflib.get_close_matches(key, keys, n=1)
            raise SpeechprocError(f"{config}: --{key} names no key of this config"
                                  f"{f' (did you mean --{near[0]}?)' if near else ''}; overrides must name keys "
                                  "of the yaml")
    referenced = set(re.findall(r"<([A-Za-z_][A-Za-z0-9_]*)", text))
    lines = {k: i + 1 for i, ln in enumerate(text.splitlines()) for k in keys if ln.startswith(f"{k}:")}
    for key in keys:
        if key.startswith("__") or key in known or key in referenced:
            continue
        near = difflib.get_close_matches(key, sorted(known | set(keys) - {key}), n=1)
        raise SpeechprocError(
            f"{config}:{lines.get(key, '?')}: key '{key}' is read by nothing: it is no setting of the trainer or its "
            f"tasks and no entry references it (!ref <{key}>)"
            f"{f'; did you mean {near[0]}?' if near else ''} Fix or remove it")


def load_hparams(config: str, overrides: Dict[str, object]) -> Tuple[dict, str, str]:
    """Load ``config`` with ``overrides``; returns (hparams, yaml text, merged yaml text)."""
    path = Path(config)
    if not path.is_file():
        raise SpeechprocError(f"{config}: config file not found")
    text = path.read_text(encoding="utf-8")
    import yaml

    check_config_keys(config, text, overrides)
    override_text = yaml.safe_dump(overrides, sort_keys=False) if overrides else ""
    try:
        merged = resolve_references(text, override_text).getvalue()
        hparams = load_hyperpyyaml(text, override_text)
    except KeyError as e:
        raise SpeechprocError(f"{config}: {e.args[0] if e.args else e}; check the --key names given on the "
                              f"command line (overrides must name keys of the yaml)") from None
    except Exception as e:  # noqa: BLE001 - YAML syntax and constructor errors surface from deep inside
        raise _config_error(config, text, e) from e
    if not hparams.get("output_folder"):
        raise SpeechprocError(f"{config}: output_folder is not set; pass --output_folder DIR")
    return hparams, text, merged


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 else "unknown (no commit yet)"
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty and out.returncode == 0 else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"


def environment(device: str) -> dict:
    """What produced a run: commit, versions, device, world size."""
    return {
        "git_commit": _git_commit(),
        "torch": torch.__version__,
        "speechbrain": sb.__version__ if hasattr(sb, "__version__") else "unknown",
        "python": platform.python_version(),
        "host": platform.node(),
        "cwd": os.getcwd(),
        "device": device,
        "num_threads": torch.get_num_threads(),
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def record_experiment(out_dir: Path, argv: Sequence[str], text: str, overrides: dict, merged: str, device: str) -> None:
    """Write cmd.txt, train.yaml, overrides.yaml, hparams.yaml and env.json into ``out_dir`` (rank 0)."""
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "speechproc.bin.train", *argv])
    previous = out_dir / "cmd.txt"
    history = previous.read_text(encoding="utf-8") if previous.is_file() else ""
    atomic_write_text(previous, history + f"# {time.strftime('%Y-%m-%d %H:%M:%S')} cwd={os.getcwd()}\n{cmd}\n")
    atomic_write_text(out_dir / "train.yaml", text)
    atomic_write_text(out_dir / "overrides.yaml", yaml.safe_dump(overrides, sort_keys=False) if overrides else "{}\n")
    atomic_write_text(out_dir / "hparams.yaml", merged)
    atomic_write_text(out_dir / "env.json", json.dumps(environment(device), indent=2) + "\n")


def modules_sha1(modules: Dict[str, torch.nn.Module]) -> str:
    """SHA-1 of all module parameters and buffers (to compare models across processes)."""
    import hashlib

    h = hashlib.sha1()
    for name in sorted(modules):
        module = modules[name]
        module = getattr(module, "module", module)  # unwrap DDP
        for key, value in sorted(module.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def average_best(checkpointer: Checkpointer, modules: Dict[str, torch.nn.Module], key: str, mode: str, n: int,
                 out_path: Path) -> List[str]:
    """Average the ``n`` best end-of-epoch checkpoints (by ``key``) of each module into ``out_path``.

    Returns the names of the averaged checkpoints.
    """
    kwargs = {"min_key": key} if mode == "min" else {"max_key": key}
    ckpts = checkpointer.find_checkpoints(max_num_checkpoints=n, **kwargs)
    if not ckpts:
        ckpts = checkpointer.find_checkpoints(max_num_checkpoints=1)
    if not ckpts:
        raise SpeechprocError(f"{checkpointer.checkpoints_dir}: no checkpoint to average; did training run?")
    write_model(ckpts, modules, out_path, {"key": key})
    return [c.path.name for c in ckpts]


# ------------------------------------------------------------------------------------------------
# running


def _relaunch_torchrun(argv: Sequence[str], nproc: int) -> int:
    args = list(argv)
    out = []
    skip = False
    for a in args:  # drop --nproc N so the children run one process each
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        out.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "speechproc.bin.train", *out]
    logger.info("running %s", " ".join(shlex.quote(c) for c in cmd))
    return subprocess.call(cmd)


def _submit_slurm(args: argparse.Namespace, argv: Sequence[str], overrides: dict) -> int:
    from speechproc.launch import launch

    args_list = list(argv)
    i = 0
    child: List[str] = []
    while i < len(args_list):  # drop --cmd/--cmd-conf/--log so the job runs here-style
        a = args_list[i]
        if a in ("--cmd", "--cmd-conf", "--cmd_conf", "--log"):
            i += 2
            continue
        if a.split("=", 1)[0] in ("--cmd", "--cmd-conf", "--cmd_conf", "--log"):
            i += 1
            continue
        child.append(a)
        i += 1
    out_dir = Path(str(overrides.get("output_folder", "exp")))
    log = args.log or str(out_dir / "train.log")
    command = " ".join(shlex.quote(c) for c in [sys.executable, "-m", "speechproc.bin.train", *child])
    kwargs = {}
    if args.cmd_conf:
        kwargs["conf"] = args.cmd_conf
    launch("slurm", command, 1, log, **kwargs)
    return 0


def _output_folder(config: str, overrides: Dict[str, object]) -> Optional[str]:
    """``output_folder`` of a run before its config is built (override, else the yaml's plain value)."""
    if overrides.get("output_folder"):
        return str(overrides["output_folder"])
    import yaml

    try:
        data = load_yaml_plain(Path(config).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    value = data.get("output_folder") if isinstance(data, dict) else None
    return str(value) if value else None


def train(argv: Sequence[str]) -> Optional[object]:
    """Run the trainer on command line ``argv`` (see the module docstring). Returns the Brain on rank 0.

    The process that owns the run holds a lock on the output folder for the whole run: a second training
    into the same exp dir exits at once naming the first one's PID and command."""
    args, overrides = parse_train_args(argv)
    if args.cmd == "slurm":
        _submit_slurm(args, argv, overrides)
        return None
    out = _output_folder(args.config, overrides)
    if out is not None and "LOCAL_RANK" not in os.environ:  # torchrun's workers run under their launcher's lock
        from speechproc.utils import dir_lock

        with dir_lock(out, "training"):
            return _train(argv, args, overrides)
    return _train(argv, args, overrides)


def _train(argv: Sequence[str], args: argparse.Namespace, overrides: Dict[str, object]) -> Optional[object]:
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        rc = _relaunch_torchrun(argv, args.nproc)
        if rc != 0:
            raise SpeechprocError(f"torchrun with {args.nproc} processes failed with exit code {rc}; see the log above")
        return None

    distributed = "LOCAL_RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if distributed and device.startswith("cuda"):
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    run_opts = {"device": device}
    if distributed:
        run_opts["distributed_launch"] = True
        run_opts["distributed_backend"] = "nccl" if device.startswith("cuda") else "gloo"
        sb.utils.distributed.ddp_init_group(run_opts)

    hparams, text, merged = load_hparams(args.config, overrides)
    out_dir = Path(hparams["output_folder"])
    if hparams.get("num_threads"):
        # a config may pin torch's threads: the order of floating-point reductions, and so the trained model,
        # then no longer depends on the caller's thread count (recorded in env.json either way)
        torch.set_num_threads(int(hparams["num_threads"]))

    task = hparams.get("task")
    if task is None:
        raise SpeechprocError(f"{args.config}: no 'task' key; set task: asr or task: lm")
    brain_class, data_fn, length_key = _task(task)
    train_set, valid_set = data_fn(hparams)

    modules = hparams["modules"]
    recoverables = dict(modules)
    recoverables["counter"] = hparams["epoch_counter"]
    if hparams.get("lr_scheduler") is not None:
        recoverables["lr_scheduler"] = hparams["lr_scheduler"]
    checkpointer = AtomicCheckpointer(out_dir / "checkpoints", recoverables=recoverables)
    checkpointer.add_recoverable("rng", RNGState(), optional_load=True)  # checkpoints of older runs lack it
    hparams["train_logger"] = sb.utils.train_logger.FileTrainLogger(save_file=str(out_dir / "train_log.txt"))

    from speechproc.data.dataset import loader_kwargs

    train_opts = loader_kwargs(train_set, hparams.get("train_dataloader_opts"), shuffle=True, length_key=length_key)
    valid_opts = loader_kwargs(valid_set, hparams.get("valid_dataloader_opts"), shuffle=False, length_key=length_key)

    brain = brain_class(
        modules=modules,
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=checkpointer,
    )
    def record_start() -> None:
        """Called by the Brain once set-up (data, modules, init_model, checkpoint recovery) has succeeded: a run
        that fails at start leaves the exp dir it was pointed at (a finished run, say) as it was."""
        if if_main_process():
            record_experiment(out_dir, argv, text, overrides, merged, device)
            from speechproc.utils import LOG_FORMAT

            fh = logging.FileHandler(out_dir / "train_log_full.txt")
            fh.setFormatter(logging.Formatter(LOG_FORMAT))
            logging.getLogger().addHandler(fh)
            handlers.append(fh)
        if hparams.get("use_tensorboard", True):  # on every rank: its log_stats is a collective call
            try:
                brain.hparams.tensorboard_logger = sb.utils.train_logger.TensorboardLogger(str(out_dir / "tensorboard"))
            except ImportError:
                logger.warning("tensorboard is not installed: no tensorboard logs")
        ddp_barrier()

    if train_opts.get("batch_sampler") is not None and brain.train_sampler is None:
        # dynamic batches: SpeechBrain calls set_epoch only on samplers it made. Without it the sampler permutes
        # its batches again at the end of every epoch, so the order depends on how many epochs this process ran
        # and a resumed run trains on another order; set_epoch draws epoch N's order from seed + N.
        brain.train_sampler = train_opts["batch_sampler"]
    handlers: List[logging.Handler] = []
    brain.record_start = record_start
    start = time.time()
    def close_log() -> None:  # this run's log file gets this run's records only
        for fh in handlers:
            logging.getLogger().removeHandler(fh)
            fh.close()

    try:
        brain.fit(hparams["epoch_counter"], train_set, valid_set, train_loader_kwargs=train_opts,
                  valid_loader_kwargs=valid_opts)
    except BaseException:
        close_log()
        raise
    elapsed = time.time() - start
    ddp_barrier()
    if if_main_process():
        names = average_best(checkpointer, modules, hparams.get("best_key", "loss"), hparams.get("best_mode", "min"),
                             int(hparams.get("average_n", 1)), out_dir / "model.pt")
        steps = getattr(brain, "optimizer_steps", 0)
        import resource

        params = {id(p): p for m in modules.values() for p in m.parameters()}
        before = {}  # a resumed run (after a kill, or a finished run run again) adds to the earlier totals
        if (out_dir / "train_summary.json").is_file():
            try:
                before = json.loads((out_dir / "train_summary.json").read_text(encoding="utf-8"))
            except ValueError:
                logger.warning("%s: unreadable; the training totals restart from this run", out_dir / "train_summary.json")
        total_s = float(before.get("train_seconds_total", before.get("train_seconds_this_run", 0.0))) + elapsed
        total_steps = int(before.get("optimizer_steps_total", before.get("optimizer_steps_this_run", 0))) + steps
        summary = {"train_seconds_this_run": round(elapsed, 1), "optimizer_steps_this_run": steps,
                   "train_seconds_total": round(total_s, 1), "optimizer_steps_total": total_steps,
                   "peak_rss_mb_this_run": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
                   "parameters": sum(p.numel() for p in params.values()),
                   "trainable_parameters": sum(p.numel() for p in params.values() if p.requires_grad),
                   "final_model_sha1": modules_sha1(brain.modules),
                   "epochs": hparams["epoch_counter"].current, "averaged": names,
                   "world_size": int(os.environ.get("WORLD_SIZE", "1")),
                   "train_utterances": len(train_set) if hasattr(train_set, "__len__") else None}
        atomic_write_text(out_dir / "train_summary.json", json.dumps(summary, indent=2) + "\n")
        logger.info("training done in %.1f s; averaged %d checkpoint(s) into %s", elapsed, len(names),
                    out_dir / "model.pt")
    if distributed:
        atomic_write_text(out_dir / f"train_summary.rank{os.environ.get('RANK', '0')}.json",
                          json.dumps({"optimizer_steps_this_run": getattr(brain, "optimizer_steps", 0),
                                      "final_model_sha1": modules_sha1(brain.modules)}) + "\n")
    close_log()
    return brain


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``train`` verb."""
    from speechproc.utils import setup_logging

    setup_logging()
    torch.set_num_threads(int(os.environ.get("SPEECHPROC_NUM_THREADS", torch.get_num_threads())))
    train(sys.argv[1:] if argv is None else argv)
    return 0
