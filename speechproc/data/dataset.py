"""Data dir -> batches: SpeechBrain datasets with length-sorted dynamic batching by duration.

An ASR example holds the utterance id, its fbank features ``(T, D)`` (read from a feature dump
when the dir has a ``feats.scp``, else computed on the fly from ``wav.scp`` with Kaldi fbank),
its duration in seconds, the reference text and its token ids (``tokens``, ``tokens_bos`` =
``<sos/eos>`` + tokens, ``tokens_eos`` = tokens + ``<sos/eos>``).

Batches are built by :func:`make_dataloader`: a :class:`~speechbrain.dataio.sampler.DynamicBatchSampler`
groups utterances of similar duration so that each batch holds at most ``batch_seconds`` of audio;
:class:`~speechbrain.dataio.batch.PaddedBatch` pads them (batch first) and gives relative lengths.

>>> ds = make_asr_dataset("data/train", tokenizer)        # doctest: +SKIP
>>> loader = make_dataloader(ds, batch_seconds=200)        # doctest: +SKIP
>>> batch = next(iter(loader)); batch.feats.data.shape      # doctest: +SKIP
torch.Size([12, 1503, 80])
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.dataloader import make_dataloader as sb_make_dataloader
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.dataio.sampler import DynamicBatchSampler

from speechproc.utils import PathLike, SpeechprocError

__all__ = [
    "load_data_dir",
    "utterance_durations",
    "make_asr_dataset",
    "make_text_dataset",
    "make_dataloader",
    "make_batch_sampler",
]

logger = logging.getLogger(__name__)



def load_data_dir(path: PathLike):
    """Load (and validate) the Kaldi data dir ``path`` as a :class:`~speechproc.data.datadir.DataDir`."""
    from speechproc.data.datadir import DataDir

    path = Path(path)
    if not path.is_dir():
        raise SpeechprocError(f"{path}: data dir not found; run the data preparation stage first")
    return DataDir.load(path)


def utterance_durations(path: PathLike, data=None) -> Dict[str, float]:
    """Duration in seconds of every utterance of data (or dump) dir ``path``.

    Uses ``utt2dur``; else ``utt2num_frames`` with the dump's frame shift; else reads the audio headers.
    """
    path = Path(path)
    data = data if data is not None else load_data_dir(path)
    if data.utt2dur is not None:
        return dict(data.utt2dur)
    if (path / "utt2num_frames").is_file():
        from speechproc.features.fbank import FeatureStore

        store = FeatureStore(path)
        shift = (store.config.frame_shift if store.config else 10.0) / 1000.0
        return {u: store.num_frames(u) * shift for u in data.utts}
    logger.info("%s has no utt2dur: reading audio headers (run compute_utt2dur to avoid this)", path)
    return dict(data.with_utt2dur().utt2dur)


def make_asr_dataset(
    path: PathLike,
    tokenizer=None,
    fbank_config=None,
    min_duration: float = 0.0,
    max_duration: Optional[float] = None,
    sort: Optional[str] = None,
    max_utts: Optional[int] = None,
    input: str = "fbank",
) -> DynamicItemDataset:
    """Dataset of a data dir (or feature dump dir) for ASR training or decoding.

    Args:
        path: data dir; features come from its ``feats.scp`` if present, else from its audio.
        tokenizer: a :class:`speechproc.text.tokenizer.Tokenizer`; without it (or without a ``text``
            file) the token items are absent.
        fbank_config: :class:`~speechproc.features.fbank.FbankConfig` for on-the-fly features
            (default: the dump's ``fbank.json`` or 80-dim Kaldi fbank at 16 kHz).
        min_duration / max_duration: keep utterances within these durations (seconds).
        sort: None, "ascending" or "descending" by duration (for decoding with little padding).
        max_utts: keep only the first ``max_utts`` utterances (C-sorted ids), for debugging.
        input: ``fbank`` (features as above) or ``wave`` (``feats`` is the waveform ``(T,)`` at
            ``fbank_config.sample_rate``, 16 kHz by default: for pretrained models with their own
            front end, e.g. Whisper or wav2vec2).

    Returns:
        a DynamicItemDataset with items ``id feats duration text tokens tokens_bos tokens_eos``;
        ``feats`` is a float tensor ``(T, D)``, token items are long tensors.
    """
    from speechproc.features.fbank import FbankConfig, FeatureStore, compute_fbank

    path = Path(path)
    data = load_data_dir(path)
    durations = utterance_durations(path, data)
    utts = data.utts if max_utts is None else data.utts[:max_utts]
    if input not in ("fbank", "wave"):
        raise SpeechprocError(f"input '{input}' unknown; use fbank or wave")
    store = FeatureStore(path) if input == "fbank" and (path / "feats.scp").is_file() else None
    if store is not None and fbank_config is None:
        fbank_config = store.config
    config = fbank_config or FbankConfig()
    texts = data.text
    if tokenizer is not None and texts is None:
        logger.warning("%s has no text file: token items are not available", path)
    elif tokenizer is not None and hasattr(tokenizer, "report_unknown"):
        tokenizer.report_unknown(texts, str(path))

    kept = [u for u in utts if durations[u] >= min_duration and (max_duration is None or durations[u] <= max_duration)]
    if len(kept) < len(utts):
        logger.info("%s: kept %d of %d utterances with %.2f <= duration <= %s s", path, len(kept), len(utts),
                    min_duration, max_duration)
    if not kept:
        raise SpeechprocError(f"{path}: no utterance left after the duration filter "
                              f"[{min_duration}, {max_duration}] s; check utt2dur or the filter settings")
    entries = {u: {"duration": float(durations[u])} for u in kept}
    dataset = DynamicItemDataset(entries)

    def feats_of(uid: str) -> torch.Tensor:
        if store is not None:
            if uid not in store:
                raise SpeechprocError(f"{path}/feats.scp: no features for '{uid}'; re-run the feature stage")
            return torch.from_numpy(store[uid].copy())
        wave, _ = data.load_audio(uid, sample_rate=config.sample_rate)
        if input == "wave":
            return torch.from_numpy(wave)
        return compute_fbank(wave, config)

    dataset.add_dynamic_item(feats_of, takes=["id"], provides="feats")
    keys = ["id", "feats", "duration"]
    if texts is not None:
        dataset.add_dynamic_item(lambda uid: texts[uid], takes=["id"], provides="text")
        keys.append("text")
        if tokenizer is not None:
            sos, eos = tokenizer.sos_id, tokenizer.eos_id

            def token_items(text: str):
                ids = tokenizer.encode(text)
                yield torch.LongTensor(ids)
                yield torch.LongTensor([sos] + ids)
                yield torch.LongTensor(ids + [eos])

            dataset.add_dynamic_item(token_items, takes=["text"], provides=["tokens", "tokens_bos", "tokens_eos"])
            keys += ["tokens", "tokens_bos", "tokens_eos"]
    dataset.set_output_keys(keys)
    if sort is not None:
        if sort not in ("ascending", "descending"):
            raise ValueError(f"sort must be None, 'ascending' or 'descending', got {sort!r}")
        dataset = dataset.filtered_sorted(sort_key="duration", reverse=sort == "descending")
    return dataset


def make_text_dataset(texts: Sequence[str], tokenizer, ids: Optional[Sequence[str]] = None) -> DynamicItemDataset:
    """Dataset of sentences for LM training: items ``id tokens_bos tokens_eos length``.

    ``length`` (number of tokens + 1) is what dynamic batching sums for text.
    """
    ids = list(ids) if ids is not None else [f"{i:08d}" for i in range(len(texts))]
    sos, eos = tokenizer.sos_id, tokenizer.eos_id
    entries = {}
    for uid, text in zip(ids, texts):
        tok = tokenizer.encode(text)
        if tok:
            entries[uid] = {"tok": tok, "length": len(tok) + 1}
    if not entries:
        raise SpeechprocError("no non-empty sentence to build an LM dataset from; check the text sources")
    dataset = DynamicItemDataset(entries)
    dataset.add_dynamic_item(lambda tok: torch.LongTensor([sos] + tok), takes=["tok"], provides="tokens_bos")
    dataset.add_dynamic_item(lambda tok: torch.LongTensor(tok + [eos]), takes=["tok"], provides="tokens_eos")
    dataset.set_output_keys(["id", "tokens_bos", "tokens_eos", "length"])
    return dataset


def make_batch_sampler(
    dataset: DynamicItemDataset,
    max_batch_length: float,
    length_key: str = "duration",
    num_buckets: int = 20,
    shuffle: bool = True,
    max_batch_ex: Optional[int] = None,
    seed: int = 1234,
) -> DynamicBatchSampler:
    """Length-sorted dynamic batches: each batch sums at most ``max_batch_length`` of ``length_key``."""
    lengths = [float(dataset.data[uid][length_key]) for uid in dataset.data_ids]
    if max(lengths) > max_batch_length:
        logger.warning("the longest example (%.1f) exceeds max_batch_length %.1f; it gets a batch of its own",
                       max(lengths), max_batch_length)
    return DynamicBatchSampler(
        dataset,
        max_batch_length=max_batch_length,
        num_buckets=min(num_buckets, max(1, len(lengths))),
        lengths_list=lengths,
        shuffle=shuffle,
        batch_ordering="random" if shuffle else "ascending",
        max_batch_ex=max_batch_ex,
        seed=seed,
    )


def make_dataloader(
    dataset: DynamicItemDataset,
    batch_seconds: Optional[float] = None,
    batch_size: Optional[int] = None,
    shuffle: bool = False,
    length_key: str = "duration",
    num_workers: int = 0,
    max_batch_ex: Optional[int] = None,
    num_buckets: int = 20,
    seed: int = 1234,
):
    """DataLoader over ``dataset`` with PaddedBatch collation.

    With ``batch_seconds`` batches are dynamic (sum of ``length_key`` <= ``batch_seconds``);
    otherwise fixed ``batch_size`` (default 1) in dataset order.
    """
    if batch_seconds is not None:
        sampler = make_batch_sampler(dataset, batch_seconds, length_key, num_buckets, shuffle, max_batch_ex, seed)
        return sb_make_dataloader(dataset, batch_sampler=sampler, collate_fn=PaddedBatch, num_workers=num_workers)
    return sb_make_dataloader(dataset, batch_size=batch_size or 1, shuffle=shuffle, collate_fn=PaddedBatch,
                              num_workers=num_workers)


def loader_kwargs(dataset: DynamicItemDataset, opts: Optional[dict], shuffle: bool, length_key: str = "duration") -> dict:
    """Keyword arguments for :meth:`speechbrain.core.Brain.fit` / ``evaluate`` dataloaders.

    ``opts`` (from the yaml): ``batch_seconds`` (or ``max_batch_length``), ``num_buckets``,
    ``max_batch_ex``, ``batch_size``, ``num_workers``, ``seed``.
    """
    opts = dict(opts or {})
    max_len = opts.pop("batch_seconds", opts.pop("max_batch_length", None))
    out: dict = {"collate_fn": PaddedBatch, "num_workers": int(opts.pop("num_workers", 0))}
    if max_len is not None:
        out["batch_sampler"] = make_batch_sampler(
            dataset, float(max_len), length_key, int(opts.pop("num_buckets", 20)), shuffle,
            opts.pop("max_batch_ex", None), int(opts.pop("seed", 1234)))
    else:
        out["batch_size"] = int(opts.pop("batch_size", 1))
        out["shuffle"] = shuffle
    if opts:
        raise SpeechprocError(f"unknown dataloader options {sorted(opts)}; use batch_seconds, num_buckets, "
                              f"max_batch_ex, batch_size, num_workers, seed")
    return out
