#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs the whole test suite.
#
#   bash tools/test.sh [pytest args]
#
# 1. tools/install.sh: the virtualenv with pinned dependencies (seconds when already there);
# 2. tools/install_system.sh: Debian packages (espeak-ng, flite, sox) when missing;
#    tools/slurm_cluster.sh start: a single-node Slurm cluster on localhost for the Slurm backend
#    tests (installs Debian slurm-wlm + munge when missing; only where there is no root or no
#    apt-get are the Slurm tests skipped, and they say why);
# 3. ruff (lint) on the Python code;
# 4. pytest on tests/, with the corpora in $SPEECHPROC_CORPORA (default: ../shared/corpora), in one worker
#    process per core (pytest-xdist; SPEECHPROC_TEST_WORKERS=N sets the count, 1 runs in this process), each
#    with one thread: the tests are mostly one-threaded Python and subprocesses, so two workers on two cores
#    take about half the time of one. Slow tests are scheduled first, and a trained model that a test module
#    only reads is built once for all workers (tests/conftest.py).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/install.sh
bash tools/install_system.sh
rc=0
bash tools/slurm_cluster.sh start || rc=$?
case $rc in
  0) export SPEECHPROC_REQUIRE_SLURM=1 ;;   # the cluster is up: a Slurm test may not skip
  2|3) echo "$0: no root or no apt-get here: the Slurm tests will be skipped (reason above)" >&2 ;;
  *) echo "$0: tools/slurm_cluster.sh start failed (exit $rc); see the daemon logs above" >&2; exit 1 ;;
esac
tools/venv/bin/ruff check --quiet speechproc tests egs \
  || { echo "$0: lint errors above (fix them, or run tools/venv/bin/ruff check --fix)" >&2; exit 1; }
export SPEECHPROC_CORPORA=${SPEECHPROC_CORPORA:-$(cd "$root/.." && pwd)/shared/corpora}
workers=${SPEECHPROC_TEST_WORKERS:-$(nproc)}
[ "$workers" -gt 4 ] && workers=4   # more workers than that mostly add memory (each imports torch)
if [ "$workers" -gt 1 ]; then
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  exec tools/venv/bin/python -m pytest -ra --durations=20 -n "$workers" --dist worksteal "$@" tests
fi
exec tools/venv/bin/python -m pytest -ra --durations=20 "$@" tests
