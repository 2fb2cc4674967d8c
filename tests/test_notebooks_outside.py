"""A chapter runs outside the repository, on the library a wheel installs.

The download button hands a reader a lone ``.ipynb``; Colab and Binder open one
with no checkout around it. Here chapter 1 (which also reads the package's data
file) is copied into an empty folder and run top to bottom with ``book``
imported from the unpacked wheel, not from the checkout.
"""
import json
import os
import shutil
import zipfile
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

from tools.notebooks import chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]


def test_every_chapter_installs_book_where_it_is_missing():
    for path in chapter_notebooks():
        first = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source
        assert "import book" in first and "book.setup(" in first, path.name
        assert "except ModuleNotFoundError" in first and f"git+{REPOSITORY}" in first, (
            f"{path.name}: the first cell must install book from {REPOSITORY} where it is missing")


def test_chapter_1_runs_in_an_empty_folder_from_the_wheel(tmp_path, wheel, monkeypatch):
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "reader"
    work.mkdir()
    notebook = work / "01-landscape.ipynb"
    shutil.copy(ROOT / "chapters" / "01-landscape.ipynb", notebook)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import book, json; print(json.dumps(book.__file__))"))
    # The kernel inherits this environment: the unpacked wheel comes first on its path.
    monkeypatch.setenv("PYTHONPATH", str(site))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0]
    imported_from = json.loads(nb.cells[-1].outputs[0]["text"])
    assert Path(imported_from).is_relative_to(site), imported_from
    assert sorted(os.listdir(work)) == ["01-landscape.ipynb"]  # it wrote nothing beside itself
