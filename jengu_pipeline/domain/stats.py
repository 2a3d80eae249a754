"""Proportions with honest uncertainty: Wilson score intervals and the two-proportion z-test.

A/B arms of a cold campaign are small (tens to hundreds of sends) and reply rates are low, where the textbook
normal interval collapses to zero width or leaves [0, 1]. Wilson's interval stays inside [0, 1] and keeps its
coverage at small n; the pooled two-proportion z-test is what "is arm B different from arm A" means here.
The warehouse registers these functions in its DuckDB connection, so its marts and these tests share one
implementation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()
DEFAULT_CONFIDENCE = 0.95


def z_for(confidence: float) -> float:
    """The two-sided normal quantile for a confidence level (1.959964... for 95%)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")


@dataclass(frozen=True)
class Interval:
    """A proportion's point estimate and its interval; all three lie in [0, 1]."""

    estimate: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """Wilson score interval of ``successes`` out of ``trials``; None when there were no trials."""
    _check_counts(successes, trials)
    if trials == 0:
        return None
    z = z_for(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    # Rounding can put a bound a hair outside [0, 1] or past the estimate at the extremes (0 or n successes).
    low = 0.0 if successes == 0 else min(p, max(0.0, centre - half))
    high = 1.0 if successes == trials else max(p, min(1.0, centre + half))
    return Interval(p, low, high)


def wilson_low(successes: int, trials: int) -> float | None:
    """The lower bound of the 95% Wilson interval (None without trials); a SQL function of the warehouse."""
    interval = wilson_interval(successes, trials)
    return None if interval is None else interval.low


def wilson_high(successes: int, trials: int) -> float | None:
    """The upper bound of the 95% Wilson interval (None without trials); a SQL function of the warehouse."""
    interval = wilson_interval(successes, trials)
    return None if interval is None else interval.high


@dataclass(frozen=True)
class ProportionTest:
    """Arm B against arm A: difference of rates (B - A), the pooled z statistic and its two-sided p-value."""

    difference: float
    z: float
    p_value: float


def two_proportion_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> ProportionTest | None:
    """Pooled two-proportion z-test of B against A; None when either arm has no trials.

    When both arms are all successes or all failures the pooled variance is zero: the rates are equal, so the
    test reports z = 0 and p = 1 rather than dividing by zero.
    """
    _check_counts(successes_a, trials_a)
    _check_counts(successes_b, trials_b)
    if trials_a == 0 or trials_b == 0:
        return None
    rate_a, rate_b = successes_a / trials_a, successes_b / trials_b
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return ProportionTest(rate_b - rate_a, 0.0, 1.0)
    z = (rate_b - rate_a) / math.sqrt(variance)
    p_value = min(1.0, max(0.0, 2 * (1 - _NORMAL.cdf(abs(z)))))
    return ProportionTest(rate_b - rate_a, z, p_value)


def two_proportion_z(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float | None:
    """The z statistic of :func:`two_proportion_test`; a SQL function of the warehouse."""
    test = two_proportion_test(successes_a, trials_a, successes_b, trials_b)
    return None if test is None else test.z


def two_proportion_p(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float | None:
    """The two-sided p-value of :func:`two_proportion_test`; a SQL function of the warehouse."""
    test = two_proportion_test(successes_a, trials_a, successes_b, trials_b)
    return None if test is None else test.p_value
