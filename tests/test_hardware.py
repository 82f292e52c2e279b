"""The Hardware chapter's own code (its cells tagged `core`): the roofline arithmetic, the meters'
byte counts, fused = unfused layer norm, batched = single-token decoding, and torch's flop counter
equal, exactly, to the chapter's formula for every trained model and for configurations the family
does not cover (grouped-query attention, top-2 experts), with and without the attention products."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from atlas import demos
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "hardware.md")
CPU = torch.device("cpu")


# The roofline arithmetic


def test_matmul_flops_and_bytes_count_every_term_and_every_operand():
    assert ns["matmul_flops"](2, 3, 4) == 2 * 2 * 3 * 4
    assert ns["matmul_bytes"](2, 3, 4) == 4 * (2 * 3 + 3 * 4 + 2 * 4)
    assert ns["matmul_bytes"](2, 3, 4, element_bytes=2) == 2 * (2 * 3 + 3 * 4 + 2 * 4)


@pytest.mark.parametrize("n", [64, 128, 1024, 4096])
def test_a_square_fp32_matmul_does_n_over_6_flops_per_byte(n):
    assert ns["arithmetic_intensity"](n, n, n) == pytest.approx(n / 6)


@pytest.mark.parametrize("width", [96, 2048, 8192])
def test_decoding_one_token_stays_below_half_a_flop_per_fp32_byte(width):
    decode = ns["arithmetic_intensity"](1, width, 4 * width)
    assert 0.45 < decode < 0.5
    assert ns["arithmetic_intensity"](1, width, 4 * width, element_bytes=2) == pytest.approx(2 * decode)


@pytest.mark.parametrize("tokens", [16, 256, 4096])
def test_prefill_intensity_grows_with_the_tokens_but_stays_below_half_of_them(tokens):
    intensity = ns["arithmetic_intensity"](tokens, 4096, 4096)
    assert ns["arithmetic_intensity"](1, 4096, 4096) < intensity < tokens / 2


def test_the_roofline_is_the_lower_roof_and_the_ridge_is_where_they_meet():
    peak, bandwidth = 100e9, 10e9
    ridge = ns["ridge_point"](peak, bandwidth)
    assert ridge == 10
    assert ns["roofline"](1.0, peak, bandwidth) == 10e9  # memory-bound
    assert ns["roofline"](1000.0, peak, bandwidth) == peak  # compute-bound
    assert ns["roofline"](ridge, peak, bandwidth) == pytest.approx(peak)


def test_decoding_is_memory_bound_on_every_published_accelerator():
    decode_16bit = ns["arithmetic_intensity"](1, 4096, 4096, element_bytes=2)
    for name, spec in ns["ACCELERATORS"].items():
        ridge = ns["ridge_point"](spec["16-bit tensor"], spec["bandwidth"])
        assert decode_16bit < ridge / 50, name
        if spec["fp32"]:
            assert spec["fp32"] < spec["16-bit tensor"], f"{name}: the tensor-core peak is the higher one"


# The meters


def test_run_costs_warms_up_then_times_every_repeat():
    calls = []
    costs = ns["run_costs"](lambda: calls.append(sum(range(1000))), CPU, repeat=5, warmup=2)
    assert len(calls) == 7
    assert len(costs) == 5 and all(c >= 0 for c in costs)


def test_relative_spread_is_the_interquartile_range_over_the_median():
    assert ns["relative_spread"]([2.0] * 5) == 0
    assert ns["relative_spread"]([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx((4.0 - 2.0) / 3.0)


def test_copy_and_triad_count_the_bytes_their_tensors_hold():
    x = torch.ones(1000)
    assert ns["copy_bytes"](x.numel()) == 2 * x.nbytes
    assert ns["triad_bytes"](x.numel()) == 3 * x.nbytes
    h = torch.ones(1000, dtype=torch.bfloat16)
    assert ns["copy_bytes"](h.numel(), h.element_size()) == 2 * h.nbytes


# Fusion and batching change the bytes, not the result


@pytest.mark.parametrize("shape", [(4, 8), (33, 2048)])
def test_unfused_layer_norm_is_layer_norm(shape):
    g = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(*shape, generator=g, dtype=torch.float64) + 1
    weight, bias = (
        torch.randn(shape[-1], generator=g, dtype=torch.float64),
        torch.randn(shape[-1], generator=g, dtype=torch.float64),
    )
    torch.testing.assert_close(ns["layer_norm_unfused"](x, weight, bias), F.layer_norm(x, shape[-1:], weight, bias))


def test_the_unfused_layer_norm_moves_six_times_the_bytes():
    traffic = ns["layer_norm_traffic"]
    assert traffic(1000, fused=True) == 2 * 1000 * 4
    assert traffic(1000, fused=False) == 6 * traffic(1000, fused=True)


def test_a_batch_of_decoding_steps_computes_what_the_steps_compute_one_at_a_time():
    g = torch.Generator().manual_seed(1)
    weight = torch.randn(512, 256, generator=g, dtype=torch.float64)
    rows = torch.randn(16, 256, generator=g, dtype=torch.float64)
    one_at_a_time = torch.cat([F.linear(rows[i : i + 1], weight) for i in range(16)])
    torch.testing.assert_close(F.linear(rows, weight), one_at_a_time)


# FLOPs: torch's counter against the chapter's formula


def trained():
    return [name for name in demos.family.names() if demos.family.path(name).exists()]


def counted_per_token(model, tokens, math_attention=False):
    ids = torch.randint(0, model.config.vocab_size, (1, tokens), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        if math_attention:  # the reference implementation, whose matmuls the counter sees
            with sdpa_kernel(SDPBackend.MATH):
                return demos.flops(lambda: model(ids)) / tokens
        return demos.flops(lambda: model(ids)) / tokens


@pytest.mark.parametrize("name", trained())
def test_the_flop_counter_counts_two_flops_per_weight_a_token_meets(name):
    model = demos.load(name)
    assert counted_per_token(model, 256) == ns["counter_flops_per_token"](model.config, 256, sees_attention=False)
    assert ns["counter_flops_per_token"](model.config, 256, False) == ns["linear_flops_per_token"](model.config)


@pytest.mark.parametrize("name", ["l", "m-moe"])
def test_with_an_attention_kernel_it_can_see_the_counter_adds_full_non_causal_attention(name):
    if not demos.family.path(name).exists():
        pytest.skip(f"{name} is not trained in this checkout")
    model = demos.load(name)
    expected = ns["counter_flops_per_token"](model.config, 128, sees_attention=True)
    assert counted_per_token(model, 128, math_attention=True) == expected


@pytest.mark.parametrize(
    "config",
    [
        demos.Config(d_model=32, n_layer=2, n_head=4, n_kv_head=2),  # grouped-query attention
        demos.Config(d_model=32, n_layer=3, n_head=2, n_kv_head=1, d_ff=80),  # multi-query, a narrow MLP
        demos.Config(d_model=32, n_layer=2, n_head=2, n_expert=4, top_k=2),  # top-2 experts
    ],
    ids=["gqa", "mqa", "moe-top2"],
)
def test_the_formula_holds_beyond_the_trained_family(config):
    model = demos.GPT(config).eval()
    assert counted_per_token(model, 64) == ns["linear_flops_per_token"](config)


def test_a_decoding_step_with_a_cache_costs_the_same_linear_flops_as_a_token_of_prefill():
    model = demos.GPT(demos.Config(d_model=32, n_layer=2, n_head=2)).eval()
    ids = torch.zeros(1, 17, dtype=torch.long)
    with torch.no_grad():
        cache = model.new_cache()
        model(ids[:, :16], cache=cache)
        step = demos.flops(lambda: model(ids[:, 16:], cache=cache))
    assert step == ns["linear_flops_per_token"](model.config)


def test_the_2n_rule_is_close_for_the_dense_model_and_far_for_the_mixture():
    dense = demos.Config(d_model=96, n_layer=5, n_head=4)
    mixture = demos.Config(d_model=64, n_layer=4, n_head=4, n_expert=4, top_k=1)
    for config, low, high in ((dense, 0.99, 1.02), (mixture, 0.3, 0.4)):
        model = demos.GPT(config)
        non_embedding = demos.n_params(model) - model.embed.weight.numel() - model.position.weight.numel()
        assert low < ns["linear_flops_per_token"](config) / (2 * non_embedding) < high


def test_attention_flops_average_the_causal_prefixes():
    config = demos.Config(d_model=16, n_layer=3, n_head=2)
    context = 10
    per_position = [4 * config.n_layer * config.d_model * (p + 1) for p in range(context)]
    assert ns["attention_flops_per_token"](config, context) == pytest.approx(sum(per_position) / context)


def test_the_energy_estimate_is_cpu_time_in_other_units():
    estimate = ns["energy_estimate"]
    assert estimate(2.0, watts_per_core=10.0) == 20.0
    assert estimate(3.0) / estimate(1.5) == 2.0  # ratios do not depend on the assumed wattage
    assert math.isclose(estimate(1.0), ns["ASSUMED_WATTS_PER_CORE"])
