#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs the whole test suite.
#
#   bash tools/test.sh [pytest args]
#
# 1. tools/install.sh: the virtualenv with pinned dependencies (seconds when already there);
# 2. tools/slurm_cluster.sh start: a single-node Slurm cluster on localhost for the Slurm backend
#    tests (installs Debian slurm-wlm + munge when missing; skipped where that is impossible, and
#    the Slurm tests then say why they were skipped);
# 3. pytest on tests/, with the corpora in $SPEECHPROC_CORPORA (default: ../shared/corpora).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/install.sh
if ! bash tools/slurm_cluster.sh start; then
  echo "$0: the local Slurm cluster could not be started; Slurm tests will be skipped" >&2
  export SPEECHPROC_SLURM_UNAVAILABLE="tools/slurm_cluster.sh start failed (see its output above)"
fi
export SPEECHPROC_CORPORA=${SPEECHPROC_CORPORA:-$(cd "$root/.." && pwd)/shared/corpora}
exec tools/venv/bin/python -m pytest -ra "$@" tests
