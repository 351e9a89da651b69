#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine, check the code (layers,
# lint, types: scripts/lint.sh), then run the tests: the unit tests against the pure-Python
# package (what a plain `pip install` gives), then the whole suite against the build that
# ships, with the hot modules compiled by mypyc (pyproject.toml).
# Extra arguments go to pytest (e.g. scripts/test.sh -k syslog), for the whole-suite run only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
bash scripts/setup-venv.sh test,lint
bash scripts/lint.sh
if [ $# -eq 0 ]; then
  echo "test: the unit tests, pure Python" >&2
  .venv/bin/python -m pytest -q tests/unit
fi
bash scripts/setup-venv.sh --compiled test,lint
echo "test: the whole suite, compiled" >&2
LOGSHIP_EXPECT_COMPILED=1 exec .venv/bin/python -m pytest "$@"
