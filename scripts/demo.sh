#!/usr/bin/env bash
# The main job on the embedded default: bundled MiniLM, local Ray, the project's demo tweets.
# `neuronhead run` extracts features of the demo train and val sets, fits the two-phase neuron head
# with its baselines, evaluates it, scores examples/demo/score.csv and writes OUT/report.html.
# Extra arguments go to `neuronhead run` (e.g. --out runs/demo2, --tune 10).
set -euo pipefail
source "$(dirname "$0")/venv.sh"
"${SANDBOX[@]}" .venv/bin/neuronhead run --config examples/demo/run.toml "$@"
