"""ONNX export of the CTC/attention ASR encoder and its ONNX Runtime inference.

:func:`export_asr_onnx` writes one graph, ``feats (B, T, D) float32, lengths (B,) int64 -> ctc_logprobs
(B, T', V), enc (B, T', d_model), enc_lengths (B,)``, with the feature normalisation (CMVN) inside, so
that a deployment needs only the fbank front end, the graph and the token list. Batch and frame axes are
dynamic. The graph is captured with ``torch.export`` (the TorchScript exporter mis-traces the
relative-position shift of the Conformer's attention and freezes the batch size); during the capture
SpeechBrain's ``RelPosMHAXL.rel_shift`` (a pad-and-reshape whose intermediate shape ``torch.export``
cannot follow) is replaced by the equivalent gather, identical in value.

:class:`OnnxEncoder` runs the graph with ONNX Runtime; ``Speech2Text.from_pretrained(exp, onnx=...)``
uses it in place of the PyTorch encoder (``greedy_ctc`` is then ONNX end to end; ``beam`` searches
with the PyTorch decoder over the ONNX encoder output).

The decoder step is not exported: SpeechBrain's beam searcher drives the PyTorch decoder module
directly, and an ONNX decoder would need a search of its own.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Iterator, Optional, Tuple

import torch
from speechproc.exp import load_trained_modules
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["ONNX_FILE", "OnnxEncoder", "export_asr_onnx"]

logger = logging.getLogger(__name__)

ONNX_FILE = "encoder_ctc.onnx"
FORMAT = 1
INPUTS = ("feats", "lengths")
OUTPUTS = ("ctc_logprobs", "enc", "enc_lengths")


class _EncoderCTC(torch.nn.Module):
    """normalisation -> encoder -> CTC log-probabilities, the exported graph."""

    def __init__(self, model: torch.nn.Module, normalize: Optional[torch.nn.Module]) -> None:
        super().__init__()
        self.model = model
        self.normalize = normalize

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.normalize is not None:
            feats, _ = self.normalize(feats, lengths)
        enc, enc_lengths = self.model.encode(feats, lengths)
        return self.model.ctc_logprobs(enc), enc, enc_lengths


def _rel_shift_gather(self, x: torch.Tensor) -> torch.Tensor:
    """``RelPosMHAXL.rel_shift`` as one gather: ``out[..., i, j] = x[..., i, j - i + t1 - 1]`` for scores
    ``(B, H, t1, 2 t1 - 1)`` over relative positions (``j <= t1 - 1``, what the original keeps)."""
    if getattr(self, "mask_pos_future", False):
        raise SpeechprocError("ONNX export: causal relative-position attention (mask_pos_future) is not supported")
    b, h, t1, _ = x.shape
    i = torch.arange(t1, device=x.device)
    idx = (i[None, :] - i[:, None] + (t1 - 1)).expand(b, h, t1, t1)
    return x.gather(-1, idx)


@contextlib.contextmanager
def _exportable_attention() -> Iterator[None]:
    from speechbrain.nnet.attention import RelPosMHAXL

    original = RelPosMHAXL.rel_shift
    RelPosMHAXL.rel_shift = _rel_shift_gather
    try:
        yield
    finally:
        RelPosMHAXL.rel_shift = original


@contextlib.contextmanager
def _quiet(sink: io.StringIO) -> Iterator[None]:
    """The exporter's prints, warnings and notes (its loggers below ERROR) stay off the console."""
    loggers = [logging.getLogger(n) for n in ("onnx_ir", "onnxscript", "torch.onnx")]
    levels = [q.level for q in loggers]
    try:
        for q in loggers:
            q.setLevel(logging.ERROR)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for q, level in zip(loggers, levels):
            q.setLevel(level)


def export_asr_onnx(exp_dir: PathLike, out: Optional[PathLike] = None, opset: int = 18,
                    example_seconds: float = 3.0) -> Path:
    """Export the encoder + CTC head (+ normalisation) of the ASR exp ``exp_dir`` to ``out`` (default
    ``EXP_DIR/onnx/encoder_ctc.onnx``); writes ``onnx.json`` (inputs, outputs, opset, versions) beside it.

    Raises :class:`SpeechprocError` for a model without a CTC encoder (Whisper, wav2vec2 wrappers)."""
    hparams, modules = load_trained_modules(exp_dir)
    model = modules.get("model")
    if model is None or not hasattr(model, "ctc_logprobs") or not hasattr(model, "subsampling"):
        raise SpeechprocError(f"{exp_dir}: ONNX export covers the Conformer/Transformer CTC models of task asr; "
                              f"{type(model).__name__} is not one (Whisper: export_ct2)")
    if hparams.get("input", "fbank") != "fbank":
        raise SpeechprocError(f"{exp_dir}: ONNX export needs a model on fbank features, this one reads "
                              f"{hparams.get('input')}")
    if out is None and not Path(exp_dir).is_dir():
        raise SpeechprocError(f"{exp_dir}: give the .onnx file to write (--out) for a packed model")
    out = Path(out) if out is not None else Path(exp_dir) / "onnx" / ONNX_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    graph = _EncoderCTC(model, modules.get("normalize")).eval()
    dim = int(model.subsampling.input_size)
    frames = max(int(example_seconds * 100), 16)
    feats = torch.randn(2, frames, dim)
    lengths = torch.tensor([frames, frames * 2 // 3])
    batch = torch.export.Dim("batch", min=1, max=1024)
    time = torch.export.Dim("frames", min=7, max=360000)
    tmp = out.with_name(out.name + ".tmp")
    chatter = io.StringIO()  # the exporter prints its progress and optimiser notes: kept for the debug log
    try:
        with _exportable_attention(), _quiet(chatter), torch.no_grad():
            program = torch.onnx.export(graph, (feats, lengths), dynamo=True, opset_version=opset,
                                        dynamic_shapes={"feats": {0: batch, 1: time}, "lengths": {0: batch}},
                                        input_names=list(INPUTS), output_names=list(OUTPUTS), verbose=False)
    except Exception:
        logger.error("torch.onnx.export of %s failed; its output:\n%s", exp_dir, chatter.getvalue()[-4000:])
        raise
    logger.debug("torch.onnx.export:\n%s", chatter.getvalue())
    program.save(str(tmp))
    tmp.replace(out)
    import onnx

    meta = {"format": FORMAT, "file": out.name, "model": type(model).__name__, "opset": opset,
            "inputs": {"feats": ["batch", "frames", dim], "lengths": ["batch"]},
            "outputs": {"ctc_logprobs": ["batch", "frames'", int(model.vocab_size)],
                        "enc": ["batch", "frames'", int(model.ctc_lin.in_features)], "enc_lengths": ["batch"]},
            "normalisation_inside": modules.get("normalize") is not None,
            "torch": torch.__version__, "onnx": onnx.__version__}
    (out.parent / "onnx.json").write_text(json.dumps(meta, indent=2) + "\n")
    logger.info("wrote %s (%.1f MB)", out, out.stat().st_size / 1e6)
    return out


class OnnxEncoder:
    """ONNX Runtime session of an exported :data:`ONNX_FILE`: ``(feats, lengths) -> (ctc_logprobs, enc,
    enc_lengths)`` as torch tensors. ``threads``: intra-op threads (default: torch's)."""

    def __init__(self, path: PathLike, threads: Optional[int] = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise SpeechprocError("ONNX inference needs onnxruntime: tools/venv/bin/pip install -r "
                                  "tools/requirements.txt") from None
        path = Path(path)
        if path.is_dir():
            path = path / ONNX_FILE
        if not path.is_file():
            raise SpeechprocError(f"{path}: no exported encoder; run python -m speechproc.bin.export_onnx "
                                  f"--exp-dir EXP_DIR first")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or torch.get_num_threads())
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own error types for corrupt or foreign files
            raise SpeechprocError(f"{path}: not a loadable ONNX encoder ({type(e).__name__}: {e}); export it "
                                  f"again with speechproc.bin.export_onnx") from None
        names = tuple(i.name for i in self.session.get_inputs())
        if names != INPUTS:
            raise SpeechprocError(f"{path}: inputs {names}, expected {INPUTS}; export it again with "
                                  f"speechproc.bin.export_onnx")
        self.path = path

    def __call__(self, feats: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logp, enc, enc_lengths = self.session.run(
            list(OUTPUTS), {"feats": feats.detach().cpu().float().numpy(),
                            "lengths": lengths.detach().cpu().long().numpy()})
        return torch.from_numpy(logp), torch.from_numpy(enc), torch.from_numpy(enc_lengths)
