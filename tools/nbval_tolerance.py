"""nbval with stated tolerances: a number printed as ``0.980 (tol ±0.01)`` may move by 0.01.

nbval compares each stored output with the new one character for character.
This plugin (loaded by the root ``conftest.py``) changes one thing before that
comparison: where the stored text carries a number followed by a tolerance
mark, ``(tol ±0.01)`` (absolute) or ``(tol ±2%)`` (relative to the stored
value), and the new text has the same mark in the same place, a new number
within the tolerance is replaced by the stored one. Everything else, the rest
of the text, the marks themselves, a number outside its tolerance, is left to
nbval's own strict comparison, which reports the difference as usual.

In the ``portable`` mode on an accelerator (``make test-gpu``) the marked numbers
come from other kernels altogether, so they are not compared at all; the
checks cells' assertions stand for them (CONTRIBUTING.md, "The reproducibility
model").
"""
from __future__ import annotations

import re

import nbval.plugin as nbval_plugin
from nbformat import NotebookNode

from tools import kernels

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# "0.980 (tol ±0.01)", "1.96 nats/char (tol ±2%)", and a mean with its spread over seeds under one
# mark, "0.168 ± 0.015 (tol ±0.03)", where both numbers may move by the tolerance.
MARKED = re.compile(
    rf"(?P<num>{NUMBER})(?: ± (?P<spread>{NUMBER}))?(?P<unit>%|\s?[A-Za-z/µ]+)?\s*\(tol ±(?P<tol>{NUMBER})(?P<pct>%)?\)")


def within(stored: re.Match, new: re.Match) -> bool:
    """Whether ``new``'s number (and spread) lie within ``stored``'s tolerance of ``stored``'s."""
    for group in ("num", "spread") if stored["spread"] is not None else ("num",):
        value, tol = float(stored[group]), float(stored["tol"])
        if stored["pct"]:
            tol = abs(value) * tol / 100
        # The slack only absorbs the binary representation of the decimal tolerance.
        if not abs(float(new[group]) - value) <= tol * (1 + 1e-9):
            return False
    return True


def snap(stored: str, new: str, compare: bool = True) -> str:
    """``new`` with each marked number that is within tolerance of ``stored``'s replaced by it.

    Marks that do not pair up (another count, another tolerance, another unit)
    leave ``new`` as it is, so the strict comparison that follows fails on them.
    """
    old, fresh = list(MARKED.finditer(stored)), list(MARKED.finditer(new))
    if not old or len(old) != len(fresh):
        return new
    pieces, last = [], 0
    for s, n in zip(old, fresh):
        same_mark = (s["unit"], s["tol"], s["pct"], s["spread"] is None) == (n["unit"], n["tol"], n["pct"], n["spread"] is None)
        if same_mark and (not compare or within(s, n)):
            end = "num" if s["spread"] is None else "spread"
            pieces += [new[last:n.start("num")], stored[s.start("num"):s.end(end)]]
            last = n.end(end)
    return "".join(pieces) + new[last:]


def snap_outputs(new: list, stored: list, compare: bool = True) -> list:
    """Copies of the new outputs, each paired with the stored output of its kind, snapped."""
    # nbval has already merged each cell's consecutive stream outputs (coalesce_streams).
    kind = lambda o: (o.get("output_type"), o.get("name"))  # noqa: E731
    result = []
    for i, out in enumerate(new):
        same_kind = [o for o in stored if kind(o) == kind(out)]
        rank = sum(kind(o) == kind(out) for o in new[:i])
        if rank >= len(same_kind):
            result.append(out)
            continue
        ref = same_kind[rank]
        out = NotebookNode(out)  # a shallow copy; nbval reads outputs by attribute
        if isinstance(out.get("text"), str) and isinstance(ref.get("text"), str):
            out["text"] = snap(ref["text"], out["text"], compare)
        if isinstance(out.get("data"), dict) and isinstance(ref.get("data"), dict):
            out["data"] = NotebookNode({key: snap(ref["data"][key], value, compare)
                           if isinstance(value, str) and isinstance(ref["data"].get(key), str) else value
                           for key, value in out["data"].items()})
        result.append(out)
    return result


_strict_compare = nbval_plugin.IPyNbCell.compare_outputs


def compare_outputs(self, test, ref, skip_compare=None):
    on_cpu = kernels.device() == "cpu"  # on an accelerator the marked numbers are left to the checks cells
    return _strict_compare(self, snap_outputs(test, ref, compare=on_cpu), ref, skip_compare)


def pytest_configure(config):
    nbval_plugin.IPyNbCell.compare_outputs = compare_outputs
