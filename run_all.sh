#!/usr/bin/env bash
# Run every recipe end to end: all stages, quick configs by default.
#
#   bash run_all.sh           # quick configs (minutes on a 2-core CPU)
#   bash run_all.sh --full    # the benchmark configs (hours; figures as in the recipe READMEs)
#   bash run_all.sh --cmd slurm   # run split jobs through Slurm (see tools/slurm_cluster.sh)
#
# Installs what it needs first (tools/install.sh). Corpora are found through
# $SPEECHPROC_CORPORA (default: ../shared/corpora beside this repository) or each recipe's db.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$root"

profile=quick
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) profile=full; shift ;;
    --quick) profile=quick; shift ;;
    --cmd|--nj) extra+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$0: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
done

bash tools/install.sh
bash tools/install_system.sh
export SPEECHPROC_CORPORA=${SPEECHPROC_CORPORA:-$(cd "$root/.." && pwd)/shared/corpora}

# Recipes in the order they depend on each other (later recipes may reuse earlier models).
# librispeech/asr is left out: its corpus is not shipped here.
recipes=(
  egs/yesno/asr
  egs/an4/asr
  egs/an4/asr_whisper
  egs/an4/spk
  egs/ljspeech/tts
  egs/cmu_arctic/vc
  egs/vcc2016/vc
)
failed=()
for r in "${recipes[@]}"; do
  echo "=== $r (profile $profile) ==="
  start=$SECONDS
  if bash "$r/run.sh" --profile "$profile" "${extra[@]}"; then
    echo "=== $r: ok in $((SECONDS - start)) s ==="
  else
    echo "=== $r: FAILED after $((SECONDS - start)) s ===" >&2
    failed+=("$r")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "$0: failed recipes: ${failed[*]}" >&2
  exit 1
fi
echo "$0: all ${#recipes[@]} recipes finished"
