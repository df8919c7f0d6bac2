#!/usr/bin/env bash
# Reproducibility benchmark: N fresh runs of the whole recipe (data, features, tokenizer, training, decoding,
# scoring from nothing), alternating 1 and 2 torch threads, and a table of their test WER.
# Usage: bash local/repeat.sh [N=5]      (from egs/yesno/asr; about 1-2 min a run)
# Each run works in a copy of the recipe under exp_repeat/run<i>/ (this recipe's own data/, dump/, exp/ are left
# alone). Output: exp_repeat/run<i>/egs/yesno/asr/exp/, exp_repeat/results.md (the table, with the commit)
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=$(pwd)
tools=$(cd ../../../tools && pwd)
n=${1:-5}
out=$recipe/exp_repeat
rm -rf "$out"
mkdir -p "$out"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
rows=""
zero=0
for i in $(seq 1 "$n"); do
  threads=$(( (i - 1) % 2 + 1 ))
  copy=$out/run$i/egs/yesno/asr
  mkdir -p "$copy"
  ln -s "$tools" "$out/run$i/tools"
  cp -r run.sh db.sh conf ./[0-9][0-9]_*.sh "$copy/"
  start=$(date +%s)
  SPEECHPROC_NUM_THREADS=$threads OMP_NUM_THREADS=$threads bash "$copy/run.sh" --nj 1 > "$out/run$i.log" 2>&1 \
    || { echo "local/repeat.sh: run $i failed; see $out/run$i.log" >&2; exit 1; }
  secs=$(( $(date +%s) - start ))
  wer=$(python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["wer"])' \
    "$copy/exp/asr/decode_test/score_wer/score.json")
  if [ "$wer" = "0.00" ]; then zero=$((zero + 1)); fi
  rows="$rows|run $i|$threads|$wer|$secs s|\n"
  echo "run $i: $threads thread(s), test WER $wer %, $secs s"
done
{
  echo "Fresh runs of \`bash run.sh --nj 1\` (\`bash local/repeat.sh $n\`, commit $commit, $(date -u '+%Y-%m-%d'), $(nproc) CPU cores):"
  echo
  echo "|run|torch threads|test WER (%)|whole recipe|"
  echo "|---|---|---|---|"
  printf "%b" "$rows"
  echo
  echo "0.00 % WER in $zero of $n runs."
} > "$out/results.md"
cat "$out/results.md"
