#!/usr/bin/env bash
# The GPU checks, in one short run on a machine with a CUDA build of torch (about 5 minutes on one H100):
#   1. the tests marked `gpu` (bf16 attention against fp32, the CUDA benchmark path, every trainer's step on
#      CUDA in fp32 and bf16 against the CPU, the float32 ridge on the GPU against the CPU and float64);
#   2. the attention benchmark in bf16 at L = 1024..8192 for D = 64 and 128 (TFLOP/s of the forward and of
#      forward+backward, the SDPA kernel torch chose, the fraction of the GPU's dense bf16 peak);
#   3. every trainer's samples/s on CUDA (fp32, bf16) against the same step on the CPU, default sizes;
#   4. the grouped-CV ridge at 100k targets on the GPU against the same fit on the CPU.
# Usage: workflow/scripts/gpu_checks.sh [OUT_DIR]   (default results/benchmarks/gpu)
# Needs the project importable (pip install -e . in an environment whose torch is a CUDA build).
# Each step writes its JSON into OUT_DIR and its output into OUT_DIR/checks.log; a failing step is reported and
# the others still run; the exit status is 1 when any step failed.
# PYTHON picks the interpreter (default python3); run from the repository root.
set -u
OUT=${1:-results/benchmarks/gpu}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
status=0
step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to OUT/NAME.log, remember a failure
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    echo "== $name" | tee -a "$OUT/checks.log"
    timeout "$limit" "$@" 2>&1 | tee -a "$OUT/checks.log" | tail -n 15
    local rc=${PIPESTATUS[0]}
    echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$OUT/checks.log"
    [ "$rc" -eq 0 ] || status=1
}
: > "$OUT/checks.log"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
step pytest 120 $PY -m pytest -m gpu -q -p no:cacheprovider $(grep -rl "mark.gpu" tests)
for d in 64 128; do
    step attention_d$d 90 $PY -m neuromodels.cli bench attention --device cuda --dtype bf16 --batch 4 --heads 16 \
        --head-dim $d --lengths 1024 2048 4096 8192 --max-reference-length 4096 --repeats 5 --warmup 2 \
        --out "$OUT/attention_d$d.json"
done
step trainers 240 $PY -m neuromodels.cli bench trainers --devices cpu cuda --preset default --steps 3 \
    --out "$OUT/trainers.json"
step ridge 180 $PY -m neuromodels.cli bench seeg-ridge --device cuda --targets 100000 --samples 2000 \
    --features 512 --loop-targets 3 --skip-sklearn-loo --out "$OUT/seeg_ridge_100k.json"
exit $status
