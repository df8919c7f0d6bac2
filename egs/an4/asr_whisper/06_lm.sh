#!/usr/bin/env bash
# LM for n-best rescoring: BPE $lm_nbpe token LM on the Whisper-normalised training transcripts into exp/lm_whisper_en${profile_suffix}
# outputs: exp/lm_whisper_en${profile_suffix}/model.pt
sfx=""; [ "$profile" = quick ] && sfx=_quick
case "$profile" in quick) config=conf/train_lm_debug.yaml ;; *) config=conf/train_lm.yaml ;; esac
for s in "$train_set" "$valid_set"; do
  python -m speechproc.bin.normalize_text --normalize whisper_en "data/$s$sfx" "data/${s}_whisper_en$sfx"
done
python -m speechproc.bin.train_tokenizer --type bpe --vocab-size "$lm_nbpe" "data/${train_set}_whisper_en$sfx" \
  "data/token/whisper_en_bpe$lm_nbpe$sfx"
python -m speechproc.bin.train "$config" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/lm_whisper_en$profile_suffix" --token_dir "data/token/whisper_en_bpe$lm_nbpe$sfx" \
  --train_text "data/${train_set}_whisper_en$sfx" --valid_text "data/${valid_set}_whisper_en$sfx" $lm_args
