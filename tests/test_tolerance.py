"""The reproducibility model's parts: the printed marks, the comparison that reads them, the kernel pins."""
import pytest
from nbformat import v4

from book.tolerance import approx, below
from tools import kernels
from tools.nbval_tolerance import snap, snap_outputs


def test_approx_writes_the_mark():
    assert approx(0.98046, 0.01) == "0.980 (tol ±0.01)"
    assert approx(1.9612, 2, relative=True, digits=2) == "1.96 (tol ±2%)"
    assert approx(0.1683, 0.03, spread=0.0151) == "0.168 ± 0.015 (tol ±0.03)"
    assert approx(7.83e-13, 10, relative=True, digits=1, scientific=True) == "7.8e-13 (tol ±10%)"
    with pytest.raises(ValueError, match="finite"):
        approx(float("nan"), 0.01)
    with pytest.raises(ValueError, match="positive"):
        approx(0.5, 0)


def test_below_states_the_bound_and_checks_it():
    assert below(3.6e-14, 1e-12) == "below 1e-12"
    assert below(0.004, 0.01) == "below 0.01"
    for bad in (2e-12, float("nan")):
        with pytest.raises(AssertionError):
            below(bad, 1e-12)


@pytest.mark.parametrize("new, passes", [
    ("accuracy 0.985 (tol ±0.01)\n", True),
    ("accuracy 0.970 (tol ±0.01)\n", True),     # the edge of the tolerance
    ("accuracy 0.969 (tol ±0.01)\n", False),
    ("accuracy 1.078 (tol ±0.01)\n", False),    # moved by 10 %
    ("accurate 0.980 (tol ±0.01)\n", False),    # a changed word
    ("accuracy 0.985 (tol ±0.02)\n", False),    # a changed tolerance
    ("accuracy 0.985\n", False),                # a lost mark
])
def test_snap_accepts_only_numbers_within_the_tolerance(new, passes):
    stored = "accuracy 0.980 (tol ±0.01)\n"
    assert (snap(stored, new) == stored) is passes


def test_snap_relative_units_and_several_marks():
    stored = "loss 1.96 nats/char (tol ±2%), accuracy 98.0% (tol ±1), n = 64\n"
    assert snap(stored, "loss 1.99 nats/char (tol ±2%), accuracy 97.1% (tol ±1), n = 64\n") == stored
    assert snap(stored, "loss 2.01 nats/char (tol ±2%), accuracy 97.1% (tol ±1), n = 64\n") != stored
    assert snap(stored, "loss 1.99 nats/char (tol ±2%), accuracy 97.1% (tol ±1), n = 65\n") != stored


def test_snap_reads_scientific_numbers_relatively():
    stored = "plain 7.8e-13 (tol ±10%)\n"
    assert snap(stored, "plain 8.4e-13 (tol ±10%)\n") == stored
    assert snap(stored, "plain 8.7e-13 (tol ±10%)\n") != stored


def test_snap_a_mean_and_its_spread_under_one_mark():
    stored = "loss 0.168 ± 0.015 (tol ±0.03)\n"
    assert snap(stored, "loss 0.190 ± 0.040 (tol ±0.03)\n") == stored
    assert snap(stored, "loss 0.168 ± 0.050 (tol ±0.03)\n") != stored   # the spread moved too far
    assert snap(stored, "loss 0.168 (tol ±0.03)\n") != stored            # the spread is gone
    # the older form, one mark per number, still reads as two marks
    old = "loss 0.168 (tol ±0.03) ± 0.015 (tol ±0.02)\n"
    assert snap(old, "loss 0.190 (tol ±0.03) ± 0.030 (tol ±0.02)\n") == old


def test_snap_on_a_device_ignores_the_marked_numbers_only():
    stored = "accuracy 0.980 (tol ±0.01) on 360 digits\n"
    assert snap(stored, "accuracy 0.700 (tol ±0.01) on 360 digits\n", compare=False) == stored
    assert snap(stored, "accuracy 0.700 (tol ±0.01) on 361 digits\n", compare=False) != stored


def test_snap_outputs_pairs_streams_and_rich_outputs():
    stored = [v4.new_output("stream", name="stdout", text="a 0.500 (tol ±0.01)\n"),
              v4.new_output("execute_result", data={"text/plain": "0.250 (tol ±0.01)"}, execution_count=1)]
    new = [v4.new_output("stream", name="stdout", text="a 0.505 (tol ±0.01)\n"),
           v4.new_output("execute_result", data={"text/plain": "0.255 (tol ±0.01)"}, execution_count=1)]
    snapped = snap_outputs(new, stored)
    assert snapped[0].text == stored[0].text and snapped[1].data["text/plain"] == "0.250 (tol ±0.01)"
    assert new[0].text == "a 0.505 (tol ±0.01)\n"  # the new outputs themselves are untouched


def test_kernel_sets(monkeypatch):
    monkeypatch.setattr(kernels, "is_x86_64", lambda: True)
    monkeypatch.delenv("BOOK_CPU", raising=False)
    assert kernels.choice() == "pinned"
    monkeypatch.setenv("BOOK_CPU", "other")
    assert kernels.choice() == "other"
    monkeypatch.setenv("BOOK_CPU", "fastest")
    with pytest.raises(SystemExit, match="BOOK_CPU"):
        kernels.choice()
    monkeypatch.setattr(kernels, "is_x86_64", lambda: False)  # arm64: nothing to pin
    monkeypatch.setenv("BOOK_CPU", "pinned")
    assert kernels.choice() == "native"
    assert kernels.mode() == "portable" and "arm64" not in kernels.PINNED


def test_the_first_line_names_the_mode(monkeypatch):
    monkeypatch.setattr(kernels, "is_x86_64", lambda: True)
    monkeypatch.setenv("BOOK_CPU", "other")
    assert kernels.header("cpu").startswith("book reproducibility mode: x86-64 (x86-64 CPU simulating another CPU")
    assert kernels.header("cuda").startswith("book reproducibility mode: portable (running on a CUDA device")
    monkeypatch.setattr(kernels, "is_x86_64", lambda: False)
    assert "portable" in kernels.header("cpu")
