#!/usr/bin/env bash
# Create (or refresh) the project virtualenv in tools/venv and install speechproc into it.
#
# Usage: bash tools/install.sh [EXTRA ...]   # idempotent: a second run only checks a stamp
#        bash tools/install.sh whisper-base   # also the optional extras of setup.py
#        SPEECHPROC_PYTHON=python3.11 bash tools/install.sh
#
# The venv is rebuilt only when tools/requirements.txt or setup.py changed since the last
# successful install (a sha256 stamp in tools/venv/.installed records what was installed).
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$tools_dir")
venv="$tools_dir/venv"
python=${SPEECHPROC_PYTHON:-python3}
stamp="$venv/.installed"

extras=$(IFS=,; echo "$*")
want=$( (cat "$tools_dir/requirements.txt" "$root/setup.py"; echo "extras=$extras") | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  echo "$0: $venv is up to date"
  exit 0
fi

if ! "$python" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
  echo "$0: need Python >= 3.9 as '$python' (set SPEECHPROC_PYTHON to another interpreter)" >&2
  exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "$0: creating virtualenv $venv"
  "$python" -m venv "$venv"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip prints a warning per package for index locations a site config names but lacks; drop those.
quiet_pip() { "$venv/bin/pip" install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
quiet_pip setuptools wheel
quiet_pip -r "$tools_dir/requirements.txt"
quiet_pip --no-deps --no-build-isolation -e "$root"
if [ -n "$extras" ]; then
  quiet_pip --no-build-isolation -e "$root[$extras]"
fi
"$venv/bin/python" -c 'import torch, torchaudio, speechbrain, sentencepiece, soundfile, speechproc' \
  || { echo "$0: import check failed after install" >&2; exit 1; }
echo "$want" > "$stamp"
echo "$0: installed speechproc and pinned dependencies into $venv"
