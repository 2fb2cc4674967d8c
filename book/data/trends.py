"""Sourced trend tables for chapter 13: model sizes and training tokens, training emissions,
inference prices. Each is a CSV file in ``book/data/`` whose every row names its source as a
``references.bib`` key, and :func:`doubling_time` fits a growth rate to dated values.

``load_trend_table(name)`` reads a table, converts its columns and refuses a row with an empty
cell, an impossible date or a source that is not a citation key. ``bib_keys`` reads the keys of a
``.bib`` file, so a caller can check that every source resolves.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from book.checks import integer, one_of

DATA_DIR = Path(__file__).resolve().parent

# Column -> type for each table; "key" columns hold one or more citation keys separated by ";".
TABLES = {
    "models": ("trends_models.csv", {"name": str, "year": int, "month": int, "parameters": int,
                                      "active_parameters": int, "tokens": int, "source": "key"}),
    "emissions": ("trends_emissions.csv", {"model": str, "year": int, "tonnes_co2e": float, "source": "key"}),
    "inference_prices": ("trends_inference_prices.csv", {"level": str, "year": int, "month": int,
                                                          "usd_per_million_tokens": float, "source": "key"}),
}
KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_:-]*$")
BIB_KEY = re.compile(r"^@\w+\{([^,\s]+),", re.MULTILINE)


def _convert(raw: str, kind, where: str, column: str):
    if kind is str:
        return raw
    if kind == "key":
        keys = [k.strip() for k in raw.split(";")]
        if not all(KEY.match(k) for k in keys):
            raise ValueError(f"{where}: source {raw!r} is not a list of citation keys")
        return keys
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{where}: {column} must be a {kind.__name__}, got {raw!r}") from None
    if not value > 0 or (kind is float and not math.isfinite(value)):
        raise ValueError(f"{where}: {column} must be positive, got {raw!r}")
    return value


def load_trend_table(name: str, path: str | Path | None = None) -> list[dict]:
    """The rows of table ``name`` (``"models"``, ``"emissions"`` or ``"inference_prices"``) as dicts.

    Numbers come back as ``int`` or ``float``, ``source`` as a list of citation keys. Raises
    ``ValueError`` for wrong columns, an empty cell, a number that is not positive, a month outside
    1-12, a year outside 1940-2100 or a source that is not made of citation keys.
    ``path`` reads another file with the same columns (for tests).
    """
    one_of(name, tuple(TABLES), "name", owner="load_trend_table")
    filename, columns = TABLES[name]
    path = Path(path) if path is not None else DATA_DIR / filename
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != tuple(columns):
            raise ValueError(f"{path.name}: expected columns {tuple(columns)}, got {reader.fieldnames}")
        raw_rows = list(reader)
    if not raw_rows:
        raise ValueError(f"{path.name} has no rows")
    rows = []
    for i, raw in enumerate(raw_rows, start=2):  # line 1 is the header
        where = f"{path.name} line {i}"
        if None in raw or any(v is None for v in raw.values()):
            raise ValueError(f"{where}: wrong number of fields")
        row = {}
        for column, kind in columns.items():
            cell = raw[column].strip()
            if not cell:
                raise ValueError(f"{where}: empty {column}")
            row[column] = _convert(cell, kind, where, column)
        if not 1940 <= row["year"] <= 2100:
            raise ValueError(f"{where}: impossible year {row['year']}")
        if "month" in row and not 1 <= row["month"] <= 12:
            raise ValueError(f"{where}: impossible month {row['month']}")
        rows.append(row)
    return rows


def bib_keys(path: str | Path) -> set[str]:
    """The entry keys of a BibTeX file."""
    return set(BIB_KEY.findall(Path(path).read_text(encoding="utf-8")))


def fractional_year(year: int, month: int = 7) -> float:
    """A date as a fractional year, at the middle of the month (``month=7`` is mid-year)."""
    year = integer(year, "year", owner="fractional_year")
    month = integer(month, "month", minimum=1, owner="fractional_year")
    if month > 12:
        raise ValueError(f"fractional_year: month must be at most 12, got {month}")
    return year + (month - 0.5) / 12


def doubling_time(dates: Sequence[float], values: Sequence[float]) -> dict[str, float]:
    """Least-squares fit of ``log2(values)`` against ``dates`` (in years).

    Returns ``slope`` (doublings per year), ``intercept``, ``months`` (months per doubling,
    ``12 / slope``), ``factor_per_year`` (``2 ** slope``) and ``r2`` (of the fit on the log
    scale). Needs at least three points, positive values and a positive slope.
    """
    t = np.asarray(dates, dtype=float)
    v = np.asarray(values, dtype=float)
    if t.ndim != 1 or t.shape != v.shape or len(t) < 3:
        raise ValueError(f"doubling_time: needs two 1-D sequences of the same length >= 3, got {t.shape}, {v.shape}")
    if not np.all(np.isfinite(t)) or not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise ValueError("doubling_time: dates must be finite and values finite and positive")
    y = np.log2(v)
    slope, intercept = np.polyfit(t, y, 1)
    residual = y - (slope * t + intercept)
    total = np.sum((y - y.mean()) ** 2)
    if not slope > 0:
        raise ValueError(f"doubling_time: the values do not grow (slope {slope:.3g} doublings per year)")
    return {"slope": float(slope), "intercept": float(intercept), "months": float(12.0 / slope),
            "factor_per_year": float(2.0 ** slope),
            "r2": float(1.0 - np.sum(residual ** 2) / total) if total > 0 else 1.0}


__all__ = ["TABLES", "bib_keys", "doubling_time", "fractional_year", "load_trend_table"]
