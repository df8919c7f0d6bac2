#!/usr/bin/env bash
# short commands: zero-shot Whisper, the fine-tuned models (with and without word clips) and the Conformer on whole test utterances, one-word clips and clips without speech (README section short_commands)
# outputs: exp/short_commands${profile_suffix}/RESULTS.md
sfx=""; [ "$profile" = quick ] && sfx=_quick
cexp=${conformer_exp:-../asr/exp/asr_conformer$profile_suffix}
out=exp/short_commands$sfx
models=""
for st in $strategies $(for w in $word_strategies; do echo "${w}_words"; done); do
  if [ -f "exp/finetune_$st/model.pt" ]; then models="$models finetune_$st"; fi
done
for s in test test_words test_words_8k nonspeech; do
  d=data/$s$sfx; [ "$s" = nonspeech ] && d=data/nonspeech
  python -m speechproc.bin.whisper_decode --backend faster-whisper --model "$whisper" "$d" "$out/zeroshot_faster_whisper/decode_$s"
  for m in $models; do
    conf=conf/decode.yaml; case $m in *_words) conf=conf/decode_words.yaml ;; esac
    python -m speechproc.bin.decode_asr --exp-dir "exp/$m" --data "$d" --config "$conf" \
      --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" $decode_args "$out/$m/decode_$s"
  done
  systems="zeroshot_faster_whisper $models"
  if [ -f "$cexp/model.pt" ]; then   # the AN4 Conformer of egs/an4/asr, where it has been trained
    python -m speechproc.bin.decode_asr --exp-dir "$cexp" --data "$d" --config "$conformer_decode_config" \
      --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" "$out/conformer/decode_$s"
    systems="$systems conformer"
  fi
  [ "$s" = nonspeech ] && continue
  for sys in $systems; do
    python -m speechproc.bin.score_asr --ref "$d/text" --hyp "$out/$sys/decode_$s/text" "$out/$sys/decode_$s"
    python -m speechproc.bin.score_asr --ref "$d/text" --hyp "$out/$sys/decode_$s/text" --normalize whisper_en "$out/$sys/decode_${s}_whisper_en"
  done
done
readme=(); [ "$profile" = quick ] || readme=(--readme README.md --section short_commands)
python -m speechproc.bin.make_results "$out" --short-commands-table test test_words test_words_8k nonspeech=nonspeech "${readme[@]}"
