#!/usr/bin/env bash
# FastSpeech 2 token durations from the teacher-forced attention of Tacotron 2 run exp/$align_exp (default $tts_exp)
# outputs: exp/${align_exp:-$tts_exp}/durations/train/durations exp/${align_exp:-$tts_exp}/durations/dev/durations
a="exp/${align_exp:-$tts_exp}"
python -m speechproc.bin.extract_durations --exp-dir "$a" dump/train "$a/durations/train" dump/dev "$a/durations/dev"
