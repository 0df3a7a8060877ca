#!/usr/bin/env bash
# Set up the venv (and, for the browser test, Debian's chromium) and run the tests, then ruff. With no
# flag: every test (MiniLM and Ray integration, the three-host cluster, the report in Chromium), as CI
# does. --quick: the quick tier only (the tests not marked slow, multinode or browser), a few minutes on
# 2 cores. Other arguments go to pytest, with no chromium step (the browser test then
# fails with the command to run if it is selected and chromium is missing).
set -euo pipefail
source "$(dirname "$0")/venv.sh"
source scripts/system_deps.sh
tier=()
if [ "${1:-}" = --quick ]; then
  shift
  tier=(-m "not slow and not multinode and not browser")
elif [ $# = 0 ]; then
  need_chromium
fi
"${SANDBOX[@]}" .venv/bin/python -m pytest -q --durations=25 "${tier[@]}" "$@"
.venv/bin/ruff check .
