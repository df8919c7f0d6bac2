#!/usr/bin/env bash
# training: one converter per method of $methods into exp/$profile/<src>_<tgt>_<method> (method 1: train_vc with conf/vc_<method>.yaml; seq2seq: the shared trainer, task vc; recsynth: the teacher-corpus content decoder adapted to the target, task recsynth)
# outputs: $(for m in $methods; do { [ "$m" = seq2seq ] || [ "${m#recsynth}" != "$m" ]; } && echo "exp/$profile/${src_spk}_${tgt_spk}_$m/model.pt" || echo "exp/$profile/${src_spk}_${tgt_spk}_$m/vc.json"; done)
case "$profile" in quick) suffix=_quick; n=${max_utts:-5} ;; *) suffix=; n=${max_utts:-0} ;; esac
for m in $methods; do
  exp="exp/$profile/${src_spk}_${tgt_spk}_$m"
  if [ "$m" = recsynth ] || [ "${m#recsynth_n}" != "$m" ]; then
    # method 3: the target's log-mel (the vocoder's settings) and content dumps, then the pre-trained decoder adapted;
    # recsynth_n<N>: adapted on the first N target clips only (a data curve; conf/vc_recsynth.yaml either way)
    s="${tgt_spk}_train"
    k=$n; [ "$m" = recsynth ] || k=${m#recsynth_n}
    init=${recsynth_init:-}
    [ -n "$init" ] || { [ "$profile" = quick ] && init=null || init=../../ljspeech_teacher/tts/exp/recsynth/model.pt; }
    if [ "$init" != null ] && [ ! -f "$init" ]; then
      echo "recsynth: pre-trained decoder $init not found; run egs/ljspeech_teacher/tts stages 1-3 and 21 first" >&2; exit 1
    fi
    like=(--whisper tiny.en --layer 4); [ "$init" = null ] || like=(--like "$(dirname "$init")")
    if [ "$force" = true ] || [ ! -f "dump/$s/cmvn.npz" ] || ! cmp -s "data/$s/utt2spk" "dump/$s/utt2spk"; then
      python -m speechproc.bin.compute_mel --nj "$nj" "data/$s" "dump/$s"
      python -m speechproc.bin.compute_cmvn_stats "dump/$s" "dump/$s/cmvn.npz"
    fi
    if [ "$force" = true ] || [ ! -f "dump/${s}_content/content.json" ] || ! cmp -s "data/$s/utt2spk" "dump/${s}_content/utt2spk"; then
      python -m speechproc.bin.compute_content "${like[@]}" --nj "$nj" "data/$s" "dump/${s}_content"
    fi
    voc=null; [ "$vocoder_exp" = none ] || [ "$profile" = quick ] || voc=$(realpath -m "$vocoder_exp")
    [ "$force" = true ] && rm -rf "$exp"
    python -m speechproc.bin.train "conf/vc_recsynth${suffix}.yaml" --output_folder "$exp" \
      --train_data "dump/${s}_content" --train_mel "dump/$s" --valid_data "dump/${s}_content" --valid_mel "dump/$s" \
      --cmvn_stats "dump/$s/cmvn.npz" --init_model "$init" --vocoder_checkpoint "$voc" \
      $([ "$k" -gt 0 ] && echo "--max_train_utts $k") $recsynth_opts
    if [ "$voc" != null ] && [ "$voc_ft_epochs" -gt 0 ]; then
      # the vocoder fine-tuned on the adapted decoder's predictions of the same clips (ground-truth aligned) -> $exp/vocoder
      python -m speechproc.bin.predict_mel --exp-dir "$exp" --nj "$nj" "data/$s" "$exp/gta_$s"
      python -m speechproc.bin.train "$voc_config" --output_folder "$exp/vocoder" --train_data "$exp/gta_$s" \
        --valid_data "$exp/gta_$s" --init_model "$voc/model.pt" --number_of_epochs "$voc_ft_epochs" --lr "$voc_ft_lr" \
        $([ "$k" -gt 0 ] && echo "--max_train_utts $k")
    fi
    continue
  fi
  if [ "$m" != seq2seq ]; then
    python -m speechproc.bin.train_vc --src "data/${src_spk}_train" --tgt "data/${tgt_spk}_train" \
      --config "conf/vc_${m}${suffix}.yaml" --max-utts "$n" $([ "$force" = true ] && echo --force) $train_opts "$exp"
    continue
  fi
  # method 2: TTS log-mel dumps (22.05 kHz, 80 bins) and CMVN stats of both speakers, then the shared trainer
  for s in "${src_spk}_train" "${tgt_spk}_train"; do
    # (re)dump when forced, missing, or made for another pair (stage 1 rewrites the dirs of the chosen pair)
    if [ "$force" = true ] || [ ! -f "dump/$s/cmvn.npz" ] || ! cmp -s "data/$s/utt2spk" "dump/$s/utt2spk"; then
      python -m speechproc.bin.compute_mel --nj "$nj" "data/$s" "dump/$s"
      python -m speechproc.bin.compute_cmvn_stats "dump/$s" "dump/$s/cmvn.npz"
    fi
  done
  [ "$force" = true ] && rm -rf "$exp"
  init=${init_tts:-}
  if [ -z "$init" ] && [ "$profile" != quick ]; then  # the LJSpeech overfit model, else that recipe's default exp
    init=../../ljspeech/tts/exp/tacotron2_overfit/model.pt
    [ -f "$init" ] || [ ! -f ../../ljspeech/tts/exp/tacotron2/model.pt ] || init=../../ljspeech/tts/exp/tacotron2/model.pt
    echo "seq2seq: initialising from $init"
  fi
  python -m speechproc.bin.train "conf/vc_${m}${suffix}.yaml" --output_folder "$exp" \
    --src_train_data "dump/${src_spk}_train" --tgt_train_data "dump/${tgt_spk}_train" \
    --src_valid_data "dump/${src_spk}_train" --tgt_valid_data "dump/${tgt_spk}_train" \
    --src_cmvn "dump/${src_spk}_train/cmvn.npz" --tgt_cmvn "dump/${tgt_spk}_train/cmvn.npz" \
    --init_tts "${init:-null}" $([ "$n" -gt 0 ] && echo "--max_train_utts $n") $seq2seq_opts
done
