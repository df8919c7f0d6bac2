#!/usr/bin/env bash
# GAN vocoder exp/${voc_exp}_multi fine-tuned on FastSpeech 2's ground-truth-aligned mels of the training sentences ($voc_gta_epochs epochs) into exp/${voc_exp}_fs2
# outputs: exp/${voc_exp}_fs2/model.pt
a="exp/$tts_exp${align_epoch:+/snapshots/epoch$align_epoch}/durations"
python -m speechproc.bin.predict_mel --exp-dir "exp/$fs2_exp" --durations "$a/train/durations" --nj "$nj" \
  data/train "exp/$fs2_exp/gta_train"
python -m speechproc.bin.train "$voc_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/${voc_exp}_fs2" --train_data "exp/$fs2_exp/gta_train" --valid_data dump/dev \
  --init_model "exp/${voc_exp}_multi/model.pt" --number_of_epochs "$voc_gta_epochs" --lr "$voc_gta_lr"
