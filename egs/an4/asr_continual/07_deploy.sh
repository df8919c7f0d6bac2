#!/usr/bin/env bash
# deployment: version $deploy_version of exp/$deploy_method exported as CTranslate2 $deploy_quantization for faster-whisper, WER and RTF against the PyTorch model on the suite (exp/RESULTS_deploy.md, README.md)
# outputs: exp/RESULTS_deploy.md
v=exp/$deploy_method/$deploy_version
out=$v/ct2_$deploy_quantization
python -m speechproc.bin.export_ct2 --exp-dir "$v" --quantization "$deploy_quantization" "$out"
sets=""
for x in $suite; do
  name=${x%%=*}; data=${x#*=}; sets="$sets $name"
  python -m speechproc.bin.whisper_decode --backend faster-whisper --model "$out" "$data" "$out/decode_$name"
  python -m speechproc.bin.score_asr --ref "$data/text" --hyp "$out/decode_$name/text" --normalize whisper_en "$out/decode_$name"
done
readme=(--readme README.md --section deploy); [ "$profile" = quick ] && readme=()
python -m speechproc.bin.continual_results exp --sets $sets --deploy "$v" "$out" \
  --title "Deployment: $v as trained (PyTorch) and exported to CTranslate2 $deploy_quantization (faster-whisper)" \
  --table exp/RESULTS_deploy.md "${readme[@]}"
