"""Voice conversion on parallel data.

Method 1, frame-level feature transform (:mod:`speechproc.vc.convert`): DTW-aligned mel-cepstra
(:mod:`speechproc.vc.features`), a joint-density GMM with MLPG (:mod:`speechproc.vc.gmm`) or a small
DNN (:mod:`speechproc.vc.dnn`), the log-F0 mean shift, and resynthesis by differential spectral
filtering of the source. Inference: ``VoiceConverter.from_pretrained(exp_dir)(wave, sample_rate)``.
Evaluation: :mod:`speechproc.score.vc`.
"""
from speechproc.vc.convert import METHODS, VoiceConverter, convert_data_dir, train_voice_converter

__all__ = ["METHODS", "VoiceConverter", "convert_data_dir", "train_voice_converter"]
