"""The Compression chapter's own code (its cells tagged `core`), checked for the properties its demos
rely on: exact sparsity patterns, SparseGPT's update equal to the least-squares optimum, hooks that
see each layer's real inputs, shrunk = masked, the SVD's dropped energy equal to its error, a
ternary GPTQ on its grid, a Huffman code that decodes back, and a distillation loss that reduces to
cross-entropy on one-hot teachers (so both students see the same batches)."""

import copy
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from atlas import demos
from atlas.book.notebooks import core_code

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ns():
    return core_code(REPO / "book" / "compression.md")


def layer_problem(out=12, inp=16, tokens=64, seed=0):
    """A weight, correlated calibration inputs X and H = XᵀX."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(out, inp, generator=g)
    X = torch.randn(tokens, inp, generator=g) @ torch.randn(inp, inp, generator=g)  # correlated inputs
    return W, X, X.T @ X


def damped(H, damp=0.01):
    return H + damp * H.diagonal().mean() * torch.eye(len(H))


# --- masks and pruners ------------------------------------------------------------------------------


def test_unstructured_masks_prune_exactly_the_share_asked(ns):
    W, _, H = layer_problem()
    for prune in (ns["magnitude_prune"], ns["sparsegpt_prune"]):
        assert int((prune(W, H, sparsity=0.5) == 0).sum()) == W.numel() // 2
    pruned = ns["wanda_prune"](W, H, sparsity=0.5)
    assert ((pruned == 0).sum(dim=1) == W.shape[1] // 2).all(), "Wanda prunes half of every output row"


def test_two_four_leaves_two_of_every_four(ns):
    W, _, H = layer_problem()
    for prune in (ns["magnitude_prune"], ns["wanda_prune"], ns["sparsegpt_prune"]):
        groups = (prune(W, H, n=2, m=4) == 0).reshape(W.shape[0], -1, 4).sum(dim=-1)
        assert (groups == 2).all(), prune.__name__


def test_magnitude_removes_the_smallest_weights(ns):
    W, _, H = layer_problem()
    pruned = ns["magnitude_prune"](W, H, sparsity=0.5)
    assert W.abs()[pruned == 0].max() <= W.abs()[pruned != 0].min()


def test_wanda_scores_weights_by_input_norms(ns):
    W = torch.ones(2, 4)
    H = torch.diag(torch.tensor([1.0, 4.0, 9.0, 16.0]))  # input norms 1, 2, 3, 4
    pruned = ns["wanda_prune"](W, H, sparsity=0.5)
    assert torch.equal(pruned, torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 2))


# --- SparseGPT ---------------------------------------------------------------------------------------


def test_sparsegpt_update_is_the_least_squares_optimum(ns):
    """With the pruned columns first, visiting them in order and updating the rest is exact: each row's
    kept weights minimise (w - ŵ) H (w - ŵ)ᵀ, the layer's output error on the calibration inputs."""
    W, _, H = layer_problem()
    mask = torch.zeros_like(W, dtype=torch.bool)
    mask[:, :5] = True  # every row loses its first five weights
    result = ns["sparsegpt_prune"](W, H, mask=mask, damp=0.01)
    Hd, kept = damped(H), slice(5, None)
    # optimum of the kept weights S given w_P = 0: H_SS ŵ_S = (H w)_S
    optimum = torch.linalg.solve(Hd[kept, kept], (W @ Hd)[:, kept].T).T
    assert torch.equal(result[:, :5], torch.zeros(W.shape[0], 5))
    assert torch.allclose(result[:, kept], optimum, atol=1e-4, rtol=1e-4)


def test_sparsegpt_beats_plain_zeroing_with_the_same_mask(ns):
    W, _, H = layer_problem(seed=1)
    mask = ns["prune_mask"](W.abs(), 0.5)
    zeroed = W.masked_fill(mask, 0.0)
    updated = ns["sparsegpt_prune"](W, H, mask=mask)

    def error(V):
        D = W - V
        return float(torch.trace(D @ H @ D.T))

    assert torch.equal(updated == 0, mask)
    assert error(updated) < 0.8 * error(zeroed)


def test_sparsegpt_with_nothing_to_prune_changes_nothing(ns):
    W, _, H = layer_problem()
    assert torch.allclose(ns["sparsegpt_prune"](W, H, sparsity=0.0), W, atol=1e-6)


def test_compress_model_sees_each_layers_real_inputs_through_the_blocks_already_done(ns):
    torch.manual_seed(0)
    model = demos.GPT(demos.Config(d_model=16, n_layer=2, n_head=2, context=32)).eval()
    ids = torch.randint(0, demos.corpus.VOCAB_SIZE, (3, 32))
    seen = {}

    def record(W, H):
        seen[len(seen)] = H
        return W * 0.5  # change the weights, so the second block's inputs depend on the first's result

    original = copy.deepcopy(model)
    ns["compress_model"](model, record, ids, select=lambda name: name in ("attn.q", "mlp.up"))
    with torch.no_grad():  # block i's inputs: blocks before it compressed, block i itself as it was
        x = model.embed(ids) + model.position(torch.arange(32))
        expected = []
        for done, block in zip(model.blocks, original.blocks, strict=True):
            a = block.norm1(x).reshape(-1, 16)
            expected.append(a.T @ a)
            h = x + block.attn(block.norm1(x))
            b = block.norm2(h).reshape(-1, 16)
            expected.append(b.T @ b)
            x = done(x)
    assert len(seen) == 4
    for i, H in enumerate(expected):
        assert torch.allclose(seen[i], H, rtol=1e-4, atol=1e-3), i


def test_compress_model_without_calibration_passes_no_hessian(ns):
    torch.manual_seed(0)
    model = demos.GPT(demos.Config(d_model=16, n_layer=1, n_head=2, context=8))
    before = model.blocks[0].mlp.up.weight.clone()
    ns["compress_model"](model, lambda W, H: W if H is None else W * 0, None)
    assert torch.equal(model.blocks[0].mlp.up.weight, before)


# --- structured pruning ------------------------------------------------------------------------------


def test_shrunk_mlp_equals_the_mlp_with_those_channels_zeroed(ns):
    torch.manual_seed(0)
    config = demos.Config(d_model=16, n_head=2)
    mlp = demos.MLP(config).eval()
    keep = torch.tensor([0, 3, 4, 9, 20, 33, 63])
    x = torch.randn(5, 16)
    small = ns["shrink_mlp"](mlp, keep)
    with torch.no_grad():
        hidden = torch.nn.functional.gelu(mlp.up(x))
        mask = torch.zeros(hidden.shape[1])
        mask[keep] = 1
        masked = mlp.down(hidden * mask)
        assert small.up.out_features == len(keep)
        assert torch.allclose(small(x), masked, atol=1e-6)


def test_refit_with_every_channel_kept_gives_the_mlp_back(ns):
    torch.manual_seed(0)
    mlp = demos.MLP(demos.Config(d_model=8, n_head=2)).eval()
    x = torch.randn(200, 8)
    with torch.no_grad():
        hidden = torch.nn.functional.gelu(mlp.up(x))
        gram = hidden.T @ hidden
        refit = ns["shrink_mlp"](mlp, torch.arange(32), gram, damp=0.0)
        assert torch.allclose(refit(x), mlp(x), atol=1e-4)


def test_refit_never_does_worse_than_dropping_channels_on_the_calibration_text(ns):
    torch.manual_seed(1)
    mlp = demos.MLP(demos.Config(d_model=8, n_head=2)).eval()
    x = torch.randn(300, 8)
    keep = torch.arange(0, 32, 2)
    with torch.no_grad():
        hidden = torch.nn.functional.gelu(mlp.up(x))
        gram = hidden.T @ hidden
        target = mlp(x)
        plain = (ns["shrink_mlp"](mlp, keep)(x) - target).norm()
        refit = (ns["shrink_mlp"](mlp, keep, gram, damp=1e-6)(x) - target).norm()
    assert refit < plain


# --- low rank ----------------------------------------------------------------------------------------


def test_full_rank_factors_give_the_matrix_back(ns):
    W, _, H = layer_problem()
    for grams in (None, H):
        A, B = ns["low_rank_factors"](W, min(W.shape), grams)
        assert torch.allclose(A @ B, W, atol=1e-4)


def test_truncation_error_is_the_dropped_singular_values(ns):
    W, X, H = layer_problem()
    rank = 5
    A, B = ns["low_rank_factors"](W, rank)
    s = torch.linalg.svdvals(W)
    assert torch.allclose((W - A @ B).norm() ** 2, (s[rank:] ** 2).sum(), rtol=1e-4)
    # whitened: the output error on the calibration inputs is what the SVD of W L drops
    A, B = ns["low_rank_factors"](W, rank, H, damp=0.01)
    Hd = damped(H)
    s = torch.linalg.svdvals(W @ torch.linalg.cholesky(Hd))
    D = W - A @ B
    assert torch.allclose(torch.trace(D @ Hd @ D.T), (s[rank:] ** 2).sum(), rtol=1e-3)
    plain_A, plain_B = ns["low_rank_factors"](W, rank)
    Dp = W - plain_A @ plain_B
    assert torch.trace(D @ Hd @ D.T) <= torch.trace(Dp @ Hd @ Dp.T)


def test_low_rank_linear_computes_the_product_and_shrinks_the_model(ns):
    W, _, _ = layer_problem()
    A, B = ns["low_rank_factors"](W, 4)
    bias = torch.randn(W.shape[0])
    layer = ns["LowRankLinear"](A, B, bias)
    x = torch.randn(3, W.shape[1])
    with torch.no_grad():
        assert torch.allclose(layer(x), x @ (A @ B).T + bias, atol=1e-5)
    torch.manual_seed(0)
    model = demos.GPT(demos.Config(d_model=16, n_layer=1, n_head=2, context=8))
    before = demos.n_params(model)
    ns["factorize_model"](model, 0.5)
    assert demos.n_params(model) < before
    assert isinstance(model.blocks[0].mlp.up, ns["LowRankLinear"])


# --- QMoE: ternary GPTQ and the entropy code --------------------------------------------------------


def test_ternary_gptq_lands_on_each_rows_three_levels(ns):
    W, _, H = layer_problem(out=8, inp=32)
    Q, codes, low, high = ns["gptq_ternary"](W, H)
    levels = torch.stack([low, torch.zeros_like(low), high], dim=1)  # code 0, 1, 2 -> 0, high, low
    decoded = torch.where(codes == 1, high[:, None], torch.where(codes == 2, low[:, None], torch.zeros_like(Q)))
    assert torch.equal(Q, decoded)
    assert all(set(Q[i].unique().tolist()) <= set(levels[i].tolist()) for i in range(len(Q)))


def test_ternary_gptq_without_correlations_is_round_to_nearest(ns):
    W, _, _ = layer_problem(out=8, inp=32)
    Q, codes, low, high = ns["gptq_ternary"](W, torch.eye(32))
    nearest, nearest_codes = ns["to_ternary"](W, low[:, None], high[:, None])
    assert torch.equal(Q, nearest) and torch.equal(codes, nearest_codes)


def test_ternary_gptq_lowers_the_output_error_of_round_to_nearest(ns):
    W, _, H = layer_problem(out=8, inp=32, tokens=256)
    Q, _, low, high = ns["gptq_ternary"](W, H)
    nearest, _ = ns["to_ternary"](W, low[:, None], high[:, None])

    def error(V):
        D = W - V
        return float(torch.trace(D @ H @ D.T))

    assert error(Q) < error(nearest)


def test_huffman_code_round_trips_and_counts_its_bits(ns):
    rng = np.random.default_rng(0)
    symbols = rng.choice(9, size=5000, p=[0.6] + [0.05] * 8)
    table = ns["huffman_code"](Counter(symbols.tolist()))
    data, n_bits = ns["huffman_encode"](symbols, table)
    assert np.array_equal(ns["huffman_decode"](data, n_bits, table), symbols)
    assert n_bits == sum(table[s][1] for s in symbols.tolist())
    assert len(data) == (n_bits + 7) // 8
    assert sum(2.0**-size for _, size in table.values()) == 1.0  # a complete prefix code (Kraft)
    words = [format(word, f"0{size}b") for word, size in table.values()]
    assert not any(a != b and b.startswith(a) for a in words for b in words), "no word may start another"


def test_huffman_reaches_the_entropy_on_dyadic_frequencies(ns):
    symbols = np.array([0] * 8 + [1] * 4 + [2] * 2 + [3] * 2)  # probabilities 1/2, 1/4, 1/8, 1/8
    table = ns["huffman_code"](Counter(symbols.tolist()))
    _, n_bits = ns["huffman_encode"](symbols, table)
    assert n_bits / len(symbols) == pytest.approx(ns["entropy_bits"](symbols))


# --- distillation ------------------------------------------------------------------------------------


def test_distillation_loss_reduces_to_its_parts(ns):
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 5, 96), torch.randn(2, 5, 96)
    targets = torch.randint(0, 96, (2, 5))
    loss = ns["distillation_loss"]
    ce = torch.nn.functional.cross_entropy(student.flatten(0, 1), targets.flatten())
    assert torch.allclose(loss(student, teacher, targets, alpha=0.0), ce)
    assert float(loss(student, student, targets, alpha=1.0)) == pytest.approx(0.0, abs=1e-6)
    one_hot = 1e4 * torch.nn.functional.one_hot(targets, 96).float()
    assert torch.allclose(loss(student, one_hot, targets, alpha=1.0), ce, atol=1e-5)
    p, q = (teacher / 2).softmax(-1), (student / 2).softmax(-1)  # at temperature 2, scaled by T² = 4
    kl = (p * (p.log() - q.log())).sum(-1).mean()
    assert torch.allclose(loss(student, teacher, targets, temperature=2.0, alpha=1.0), 4 * kl, atol=1e-5)
    assert torch.allclose(
        loss(student, teacher, targets, alpha=0.25), 0.25 * loss(student, teacher, targets) + 0.75 * ce
    )


def test_students_see_the_same_batches_for_the_same_seed(ns):
    """A teacher that puts all its probability on the true next character makes distillation ordinary
    training: the two students then match step for step, which they can only if their batches do."""
    config = demos.Config(d_model=16, n_layer=1, n_head=2, context=16)
    x, y = demos.corpus.batch("train", 32, 16, torch.Generator().manual_seed(0))
    one_hot = 1e4 * torch.nn.functional.one_hot(y, demos.corpus.VOCAB_SIZE).float()
    train = ns["train_student"]
    _, alone = train(config, x, y, None, steps=12, batch_size=4, eval_every=6, eval_tokens=256)
    _, distilled = train(config, x, y, one_hot, steps=12, batch_size=4, eval_every=6, eval_tokens=256)
    _, other_seed = train(config, x, y, one_hot, steps=12, batch_size=4, eval_every=6, eval_tokens=256, seed=1)
    assert [s for s, _ in alone] == [6, 12]
    assert np.allclose([v for _, v in alone], [v for _, v in distilled], atol=1e-4)
    assert not np.allclose([v for _, v in alone], [v for _, v in other_seed], atol=1e-4)
