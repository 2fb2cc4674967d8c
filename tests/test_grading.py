"""Auto-graded exercises: `otter assign`, the grading runner and the kernel guard (tools/grading).

The assignments are built once per session into a temporary folder, and the
submissions below are graded with the same code `make grade` runs: the reference
solutions, the untouched student notebooks, a fixed set of bad submissions and,
in the same batch, notebooks written to attack the grader (all generated here
from the chapter 2 notebooks, in temporary folders outside the repository, never
stored under exercises/, where nbval would execute them).

Grading runs in the bubblewrap sandbox. Where `bwrap` is missing the attacks are
skipped, with the reason, and the rest is graded without the sandbox; under
CI=true a missing `bwrap` fails instead (`.ci/run` installs it).
"""
from __future__ import annotations

import copy
import csv
import hashlib
import html
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
import zipfile
from pathlib import Path

import nbformat
import pytest

from tools.grading import runner, sandbox
from tools.grading.assign import build_all, find_leaks, masters, secret_lines
from tools.notebooks import chapter_notebooks

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
MASTERS = masters()
CH02 = "02-linear-models"
CHAPTERS = sorted(MASTERS)  # from exercises/, never written out

# Small limits keep the bad submissions cheap; the defaults are larger.
CELL_TIMEOUT = 4.0
WALL_TIMEOUT = 45.0

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the grading runner's limits use Linux APIs")

SANDBOX = sandbox.bwrap() is not None
NO_SANDBOX = "bubblewrap (bwrap) is not installed, so the sandbox is not tested: apt-get install bubblewrap"


def _need_sandbox():
    if SANDBOX:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(NO_SANDBOX + " (.ci/run installs it)")
    pytest.skip(NO_SANDBOX)


# --------------------------------------------------------------------------- #
# Building the assignments
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """{chapter: folder} with student/ and autograder/, built once for this module.

    Otter's own run of the tests on the solutions is skipped here: the
    reference solutions are graded below, with the real runner, anyway.
    """
    out = tmp_path_factory.mktemp("assignments")
    return build_all(out, run_tests=False, progress=None)


def test_every_exercise_folder_belongs_to_a_chapter():
    chapters = {p.stem for p in chapter_notebooks()}
    assert CHAPTERS and set(CHAPTERS) <= chapters, f"exercise folders without a chapter: {set(CHAPTERS) - chapters}"


@pytest.fixture(scope="module")
def full_marks(built):
    """Each chapter's total points, as Otter reads them from the built autograder."""
    return {chapter: sum(q.points for q in runner.read_questions(runner.find_autograder_zip(folder / "autograder")))
            for chapter, folder in built.items()}


def test_assignments_are_built(built):
    for chapter, folder in built.items():
        name = MASTERS[chapter].name
        assert (folder / "student" / name).is_file()
        assert (folder / "autograder" / name).is_file()
        zip_ = runner.find_autograder_zip(folder / "autograder")
        questions = runner.read_questions(zip_)
        assert len(questions) >= 5, f"{chapter}: the standard asks for at least 5 questions"
        assert [q.name for q in questions] == [f"q{i}" for i in range(1, len(questions) + 1)], chapter
        assert all(q.points > 0 for q in questions), chapter
        assert not (folder / "student" / "tests").exists(), "a tests/ folder next to the notebook breaks grader.check"


def test_assignment_config_has_no_pdf_no_export_cell():
    for master in MASTERS.values():
        config = nbformat.read(master, as_version=4).cells[0].source
        assert config.startswith("# ASSIGNMENT CONFIG")
        assert "export_cell: false" in config and re.search(r"generate:\s*\n\s+pdf: false", config)


def test_exercise_notebooks_use_numpy_only():
    for master in MASTERS.values():
        code = "\n".join(c.source for c in nbformat.read(master, as_version=4).cells if c.cell_type == "code")
        imports = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", code, re.M))
        assert imports <= {"numpy", "math"}, f"{master.name} imports {imports}"


def test_student_folders_hold_no_solutions_or_hidden_tests(built):
    for chapter, folder in built.items():
        secrets = secret_lines(MASTERS[chapter])
        assert len(secrets) > 20, "the leak check would be vacuous"
        assert not find_leaks(MASTERS[chapter], folder / "student"), chapter
        # The check does find them where they belong: the autograder notebook has the hidden tests.
        found = find_leaks(MASTERS[chapter], folder / "autograder")
        hidden_defs = [s for s in secrets if s.startswith("def test_") and "hidden" in s]
        assert len(hidden_defs) == 5 and set(hidden_defs) <= set(found), chapter
        student = (folder / "student" / MASTERS[chapter].name).read_text(encoding="utf-8")
        assert "hidden: true" not in student and "BEGIN SOLUTION" not in student


def test_built_html_has_no_solutions_or_hidden_tests():
    pages = list(SITE.rglob("*.html")) if SITE.is_dir() else []
    if not pages:
        pytest.skip(f"no built book at {SITE}")
    text = "\n".join(html.unescape(re.sub(r"<[^>]+>", "", p.read_text(encoding="utf-8"))) for p in pages)
    text = re.sub(r"[ \t]+", " ", text)
    lines = {ln.strip() for ln in text.splitlines()}  # whole lines: `return total` occurs inside others
    # A line the chapters or the book's package show themselves (a generic
    # `with np.errstate(...)`, `return total`) is no leak.
    shown = set()
    for source in [*(ROOT / "chapters").rglob("*"), *(ROOT / "book").rglob("*.py")]:
        if source.suffix == ".ipynb":
            shown.update(ln.strip() for c in _read(source).cells for ln in c.source.splitlines())
        elif source.suffix in (".md", ".py"):
            shown.update(ln.strip() for ln in source.read_text(encoding="utf-8").splitlines())
    for chapter, master in MASTERS.items():
        secrets = [s for s in secret_lines(master) if s not in shown]
        assert len(secrets) > 20
        leaks = [s for s in secrets if re.sub(r"[ \t]+", " ", s) in lines]
        assert not leaks, f"{chapter}: solution or hidden-test lines in the built HTML: {leaks[:3]}"
    assert "BEGIN SOLUTION" not in text and "BEGIN TESTS" not in text


def test_a_failing_reference_solution_fails_the_build(tmp_path, capsys):
    """`otter assign` runs the tests on the solutions; a failure must stop `make assignments`."""
    master = tmp_path / "broken.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_raw_cell("# ASSIGNMENT CONFIG\nname: broken\nexport_cell: false\ngenerate:\n  pdf: false\n"
                                 "tests:\n  ok_format: false"),
        nbformat.v4.new_raw_cell("# BEGIN QUESTION\nname: q1\npoints: 1"),
        nbformat.v4.new_raw_cell("# BEGIN SOLUTION"),
        nbformat.v4.new_code_cell("def double(x):\n    # BEGIN SOLUTION\n    return 3 * x\n    # END SOLUTION"),
        nbformat.v4.new_raw_cell("# END SOLUTION"),
        nbformat.v4.new_raw_cell("# BEGIN TESTS"),
        nbformat.v4.new_code_cell("def test_double(double):\n    assert double(2) == 4\n"),
        nbformat.v4.new_raw_cell("# END TESTS"),
        nbformat.v4.new_raw_cell("# END QUESTION"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, master)
    from tools.grading.__main__ import main

    assert main(["assign", str(master), "--out", str(tmp_path / "out")]) == 1  # `make assignments` fails
    err = capsys.readouterr().err
    assert "otter assign broken.ipynb exited with status 1" in err and "Some autograder tests failed" in err


# --------------------------------------------------------------------------- #
# Test design: the verdict does not depend on NumPy's comparison functions
# --------------------------------------------------------------------------- #
TAMPER_SCRIPT = r'''
import json, sys
sys.modules["rfc3987_syntax"] = None  # a slow optional import of jsonschema, not needed here
import nbformat
import numpy as np

def cells(path):
    """(solution code, [test cells]) of a master notebook, in order."""
    code, tests, in_tests = [], [], False
    for c in nbformat.read(path, as_version=4).cells:
        first = c.source.strip().splitlines()[0] if c.source.strip() else ""
        if c.cell_type == "raw":
            in_tests = {"# BEGIN TESTS": True, "# END TESTS": False}.get(first, in_tests)
        elif c.cell_type == "code":
            (tests if in_tests else code).append(c.source)
    return code, tests

NUMPY_VERDICTS = ["allclose", "isclose", "array_equal", "array_equiv"]
TESTING = ["assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_equal",
           "assert_almost_equal", "assert_array_less"]

def booby_trap():
    def trap(*a, **k):
        raise AssertionError("a test asked NumPy for its verdict")
    for name in NUMPY_VERDICTS:
        setattr(np, name, trap)
    for name in TESTING:
        setattr(np.testing, name, trap)

def cheat():
    for name in NUMPY_VERDICTS:
        setattr(np, name, lambda *a, **k: True)
    for name in TESTING:
        setattr(np.testing, name, lambda *a, **k: None)

report = {}
mode = sys.argv[1]
for path in sys.argv[2:]:
    code, tests = cells(path)
    env = {}
    for src in code:
        exec(compile(src, path, "exec"), env)
    if mode == "trap":
        booby_trap()
        failures = []
        for src in tests:
            try:
                exec(compile(src, path, "exec"), dict(env))
            except AssertionError as e:
                failures.append(str(e))
        report[path] = failures
    else:  # wrong-by-1% answers for chapter 2, with NumPy's comparisons patched to always agree
        real = {k: env[k] for k in ("mse_loss_and_grad", "softmax", "softmax_cross_entropy")}
        def scaled(f):
            def g(*a):
                out = f(*a)
                return tuple(o * 1.01 for o in out) if isinstance(out, tuple) else out * 1.01
            return g
        wrong = dict(env)
        wrong.update({k: scaled(f) for k, f in real.items()})
        wrong["q4_initial_loss"] = env["q4_initial_loss"] * 1.01
        wrong["q4_grad_true"] = env["q4_grad_true"] * 1.01
        wrong["q4_grad_other"] = env["q4_grad_other"] * 1.01
        wrong["q5_steps"] = {lr: (s + 5 if s else 7) for lr, s in env["q5_steps"].items()}
        X = np.array([[1.0, 2.0], [3.0, -1.0]])
        cheat()
        naive_fooled = bool(np.allclose(wrong["softmax"](X), real["softmax"](X)))
        results = {}
        for src in tests:
            name = src.split("def ", 1)[1].split("(", 1)[0]
            try:
                exec(compile(src, path, "exec"), dict(wrong))
                results[name] = "passed"
            except AssertionError as e:
                results[name] = "failed: " + str(e)[:80]
        report[path] = {"naive_fooled": naive_fooled, "results": results}
print(json.dumps(report))
'''


def _run_tamper_script(mode: str, paths: list[Path]) -> dict:
    proc = subprocess.run([sys.executable, "-c", TAMPER_SCRIPT, mode, *map(str, paths)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_tests_never_ask_numpy_for_the_verdict():
    """Every public and hidden test passes on the reference solution with NumPy's comparisons booby-trapped."""
    report = _run_tamper_script("trap", list(MASTERS.values()))
    for path, failures in report.items():
        assert not failures, f"{Path(path).name}: {failures}"


def test_patched_numpy_comparisons_do_not_rescue_wrong_answers():
    """Answers 1% off, np.allclose & co. patched to agree: a naive test is fooled, ours are not."""
    report = _run_tamper_script("cheat", [MASTERS[CH02]])[str(MASTERS[CH02])]
    assert report["naive_fooled"], "the patch should fool a naive np.allclose check"
    results = report["results"]
    hidden = {k: v for k, v in results.items() if "hidden" in k}
    assert len(hidden) == 5
    assert all(v.startswith("failed") for v in hidden.values()), hidden


# --------------------------------------------------------------------------- #
# Grading
# --------------------------------------------------------------------------- #
def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _find(nb, start: str) -> int:
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and c.source.lstrip().startswith(start):
            return i
    raise LookupError(start)


def _insert_after(nb, start: str, source: str):
    nb = copy.deepcopy(nb)
    nb.cells.insert(_find(nb, start) + 1, nbformat.v4.new_code_cell(textwrap.dedent(source).strip()))
    return nb


def _replace(nb, start: str, source: str):
    nb = copy.deepcopy(nb)
    nb.cells[_find(nb, start)].source = textwrap.dedent(source).strip()
    return nb


def _bad_submissions(ref, student) -> dict:
    """name -> notebook (or raw text); generated from the chapter 2 reference and student notebooks."""
    imports = "import numpy as np"
    subs = {
        "exception": _replace(ref, "def mse_loss_and_grad", """
            def mse_loss_and_grad(X, y, w, b):
                raise ValueError("not done yet")
            """),
        "while-true": _insert_after(ref, imports, "while True:\n    pass"),
        "swallows-interrupt": _insert_after(ref, imports, """
            while True:
                try:
                    while True:
                        pass
                except:  # catches KeyboardInterrupt, and the grader's timeout, every time
                    pass
            """),
        "blocks-the-timer": _insert_after(ref, imports, """
            import signal, time
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # the per-cell timer never fires
            time.sleep(10_000)
            """),
        "loops-in-tests": _replace(ref, "def softmax(", """
            def softmax(Z):  # never returns, and swallows every exception
                while True:
                    try:
                        while True:
                            pass
                    except:
                        pass
            """),
        "nan": _replace(ref, "def softmax(", """
            def softmax(Z):
                e = np.exp(Z)
                return e / e.sum(axis=1, keepdims=True)
            """),
        "wrong-shape": _replace(ref, "def softmax_cross_entropy", """
            def softmax_cross_entropy(Z, y):
                N = Z.shape[0]
                P = np.exp(Z - Z.max(axis=1, keepdims=True))
                P /= P.sum(axis=1, keepdims=True)
                loss = float(-np.log(P[np.arange(N), y]).mean())
                P[np.arange(N), y] -= 1
                return loss, P.T / N
            """),
        "os-exit": _insert_after(ref, "def softmax(", "import os\nos._exit(1)"),
        "huge-allocation": _insert_after(ref, imports, "big = np.zeros((30000, 30000))  # 7.2 GB"),
        "invalid-json": '{"cells": [{"cell_type": "code", "source": "x = 1"',
        "deleted-check": copy.deepcopy(ref),
        "patched-allclose": _insert_after(_replace(student, 'grader.check("q1")', """
            import builtins
            builtins.abs = lambda x: 0.0  # patched in the very cell that runs the check
            grader.check("q1")
            """), imports, """
            np.allclose = lambda *args, **kwargs: True
            np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
            np.testing.assert_allclose = lambda *args, **kwargs: None

            def mse_loss_and_grad(X, y, w, b):
                return 0.0, np.zeros(X.shape[1]), 0.0
            """),
    }
    nb = subs["deleted-check"]
    del nb.cells[_find(nb, 'grader.check("q2")')]
    # Otter's own cells used to be recognised by their text: this one would have escaped the cell timer.
    subs["pretends-to-be-otter"] = _insert_after(ref, imports, "# init_grading_mode(\nwhile True:\n    pass")
    return subs


EXPECTED = {
    # name: (status, total points, words the reason must contain)
    "exception": ("error", 5, ["ValueError: not done yet", "q1:"]),
    "while-true": ("timeout", 9, ["ran past the 4 s cell limit", "`while True:`"]),
    "swallows-interrupt": ("timeout", 9, ["ran past the 4 s cell limit"]),
    "blocks-the-timer": ("timeout", 0, ["killed after the 45 s limit", "`import signal, time`"]),
    "loops-in-tests": ("timeout", 7, ["a test ran past the 4 s cell limit", "q2: CellTimeout"]),
    "nan": ("ok", 7, ["q2:", "NaN"]),
    "wrong-shape": ("ok", 7, ["q3:", "should have shape (2, 4), got (4, 2)"]),
    "os-exit": ("error", 0, ["kernel died", "`import os`"]),
    "huge-allocation": ("error", 9, ["MemoryError"]),
    "invalid-json": ("error", 0, ["not a valid notebook"]),
    "deleted-check": ("ok", 9, ["no grader.check cell for q2"]),
    "renamed": ("ok", 9, ["renamed", "my homework (final).ipynb"]),
    # An untouched notebook (so its example cells raise) that patches NumPy and abs().
    "patched-allclose": ("error", 0, ["tampering", "numpy.allclose", "builtins.abs", "q1:"]),
    "pretends-to-be-otter": ("timeout", 9, ["ran past the 4 s cell limit", "`# init_grading_mode(`"]),
}


# --------------------------------------------------------------------------- #
# Attacks on the grader
# --------------------------------------------------------------------------- #
# Each attack is a cell added to the untouched student notebook (which scores 0),
# right after its imports. The attacker knows the teacher's layout: the paths of
# the submissions, the output folder and the checkout are written into its code.
WALK = """
def reachable(top="/"):
    # Every folder it can list, less the big read-only trees nobody keeps notebooks in.
    skip = {"/usr", "/proc", "/sys", "/dev", "/etc"}
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = [d for d in subfolders if os.path.join(folder, d) not in skip and d != "site-packages"]
        yield folder, files
"""

DAEMON = '''
import json, os, time  # MARKER
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
row = "mallory,2,2,2,1,2,9,ok,forged\\n"
forged = json.dumps({"tests": [{"name": "q%d" % i, "score": 100, "max_score": 100} for i in range(1, 6)]})
while True:
    for path in GRADES:
        try:
            with open(path, "a") as f:
                f.write(row)
        except OSError:
            pass
    for path in ["/grading/out/results.json", "/grading/events.jsonl"]:
        try:
            with open(path, "w") as f:
                f.write(forged)
        except OSError:
            pass
    time.sleep(0.02)
'''

ATTACKS = {
    "renames-notebooks": """
        for folder, files in reachable():
            for name in files:
                if name.endswith(".ipynb"):
                    try:
                        os.rename(os.path.join(folder, name), os.path.join(folder, name + ".stolen"))
                    except OSError:
                        pass
        for path in P["notebooks"]:
            for act in (lambda: os.rename(path, path + ".stolen"), lambda: os.remove(path)):
                try:
                    act()
                except OSError:
                    pass
        shutil.rmtree("..", ignore_errors=True)  # the classic mistake
        """,
    "rewrites-files": """
        for path in P["files"]:
            try:
                with open(path, "a") as f:
                    f.write("rewritten by " + P["marker"])
            except OSError:
                pass
        for folder in P["folders"] + ["/", "/usr", "/etc", os.path.expanduser("~")]:
            try:
                with open(os.path.join(folder, "planted.ipynb"), "w") as f:
                    f.write("{}")
            except OSError:
                pass
        """,
    "leaves-processes": """
        daemon = P["daemon"].replace("MARKER", P["marker"]).replace("GRADES", repr(P["grades"]))
        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.Popen(["setsid", "env", "-i", sys.executable, "-c", daemon], **quiet)
        subprocess.Popen(["/bin/sh", "-c", "nohup sleep 1000 & # " + P["marker"]], start_new_session=True, **quiet)
        """,
    "prints-300mb": """
        line = "x" * 999_999 + "\\n"
        for _ in range(300):
            sys.stdout.write(line)
        """,
    "exceeds-memory": """
        hoard = []
        while True:
            hoard.append(np.empty(2**28, dtype=np.uint8))  # 256 MB at a time, never touched
        """,
    "opens-network": """
        tried = []
        for address in [("127.0.0.1", P["port"]), ("1.1.1.1", 53), ("pypi.org", 443)]:
            try:
                with socket.create_connection(address, timeout=3) as conn:
                    conn.sendall(b"forged grade")
                tried.append(f"{address[0]} connected")
            except OSError as e:
                tried.append(f"{address[0]} {type(e).__name__}")
        raise RuntimeError("network: " + ", ".join(tried))
        """,
    "edits-grades-csv": """
        row = "mallory,2,2,2,1,2,9,ok,forged\\n"
        targets = [os.path.join(folder, "grades.csv") for folder, files in reachable() if "grades.csv" in files]
        for path in targets + P["grades"]:
            try:
                with open(path, "a") as f:
                    f.write(row)
            except OSError:
                pass
        """,
    "looks-around": """
        seen = [p for p in P["secrets"] if os.path.exists(p)]
        seen += glob.glob("/tmp/book-grading-*") + glob.glob("/tmp/pytest-of-*")
        raise RuntimeError(f"probe saw {sorted(seen)}")
        """,
}


class World:
    """What the attacks aim at, outside the repository, and what the tests compare afterwards."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.subs = tmp / f"submissions-{CH02}"
        self.out = tmp / f"grades-{CH02}"
        self.decoy = tmp / "teacher"  # a teacher's folder next to the submissions
        self.decoy.mkdir()
        (self.decoy / "grades.csv").write_text("student,total\nalice,9\n")
        (self.decoy / "private-master.ipynb").write_text("{}")
        self.marker = f"book-attack-{uuid.uuid4().hex}"
        import otter

        self.venv_file = Path(otter.__file__)
        self.connections: list = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.stop = threading.Event()
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _listen(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.connections.append(conn.recv(100))
            conn.close()

    def paths(self) -> dict:
        masters_ = [str(m) for m in MASTERS.values()]
        return {
            "notebooks": masters_ + [str(self.subs / f"{n}.ipynb") for n in ("reference", "untouched")]
            + [str(self.decoy / "private-master.ipynb")],
            "files": masters_ + [str(self.subs / "reference.ipynb"), str(self.decoy / "grades.csv"),
                                 str(self.venv_file), str(ROOT / "Makefile"), "/etc/hostname"],
            "folders": [str(self.subs), str(self.out), str(self.decoy), str(ROOT / "exercises"), str(self.tmp)],
            "grades": [str(self.out / "grades.csv"), str(self.decoy / "grades.csv")],
            "secrets": [str(ROOT / "exercises"), str(ROOT / "Makefile"), str(self.subs), str(self.out),
                        str(self.decoy), str(self.tmp), str(Path.home() / ".bashrc")],
            "port": self.server.getsockname()[1],
            "marker": self.marker,
            "daemon": DAEMON,
        }

    def protected(self) -> dict[str, str]:
        """SHA-256 of every file of this test an attack aims at (every submission included), and of the venv's."""
        files = [self.venv_file, *self.decoy.iterdir(), *sorted(p for p in self.subs.rglob("*") if p.is_file())]
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    def checkout_touched(self) -> list[str]:
        """Files of the checkout an attack aims at that are gone or carry its marker.

        Not hashes: other people may edit the checkout while the tests run.
        """
        files = [*MASTERS.values(), ROOT / "Makefile"]
        return [str(p) for p in files if not p.is_file() or self.marker.encode() in p.read_bytes()]

    def survivors(self) -> list[str]:
        """Processes still running that carry the attack's marker, and sandboxes this process started."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            ours = parent == os.getpid() and os.path.basename(cmdline.split(b"\0")[0]) == b"bwrap"
            if entry.name.isdigit() and (self.marker.encode() in cmdline or ours):
                found.append(f"{entry.name}: {cmdline[:80]!r}")
        return found

    def close(self):
        self.stop.set()
        self.listener.join(5)
        self.server.close()


def _attacks(student, world: World) -> dict:
    head = ("import glob, os, shutil, socket, subprocess, sys\n"
            f"P = {world.paths()!r}\n" + textwrap.dedent(WALK))
    return {name: _insert_after(student, "import numpy as np", head + textwrap.dedent(code))
            for name, code in ATTACKS.items()}


def _write(sub_dir: Path, subs: dict) -> None:
    sub_dir.mkdir()
    for name, nb in subs.items():
        if name == "renamed":
            (sub_dir / name).mkdir()
            nbformat.write(nb, sub_dir / name / "my homework (final).ipynb")
        elif isinstance(nb, str):
            (sub_dir / f"{name}.ipynb").write_text(nb, encoding="utf-8")
        else:
            nbformat.write(nb, sub_dir / f"{name}.ipynb")


def _grade(folder: Path, sub_dir: Path, out: Path, sandboxed: bool) -> list[dict]:
    runner.grade_folder(runner.find_autograder_zip(folder / "autograder"), sub_dir, out,
                        workers=2, timeout=WALL_TIMEOUT, cell_timeout=CELL_TIMEOUT, sandboxed=sandboxed)
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:  # without the sandbox each reason starts by saying so
        row["reason"] = row["reason"].removeprefix(runner.UNSANDBOXED).removeprefix("; ")
    return rows


@pytest.fixture(scope="module")
def batch(built, tmp_path_factory):
    """Every chapter graded: references and untouched notebooks; for ch02 also the bad ones and the attacks.

    Returns ``({chapter: [CSV rows]}, report)``, the report holding what was
    observed around the chapter 2 batch (file hashes, processes, connections).
    """
    tmp = tmp_path_factory.mktemp("grading")
    world = World(tmp)
    rows, report = {}, {}
    try:
        for chapter, folder in built.items():
            name = MASTERS[chapter].name
            ref, student = _read(folder / "autograder" / name), _read(folder / "student" / name)
            subs = {"reference": ref, "untouched": student}
            sub_dir, out = tmp / f"submissions-{chapter}", tmp / f"grades-{chapter}"
            if chapter == CH02:
                subs.update(_bad_submissions(ref, student))
                subs["renamed"] = ref
                if SANDBOX:
                    subs.update(_attacks(student, world))
            _write(sub_dir, subs)
            if chapter == CH02:
                report["before"] = world.protected()
            rows[chapter] = _grade(folder, sub_dir, out, SANDBOX)
            if chapter == CH02:
                report.update(after=world.protected(), checkout=world.checkout_touched(),
                              survivors=world.survivors(), out=out,
                              out_bytes=sum(p.stat().st_size for p in out.rglob("*") if p.is_file()))
    finally:
        world.close()
    report["connections"] = world.connections
    return rows, report


@pytest.fixture(scope="module")
def grades(batch):
    """{chapter: {student: CSV row}}."""
    return {chapter: {row["student"]: row for row in rows} for chapter, rows in batch[0].items()}


@pytest.fixture(scope="module")
def attacked(batch):
    _need_sandbox()
    return batch[1]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_solution_scores_full_marks(grades, full_marks, chapter):
    row = grades[chapter]["reference"]
    assert (row["status"], row["reason"]) == ("ok", "")
    assert float(row["total"]) == full_marks[chapter]
    assert all(float(row[f"q{i}"]) > 0 for i in range(1, 6))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_untouched_student_notebook_scores_zero(grades, chapter):
    row = grades[chapter]["untouched"]
    assert float(row["total"]) == 0
    assert row["status"] in ("ok", "error"), row
    assert "q1:" in row["reason"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_submission_gets_a_clear_row(grades, name):
    row = grades[CH02][name]
    status, total, words = EXPECTED[name]
    assert row["status"] == status, row
    assert float(row["total"]) == total, row
    for word in words:
        assert word in row["reason"], (word, row["reason"])


def test_patched_allclose_scores_nothing_for_the_patched_answer(grades):
    row = grades[CH02]["patched-allclose"]
    assert float(row["q1"]) == 0 and "q1:" in row["reason"]


def test_one_row_per_submission_and_stable_columns(batch):
    rows = batch[0][CH02]
    expected = {"reference", "untouched", *EXPECTED} | (set(ATTACKS) if SANDBOX else set())
    assert sorted(row["student"] for row in rows) == sorted(expected), "exactly one row per submission"
    assert list(rows[0]) == ["student", "q1", "q2", "q3", "q4", "q5", "total", "status", "reason"]
    for row in rows:
        assert row["status"] in runner.STATUSES
        assert sum(float(row[f"q{i}"]) for i in range(1, 6)) == pytest.approx(float(row["total"]))
        assert len(row["reason"]) <= runner.REASON_CHARS


# --------------------------------------------------------------------------- #
# What the attacks could not do (same batch)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_an_attack_gains_no_points(grades, attacked, name):
    assert float(grades[CH02][name]["total"]) == 0, grades[CH02][name]


def test_no_file_outside_the_sandbox_changed(attacked):
    """Every submission, the teacher's files, the venv: same bytes; the masters in exercises/ untouched; nothing added."""
    assert attacked["after"] == attacked["before"]
    assert attacked["checkout"] == []
    for folder in (attacked["out"].parent, ROOT / "exercises"):
        assert not [p for p in folder.rglob("*") if p.name.startswith("planted") or p.suffix == ".stolen"]


def test_the_sandbox_hides_the_checkout_and_the_other_folders(grades, attacked):
    assert "raised RuntimeError: probe saw []" in grades[CH02]["looks-around"]["reason"]


def test_no_process_survives_grading(grades, attacked):
    assert not attacked["survivors"], attacked["survivors"]
    assert "process(es) running after its kernel stopped (ended)" in grades[CH02]["leaves-processes"]["reason"]
    assert "running after its kernel stopped" not in grades[CH02]["reference"]["reason"]


def test_no_network_from_the_sandbox(grades, attacked):
    assert attacked["connections"] == []
    reason = grades[CH02]["opens-network"]["reason"]
    assert "raised RuntimeError: network: 127.0.0.1 " in reason and "connected" not in reason, reason


def test_memory_limit_holds_in_the_sandbox(grades, attacked):
    row = grades[CH02]["exceeds-memory"]
    assert row["status"] == "error", row
    assert "out of memory (limit 4 GiB)" in row["reason"] and "MemoryError" in row["reason"], row


def test_huge_output_leaves_a_small_output_folder(attacked):
    assert attacked["out_bytes"] < 8 * 2**20, attacked["out_bytes"]
    log = attacked["out"] / "details" / "prints-300mb" / "otter-run.log"
    assert log.stat().st_size < 3 * 2**20


def test_forged_rows_and_grades_csv_edits_are_lost(grades, attacked):
    text = (attacked["out"] / "grades.csv").read_text(encoding="utf-8")
    assert "mallory" not in text and "forged" not in text


# --------------------------------------------------------------------------- #
# Smaller pieces
# --------------------------------------------------------------------------- #
def test_find_submissions_names_students_by_file_or_folder(tmp_path):
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "whatever.ipynb").write_text("{}")
    (tmp_path / "carol").mkdir()
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "a.ipynb").write_text("{}")
    (tmp_path / "dave" / "b.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("not a submission")
    found = {s: (p.name if p else None, problem) for s, p, problem in runner.find_submissions(tmp_path)}
    assert found["alice"] == ("alice.ipynb", "")
    assert found["bob"] == ("whatever.ipynb", "")
    assert found["carol"][0] is None and "no .ipynb" in found["carol"][1]
    assert found["dave"][0] is None and "more than one notebook" in found["dave"][1]
    assert set(found) == {"alice", "bob", "carol", "dave"}


def test_grading_again_replaces_the_previous_results(built, tmp_path):
    """A second run into the same OUT leaves only its own rows and details (no kernel is started here)."""
    zip_ = runner.find_autograder_zip(built[CH02] / "autograder")
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "alice.ipynb").write_text("not a notebook")
    (subs / "bob").mkdir()
    runner.grade_folder(zip_, subs, out, sandboxed=SANDBOX)
    first = (out / "grades.csv").read_text()
    assert "alice" in first and "bob" in first and (out / "details" / "bob").is_dir()
    (subs / "bob").rmdir()
    runner.grade_folder(zip_, subs, out, sandboxed=SANDBOX)
    second = (out / "grades.csv").read_text()
    assert "alice" in second and "bob" not in second and not (out / "details" / "bob").exists()
    assert second == first.replace(next(ln for ln in first.splitlines() if ln.startswith("bob")) + "\n", "")


def test_guard_interrupts_a_loop_that_swallows_every_exception():
    """The kernel guard in a plain IPython shell: the loop ends, the next cell runs, the patch is undone."""
    script = textwrap.dedent(r'''
        import json, os, sys, tempfile, time
        from IPython.testing.globalipapp import start_ipython
        os.environ["BOOK_GRADING_CELL_TIMEOUT"] = "1"
        events = os.path.join(tempfile.mkdtemp(), "events.jsonl")
        os.environ["BOOK_GRADING_EVENTS"] = events
        sys.path.insert(0, sys.argv[1])
        import book_cell_guard
        shell = start_ipython()
        book_cell_guard.load_ipython_extension(shell)
        start = time.monotonic()
        r1 = shell.run_cell("while True:\n    try:\n        while True:\n            pass\n    except:\n        pass")
        took = time.monotonic() - start
        r2 = shell.run_cell("import numpy as np\nnp.allclose = lambda *a, **k: True")
        import numpy as np
        r3 = shell.run_cell("x = 1 + 1")
        print(json.dumps({"error": type(r1.error_in_exec).__name__, "took": took,
                          "restored": bool(np.allclose(1.0, 2.0)) is False,
                          "ok_after": r3.success,
                          "events": [json.loads(l)["event"] for l in open(events)]}))
    ''')
    proc = subprocess.run([sys.executable, "-c", script, str(runner.ISOLATED)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["error"] == "CellTimeout"
    assert 0.9 < out["took"] < 10
    assert out["restored"] and out["ok_after"]
    assert out["events"][:3] == ["start", "timeout", "end"]
    assert "repaired" in out["events"]


def test_points_are_read_as_otter_reads_them(tmp_path):
    """A list of points per test case, None, and a number followed by a comment."""
    head = "OK_FORMAT = False\nfrom otter.test_files import test_case\nname = {name!r}\npoints = {points}\n"
    cases = "@test_case()\ndef test_a(env):\n    pass\n\n@test_case()\ndef test_b(env):\n    pass\n"
    zip_ = tmp_path / "odd-autograder_2026.zip"
    with zipfile.ZipFile(zip_, "w") as zf:
        for name, points in (("q1", "[1, 2]"), ("q2", "None"), ("q10", "1.5  # note")):
            zf.writestr(f"tests/{name}.py", head.format(name=name, points=points) + cases)
    assert [(q.name, q.points) for q in runner.read_questions(zip_)] == [("q1", 3.0), ("q2", 1.0), ("q10", 1.5)]


def test_make_grade_without_bwrap_stops_with_an_install_hint(built, tmp_path, monkeypatch, capsys):
    from tools.grading.__main__ import main

    monkeypatch.setattr(sandbox, "bwrap", lambda: None)
    (tmp_path / "subs").mkdir()
    code = main(["grade", "--assignment", CH02, "--submissions", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                 "--autograder", str(built[CH02] / "autograder")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "apt-get install bubblewrap" in err and "--no-sandbox" in err
    assert not (tmp_path / "out").exists()


def test_grading_without_the_sandbox_says_so_on_every_row(built, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    name = MASTERS[CH02].name
    nbformat.write(_read(built[CH02] / "autograder" / name), subs / "alice.ipynb")
    (subs / "bob.ipynb").write_text("not a notebook")
    runner.grade_folder(runner.find_autograder_zip(built[CH02] / "autograder"), subs, tmp_path / "out", sandboxed=False)
    with open(tmp_path / "out" / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert rows["alice"]["reason"] == runner.UNSANDBOXED and float(rows["alice"]["total"]) == 9
    assert rows["bob"]["reason"].startswith(runner.UNSANDBOXED + "; not a valid notebook")


def test_files_left_by_the_sandbox_are_read_without_following_links(tmp_path):
    """A notebook may replace its results by a link to a file of the teacher's, or make them huge."""
    secret = tmp_path / "teacher"
    secret.mkdir()
    (secret / "results.json").write_text('{"secret": true}')
    work = tmp_path / "work"
    work.mkdir()
    (work / "out").symlink_to(secret)
    (work / "events.jsonl").symlink_to(secret / "results.json")
    assert runner._read_scratch(work, "out/results.json", 1000) is None
    assert runner._read_scratch(work, "events.jsonl", 1000) is None
    (work / "big.json").write_bytes(b"x" * 2000)
    assert runner._read_scratch(work, "big.json", 1000) is None
    (work / "small.json").write_bytes(b"{}")
    assert runner._read_scratch(work, "small.json", 1000) == b"{}"


def test_the_grading_log_keeps_its_first_and_last_megabyte(tmp_path):
    script = "import sys\nfor i in range(20):\n    sys.stdout.write(f'block {i} ' + 'x' * 2**20 + '\\n')\n"
    log = tmp_path / "log"
    code, _ = runner._supervise([sys.executable, "-c", script], cwd=tmp_path, env=dict(os.environ), timeout=60,
                                log=log, grace=0)
    text = log.read_bytes()
    assert code == 0 and len(text) < runner.LOG_HEAD + runner.LOG_TAIL + 2**16
    assert text.startswith(b"block 0 ") and b"block 19 " in text and b"bytes of output left out" in text
