#!/usr/bin/env bash
# Create .venv (Python 3.11+) and install logship into it, with the extras given (e.g. test).
set -euo pipefail
cd "$(dirname "$0")/.."
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
log=$(mktemp)
if ! .venv/bin/python -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
  grep -v "^WARNING: Location" "$log" >&2
  echo "setup-venv: pip install -e '$spec' failed" >&2
  exit 1
fi
rm -f "$log"
