"""The fine-tuning chapter's own code (its cells tagged `core`): the exactness properties its demos
rely on. Merged LoRA computes what unmerged LoRA computes; every method starts at the pre-trained
model and never changes a frozen weight; NF4 is QLoRA's grid and stores 4.127 bits per weight."""

import copy
from pathlib import Path

import pytest
import torch

from atlas import data, demos
from atlas.book.notebooks import core_code

REPO = Path(__file__).resolve().parent.parent
ns = core_code(REPO / "book" / "finetuning.md")

# bitsandbytes' NF4 table, create_normal_map(offset=0.9677083, use_extra_value=True), in float32
NF4_REFERENCE = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
]  # fmt: skip


@pytest.fixture
def model():
    demos.seed_everything(0)
    return demos.load("m")


@pytest.fixture
def ids():
    return torch.randint(demos.corpus.VOCAB_SIZE, (4, 48), generator=torch.Generator().manual_seed(1))


def randomise_lora(model, seed=2):
    """Give every LoRA factor non-zero values, as training would, so the update is not trivially zero."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, ns["LoRALinear"]):
                layer.B.copy_(0.05 * torch.randn(layer.B.shape, generator=g))
    return model


def close(a, b):
    """The chapter's tolerance: at most 1e-5 of the logits' largest magnitude (float32 rounding)."""
    return (a - b).abs().max().item() <= 1e-5 * b.abs().max().item()


def test_the_split_is_by_paper_fixed_and_about_a_fifth():
    keys = list(data.load().papers["key"])
    held = [ns["is_held_out"](k) for k in keys]
    assert held == [ns["is_held_out"](k) for k in reversed(keys)][::-1]  # depends on the key alone
    assert 0.1 < sum(held) / len(keys) < 0.3
    assert ns["is_held_out"]("hu2021lora") == ns["is_held_out"]("hu2021lora")


@pytest.mark.parametrize("method", ["lora", "qlora-free-init", "adapters"])
def test_every_added_module_starts_at_the_pre_trained_model(model, ids, method):
    with torch.no_grad():
        reference = model(ids)
        if method == "lora":
            adapted = ns["add_lora"](copy.deepcopy(model), 4)
        elif method == "adapters":
            adapted = ns["add_adapters"](copy.deepcopy(model), 8)
        else:  # LoRA on top of the NF4 base starts at the NF4 model, not at the fp32 one
            reference = ns["swap_linears"](ns["freeze"](copy.deepcopy(model)), ns["NF4Linear"])(ids)
            adapted = ns["add_qlora"](copy.deepcopy(model), 4)
        assert torch.equal(adapted(ids), reference)


def test_merged_lora_equals_unmerged_lora(model, ids):
    lora = randomise_lora(ns["add_lora"](copy.deepcopy(model), 4))
    merged = ns["merge_lora"](copy.deepcopy(lora))
    with torch.no_grad():
        base, unmerged, folded = model(ids), lora(ids), merged(ids)
    assert not close(unmerged, base)  # the update is real, so the comparison below means something
    assert close(folded, unmerged)
    assert not any(isinstance(m, ns["LoRALinear"]) for m in merged.modules())
    assert demos.n_params(merged) == demos.n_params(model)


def test_a_merge_that_forgets_the_scale_is_caught(model, ids):
    lora = randomise_lora(ns["add_lora"](copy.deepcopy(model), 4, alpha=16))  # scale 4
    wrong = copy.deepcopy(lora)
    for layer in wrong.modules():
        if isinstance(layer, ns["LoRALinear"]):
            layer.scale = 1.0
    with torch.no_grad():
        assert not close(ns["merge_lora"](wrong)(ids), lora(ids))


def test_merging_into_the_dequantized_nf4_base_equals_qlora(model, ids):
    qlora = randomise_lora(ns["add_qlora"](copy.deepcopy(model), 4))
    merged = ns["merge_lora"](copy.deepcopy(qlora))
    with torch.no_grad():
        assert close(merged(ids), qlora(ids))


@pytest.mark.parametrize("method", ["lora", "adapters", "bitfit", "prompt", "qlora"])
def test_peft_trains_its_parameters_and_never_a_frozen_weight(model, method):
    build = {
        "lora": lambda m: ns["add_lora"](m, 4),
        "adapters": lambda m: ns["add_adapters"](m, 8),
        "bitfit": ns["bitfit"],
        "prompt": lambda m: ns["PromptTuned"](m, 8),
        "qlora": lambda m: ns["add_qlora"](m, 4),
    }[method]
    only = {  # what each method may train, by parameter name
        "lora": lambda n: n.endswith((".A", ".B")),
        "adapters": lambda n: ".sublayer." not in n and (".down." in n or ".up." in n),
        "bitfit": lambda n: n.endswith("bias"),
        "prompt": lambda n: n == "prompt",
        "qlora": lambda n: n.endswith((".A", ".B")),
    }[method]
    demos.seed_everything(0)
    net = build(model)
    assert all(only(n) for n, p in net.named_parameters() if p.requires_grad)
    params = ns["trainable"](net)
    trainable = {id(p) for p in params}
    tensors = lambda: [*net.named_parameters(), *net.named_buffers()]  # noqa: E731
    frozen = {name: t.detach().clone() for name, t in tensors() if id(t) not in trainable}
    start = [p.detach().clone() for p in params]
    assert params and frozen
    ns["finetune"](net, demos.corpus.split("train")[:20000], 3, 1e-2, 2, 32, measure_memory=False)
    assert all(torch.equal(t, frozen[name]) for name, t in tensors() if name in frozen)
    assert any(not torch.equal(p, p0) for p, p0 in zip(params, start, strict=True)), (
        "training should move the trainable parameters"
    )


def test_bitfit_trains_only_biases(model):
    net = ns["bitfit"](model)
    names = [n for n, p in net.named_parameters() if p.requires_grad]
    assert names and all(n.endswith("bias") for n in names)
    assert sum(p.numel() for p in ns["trainable"](net)) == sum(
        p.numel() for n, p in net.named_parameters() if n.endswith("bias")
    )


def test_trainable_counts_follow_the_formulas(model):
    d, layers = model.config.d_model, model.config.n_layer
    linears = [
        getattr(getattr(b, part), n) for b in model.blocks for part, names in ns["TARGETS"].items() for n in names
    ]
    for rank in (1, 4, 16):
        lora = ns["add_lora"](copy.deepcopy(model), rank)
        expected = sum(rank * (lay.in_features + lay.out_features) for lay in linears)
        assert sum(p.numel() for p in ns["trainable"](lora)) == expected
    adapters = ns["add_adapters"](copy.deepcopy(model), 8)
    assert sum(p.numel() for p in ns["trainable"](adapters)) == 2 * layers * (2 * d * 8 + 8 + d)
    prompt = ns["PromptTuned"](copy.deepcopy(model), 16)
    assert sum(p.numel() for p in ns["trainable"](prompt)) == 16 * d


def test_prompt_tuning_reads_the_prompt_and_trains_only_it(model, ids):
    prompt = ns["PromptTuned"](copy.deepcopy(model), 8)
    out = prompt(ids)
    assert out.shape == model(ids).shape
    assert not torch.allclose(out, model(ids))  # the vectors are read
    out.sum().backward()
    assert prompt.prompt.grad is not None and prompt.prompt.grad.abs().sum() > 0
    assert all(p.grad is None for p in prompt.model.parameters())


def test_nf4_levels_are_qloras():
    levels = ns["NF4"]
    assert len(levels) == 16 and torch.all(levels[1:] > levels[:-1])
    assert (levels == 0).sum() == 1 and levels[0] == -1 and levels[-1] == 1
    assert torch.allclose(levels, torch.tensor(NF4_REFERENCE), atol=1e-6)


def test_nf4_round_trip_is_exact_on_the_grid():
    g = torch.Generator().manual_seed(0)
    picks = torch.randint(16, (128, 64), generator=g)
    picks[:, 0] = 15  # every block of 64 reaches the top level, so its absmax is exactly 0.5
    w = 0.5 * ns["NF4"][picks]
    q = ns["quantize_nf4"](w)
    assert q["codes"].numel() == w.numel() // 2  # two codes per byte
    assert torch.allclose(ns["dequantize_nf4"](q, w.shape), w, atol=1e-7)


def test_nf4_error_and_bits_per_weight():
    w = 0.02 * torch.randn(1024, 1024, generator=torch.Generator().manual_seed(0))
    q = ns["quantize_nf4"](w)
    bits = 8 * demos.nbytes(*q.values()) / w.numel()
    assert abs(bits - (4 + 8 / 64 + 32 / (64 * 256))) < 2e-3  # QLoRA's 4.127 bits with double quantization
    error = (ns["dequantize_nf4"](q, w.shape) - w).norm() / w.norm()
    assert 0.01 < error < 0.15  # 4 bits: a real but bounded rounding error


def test_gradients_reach_lora_through_the_nf4_base_and_nothing_else(model, ids):
    qlora = ns["add_qlora"](model, 4)
    qlora(ids).sum().backward()
    layers = [m for m in qlora.modules() if isinstance(m, ns["LoRALinear"])]
    assert layers and all(isinstance(lay.base, ns["NF4Linear"]) for lay in layers)
    assert all(lay.B.grad is not None and lay.B.grad.abs().sum() > 0 for lay in layers)  # B = 0: A's grad is 0 at first
    assert all(lay.A.grad is not None for lay in layers)
    assert all(p.grad is None for lay in layers for p in lay.base.parameters())
    assert all(not b.requires_grad for b in qlora.buffers())


def test_finetuning_is_deterministic(model):
    def losses():
        demos.seed_everything(0)
        net = ns["add_lora"](demos.load("m"), 4)
        return ns["finetune"](net, demos.corpus.split("train")[:20000], 3, 1e-2, 2, 32, measure_memory=False)["losses"]

    assert losses() == losses()


def test_memory_calculator_bytes_per_parameter():
    gb = ns["finetuning_memory_gb"]
    assert sum(gb(1, "full fine-tuning")) == 16  # ZeRO's mixed-precision Adam: 2 + 2 + 12 bytes
    assert gb(1, "LoRA", lora_share=0) == (2, 0, 0)
    assert gb(1, "QLoRA", lora_share=0)[0] == pytest.approx(4.127 / 8, abs=1e-3)
    assert sum(gb(1, "LoRA", lora_share=0.01)) == pytest.approx(2 + 0.16)
