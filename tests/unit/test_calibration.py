"""Prior combination and the model-derived match threshold (identity.calibration)."""

from __future__ import annotations

import numpy as np

from identity.calibration import derive_threshold, self_consistent_prior, start_prior


class TestPrior:
    def test_start_is_the_larger_sane_estimate(self) -> None:
        assert start_prior(2.3e-7, 1e-5) == (1e-5, "em")
        assert start_prior(5e-4, float("nan")) == (5e-4, "deterministic")
        assert start_prior(5e-4, 1.0) == (5e-4, "deterministic")

    def test_self_consistency_is_bounded(self) -> None:
        args = {"start": 1e-4, "total_pairs": 1e6, "lower_bound": 1e-5}
        assert self_consistent_prior(expected_matches=50, **args) == 5e-5
        assert self_consistent_prior(expected_matches=1, **args) == 1e-5
        assert self_consistent_prior(expected_matches=1e4, **args) == 1e-4
        assert self_consistent_prior(expected_matches=0, **args) == 1e-4


class TestThreshold:
    def test_confident_edges_keep_the_lowest_threshold(self) -> None:
        t, report = derive_threshold(np.array([0.999] * 100 + [0.6, 0.7]))
        assert t == 0.5
        assert report["grid"][0]["expected_precision"] >= 0.98

    def test_many_marginal_edges_raise_it(self) -> None:
        t, _ = derive_threshold(np.array([0.999] * 50 + [0.55] * 50 + [0.85] * 20))
        assert t == 0.9

    def test_fixed_threshold_wins(self) -> None:
        assert derive_threshold([0.6], fixed=0.95)[0] == 0.95
