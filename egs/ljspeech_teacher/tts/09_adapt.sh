#!/usr/bin/env bash
# speaker adaptation: fine-tune exp/$tts_exp on the real clips ($adapt_epochs epochs, lr $tts_adapt_lr, $tts_adapt_strategy) into exp/${tts_exp}_adapt
# outputs: exp/${tts_exp}_adapt/model.pt
python -m speechproc.bin.train "$tts_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/${tts_exp}_adapt" --train_data dump/lj_train --valid_data dump/lj_dev \
  --token_dir data/token/char --cmvn_stats dump/train/cmvn.npz --init_model "exp/$tts_exp/model.pt" \
  --number_of_epochs "$adapt_epochs" --lr "$tts_adapt_lr" --strategy "$tts_adapt_strategy"
