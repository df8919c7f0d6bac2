#!/usr/bin/env bash
# speaker adaptation of FastSpeech 2: fine-tune exp/$fs2_exp on the real clips into exp/${fs2_exp}_adapt
# outputs: exp/${fs2_exp}_adapt/model.pt
a="exp/${tts_exp}_adapt"
python -m speechproc.bin.train "$fs2_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/${fs2_exp}_adapt" --train_data dump/lj_train --valid_data dump/lj_dev \
  --train_durations "$a/durations/lj_train/durations" --valid_durations "$a/durations/lj_dev/durations" \
  --token_dir data/token/char --cmvn_stats dump/train/cmvn.npz --init_model "exp/$fs2_exp/model.pt" \
  --number_of_epochs "$adapt_epochs" --lr "$fs2_adapt_lr" --lr_scheduler null \
  --strategy "$fs2_adapt_strategy"
