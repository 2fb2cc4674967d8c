"""Tests of book.environment and book.plotting.workflow: pins read and compared (local version labels,
newer, older, missing), declared ranges read from a pyproject.toml or the installed metadata and checked
(optional extras, aliases), the report with and without these files, the network guard (it records and
refuses internet connections, lets local sockets through, leaves the socket module exactly as it found
it, also after an error and when nested, and the Hugging Face hub in offline mode makes no attempt), and
the figures. The Keras backends are tested in tests/test_keras_backends.py."""
import socket
import urllib.request
from importlib import metadata

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import book.environment as env  # noqa: E402  (importing book sets the offline flags)
from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.workflow import STEPS, framework_stack_figure, workflow_figure  # noqa: E402


def test_canonical_names():
    assert env.canonical("Scikit_Learn") == "scikit-learn"
    assert env.canonical("tensorflow_cpu") == env.canonical("tensorflow-cpu") == "tensorflow-cpu"
    with pytest.raises(ValueError):
        env.canonical("  ")


def test_read_pins_skips_comments_and_refuses_ranges(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# pins\n\nNumPy==2.4.6\ntensorflow_cpu==2.21.0  # CPU build\nfoo==1.0 ; python_version>'3'\n")
    assert env.read_pins(path) == {"numpy": "2.4.6", "tensorflow-cpu": "2.21.0", "foo": "1.0"}
    path.write_text("numpy>=2\n")
    with pytest.raises(ValueError, match="line 1"):
        env.read_pins(path)
    with pytest.raises(ValueError):
        env.read_pins(tmp_path / "absent.txt")


def test_the_repository_pins_are_read():
    pins = env.read_pins()
    if env.default_requirements() is None:  # an installed wheel: no file
        assert pins is None
    else:
        assert {"torch", "keras", "transformers", "scikit-learn"} <= set(pins)


def test_compare_versions():
    assert env.compare_versions("2.13.0", "2.13.0+cpu") == "match"
    assert env.compare_versions("2.13.0", "2.13") == "match"
    assert env.compare_versions("1.9.1", "1.10.0") == "newer"
    assert env.compare_versions("1.10.0", "1.9.1") == "older"
    assert env.compare_versions("1.0", None) == "missing"


def test_check_pins_and_summary():
    numpy_version = metadata.version("numpy")
    checks = env.check_pins({"numpy": numpy_version, "NumPy": "0.0.1"}) + env.check_pins(
        {"numpy": "999.0", "no-such-package-xyz": "1.0"})
    assert [c.status for c in checks] == ["match", "newer", "older", "missing"]
    assert [c.meets_pin for c in checks] == [True, True, False, False]
    assert checks[0].installed == numpy_version and checks[3].installed is None
    assert env.pin_summary(checks) == {"match": 1, "newer": 1, "older": 1, "missing": 1}
    assert env.pin_summary([]) == {"match": 0, "newer": 0, "older": 0, "missing": 0}
    with pytest.raises(ValueError):
        env.check_pins([("numpy", "1.0")])


def test_installed_version_takes_the_first_installed():
    assert env.installed_version("no-such-package-xyz", "numpy") == metadata.version("numpy")
    assert env.installed_version("no-such-package-xyz") is None
    with pytest.raises(ValueError):
        env.installed_version()


def test_report_with_a_file_and_without_one(tmp_path, monkeypatch):
    path = tmp_path / "requirements.txt"
    path.write_text(f"numpy=={metadata.version('numpy')}\n")
    rep = env.report(path)
    assert rep["devices"].startswith("Devices: torch -> ")
    assert rep["packages"]["numpy"] == metadata.version("numpy")
    assert set(rep["packages"]) == set(env.FRAMEWORKS)
    assert rep["offline"]["HF_HUB_OFFLINE"] == "1"  # set by `import book`
    assert [c.status for c in rep["pins"]] == ["match"]
    assert rep["ranges"][0].name == "python" and all(row.ok for row in rep["ranges"])
    monkeypatch.setattr(env, "default_requirements", lambda: None)
    rep = env.report()
    assert rep["pins"] is None and rep["requirements"] is None


def _socket_state():
    return dict(vars(socket.socket)), {name: getattr(socket, name) for name in dir(socket)}


def test_declared_ranges_from_a_pyproject(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nrequires-python = ">=3.0"\n'
                    'dependencies = ["NumPy>=1.0", "no-such-package-xyz>=1", "numpy>=0.1; python_version < \'3\'"]\n'
                    '[project.optional-dependencies]\n'
                    'one = ["no-such-optional-xyz>=1", "numpy>=999", "tensorflow>=0.1"]\n'
                    'all = ["numpy>=999"]\n')
    declared = env.project_requirements(path)
    assert declared["python"] == ">=3.0" and 'numpy>=999; extra == "one"' in declared["requires"]
    rows = {row.name + row.specifier: row for row in env.check_ranges(declared)}
    assert set(rows) == {"python>=3.0", "numpy>=1.0", "no-such-package-xyz>=1", "no-such-optional-xyz>=1",
                         "numpy>=999", "tensorflow>=0.1"}  # the marker for another Python and the repeat are left out
    assert rows["python>=3.0"].ok and rows["numpy>=1.0"].ok and rows["numpy>=1.0"].extra is None
    assert not rows["no-such-package-xyz>=1"].ok                                  # needed and missing
    assert rows["no-such-optional-xyz>=1"].ok and rows["no-such-optional-xyz>=1"].extra == "one"  # optional
    assert not rows["numpy>=999"].ok                                              # installed, outside the range
    tf_installed = env.installed_version("tensorflow", "tensorflow-cpu")
    assert rows["tensorflow>=0.1"].installed == tf_installed  # tensorflow-cpu meets tensorflow
    with pytest.raises(ValueError):
        env.project_requirements(tmp_path / "absent.toml")
    with pytest.raises(ValueError):
        env.check_ranges(["numpy>=1"])


def test_declared_ranges_without_a_clone(monkeypatch):
    monkeypatch.setattr(env, "default_pyproject", lambda: None)
    try:
        dist = metadata.distribution("book")
    except metadata.PackageNotFoundError:
        assert env.project_requirements() is None
    else:  # pip installed the library: its metadata says the same
        assert env.project_requirements()["requires"] == list(dist.requires or [])

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(env.metadata, "distribution", not_installed)
    assert env.project_requirements() is None
    assert env.report()["ranges"] is None


def test_block_network_refuses_records_and_restores():
    before = _socket_state()
    with env.block_network() as attempts:
        with pytest.raises(OSError):
            urllib.request.urlopen("http://example.com", timeout=2)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", 9), timeout=1)
        with socket.socket() as s, pytest.raises(OSError):
            s.connect(("127.0.0.1", 9))
        with socket.socket() as s, pytest.raises(OSError):
            s.connect_ex(("127.0.0.1", 9))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(OSError):
            s.sendto(b"x", ("127.0.0.1", 9))
        with pytest.raises(OSError):
            socket.gethostbyname("example.org")
        a, b = socket.socketpair()  # a local (Unix) socket pair still works
        a.sendall(b"ok")
        assert b.recv(2) == b"ok"
        a.close(), b.close()
    assert attempts == ["example.com", "127.0.0.1", ("127.0.0.1", 9), ("127.0.0.1", 9), ("127.0.0.1", 9),
                        "example.org"]
    assert _socket_state() == before  # nothing left behind, not even an inherited method copied onto the class
    assert "connect" not in vars(socket.socket)


def test_block_network_restores_after_an_error_and_when_nested():
    before = _socket_state()
    with pytest.raises(ZeroDivisionError):
        with env.block_network():
            1 / 0
    assert _socket_state() == before
    with env.block_network() as outer:
        with env.block_network() as inner:
            with pytest.raises(OSError):
                socket.getaddrinfo("example.net", 80)
        with pytest.raises(OSError):  # the outer guard still holds after the inner one ends
            socket.getaddrinfo("example.com", 80)
    assert inner == ["example.net"] and outer == ["example.com"]
    assert _socket_state() == before


def test_hub_in_offline_mode_makes_no_network_attempt():
    from transformers import AutoConfig

    with env.block_network() as attempts:
        with pytest.raises(OSError):
            AutoConfig.from_pretrained("no-such-user/no-such-model")
    assert attempts == []


def test_figures_render():
    fig = workflow_figure(tuple("abcdefg"))
    assert not missing_glyphs(fig)
    plt.close(fig)
    fig = framework_stack_figure(missing=("jax",))
    assert not missing_glyphs(fig)
    plt.close(fig)
    with pytest.raises(ValueError):
        workflow_figure(("too", "few"))
    with pytest.raises(ValueError):
        framework_stack_figure(missing=("theano",))
    assert len(STEPS) == 7
