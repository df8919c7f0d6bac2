"""Synthetic ASR data for trainer/decoder tests: words rendered as tones (import ``from dummies_asr import ...``).

``make_tone_corpus(dir, n)`` writes a data dir whose utterances say 2-4 words of {"LOW", "HIGH"}: each
word is a 0.2 s tone (300 Hz or 1200 Hz) followed by 0.1 s of silence, at 16 kHz. A toy model learns
it in a few dozen steps. ``debug_asr_yaml()`` is a matching tiny training config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import soundfile as sf

from speechproc.data.datadir import DataDir

__all__ = ["make_tone_corpus", "debug_asr_yaml", "prepare_tone_experiment", "streaming_asr_yaml"]

_FREQ = {"LOW": 300.0, "HIGH": 1200.0}


def _render(words, sr: int = 16000, rng=None) -> np.ndarray:
    t = np.arange(int(0.2 * sr)) / sr
    parts = [np.zeros(int(0.1 * sr), dtype=np.float32)]
    for w in words:
        parts.append((0.3 * np.sin(2 * np.pi * _FREQ[w] * t)).astype(np.float32))
        parts.append(np.zeros(int(0.1 * sr), dtype=np.float32))
    x = np.concatenate(parts)
    if rng is not None:
        x = x + 0.003 * rng.standard_normal(x.shape).astype(np.float32)
    return x


def make_tone_corpus(out_dir: Path, n: int = 16, seed: int = 0) -> Path:
    """Write ``n`` utterances (wavs under ``out_dir/wav``) and the data dir ``out_dir/data``."""
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    wav_dir = out_dir / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    wav_scp, utt2spk, text, utt2dur = {}, {}, {}, {}
    for i in range(n):
        words = [("LOW", "HIGH")[int(b)] for b in rng.integers(0, 2, size=int(rng.integers(2, 5)))]
        uid = f"spk1-utt{i:03d}"
        x = _render(words, rng=rng)
        path = wav_dir / f"{uid}.wav"
        sf.write(path, x, 16000, subtype="PCM_16")
        wav_scp[uid], utt2spk[uid], text[uid] = str(path), "spk1", " ".join(words)
        utt2dur[uid] = len(x) / 16000
    data = out_dir / "data"
    DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text, utt2dur=utt2dur).save(data)
    return data


DEBUG_ASR_YAML = """\
task: asr
seed: 1234
__set_seed: !apply:speechbrain.utils.seed.seed_everything [!ref <seed>]
output_folder: !PLACEHOLDER
train_data: !PLACEHOLDER
valid_data: !PLACEHOLDER
token_dir: !PLACEHOLDER
cmvn_stats: !PLACEHOLDER
tokenizer: !apply:speechproc.text.tokenizer.load_tokenizer [!ref <token_dir>]
vocab_size: !apply:getattr [!ref <tokenizer>, vocab_size]
blank_index: 0
number_of_epochs: 4
epoch_counter: !new:speechbrain.utils.epoch_loop.EpochCounter
    limit: !ref <number_of_epochs>
min_duration: 0.0
max_duration: null
max_train_utts: null
max_valid_utts: null
train_dataloader_opts:
    batch_seconds: 3.5
    num_buckets: 2
valid_dataloader_opts:
    batch_seconds: 30
    num_buckets: 1
grad_accumulation_factor: 1
max_grad_norm: 5.0
ctc_weight: 0.3
label_smoothing: 0.0
best_key: loss
best_mode: min
keep_checkpoints: 10
average_n: 2
snapshot_epochs: []
lr: 0.003
warmup_steps: 10
opt_class: !name:torch.optim.Adam
    lr: !ref <lr>
lr_scheduler: !new:speechbrain.nnet.schedulers.NoamScheduler
    lr_initial: !ref <lr>
    n_warmup_steps: !ref <warmup_steps>
spec_augment: []
model: !new:speechproc.models.asr.ConformerASR
    vocab_size: !ref <vocab_size>
    input_size: 80
    d_model: 32
    nhead: 2
    num_encoder_layers: 1
    num_decoder_layers: 1
    d_ffn: 64
    dropout: 0.0
    kernel_size: 5
    attention_type: regularMHA
    subsampling_channels: 4
normalize: !apply:speechproc.features.cmvn.GlobalCMVN.from_stats [!ref <cmvn_stats>]
modules:
    model: !ref <model>
    normalize: !ref <normalize>
"""


def debug_asr_yaml(path: Path) -> Path:
    """Write the tiny ASR training config to ``path``."""
    Path(path).write_text(DEBUG_ASR_YAML, encoding="utf-8")
    return Path(path)


def prepare_tone_experiment(root: Path, n: int = 16) -> Dict[str, str]:
    """Data dir, word tokenizer, CMVN stats and config under ``root``; returns the train overrides."""
    from speechproc.features.cmvn import compute_cmvn_stats
    from speechproc.text.tokenizer import train_tokenizer

    root = Path(root)
    data = make_tone_corpus(root / "corpus", n)
    tok = train_tokenizer(["LOW HIGH"], "word")
    tok.save(root / "token")
    compute_cmvn_stats(data).save(root / "cmvn.npz")
    conf = debug_asr_yaml(root / "train.yaml")
    return {"config": str(conf), "train_data": str(data), "valid_data": str(data), "token_dir": str(root / "token"),
            "cmvn_stats": str(root / "cmvn.npz")}


def train_argv(exp: Dict[str, str], out: Path, *extra: str) -> Tuple[str, ...]:
    """Command-line arguments of ``speechproc.bin.train`` for :func:`prepare_tone_experiment`'s output."""
    args = [exp["config"], "--output_folder", str(out)]
    for k in ("train_data", "valid_data", "token_dir", "cmvn_stats"):
        args += [f"--{k}", exp[k]]
    return tuple(args) + tuple(extra)


def streaming_asr_yaml(path: Path) -> Path:
    """The tiny ASR config with relative positions and dynamic chunk training (a streaming model)."""
    text = DEBUG_ASR_YAML.replace("    attention_type: regularMHA\n", """    attention_type: RelPosMHAXL
    dynamic_chunk: !new:speechbrain.utils.dynamic_chunk_training.DynChunkTrainConfigRandomSampler
        chunkwise_prob: 0.6
        chunk_size_min: 2
        chunk_size_max: 8
        limited_left_context_prob: 0.5
        left_context_chunks_min: 1
        left_context_chunks_max: 4
""")
    assert "dynamic_chunk" in text
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)
