#!/usr/bin/env bash
# Create .venv (if needed) and install heliograph into it.
#   bash scripts/setup.sh        what the portal needs to run, plus the test and lint tools
#                                and the optional extras the tests cover (otel)
#   bash scripts/setup.sh run    only what the portal needs to run
# pip runs only when pyproject.toml changed since the last install of that kind (or of a
# larger one): a stamp in .venv holds its hash. HELIOGRAPH_SETUP_FORCE=1 installs anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-dev}
case "$MODE" in
    run) SPEC='.' ; WHAT="what the portal needs to run" ;;
    dev|test) MODE=dev ; SPEC='.[dev,otel]' ; WHAT="the portal and its test and lint tools" ;;
    *) echo "setup.sh: unknown kind of install '$MODE' (use: run, or nothing for everything)" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
HASH=$("$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')
stamp_ok() { [ -f ".venv/.installed-$1" ] && [ "$(cat ".venv/.installed-$1")" = "$HASH" ]; }
if [ -x .venv/bin/python ] && [ -z "${HELIOGRAPH_SETUP_FORCE:-}" ]; then
    if stamp_ok "$MODE" || { [ "$MODE" = run ] && stamp_ok dev; }; then
        echo "setup: .venv is up to date (pyproject.toml unchanged since the last install)"
        exit 0
    fi
fi
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating the virtual environment .venv ($("$PYTHON" --version))"
    "$PYTHON" -m venv .venv
fi
echo "setup: installing $WHAT into .venv (the first time takes a minute or two)"
.venv/bin/python -m pip install --quiet --upgrade pip \
    || echo "setup: could not upgrade pip; going on with the one in .venv"
# Show each package as pip reaches it, not pip's whole chatter (its errors go to stderr).
set +e
.venv/bin/python -m pip install --progress-bar off -e "$SPEC" \
    | grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' \
    | sed -u -e 's/^/setup:   /'
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    echo "setup: pip failed (exit $status); see its messages above" >&2
    exit "$status"
fi
rm -f .venv/.installed-run .venv/.installed-dev
echo "$HASH" > ".venv/.installed-$MODE"
echo "setup: done"
