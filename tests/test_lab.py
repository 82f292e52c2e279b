"""The lab the chapters stand on: corpus, model, trained checkpoints, training determinism, meters."""

import hashlib
import subprocess
import sys

import pytest
import torch

from atlas import demos
from atlas.demos import corpus, family, meters, training
from atlas.demos.model import GPT, Config, KVCache

from conftest import REPO


def test_corpus_is_the_recorded_file():
    raw = (REPO / "data" / "corpora" / corpus.NAME).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == corpus.SHA256
    assert corpus.SHA256 in (REPO / "data" / "corpora" / "README.md").read_text()


def test_a_changed_corpus_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "data" / "corpora"
    copy.mkdir(parents=True)
    (copy / corpus.NAME).write_bytes((REPO / "data" / "corpora" / corpus.NAME).read_bytes()[:-10])
    monkeypatch.setenv("ATLAS_ROOT", str(tmp_path))
    corpus.text.cache_clear()
    try:
        with pytest.raises(corpus.CorpusError, match="sha256"):
            corpus.text()
    finally:
        corpus.text.cache_clear()


def test_split_is_fixed_disjoint_and_complete():
    train, val = corpus.split("train"), corpus.split("val")
    assert len(train) + len(val) == len(corpus.text())
    assert corpus.decode(val[:40]) == corpus.text()[len(train) : len(train) + 40]
    assert 0.09 < len(val) / (len(train) + len(val)) < 0.11


def test_tokenizer_round_trips_and_refuses_or_folds_foreign_text():
    text = corpus.text()[:2000]
    assert corpus.decode(corpus.encode(text)) == text
    with pytest.raises(ValueError, match="not in the vocabulary"):
        corpus.encode("naïve — 10×")
    assert corpus.decode(corpus.encode("naïve — “quoted”", errors="replace")) == 'naive - "quoted"'


def test_batches_are_reproducible_and_shifted_by_one():
    x1, y1 = corpus.batch("train", 4, 32, torch.Generator().manual_seed(3))
    x2, y2 = corpus.batch("train", 4, 32, torch.Generator().manual_seed(3))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert torch.equal(x1[:, 1:], y1[:, :-1])


@pytest.mark.parametrize("kv_heads", [4, 2, 1])
def test_cached_decoding_equals_full_recomputation(kv_heads):
    torch.manual_seed(0)
    model = GPT(Config(d_model=32, n_layer=2, n_head=4, n_kv_head=kv_heads, context=64)).eval()
    ids = torch.randint(0, corpus.VOCAB_SIZE, (2, 40))
    full = model(ids)
    cache = model.new_cache()
    pieces = [model(ids[:, :7], cache=cache)] + [model(ids[:, t : t + 3], cache=cache) for t in range(7, 40, 3)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-5)
    assert torch.equal(model.generate(ids[:, :5], 30), model.generate(ids[:, :5], 30, use_cache=False))


@pytest.mark.parametrize(("kv_heads", "expected"), [(4, 4), (2, 2), (1, 1)])
def test_gqa_and_mqa_shrink_the_cache_by_the_head_ratio(kv_heads, expected):
    model = GPT(Config(d_model=32, n_layer=3, n_head=4, n_kv_head=kv_heads, context=64)).eval()
    cache = model.new_cache()
    model(torch.zeros(1, 10, dtype=torch.long), cache=cache)
    assert all(c.k.shape == (1, expected, 10, 8) and c.v.shape == c.k.shape for c in cache)
    assert (
        sum(c.nbytes() for c in cache) == 3 * 2 * expected * 10 * 8 * 4
    )  # layers * (k, v) * heads * tokens * dim * fp32
    kv_projection = model.blocks[0].attn.kv.weight
    assert kv_projection.shape == (2 * expected * 8, 32)


def test_crop_rolls_the_cache_back():
    torch.manual_seed(0)
    model = GPT(Config(d_model=32, n_layer=2, n_head=4, context=64)).eval()
    ids = torch.randint(0, corpus.VOCAB_SIZE, (1, 20))
    cache = model.new_cache()
    model(ids[:, :12], cache=cache)
    for c in cache:
        c.crop(8)
    again = model(ids[:, 8:20], cache=cache)
    torch.testing.assert_close(again, model(ids)[:, 8:], rtol=0, atol=1e-5)


def test_hidden_states_and_exit_logits():
    model = GPT(Config(d_model=32, n_layer=3, n_head=2, context=32)).eval()
    logits, hidden = model(torch.zeros(1, 5, dtype=torch.long), return_hidden=True)
    assert len(hidden) == 4 and all(h.shape == (1, 5, 32) for h in hidden)
    torch.testing.assert_close(model.logits(hidden[-1]), logits)


def test_mixture_of_experts_routes_balances_and_drops_only_in_training():
    torch.manual_seed(0)
    model = GPT(Config(d_model=32, n_layer=1, n_head=2, n_expert=4, top_k=1, capacity_factor=0.5, context=32))
    moe = model.blocks[0].mlp
    model.train()
    model(torch.randint(0, corpus.VOCAB_SIZE, (4, 32)))
    assert 0 < moe.dropped < 1  # capacity 0.5 cannot hold every token
    assert moe.aux_loss.item() >= 1.0 - 1e-6  # n * sum(f * P) is at least 1, equal when balanced
    model.eval()
    model(torch.randint(0, corpus.VOCAB_SIZE, (4, 32)))
    assert moe.dropped == 0
    assert demos.n_params(model) > demos.n_params(GPT(Config(d_model=32, n_layer=1, n_head=2, context=32)))


def test_kv_cache_protocol_is_small():
    cache = KVCache()
    k = torch.ones(1, 2, 3, 4)
    assert cache.update(k, k)[0].shape == (1, 2, 3, 4) and len(cache) == 3 and cache.seen == 3


@pytest.mark.parametrize("name", family.names())
def test_checkpoint_loads_fast_and_reproduces_its_validation_loss(name):
    import time

    start = time.perf_counter()
    model = family.load(name)
    loaded = time.perf_counter() - start
    card = model.card
    assert loaded < 1.0, f"{name} took {loaded:.2f} s to load"
    assert card["name"] == name and card["corpus"]["sha256"] == corpus.SHA256
    assert demos.n_params(model) == card["params"]
    assert card["tokens"] == card["steps"] * card["recipe"]["batch_size"] * card["config"]["context"]
    assert card["train_flops"] > 0 and card["evals"][-1]["step"] == card["steps"]
    measured = training.evaluate(model, max_tokens=card["recipe"]["eval_tokens"])
    assert measured == pytest.approx(card["val_loss"], abs=2e-4), f"{name}: re-measured {measured}"
    assert measured < 0.6 * torch.log(torch.tensor(float(corpus.VOCAB_SIZE))).item()  # far better than uniform


def test_family_spans_ten_times_in_parameters_and_bigger_is_better():
    cards = {n: family.read_card(n) for n in family.DENSE}
    params = [cards[n]["params"] for n in family.DENSE]
    assert len(params) >= 4 and params == sorted(params) and params[-1] / params[0] >= 10
    losses = [cards[n]["val_loss_full"] for n in family.DENSE]
    assert losses == sorted(losses, reverse=True)


def test_exit_model_records_a_loss_per_layer():
    card = family.read_card("l-exit")
    losses = [card["exit_val_loss"][str(layer)] for layer in range(1, card["config"]["n_layer"] + 1)]
    assert losses[0] == max(losses) and losses[0] - min(losses) > 0.05, "deeper exits should predict better"
    # layer by layer the loss falls, up to noise: trained with a loss at every exit, the last two
    # blocks can tie (here they do, within 0.002 nats)
    assert all(later <= earlier + 0.005 for earlier, later in zip(losses, losses[1:], strict=False)), losses


def test_training_is_deterministic_and_matches_the_recorded_run():
    """A few steps of the training script give the losses the checkpoint recorded for its first steps."""
    script = REPO / "scripts" / "train_demo_models.py"
    threads = str(family.read_card("xs")["threads"])  # the thread count the checkpoint was trained with
    command = [sys.executable, str(script), "--steps", "5", "--dry-run", "--threads", threads, "xs"]
    runs = [subprocess.run(command, capture_output=True, text=True) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    first, second = (r.stdout.split()[1:] for r in runs)
    assert first == second, "two runs of the same seed differ"
    recorded = family.read_card("xs")["first_losses"][:5]
    assert [float(v) for v in first] == pytest.approx(recorded, abs=1e-5)


def test_time_it_is_the_median_and_synchronised():
    calls = []
    assert meters.time_it(lambda: calls.append(1), repeat=5, warmup=2) >= 0
    assert len(calls) == 7
    spread = meters.times(lambda: None, repeat=3, warmup=0)
    assert len(spread) == 3


def test_cpu_time_counts_this_process_only():
    import time

    assert meters.cpu_time(lambda: time.sleep(0.02), repeat=3, warmup=0) < 0.01  # sleeping uses no CPU
    busy = meters.cpu_time(lambda: sum(range(200_000)), repeat=3, warmup=0)
    assert busy > 0


def test_peak_memory_counts_what_is_alive_at_once():
    def work():
        a = torch.ones(1000, 1000)  # 4 MB
        b = a * 2  # 8 MB alive
        del a
        c = b + 1  # still 8 MB at most
        return c.sum()

    peak, result = meters.peak_memory(work, torch.device("cpu"))
    assert peak == pytest.approx(8_000_000, rel=0.01)
    assert result.item() == 3_000_000
    chunked, _ = meters.peak_memory(
        lambda: sum((torch.ones(250, 1000) * 2).sum() for _ in range(4)), torch.device("cpu")
    )
    assert chunked < 0.3 * peak  # the same work in pieces never holds it all


def test_flops_match_the_matmul_formula_and_2n_per_token():
    a, b = torch.randn(64, 128), torch.randn(128, 32)
    assert meters.flops(lambda: a @ b) == 2 * 64 * 128 * 32
    model = GPT(Config(d_model=64, n_layer=2, n_head=4, context=16)).eval()
    tokens = 16
    counted = meters.flops(lambda: model(torch.zeros(1, tokens, dtype=torch.long)))
    linear = sum(
        p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n and "position" not in n
    )
    head = model.head.weight.numel()
    assert counted >= 2 * tokens * (linear + head)  # the weights, plus attention's own matmuls
    assert counted < 1.3 * 2 * tokens * (linear + head)


def test_parameters_bytes_and_throughput():
    model = GPT(Config(d_model=32, n_layer=2, n_head=2, context=32))
    assert meters.n_params(model) == sum(p.numel() for p in set(model.parameters()))
    assert meters.model_bytes(model) == 4 * meters.n_params(model)
    assert meters.nbytes(torch.zeros(10, dtype=torch.float16), torch.zeros(3, dtype=torch.int8)) == 23
    rate = meters.tokens_per_second(lambda: model(torch.zeros(1, 32, dtype=torch.long)), tokens=32, repeat=3)
    assert rate > 0
