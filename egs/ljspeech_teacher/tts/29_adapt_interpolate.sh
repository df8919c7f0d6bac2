#!/usr/bin/env bash
# FastSpeech 2 adaptation interpolated with the teacher model (WiSE-FT): exp/${fs2_exp}_adapt_$wise_adapt at each weight of $wise_weights, the 4 held-out clips with the multi-speaker vocoder beside the un-adapted and fully adapted models (exp/result_adapt_wise.md, README)
# outputs: exp/result_adapt_wise.md
v="exp/${voc_exp}_multi"
src="exp/${fs2_exp}_adapt_$wise_adapt"
[ -f "$src/model.pt" ] || { echo "29_adapt_interpolate.sh: $src/model.pt not found; run stage 26 first" >&2; exit 1; }
dirs=("exp/$fs2_exp/synth_lj_eval_${voc_exp}_multi")
names="FastSpeech 2 before adaptation (weight 0)"
for w in $wise_weights; do
  e="exp/${fs2_exp}_adapt_${wise_adapt}_wise$w"
  python -m speechproc.bin.interpolate_model --base "exp/$fs2_exp" --weight "$w" "$src" "$e"
  python -m speechproc.bin.synthesize --exp-dir "$e" --data data/lj/eval --vocoder-checkpoint "$v" "$e/synth_lj_eval_${voc_exp}_multi"
  dirs+=("$e/synth_lj_eval_${voc_exp}_multi")
  names="$names,FastSpeech 2 adapted ($wise_adapt) interpolated: weight $w"
done
dirs+=("$src/synth_lj_eval_${voc_exp}_multi")
names="$names,FastSpeech 2 adapted ($wise_adapt): weight 1"
python -m speechproc.bin.evaluate_tts --ref data/lj/eval --ref-name "real LJSpeech audio" \
  --judge-backend "$judge_backend" $eval_opts --speaker-exp "$spk_model" --speaker-ref data/lj/train_adapt \
  --names "$names" --title "FastSpeech 2 adaptation interpolated with the teacher model (WiSE-FT): the 4 held-out clips" \
  --table exp/result_adapt_wise.md --readme README.md --section adapt_wise "${dirs[@]}"
