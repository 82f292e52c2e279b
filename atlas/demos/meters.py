"""Meters for the demos: wall time, peak memory, FLOPs, parameters and bytes, tokens per second.

Every meter states what it counts, because a figure is only as honest as its definition:
- `time_it`: median wall-clock seconds over repeats, after warm-up runs, GPU work synchronised;
  `cpu_time`: median CPU seconds of this process instead, steadier on a machine others share.
- `peak_memory`: the most bytes of tensors allocated *while fn runs* were alive at once (tensors
  that existed before, such as weights and inputs, are not counted). On the CPU this is tracked
  op by op through torch's dispatcher, so buffers a fused kernel allocates internally are not seen;
  on CUDA it is the caching allocator's own peak.
- `flops`: the floating-point operations torch's flop counter attributes to matrix multiplies,
  convolutions and attention (one multiply-add counts as two); elementwise work is not counted.
  Torch has no formula for its CPU attention kernel, so on a CPU fused attention counts 0 (on a
  GPU it counts as full, non-causal attention); the Hardware chapter shows both.
"""

import statistics
import time
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.flop_counter import flop_registry


def device() -> torch.device:
    """The GPU when one is present (Colab GPU runtime, a workstation), else the CPU.

    ATLAS_DEVICE=cpu forces the CPU, e.g. to compare with a GPU run."""
    import os

    wanted = os.environ.get("ATLAS_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize(dev: torch.device | None = None) -> None:
    dev = dev or device()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_it(fn, dev: torch.device | None = None, repeat: int = 7, warmup: int = 2) -> float:
    """Median wall-clock seconds of fn() over `repeat` runs after `warmup` runs (GPU work synchronised)."""
    return statistics.median(times(fn, dev, repeat, warmup))


def times(fn, dev: torch.device | None = None, repeat: int = 7, warmup: int = 2) -> list[float]:
    """Every run's wall-clock seconds, for showing the spread as well as the median."""
    dev = dev or device()
    for _ in range(warmup):
        fn()
    synchronize(dev)
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize(dev)
        out.append(time.perf_counter() - start)
    return out


def cpu_time(fn, repeat: int = 7, warmup: int = 2) -> float:
    """Median CPU seconds this process spent in fn() (all its threads together). On a machine that
    others share, this moves much less than wall time; it says nothing about GPU work, and with
    several threads it adds their time up rather than measuring the wait."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        out.append(time.process_time() - start)
    return statistics.median(out)


class _Mode(TorchDispatchMode):
    """A dispatch mode that leaves torch.compile alone: torch's default wraps every mode's handler in
    a dynamo guard, whose first use imports torch._dynamo (seconds of a chapter's budget)."""

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False


class _LiveBytes(_Mode):
    """Adds up the storages of CPU tensors that ops create, and subtracts them when they are freed."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self._seen = set()

    def _free(self, key, n):
        self.live -= n
        self._seen.discard(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                storage = t.untyped_storage()
                key = storage._cdata
                if key not in self._seen:  # views and in-place results share a storage already counted
                    n = storage.nbytes()
                    self._seen.add(key)
                    self.live += n
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(storage, self._free, key, n)
        return out


def peak_memory(fn, dev: torch.device | None = None) -> tuple[int, object]:
    """(peak bytes allocated while fn() ran, fn's result). See the module's note on what is counted."""
    dev = dev or device()
    if dev.type == "cuda":
        synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        result = fn()
        synchronize(dev)
        return torch.cuda.max_memory_allocated(dev) - before, result
    with _LiveBytes() as tracker:
        result = fn()
    return tracker.peak, result


class _Flops(_Mode):
    """Adds up, op by op, the FLOPs of torch's flop counter formulas (torch.utils.flop_counter)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            shape = lambda x: x.shape if isinstance(x, torch.Tensor) else x  # noqa: E731
            self.total += formula(*tree_map(shape, args), **tree_map(shape, kwargs), out_val=tree_map(shape, out))
        return out


def flops_and_result(fn) -> tuple[int, object]:
    """(FLOPs torch's flop counter formulas attribute to fn(), fn's result)."""
    with _Flops() as counter:
        result = fn()
    return counter.total, result


def flops(fn) -> int:
    return flops_and_result(fn)[0]


def n_params(module: torch.nn.Module, trainable_only: bool = False) -> int:
    """Parameters, each shared tensor counted once (a tied head is not counted twice)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def nbytes(*tensors: torch.Tensor) -> int:
    """Bytes actually held by these tensors' elements (what a checkpoint or the GPU would store)."""
    return sum(t.numel() * t.element_size() for t in tensors)


def model_bytes(module: torch.nn.Module) -> int:
    """Bytes of a module's parameters and buffers, each shared tensor once."""
    return nbytes(*module.parameters(), *module.buffers())


def tokens_per_second(fn, tokens: int, dev: torch.device | None = None, repeat: int = 5, warmup: int = 1) -> float:
    """`tokens` (the number fn() processes or generates) over fn's median wall time."""
    return tokens / time_it(fn, dev, repeat, warmup)
