#!/usr/bin/env bash
# Set up the venv and run the tests, then ruff. With no flag: every test (MiniLM and Ray integration,
# the three-host cluster, the report in Chromium), as CI does. --quick: the quick tier only (the tests
# not marked slow, multinode or browser), a few minutes on 2 cores. Other arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/venv.sh"
tier=()
if [ "${1:-}" = --quick ]; then
  shift
  tier=(-m "not slow and not multinode and not browser")
fi
"${SANDBOX[@]}" .venv/bin/python -m pytest -q --durations=25 "${tier[@]}" "$@"
.venv/bin/ruff check .
