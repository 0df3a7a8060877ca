#!/usr/bin/env bash
# Extract the other collections' tweet sets (bench/data/shift/*/data.jsonl, with their sources) into
# FEATS/shift/<set>, with the same model and settings as bench/extract_tweeteval.sh; bench/shift.py
# scores TweetEval-trained models on them. Rerun to resume. Usage: bash bench/extract_shift_sets.sh FEATS
set -euo pipefail
cd "$(dirname "$0")/.."
FEATS=${1:?usage: extract_shift_sets.sh FEATS}
SANDBOX=()
[ -x ../shared/bin/loopback-only ] && SANDBOX=(../shared/bin/loopback-only)
for set in davidson airline emoevent; do
  "${SANDBOX[@]}" .venv/bin/neuronhead extract --data "bench/data/shift/$set/data.jsonl" \
    --out "$FEATS/shift/$set" --embeddings --engine local --normalize tweeteval
done
