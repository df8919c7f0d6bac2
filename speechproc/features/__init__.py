"""Acoustic features: Kaldi-compatible fbank (:mod:`.fbank`) and global CMVN (:mod:`.cmvn`)."""
from speechproc.features.cmvn import CMVNStats, GlobalCMVN, compute_cmvn_stats, load_cmvn_stats
from speechproc.features.fbank import (
    Fbank,
    FbankConfig,
    FeatureStore,
    compute_fbank,
    dump_fbank,
    fbank_of_utt,
    load_fbank_config,
    num_frames,
)

__all__ = [
    "CMVNStats",
    "GlobalCMVN",
    "compute_cmvn_stats",
    "load_cmvn_stats",
    "Fbank",
    "FbankConfig",
    "FeatureStore",
    "compute_fbank",
    "dump_fbank",
    "fbank_of_utt",
    "load_fbank_config",
    "num_frames",
]
