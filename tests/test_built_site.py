"""Static checks of the built HTML book (`make html` runs before the tests).

The browser suite in tests/site checks what a reader sees; these checks are
cheap and run even where no browser is installed.
"""
import os
import re
from pathlib import Path

import pytest

from tools.notebooks import toc_files

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))


@pytest.fixture(scope="module")
def site():
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}; run `make html` first")
    return SITE


def test_every_toc_entry_was_built(site):
    missing = [f for f in toc_files() if not (site / f"{f}.html").exists()]
    assert not missing, f"pages missing from the build: {missing}"


def test_required_pages_exist(site):
    for page in ("chapters/00-preface", "chapters/01-landscape", "chapters/appendix-errata",
                 "chapters/appendix-glossary", "chapters/appendix-references"):
        assert (site / f"{page}.html").exists(), page


EXTERNAL = re.compile(r"""<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


def test_no_page_loads_anything_from_another_host(site):
    offenders = {}
    for page in site.rglob("*.html"):
        hits = []
        for m in EXTERNAL.finditer(page.read_text(encoding="utf-8")):
            tag = page.read_text(encoding="utf-8")[m.start(): m.start() + 200]
            # A <link rel="canonical"> or similar is a reference, not a load.
            if tag.startswith("<link") and not re.search(r'rel=["\'](?:stylesheet|preload|icon|modulepreload)', tag):
                continue
            hits.append(tag.split(">")[0][:120])
        if hits:
            offenders[str(page.relative_to(site))] = hits
    assert not offenders, f"pages that load from an external host: {offenders}"


def test_mathjax_is_served_locally(site):
    pages_with_math = [p for p in site.rglob("*.html") if 'class="math' in p.read_text(encoding="utf-8")]
    assert pages_with_math, "no page has display math; the MathJax check would be vacuous"
    for page in pages_with_math:
        html = page.read_text(encoding="utf-8")
        scripts = re.findall(r'<script[^>]+src="([^"]*mathjax[^"]*)"', html, re.I)
        assert scripts, f"{page.name} has math but loads no MathJax"
        for src in scripts:
            assert not src.startswith(("http", "//")), f"{page.name} loads MathJax from {src}"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_solutions_are_not_published(site):
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, page
    assert not list(site.rglob("exercises/**/*.ipynb")), "exercise master notebooks were copied into the site"


def test_student_notebooks_are_published_without_solutions(site):
    from tools.grading.assign import find_leaks, masters

    page = (site / "chapters" / "students.html").read_text(encoding="utf-8")
    downloads = site / "_downloads"
    for folder, master in masters().items():
        name = master.name
        published = list(downloads.rglob(name))
        assert len(published) == 1, f"{name} is not published once in the site's downloads: {published}"
        assert f"_downloads/{published[0].parent.name}/{name}" in page, f"the students' page does not link {name}"
        assert find_leaks(master, published[0].parent) == [], f"the published {name} holds solution text"
        assert "BEGIN SOLUTION" not in published[0].read_text(encoding="utf-8")
    assert list(downloads.rglob("exercises-student.zip")), "the zip of all student notebooks is missing"
