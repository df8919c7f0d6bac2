"""Voice-conversion models: :class:`Seq2SeqVC` (Tacotron-style source mel -> target mel) and
:class:`ContentDecoder` (recognition-synthesis: content + log-F0 -> target mel)."""
from speechproc.models.vc.recsynth import ContentDecoder
from speechproc.models.vc.seq2seq import Seq2SeqVC, init_from

__all__ = ["Seq2SeqVC", "ContentDecoder", "init_from"]
