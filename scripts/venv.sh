#!/usr/bin/env bash
# Create or reuse ./.venv and install neuronhead with its dev tools into it.
# Sourced by scripts/demo.sh and scripts/test.sh. Reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.neuronhead-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch==2.13.0 is pinned exactly in pyproject.toml: its CPU wheel is what pip resolves here.
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
# Anything that starts Ray runs in a network namespace with only loopback when this workplace
# provides one (Ray probes cloud-metadata addresses at start-up); elsewhere it runs as is.
SANDBOX=()
if [ -x ../shared/bin/loopback-only ] && [ "${NEURONHEAD_NO_SANDBOX:-0}" != 1 ]; then
  SANDBOX=(../shared/bin/loopback-only)
fi
export RAY_USAGE_STATS_ENABLED=0
