"""The serving chapter's own code (its cells tagged `core`): batched decoding gives every request
exactly its unbatched output, the radix tree finds the longest cached prefix and reusing its keys
and values equals a full prefill, and the simulator keeps its books (tokens, times, budgets)."""

import numpy as np
import pytest
import torch

from atlas import demos
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "serving.md")
SlotCache, decode_step, serve = ns["SlotCache"], ns["decode_step"], ns["serve"]
RadixCache, cached_prefill = ns["RadixCache"], ns["cached_prefill"]
StepModel, make_trace, simulate, goodput = ns["StepModel"], ns["make_trace"], ns["simulate"], ns["goodput"]
STEP = StepModel(1e-3, 1e-5, 1e-4)


@pytest.fixture(scope="module", autouse=True)
def one_thread(one_torch_thread):
    """One torch thread for the whole module (conftest.one_torch_thread)."""


@pytest.fixture(scope="module")
def model():
    return demos.load("m")


def requests(n, seed, max_prompt=120, max_output=30):
    rng = np.random.default_rng(seed)
    val = demos.corpus.split("val")
    prompts, n_new = [], []
    for _ in range(n):
        length = int(rng.integers(1, max_prompt))
        start = int(rng.integers(0, len(val) - length))
        prompts.append(val[start : start + length])
        n_new.append(int(rng.integers(1, max_output)))
    return prompts, n_new


# --- batched decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("kv_heads", [None, 2, 1], ids=["MHA", "GQA", "MQA"])
def test_decode_step_equals_the_lab_models_cached_forward(kv_heads):
    torch.manual_seed(0)
    m = demos.GPT(demos.Config(d_model=32, n_layer=2, n_head=4, n_kv_head=kv_heads)).eval()
    lengths = [5, 17, 1, 30]
    slots, expected, last = SlotCache(m, len(lengths), "cpu"), [], []
    with torch.no_grad():
        for row, length in enumerate(lengths):
            ids = torch.randint(0, m.config.vocab_size, (1, length + 1))
            cache = m.new_cache()
            m(ids[:, :length], cache=cache)
            slots.write(row, cache)
            expected.append(m(ids[:, length:], cache=cache)[0, -1])
            last.append(ids[0, length])
    tokens, positions = torch.stack(last), torch.tensor(lengths)
    torch.testing.assert_close(decode_step(m, slots, tokens, positions), torch.stack(expected), atol=1e-5, rtol=1e-5)
    # and the check can fail: a row reading one position too many sees a wrong key
    assert not torch.allclose(decode_step(m, slots, tokens, positions + 1), torch.stack(expected), atol=1e-3)


@pytest.mark.parametrize("policy", ["continuous", "static"])
def test_every_batched_output_equals_its_unbatched_output(model, policy):
    prompts, n_new = requests(20, seed=1)
    outputs, _ = serve(model, prompts, n_new, policy, max_batch=6)
    assert outputs == [model.generate(p[None], n)[0].tolist() for p, n in zip(prompts, n_new, strict=True)]


def test_passes_of_static_and_continuous_batching(model):
    prompts, n_new = requests(13, seed=2)
    batch = 4
    _, static = serve(model, prompts, n_new, "static", max_batch=batch)
    _, continuous = serve(model, prompts, n_new, "continuous", max_batch=batch)
    decode = lambda passes: [size for kind, size in passes if kind == "decode"]  # noqa: E731
    # static: each batch of arrivals runs until its longest request is done, every row computed
    groups = [n_new[i : i + batch] for i in range(0, len(n_new), batch)]
    assert decode(static) == [len(g) for g in groups for _ in range(max(g) - 1)]
    # continuous: no row is ever wasted, so its decode rows are exactly the tokens after the first
    assert sum(decode(continuous)) == sum(n - 1 for n in n_new) < sum(decode(static))
    assert max(decode(continuous)) <= batch
    assert [kind for kind, _ in continuous].count("prefill") == len(prompts)


# --- prefix caching ---------------------------------------------------------------------------------


def lcp(a, b):
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_radix_tree_finds_the_longest_cached_prefix():
    rng = np.random.default_rng(0)
    tree, seen = RadixCache(), []
    for _ in range(300):  # a 3-letter alphabet makes shared prefixes and edge splits common
        seq = rng.integers(0, 3, int(rng.integers(1, 12))).tolist()
        assert tree.match(seq)[0] == max((lcp(seq, s) for s in seen), default=0)
        tree.insert(seq)
        seen.append(seq)
        # the tree holds every distinct prefix once
        assert tree.size == len({tuple(s[:k]) for s in seen for k in range(1, len(s) + 1)})


def test_radix_tree_evicts_least_recently_used_leaves():
    rng = np.random.default_rng(1)
    tree = RadixCache(capacity=40)
    for _ in range(200):
        seq = rng.integers(0, 4, int(rng.integers(1, 15))).tolist()
        tree.insert(seq)
        assert tree.size <= 40
        assert tree.match(seq)[0] == len(seq)  # the newest sequence survives its own insertion
    shared = [9] * 10
    tree = RadixCache(capacity=30)
    tree.insert(shared + [1] * 10)
    tree.insert(shared + [2] * 10)  # 30 tokens: full
    tree.match(shared + [1] * 10)  # touch the first branch
    tree.insert([5] * 5)  # 35 > 30: the untouched branch goes
    assert tree.match(shared + [1] * 10)[0] == 20 and tree.match(shared + [2] * 10)[0] == 10


def test_prefill_from_the_tree_equals_full_prefill(model):
    val = demos.corpus.split("val").tolist()
    system = val[:60]
    first = system + val[1000:1025]  # a chat's first turn
    history = first + val[1500:1520]  # ... and its reply
    other = system + val[2000:2015]  # another chat with the same system prompt
    follow_up = history + val[3000:3040]  # the first chat's second turn
    tree = RadixCache()
    for prompt, expected_hit in ((first, 0), (other, 60 + lcp(first[60:], other[60:])), (follow_up, len(history))):
        ids = torch.tensor(prompt)
        logits, cache, hit = cached_prefill(model, ids, tree)
        with torch.no_grad():
            full_cache = model.new_cache()
            full = model(ids[None], cache=full_cache)[0, -1]
        assert hit == expected_hit
        torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-5)
        for c, f in zip(cache, full_cache, strict=True):
            torch.testing.assert_close(c.k, f.k, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(c.v, f.v, atol=1e-5, rtol=1e-5)
        if prompt is first:  # the reply's keys and values, as decoding it would have made them
            with torch.no_grad():
                model(torch.tensor(history[len(first) :])[None], cache=cache)
            tree.insert(history, [(c.k[0], c.v[0]) for c in cache])
        else:
            tree.insert(prompt, [(c.k[0], c.v[0]) for c in cache])
    assert tree.match(system)[0] == 60


def test_a_wrong_cached_prefix_is_detected(model):
    """The equality above can fail: keys and values cached for other tokens give other logits."""
    val = demos.corpus.split("val").tolist()
    prompt = val[:50]
    tree = RadixCache()
    with torch.no_grad():
        cache = model.new_cache()
        model(torch.tensor(val[100:150])[None], cache=cache)  # another text's keys and values ...
    tree.insert(prompt, [(c.k[0], c.v[0]) for c in cache])  # ... filed under this prompt
    logits, _, hit = cached_prefill(model, torch.tensor(prompt + val[50:60]), tree)
    with torch.no_grad():
        full = model(torch.tensor(prompt + val[50:60])[None])[0, -1]
    assert hit == 50 and not torch.allclose(logits, full, atol=1e-3)


# --- the simulator ----------------------------------------------------------------------------------


def one(arrival, prompt, output):
    return {"arrival": np.array(arrival, float), "prompt": np.array(prompt), "output": np.array(output)}


def test_a_lone_request_costs_its_prefill_and_its_decode_steps():
    for policy in ("static", "continuous"):
        (r,) = simulate(one([0.5], [40], [6]), STEP, policy)
        assert r.first - r.arrival == pytest.approx(STEP(40, 0))
        assert r.finish - r.first == pytest.approx(5 * STEP(0, 1))
        assert r.gaps == pytest.approx([STEP(0, 1)] * 5)


def test_static_batching_admits_only_into_an_empty_batch():
    trace = one([0.0, 0.0, 1e-4], [10, 10, 10], [3, 20, 2])
    a, b, c = simulate(trace, STEP, "static", max_batch=4)
    assert a.first == b.first < c.first and c.first > b.finish  # c waits for the whole batch
    assert a.finish < b.finish  # a request's own last token still counts as its finish
    a, b, c = simulate(trace, STEP, "continuous", max_batch=4)
    assert c.first < a.finish  # continuous batching lets it join at the next pass


def test_every_request_gets_all_its_tokens():
    trace = make_trace(200, 300.0, seed=0)
    for options in (
        dict(policy="static"),
        dict(policy="continuous"),
        dict(policy="continuous", budget=30),
        dict(policy="continuous", replicas=2),
        dict(disaggregated=True, transfer=1e-6),
    ):
        done = simulate(trace, STEP, max_batch=8, **options)
        for r, prompt, output in zip(done, trace["prompt"], trace["output"], strict=True):
            assert r.prefilled == prompt and r.generated == output and len(r.gaps) == output - 1
            assert r.arrival + STEP(0, 0) <= r.first <= r.finish


def test_one_row_makes_static_and_continuous_the_same_schedule():
    trace = make_trace(60, 500.0, seed=3)
    static, continuous = (simulate(trace, STEP, p, max_batch=1) for p in ("static", "continuous"))
    times = lambda done: [t for r in done for t in (r.first, r.finish)]  # noqa: E731
    assert times(static) == pytest.approx(times(continuous))


def test_a_budget_bounds_every_gap_and_a_large_one_changes_nothing():
    step = StepModel(1e-3, 1e-4, 1e-4)  # a prompt token costs what a decoding sequence does
    trace = make_trace(150, 2000.0, seed=4)  # overloaded: full batches
    whole = simulate(trace, step, "continuous", max_batch=8)
    same = simulate(trace, step, "continuous", max_batch=8, budget=10_000)
    assert [(r.first, r.finish) for r in whole] == [(r.first, r.finish) for r in same]
    chunked = simulate(trace, step, "continuous", max_batch=8, budget=40)
    worst = max(g for r in chunked for g in r.gaps)
    assert worst == pytest.approx(step(40, 0))  # passes of exactly the budget, decodes included, and no more
    assert worst < max(g for r in whole for g in r.gaps)


def test_a_decode_replica_never_runs_a_prompt():
    trace = make_trace(150, 400.0, seed=5)
    for r in simulate(trace, STEP, max_batch=8, disaggregated=True, transfer=1e-3):
        assert all(g <= STEP(0, 8) + 1e-12 for g in r.gaps[1:])  # after the hand-over, decode passes only
        if r.gaps:
            assert r.gaps[0] >= 1e-3 * r.prompt  # the first gap includes the KV transfer


# --- the trace, the step model, goodput -------------------------------------------------------------


def test_the_trace_carries_the_sources_shape():
    trace = make_trace(40_000, rate=50.0, seed=0)
    source = ns["AZURE_CONVERSATION"]
    for key, cap in (("prompt", ns["MAX_PROMPT"]), ("output", ns["MAX_OUTPUT"])):
        for q, value in zip(ns["PERCENTILES"][1:-1], source[key][1:-1], strict=True):
            expected = min(value * ns["SCALE"], cap)
            assert np.percentile(trace[key], q) == pytest.approx(expected, rel=0.1, abs=1.0)
    gaps = np.diff(trace["arrival"])
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.03) and gaps.std() / gaps.mean() == pytest.approx(1, rel=0.05)
    bursty = np.diff(make_trace(40_000, rate=50.0, seed=0, cv=3.0)["arrival"])
    assert bursty.std() / bursty.mean() == pytest.approx(3, rel=0.1)


def test_step_model_fit_recovers_its_costs():
    true = StepModel(2e-3, 3e-5, 4e-4, c_prefill=1e-3)
    fitted = StepModel.fit([(t, true(t, 0)) for t in (8, 64, 200)], [(n, true(0, n)) for n in (1, 4, 8)])
    assert (fitted.c0, fitted.a, fitted.b, fitted.c_prefill) == pytest.approx((2e-3, 3e-5, 4e-4, 1e-3))
    assert fitted(10, 3) == pytest.approx(2e-3 + 10 * 3e-5 + 3 * 4e-4)  # a mixed pass pays the decode pass's c0
    noisy = StepModel.fit([(8, 1e-3), (200, 9e-4)], [(1, 5e-3), (8, 4e-3)])
    assert min(noisy.c0, noisy.a, noisy.b, noisy.c_prefill) > 0  # no negative cost, however bad the timings


def test_goodput_interpolates_where_attainment_drops_below_the_goal():
    assert goodput([1, 2, 3], [1.0, 0.95, 0.85]) == pytest.approx(2.5)
    assert goodput([1, 2, 3], [0.5, 0.4, 0.3]) == 0.0
    assert goodput([1, 2, 3], [1.0, 1.0, 0.95]) == 3
