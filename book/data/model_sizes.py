"""Published model sizes: ``book/data/model_sizes.csv``, one row per model, each with its source.

``load_model_sizes`` reads the table and refuses rows it cannot trust.
Chapter 1 draws it with :mod:`book.plotting.landscape`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

CSV_PATH = Path(__file__).resolve().parent / "model_sizes.csv"
COLUMNS = ("name", "year", "month", "parameters", "tokens", "organisation", "modality", "source")
MODALITIES = ("vision", "language")


@dataclass(frozen=True)
class ModelSize:
    """One published model: its size, its training data (language models) and where the figures come from."""

    name: str
    year: int
    month: int
    parameters: int
    tokens: int | None
    organisation: str
    modality: str
    source: str

    @property
    def date(self) -> float:
        """Publication date as a fractional year (the middle of the month)."""
        return self.year + (self.month - 0.5) / 12

    @property
    def tokens_per_parameter(self) -> float | None:
        """Training tokens divided by parameters, or ``None`` where no token count was published."""
        return None if self.tokens is None else self.tokens / self.parameters


def _int_field(raw: str, what: str, where: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{where}: {what} must be a whole number, got {raw!r}") from None
    return value


def load_model_sizes(path: str | Path | None = None) -> list[ModelSize]:
    """Read and validate the model-size table; rows come back sorted by date.

    Every row needs a name (unique), a year and month, a positive whole
    parameter count, an organisation, a modality (``vision`` or
    ``language``) and a source that names the row's year. ``tokens`` may be
    empty (not published); when given it must be a positive whole number.
    Any violation raises ``ValueError`` naming the row.
    """
    path = Path(path) if path is not None else CSV_PATH
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path.name}: expected columns {COLUMNS}, got {reader.fieldnames}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path.name} has no rows")
    models, seen = [], set()
    for i, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"{path.name} line {i} ({row.get('name') or '?'})"
        if any(v is None for v in row.values()) or None in row:
            raise ValueError(f"{where}: wrong number of fields")
        row = {k: v.strip() for k, v in row.items()}
        for key in ("name", "organisation", "source"):
            if not row[key]:
                raise ValueError(f"{where}: empty {key}")
        if row["name"] in seen:
            raise ValueError(f"{where}: duplicate name")
        seen.add(row["name"])
        year = _int_field(row["year"], "year", where)
        month = _int_field(row["month"], "month", where)
        if not 1940 <= year <= 2100 or not 1 <= month <= 12:
            raise ValueError(f"{where}: impossible date {year}-{month}")
        parameters = _int_field(row["parameters"], "parameters", where)
        if parameters < 1:
            raise ValueError(f"{where}: parameters must be positive")
        tokens = _int_field(row["tokens"], "tokens", where) if row["tokens"] else None
        if tokens is not None and tokens < 1:
            raise ValueError(f"{where}: tokens must be positive")
        if row["modality"] not in MODALITIES:
            raise ValueError(f"{where}: modality must be one of {MODALITIES}")
        if str(year) not in row["source"]:
            raise ValueError(f"{where}: the source {row['source']!r} does not name the year {year}")
        models.append(ModelSize(row["name"], year, month, parameters, tokens, row["organisation"], row["modality"], row["source"]))
    return sorted(models, key=lambda m: (m.date, m.parameters))
