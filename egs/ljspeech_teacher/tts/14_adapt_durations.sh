#!/usr/bin/env bash
# FastSpeech 2 durations of the real clips from the adapted Tacotron 2 (exp/${tts_exp}_adapt, stage 9)
# outputs: exp/${tts_exp}_adapt/durations/lj_train/durations exp/${tts_exp}_adapt/durations/lj_dev/durations
a="exp/${tts_exp}_adapt"
python -m speechproc.bin.extract_durations --exp-dir "$a" \
  dump/lj_train "$a/durations/lj_train" dump/lj_dev "$a/durations/lj_dev"
