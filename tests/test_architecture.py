"""The Efficient architectures chapter's own code (its cells tagged `core`): the exactness properties
its demos rely on. Efficient attention equals softmax attention where it should, linear attention's
parallel, chunkwise and recurrent forms agree, decoding with a KV cache equals attention over the
whole sequence, and the written-out mixture-of-experts layer is the lab's."""

import math

import pytest
import torch
import torch.nn.functional as F

from atlas import demos
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "architecture.md")


def qkv(length=100, width=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(length, width, generator=g, dtype=torch.float64) for _ in range(3))


def masked_softmax(q, k, v, allowed):
    scores = (q @ k.T) * q.shape[-1] ** -0.5
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v


def causal(length):
    return torch.ones(length, length, dtype=torch.bool).tril()


def test_softmax_attention_is_causal_attention():
    q, k, v = qkv()
    expected = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
    torch.testing.assert_close(ns["softmax_attention"](q, k, v), expected)


@pytest.mark.parametrize("window", [100, 101, 250])
def test_a_window_as_long_as_the_sequence_is_causal_softmax(window):
    q, k, v = qkv(length=100)
    torch.testing.assert_close(ns["sliding_window_attention"](q, k, v, window), ns["softmax_attention"](q, k, v))


@pytest.mark.parametrize("window", [1, 7, 32, 64])
def test_sliding_window_is_banded_softmax(window):
    q, k, v = qkv(length=100)  # 100 is no multiple of the window: the padding path runs too
    i = torch.arange(100)
    gap = i[:, None] - i[None, :]
    expected = masked_softmax(q, k, v, (gap >= 0) & (gap < window))
    torch.testing.assert_close(ns["sliding_window_attention"](q, k, v, window), expected)


def test_one_bucket_and_one_chunk_is_shared_qk_softmax():
    q, _, v = qkv(length=96)
    expected = ns["softmax_attention"](q, F.normalize(q, dim=-1), v)
    torch.testing.assert_close(ns["lsh_attention"](q, v, n_buckets=1, chunk=96), expected)


@pytest.mark.parametrize("n_buckets", [2, 4, 8])
def test_hashed_attention_in_one_chunk_is_softmax_within_buckets(n_buckets):
    q, _, v = qkv(length=96)
    keys = F.normalize(q, dim=-1)
    buckets = ns["lsh_buckets"](keys, n_buckets, seed=3)
    assert len(buckets.unique()) > 1, "the hash should split the tokens"
    allowed = (buckets[:, None] == buckets[None, :]) & causal(96)
    expected = masked_softmax(q, keys, v, allowed)
    torch.testing.assert_close(ns["lsh_attention"](q, v, n_buckets=n_buckets, chunk=96, seed=3), expected)


def test_hashed_attention_with_small_chunks_sees_only_its_bucket_and_the_past():
    """With chunks, a query sees a subset of its bucket's earlier keys: perturbing the future, or a
    token of another bucket, leaves it unchanged."""
    q, _, v = qkv(length=100, seed=1)
    out = ns["lsh_attention"](q, v, n_buckets=4, chunk=16)
    buckets = ns["lsh_buckets"](F.normalize(q, dim=-1), 4)
    t = 60
    changed = v.clone()
    changed[t + 1 :] += 10.0  # the future
    other = buckets != buckets[t]
    changed[other] += 10.0  # other buckets
    assert torch.equal(ns["lsh_attention"](q, changed, n_buckets=4, chunk=16)[t], out[t])


@pytest.mark.parametrize("chunk", [1, 7, 64, 100, 128])
def test_linear_attention_forms_agree(chunk):
    q, k, v = qkv(length=100)
    parallel = ns["linear_attention_parallel"](q, k, v)
    torch.testing.assert_close(ns["linear_attention"](q, k, v, chunk=chunk), parallel)
    torch.testing.assert_close(ns["linear_attention_recurrent"](q, k, v), parallel)


def test_linear_attention_is_katharopoulos_formula():
    q, k, v = qkv(length=20)
    phi_q, phi_k = F.elu(q) + 1, F.elu(k) + 1
    expected = torch.stack(
        [(phi_q[i] @ (phi_k[: i + 1].T @ v[: i + 1])) / (phi_q[i] @ phi_k[: i + 1].sum(0)) for i in range(20)]
    )
    torch.testing.assert_close(ns["linear_attention_parallel"](q, k, v), expected)


def test_recurrent_state_does_not_grow():
    q, k, v = qkv(length=200)
    state = (torch.zeros(16, 16, dtype=torch.float64), torch.zeros(16, dtype=torch.float64))
    sizes = set()
    for t in range(200):
        _, state = ns["linear_attention_step"](state, q[t], k[t], v[t])
        sizes.add(sum(s.numel() for s in state))
    assert sizes == {16 * 16 + 16}


def test_steps_work_on_a_stack_of_heads():
    g = torch.Generator().manual_seed(0)
    heads, width, length = 3, 8, 12
    q, k, v = (torch.randn(heads, length, width, generator=g, dtype=torch.float64) for _ in range(3))
    state = (torch.zeros(heads, width, width, dtype=torch.float64), torch.zeros(heads, width, dtype=torch.float64))
    cache = (
        torch.zeros(heads, length, width, dtype=torch.float64),
        torch.zeros(heads, length, width, dtype=torch.float64),
    )
    for t in range(length):
        y, state = ns["linear_attention_step"](state, q[:, t], k[:, t], v[:, t])
        y_soft = ns["softmax_step"](cache, t, q[:, t], k[:, t], v[:, t])
        for h in range(heads):
            torch.testing.assert_close(y[h], ns["linear_attention_parallel"](q[h], k[h], v[h])[t])
            torch.testing.assert_close(y_soft[h], ns["softmax_attention"](q[h], k[h], v[h])[t])


def test_decoding_with_a_kv_cache_equals_attention_over_the_whole_sequence():
    q, k, v = qkv(length=50)
    cache = (torch.zeros_like(k), torch.zeros_like(v))
    decoded = torch.stack([ns["softmax_step"](cache, t, q[t], k[t], v[t]) for t in range(50)])
    torch.testing.assert_close(decoded, ns["softmax_attention"](q, k, v))


def lab_moe(top_k=1, capacity_factor=1.0, seed=0):
    torch.manual_seed(seed)
    moe = demos.MoE(
        demos.Config(d_model=16, n_layer=1, n_head=2, n_expert=4, top_k=top_k, capacity_factor=capacity_factor)
    )
    with torch.no_grad():
        moe.router.weight.mul_(50)  # a confident router, so the load is uneven and capacity bites
    return moe


@pytest.mark.parametrize("top_k", [1, 2])
@pytest.mark.parametrize("training", [True, False])
def test_written_out_layer_is_the_labs_moe(top_k, training):
    moe = lab_moe(top_k)
    x = torch.randn(2, 50, 16, generator=torch.Generator().manual_seed(1))
    moe.train(training)
    with torch.no_grad():
        expected = moe(x)
        out, balance, dropped = ns["switch_layer"](
            x, moe.router, moe.experts, top_k, moe.capacity_factor, drop=training
        )
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(balance, moe.aux_loss)
    assert dropped == pytest.approx(moe.dropped)
    assert (dropped > 0) == training, "capacity 1.0 with a confident router drops tokens in training only"


def test_without_dropping_each_token_gets_its_expert_weighted_by_its_gate():
    moe = lab_moe()
    x = torch.randn(40, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out, _, dropped = ns["switch_layer"](x, moe.router, moe.experts, drop=False)
        probs = moe.router(x).softmax(-1)
        for token in range(40):
            best = int(probs[token].argmax())
            torch.testing.assert_close(out[token], probs[token, best] * moe.experts[best](x[token : token + 1])[0])
    assert dropped == 0


def test_dropped_tokens_get_nothing_and_capacity_is_respected():
    moe = lab_moe()
    x = torch.randn(64, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out, _, dropped = ns["switch_layer"](x, moe.router, moe.experts, capacity_factor=0.5)
        choice = moe.router(x).argmax(-1)
    capacity = math.ceil(0.5 * 64 / 4)
    served = out.abs().sum(-1) > 0
    for i in range(4):
        queued = (choice == i).nonzero().flatten()
        assert served[queued[:capacity]].all() and not served[queued[capacity:]].any()
    assert dropped == pytest.approx(1 - served.sum().item() / 64)


def test_balancing_loss_is_one_for_a_uniform_router():
    moe = lab_moe()
    with torch.no_grad():
        moe.router.weight.zero_()
        _, balance, _ = ns["switch_layer"](torch.randn(32, 16), moe.router, moe.experts, drop=False)
    assert balance.item() == pytest.approx(1.0)


def test_top1_costs_one_mlp_per_token_plus_the_router():
    moe = lab_moe()
    x = torch.randn(64, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        sparse = demos.flops(lambda: ns["switch_layer"](x, moe.router, moe.experts, drop=False))
        dense = demos.flops(lambda: moe.experts[0](x))
    assert sparse == dense + 2 * 64 * 16 * 4
