"""The Scaling chapter's own code, loaded from its `core` cells: the power-law fits, the IsoFLOP
machinery and the Chinchilla calculator. Exactness where the maths is exact, coverage where it is
statistical; no timings."""

import numpy as np
import pandas as pd
import pytest
import torch

from atlas import data
from atlas.book.notebooks import core_code

from conftest import REPO

ns = core_code(REPO / "book" / "scaling.md")
CHIN = ns["CHINCHILLA"]


# --- power laws -----------------------------------------------------------------------------------


def test_power_law_fit_recovers_an_exact_law_and_predicts_it():
    x = np.geomspace(1e3, 1e6, 6)
    fit = ns["fit_power_law"](x, 7.0 * x**-0.25)
    assert fit["exponent"] == pytest.approx(0.25, abs=1e-12)
    assert fit["half_width"] < 1e-9
    predicted, (low, high) = ns["predict"](fit, 1e8)
    assert predicted == pytest.approx(7.0 * 1e8**-0.25, rel=1e-9)
    assert low <= predicted <= high


def test_power_law_intervals_cover_the_true_exponent_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e6, 5)
    trials, exponent_hits, prediction_hits = 400, 0, 0
    for _ in range(trials):
        y = 3.0 * x**-0.1 * np.exp(0.02 * rng.standard_normal(len(x)))
        fit = ns["fit_power_law"](x, y)
        exponent_hits += abs(fit["exponent"] - 0.1) <= fit["half_width"]
        new = 3.0 * 1e7**-0.1 * np.exp(0.02 * rng.standard_normal())
        _, (low, high) = ns["predict"](fit, 1e7)
        prediction_hits += low <= new <= high
    # 95% nominal; with 400 trials the binomial spread is about 1.1 points
    assert 0.91 <= exponent_hits / trials <= 0.99
    assert 0.91 <= prediction_hits / trials <= 0.99


def test_frontier_keeps_only_points_no_run_beat_with_less_compute():
    curves = pd.DataFrame({"flops": [5, 1, 2, 3, 4, 6], "val_loss": [2.4, 3.0, 2.5, 2.7, 2.4, 2.3]})
    assert ns["compute_frontier"](curves)["flops"].tolist() == [1, 2, 4, 6]


# --- IsoFLOP sweep --------------------------------------------------------------------------------


def test_parabola_vertex_is_exact_for_a_parabola_and_stays_inside_the_grid():
    log_n = np.log([500.0, 1000.0, 2000.0, 4000.0])
    inside = 3.0 + 0.5 * (log_n - np.log(1500.0)) ** 2
    outside = 3.0 + 0.5 * (log_n - np.log(100.0)) ** 2
    vertex, value = ns["parabola_minima"](log_n, np.stack([inside, outside], axis=1))
    assert np.exp(vertex[0]) == pytest.approx(1500.0, rel=1e-9)
    assert value[0] == pytest.approx(3.0, abs=1e-9)
    assert vertex[1] == pytest.approx(log_n.min())  # a minimum beyond the grid is not extrapolated


def synthetic_isoflop(budgets, spread=2.0, points=7):
    """IsoFLOP runs whose losses come from Chinchilla's fit, on grids around the optimum."""
    rows = []
    for c in budgets:
        n_opt, _ = ns["compute_optimal"](c)
        for n in n_opt * np.geomspace(1 / spread, spread, points):
            rows.append({"budget": c, "parameters": n, "held-out loss": ns["chinchilla_loss"](n, c / (6 * n))})
    return pd.DataFrame(rows)


def test_optimal_size_exponent_recovers_the_exponent_of_a_known_loss_surface():
    runs = synthetic_isoflop([1e18, 1e19, 1e20, 1e21])
    a = ns["optimal_size_exponent"](runs)[0].item()
    assert a == pytest.approx(CHIN["beta"] / (CHIN["alpha"] + CHIN["beta"]), abs=0.005)


def test_bootstrap_without_noise_repeats_the_estimate_and_with_noise_spreads_around_it():
    runs = synthetic_isoflop([1e18, 1e19, 1e20])
    a = ns["optimal_size_exponent"](runs)[0].item()
    quiet = ns["optimal_size_exponent"](runs, sd=0.0, draws=50)[0]
    assert np.allclose(quiet, a)
    noisy = ns["optimal_size_exponent"](runs, sd=0.002, draws=400, seed=1)[0]
    assert noisy.std() > 0 and np.percentile(noisy, 2.5) < a < np.percentile(noisy, 97.5)


def test_isoflop_plan_spends_each_budget_to_within_half_a_step():
    plan, per_step = ns["isoflop_plan"]([3e8, 1e9], [3, 12])
    assert plan, "no run fits the budgets"
    for budget, width, steps in plan:
        assert abs(steps * per_step[width] - budget) <= per_step[width] / 2
        assert 25 <= steps <= 300


def test_flops_per_step_counts_backward_as_twice_the_forward():
    config = ns["toy_config"](8)
    model = ns["demos"].GPT(config)
    x = torch.zeros(ns["BATCH"], ns["CONTEXT"], dtype=torch.long)
    with torch.no_grad():
        forward = ns["demos"].flops(lambda: model(x))
    assert ns["flops_per_step"](config) == pytest.approx(3 * forward, rel=0.02)


def test_training_run_is_deterministic_per_seed_and_learns():
    config, cpu = ns["toy_config"](4), torch.device("cpu")
    first = ns["train_for"](config, 30, seed=0, dev=cpu)
    assert ns["train_for"](config, 30, seed=0, dev=cpu) == first
    assert ns["train_for"](config, 30, seed=1, dev=cpu) != first
    assert first < np.log(ns["demos"].corpus.VOCAB_SIZE)  # better than guessing uniformly


# --- the calculator ------------------------------------------------------------------------------


def test_constants_are_the_published_ones_and_imply_table_2s_exponent_to_rounding():
    assert CHIN == {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    results = data.load().chapter("scaling").results
    approach_3 = results[(results["key"] == "hoffmann2022training") & results["setting"].str.contains("Approach 3")]
    implied = CHIN["beta"] / (CHIN["alpha"] + CHIN["beta"])
    assert abs(implied - approach_3["value"].item()) <= 0.01  # two-digit constants, two-digit table


@pytest.mark.parametrize("budget", [1e18, 5.76e23, 1e27])
def test_compute_optimum_spends_exactly_the_budget_and_minimises_the_loss(budget):
    n, d = ns["compute_optimal"](budget)
    assert 6 * n * d == pytest.approx(budget, rel=1e-12)
    grid = n * np.geomspace(0.5, 2.0, 2001)
    losses = ns["chinchilla_loss"](grid, budget / (6 * grid))
    assert grid[np.argmin(losses)] == pytest.approx(n, rel=1e-3)
    assert ns["chinchilla_loss"](n, d) <= losses.min() + 1e-12


def test_tokens_for_loss_inverts_the_loss_and_refuses_the_unreachable():
    n = 1e9
    for d in (1e9, 1e11, 1e13):
        assert ns["tokens_for_loss"](n, ns["chinchilla_loss"](n, d)) == pytest.approx(d, rel=1e-9)
    assert np.isinf(ns["tokens_for_loss"](n, CHIN["E"] + CHIN["A"] / n ** CHIN["alpha"] - 1e-6))


def test_inference_optimum_without_inference_is_the_compute_optimum():
    budget = 6 * 70e9 * 1.4e12
    n, d = ns["inference_optimal"](budget, 0.0)
    n0, d0 = ns["compute_optimal"](budget)
    assert n == pytest.approx(n0, rel=1e-5) and d == pytest.approx(d0, rel=1e-5)


def test_inference_optimum_keeps_the_quality_shrinks_the_model_and_saves_lifetime_flops():
    budget = 6 * 70e9 * 1.4e12
    n0, d0 = ns["compute_optimal"](budget)
    target = ns["chinchilla_loss"](n0, d0)
    previous = n0
    for served in (1e12, 1e13, 1e14):
        n, d = ns["inference_optimal"](budget, served)
        assert ns["chinchilla_loss"](n, d) == pytest.approx(target, rel=1e-9)
        assert n < previous and d > d0
        assert 6 * n * d + 2 * n * served < 6 * n0 * d0 + 2 * n0 * served
        for other in (n * 0.97, n * 1.03):  # a true minimum of the lifetime FLOPs along the quality contour
            d_other = ns["tokens_for_loss"](other, target)
            assert 6 * other * d_other + 2 * other * served > 6 * n * d + 2 * n * served
        previous = n
