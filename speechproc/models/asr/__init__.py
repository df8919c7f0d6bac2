"""ASR models: one file per architecture."""
from speechproc.models.asr.conformer import ConformerASR, Conv2dSubsampling

__all__ = ["ConformerASR", "Conv2dSubsampling"]
