"""Fixtures shared by the tests under tests/."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import book

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(book.__file__).resolve().parent


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel that `pip wheel .` builds from this checkout."""
    # Build from a copy, so that the build leaves nothing behind in the checkout.
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(PACKAGE, src / "book", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
                   check=True, capture_output=True)
    (path,) = out.glob("book-*.whl")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a test module with one torch thread: on a loaded 2-core machine two threads spin-wait on
    each other (ten times slower, measured), and the models in these tests are tiny anyway. Module
    scope, so that module-scoped fixtures (a model trained once) get it too; the setting is
    restored afterwards, unlike a module-level ``torch.set_num_threads(1)``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def char_windows():
    """A factory ``make(n_chars, seq_len)`` -> ``(vocab, x, y, x_val, y_val)``: next-token windows (LongTensors)
    over the first ``n_chars`` characters of the book's corpus, the last 10 % held out. Each result is built
    once per session; tests only read it."""
    import functools

    import torch

    from book.data.text import CharVocab, load_corpus, next_token_windows, split_text

    @functools.cache
    def make(n_chars: int, seq_len: int):
        text = load_corpus()[:n_chars]
        vocab = CharVocab(text)
        train, val = split_text(vocab.encode(text), 0.1)
        x, y = (torch.from_numpy(a) for a in next_token_windows(train, seq_len))
        x_val, y_val = (torch.from_numpy(a) for a in next_token_windows(val, seq_len))
        return vocab, x, y, x_val, y_val

    return make
