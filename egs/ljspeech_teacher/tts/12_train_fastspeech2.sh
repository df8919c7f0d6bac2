#!/usr/bin/env bash
# FastSpeech 2 training on those durations ($fs2_config) into exp/$fs2_exp (synthesis vocoder by default: exp/${voc_exp}_multi, stage 23)
# outputs: exp/$fs2_exp/model.pt
a="exp/$tts_exp${align_epoch:+/snapshots/epoch$align_epoch}"
python -m speechproc.bin.train "$fs2_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$fs2_exp" --train_data dump/train --valid_data dump/dev \
  --train_durations "$a/durations/train/durations" --valid_durations "$a/durations/dev/durations" \
  --token_dir data/token/char --cmvn_stats dump/train/cmvn.npz --pitch_stats dump/train/pitch_stats.json \
  --vocoder_checkpoint "exp/${voc_exp}_multi"
