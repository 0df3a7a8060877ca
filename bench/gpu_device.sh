#!/usr/bin/env bash
# The one command for a lent GPU machine:  bash bench/gpu_device.sh   (results under $OUT)
#
# Runs from the repository root with two carried, git-ignored folders:
#   .whl/      ray 2.60.0 cp312 (stripped of its Java jar, RLlib, Serve, LLM and dashboard web build to
#              fit the 64 MiB transfer limit) + jsonschema and its deps, which the machine lacks;
#   .gpudata/  TweetEval sentiment (train/val text+labels, mapping) and MiniLM-L6's config + tokenizer.
# Steps: install the wheels into /tmp/site, print the machine, then bench/gpu_check.py and
# bench/gpt2_depth.py (small, XL) on cuda. Each step has a time limit and a step that fails or runs out
# of time does not stop the next; the whole script stays under DEADLINE_S (default 380 s).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/nh-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 RAY_USAGE_STATS_ENABLED=0 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false
START=$(date +%s)
DEADLINE_S=${DEADLINE_S:-380}
log() { echo "== [$(($(date +%s) - START)) s] $*"; }

# step NAME LIMIT_S CMD...: run CMD for at most LIMIT_S and never past the deadline; its output is
# appended to $OUT/steps.log (at most 8 files come back) and its tail printed.
step() {
    local name=$1 limit=$2 left
    shift 2
    left=$((DEADLINE_S - ($(date +%s) - START) - 5))
    if ((left < 20)); then
        log "$name: skipped, ${left} s left before the deadline"
        return
    fi
    ((limit > left)) && limit=$left
    log "$name (limit ${limit} s): $*"
    timeout -k 10 "$limit" "$@" >"/tmp/nh-$name.log" 2>&1
    log "$name: exit $? (124 = timed out)"
    { echo "===== $name: $*"; cat "/tmp/nh-$name.log"; } >>"$OUT/steps.log"
    grep -v -e "logging_progress" -e "core_worker.cc" "/tmp/nh-$name.log" | cut -c1-200 | tail -n 12
}

log "install carried wheels"
if ! python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl; then
    log "pip failed; unzipping the wheels instead (keeping executable bits)"
    python3 - <<'EOF'
import glob, os, zipfile
for whl in glob.glob(".whl/*.whl"):
    with zipfile.ZipFile(whl) as z:
        for info in z.infolist():
            path = z.extract(info, "/tmp/site")
            mode = info.external_attr >> 16
            if mode:
                os.chmod(path, mode & 0o777)
EOF
fi
export PYTHONPATH=/tmp/site:$PWD

log "machine"
nvidia-smi
python3 - <<'EOF' 2>&1
import os, sys, torch, transformers
print("python", sys.version.split()[0], "| cpus", os.cpu_count())
print("torch", torch.__version__, "| cuda", torch.version.cuda, torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-",
      "| tf32 matmul", torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())
print("transformers", transformers.__version__)
try:
    import jsonschema, ray, ray.data
    print("ray", ray.__version__, ray.__file__)
except Exception as exc:
    print("ray import FAILED:", repr(exc))
EOF

step gpu_check 200 python3 bench/gpu_check.py --device cuda --n 20000 --out "$OUT/gpu_check.json"
step gpt2_small 60 python3 bench/gpt2_depth.py --device cuda --shape small --dtype bfloat16,float32 \
    --n 2048 --rounds 2 --out "$OUT/gpt2_small.json"
step gpt2_xl 110 python3 bench/gpt2_depth.py --device cuda --shape xl --dtype bfloat16,float32 \
    --n 512 --rounds 2 --out "$OUT/gpt2_xl.json"
# Last, if time is left: the same XL bf16 full-depth pair without GPT-2's KV cache (HookedModel does
# not pass use_cache=False, so every layer it runs also fills a cache nobody reads).
step gpt2_xl_nocache 45 python3 bench/gpt2_depth.py --device cuda --shape xl --dtype bfloat16 --depths 48 \
    --modes extract --no-kv-cache --n 512 --rounds 2 --out "$OUT/gpt2_xl_nocache.json"

log "summary"
nvidia-smi --query-compute-apps=pid,used_memory --format=csv
python3 - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
gc = out / "gpu_check.json"
if gc.exists():
    d = json.loads(gc.read_text())
    for name, part in d.items():
        if isinstance(part, dict) and "part_seconds" in part:
            keys = ("ok", "error", "manifest_device", "manifest_compute_dtype", "pool", "texts_per_s",
                    "rows_in", "rows_out", "agreement_pct", "max_abs_prob_diff", "worst_max_err_over_scale")
            brief = {k: part[k] for k in keys if k in part}
            print(f"gpu_check {name} ({part['part_seconds']} s): {json.dumps(brief)[:300]}")
    for key, r in d.get("exactness", {}).items():
        if isinstance(r, dict) and "layers" in r:
            worst = max(v["max_err_over_scale"] for v in r["layers"].values())
            print(f"  exactness {key}: ok={r['ok']}, worst max|err|/max|feature| {worst:.2e}")
    print("gpu_check gpu_over_cpu:", d.get("gpu_over_cpu"))
for name in ("gpt2_small", "gpt2_xl", "gpt2_xl_nocache"):
    f = out / f"{name}.json"
    if not f.exists():
        continue
    d = json.loads(f.read_text())
    failed = [(r["mode"], r["k"], r["dtype"]) for r in d["runs"] if "error" in r]
    print(f"{name}: n {d['texts']['n']}, mean tokens {d['texts']['mean_tokens']}, failed {failed}")
    print("  dtype     k/L   plain/s extract/s (x plain) score/s (x plain)  L/k  MiB plain/extract/score")
    for r in d.get("summary", []):
        g = r.get
        print(f"  {r['dtype']:9} {r['k']:>2}/{r['L']:<2} {g('plain_texts_per_s')} {g('extract_texts_per_s')} "
              f"({g('extract_vs_plain')}) {g('score_texts_per_s')} ({g('score_vs_plain')}) "
              f"{r['ideal_L_over_k']}  {g('plain_peak_mb')}/{g('extract_peak_mb')}/{g('score_peak_mb')}")
EOF
log "done; files in $OUT:"
ls -la "$OUT"
