"""Text-to-speech acoustic models."""
from speechproc.models.tts.fastspeech2 import FastSpeech2, FastSpeech2Loss
from speechproc.models.tts.tacotron2 import Tacotron2, Tacotron2Loss

__all__ = ["FastSpeech2", "FastSpeech2Loss", "Tacotron2", "Tacotron2Loss"]
