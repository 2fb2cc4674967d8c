"""The status page's table (chapters/_data/execution_times.md) is the one
`make execute` writes from its record (chapters/_data/execution_times.json)."""
import json

from tools.execute import ROOT, TABLE, TIMES, status_table


def test_status_table_matches_the_execution_record():
    record = json.loads(TIMES.read_text(encoding="utf-8"))
    assert TABLE.read_text(encoding="utf-8") == status_table(record), (
        f"{TABLE.relative_to(ROOT)} is out of date with {TIMES.name}: run `.venv/bin/python -m tools.execute --status`"
    )


def test_status_table_rows():
    # chapters/status.md stands in for a notebook: rows are kept only for files that exist.
    entry = {"seconds": 1.25, "executed": "2026-01-02 03:04 UTC", "machine": "box A"}
    one_machine = status_table({"notebooks": {"chapters/status.md": entry, "chapters/gone.ipynb": entry}})
    assert "| `chapters/status.md` | 1.2 | 2026-01-02 03:04 UTC |" in one_machine
    assert "gone.ipynb" not in one_machine
    assert "**2026-01-02 03:04 UTC**, on box A." in one_machine
    assert "| Machine |" not in one_machine  # named once, above the table

    two_machines = status_table({
        "machine": "box B",  # older records name the machine only at the top level
        "notebooks": {"chapters/status.md": entry, "chapters/appendix-errata.md": {"seconds": 2, "executed": "2026-01-01 00:00 UTC"}},
    })
    assert "| `chapters/appendix-errata.md` | 2.0 | 2026-01-01 00:00 UTC | box B |" in two_machines
    assert "| `chapters/status.md` | 1.2 | 2026-01-02 03:04 UTC | box A |" in two_machines
    assert "| **Total** (2 notebooks) | **3.2** | | |" in two_machines
