#!/usr/bin/env bash
# IMDb polarity at a longer context, on a lent GPU:  LENGTHS="512 128" bash bench/imdb_context.sh
#
# Reviews are long (median ~230 tokens); docs/benchmarks/heads.md's IMDb figures cut them at 128 tokens on
# this CPU. On the GPU, extract all 25,000 reviews at each max length (fp32, engine local: no Ray needed)
# and run bench/imdb_layers.py on each extraction: per-layer probes, heads on layers 0..k, accuracy on
# cut and uncut reviews. Carried, git-ignored: .gpuimdb/train.jsonl.gz (../shared/data/imdb/train.jsonl
# gzipped) and .gpuft/minilm-fp16 (the bundled MiniLM's weights in fp16, config and tokenizer).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/nh-imdb-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
START=$(date +%s)
log() { echo "== [$(($(date +%s) - START)) s] $*"; }
gunzip -c .gpuimdb/train.jsonl.gz > /tmp/imdb.jsonl
nvidia-smi -L 2>/dev/null || log "no nvidia-smi"
for L in ${LENGTHS:-512 128}; do
    log "extract, max length $L"
    timeout "${EXTRACT_S:-200}" python -m neuronhead.cli extract --data /tmp/imdb.jsonl --label-column rating \
        --engine local --dtype float32 --max-length "$L" --model .gpuft/minilm-fp16 \
        --out "/tmp/imdb-$L" > "$OUT/extract_$L.log" 2>&1
    tail -c 600 "$OUT/extract_$L.log"
    log "probes and heads, max length $L"
    timeout "${FIT_S:-200}" python bench/imdb_layers.py --features "/tmp/imdb-$L" --out "$OUT/L$L" \
        > "$OUT/imdb_layers_$L.log" 2>&1
    tail -c 1500 "$OUT/imdb_layers_$L.log"
done
log done
