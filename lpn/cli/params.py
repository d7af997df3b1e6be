"""`lpn params`: each preset's true parameter count, for LPN and for the in-context baseline (§3.6),
beside the paper's reported figure."""

from __future__ import annotations

# The paper's reported sizes (lpn-paper.md §1.6): about 4x the true counts, as the authors counted a
# parameter tree replicated on 4 TPU devices.
PAPER_COUNTS = {
    "pattern_2d": "1M (Tab. 14)",
    "pattern": "973k (Tab. 13)",
    "pattern_ood": "1M (Tab. 15)",
    "arc": "178M (Tab. 16)",
}


def add_parser(commands) -> None:
    p = commands.add_parser(
        "params",
        help="parameter count of each preset, beside the paper's figure",
        description="Prints each preset's true parameter count, of an LPN and of the in-context "
        "baseline, and the paper's reported figure for the LPN, which is about 4x "
        "larger (lpn-paper.md §1.6).",
    )
    p.set_defaults(run=cmd_params)


def cmd_params(args) -> None:
    import equinox as eqx
    import jax

    from lpn.config import PRESETS
    from lpn.in_context import InContext
    from lpn.model import LPN, num_params

    print(
        f"{'preset':<12} {'grid':>6} {'latent':>6} {'LPN':>12} {'in-context':>12} {'4 x LPN':>12}  paper reports (LPN)"
    )
    for name, cfg in PRESETS.items():
        count, baseline = (num_params(eqx.filter_eval_shape(cls, cfg, jax.random.key(0))) for cls in (LPN, InContext))
        grid = f"{cfg.max_rows}x{cfg.max_cols}"
        print(
            f"{name:<12} {grid:>6} {cfg.latent_dim:>6} {count:>12,} {baseline:>12,} {4 * count:>12,}  "
            f"{PAPER_COUNTS.get(name, '-')}"
        )
    print(
        "\nThe paper's figures are about 4x the true counts: the authors counted the parameter tree "
        "replicated\non 4 TPU devices (lpn-paper.md §1.6). The ARC model has about 44.6M parameters, not 178M."
    )
    print(
        "The in-context baseline (lpn train --arch in-context, §3.6) is the same encoder and decoder without "
        "the\nlatent heads (mu, logvar and the decoder's latent projection), plus a projection of each pair's\n"
        "embedding to the decoder's width and a read token; its latent column does not apply."
    )
