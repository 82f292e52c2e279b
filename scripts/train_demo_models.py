"""Train the lab's family of tiny models on tiny-shakespeare and write their checkpoints.

    python scripts/train_demo_models.py            # every member (about an hour on 2 CPU cores)
    python scripts/train_demo_models.py xs m-moe   # only these
    python scripts/train_demo_models.py --steps 10 --dry-run xs   # a few steps, print losses, write nothing

Deterministic: the same torch build and thread count give the same weights bit for bit (the
thread count is fixed, 2 unless --threads says otherwise, and recorded in the card, since a
different split of a matrix multiply rounds differently). Each
checkpoint is data/models/<name>.safetensors, weights stored in fp16, with a card in its metadata:
config, recipe, parameters, steps, tokens seen, training FLOPs (counted by torch's flop counter
for one step, times the steps) beside the 6ND estimate, the validation-loss curve, and the final
validation loss measured on the stored fp16 weights, which tests/test_lab.py re-measures.
"""

import argparse
import datetime as dt
import sys
from dataclasses import replace

import torch

from atlas.demos import corpus, family, meters, training

THREADS = 2
STORE_DTYPE = torch.float16
FIRST_LOSSES = 10  # recorded so a short re-run can prove the training is reproducible


def train_member(member: family.Member, steps: int | None = None, quiet: bool = False):
    recipe = member.recipe if steps is None else replace(member.recipe, steps=steps, eval_every=0)

    def progress(step, loss):
        if not quiet and (step % 100 == 0 or step == recipe.steps):
            print(f"  {member.name} step {step}/{recipe.steps} loss {loss:.4f}", flush=True)

    model, history = training.train(member.config, recipe, progress=progress)
    return model, history, recipe


def card_for(member, model, history, recipe, threads: int) -> dict:
    stored = family.GPT(member.config)  # measure what is stored: the weights rounded to fp16
    stored.load_state_dict({k: v.to(STORE_DTYPE).float() for k, v in model.state_dict().items()})
    params = meters.n_params(model)
    embedding = model.embed.weight.numel() + model.position.weight.numel()
    tokens = recipe.steps * recipe.batch_size * member.config.context
    layers = [None] if not recipe.exit_loss else [None, *range(1, member.config.n_layer)]
    return {
        "name": member.name,
        "description": member.description,
        "config": member.config.to_dict(),
        "recipe": recipe.to_dict(),
        "corpus": {"name": corpus.NAME, "sha256": corpus.SHA256, "val_fraction": corpus.VAL_FRACTION},
        "params": params,
        "non_embedding_params": params - embedding,
        "steps": recipe.steps,
        "tokens": tokens,
        "train_flops": history.flops_per_step * recipe.steps,
        "train_flops_6nd": 6 * params * tokens,
        "first_losses": history.losses[:FIRST_LOSSES],
        "final_train_loss": sum(history.losses[-50:]) / len(history.losses[-50:]),
        "evals": history.evals,
        "val_loss": training.evaluate(stored, max_tokens=recipe.eval_tokens),
        "val_loss_full": training.evaluate(stored, max_tokens=None),
        "exit_val_loss": {
            str(layer or member.config.n_layer): training.evaluate(stored, exit_layer=layer) for layer in layers
        }
        if recipe.exit_loss
        else {},
        "stored_dtype": str(STORE_DTYPE).removeprefix("torch."),
        "torch": torch.__version__,
        "threads": threads,
        "train_seconds": round(history.seconds, 1),
        "trained": dt.date.today().isoformat(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="members to train (default: all)")
    parser.add_argument("--steps", type=int, help="train only this many steps (with --dry-run)")
    parser.add_argument("--dry-run", action="store_true", help="print the first losses; write nothing")
    parser.add_argument(
        "--threads", type=int, default=THREADS, help=f"torch threads (default {THREADS}); recorded in the card"
    )
    args = parser.parse_args()
    if args.steps is not None and not args.dry_run:
        parser.error("--steps shortens training, so it is only allowed with --dry-run (checkpoints are full runs)")
    torch.set_num_threads(args.threads)
    for name in args.names or family.names():
        member = family.member(name)
        model, history, recipe = train_member(member, args.steps, quiet=args.dry_run)
        if args.dry_run:
            print(name, " ".join(f"{loss:.6f}" for loss in history.losses[:FIRST_LOSSES]))
            continue
        card = card_for(member, model, history, recipe, args.threads)
        family.save(model, card, STORE_DTYPE)
        print(
            f"{name}: {card['params']:,} parameters, val loss {card['val_loss']:.4f} "
            f"(full split {card['val_loss_full']:.4f}), {card['train_seconds']} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
