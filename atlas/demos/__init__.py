"""Helpers the chapters' live demos share: device choice, seeding, timing and memory measurement.

The technique itself is always written out in the chapter, where the reader can read and change
it; only the measuring harness lives here.
"""

import os
import random
import statistics
import time

import numpy as np
import torch


def device() -> torch.device:
    """The GPU when one is present (Colab GPU runtime, a workstation), else the CPU.

    ATLAS_DEVICE=cpu forces the CPU, e.g. to compare with a GPU run.
    """
    wanted = os.environ.get("ATLAS_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed every random source a demo touches, so a rebuild prints the same figures."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def synchronize(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_it(fn, dev: torch.device | None = None, repeat: int = 7, warmup: int = 2) -> float:
    """Median wall-clock seconds of fn() over `repeat` runs after `warmup` runs (GPU work synchronised)."""
    dev = dev or device()
    for _ in range(warmup):
        fn()
    synchronize(dev)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize(dev)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def nbytes(*tensors: torch.Tensor) -> int:
    """Bytes actually held by these tensors' elements (what a checkpoint or the GPU would store)."""
    return sum(t.numel() * t.element_size() for t in tensors)


def describe() -> str:
    """One line naming where the demo ran, printed above its figures."""
    dev = device()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    return f"device: {name}; torch {torch.__version__}"
