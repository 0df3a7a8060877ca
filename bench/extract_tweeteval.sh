#!/usr/bin/env bash
# Extract train and val features (every layer, plus sentence embeddings) of every TweetEval task once,
# into FEATS/<task>/{train,val}; the honest-selection table (bench/honest_table.py) reads them.
# Rerun to resume. Usage: bash bench/extract_tweeteval.sh FEATS [TASK ...]
set -euo pipefail
cd "$(dirname "$0")/.."
FEATS=${1:?usage: extract_tweeteval.sh FEATS [TASK ...]}
shift
TE=../shared/data/tweeteval
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(irony emotion stance_abortion stance_atheism stance_climate stance_feminist
  stance_hillary hate offensive emoji sentiment)
SANDBOX=()
[ -x ../shared/bin/loopback-only ] && SANDBOX=(../shared/bin/loopback-only)
for t in "${TASKS[@]}"; do
  for split in train val; do
    "${SANDBOX[@]}" .venv/bin/neuronhead extract --data "$TE/$t" --split "$split" --out "$FEATS/$t/$split" \
      --embeddings --engine local
  done
done
