#!/usr/bin/env bash
# The architecture and code checks CI runs before the tests (scripts/test.sh calls this):
# import-linter (the layers in pyproject.toml, no import cycles), ruff, mypy --strict.
# Needs the venv with the lint extra (scripts/setup-venv.sh test,lint).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "lint: import-linter" >&2
.venv/bin/lint-imports --no-cache
echo "lint: ruff" >&2
.venv/bin/ruff check logship tests bench scripts
.venv/bin/ruff format --check logship tests bench scripts
echo "lint: mypy" >&2
.venv/bin/mypy
