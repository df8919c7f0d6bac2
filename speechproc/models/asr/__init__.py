"""ASR models: one file per architecture."""
from speechproc.models.asr.conformer import ConformerASR, Conv2dSubsampling
from speechproc.models.asr.ctc import ctc_greedy_ids

__all__ = ["ConformerASR", "Conv2dSubsampling", "ctc_greedy_ids"]
