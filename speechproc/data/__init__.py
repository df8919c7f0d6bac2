"""Data handling: Kaldi-style data dirs (:mod:`.datadir`), audio reading (:mod:`.audio`), corpus
preparation (:mod:`.corpora`)."""
from speechproc.data.audio import AudioError, AudioInfo, audio_info, read_audio, resample
from speechproc.data.datadir import DataDir, Segment

__all__ = ["AudioError", "AudioInfo", "DataDir", "Segment", "audio_info", "read_audio", "resample"]
