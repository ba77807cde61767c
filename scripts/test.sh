#!/usr/bin/env bash
# Set up, then run every check: ruff, mypy --strict, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
.venv/bin/mypy --strict heliograph/signals heliograph/lib heliograph/plugins heliograph/testing heliograph/ext heliograph/events heliograph/metrics heliograph/config.py
echo "== pytest"
.venv/bin/python -m pytest "$@"
