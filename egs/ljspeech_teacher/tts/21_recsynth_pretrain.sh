#!/usr/bin/env bash
# recognition-synthesis VC decoder pre-trained on the teacher corpus: Whisper $content_whisper encoder layer $content_layer
# states + log-F0 of train/dev (dump/{train,dev}_content), then Whisper content -> teacher log-mel ($recsynth_config) into exp/$recsynth_exp
# outputs: exp/$recsynth_exp/model.pt
for s in train dev; do
  python -m speechproc.bin.compute_content --whisper "$content_whisper" --layer "$content_layer" --mel-config conf/mel.yaml \
    --nj "$nj" "data/$s" "dump/${s}_content"
done
python -m speechproc.bin.train "$recsynth_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$recsynth_exp" --train_data dump/train_content --train_mel dump/train \
  --valid_data dump/dev_content --valid_mel dump/dev --cmvn_stats dump/train/cmvn.npz \
  --vocoder_checkpoint "$(pwd)/exp/$voc_exp" $recsynth_train_args
