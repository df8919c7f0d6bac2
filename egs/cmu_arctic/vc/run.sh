#!/usr/bin/env bash
# CMU ARCTIC voice conversion: parallel source -> target speaker (clb -> slt by default).
# Stages:
#   1  data preparation: data/<src>_{train,eval}, data/<tgt>_{train,eval} (parallel ids) with utt2dur
#   2  training: method 1 (frame-level feature transform), one model per method of $methods
#      (gmm: joint-density GMM + MLPG; dnn: frame DNN + MLPG; identity: F0 shift only) -> exp/$profile/<src>_<tgt>_<method>
#   3  conversion of the source's evaluation utterances (differential spectral filter, pitch-shifted source)
#   4  evaluation: no conversion vs each method -> exp/$profile/RESULTS_<src>_<tgt>.md (judge CER against the transcripts)
. "$(dirname "$0")/../../../tools/recipe.sh"

src_spk=clb              # source speaker
tgt_spk=slt              # target speaker
methods="gmm dnn"        # mappings to train, convert and evaluate (gmm dnn identity); conf/vc_<method>[_quick].yaml
max_utts=                # use the first N training/evaluation utterances (empty: all; --profile quick: 5 train, 3 eval)
train_opts=              # extra train_vc options, e.g. "--set gmm.n_mix=16"
judge_backend=faster-whisper  # Whisper judge backend (faster-whisper, hf) or none
eval_opts=               # extra evaluate_vc options, e.g. "--no-f0" or "--speaker-exp DIR"
recipe_main "$@"
