"""The lab: what several chapters' live demos need, written once and tested.

    from atlas import demos

    model = demos.load("m")                  # a trained model of the family (demos.family.names())
    demos.evaluate(model)                    # held-out loss, nats per character
    demos.corpus.split("val")                # the corpus, tokenized; demos.corpus.encode / decode
    demos.GPT(demos.Config(d_model=32, n_layer=2, n_head=2))   # a fresh model to change or train
    demos.time_it(fn); demos.peak_memory(fn); demos.flops(fn)  # meters (see atlas.demos.meters)
    demos.source(demos.MoE)                  # show a lab component's code in the chapter

The technique each chapter teaches is written out in the chapter; the parts it stands on live here.
"""

import inspect
import random

import numpy as np
import torch

from atlas.demos import corpus, family
from atlas.demos.family import load
from atlas.demos.meters import (
    cpu_time,
    device,
    flops,
    flops_and_result,
    model_bytes,
    n_params,
    nbytes,
    peak_memory,
    synchronize,
    time_it,
    times,
    tokens_per_second,
)
from atlas.demos.model import GPT, MLP, Attention, Block, Config, KVCache, MoE, causal_mask
from atlas.demos.training import Recipe, evaluate, loss_of, train

__all__ = [
    "GPT", "MLP", "Attention", "Block", "Config", "KVCache", "MoE", "Recipe", "causal_mask", "corpus", "cpu_time",
    "describe", "device", "evaluate", "family", "flops", "flops_and_result", "load", "loss_of", "model_bytes",
    "n_params", "nbytes", "peak_memory", "perplexity", "seed_everything", "source", "synchronize", "time_it",
    "times", "tokens_per_second", "train",
]  # fmt: skip


def seed_everything(seed: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
    """Seed every random source a demo touches, so a rebuild prints the same figures; returns a
    generator on `device` (sampling on a GPU needs a GPU generator)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator(device=device).manual_seed(seed)


def perplexity(loss: float) -> float:
    """exp(mean loss in nats): the number of equally likely characters the model hesitates between."""
    return float(np.exp(loss))


def describe() -> str:
    """One line naming where the demo ran, printed above its figures."""
    dev = device()
    threads = torch.get_num_threads()
    name = (
        torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else f"CPU ({threads} thread{'s' if threads != 1 else ''})"
    )
    return f"device: {name}; torch {torch.__version__}"


def source(obj):
    """A lab component's source as a displayed code block, so a chapter shows the code it runs."""
    from IPython.display import Markdown

    return Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```")
