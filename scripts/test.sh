#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, check the code (layers,
# lint, types: scripts/lint.sh), then run the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k syslog).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
bash scripts/setup-venv.sh test,lint
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"
