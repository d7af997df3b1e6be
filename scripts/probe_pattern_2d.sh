#!/usr/bin/env bash
# Training recipes for `pattern_2d` at the CPU's 15-minute budget of steps, side by side on one GPU
# (issue 2; results in benchmarks/README.md). Each recipe is one process of
# benchmarks/recipe_probe.py, killed after LIMIT seconds, at most JOBS at a time:
#
#   OUT=results JOBS=5 LIMIT=280 ROUND=1 bash scripts/probe_pattern_2d.sh
#
# Round 3 is a seed sweep: each recipe at batch 32 for 12,000 steps, seeds 0, 1, 2, ... one after
# the other in one process until LIMIT ends it (JOBS=6 LIMIT=500 ROUND=3). Round 4 sweeps seeds of the
# two-pair recipe (64 tasks a step, the cost of 32 tasks of 4 pairs), at 12,000 and 10,000 steps
# (JOBS=6 LIMIT=440 ROUND=4; ROUND=5, LIMIT=320, adds seeds; ROUND=6 trains on the last pair only).
# Round 7 trains round 4's 12,000-step recipe with a bias on the decoder's latent token
# (Config.latent_bias) on seeds 0-23, to set beside rounds 4 and 5's seeds 0-19 (JOBS=6 LIMIT=500).
# Round 8 trains round 4's recipe for 20,000 steps (what the faster 2-core CPUs fit in 15 minutes;
# the cosine over all of them) on seeds 0-23, beside rounds 4 and 5's 12,000 (JOBS=6 LIMIT=500).
set -uo pipefail
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONPATH=$PWD
OUT=${OUT:-probe-out}; JOBS=${JOBS:-5}; LIMIT=${LIMIT:-300}; ROUND=${ROUND:-1}
mkdir -p "$OUT" /tmp/probe-logs
python -c "import jax; print(jax.devices())" || exit 1
run() {  # NAME ARGS...: one recipe, once fewer than JOBS run
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
    timeout -k 5 "$LIMIT" python benchmarks/recipe_probe.py --name "$1" --out "$OUT/probe.jsonl" "${@:2}" \
        >"/tmp/probe-logs/$1.log" 2>&1 &
}
if [ "$ROUND" = 1 ]; then  # 3,000 steps at batch 128: schedule, b2, beta, the latent path
    run paper --lr 4e-4
    run cos1e-3 --lr 1e-3 --schedule cosine
    run lat10 --lr 4e-4 --latent-lr-mult 10
    run cos1e-3-lat10 --lr 1e-3 --schedule cosine --latent-lr-mult 10
    run cos2e-3-lat10 --lr 2e-3 --schedule cosine --latent-lr-mult 10
    run init0.1 --lr 4e-4 --latent-init-scale 0.1
    run lat30 --lr 4e-4 --latent-lr-mult 30
    run cos1e-3-kl1e-4 --lr 1e-3 --schedule cosine --kl 1e-4
    run cos1e-3-b2 --lr 1e-3 --schedule cosine --b2 0.95
    run cos1e-3-lat10-init0.1 --lr 1e-3 --schedule cosine --latent-lr-mult 10 --latent-init-scale 0.1
elif [ "$ROUND" = 2 ]; then  # cosine with b2 0.95 and beta 1e-4, around it
    run b2-kl1e-4 --lr 1e-3 --schedule cosine --b2 0.95 --kl 1e-4
    run 2e-3-b2-kl1e-4 --lr 2e-3 --schedule cosine --b2 0.95 --kl 1e-4
    run 1.5e-3-b2-kl1e-4 --lr 1.5e-3 --schedule cosine --b2 0.95 --kl 1e-4
    run b2-kl1e-5 --lr 1e-3 --schedule cosine --b2 0.95 --kl 1e-5
    run b2.9-kl1e-4 --lr 1e-3 --schedule cosine --b2 0.9 --kl 1e-4
    run b2-kl3e-5 --lr 1e-3 --schedule cosine --b2 0.95 --kl 3e-5
    run b64-b2-kl1e-4 --batch-size 64 --steps 6000 --eval-at 2000,4000,6000 --lr 1e-3 --schedule cosine --b2 0.95 --kl 1e-4
    run 4k-b2-kl1e-4 --steps 4000 --eval-at 2000,3000,4000 --lr 1e-3 --schedule cosine --b2 0.95 --kl 1e-4
    run 1.5e-3-b2.9-kl1e-4 --lr 1.5e-3 --schedule cosine --b2 0.9 --kl 1e-4
    run b2-kl1e-4-grad1 --steps 1200 --eval-at 600,1200 --lr 1e-3 --schedule cosine --b2 0.95 --kl 1e-4 --grad-k 1
elif [ "$ROUND" = 4 ]; then  # two pairs per training task (train_pattern_2d.py's recipe): its spread over
    # many seeds (three processes of four seeds each), 10,000 steps (a margin on a slow CPU), the noise warm-up
    base="--eval-at 12000 --final-search-steps 0 --schedule cosine --b2 0.95 --kl 1e-4 --num-pairs 2 --batch-size 64 --lr 7e-4"
    run p2-b64-a $base --steps 12000 --seeds 0,1,2,3
    run p2-b64-b $base --steps 12000 --seeds 4,5,6,7
    run p2-b64-c $base --steps 12000 --seeds 8,9,10,11
    run p2-b64-10k-a $base --steps 10000 --eval-at 10000 --seeds 0,1,2,3,4
    run p2-b64-10k-b $base --steps 10000 --eval-at 10000 --seeds 5,6,7,8,9
    run p2-b64-noise300 $base --steps 12000 --noise-warmup 300 --seeds 0,1,2,3
elif [ "$ROUND" = 5 ]; then  # more seeds of round 4's 12,000-step recipe and of its noise warm-up
    base="--eval-at 12000 --final-search-steps 0 --schedule cosine --b2 0.95 --kl 1e-4 --num-pairs 2 --batch-size 64 --lr 7e-4 --steps 12000"
    for s in 12,13 14,15 16,17 18,19; do run p2-b64-d-$s $base --seeds $s; done
    run p2-b64-noise300-a $base --noise-warmup 300 --seeds 3,4
    run p2-b64-noise300-b $base --noise-warmup 300 --seeds 5,6
elif [ "$ROUND" = 6 ]; then  # the last pair only (train_targets=last): 128 tasks a step for the cost of 64 with both
    base="--final-search-steps 0 --schedule cosine --b2 0.95 --kl 1e-4 --num-pairs 2 --lr 7e-4 --train-targets last"
    run last-b64-18k-a $base --batch-size 64 --steps 18000 --eval-at 18000 --seeds 0,1,2,3
    run last-b64-18k-b $base --batch-size 64 --steps 18000 --eval-at 18000 --seeds 4,5,6,7
    run last-b64-18k-c $base --batch-size 64 --steps 18000 --eval-at 18000 --seeds 8,9,10,11
    run last-b128-12k-a $base --batch-size 128 --steps 12000 --eval-at 12000 --seeds 0,1,2,3
    run last-b128-12k-b $base --batch-size 128 --steps 12000 --eval-at 12000 --seeds 4,5,6,7
    run both-b64-12k $base --batch-size 64 --steps 12000 --eval-at 12000 --train-targets all --seeds 20,21,22,23
elif [ "$ROUND" = 7 ]; then  # the latent token's bias, over the seeds rounds 4 and 5 trained without it
    base="--eval-at 12000 --final-search-steps 0 --schedule cosine --b2 0.95 --kl 1e-4 --num-pairs 2 --batch-size 64 --lr 7e-4 --steps 12000 --latent-bias"
    for s in 0,1,2,3 4,5,6,7 8,9,10,11 12,13,14,15 16,17,18,19 20,21,22,23; do run bias-$s $base --seeds $s; done
elif [ "$ROUND" = 8 ]; then  # more steps: does 20,000 rescue the weak runs of 12,000 beyond the CPU's 10 of 10?
    base="--eval-at 20000 --final-search-steps 0 --schedule cosine --b2 0.95 --kl 1e-4 --num-pairs 2 --batch-size 64 --lr 7e-4 --steps 20000"
    for s in 0,1,2,3 4,5,6,7 8,9,10,11 12,13,14,15 16,17,18,19 20,21,22,23; do run steps20k-$s $base --seeds $s; done
else  # round 3: train_pattern_2d.py's previous recipe and five neighbours, over many seeds each
    seeds=$(seq -s, 0 ${SEEDS:-15})
    base="--batch-size 32 --steps 12000 --eval-at 12000 --final-search-steps 0 --schedule cosine --b2 0.95 --seeds $seeds"
    run s-base $base --lr 7e-4 --kl 1e-4
    run s-noise1000 $base --lr 7e-4 --kl 1e-4 --noise-warmup 1000
    run s-noise300 $base --lr 7e-4 --kl 1e-4 --noise-warmup 300
    run s-lr1e-3 $base --lr 1e-3 --kl 1e-4
    run s-lr5e-4 $base --lr 5e-4 --kl 1e-4
    run s-kl3e-5 $base --lr 7e-4 --kl 3e-5
fi
wait
sort -t'"' -k4,4 -s "$OUT/probe.jsonl"
for f in /tmp/probe-logs/*.log; do grep -q Error "$f" && { echo "== $f"; tail -3 "$f"; }; done
exit 0
