"""Training and evaluating the lab's models: one loop for the family script and for chapters' live runs.

    model, history = train(Config(d_model=32, n_layer=2, n_head=2), Recipe(steps=200))
    evaluate(model)   # mean loss in nats per character on the validation split

Deterministic on a given machine: the initial weights come from torch's seeded generator and
every batch from a generator of its own, so the same seed gives the same losses step for step.
"""

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from atlas.demos import corpus
from atlas.demos.model import GPT, Config


@dataclass(frozen=True)
class Recipe:
    steps: int = 1000
    batch_size: int = 16
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    exit_loss: bool = False  # train every layer's output to predict the next token (early exit)
    aux_loss_weight: float = 0.01  # Switch's load-balancing loss, for mixtures of experts
    eval_every: int = 0  # record validation loss every this many steps (0: only at the end)
    eval_tokens: int = 16384
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class History:
    losses: list[float] = field(default_factory=list)  # training loss of every step
    evals: list[dict] = field(default_factory=list)  # {"step", "tokens", "flops", "val_loss"}
    flops_per_step: int = 0
    seconds: float = 0.0


def lr_at(step: int, recipe: Recipe) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio * lr."""
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * (recipe.min_lr_ratio + (1 - recipe.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def loss_of(model: GPT, x: torch.Tensor, y: torch.Tensor, exit_loss: bool = False) -> torch.Tensor:
    """Next-token cross-entropy; with exit_loss, averaged over the head applied after every block."""
    if not exit_loss:
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    _, hidden = model(x, return_hidden=True)
    losses = [F.cross_entropy(model.logits(h).flatten(0, 1), y.flatten()) for h in hidden[1:]]
    return torch.stack(losses).mean()


def train(
    config: Config,
    recipe: Recipe,
    model: GPT | None = None,
    ids: torch.Tensor | None = None,
    progress=None,
    device: torch.device | str | None = None,
) -> tuple[GPT, History]:
    """Train from scratch (or continue `model`) on the training split (or on `ids`), on `device`
    (default: where the model is; a new model starts on the CPU, so its weights do not depend on
    the device). `progress(step, loss)` is called after every step, e.g. to print."""
    from atlas.demos import meters

    torch.manual_seed(recipe.seed)
    model = model or GPT(config)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr,
        betas=(0.9, 0.95),
    )
    batches = torch.Generator().manual_seed(recipe.seed)
    history = History()
    tokens_per_step = recipe.batch_size * config.context
    start = time.perf_counter()
    for step in range(recipe.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, recipe)
        x, y = corpus.batch("train", recipe.batch_size, config.context, batches, ids=ids)
        x, y = x.to(device), y.to(device)

        def step_loss(x=x, y=y):
            loss = loss_of(model, x, y, recipe.exit_loss)
            return loss + recipe.aux_loss_weight * model.aux_loss() if config.n_expert else loss

        if step == 0:  # count the FLOPs of one full step (forward and backward) once
            history.flops_per_step, loss = meters.flops_and_result(lambda: _backward(step_loss()))
        else:
            loss = _backward(step_loss())
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.losses.append(loss)
        done = step + 1
        if (recipe.eval_every and done % recipe.eval_every == 0) or done == recipe.steps:
            history.evals.append(
                {
                    "step": done,
                    "tokens": done * tokens_per_step,
                    "flops": done * history.flops_per_step,
                    "val_loss": evaluate(model, max_tokens=recipe.eval_tokens),
                }
            )
            model.train()
        if progress:
            progress(done, loss)
    history.seconds = time.perf_counter() - start
    model.eval()
    return model, history


def _backward(loss: torch.Tensor) -> float:
    loss.backward()
    return loss.item()


@torch.no_grad()
def evaluate(
    model: GPT,
    split: str = "val",
    max_tokens: int | None = 16384,
    batch_size: int = 16,
    ids: torch.Tensor | None = None,
    exit_layer: int | None = None,
) -> float:
    """Mean next-character loss (nats) over fixed windows from the start of a split: the same text
    every time. max_tokens=None uses the whole split. exit_layer reads the head after that block."""
    was_training = model.training
    model.eval()
    x, y = corpus.windows(split, model.config.context, max_tokens, ids=ids)
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
        if exit_layer is None:
            logits = model(xb)
        else:
            _, hidden = model(xb, return_hidden=True)
            logits = model.logits(hidden[exit_layer])
        total += F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum").item()
        count += yb.numel()
    model.train(was_training)
    return total / count
