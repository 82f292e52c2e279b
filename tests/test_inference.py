"""The Efficient-inference chapter's own code (its cells tagged `core`): the exactness its demos rely on.

Each property is checked on a small model or tensor, and beside it a deliberately broken variant is
shown to fail the same check, so the test can tell a right answer from a wrong one. No timings."""

import math

import jupytext
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from atlas import demos
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "inference.md")


@pytest.fixture(scope="module")
def xs():
    return demos.load("xs")


@pytest.fixture(scope="module")
def prompt():
    return demos.corpus.split("val")[:24][None]


class DroppingCache(demos.KVCache):
    """A broken cache: forgets the oldest token whenever it holds more than 16."""

    def update(self, k, v):
        keys, values = super().update(k, v)
        if self.k.shape[2] > 16:
            self.k, self.v = self.k[:, :, 1:], self.v[:, :, 1:]
        return keys, values


# --- 1. the KV cache ----------------------------------------------------------------------------------


def test_cached_greedy_decoding_equals_recomputation(xs, prompt):
    cached, steps, cache = ns["greedy_decode"](xs, prompt, 40, use_cache=True)
    full, _, _ = ns["greedy_decode"](xs, prompt, 40, use_cache=False)
    assert torch.equal(cached, full)
    assert len(steps) == 40 and len(cache[0]) == prompt.shape[1] + 39  # the last token is never fed back
    per_token = sum(c.nbytes() for c in cache) / len(cache[0])
    assert per_token == 2 * xs.config.n_layer * xs.config.kv_heads * xs.config.head_dim * 4


def test_a_broken_cache_changes_the_tokens(xs, prompt):
    full, _, _ = ns["greedy_decode"](xs, prompt, 40, use_cache=False)
    broken, _, _ = ns["greedy_decode"](xs, prompt, 40, cache=[DroppingCache() for _ in xs.blocks])
    assert not torch.equal(broken, full)


# --- 2. paged KV memory -------------------------------------------------------------------------------


def paged_sequences(model, n, n_blocks=16, block_size=8):
    config = model.config
    pool = ns["BlockPool"](config.n_layer, n_blocks, block_size, config.kv_heads, config.head_dim)
    return pool, [ns["PagedSequence"](pool, config.n_layer) for _ in range(n)]


def test_paged_decoding_equals_contiguous_with_interleaved_blocks(xs):
    val = demos.corpus.split("val")
    prompts = [val[0:9], val[100:130], val[500:517]]
    pool, seqs = paged_sequences(xs, len(prompts))
    paged = ns["decode_interleaved"](xs, prompts, 12, [s.caches for s in seqs])
    contiguous = ns["decode_interleaved"](xs, prompts, 12, [xs.new_cache() for _ in prompts])
    assert all(torch.equal(a, b) for a, b in zip(paged, contiguous, strict=True))
    tables = [s.table for s in seqs]
    assert sorted(sum(tables, [])) == sorted(set(sum(tables, [])))  # no block is shared
    assert any(b - a != 1 for t in tables for a, b in zip(t, t[1:], strict=False))  # and they really interleave
    for s, p in zip(seqs, prompts, strict=True):  # a new block only when needed
        assert len(s.table) == math.ceil((len(p) + 11) / pool.block_size)
    for s in seqs:
        s.free()
    assert len(pool.free) == 16


def test_a_wrong_block_address_is_detected(xs):
    val = demos.corpus.split("val")
    prompts = [val[0:9], val[100:130]]
    _, seqs = paged_sequences(xs, 2)
    original = ns["PagedSequence"].slots

    def colliding(self, start, stop):  # two tokens share each slot, so one overwrites the other
        blocks, offsets = original(self, start, stop)
        return blocks, offsets // 2

    contiguous = ns["decode_interleaved"](xs, prompts, 12, [xs.new_cache() for _ in prompts])
    try:
        ns["PagedSequence"].slots = colliding
        paged = ns["decode_interleaved"](xs, prompts, 12, [s.caches for s in seqs])
    finally:
        ns["PagedSequence"].slots = original
    assert not all(torch.equal(a, b) for a, b in zip(paged, contiguous, strict=True))


def test_the_pool_refuses_to_overcommit(xs):
    _, (seq,) = paged_sequences(xs, 1, n_blocks=2, block_size=4)
    seq.reserve(8)
    with pytest.raises(MemoryError):
        seq.reserve(9)


def test_memory_simulation_accounts_for_every_slot():
    requests = ns["request_lengths"](400, np.random.default_rng(1))
    assert all(p >= 1 and o >= 1 and p + o <= 4096 for p, o in requests)
    capacity = 8 * 4096
    shares = [
        ns["simulate_contiguous"](requests, capacity, lambda n: 4096, 200),
        ns["simulate_contiguous"](requests, capacity, lambda n: n, 200),
        ns["simulate_paged"](requests, capacity, 200),
    ]
    for s in shares:
        total = s["token states"] + s["reserved"] + s["internal fragmentation"] + s["external fragmentation"]
        assert total == pytest.approx(1.0)
    reserve_max, exact, paged = shares
    assert reserve_max["sequences"] <= 8 and reserve_max["external fragmentation"] == 0
    assert exact["internal fragmentation"] == 0
    assert paged["reserved"] == 0 and paged["sequences"] > reserve_max["sequences"]
    assert paged["internal fragmentation"] * capacity < 16 * paged["sequences"]  # under one block each


def test_first_fit_merges_holes():
    memory = ns["ContiguousMemory"](100)
    a, b, c = memory.allocate(30), memory.allocate(30), memory.allocate(30)
    assert (a, b, c) == (0, 30, 60) and memory.allocate(20) is None  # 10 free, no hole of 20
    memory.release(a, 30)
    memory.release(b, 30)
    assert memory.holes == [(0, 60), (90, 10)] and memory.allocate(60) == 0


# --- 3. tiled attention ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n, block", [(1, 4), (37, 8), (64, 16), (100, 32), (130, 128), (50, 64)])
def test_tiled_attention_equals_standard_and_fused(n, block):
    g = torch.Generator().manual_seed(n)
    q, k, v = (torch.randn(2, 3, n, 16, generator=g) for _ in range(3))
    reference = ns["standard_attention"](q, k, v)
    torch.testing.assert_close(ns["tiled_attention"](q, k, v, block=block), reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, is_causal=True), reference, atol=1e-5, rtol=1e-5)


def core_cell(name):
    """The source of the chapter's core cell that defines `name`, to run a mutated copy of it."""
    nb = jupytext.read(REPO / "book" / "inference.md", fmt="md:myst")
    return next(c.source for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)


def test_tiled_attention_without_the_rescaling_is_wrong():
    source = core_cell("tiled_attention")
    assert "torch.exp(m - m_new)" in source
    broken = {}
    exec(compile(source.replace("torch.exp(m - m_new)", "torch.ones_like(m)"), "broken", "exec"), broken)  # noqa: S102
    q, k, v = (torch.randn(1, 1, 64, 8, generator=torch.Generator().manual_seed(i)) for i in range(3))
    assert not torch.allclose(
        broken["tiled_attention"](q, k, v, block=16), ns["standard_attention"](q, k, v), atol=1e-3
    )


def test_tiled_attention_never_holds_the_score_matrix():
    q, k, v = (torch.randn(1, 1, 1024, 16) for _ in range(3))
    standard, _ = demos.peak_memory(lambda: ns["standard_attention"](q, k, v), torch.device("cpu"))
    tiled, _ = demos.peak_memory(lambda: ns["tiled_attention"](q, k, v, block=64), torch.device("cpu"))
    assert standard >= 1024 * 1024 * 4  # at least one (n, n) float32 matrix
    assert tiled < 1024 * 1024 * 4 / 8


# --- 4. shared key/value heads --------------------------------------------------------------------------


@pytest.mark.parametrize("kv_heads", [8, 4, 2, 1])
def test_grouped_decode_attention_equals_copied_heads(kv_heads):
    g = torch.Generator().manual_seed(kv_heads)
    q = torch.randn(3, 8, 1, 16, generator=g)
    k, v = torch.randn(3, kv_heads, 50, 16, generator=g), torch.randn(3, kv_heads, 50, 16, generator=g)
    groups = 8 // kv_heads
    copied = F.scaled_dot_product_attention(q, k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1))
    torch.testing.assert_close(ns["grouped_decode_attention"](q, k, v), copied, atol=1e-5, rtol=1e-5)
    if 1 < kv_heads < 8:  # pairing query heads with the wrong key/value heads is detected
        wrong = F.scaled_dot_product_attention(q, k.repeat(1, groups, 1, 1), v.repeat(1, groups, 1, 1))
        assert not torch.allclose(ns["grouped_decode_attention"](q, k, v), wrong, atol=1e-3)


# --- 5. cache compression -------------------------------------------------------------------------------


def windows():
    x, y = demos.corpus.windows("val", 256, 1024)
    return x[:2], y[:2]


def test_the_lab_cache_through_the_loss_helper_is_the_evaluation(xs):
    x, y = windows()
    losses, _ = ns["loss_through_cache"](xs, x, y, demos.KVCache)
    assert losses.shape == (256,)
    assert losses.mean().item() == pytest.approx(demos.evaluate(xs, max_tokens=512), abs=1e-5)
    stepwise, _ = ns["loss_through_cache"](xs, x, y, demos.KVCache, decode_from=1)
    torch.testing.assert_close(stepwise, losses, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_cache_round_trip_and_bytes(bits):
    cache = ns["QuantizedKVCache"](bits)
    k = torch.randn(2, 3, 5, 24, generator=torch.Generator().manual_seed(bits))
    keys, values = cache.update(k, -k)
    half_step = ((k.amax(-1) - k.amin(-1)) / (2**bits - 1) / 2).max().item()  # rounding to the nearest code
    assert (keys - k).abs().max().item() <= 1.05 * half_step + 2e-3  # (+ the FP16 scale and minimum)
    assert (values + k).abs().max().item() <= 1.05 * half_step + 2e-3
    assert (keys - k).abs().max().item() > 1e-4  # it really is quantized
    per_group = 24 * bits / 8 + 2 + 2  # codes, FP16 scale and minimum
    assert cache.nbytes() == 2 * 2 * 3 * 5 * per_group
    assert len(cache) == cache.seen == 5


def test_4bit_packing_is_lossless_on_the_grid():
    cache = ns["QuantizedKVCache"](4)
    grid = torch.arange(16.0).repeat(2)[None, None, None]  # every code twice, exactly representable
    codes, scale, low = cache._quantize(grid)
    assert codes.numel() == 16 and codes.dtype == torch.uint8
    assert torch.equal(cache._dequantize(codes, scale, low), grid)


def test_sink_window_cache_keeps_sinks_and_recent_and_counts_positions():
    cache = ns["SinkWindowCache"](2, 3)
    for t in range(7):
        marker = torch.full((1, 1, 1, 1), float(t))
        keys, _ = cache.update(marker, marker)
    assert keys.flatten().tolist() == [0, 1, 3, 4, 5, 6]  # this step saw the kept tokens and the new one
    assert cache.k.flatten().tolist() == [0, 1, 4, 5, 6] and cache.seen == 7 and len(cache) == 5


def test_eviction_decoding(xs):
    x, y = windows()
    full, _ = ns["loss_through_cache"](xs, x, y, demos.KVCache)
    ample, _ = ns["loss_through_cache"](xs, x, y, lambda: ns["SinkWindowCache"](4, 300), decode_from=64)
    torch.testing.assert_close(ample, full, atol=1e-4, rtol=1e-4)  # nothing evicted: the full cache
    evicting = lambda: ns["SinkWindowCache"](4, 28)  # noqa: E731
    fast, _ = ns["loss_through_cache"](xs, x[:, :80], y[:, :80], evicting, decode_from=32)
    slow, _ = ns["loss_through_cache"](xs, x[:, :80], y[:, :80], evicting, decode_from=1)
    torch.testing.assert_close(fast, slow, atol=1e-4, rtol=1e-4)  # the one-pass prefix is exact
    torch.testing.assert_close(fast[:32], full[:32], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(fast[40:], full[40:80], atol=1e-4)  # eviction does change what comes after
    too_long, _ = ns["loss_through_cache"](xs, x[:, :80], y[:, :80], evicting, decode_from=64)
    assert not torch.allclose(too_long, slow, atol=1e-4)  # a one-pass prefix beyond the budget is not exact


# --- 6. the offloading cost model -----------------------------------------------------------------------


def test_offloading_model_amortises_transfers_and_respects_memory():
    throughput = ns["offload_throughput"]
    streamed = [throughput(12288, 96, b, "disk", "cpu", 4, 4) for b in (1, 2, 4, 8)]
    assert all(b > a for a, b in zip(streamed, streamed[1:], strict=False))
    assert streamed[1] / streamed[0] == pytest.approx(2, rel=0.05)  # transfer-bound: throughput ~ batch
    assert throughput(12288, 96, 1, "gpu", "gpu") == 0.0  # 350 GB of weights do not fit a 15 GB GPU
    assert throughput(4096, 32, 1, "gpu", "gpu") > 0  # OPT-6.7B in fp16 does
    assert throughput(12288, 96, 4096, "cpu", "cpu", 4, 4) == 0.0  # a cache too large for CPU memory
    assert throughput(12288, 96, 64, "cpu", "cpu", 4, 4) > throughput(12288, 96, 64, "disk", "cpu", 4, 4)
