"""The training-systems chapter's own code: each demo's exactness property, asserted.

The chapter's technique cells (tagged `core`) are loaded from book/training.md and run here on
small models: the ZeRO calculator against the paper's worked example, checkpointing against plain
backpropagation, fp16 underflow and loss scaling, and the two-process demos (data parallelism,
ZeRO stages 1 and 2, a GPipe pipeline) against one process on the combined batch. Each equality
comes with a negative control showing that the comparison would catch a wrong result.
"""

import pytest
import torch

from atlas import demos
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "training.md")
TINY = demos.Config(d_model=16, n_layer=2, n_head=2, context=32)


def fresh_state(config=TINY, seed=0):
    torch.manual_seed(seed)
    return demos.GPT(config).state_dict()


def batch(n, length=32, seed=0):
    return demos.corpus.batch("train", n, length, torch.Generator().manual_seed(seed))


def max_difference(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max((a[k] - b[k]).abs().max().item() for k in a)


# --- the ZeRO calculator ------------------------------------------------------------------------


def test_zero_calculator_reproduces_the_papers_worked_example():
    # ZeRO (Rajbhandari et al.), Sections 5.1-5.3: 7.5B parameters, 64-way data parallelism, K = 12
    paper = {0: 120, 1: 31.4, 2: 16.6, 3: 1.9}
    for stage, gb in paper.items():
        assert sum(ns["zero_memory"](7.5e9, 64, stage).values()) / 1e9 == pytest.approx(gb, abs=0.05)


def test_zero_calculator_partitions_the_right_state_at_each_stage():
    parts = [ns["zero_memory"](1.0, 4, stage) for stage in range(4)]
    assert parts[0] == {"parameters": 2, "gradients": 2, "optimizer states": 12}
    assert parts[1] == {"parameters": 2, "gradients": 2, "optimizer states": 3}
    assert parts[2] == {"parameters": 2, "gradients": 0.5, "optimizer states": 3}
    assert parts[3] == {"parameters": 0.5, "gradients": 0.5, "optimizer states": 3}
    # the paper's large-N limits: 4x and 8x for stages 1 and 2, N x for stage 3
    totals = [sum(ns["zero_memory"](1.0, 10**9, stage).values()) for stage in range(3)]
    assert totals[0] / totals[1] == pytest.approx(4, rel=1e-6)
    assert totals[0] / totals[2] == pytest.approx(8, rel=1e-6)


# --- mixed precision ----------------------------------------------------------------------------


def test_bf16_autocast_keeps_fp32_weights_and_gradients_close_to_fp32():
    x, y = batch(2)
    grads = {}
    for precision in ("fp32", "bf16"):
        model = demos.GPT(TINY)
        model.load_state_dict(fresh_state())
        ns["forward_backward"](model, x, y, precision)
        assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in model.parameters())
        grads[precision] = torch.cat([p.grad.flatten() for p in model.parameters()])
    error = (grads["bf16"] - grads["fp32"]).norm() / grads["fp32"].norm()
    assert 0 < error < 0.05  # bf16 rounds (so not equal), but only by its 8 significant bits


def test_fp16_fate_counts_underflow_subnormals_and_overflow():
    g = torch.tensor([1e-9, 1e-6, 1e-4, 0.5, 0.0])  # below 2^-24, subnormal, normal, normal; zeros are ignored
    fate = ns["fp16_fate"](g)
    assert fate == {"flushed to zero (%)": 25.0, "subnormal (%)": 25.0, "overflow (%)": 0.0}
    scaled = ns["fp16_fate"](g, scale=2.0**15)  # 1e-9 becomes a subnormal, 1e-6 a normal number
    assert scaled == {"flushed to zero (%)": 0.0, "subnormal (%)": 25.0, "overflow (%)": 0.0}
    assert ns["fp16_fate"](g, scale=2.0**17)["overflow (%)"] == 25.0  # 0.5 * 2^17 > 65504


def test_loss_scaling_keeps_small_gradients_and_reports_overflow():
    model = demos.load("xs")
    x, y = demos.corpus.batch("val", 2, 256, torch.Generator().manual_seed(0))
    model.zero_grad()
    ns["next_token_loss"](model, x, y).backward()
    reference = torch.cat([p.grad.flatten() for p in model.parameters()])
    unscaled = ns["fp16_gradients"](model, x, y, scale=1.0)
    scaled = ns["fp16_gradients"](model, x, y, scale=2.0**12)
    lost = [((g == 0) & (reference != 0)).sum().item() for g in (unscaled, scaled)]
    assert lost[0] > 0 and lost[1] < lost[0]
    assert (scaled - reference).norm() / reference.norm() < 0.02  # unscaled again: fp32's gradients, rounded
    assert ns["fp16_gradients"](model, x, y, scale=2.0**40) is None  # overflow: the step must be skipped


# --- activation checkpointing -------------------------------------------------------------------


@pytest.mark.parametrize("every", [1, 2, 4])
def test_checkpointing_leaves_the_gradients_unchanged_and_saves_memory(every):
    config = demos.Config(d_model=16, n_layer=4, n_head=2, context=64)
    model = demos.GPT(config)
    model.load_state_dict(fresh_state(config))
    x, y = batch(2, 64)

    def grads(checkpoint_every):
        model.zero_grad(set_to_none=True)
        logits = ns["checkpointed_logits"](model, x, checkpoint_every)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    plain, checkpointed = grads(None), grads(every)
    assert max_difference(plain, checkpointed) == 0.0  # the recomputation is the same arithmetic
    assert torch.equal(ns["checkpointed_logits"](model, x, None), model(x))  # `never` is the model itself
    peak = {k: demos.peak_memory(lambda k=k: grads(k), torch.device("cpu"))[0] for k in (None, every)}
    assert peak[every] < peak[None]


# --- the two-process demos ----------------------------------------------------------------------


def test_data_parallel_gradients_equal_one_process_on_the_combined_batch():
    state, (x, y) = fresh_state(), batch(4)
    ranks = ns["launch"](ns["data_parallel_worker"], config=TINY, state=state, x=x, y=y, repeat=1)
    single = ns["single_process_gradients"](TINY, state, x, y)
    assert max_difference(ranks[0]["grads"], ranks[1]["grads"]) == 0.0  # every replica holds the same average
    assert max_difference(ranks[0]["grads"], single) < 1e-6
    half = ns["single_process_gradients"](TINY, state, x[:2], y[:2])  # negative control: no averaging
    assert max_difference(half, single) > 1e-4
    n_params = demos.n_params(demos.GPT(TINY))
    assert ranks[0]["bytes"] == 4 * n_params  # DDP all-reduces the whole fp32 gradient each step


def test_sharded_optimizers_take_replicated_adams_steps_with_half_the_state():
    state = fresh_state()
    batches = [batch(4, seed=s) for s in range(3)]
    ranks = ns["launch"](ns["sharded_optimizer_worker"], config=TINY, state=state, batches=batches)
    # the reference: one process, plain Adam, the combined batches
    model = demos.GPT(TINY)
    model.load_state_dict(state)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=False)
    for x, y in batches:
        ns["loss_on"](model, x, y).backward()
        adam.step()
        adam.zero_grad()
    single = {k: v.detach() for k, v in model.state_dict().items()}
    assert max_difference(ranks[0]["replicated Adam"]["params"], single) < 1e-5
    assert max_difference(state, single) > 1e-4  # negative control: the steps did change the weights
    full_state = ranks[0]["replicated Adam"]["memory"]["optimizer states"]
    for variant in ("ZeRO stage 1", "ZeRO stage 2"):
        for rank in ranks:
            assert max_difference(rank[variant]["params"], rank["replicated Adam"]["params"]) < 1e-6
        shares = [rank[variant]["memory"]["optimizer states"] for rank in ranks]
        assert sum(shares) == pytest.approx(full_state, rel=0.02)  # partitioned, not replicated
        assert max(shares) <= 0.6 * full_state  # about half each
    grads = [rank["ZeRO stage 2"]["memory"]["gradients"] for rank in ranks]
    assert max(grads) <= 0.51 * ranks[0]["replicated Adam"]["memory"]["gradients"]


def test_pipelined_gradients_equal_one_process_on_the_whole_batch():
    state, (x, y) = fresh_state(), batch(4)
    stages = ns["launch"](ns["pipeline_worker"], config=TINY, state=state, x=x, y=y, micro_batches=(1, 4), repeat=1)
    grads = {**stages[0]["grads"], **stages[1]["grads"]}
    single = ns["single_process_gradients"](TINY, state, x, y)
    assert max_difference(grads, single) < 1e-6  # the last run used 4 micro-batches, tied embedding summed
    broken = dict(grads, **{"embed.weight": stages[0]["grads"]["embed.weight"] * 0.5})  # negative control
    assert max_difference(broken, single) > 1e-4
    for stage in stages:  # the schedule ran: every micro-batch forward then backward, on each stage
        events = stage["runs"][4]["events"]
        assert [e["op"] for e in events] == ["forward"] * 4 + ["backward"] * 4
        assert [e["micro-batch"] for e in events] == [0, 1, 2, 3, 3, 2, 1, 0]


@pytest.mark.parametrize(("p", "m"), [(2, 1), (2, 8), (4, 4), (8, 32)])
def test_simulated_gpipe_schedule_has_the_formulas_bubble(p, m):
    events = ns["gpipe_schedule"]([[1.0] * m] * p, [[2.0] * m] * p)
    assert ns["bubble"](events, p) == pytest.approx(ns["gpipe_bubble_formula"](p, m), abs=1e-12)
    ends = {(e["op"], e["stage"], e["micro-batch"]): e for e in events}
    for e in events:  # every operation starts after its input exists
        if e["op"] == "forward" and e["stage"] > 0:
            assert e["start"] >= ends["forward", e["stage"] - 1, e["micro-batch"]]["end"]
        if e["op"] == "backward" and e["stage"] < p - 1:
            assert e["start"] >= ends["backward", e["stage"] + 1, e["micro-batch"]]["end"]


def test_a_failing_process_is_reported_with_its_traceback():
    def broken(rank, world_size):
        raise ValueError(f"rank {rank} cannot go on")

    with pytest.raises(RuntimeError, match="cannot go on"):
        ns["launch"](broken)
