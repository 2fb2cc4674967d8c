"""Auto-graded exercises with Otter-Grader: build the assignments, grade the submissions.

``make assignments`` and ``make grade`` run ``python -m tools.grading``:

- :mod:`tools.grading.assign` runs ``otter assign`` on the master notebooks in
  ``exercises/`` and checks that no solution or hidden test reaches the student version;
- :mod:`tools.grading.runner` grades a folder of submissions with ``otter run``, each
  in a bubblewrap sandbox of its own (:mod:`tools.grading.sandbox`), under a wall-clock
  limit, a memory cap, a per-cell timeout and an output cap, and writes ``grades.csv``;
- ``tools/grading/_isolated/`` holds what runs inside those processes and their Jupyter
  kernels (the kernel guard ``book_cell_guard``, the Otter entry point ``otter_child``).
  Those files are imported by path, never through this package, which imports torch,
  and, with the virtual environment, all that the sandbox sees of the checkout.

See ``chapters/teaching.md`` for the workflow and ``exercises/README.md`` for how the
tests are written.
"""
