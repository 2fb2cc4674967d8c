"""Tests of book.training.keras_backends: one Keras model trained in this process (TensorFlow) and in a
torch-backend process, each reloading the other's model; bad arguments refused."""
import random

import numpy as np
import pytest

import book.training.keras_backends as kb


def test_keras_here_and_in_another_backends_process(tmp_path):
    with pytest.raises(ValueError):
        kb.run_keras_backends(tmp_path, ("theano",))
    with pytest.raises(ValueError):
        kb.run_keras_backends(tmp_path / "absent")
    with pytest.raises(ValueError):
        kb.train_keras_mlp(tmp_path, epochs=0)
    import keras

    import torch

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        here = kb.train_keras_mlp(tmp_path, epochs=2)  # this process: Keras on TensorFlow (no KERAS_BACKEND set)
    finally:  # it reseeds the global generators: give the other tests theirs back
        random.setstate(states[0]), np.random.set_state(states[1]), torch.set_rng_state(states[2])
    assert here["backend"] == keras.backend.backend() == "tensorflow" and here["reload_gaps"] == {}
    assert here["last_loss"] < here["first_loss"] and here["logits"].shape == (270, 10)
    results = kb.run_keras_backends(tmp_path, ("torch", "jax"), epochs=2)
    if kb.backend_available("jax"):
        assert results["jax"]["backend"] == "jax"
    else:
        assert results["jax"] is None
    torch_run = results["torch"]
    assert torch_run["backend"] == "torch" and torch_run["weight_type"].startswith("torch")
    assert torch_run["last_loss"] < torch_run["first_loss"] and torch_run["val_acc"] > 0.5
    assert torch_run["logits"].shape == (270, 10) and torch_run["model"].is_file()
    assert torch_run["reload_gaps"]["tensorflow"] < 1e-4  # the TensorFlow-trained model, reloaded under torch
    with np.load(tmp_path / "digits.npz") as data:
        back = keras.saving.load_model(torch_run["model"]).predict(data["X_val"], verbose=0)
    assert abs(back - torch_run["logits"]).max() < 1e-4  # and the torch-trained one under TensorFlow
