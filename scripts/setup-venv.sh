#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install logship into it (editable), with the extras given.
#   scripts/setup-venv.sh [--compiled] [EXTRAS]      e.g. scripts/setup-venv.sh --compiled test,lint
# --compiled: the hot modules built by mypyc, as the image ships them (pyproject.toml's mypyc
# hook; needs a C compiler and Python's headers, which scripts/setup-host.sh installs). Their
# builds sit next to their sources: after a change to one, run this again (the tests refuse to
# start on a build older than its source). Without it: pure Python, and any build is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
compiled=0
if [ "${1:-}" = "--compiled" ]; then compiled=1; shift; fi
extras="${1:-}"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3 python3.11 python3.12 python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY="$candidate"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup-venv: need Python 3.11 or newer" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
spec="."
[ -n "$extras" ] && spec=".[$extras]"
if [ "$compiled" = 1 ] && { ! command -v "${CC:-cc}" >/dev/null 2>&1 \
  || ! .venv/bin/python -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; }; then
  echo "setup-venv: --compiled needs a C compiler and Python's headers (scripts/setup-host.sh)" >&2
  exit 1
fi
# whatever an earlier --compiled left: the modules' builds, and mypyc's shared library
find logship -name '*.so' -delete
rm -f ./*__mypyc.*.so
if [ "$compiled" = 1 ]; then
  export HATCH_BUILD_HOOK_ENABLE_MYPYC=1
  echo "setup-venv: compiling the hot modules with mypyc (about two minutes)" >&2
fi
log=$(mktemp)
if ! .venv/bin/python -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
  grep -v "^WARNING: Location" "$log" >&2
  echo "setup-venv: pip install -e '$spec' failed" >&2
  exit 1
fi
rm -f "$log"
