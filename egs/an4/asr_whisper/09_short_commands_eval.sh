#!/usr/bin/env bash
# short commands: zero-shot Whisper, the fine-tuned models and the Conformer on whole test utterances, one-word clips and clips without speech (README section short_commands)
# outputs: exp/short_commands${profile_suffix}/RESULTS.md
sfx=""; [ "$profile" = quick ] && sfx=_quick
aexp=${align_exp:-../asr/exp/asr_conformer$profile_suffix}
out=exp/short_commands$sfx
for s in test test_words test_words_8k nonspeech; do
  d=data/$s$sfx; [ "$s" = nonspeech ] && d=data/nonspeech
  python -m speechproc.bin.whisper_decode --backend faster-whisper --model "$whisper" "$d" "$out/zeroshot_faster_whisper/decode_$s"
  for st in $strategies; do
    python -m speechproc.bin.decode_asr --exp-dir "exp/finetune_$st" --data "$d" --config conf/decode.yaml \
      --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" $decode_args "$out/finetune_$st/decode_$s"
  done
  python -m speechproc.bin.decode_asr --exp-dir "$aexp" --data "$d" --config "$conformer_decode_config" \
    --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" "$out/conformer/decode_$s"
  [ "$s" = nonspeech ] && continue
  for sys in zeroshot_faster_whisper conformer $(for st in $strategies; do echo finetune_$st; done); do
    python -m speechproc.bin.score_asr --ref "$d/text" --hyp "$out/$sys/decode_$s/text" "$out/$sys/decode_$s"
    python -m speechproc.bin.score_asr --ref "$d/text" --hyp "$out/$sys/decode_$s/text" --normalize whisper_en "$out/$sys/decode_${s}_whisper_en"
  done
done
readme=(); [ "$profile" = quick ] || readme=(--readme README.md --section short_commands)
python -m speechproc.bin.make_results "$out" --short-commands-table test test_words test_words_8k nonspeech=nonspeech "${readme[@]}"
