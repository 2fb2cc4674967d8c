"""Imported once by the grading fork server, so that each forked grader starts warm.

Not imported by the ``book`` package itself: it blocks an optional slow import
for the whole process, which is right for a grading process only.
"""
import sys

# jsonschema (imported by nbformat) builds a large grammar at import time when the
# optional rfc3987_syntax package is installed; nothing here validates URIs.
sys.modules.setdefault("rfc3987_syntax", None)

import nbclient  # noqa: E402,F401
import nbconvert.preprocessors  # noqa: E402,F401
import otter.execute  # noqa: E402,F401
import otter.execute.preprocessor  # noqa: E402,F401
import otter.run  # noqa: E402,F401
