#!/usr/bin/env bash
# Trains the models shipped in lpn/pretrained/ with `lpn train`, side by side on one machine (we
# used one NVIDIA H200), each for BUDGET minutes of wall-clock time, then scores each on fresh tasks.
#
#   OUT=results BUDGET=7 bash scripts/train_pretrained.sh
#
# `--time-limit` stops a run at the end of a chunk and checkpoints there. The learning rate is constant after warm-up and the data stream is fixed by the seed,
# so `lpn train ... --steps S` with S the step of that checkpoint reproduces it (up to the GPU's
# floating-point non-determinism). The step and the scores are recorded in lpn/pretrained/README.md.
set -uo pipefail
OUT=${OUT:-pretrained-out}
WORK=${WORK:-/tmp/lpn-pretrained}
BUDGET=${BUDGET:-7}
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=${TQDM_MININTERVAL:-30}
# Three processes share one GPU: no process may take most of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false

python -c "import jax, lpn; print('jax', jax.__version__, jax.devices())" || exit 1

train() {  # NAME ARGS...: lpn train for BUDGET minutes (killed if it overruns by 2 minutes)
    local name=$1; shift
    timeout -k 10 "$(python -c "print(int(60 * $BUDGET + 120))")" \
        python -m lpn train --out "$WORK/$name" --time-limit "$BUDGET" "$@" >"$OUT/$name.log" 2>&1
    echo "$name: lpn train exited with status $?" >>"$OUT/$name.log"
}
# The paper's 2-D demo (200k steps of Grad 0 at batch 128, lr 4e-4, beta 1e-3), cut by the budget.
train pattern_2d --preset pattern_2d --steps 200000 --set micro_batch_size=0 \
    --eval-every 10000 --save-every 2500 --chunk 250 &
# The pattern model of Table 1's best row: Grad 1 (one inner Adam step, lr 0.1), 20k steps in the paper.
train pattern --preset pattern --steps 20000 --set train_search_steps=1 micro_batch_size=0 \
    --eval-every 2000 --save-every 500 --chunk 100 --eval-search-steps 20 &
# An ARC-style model on the procedural families (host-generated tasks, grids up to 30x30).
train arc_small --preset arc_small --data procedural --steps 100000 \
    --eval-every 0 --save-every 250 --chunk 25 &
wait

score() {  # NAME DATA LIMIT: the latest checkpoint, without search and with 100 gradient steps
    for search in none gradient; do
        timeout 150 python -m lpn eval "$WORK/$1" --data "$2" --limit "$3" --search "$search" --steps 100 \
            --out "$WORK/eval-$1-$search" >>"$OUT/$1.log" 2>&1
    done
}
score pattern_2d pattern 256 & score pattern pattern 256 & score arc_small procedural 32 & wait
for name in pattern_2d pattern arc_small; do
    latest=$(cat "$WORK/$name/latest" 2>/dev/null) || continue
    tar -czf "$OUT/$name.tgz" -C "$WORK/$name" "$latest" run.json latest
done
ls -la "$OUT"
