"""Wilson intervals and the two-proportion test: known values, and properties that hold for every count."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.stats import (
    two_proportion_p,
    two_proportion_test,
    two_proportion_z,
    wilson_high,
    wilson_interval,
    wilson_low,
    z_for,
)


@st.composite
def counts(draw: st.DrawFn, max_trials: int = 5000) -> tuple[int, int]:
    trials = draw(st.integers(min_value=1, max_value=max_trials))
    return draw(st.integers(min_value=0, max_value=trials)), trials


def test_known_wilson_intervals() -> None:
    # Values from Newcombe (1998), table I, and by hand from the closed form.
    half = wilson_interval(5, 10)
    assert half is not None
    assert (round(half.low, 4), round(half.high, 4)) == (0.2366, 0.7634)
    none = wilson_interval(0, 10)
    assert none is not None
    assert none.low == 0.0
    assert round(none.high, 4) == 0.2775
    all_ = wilson_interval(10, 10)
    assert all_ is not None
    assert all_.high == 1.0
    assert round(all_.low, 4) == 0.7225
    small = wilson_interval(1, 29)
    assert small is not None
    assert (round(small.low, 4), round(small.high, 4)) == (0.0061, 0.1718)
    assert wilson_interval(0, 0) is None
    assert wilson_low(0, 0) is None
    assert wilson_high(0, 0) is None
    assert round(z_for(0.95), 6) == 1.959964


def test_known_two_proportion_test() -> None:
    # 20/100 against 30/100: pooled 0.25, se = sqrt(0.25 * 0.75 * (1/100 + 1/100)).
    test = two_proportion_test(20, 100, 30, 100)
    assert test is not None
    assert math.isclose(test.difference, 0.1)
    assert round(test.z, 4) == round(0.1 / math.sqrt(0.25 * 0.75 * 0.02), 4) == 1.633
    assert round(test.p_value, 4) == 0.1025
    assert two_proportion_test(0, 10, 0, 20) == two_proportion_test(5, 5, 7, 7)
    same = two_proportion_test(0, 10, 0, 20)
    assert same is not None
    assert (same.z, same.p_value) == (0.0, 1.0)
    assert two_proportion_z(0, 0, 1, 2) is None
    assert two_proportion_p(3, 10, 0, 0) is None


@pytest.mark.parametrize("bad", [(-1, 5), (6, 5), (0, -1)])
def test_impossible_counts_are_refused(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(*bad)
    with pytest.raises(ValueError, match="successes"):
        two_proportion_test(*bad, 1, 2)


@given(counts())
def test_wilson_contains_the_estimate_and_stays_in_the_unit_interval(pair: tuple[int, int]) -> None:
    successes, trials = pair
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert 0.0 <= interval.low <= interval.estimate <= interval.high <= 1.0
    assert interval.low < interval.high
    assert (interval.low == 0.0) == (successes == 0)
    assert (interval.high == 1.0) == (successes == trials)


@given(counts())
def test_wilson_is_symmetric_in_successes_and_failures(pair: tuple[int, int]) -> None:
    successes, trials = pair
    interval, mirror = wilson_interval(successes, trials), wilson_interval(trials - successes, trials)
    assert interval is not None
    assert mirror is not None
    assert math.isclose(interval.low, 1 - mirror.high, abs_tol=1e-12)
    assert math.isclose(interval.high, 1 - mirror.low, abs_tol=1e-12)


@given(counts(max_trials=1000), st.integers(min_value=2, max_value=20))
def test_more_data_at_the_same_rate_narrows_the_interval(pair: tuple[int, int], factor: int) -> None:
    successes, trials = pair
    small, large = wilson_interval(successes, trials), wilson_interval(successes * factor, trials * factor)
    assert small is not None
    assert large is not None
    assert large.high - large.low < small.high - small.low


@given(st.integers(min_value=10, max_value=200), st.floats(min_value=0.02, max_value=0.98))
def test_wilson_covers_the_true_rate_about_95_percent_of_the_time(trials: int, rate: float) -> None:
    """Exact coverage over the binomial distribution; Wilson's dips stay above 85% (its known minimum area)."""
    coverage = 0.0
    for successes in range(trials + 1):
        interval = wilson_interval(successes, trials)
        assert interval is not None
        if interval.low <= rate <= interval.high:
            coverage += math.comb(trials, successes) * rate**successes * (1 - rate) ** (trials - successes)
    assert coverage > 0.85


@given(counts(), counts())
def test_two_proportion_z_squared_is_the_chi_square_of_the_two_by_two_table(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    test = two_proportion_test(*a, *b)
    assert test is not None
    assert 0.0 <= test.p_value <= 1.0
    table = [[a[0], a[1] - a[0]], [b[0], b[1] - b[0]]]
    total = a[1] + b[1]
    columns = [table[0][0] + table[1][0], table[0][1] + table[1][1]]
    if 0 in columns:
        assert (test.z, test.p_value) == (0.0, 1.0)
        return
    chi_square = sum(
        (table[i][j] - rows * columns[j] / total) ** 2 / (rows * columns[j] / total)
        for i, rows in enumerate((a[1], b[1]))
        for j in range(2)
    )
    assert math.isclose(test.z**2, chi_square, rel_tol=1e-9, abs_tol=1e-9)


@given(counts(), counts())
def test_swapping_the_arms_negates_z_and_keeps_p(a: tuple[int, int], b: tuple[int, int]) -> None:
    forward, backward = two_proportion_test(*a, *b), two_proportion_test(*b, *a)
    assert forward is not None
    assert backward is not None
    assert math.isclose(forward.z, -backward.z, abs_tol=1e-12)
    assert math.isclose(forward.p_value, backward.p_value, abs_tol=1e-12)
    assert (forward.z > 0) == (b[0] / b[1] > a[0] / a[1])
