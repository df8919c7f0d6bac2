"""Text-to-speech acoustic models."""
from speechproc.models.tts.tacotron2 import Tacotron2, Tacotron2Loss

__all__ = ["Tacotron2", "Tacotron2Loss"]
