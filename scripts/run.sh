#!/usr/bin/env bash
# Install what the portal needs to run (once; skipped while pyproject.toml is unchanged), then
# run it on embedded defaults: SQLite in ./instance (created on first start), the activity
# stream, the datastore, the webhooks and the bundled example plugins enabled. Extra arguments
# go to `heliograph serve` (e.g. --port 8080, --config heliograph.ini).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
export HELIOGRAPH_PLUGINS="${HELIOGRAPH_PLUGINS-activity datastore webhooks example_isignal example_custom_sender example_custom_listener}"
exec .venv/bin/heliograph serve "$@"
