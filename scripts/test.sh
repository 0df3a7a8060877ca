#!/usr/bin/env bash
# Set up the venv and run the whole test suite (Ray tests included), then ruff.
set -euo pipefail
source "$(dirname "$0")/venv.sh"
"${SANDBOX[@]}" .venv/bin/python -m pytest -q --durations=25 "$@"
.venv/bin/ruff check .
