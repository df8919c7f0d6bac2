#!/usr/bin/env bash
# FastSpeech 2 speaker adaptation compared: each of $fs2_adapt_compare (conf/adapt_methods.yaml: decoder, full, lora, adapters) fine-tunes exp/$fs2_exp on the 25 real clips (best of $adapt_epochs epochs on the 3 dev clips) into exp/${fs2_exp}_adapt_<name>; stage 30 scores them
# outputs: $(for m in $fs2_adapt_compare; do echo "exp/${fs2_exp}_adapt_$m/model.pt"; done)
a="exp/${tts_exp}_adapt"
for m in $fs2_adapt_compare; do
  python -m speechproc.bin.train "$fs2_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
    --overrides "conf/adapt_methods.yaml:$m" --output_folder "exp/${fs2_exp}_adapt_$m" \
    --train_data dump/lj_train --valid_data dump/lj_dev \
    --train_durations "$a/durations/lj_train/durations" --valid_durations "$a/durations/lj_dev/durations" \
    --token_dir data/token/char --cmvn_stats dump/train/cmvn.npz --init_model "exp/$fs2_exp/model.pt" \
    --number_of_epochs "$adapt_epochs"
done
