"""Language models: one file per architecture."""
from speechproc.models.lm.transformer import TransformerLM

__all__ = ["TransformerLM"]
