#!/usr/bin/env bash
# Set up, then run every check: ruff, mypy --strict, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict (the whole package: [tool.mypy] in pyproject.toml)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
