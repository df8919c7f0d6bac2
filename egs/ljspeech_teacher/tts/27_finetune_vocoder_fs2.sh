#!/usr/bin/env bash
# GAN vocoder exp/${voc_exp}_multi fine-tuned on FastSpeech 2's ground-truth-aligned mels of the training sentences ($voc_gta_epochs epochs, checkpoint chosen on those of the dev sentences) into exp/${voc_exp}_fs2
# outputs: exp/${voc_exp}_fs2/model.pt
a="exp/$tts_exp${align_epoch:+/snapshots/epoch$align_epoch}/durations"
python -m speechproc.bin.finetune_vocoder --exp-dir "exp/$fs2_exp" --nj "$nj" \
  --train data/train --train-durations "$a/train/durations" --valid data/dev --valid-durations "$a/dev/durations" \
  --init "exp/${voc_exp}_multi" --config "$voc_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --number_of_epochs "$voc_gta_epochs" --lr "$voc_gta_lr" "exp/${voc_exp}_fs2"
