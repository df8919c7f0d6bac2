#!/usr/bin/env bash
# GAN vocoder exp/${voc_exp}_multi fine-tuned on FastSpeech 2's ground-truth-aligned mels of the training sentences ($voc_gta_epochs epochs, checkpoint chosen on those of the dev sentences) into exp/${voc_exp}_fs2
# outputs: exp/${voc_exp}_fs2/model.pt
a="exp/$tts_exp${align_epoch:+/snapshots/epoch$align_epoch}/durations"
for s in train dev; do
  python -m speechproc.bin.predict_mel --exp-dir "exp/$fs2_exp" --durations "$a/$s/durations" --nj "$nj" \
    "data/$s" "exp/$fs2_exp/gta_$s"
done
python -m speechproc.bin.train "$voc_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/${voc_exp}_fs2" --train_data "exp/$fs2_exp/gta_train" --valid_data "exp/$fs2_exp/gta_dev" \
  --init_model "exp/${voc_exp}_multi/model.pt" --number_of_epochs "$voc_gta_epochs" --lr "$voc_gta_lr"
