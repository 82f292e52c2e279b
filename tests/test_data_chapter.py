"""The Data efficiency chapter's own code (its cells tagged `core`): the exactness properties its demos
rely on. The written-out MinHash gives datasketch's signatures bit for bit and its banding gives
datasketch's LSH candidates; the estimate is unbiased and the banding follows its S-curve; the
brute-force, exact-hash and union-find baselines are exact; the vectorised window sketches of the
memorisation audit equal the sketch of each window computed on its own, and its searches find what
they should; the steps-to-quality arithmetic and the untied model the training demo uses.

(The chapter is `book/data`; `tests/test_data.py` is the dataset loader's test, hence this name.)"""

import itertools
import random

import numpy as np
import pytest
import torch
from datasketch import MinHash, MinHashLSH

from atlas import demos
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "data.md")
WORDS = [f"w{i}" for i in range(400)]


def random_sets(n, size=40, seed=0):
    rng = random.Random(seed)
    return [{" ".join(rng.sample(WORDS, 3)) for _ in range(size)} for _ in range(n)]


def planted_corpus(seed=0, originals=60, copies=30):
    rng = random.Random(seed)
    texts = ["SPEAKER:\n" + "\n".join(" ".join(rng.choices(WORDS, k=8)) for _ in range(6)) for _ in range(originals)]
    return ns["plant_near_duplicates"](texts, rng.sample(range(originals), copies), rng, WORDS)


def library_minhashes(sets, k, seed):
    return MinHash.bulk([[x.encode() for x in sorted(s)] for s in sets], num_perm=k, seed=seed, scheme="affine32")


@pytest.mark.parametrize("k, seed", [(128, 1), (64, 7)])
def test_signatures_are_datasketchs_bit_for_bit(k, seed):
    sets = random_sets(30)
    a, b = ns["permutations"](k, seed)
    ours = ns["signatures"](ns["shingle_hashes"](sets), a, b)
    for theirs, mine in zip(library_minhashes(sets, k, seed), ours, strict=True):
        np.testing.assert_array_equal(theirs.hashvalues, mine)


def test_a_signature_does_not_depend_on_the_other_documents():
    sets = random_sets(5)
    a, b = ns["permutations"](32)
    together = ns["signatures"](ns["shingle_hashes"](sets), a, b)
    for i, s in enumerate(sets):
        np.testing.assert_array_equal(ns["signatures"](ns["shingle_hashes"]([s]), a, b)[0], together[i])


@pytest.mark.parametrize("bands, rows", [(32, 4), (16, 8), (20, 5)])
def test_lsh_candidates_are_datasketchs(bands, rows):
    docs, truth, _ = planted_corpus()
    sets = [ns["shingles"](d) for d in docs]
    a, b = ns["permutations"](128)
    ours = ns["lsh_candidates"](ns["signatures"](ns["shingle_hashes"](sets), a, b), bands, rows)
    index = MinHashLSH(num_perm=128, params=(bands, rows))
    library = library_minhashes(sets, 128, 1)
    for i, m in enumerate(library):
        index.insert(i, m)
    theirs = {(min(i, j), max(i, j)) for i, m in enumerate(library) for j in index.query(m) if j != i}
    assert ours == theirs
    assert len(ours & truth) > len(truth) // 2  # the comparison is not vacuous


def test_the_estimate_is_unbiased():
    a_set, b_set = {f"s{i}" for i in range(100)}, {f"s{i}" for i in range(50, 150)}  # Jaccard 50/150
    true = ns["jaccard"](a_set, b_set)
    k, seeds = 64, 60
    estimates = []
    for seed in range(seeds):
        a, b = ns["permutations"](k, seed)
        sig = ns["signatures"](ns["shingle_hashes"]([a_set, b_set]), a, b)
        estimates.append(ns["estimated_jaccard"](sig[0], sig[1]))
    standard_error = np.sqrt(true * (1 - true) / (k * seeds))
    assert abs(np.mean(estimates) - true) < 4 * standard_error


def test_banding_follows_the_s_curve():
    a_set, b_set = {f"s{i}" for i in range(60)}, {f"s{i}" for i in range(20, 80)}  # Jaccard 0.5
    bands, rows, trials = 8, 4, 300
    hits = 0
    for seed in range(trials):
        a, b = ns["permutations"](bands * rows, seed)
        hits += bool(ns["lsh_candidates"](ns["signatures"](ns["shingle_hashes"]([a_set, b_set]), a, b), bands, rows))
    p = 1 - (1 - 0.5**rows) ** bands
    assert abs(hits / trials - p) < 4 * np.sqrt(p * (1 - p) / trials)


def test_too_few_hashes_for_the_bands_is_refused():
    with pytest.raises(ValueError):
        ns["lsh_candidates"](np.zeros((3, 16), dtype=np.uint32), 8, 4)


def test_brute_force_finds_exactly_the_pairs_at_or_above_the_threshold():
    docs, _, _ = planted_corpus(seed=3)
    sets = [ns["shingles"](d) for d in docs]
    for threshold in (0.3, 0.5, 0.8):
        expected = {
            (i, j)
            for i, j in itertools.combinations(range(len(sets)), 2)
            if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= threshold
        }
        assert ns["brute_force_near_duplicates"](sets, threshold) == expected


def test_brute_force_counts_a_pair_exactly_at_the_threshold():
    sets = [{"a", "b", "c"}, {"b", "c", "d"}, {"x", "y"}]  # the first two: Jaccard 2/4
    assert ns["brute_force_near_duplicates"](sets, 0.5) == {(0, 1)}


def test_minhash_recovers_the_planted_copies_that_brute_force_finds():
    docs, truth, _ = planted_corpus(seed=5)
    sets = [ns["shingles"](d) for d in docs]
    exact = ns["brute_force_near_duplicates"](sets, 0.5)
    found = ns["minhash_near_duplicates"](sets, 0.5)
    assert len(found & exact) >= 0.9 * len(exact) and len(found - exact) <= 2


def test_exact_duplicates_ignore_case_and_whitespace_only():
    texts = ["To be, or not", "to  be,\nOR not", "to be or not", "To be, or not"]
    assert ns["exact_duplicates"](texts) == {(0, 1), (0, 3), (1, 3)}


def test_keep_one_per_cluster_is_transitive():
    assert ns["keep_one_per_cluster"](7, [(3, 5), (0, 3), (2, 1), (6, 5)]) == [0, 1, 4]
    assert ns["keep_one_per_cluster"](6, [(0, 5), (3, 5)]) == [0, 1, 2, 4]  # 0, 3 and 5 are one cluster
    assert ns["keep_one_per_cluster"](3, []) == [0, 1, 2]


def test_planted_copies():
    docs, truth, kind_of = planted_corpus(seed=1, originals=20, copies=12)
    assert len(docs) == 32 and len(truth) == 12 and len(kind_of) == 12
    assert all((i in kind_of) != (j in kind_of) for i, j in truth)  # each pair: one source, one copy
    for i, j in truth:
        copy, source = (i, j) if i in kind_of else (j, i)
        kind = kind_of[copy]
        assert docs[copy].split("\n")[0] == docs[source].split("\n")[0]  # the speaker stays first
        assert sorted(docs[copy].split()) == sorted(docs[source].split()) or "edited" in kind
        assert (docs[copy] == docs[source]) == (kind == "exact")


def test_copies_of_one_source_are_all_near_duplicates_of_each_other():
    rng = random.Random(0)
    texts = ["A:\n" + " ".join(rng.choices(WORDS, k=30)) for _ in range(5)]
    docs, truth, _ = ns["plant_near_duplicates"](texts, [2, 2, 2], rng, WORDS)
    assert len(truth) == 6  # the source and three copies: 4 choose 2


def direct_window_signature(ids, a, b, n=5):
    h = ns["char_shingle_hashes"](ids, n)
    return (h[:, None] * a + b).min(axis=0)


@pytest.mark.parametrize("width, stride, length", [(32, 8, 1000), (64, 16, 1003), (20, 6, 517)])
def test_window_signatures_equal_each_windows_own(width, stride, length):
    ids = np.random.RandomState(0).randint(0, 96, length)
    a, b = ns["permutations"](16)
    sigs = ns["window_signatures"](ids, a, b, width, stride)
    starts = range(0, length - width + 1, stride)
    assert len(sigs) == len(starts)
    for row, start in zip(sigs, starts, strict=True):
        np.testing.assert_array_equal(row, direct_window_signature(ids[start : start + width], a, b))


def test_near_copy_index_finds_edited_copies_and_not_other_text():
    rng = np.random.RandomState(1)
    text = rng.randint(1, 60, 20_000)
    index = ns["NearCopyIndex"](text)
    copy = text[5_000:5_128].copy()
    copy[[10, 50, 90]] = 95  # three characters changed
    assert np.mean(index.best_similarity(copy) >= 0.5) >= 0.8
    assert index.best_similarity(rng.randint(1, 60, 128)).max() < 0.3


def test_verbatim_index_marks_exactly_the_copied_positions():
    rng = np.random.RandomState(2)
    text = rng.randint(1, 96, 5_000)
    index = ns["VerbatimIndex"](text, 16)
    query = np.concatenate([rng.randint(1, 96, 10), text[100:140], rng.randint(1, 96, 10)])
    copied = index.copied(query)
    assert copied[10:35].all() and not copied[:10].any() and not copied[36:].any()


def test_speedup_to_quality():
    baseline = [{"step": s, "val_loss": loss} for s, loss in ((20, 3.0), (40, 2.8), (60, 2.6))]
    faster = [{"step": s, "val_loss": loss} for s, loss in ((20, 2.9), (40, 2.6), (60, 2.5))]
    assert ns["steps_to_reach"](faster, 2.6) == 40 and ns["steps_to_reach"](faster, 2.75) == pytest.approx(30)
    assert ns["steps_to_reach"](baseline, 2.0) is None
    assert ns["speedup_to_quality"](faster, baseline) == pytest.approx(60 / 40)
    assert ns["speedup_to_quality"](baseline, faster) == pytest.approx(40 / 60)  # slower: below 1
    assert ns["speedup_to_quality"](baseline, baseline) == pytest.approx(1)


def test_fresh_model_has_an_untied_head_and_trains():
    config = demos.Config(d_model=16, n_layer=1, n_head=2, context=16)
    model = ns["fresh_model"](config, 0)
    assert model.head.weight is not model.embed.weight
    again = ns["fresh_model"](config, 0)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters(), strict=True))  # seeded
    ids = demos.corpus.encode("To be, or not to be, that is the question. " * 20)
    trained, history = demos.train(config, demos.Recipe(steps=3, batch_size=2, eval_tokens=64), model=model, ids=ids)
    assert not torch.equal(trained.head.weight, trained.embed.weight) and len(history.losses) == 3
