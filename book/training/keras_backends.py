"""One small Keras 3 model trained under several backends (chapter 15).

Keras 3 runs on TensorFlow, PyTorch or JAX, and fixes its backend when it is
first imported. :func:`train_keras_mlp` trains a 64-32-10 MLP on the digits in
this process, under the backend Keras already uses; :func:`run_keras_backends`
trains the same model under other backends, each in a fresh Python process
(:func:`keras_worker`), and every run reloads the models the others saved.

Nothing here imports Keras, TensorFlow or torch at module level.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from book.checks import non_negative_int, positive_int

KERAS_BACKENDS = ("tensorflow", "torch", "jax")


# The program each Keras process runs: argv = out_dir, backend, epochs, seed.
_KERAS_WORKER = """
import sys
from book.training.keras_backends import keras_worker
keras_worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
"""


def write_keras_digits(out_dir) -> Path:
    """Write the digits of :func:`book.data.digits.load_digits_split` (``seed=0``, pixels in [0, 1]) to
    ``out_dir/digits.npz``, where :func:`train_keras_mlp` reads them. Returns the path."""
    import numpy as np

    from book.data.digits import load_digits_split

    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"write_keras_digits: out_dir must be an existing folder, got {out_dir!r}")
    split = load_digits_split(seed=0)
    np.savez(out / "digits.npz", X_train=split.X_train, y_train=split.y_train, X_val=split.X_val, y_val=split.y_val)
    return out / "digits.npz"


def _read_result(out: Path, backend: str) -> dict:
    import numpy as np

    result = json.loads((out / f"{backend}.json").read_text(encoding="utf-8"))
    result["model"] = out / f"{backend}.keras"
    with np.load(out / f"{backend}.npz") as data:
        result["logits"] = data["logits"]
    return result


def train_keras_mlp(out_dir, epochs: int = 8, seed: int = 0) -> dict:
    """Train a 64-32-10 Keras MLP on the digits in this process, under the backend Keras uses here.

    Reads ``out_dir/digits.npz`` (written by :func:`write_keras_digits` if it is not there; a worker
    process finds it ready and imports no scikit-learn). Seeds with ``keras.utils.set_random_seed``,
    which reseeds Python's, NumPy's and the backend's global generators. Trains with Adam for
    ``epochs`` epochs in batches of 64, then writes ``{backend}.keras`` (the model),
    ``{backend}.npz`` (its logits on the validation images) and ``{backend}.json``.

    Then every model that another backend left in ``out_dir`` (``{other}.keras`` with its
    ``{other}.npz``) is loaded here and run on the validation images: ``reload_gaps`` maps ``other`` to
    the largest absolute difference between the logits computed here and there.

    Returns the JSON's dict (``backend`` as Keras reports it, the Keras version, the types of a weight
    and of an output, the first and last training loss, the validation accuracy, ``reload_gaps``)
    plus ``model`` (the ``.keras`` path) and ``logits``.
    """
    import numpy as np

    import keras

    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"train_keras_mlp: out_dir must be an existing folder, got {out_dir!r}")
    epochs = positive_int(epochs, "epochs", owner="train_keras_mlp")
    seed = non_negative_int(seed, "seed", owner="train_keras_mlp")
    if not (out / "digits.npz").is_file():
        write_keras_digits(out)
    backend = keras.backend.backend()
    keras.utils.set_random_seed(seed)
    with np.load(out / "digits.npz") as data:
        X_train, y_train, X_val, y_val = (data[k] for k in ("X_train", "y_train", "X_val", "y_val"))
    model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=64, verbose=0, shuffle=True)
    logits = np.asarray(model.predict(X_val, verbose=0))
    output = model(X_val[:2])
    kernel = model.layers[0].kernel.value
    model.save(out / f"{backend}.keras")
    np.savez(out / f"{backend}.npz", logits=logits)
    reload_gaps = {}
    for other in sorted(out.glob("*.keras")):
        if other.stem != backend and (out / f"{other.stem}.npz").is_file():
            with np.load(out / f"{other.stem}.npz") as data:
                theirs = data["logits"]
            ours = np.asarray(keras.saving.load_model(other).predict(X_val, verbose=0))
            reload_gaps[other.stem] = float(np.abs(ours - theirs).max())
    result = {
        "backend": backend,
        "keras": keras.__version__,
        "weight_type": f"{type(kernel).__module__}.{type(kernel).__name__}",
        "output_type": f"{type(output).__module__}.{type(output).__name__}",
        "first_loss": float(history.history["loss"][0]),
        "last_loss": float(history.history["loss"][-1]),
        "val_acc": float(np.mean(logits.argmax(1) == y_val)),
        "reload_gaps": reload_gaps,
    }
    (out / f"{backend}.json").write_text(json.dumps(result), encoding="utf-8")
    return _read_result(out, backend)


def keras_worker(out_dir, backend: str, epochs: int, seed: int) -> None:
    """Run in a fresh process with ``KERAS_BACKEND=backend``: one thread for the engine, then
    :func:`train_keras_mlp`. Raises ``RuntimeError`` if Keras came up on another backend."""
    if backend == "tensorflow":  # threads first: TensorFlow fixes them when its runtime starts
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
    elif backend == "torch":
        import torch

        torch.set_num_threads(1)
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(f"keras_worker: asked for {backend!r}, Keras runs on {keras.backend.backend()!r}")
    train_keras_mlp(out_dir, epochs, seed)


def backend_available(backend: str) -> bool:
    """Whether the Python package behind a Keras backend is installed (looked up, not imported)."""
    if backend not in KERAS_BACKENDS:
        raise ValueError(f"backend_available: backend must be one of {KERAS_BACKENDS}, got {backend!r}")
    return importlib.util.find_spec(backend) is not None


def run_keras_backends(out_dir, backends=("tensorflow", "torch"), epochs: int = 8, seed: int = 0,
                       timeout: float = 300.0) -> dict[str, dict | None]:
    """Train the same Keras model under each backend, each in its own Python process, one after another.

    Writes the digits with :func:`write_keras_digits`, then starts for each backend a process with
    ``KERAS_BACKEND`` set that runs :func:`keras_worker`, which runs :func:`train_keras_mlp`: so each
    also reloads the models that earlier backends (in the notebook or in a process) saved in
    ``out_dir``. Returns backend -> the worker's result dict (with ``model`` and ``logits``), or
    ``None`` for a backend whose package is not installed. A process that fails raises
    ``RuntimeError`` with the end of its standard error.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"run_keras_backends: out_dir must be an existing folder, got {out_dir!r}")
    backends = tuple(backends)
    if not backends:
        raise ValueError("run_keras_backends: give at least one backend")
    for b in backends:
        backend_available(b)  # checks the name
    epochs = positive_int(epochs, "epochs", owner="run_keras_backends")
    seed = non_negative_int(seed, "seed", owner="run_keras_backends")
    write_keras_digits(out)
    results: dict[str, dict | None] = {b: None for b in backends}
    for b in backends:
        if not backend_available(b):
            continue
        env = dict(os.environ, KERAS_BACKEND=b, TF_CPP_MIN_LOG_LEVEL="3")
        try:
            proc = subprocess.run([sys.executable, "-c", _KERAS_WORKER, str(out), b, str(epochs), str(seed)],
                                  env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"run_keras_backends: the {b} process ran longer than {timeout} s") from None
        if proc.returncode != 0:
            raise RuntimeError(f"run_keras_backends: the {b} process failed:\n{proc.stderr[-2000:]}")
        results[b] = _read_result(out, b)
    return results


__all__ = ["KERAS_BACKENDS", "backend_available", "keras_worker", "run_keras_backends", "train_keras_mlp",
           "write_keras_digits"]
