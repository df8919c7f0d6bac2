#!/usr/bin/env bash
# FastSpeech 2 adaptation interpolated with the teacher model (WiSE-FT): exp/${fs2_exp}_adapt_$wise_adapt (stage 26) at each weight of $wise_weights into exp/${fs2_exp}_adapt_${wise_adapt}_wise<w>; stage 30 scores them
# outputs: $(for w in $wise_weights; do echo "exp/${fs2_exp}_adapt_${wise_adapt}_wise$w/model.pt"; done)
src="exp/${fs2_exp}_adapt_$wise_adapt"
[ -f "$src/model.pt" ] || { echo "29_adapt_interpolate.sh: $src/model.pt not found; run stage 26 first" >&2; exit 1; }
for w in $wise_weights; do
  python -m speechproc.bin.interpolate_model --base "exp/$fs2_exp" --weight "$w" "$src" "${src}_wise$w"
done
