"""book.plotting.parallelism: chapter 11's data, tensor and pipeline parallel schematics."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.parallelism import (DEVICE_COLOURS, bubble_fraction, data_parallel_figure,  # noqa: E402
                                       pipeline_parallel_figure, pipeline_schedule, tensor_parallel_figure)


def texts(ax) -> str:
    return " ".join(t.get_text() for t in ax.texts)


@pytest.mark.parametrize("n", [2, 4])
def test_data_parallel_figure_has_a_replica_and_a_shard_per_device(n):
    ax = data_parallel_figure(n)
    t = texts(ax)
    assert all(f"device {r}" in t and f"shard {r}" in t for r in range(n)) and f"device {n}" not in t
    assert "all-reduce" in t and f"B/{n} samples" in t
    faces = {to_hex(p.get_facecolor()) for p in ax.patches}
    assert set(DEVICE_COLOURS[:n]) <= faces and DEVICE_COLOURS[n] not in faces
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")


@pytest.mark.parametrize("n", [2, 3])
def test_tensor_parallel_figure_splits_w_by_columns_and_by_rows(n):
    ax = tensor_parallel_figure(n)
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    # Column split: W and Z in n pieces, X whole; row split: X and W in n pieces, Z whole.
    assert len(rects) == 2 * (1 + n + n)
    coloured = [p for p in rects if to_hex(p.get_facecolor()) in DEVICE_COLOURS[:n]]
    assert len(coloured) == 4 * n
    t = texts(ax)
    assert f"d_out/{n}" in t and f"d_in/{n}" in t and "all-reduce" in t
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")


@pytest.mark.parametrize("p,m", [(2, 1), (3, 2), (4, 4), (4, 16)])
def test_pipeline_schedule_respects_dependencies_and_its_bubble(p, m):
    grid = pipeline_schedule(p, m)
    assert grid.shape == (p, 2 * (m + p - 1))
    when = {(str(label), s): t for s in range(p) for t, label in enumerate(grid[s]) if label}
    for s in range(p):
        assert sorted(str(x) for x in grid[s] if x) == sorted([f"F{j}" for j in range(1, m + 1)]
                                                            + [f"B{j}" for j in range(1, m + 1)])
        for j in range(1, m + 1):
            if s > 0:  # a stage's forward needs the previous stage's output
                assert when[f"F{j}", s] > when[f"F{j}", s - 1]
            if s < p - 1:  # its backward needs the next stage's gradient
                assert when[f"B{j}", s] > when[f"B{j}", s + 1]
            assert when[f"B{j}", s] > when[f"F{m}", p - 1]  # GPipe: all forwards first
    assert bubble_fraction(p, m) == pytest.approx((p - 1) / (m + p - 1))


def test_pipeline_figure_draws_the_schedule():
    ax = pipeline_parallel_figure(4, 4, n_layers=8)
    grid = pipeline_schedule(4, 4)
    cells = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(cells) == grid.size
    assert sum(bool(p.get_hatch()) for p in cells) == int(np.sum(grid == ""))
    t = texts(ax)
    assert "layers 1–2" in t and "layers 7–8" in t and "3/7 = 43%" in t
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")


def test_figures_check_their_arguments():
    for bad in (1, 7, 2.0, True):
        with pytest.raises(ValueError, match="n_devices"):
            data_parallel_figure(bad)
        with pytest.raises(ValueError, match="n_devices"):
            tensor_parallel_figure(bad)
    with pytest.raises(ValueError, match="n_layers"):
        pipeline_parallel_figure(4, 4, n_layers=3)
    with pytest.raises(ValueError, match="n_micro"):
        pipeline_schedule(2, 0)
    plt.close("all")
