"""The Faster decoding chapter's own code (its cells tagged `core`), checked for the properties the
chapter claims: speculative decoding reproduces the target (greedy: token for token; sampling: in
distribution, by a chi-square test that a broken sampler fails), Jacobi decoding and verified head
guesses reproduce greedy decoding, and early exit's two implementations agree with each other and
with the full model at the extremes."""

import pytest
import torch
from scipy.stats import chisquare

from atlas import demos
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "decoding.md")
VAL = demos.corpus.split("val")
PROMPTS = [VAL[start : start + 48][None] for start in (0, 3000, 40000)]


@pytest.fixture(scope="module", autouse=True)
def one_thread(one_torch_thread):
    """One torch thread for the whole module (conftest.one_torch_thread)."""


@pytest.fixture(scope="module")
def models():
    return {name: demos.load(name) for name in ("xs", "s", "l")}


@pytest.fixture(scope="module")
def exit_model():
    if not demos.family.path("l-exit").exists():
        pytest.skip("data/models/l-exit.safetensors is not here yet (copy it from the lab's checkout)")
    return demos.load("l-exit")


@pytest.fixture(scope="module")
def greedy(models):
    return [models["l"].generate(prompt, 40) for prompt in PROMPTS]


# --- speculative decoding, greedy --------------------------------------------------------------


@pytest.mark.parametrize("draft", ["xs", "s"])
@pytest.mark.parametrize("gamma", [1, 4])
def test_greedy_speculative_decoding_is_the_targets_greedy_output(models, greedy, draft, gamma):
    for prompt, expected in zip(PROMPTS, greedy, strict=True):
        out, stats = ns["speculative_generate"](models["l"], models[draft], prompt, 40, gamma=gamma)
        assert torch.equal(out, expected)
        assert stats["target_calls"] < 40  # and it took fewer target passes than tokens


def test_the_greedy_comparison_would_see_a_wrong_rule(models, greedy, monkeypatch):
    """Keeping every proposal (no verification) gives the draft's text, which the comparison catches."""
    always_keep = lambda p, q, proposed, generator=None: (  # noqa: E731
        torch.full((proposed.shape[0],), proposed.shape[1]),
        p[:, -1].argmax(-1),
    )
    monkeypatch.setitem(ns, "verify", always_keep)
    out, _ = ns["speculative_generate"](models["l"], models["xs"], PROMPTS[0], 40, gamma=4)
    assert not torch.equal(out, greedy[0])


# --- speculative sampling: the emitted token follows the target ----------------------------------

N = 20_000  # samples per context: enough that a biased sampler's chi-square statistic is enormous


def chi_square_pvalue(tokens, p):
    """Chi-square goodness of fit of sampled tokens to p, pooling categories expected fewer than 5 times."""
    expected = p.double() * len(tokens)
    observed = torch.bincount(tokens, minlength=p.numel()).double()
    big = expected >= 5
    f_obs = torch.cat([observed[big], observed[~big].sum()[None]])
    f_exp = torch.cat([expected[big], expected[~big].sum()[None]])
    if f_exp[-1] < 5:  # too little pooled mass to test: fold it into the largest category
        f_obs, f_exp = f_obs[:-1].clone(), f_exp[:-1].clone()
        f_obs[f_exp.argmax()] += observed[~big].sum()
        f_exp[f_exp.argmax()] += expected[~big].sum()
    f_exp *= f_obs.sum() / f_exp.sum()
    return chisquare(f_obs.numpy(), f_exp.numpy()).pvalue


def next_distributions(model, context, temperature=1.0):
    with torch.no_grad():
        return ns["probabilities"](model(context)[0, -1], temperature)


def first_tokens(p, q, resample, generator):
    """N emitted first tokens of speculative sampling at one context, through the chapter's verify()."""
    proposed = ns["draw"](q.expand(N, 1, -1), generator)[..., 0]
    kept, last = ns["verify"](p.expand(N, 2, -1), q.expand(N, 1, -1), proposed, generator, resample)
    return torch.where(kept > 0, proposed[:, 0], last)


@pytest.mark.parametrize(("start", "temperature"), [(100, 1.0), (7000, 0.7), (60000, 1.0)])
def test_speculative_sampling_emits_the_targets_distribution(models, start, temperature):
    context = VAL[start : start + 64][None]
    p = next_distributions(models["l"], context, temperature)
    q = next_distributions(models["xs"], context, temperature)
    generator = torch.Generator().manual_seed(start)
    assert chi_square_pvalue(first_tokens(p, q, ns["residual"], generator), p) > 1e-3


@pytest.mark.parametrize(("start", "temperature"), [(7000, 0.7), (60000, 1.0)])
def test_the_same_test_fails_a_sampler_that_skips_the_residual(models, start, temperature):
    """Resampling from p instead of the residual after a rejection biases the output toward the draft
    by (rejection rate) x (gap between p and the residual): at these contexts, where the two models
    disagree enough, 20,000 samples reject it overwhelmingly (where they nearly agree the bias is
    too small for this many samples to see, which is why the positive test uses several contexts)."""
    context = VAL[start : start + 64][None]
    p = next_distributions(models["l"], context, temperature)
    q = next_distributions(models["xs"], context, temperature)
    generator = torch.Generator().manual_seed(start)
    assert chi_square_pvalue(first_tokens(p, q, lambda p, q: p, generator), p) < 1e-9


def test_later_positions_follow_the_target_given_the_earlier_ones(models):
    """With two proposals, the second emitted token, given the first was a kept proposal a, follows
    p(. | context, a): the chain of acceptances is indexed right."""
    context = VAL[9000:9064][None]
    target, draft = models["l"], models["xs"]
    V = demos.corpus.VOCAB_SIZE
    with torch.no_grad():  # every possible first token a, in one batch: p(. | context, a), q(. | context, a)
        extended = torch.cat([context.expand(V, -1), torch.arange(V)[:, None]], dim=1)
        p1, q1 = target(extended)[:, -1].softmax(-1), draft(extended)[:, -1].softmax(-1)
    p0, q0 = next_distributions(target, context), next_distributions(draft, context)
    generator = torch.Generator().manual_seed(1)
    n = 60_000
    x0 = ns["draw"](q0.expand(n, -1), generator)[:, 0]
    x1 = ns["draw"](q1[x0], generator)[:, 0]
    p = torch.stack([p0.expand(n, -1), p1[x0], torch.full((n, V), 1.0 / V)], dim=1)  # the bonus is not tested
    kept, last = ns["verify"](p, torch.stack([q0.expand(n, -1), q1[x0]], dim=1), torch.stack([x0, x1], 1), generator)
    a = int((p0 * q0).argmax())  # a first token that is often proposed and kept
    rows = (kept >= 1) & (x0 == a)
    second = torch.where(kept[rows] >= 2, x1[rows], last[rows])
    assert rows.sum() > 3000
    assert chi_square_pvalue(second, p1[a]) > 1e-3


def test_the_residual_is_the_targets_excess_mass():
    p, q = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.2, 0.6, 0.2])
    assert torch.allclose(ns["residual"](p, q), torch.tensor([1.0, 0.0, 0.0]))


# --- Jacobi decoding and verified head guesses ------------------------------------------------


@pytest.mark.parametrize("block", [1, 3, 8, 16])
def test_jacobi_decoding_is_greedy_decoding(models, greedy, block):
    for prompt, expected in zip(PROMPTS, greedy, strict=True):
        out, calls = ns["jacobi_generate"](models["l"], prompt, 40, block=block)
        assert torch.equal(out, expected)
        assert calls <= 40


def test_jacobi_comparison_would_see_a_wrong_commit(models, greedy):
    """Committing one guess too many (the first unconfirmed one) breaks the output."""
    broken = dict(ns)
    code = compile(
        _core_source("jacobi_generate").replace("keep = confirmed + 1", "keep = min(confirmed + 2, block)"),
        "broken",
        "exec",
    )
    exec(code, broken)
    outs = [broken["jacobi_generate"](models["l"], prompt, 40, block=8)[0] for prompt in PROMPTS]
    assert any(not torch.equal(out, expected) for out, expected in zip(outs, greedy, strict=True))


def test_verified_head_guesses_are_greedy_decoding(models, greedy):
    weights = ns["fit_heads"](models["l"], heads=3, windows=2)
    for prompt, expected in zip(PROMPTS, greedy, strict=True):
        out, calls = ns["medusa_generate"](models["l"], weights, prompt, 40)
        assert torch.equal(out, expected)
        assert calls <= 41


# --- early exit -------------------------------------------------------------------------------


def test_early_exit_never_exiting_is_the_full_model(exit_model):
    x, _ = demos.corpus.windows("val", 128, 512)
    logits, used = ns["early_exit_forward"](exit_model, x, threshold=float("inf"))
    with torch.no_grad():
        full = exit_model(x)
    assert torch.allclose(logits, full, atol=1e-5)
    assert (used == len(exit_model.blocks)).all()


def test_early_exit_always_exiting_is_the_first_layers_head(exit_model):
    x, _ = demos.corpus.windows("val", 128, 512)
    logits, used = ns["early_exit_forward"](exit_model, x, threshold=0.0)
    with torch.no_grad():
        _, hidden = exit_model(x, return_hidden=True)
        first = exit_model.logits(hidden[1])
    assert torch.allclose(logits, first, atol=1e-5)
    assert (used == 1).all()


@pytest.mark.parametrize("threshold", [0.9, 0.6, 0.3])
def test_early_exit_decoding_that_skips_blocks_matches_the_layer_by_layer_computation(exit_model, threshold):
    """The token-by-token decoder (really skipping blocks, storing keys and values from the copied
    state) and the whole-sequence computation give the same tokens and the same depths."""
    prompt = PROMPTS[1]
    out, used = ns["early_exit_generate"](exit_model, prompt, 60, threshold)
    ids = torch.cat([prompt, out[:, :-1]], dim=1)
    logits, depth = ns["early_exit_forward"](exit_model, ids, threshold, start=prompt.shape[1])
    assert torch.equal(logits[:, prompt.shape[1] - 1 :].argmax(-1), out)
    assert depth[0, prompt.shape[1] :].tolist() == used
    assert min(used) < len(exit_model.blocks)  # some tokens did exit early, so the check means something


def test_early_exit_comparison_would_see_missing_state(exit_model):
    """Without the keys and values of skipped blocks (zeroed here) the decoder drifts from the
    computation: the same check sees different tokens or depths."""
    broken = dict(ns)
    source = _core_source("early_exit_generate").replace("layer_cache.update(k, v)", "layer_cache.update(k * 0, v * 0)")
    exec(compile(source, "broken", "exec"), broken)
    prompt = PROMPTS[1]
    out, used = broken["early_exit_generate"](exit_model, prompt, 60, 0.3)
    ids = torch.cat([prompt, out[:, :-1]], dim=1)
    logits, depth = ns["early_exit_forward"](exit_model, ids, 0.3, start=prompt.shape[1])
    same_tokens = torch.equal(logits[:, prompt.shape[1] - 1 :].argmax(-1), out)
    assert not (same_tokens and depth[0, prompt.shape[1] :].tolist() == used)


def _core_source(name: str) -> str:
    """The source of the core cell that defines `name`, to build a deliberately broken copy."""
    import jupytext

    nb = jupytext.read(REPO / "book" / "decoding.md", fmt="md:myst")
    for cell in nb.cells:
        if cell.cell_type == "code" and "core" in cell.metadata.get("tags", []) and f"def {name}(" in cell.source:
            return cell.source
    raise LookupError(name)
