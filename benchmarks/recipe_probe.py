"""Learning curves of the `pattern_2d` preset at the CPU's 15-minute budget of steps, under training
recipes that `sweep_pattern_2d.py` does not cover: a cosine decay of the learning rate, Adam's b2,
the number of pairs per training task (`--num-pairs`; scoring always gives 3 and asks for a 4th)
and which of them are predicted (`--train-targets`),
and a faster-learning latent path (a learning-rate multiplier on the three matrices that carry the
latent: the encoder's mean and log-variance heads and the decoder's latent projection, or a smaller
initial projection). The architecture is the preset's.

Scores at each `--eval-at` step on the same 256 fresh tasks: mean latent and 100 Adam steps of
gradient search (lr 0.1); at the last, also `--final-search-steps` of it (0: skipped). One JSON
line each to `--out`, with the KL term's value along the way. `--seeds 0,1,2` trains and scores
one model per seed, one after the other (the compiled functions are reused); seed s initialises
the model as `train(..., seed=s)` does and scores it on the tasks of key 10,000 + s, as
`train_pattern_2d.py` does. `scripts/probe_pattern_2d.sh` runs the recipes of benchmarks/README.md
side by side:

    python benchmarks/recipe_probe.py --name cos --batch-size 32 --steps 12000 --lr 7e-4 \\
        --schedule cosine --b2 0.95 --kl 1e-4 --out probe.jsonl
"""

import argparse
import json
import time

import equinox as eqx
import jax
import optax

import lpn.train
from lpn import PRESETS, evaluate_batch, gradient_search, no_search, pattern_batch
from lpn.search import default_optimizer
from lpn.train import init_state, learning_rate_schedule, train_chunk


def latent_labels(params):
    """"latent" for the matrices that carry z, "rest" for every other parameter."""
    labels = jax.tree.map(lambda _: "rest", params)
    return eqx.tree_at(lambda m: (m.encoder.w_mu, m.encoder.w_logvar, m.decoder.w_latent), labels,
                       ("latent", "latent", "latent"))


def optimizer_with_latent_multiplier(multiplier: float):
    """lpn's optimiser, except that the latent matrices learn `multiplier` times faster."""
    def make_optimizer(cfg):
        def adamw(rate):
            schedule = learning_rate_schedule(cfg.replace(learning_rate=rate))
            return optax.adamw(schedule, b2=cfg.adam_b2, weight_decay=cfg.weight_decay)
        groups = {"rest": adamw(cfg.learning_rate), "latent": adamw(cfg.learning_rate * multiplier)}
        return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), optax.multi_transform(groups, latent_labels))
    return make_optimizer


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--eval-at", default="1000,2000,3000", help="comma-separated steps")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=4e-4, help="peak learning rate")
    p.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                   help="cosine: decay to 1%% of the peak at --steps")
    p.add_argument("--b2", type=float, default=0.999, help="Adam's b2")
    p.add_argument("--kl", type=float, default=None, help="beta (default: the preset's 1e-3)")
    p.add_argument("--noise-warmup", type=int, default=0, help="latent_noise_warmup")
    p.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up of the learning rate (default: the preset's)")
    p.add_argument("--grad-k", type=int, default=0)
    p.add_argument("--num-pairs", type=int, default=4, help="pairs per training task (scoring always uses 3 + 1)")
    p.add_argument("--train-targets", choices=["all", "last"], default="all",
                   help="all: leave-one-out over the pairs; last: only the last pair, from the others")
    p.add_argument("--latent-lr-mult", type=float, default=1.0)
    p.add_argument("--latent-init-scale", type=float, default=1.0, help="scales the decoder's initial w_latent")
    p.add_argument("--latent-bias", action="store_true", help="the decoder's latent token gets a learned bias (Config.latent_bias)")
    p.add_argument("--final-search-steps", type=int, default=400)
    p.add_argument("--seeds", default="0", help="comma-separated seeds, one model each")
    p.add_argument("--out", required=True)
    a = p.parse_args()

    cfg = PRESETS["pattern_2d"].replace(
        batch_size=a.batch_size, micro_batch_size=0, learning_rate=a.lr, adam_b2=a.b2, train_search_steps=a.grad_k,
        lr_decay_steps=a.steps if a.schedule == "cosine" else 0, latent_noise_warmup=a.noise_warmup, num_pairs=a.num_pairs,
        train_targets=a.train_targets, latent_bias=a.latent_bias,
        **({} if a.kl is None else {"kl_coeff": a.kl}), **({} if a.warmup_steps is None else {"warmup_steps": a.warmup_steps}))
    if a.latent_lr_mult != 1:
        lpn.train.make_optimizer = optimizer_with_latent_multiplier(a.latent_lr_mult)
    for seed in [int(s) for s in a.seeds.split(",")]:
        probe(cfg, a, seed)


def probe(cfg, a, seed: int):
    state = init_state(cfg, jax.random.key(seed))
    if a.latent_init_scale != 1:
        w = state.model.decoder.w_latent
        state = state._replace(model=eqx.tree_at(lambda m: m.decoder.w_latent, state.model, w * a.latent_init_scale))
    tasks = pattern_batch(jax.random.key(10_000 + seed), cfg, 256, num_pairs=4)  # never seen in training
    key, adam = jax.random.key(1), default_optimizer(0.1)
    start, done, kl_curve = time.perf_counter(), 0, {}
    for target in [int(s) for s in a.eval_at.split(",")]:
        while done < target:
            k = min(250, target - done)
            state, metrics = train_chunk(state, cfg, k)
            done += k
            if done in (250, 500, 1000, 2000, 4000):
                kl_curve[done] = round(float(metrics.kl[-50:].mean()), 2)
        mean = evaluate_batch(state.model, tasks, key, method=no_search)
        grad = evaluate_batch(state.model, tasks, key, method=gradient_search, steps=100, optimizer=adam)
        line = {"name": a.name, "seed": seed, "step": done, "s": round(time.perf_counter() - start, 1),
                "loss": round(float(metrics.loss[-50:].mean()), 4), "kl": round(float(metrics.kl[-50:].mean()), 3),
                "mean": round(mean.top1, 4), "grad": round(grad.top1, 4), "pixel": round(grad.pixel, 4)}
        if done == a.steps:
            line["kl_curve"] = kl_curve
            if a.final_search_steps:
                long = evaluate_batch(state.model, tasks, key, method=gradient_search, steps=a.final_search_steps,
                                      optimizer=adam)
                line["grad_long"] = round(long.top1, 4)
        print(json.dumps(line), flush=True)
        with open(a.out, "a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
