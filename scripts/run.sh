#!/usr/bin/env bash
# Set up, then run the portal on embedded defaults: SQLite in ./instance (created on
# first start), the activity stream, the webhooks and the bundled example plugins enabled. Extra arguments go to
# `heliograph serve` (e.g. --port 8080, --config heliograph.ini).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HELIOGRAPH_PLUGINS="${HELIOGRAPH_PLUGINS-activity webhooks example_isignal example_custom_sender example_custom_listener}"
exec .venv/bin/heliograph serve "$@"
