#!/usr/bin/env bash
# FastSpeech 2 token durations from the teacher-forced attention of Tacotron 2 (exp/$tts_exp at epoch $align_epoch)
# outputs: exp/$tts_exp${align_epoch:+/snapshots/epoch$align_epoch}/durations/train/durations exp/$tts_exp${align_epoch:+/snapshots/epoch$align_epoch}/durations/dev/durations
a="exp/$tts_exp${align_epoch:+/snapshots/epoch$align_epoch}"
if [ ! -f "$a/model.pt" ]; then
  echo "11_durations.sh: $a/model.pt not found: stage 4 exports epoch $align_epoch only when training reaches it" \
    "(number_of_epochs in $tts_config); run stage 4, or pass --align-epoch N with N <= its epochs, or" \
    "--align-epoch '' for the final model" >&2
  exit 1
fi
python -m speechproc.bin.extract_durations --exp-dir "$a" dump/train "$a/durations/train" dump/dev "$a/durations/dev"
