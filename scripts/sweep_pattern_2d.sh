#!/usr/bin/env bash
# Learning curves of `pattern_2d` under several training recipes, side by side on one GPU machine
# (issue 2: which recipe reaches >= 90% with gradient search in the fewest CPU seconds?).
#
#   OUT=results LIMIT=360 JOBS=4 bash scripts/sweep_pattern_2d.sh
#
# Each recipe is one process of benchmarks/sweep_pattern_2d.py, killed after LIMIT seconds, at most
# JOBS at a time (on an H200, 4 side by side each trained at 50-140 steps/s; 12 reached no evaluation in
# 6 minutes); the evaluations land in OUT/sweep.jsonl as they come.
set -uo pipefail
OUT=${OUT:-sweep-out}
LIMIT=${LIMIT:-360}
JOBS=${JOBS:-4}
mkdir -p "$OUT" /tmp/sweep-logs
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
python -c "import jax; print('jax', jax.__version__, jax.devices())" || exit 1
run() {  # NAME ARGS...: one recipe, once fewer than JOBS run
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    timeout -k 5 "$LIMIT" python benchmarks/sweep_pattern_2d.py --name "$1" --out "$OUT/sweep.jsonl" "${@:2}" \
        >/tmp/sweep-logs/$1.log 2>&1 &
}
run b128-lr4e-4 --batch-size 128 --lr 4e-4 --steps 3000 --eval-every 500
run b128-lr2e-3 --batch-size 128 --lr 2e-3 --steps 3000 --eval-every 500
run b64-lr2e-3 --batch-size 64 --lr 2e-3 --steps 6000 --eval-every 1000
run b32-lr1e-3 --batch-size 32 --lr 1e-3 --steps 12000 --eval-every 1500
run b32-lr2e-3 --batch-size 32 --lr 2e-3 --steps 12000 --eval-every 1500
run b32-lr4e-3 --batch-size 32 --lr 4e-3 --steps 12000 --eval-every 1500
run b32-lr8e-3 --batch-size 32 --lr 8e-3 --steps 12000 --eval-every 1500
run b32-lr2e-3-kl1e-4 --batch-size 32 --lr 2e-3 --kl 1e-4 --steps 12000 --eval-every 1500
run b32-lr2e-3-kl1e-2 --batch-size 32 --lr 2e-3 --kl 1e-2 --steps 12000 --eval-every 1500
run b32-lr2e-3-grad1 --batch-size 32 --lr 2e-3 --grad-k 1 --steps 6000 --eval-every 750
run b16-lr2e-3 --batch-size 16 --lr 2e-3 --steps 24000 --eval-every 3000
run b8-lr1e-3 --batch-size 8 --lr 1e-3 --steps 48000 --eval-every 6000
wait
for f in /tmp/sweep-logs/*.log; do echo "== $f"; grep -v '^{' "$f" | tail -5; done >"$OUT/logs.txt"
sort -t'"' -k4,4 -s "$OUT/sweep.jsonl" | python -c "
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(f\"{r['name']:20s} {r['step']:6d} {r['seconds']:6.0f}s mean {r['mean_top1']:.3f} grad {r['grad_top1']:.3f} multi {r['multi_top1']:.3f} loss {r['loss']:.3f}\")"
