"""Pretrained models from offline weights: CTranslate2 ``model.bin`` I/O (:mod:`.ctranslate2`) and
Whisper conversion to a ``transformers`` checkpoint (:mod:`.whisper`)."""
from speechproc.models.pretrained.ctranslate2 import CT2Model, read_ct2_model, write_ct2_model
from speechproc.models.pretrained.whisper import PACKAGED_MODELS, convert_ct2_whisper, resolve_whisper

__all__ = ["CT2Model", "PACKAGED_MODELS", "convert_ct2_whisper", "read_ct2_model", "resolve_whisper", "write_ct2_model"]
