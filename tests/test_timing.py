"""book.timing: per-call times, medians over trials and interleaved ratios."""
import time

import pytest

from book.timing import median_time, per_call, timing_ratio


def sleeper(seconds):
    def run():
        time.sleep(seconds)
    return run


def test_per_call_is_the_mean_over_calls_and_counts_a_returned_time():
    calls = []
    assert per_call(lambda: calls.append(1), 4) >= 0 and len(calls) == 4
    # a function that reports its own time is taken at its word
    assert per_call(lambda: 0.25, 3) == pytest.approx(0.25)
    assert per_call(sleeper(0.01), 2) >= 0.009


def test_median_time_warms_up_then_times_every_trial():
    calls = []
    median_time(lambda: calls.append(1), number=3, trials=2, warmup=2)
    assert len(calls) == 2 + 3 * 2
    assert median_time(lambda: 0.5, trials=3) == pytest.approx(0.5)


def test_timing_ratio_divides_within_trials():
    result = timing_ratio(lambda: 0.3, lambda: 0.1, number=2, reference_number=5, trials=3, warmup=0)
    assert result.ratio == pytest.approx(3.0)
    assert result.time == pytest.approx(0.3) and result.reference_time == pytest.approx(0.1)
    slow = timing_ratio(sleeper(0.004), sleeper(0.001), trials=3)
    assert slow.ratio > 1.5


@pytest.mark.parametrize("kwargs", [dict(number=0), dict(trials=0), dict(warmup=-1), dict(number=1.5)])
def test_bad_counts_raise(kwargs):
    with pytest.raises(ValueError):
        median_time(lambda: None, **kwargs)
    with pytest.raises(ValueError):
        timing_ratio(lambda: None, lambda: None, **kwargs)


def test_per_call_needs_a_function():
    with pytest.raises(ValueError, match="callable"):
        per_call(3.0)
