"""Fine-tuning strategies for pretrained models, as configuration (no code forks).

A strategy is a small dict from the training yaml, applied to any ``torch.nn.Module`` (a
``transformers`` Whisper, wav2vec2 or HuBERT model):

```yaml
strategy:
    name: lora                       # full | freeze_encoder | lora | adapters | frozen
    freeze: ["model.encoder.conv*"]  # extra frozen modules (fnmatch on module names)
    unfreeze: []                     # modules trained even when the strategy freezes them
    lora: {rank: 8, alpha: 16, target_modules: ["*.q_proj", "*.v_proj"]}
    adapters: {projection_size: 32, target_modules: ["*.fc2"]}
```

- ``full``: every parameter trains (minus ``freeze``).
- ``freeze_encoder``: the modules named by ``encoder_modules`` (the model wrapper gives the
  default, e.g. ``model.encoder`` for Whisper) are frozen.
- ``lora``: all pretrained weights frozen; SpeechBrain's :class:`speechbrain.nnet.adapters.LoRA`
  wraps every ``nn.Linear`` or ``nn.Conv1d`` matching ``target_modules`` (low-rank ``B A x * alpha / rank``
  added, ``B`` initialised to zero so the model starts as the pretrained one; for a convolution ``A`` has
  its kernel and ``B`` is pointwise, so the convolutional feed-forward blocks and postnet of FastSpeech 2
  adapt the same way as Whisper's linear layers).
- ``adapters``: all pretrained weights frozen; SpeechBrain's
  :class:`speechbrain.nnet.adapters.HoulsbyAdapterLinear` (bottleneck down-projection, Swish,
  up-projection, residual) after every ``nn.Linear`` matching ``target_modules`` (Houlsby et al.
  place them after the feed-forward output, ``fc2`` in Whisper), and :class:`HoulsbyAdapterConv1d`, the
  same bottleneck over channels, after every matching ``nn.Conv1d`` (the convolutional feed-forward
  output of FastSpeech 2, whose attention layers keep their projections inside ``nn.MultiheadAttention``).
- ``frozen``: nothing trains (zero-shot evaluation through the same path).

SpeechBrain's adapter classes are used rather than the ``peft`` library: they wrap plain
``nn.Linear`` modules of any model (Whisper, wav2vec2, our own), save through SpeechBrain's
checkpointer like every other module here, and need no extra dependency; ``peft`` would add
a second model wrapper (``PeftModel``) around the ``transformers`` model and its own save format.

:func:`trainable_state_dict` / :func:`load_trainable_state_dict` save and restore only what
trains, so a LoRA checkpoint of Whisper tiny holds its adapters, not 39 M frozen weights.
"""
from __future__ import annotations

import fnmatch
import logging
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import torch
from speechbrain.utils import checkpoints

from speechproc.utils import SpeechprocError, load_weights

__all__ = ["STRATEGIES", "apply_strategy", "count_parameters", "trainable_state_dict", "load_trainable_state_dict",
           "TrainableStateModule", "merge_lora", "L2SP", "HoulsbyAdapterConv1d"]

logger = logging.getLogger(__name__)

STRATEGIES = ("full", "freeze_encoder", "lora", "adapters", "frozen")
_KEYS = {"name", "freeze", "unfreeze", "lora", "adapters", "encoder_modules"}


def _match(name: str, patterns: Iterable[str]) -> bool:
    return any(name == p or fnmatch.fnmatchcase(name, p) or name.startswith(p + ".") for p in patterns)


def _set_grad(model: torch.nn.Module, patterns: Sequence[str], flag: bool) -> int:
    n = 0
    for name, module in model.named_modules():
        if name and _match(name, patterns):
            for p in module.parameters():
                p.requires_grad = flag
            n += 1
    return n


class HoulsbyAdapterConv1d(torch.nn.Module):
    """A Houlsby adapter after a frozen ``nn.Conv1d``: ``y + up(swish(down(y)))`` with pointwise convolutions
    over the channels (``C -> projection_size -> C``), ``up`` initialised to zero so the wrapped layer starts as
    the pretrained one. The convolutional counterpart of :class:`speechbrain.nnet.adapters.HoulsbyAdapterLinear`."""

    def __init__(self, target_conv: torch.nn.Conv1d, projection_size: int):
        super().__init__()
        self.pretrained_conv = target_conv
        for p in target_conv.parameters():
            p.requires_grad = False
        c = target_conv.out_channels
        device = target_conv.weight.device
        self.adapter_down_proj = torch.nn.Conv1d(c, projection_size, 1, device=device)
        self.adapter_up_proj = torch.nn.Conv1d(projection_size, c, 1, device=device)
        self.activation = torch.nn.SiLU()
        torch.nn.init.zeros_(self.adapter_up_proj.weight)
        torch.nn.init.zeros_(self.adapter_up_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pretrained_conv(x)
        return y + self.adapter_up_proj(self.activation(self.adapter_down_proj(y)))


def _wrap_linears(model: torch.nn.Module, patterns: Sequence[str], make, what: str,
                  kinds: tuple = (torch.nn.Linear,)) -> List[str]:
    from speechbrain.nnet.adapters import replace_module

    names = [n for n, m in model.named_modules()
             if n and isinstance(m, kinds) and any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not names:
        kind = " or ".join(f"nn.{k.__name__}" for k in kinds)
        layers = [n for n, m in model.named_modules() if n and isinstance(m, kinds)][:6]
        raise SpeechprocError(f"strategy {what}: target_modules {list(patterns)} match no {kind} of the model; "
                              f"its layers are named like: {', '.join(layers)}")
    for n in names:
        replace_module(model, n, make(model.get_submodule(n)))
    return names


def apply_strategy(model: torch.nn.Module, strategy: Optional[Mapping] = None,
                   encoder_modules: Sequence[str] = ()) -> Dict[str, int]:
    """Freeze / wrap ``model`` in place according to ``strategy`` (see the module docstring).

    Args:
        model: the pretrained model.
        strategy: the yaml dict (``None`` or ``{}``: full fine-tuning).
        encoder_modules: default module names frozen by ``freeze_encoder``.

    Returns:
        ``{"total": all parameters, "trainable": parameters that train}``.
    """
    strategy = dict(strategy or {})
    unknown = set(strategy) - _KEYS
    if unknown:
        raise SpeechprocError(f"strategy: unknown key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    name = strategy.get("name", "full")
    if name not in STRATEGIES:
        raise SpeechprocError(f"strategy name '{name}' unknown; choose one of: {', '.join(STRATEGIES)}")
    if name in ("lora", "adapters", "frozen"):
        for p in model.parameters():
            p.requires_grad = False
    if name == "freeze_encoder":
        enc = list(strategy.get("encoder_modules") or encoder_modules)
        if not enc or not _set_grad(model, enc, False):
            raise SpeechprocError(f"strategy freeze_encoder: no module named {enc}; set strategy.encoder_modules")
    if name == "lora":
        from speechbrain.nnet.adapters import LoRA

        opts = dict(strategy.get("lora") or {})
        rank, alpha = int(opts.get("rank", 8)), float(opts.get("alpha", 16))
        targets = opts.get("target_modules") or ["*.q_proj", "*.v_proj"]
        names = _wrap_linears(model, targets, lambda m: LoRA(m, rank=rank, alpha=alpha), "lora",
                              (torch.nn.Linear, torch.nn.Conv1d))
        logger.info("LoRA rank %d alpha %g on %d linear layers (%s ...)", rank, alpha, len(names), names[0])
    if name == "adapters":
        from speechbrain.nnet.adapters import HoulsbyAdapterLinear

        opts = dict(strategy.get("adapters") or {})
        size = int(opts.get("projection_size", 32))
        targets = opts.get("target_modules") or ["*.fc2"]
        names = _wrap_linears(model, targets, lambda m: HoulsbyAdapterConv1d(m, size) if isinstance(
            m, torch.nn.Conv1d) else HoulsbyAdapterLinear(m, size), "adapters", (torch.nn.Linear, torch.nn.Conv1d))
        for n in names:  # the wrapped layer stays frozen (HoulsbyAdapterLinear does not freeze it itself)
            wrapped = model.get_submodule(n)
            if isinstance(wrapped, HoulsbyAdapterConv1d):
                continue
            for p in wrapped.pretrained_linear.parameters():
                p.requires_grad = False
            torch.nn.init.zeros_(wrapped.adapter_up_proj.weight)  # start as the identity: the pretrained model
        logger.info("Houlsby adapters (bottleneck %d) after %d linear layers (%s ...)", size, len(names), names[0])
    if strategy.get("freeze"):
        _set_grad(model, strategy["freeze"], False)
    if strategy.get("unfreeze"):
        _set_grad(model, strategy["unfreeze"], True)
    counts = count_parameters(model)
    logger.info("strategy %s: %d of %d parameters train (%.2f %%)", name, counts["trainable"], counts["total"],
                100.0 * counts["trainable"] / max(1, counts["total"]))
    return counts


def count_parameters(model: torch.nn.Module) -> Dict[str, int]:
    """``{"total": ..., "trainable": ...}`` parameter counts (shared tensors counted once)."""
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return {"total": total, "trainable": trainable}


def trainable_state_dict(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """The entries of ``model.state_dict()`` that train (parameters with ``requires_grad``)."""
    keep = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items() if k in keep}


def load_trainable_state_dict(model: torch.nn.Module, state: Mapping[str, torch.Tensor], where: str = "") -> None:
    """Load a :func:`trainable_state_dict` (or a full one) into ``model``.

    Every trainable parameter must be in ``state``; keys the model lacks are an error (a
    checkpoint of another strategy or model).
    """
    own = model.state_dict()
    unexpected = [k for k in state if k not in own]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    missing = [k for k in trainable if k not in state]
    if unexpected or missing:
        raise SpeechprocError(
            f"{where or 'checkpoint'}: does not fit this model (strategy or model changed?): "
            f"unexpected {unexpected[:3]}, missing trainable {missing[:3]}"
        )
    model.load_state_dict(dict(state), strict=False)


@checkpoints.register_checkpoint_hooks
class TrainableStateModule(torch.nn.Module):
    """Base of the pretrained-model wrappers: SpeechBrain checkpoints (and so ``model.pt``) hold
    only the parameters that train; the pretrained ones come from the model's ``source``.
    :func:`speechproc.exp.load_trained_modules` restores them with :meth:`load_trained_state`.
    (SpeechBrain finds these hooks for subclasses through the method resolution order.)"""

    def trainable_state(self) -> Dict[str, torch.Tensor]:
        return trainable_state_dict(self)

    def load_trained_state(self, state: Mapping[str, torch.Tensor], where: str = "") -> None:
        load_trainable_state_dict(self, state, where)

    @checkpoints.mark_as_saver
    def _save(self, path):
        torch.save(self.trainable_state(), path)

    @checkpoints.mark_as_loader
    def _load(self, path, end_of_epoch=True):
        del end_of_epoch
        self.load_trained_state(load_weights(path), str(path))


def merge_lora(model: torch.nn.Module) -> int:
    """Fold every SpeechBrain :class:`~speechbrain.nnet.adapters.LoRA` of ``model`` into the ``nn.Linear`` it
    wraps (``W += alpha / rank * up @ down``) and put that linear back in its place, in place. The model then
    computes the same function with no adapter left (a plain checkpoint of the architecture). Returns the
    number of layers merged; other adapters (Houlsby) cannot be folded and are an error."""
    from speechbrain.nnet.adapters import HoulsbyAdapterLinear, LoRA, replace_module

    if any(isinstance(m, (HoulsbyAdapterLinear, HoulsbyAdapterConv1d)) for m in model.modules()):
        raise SpeechprocError("merge_lora: the model has Houlsby adapters, which cannot be folded into the "
                              "weights (they are non-linear); keep them as modules or use LoRA")
    names = [n for n, m in model.named_modules() if isinstance(m, LoRA)]
    for n in names:
        lora = model.get_submodule(n)
        base = lora.pretrained_module
        up, down = lora.adapter_up_proj.weight, lora.adapter_down_proj.weight
        with torch.no_grad():
            if isinstance(base, torch.nn.Linear):
                base.weight += lora.scaling * (up @ down)
            elif isinstance(base, torch.nn.Conv1d):  # up is pointwise: (out, r, 1) x (r, in, k) -> (out, in, k)
                base.weight += lora.scaling * torch.einsum("or,rik->oik", up[:, :, 0], down)
            else:
                raise SpeechprocError(f"merge_lora: {n} wraps a {type(base).__name__}; only nn.Linear and "
                                      f"nn.Conv1d are folded")
        replace_module(model, n, base)
    return len(names)


class L2SP:
    """The L2-SP regulariser (Li, Grandvalet and Davoine, 2018): ``weight * sum ||theta - theta_0||^2`` over
    the trainable parameters of ``model`` that ``reference`` holds (the pretrained starting point), so
    fine-tuning is pulled back toward the pretrained weights instead of toward zero as weight decay does.
    Parameters the reference lacks (new layers, adapters) are not regularised by it.

    Args:
        model: the model being fine-tuned.
        reference: state dict of the reference weights, keyed like ``model.named_parameters()``.
        weight: strength (0 switches it off).
    """

    def __init__(self, model: torch.nn.Module, reference: Mapping[str, torch.Tensor], weight: float):
        self.weight = float(weight)
        self.pairs = []
        skipped = 0
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            ref = reference.get(name)
            if ref is None:
                skipped += 1
                continue
            if tuple(ref.shape) != tuple(p.shape):
                raise SpeechprocError(f"L2-SP: reference {name} has shape {tuple(ref.shape)}, the model's "
                                      f"{tuple(p.shape)}; give the reference of the same architecture")
            self.pairs.append((p, ref.detach().to(device=p.device, dtype=p.dtype).clone()))
        if not self.pairs:
            raise SpeechprocError("L2-SP: no trainable parameter of the model is in the reference; give the "
                                  "pretrained weights the model was built from")
        logger.info("L2-SP (weight %g) on %d parameter tensors%s", self.weight, len(self.pairs),
                    f"; {skipped} without a reference are left out" if skipped else "")

    def __call__(self) -> torch.Tensor:
        total = sum(((p - ref) ** 2).sum() for p, ref in self.pairs)
        return self.weight * total
