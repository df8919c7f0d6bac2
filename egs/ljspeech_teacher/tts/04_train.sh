#!/usr/bin/env bash
# acoustic model training on the teacher corpus: Tacotron 2 with guided attention ($tts_config) into exp/$tts_exp
# (and the epoch-$align_epoch model, exported as exp/$tts_exp/snapshots/epoch$align_epoch for the FastSpeech 2 durations)
# outputs: exp/$tts_exp/model.pt
python -m speechproc.bin.train "$tts_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$tts_exp" --train_data dump/train --valid_data dump/dev \
  --token_dir data/token/char --cmvn_stats dump/train/cmvn.npz --snapshot_epochs "[${align_epoch}]" \
  --vocoder_checkpoint "exp/${voc_exp}_multi" $tts_train_args
