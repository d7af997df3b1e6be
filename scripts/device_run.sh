#!/usr/bin/env bash
# The most valuable paper-scale work that fits a few minutes of one GPU (issue 33, item 7): trains the
# `pattern` model of Table 1's best row (Grad 1: one inner Adam step during training) toward the
# paper's 20k steps under a time limit, then scores the new checkpoint and the shipped one
# (lpn/pretrained/pattern) on the SAME fresh tasks (`lpn eval --data pattern`, same seed and count),
# from the mean latent and after gradient search, and keeps the new one for a person to review and
# ship only if it scores higher with search.
#
#   OUT=/path/to/empty/folder bash scripts/device_run.sh [--minutes M]   # on a machine with a GPU
#   OUT=/tmp/dry bash scripts/device_run.sh --dry-run                    # the same pipeline, tiny, on CPU
#
# Run it from the repository root. --minutes (default 9, so that the whole script fits a 10-minute
# command) is the wall-clock budget of everything: training gets it less EVAL_MINUTES (default 2.5)
# for the four evaluations, which run side by side on the GPU. Written into $OUT:
#   device_run.log           everything printed (the training's and evaluations' output included)
#   summary.json             steps reached, minutes, both models' scores, kept or not, jax devices, commit
#   metrics.jsonl            the training's metrics, one line a chunk
#   candidate/               the new checkpoint (config.json, model.safetensors), only if kept
# Exit status: 0 when the pipeline ran (kept or not), 1 when a step failed, 2 on a usage error or
# when no GPU is there without --dry-run. PYTHON (default .venv/bin/python if present, else python3)
# and WORK (default a fresh folder under /tmp: the runs and evaluations) can be set, and LPN_COMMIT
# names the commit in summary.json where the copy that runs has no git checkout.
set -uo pipefail

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}
die() {  # MESSAGE [STATUS]
    echo "device_run.sh: error: $1" >&2
    exit "${2:-2}"
}

DRY_RUN=0
MINUTES=9
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) DRY_RUN=1 ;;
        --minutes)
            [ $# -ge 2 ] || die "--minutes needs a number of minutes"
            MINUTES=$2
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1' (it takes --dry-run, --minutes M, --help)" ;;
    esac
    shift
done
[[ $MINUTES =~ ^[0-9]*[.]?[0-9]+$ ]] && awk -v m="$MINUTES" 'BEGIN { exit !(m > 0) }' || die "--minutes $MINUTES: not a positive number of minutes"
[ -n "${OUT:-}" ] || die "OUT is not set: name the (empty) folder for the log, summary.json and the candidate"
[ -f lpn/__init__.py ] && [ -f lpn/pretrained/pattern/config.json ] ||
    die "run it from the repository root (no lpn/pretrained/pattern here: $(pwd))"
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
mkdir -p "$OUT" || die "cannot create OUT=$OUT"
[ -z "$(ls -A "$OUT")" ] || die "OUT=$OUT is not empty: this script writes a fresh log and summary there"

export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=${TQDM_MININTERVAL:-30}
# Four evaluations share the GPU: none may take most of its memory up front.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
SHIPPED=lpn/pretrained/pattern
EVAL_SEED=0
PAPER_STEPS=20000  # Table 1's training length
# Table 1's best row (Grad 1), as the shipped model was trained (lpn/pretrained/README.md).
OVERRIDES=(train_search_steps=1 micro_batch_size=0)
if [ "$DRY_RUN" = 1 ]; then
    # The same pipeline at a tiny size on the CPU: the pattern task's grids (so both models see the
    # same tasks), a model of a few thousand parameters, a few steps, 8 tasks, 20 search steps.
    export JAX_PLATFORMS=cpu
    OVERRIDES+=(latent_dim=4 enc_layers=1 enc_heads=2 enc_head_dim=8 dec_layers=1 dec_heads=2 dec_head_dim=8
        enc_mlp_factor=2.0 dec_mlp_factor=2.0 batch_size=8 warmup_steps=2)
    STEPS=4 CHUNK=2 SAVE_EVERY=2 TASKS=8 SEARCH_STEPS=20 EVAL_MINUTES=0 TRAIN_MINUTES=2 EVAL_TIMEOUT=600
else
    STEPS=$PAPER_STEPS CHUNK=100 SAVE_EVERY=500 TASKS=256 SEARCH_STEPS=100 EVAL_MINUTES=${EVAL_MINUTES:-2.5}
    TRAIN_MINUTES=$(awk -v m="$MINUTES" -v e="$EVAL_MINUTES" 'BEGIN { t = m - e; print (t > 0.5 ? t : 0.5) }')
    EVAL_TIMEOUT=$(awk -v e="$EVAL_MINUTES" 'BEGIN { print int(60 * e + 60) }')
fi

main() {
    local started=$SECONDS
    echo "device_run.sh: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), dry run: $([ "$DRY_RUN" = 1 ] && echo yes || echo no)," \
        "budget $MINUTES min, PYTHON=$PYTHON"
    local devices backend
    devices=$("$PYTHON" -c "import jax; print(jax.default_backend(), jax.devices())") ||
        die "cannot import jax with $PYTHON (set PYTHON to an interpreter with jax and lpn's dependencies)" 1
    backend=${devices%% *}
    echo "jax devices: ${devices#* }"
    if [ "$DRY_RUN" = 0 ] && [ "$backend" != gpu ] && [ "$backend" != cuda ]; then
        die "no GPU: jax sees only ${devices#* } (backend $backend). This script trains at the paper's size for \
about $MINUTES minutes and needs one GPU: refusing to run. On a CPU, --dry-run runs the same pipeline at a tiny size"
    fi
    WORK=${WORK:-$(mktemp -d /tmp/lpn-device-run.XXXXXX)}
    mkdir -p "$WORK" || die "cannot create WORK=$WORK" 1
    echo "runs and evaluations in WORK=$WORK"
    local commit
    commit=$(git rev-parse HEAD 2>/dev/null) || commit=${LPN_COMMIT:-unknown (no git checkout here)}
    if git rev-parse HEAD >/dev/null 2>&1 && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
        commit="$commit (with uncommitted changes)"
    fi
    echo "commit: $commit"

    # 1. Train the candidate, stopped by --time-limit at a chunk boundary with a checkpoint there.
    local run=$WORK/candidate-run train_status train_started=$SECONDS
    echo
    echo "== 1. lpn train --preset pattern --steps $STEPS --set ${OVERRIDES[*]} --time-limit $TRAIN_MINUTES"
    timeout -k 10 "$(awk -v t="$TRAIN_MINUTES" 'BEGIN { print int(60 * t + 120) }')" \
        "$PYTHON" -m lpn train --preset pattern --out "$run" --steps "$STEPS" --set "${OVERRIDES[@]}" \
        --eval-every 0 --save-every "$SAVE_EVERY" --chunk "$CHUNK" --time-limit "$TRAIN_MINUTES" --seed 0
    train_status=$?
    local train_seconds=$((SECONDS - train_started))
    echo "lpn train exited with status $train_status after $train_seconds s"
    [ -f "$run/metrics.jsonl" ] && cp "$run/metrics.jsonl" "$OUT/metrics.jsonl"
    local latest=""
    [ -f "$run/latest" ] && latest=$run/$(cat "$run/latest")
    if [ -z "$latest" ] || [ ! -f "$latest/config.json" ]; then
        write_summary "$commit" "${devices#* }" "$train_status" "$train_seconds" "" "$started"
        die "the training left no checkpoint in $run: nothing to evaluate" 1
    fi

    # 2. Both models on the same fresh tasks: same data, count, seed and search.
    echo
    echo "== 2. lpn eval (candidate $latest and shipped $SHIPPED): --data pattern --limit $TASKS --seed $EVAL_SEED," \
        "--search none and --search gradient --steps $SEARCH_STEPS"
    local pids=() name checkpoint search
    for name in candidate shipped; do
        if [ $name = candidate ]; then checkpoint=$latest; else checkpoint=$SHIPPED; fi
        for search in none gradient; do
            # The four run side by side (on the GPU, each takes the memory it needs, no more).
            timeout -k 10 "$EVAL_TIMEOUT" "$PYTHON" -m lpn eval "$checkpoint" --data pattern --limit "$TASKS" \
                --seed "$EVAL_SEED" --search $search --steps "$SEARCH_STEPS" --out "$WORK/eval-$name-$search" \
                >"$WORK/eval-$name-$search.log" 2>&1 &
            pids+=($!)
        done
    done
    local failed=0 pid
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    for name in candidate shipped; do
        for search in none gradient; do
            echo "-- $name, --search $search:"
            cat "$WORK/eval-$name-$search.log"
        done
    done
    write_summary "$commit" "${devices#* }" "$train_status" "$train_seconds" "$latest" "$started" || failed=1
    [ "$failed" = 0 ] || die "an evaluation or the summary failed (above); summary.json says what is known" 1
}

write_summary() {  # COMMIT DEVICES TRAIN_STATUS TRAIN_SECONDS CHECKPOINT STARTED: summary.json, the comparison, the copy
    COMMIT=$1 DEVICES=$2 TRAIN_STATUS=$3 TRAIN_SECONDS=$4 CHECKPOINT=$5 TOTAL_SECONDS=$((SECONDS - $6)) \
        DRY_RUN=$DRY_RUN TARGET_STEPS=$STEPS PAPER_STEPS=$PAPER_STEPS TRAIN_MINUTES=$TRAIN_MINUTES BUDGET=$MINUTES TASKS=$TASKS \
        EVAL_SEED=$EVAL_SEED SEARCH_STEPS=$SEARCH_STEPS SHIPPED=$SHIPPED WORK=$WORK OUT=$OUT \
        OVERRIDES="${OVERRIDES[*]}" "$PYTHON" - <<'EOF'
import json, os, shutil, sys
from pathlib import Path

env = os.environ
work, out, checkpoint = Path(env["WORK"]), Path(env["OUT"]), env["CHECKPOINT"]
TASK_FIELDS = ("max_rows", "max_cols", "num_pairs", "pattern_size", "pattern_density")
summary = {
    "dry_run": env["DRY_RUN"] == "1",
    "commit": env["COMMIT"],
    "jax_devices": env["DEVICES"],
    "preset": "pattern",
    "overrides": env["OVERRIDES"].split(),
    "target_steps": int(env["TARGET_STEPS"]),
    "paper_steps": int(env["PAPER_STEPS"]),
    "steps": None,
    "train_exit_status": int(env["TRAIN_STATUS"]),
    "train_minutes": round(int(env["TRAIN_SECONDS"]) / 60, 2),
    "train_time_limit_minutes": float(env["TRAIN_MINUTES"]),
    "budget_minutes": float(env["BUDGET"]),
    "eval": {"data": "pattern", "tasks": int(env["TASKS"]), "seed": int(env["EVAL_SEED"]),
             "search_steps": int(env["SEARCH_STEPS"]), "shipped": env["SHIPPED"], "same_tasks": None},
    "scores": {},
    "rule": "keep the candidate only if its top-1 exact match with gradient search is strictly higher than the "
    "shipped model's on the same tasks",
    "kept": False,
    "candidate": None,
}
problems = []
if checkpoint:
    summary["steps"] = json.loads(Path(checkpoint, "config.json").read_text())["step"]
    configs = {}
    for name, folder in (("candidate", checkpoint), ("shipped", env["SHIPPED"])):
        configs[name] = json.loads(Path(folder, "config.json").read_text())["config"]
        scores = summary["scores"][name] = {"step": json.loads(Path(folder, "config.json").read_text())["step"]}
        for search in ("none", "gradient"):
            path = work / f"eval-{name}-{search}" / "results.json"
            if not path.is_file():
                problems.append(f"no {path} (the evaluation failed: its output is above)")
                continue
            result = json.loads(path.read_text())
            scores[search] = result["scores"]["top1"]
            scores[f"{search}_pixel"] = result["scores"]["pixel"]
            if search == "gradient":
                scores["gradient_pass2"] = result["scores"]["top2"]
            scores.setdefault("tasks", result["dataset_version"] + f", {result['num_tasks']} tasks")
    differ = [f for f in TASK_FIELDS if configs["candidate"][f] != configs["shipped"][f]]
    versions = {s.get("tasks") for s in summary["scores"].values()}
    summary["eval"]["same_tasks"] = not differ and len(versions) == 1 and None not in versions
    if differ:
        problems.append(f"the two models' tasks differ in {', '.join(differ)}: their scores are not comparable")
    candidate, shipped = summary["scores"]["candidate"], summary["scores"]["shipped"]
    if "gradient" in candidate and "gradient" in shipped and summary["eval"]["same_tasks"]:
        summary["kept"] = candidate["gradient"] > shipped["gradient"]
    steps = summary["eval"]["search_steps"]
    print(f"\n== 3. the same {summary['eval']['tasks']} fresh pattern tasks (seed {summary['eval']['seed']}), "
          "top-1 exact match:")
    print(f"{'model':<44} {'step':>6} {'mean latent':>12} {f'gradient, {steps} steps':>22}")
    for name, folder in (("candidate (trained now)", checkpoint), ("shipped", env["SHIPPED"])):
        s = summary["scores"][name.split()[0]]
        cells = [f"{s[k]:.1%}" if k in s else "failed" for k in ("none", "gradient")]
        print(f"{name + ': ' + str(Path(folder)):<44.44} {s['step']:>6} {cells[0]:>12} {cells[1]:>22}")
    if summary["kept"]:
        target = out / "candidate"
        target.mkdir()
        for file in ("config.json", "model.safetensors"):
            shutil.copy2(Path(checkpoint, file), target / file)
        summary["candidate"] = "candidate"
        print(f"kept: the candidate scores higher with search; copied to {target} for review")
    else:
        print("not kept: the candidate does not score higher with search than the shipped model"
              + ("" if not problems else " (or could not be compared)"))
summary["total_minutes"] = round(int(env["TOTAL_SECONDS"]) / 60, 2)
summary["problems"] = problems
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"steps reached: {summary['steps']} of {summary['target_steps']} in {summary['train_minutes']} min of "
      f"training; {summary['total_minutes']} min in all; wrote {out / 'summary.json'}")
for problem in problems:
    print(f"problem: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
}

main 2>&1 | tee "$OUT/device_run.log"
exit "${PIPESTATUS[0]}"
