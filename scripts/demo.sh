#!/usr/bin/env bash
# The main job on the embedded default: bundled MiniLM, local Ray, the project's demo tweets.
# Extracts features of the demo train and val sets, fits the two-phase neuron head, scores val.
set -euo pipefail
source "$(dirname "$0")/venv.sh"
OUT=${1:-runs/demo}
for split in train val; do
  "${SANDBOX[@]}" .venv/bin/neuronhead extract --data "examples/demo/$split.csv" --out "$OUT/features/$split"
done
"${SANDBOX[@]}" .venv/bin/neuronhead fit --features "$OUT/features/train" --val-features "$OUT/features/val" \
  --out "$OUT/head" --baselines
"${SANDBOX[@]}" .venv/bin/neuronhead evaluate --head "$OUT/head" --features "$OUT/features/val"
echo "demo done: features in $OUT/features/{train,val}; head, report.json and plots/ in $OUT/head"
