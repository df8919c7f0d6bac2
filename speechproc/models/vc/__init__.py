"""Voice-conversion models: :class:`Seq2SeqVC` (Tacotron-style source mel -> target mel)."""
from speechproc.models.vc.seq2seq import Seq2SeqVC, init_from

__all__ = ["Seq2SeqVC", "init_from"]
