"""book.timing: per-call times, medians over trials and interleaved ratios."""
import time

import pytest

from book.timing import conv2d_benchmark, conv2d_timings, median_time, per_call, timed_backward, timing_ratio


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


def test_timed_backward_times_backward_alone_and_clears_gradients():
    import torch

    leaf = torch.ones(3, requires_grad=True)
    run = timed_backward(lambda: (leaf * 2.0).sum(), torch.tensor(1.0), [leaf])
    elapsed = run()
    assert isinstance(elapsed, float) and elapsed >= 0 and leaf.grad is None
    with pytest.raises(ValueError, match="callable"):
        timed_backward(None, 1.0)


def test_conv2d_benchmark_agrees_with_torch_and_every_run_computes():
    runs, error = conv2d_benchmark(n=2, channels=3, size=5, filters=4, kernel=3, padding=1)
    assert error < 1e-10
    assert set(runs) == {(m, p) for m in ("torch", "vectorised", "loop") for p in ("forward", "backward")}
    # the loop and vectorised versions give the same forward and gradients on the benchmark data
    loop_out, vec_out = runs["loop", "forward"](), runs["vectorised", "forward"]()[0]
    assert loop_out.shape == vec_out.shape == (2, 4, 5, 5)
    for a, b in zip(runs["loop", "backward"](), runs["vectorised", "backward"]()):
        assert abs(a - b).max() < 1e-10
    assert isinstance(runs["torch", "backward"](), float)


def test_conv2d_timings_returns_a_ratio_for_each_version_and_pass():
    runs, _ = conv2d_benchmark(n=1, channels=2, size=4, filters=2, kernel=3, padding=0)
    result = conv2d_timings(runs, number=2, trials=1, loop_trials=1)
    assert set(result) == {(m, p) for m in ("vectorised", "loop") for p in ("forward", "backward")}
    assert all(r.time > 0 and r.reference_time > 0 and r.ratio > 0 for r in result.values())


@pytest.mark.parametrize("kwargs", [dict(n=0), dict(kernel=5, size=3, padding=0), dict(padding=-1), dict(size=2.5)])
def test_conv2d_benchmark_bad_shapes_raise(kwargs):
    with pytest.raises(ValueError):
        conv2d_benchmark(**kwargs)


def test_conv2d_timings_needs_every_run():
    with pytest.raises(ValueError, match="conv2d_benchmark"):
        conv2d_timings({("torch", "forward"): lambda: None})
