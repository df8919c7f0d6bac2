#!/usr/bin/env bash
# LJSpeech text-to-speech (single female speaker, 22.05 kHz).
# Stages:
#   1  data preparation: data/{all,train,eval} with utt2dur
#   2  text cleaning and token list: english cleaner, characters (data/token/char)
#   3  mel features: 80-bin log-mel dumps (dump/) + normalisation stats of the training set
#   4  acoustic model training: Tacotron 2 with guided attention (exp/$tts_exp)
#   5  synthesis: free-running Tacotron 2 + vocoder for each set of $synth_sets
#   6  evaluation: MCD, F0 RMSE/correlation, Whisper-judge CER/WER vs natural speech
. "$(dirname "$0")/../../../tools/recipe.sh"

train_set=train                        # training data dir (data/<set>); "all" for the overfit check
valid_set=eval                         # validation data dir
tts_config=""                          # training config; empty: conf/train_tacotron2.yaml (full) or conf/train_tacotron2_debug.yaml (quick)
tts_exp=tacotron2                      # experiment name (exp/<name>)
synth_sets=eval                        # data dirs to synthesize and evaluate (space-separated)
vocoder=griffin_lim                    # griffin_lim (hifigan needs a trained checkpoint)
judge_backend=faster-whisper           # Whisper judge backend (faster-whisper, hf) or none
eval_opts=                             # extra evaluate_tts options, e.g. "--no-f0"
recipe_main "$@"
