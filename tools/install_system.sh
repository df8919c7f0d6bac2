#!/usr/bin/env bash
# Debian packages the recipes and tests use: espeak-ng and flite (reference TTS systems and the
# judge test), sox. Installed with apt-get when missing (needs root); elsewhere a warning says what
# to install, and the tests that need them skip with that reason.
#
# Usage: bash tools/install_system.sh      # idempotent: returns at once when all are there
set -uo pipefail
prog=$(basename "$0")
want=(espeak-ng flite sox)
missing=()
for p in "${want[@]}"; do command -v "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "$prog: warning: missing ${missing[*]}; install them with your package manager (tests that need them will skip)" >&2
  exit 0
fi
echo "$prog: installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get -o DPkg::Lock::Timeout=120 update -qq && \
       apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "$prog: warning: apt-get could not install ${missing[*]} (tests that need them will skip)" >&2
fi
rm -f "$log"
exit 0
