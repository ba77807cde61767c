#!/usr/bin/env bash
# Set up, then run heliograph's main job: for now, list the signal catalog.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/heliograph signals "$@"
