#!/usr/bin/env bash
# evaluation: no conversion vs each method: MCD to target/source, F0 RMSE/corr, Whisper-judge CER, speaker similarity
# outputs: exp/$profile/RESULTS_${src_spk}_${tgt_spk}.md
case "$profile" in quick) n=${max_utts:-3} ;; *) n=${max_utts:-0} ;; esac
dirs=()
for m in $methods; do dirs+=("exp/$profile/${src_spk}_${tgt_spk}_$m/convert_${src_spk}_eval"); done
python -m speechproc.bin.evaluate_vc --src "data/${src_spk}_eval" --tgt "data/${tgt_spk}_eval" \
  --src-train "data/${src_spk}_train" --tgt-train "data/${tgt_spk}_train" --names "${methods// /,}" \
  --judge-backend "$judge_backend" --max-utts "$n" --speaker-exp "$spk_model" $eval_opts \
  --title "$(basename "$(dirname "$PWD")") ${src_spk} -> ${tgt_spk} (profile $profile)" \
  --table "exp/$profile/RESULTS_${src_spk}_${tgt_spk}.md" "${dirs[@]}"
