#!/usr/bin/env bash
# The main job on the embedded default: bundled MiniLM, local Ray, the project's demo tweets.
set -euo pipefail
source "$(dirname "$0")/venv.sh"
OUT=${1:-runs/demo}
for split in train val; do
  "${SANDBOX[@]}" .venv/bin/neuronhead extract --data "examples/demo/$split.csv" --out "$OUT/features/$split"
done
echo "demo done: features in $OUT/features/{train,val} (read with pyarrow.parquet.read_table('$OUT/features/train/shards'))"
