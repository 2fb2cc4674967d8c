"""Chapter 13's sourced tables: every row cites a references.bib key and has no empty cell; the
loader refuses bad rows; doubling_time recovers a known growth rate."""
from pathlib import Path

import numpy as np
import pytest

from book.data.trends import TABLES, bib_keys, doubling_time, fractional_year, load_trend_table

ROOT = Path(__file__).resolve().parent.parent
KEYS = bib_keys(ROOT / "references.bib")


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_row_has_no_empty_cell_and_a_source_in_references_bib(name):
    rows = load_trend_table(name)
    assert len(rows) >= 2
    for row in rows:
        assert all(v not in ("", None, []) for v in row.values()), row
        missing = [k for k in row["source"] if k not in KEYS]
        assert not missing, f"{name}: {row} cites keys missing from references.bib: {missing}"


def test_the_csv_files_themselves_have_no_empty_cells():
    import csv
    for filename, columns in TABLES.values():
        with open(ROOT / "book" / "data" / filename, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                assert all(row[c] and row[c].strip() for c in columns), row


def test_models_table_is_consistent():
    rows = load_trend_table("models")
    assert len({r["name"] for r in rows}) == len(rows)
    assert all(r["active_parameters"] <= r["parameters"] for r in rows)


def _write(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("body, message", [
    ("m,2020,,x2020\n", "empty tonnes_co2e"),
    ("m,2020,5,\n", "empty source"),
    ("m,2020,5,not a key\n", "citation keys"),
    ("m,2020,-5,k2020\n", "positive"),
    ("m,1800,5,k2020\n", "impossible year"),
    ("m,2020,five,k2020\n", "float"),
    ("m,2020,5\n", "wrong number of fields"),
])
def test_loader_refuses_bad_rows(tmp_path, body, message):
    path = _write(tmp_path, "model,year,tonnes_co2e,source\n" + body)
    with pytest.raises(ValueError, match=message):
        load_trend_table("emissions", path)


def test_loader_refuses_wrong_columns_and_names(tmp_path):
    with pytest.raises(ValueError, match="expected columns"):
        load_trend_table("emissions", _write(tmp_path, "model,year,source\nm,2020,k\n"))
    with pytest.raises(ValueError, match="load_trend_table"):
        load_trend_table("nope")


def test_several_keys_are_split(tmp_path):
    assert all(isinstance(r["source"], list) for r in load_trend_table("emissions"))
    rows = load_trend_table("emissions", _write(tmp_path, "model,year,tonnes_co2e,source\nm,2020,5,a2020; b2021\n"))
    assert rows[0]["source"] == ["a2020", "b2021"]


def test_rows_shared_with_chapter_1s_table_agree():
    """trends_models.csv repeats some models of book/data/model_sizes.csv (chapter 1): same numbers."""
    from book.data.model_sizes import load_model_sizes

    chapter1 = {m.name: m for m in load_model_sizes()}
    shared = [r for r in load_trend_table("models") if r["name"] in chapter1]
    assert len(shared) >= 5
    for r in shared:
        m = chapter1[r["name"]]
        assert (r["year"], r["month"], r["parameters"]) == (m.year, m.month, m.parameters), r["name"]
        if m.tokens is not None:
            assert r["tokens"] == m.tokens, r["name"]


def test_doubling_time_recovers_a_known_rate():
    rng = np.random.default_rng(0)
    t = np.linspace(2015, 2024, 30)
    values = 1e20 * 2.0 ** ((t - 2015) * 12 / 6.0) * 2.0 ** rng.normal(0, 0.05, t.shape)
    fit = doubling_time(t, values)
    assert fit["months"] == pytest.approx(6.0, rel=0.02)
    assert fit["factor_per_year"] == pytest.approx(4.0, rel=0.05)
    assert fit["r2"] > 0.99


@pytest.mark.parametrize("dates, values", [([1, 2], [1, 2]), ([1, 2, 3], [1, 0, 2]), ([1, 2, 3], [3, 2, 1])])
def test_doubling_time_refuses_bad_input(dates, values):
    with pytest.raises(ValueError, match="doubling_time"):
        doubling_time(dates, values)


def test_fractional_year():
    assert fractional_year(2020, 1) == pytest.approx(2020 + 0.5 / 12)
    with pytest.raises(ValueError, match="fractional_year"):
        fractional_year(2020, 13)
