#!/usr/bin/env bash
# FastSpeech 2 adaptations (stage 26) and their interpolations (stage 29) on the 4 held-out clips with the multi-speaker vocoder, before and after: judge CER, MCD, speaker similarity, DistillMOS (exp/result_adapt_{compare,wise}.md, README)
# outputs: exp/result_adapt_compare.md exp/result_adapt_wise.md
python -m speechproc.bin.benchmark_tts conf/benchmark/adapt_compare.yaml ${readme:+--readme "$readme"} \
  --judge-backend "$judge_backend" --eval-opts="$eval_opts" --fs2_exp "$fs2_exp" --voc_exp "$voc_exp" \
  --fs2_adapt_compare "$fs2_adapt_compare" --wise_adapt "$wise_adapt" --wise_weights "$wise_weights" \
  --spk_model "$spk_model"
