#!/usr/bin/env bash
# deployment: version $deploy_version of exp/$deploy_method exported as CTranslate2 $deploy_quantization, decoded by CTranslate2 on its own window (greedy and beam $deploy_beam) and by faster-whisper, against the PyTorch model on the suite (exp/RESULTS_deploy.md, README.md)
# outputs: exp/RESULTS_deploy.md
v=exp/$deploy_method/$deploy_version
out=$v/ct2_$deploy_quantization
python -m speechproc.bin.export_ct2 --exp-dir "$v" --quantization "$deploy_quantization" "$out"
sets=""
for x in $suite; do
  name=${x%%=*}; data=${x#*=}; sets="$sets $name"
  for dec in "ct2 1 decode_$name" "ct2 $deploy_beam decode_${name}_beam$deploy_beam" "faster-whisper 1 decode_${name}_fw"; do
    read -r backend beam dir <<< "$dec"
    python -m speechproc.bin.whisper_decode --backend "$backend" --beam-size "$beam" --model "$out" --score whisper_en \
      "$data" "$out/$dir"
  done
done
readme=(--readme README.md --section deploy); [ "$profile" = quick ] && readme=()
python -m speechproc.bin.continual_results exp --sets $sets --deploy "$v" "$out" \
  --title "Deployment: $v as trained (PyTorch) and exported to CTranslate2 $deploy_quantization" \
  --table exp/RESULTS_deploy.md "${readme[@]}"
