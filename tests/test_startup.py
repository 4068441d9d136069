"""Automatic seeding at plugin load: preloaded generators keep their state, which is recorded as
plain JSON data and restored from MLFLOW_REPRO_RNG_STATE."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from mlflow_repro import _startup
from mlflow_repro.capture.seeds import STATE_PAYLOAD, collect_seeds, state_digest
from mlflow_repro.capture.staging import Staging
from tests.conftest import require


def draws(name: str) -> list[float]:
    if name == "random":
        return [random.random() for _ in range(3)]
    if name == "numpy.random":
        return np.random.rand(3).tolist()
    import torch

    return torch.rand(3).tolist()


@pytest.mark.parametrize("name", ["random", "numpy.random", "torch"])
def test_a_state_survives_json_and_restores_the_same_draws(name: str) -> None:
    require(None if name != "torch" else "torch")
    __import__(name)
    module = sys.modules[name]
    state = json.loads(json.dumps(_startup.snapshot(name, module)))
    expected = draws(name)
    draws(name)  # move on, then go back
    _startup._set_state(name, module, state)
    assert draws(name) == expected
    assert state_digest(state) != state_digest(_startup.snapshot(name, module))  # drawn since


def test_preloaded_generators_are_kept_recorded_and_restored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_startup, "STATE", _startup.State())
    import mlflow_repro.capture.seeds as seeds_module

    monkeypatch.setattr(seeds_module, "STATE", _startup.STATE)
    monkeypatch.setattr(np.random, "seed", np.random.seed)  # undo the observer wrapping after
    np.random.seed(11)  # the program's own seed, set before the plugin loaded
    _startup._keep_preloaded("numpy.random", np.random)
    assert np.random.rand() == np.random.RandomState(11).rand()  # not reseeded

    staging = Staging()
    try:
        seeds, errors = collect_seeds(staging)
        assert errors == [] and seeds.state is not None
        assert seeds.state.path == f"repro/{STATE_PAYLOAD}"
        document = json.loads((staging.root / STATE_PAYLOAD).read_text())
        numpy_state = document["generators"]["numpy.random"]
        assert seeds.preloaded["numpy.random"] == state_digest(numpy_state)
        path = tmp_path / "rng_state.json"
        path.write_text(json.dumps(document))
    finally:
        staging.cleanup()

    monkeypatch.setenv(_startup.STATE_VAR, str(path))
    monkeypatch.setattr(_startup, "STATE", _startup.State())
    np.random.seed(99)  # a different process state: the file wins
    _startup._read_states()
    _startup._keep_preloaded("numpy.random", np.random)
    assert _startup.STATE.restored == ["numpy.random"]
    assert np.random.rand() == np.random.RandomState(11).rand()


def test_tensorflow_state_is_named_unrecorded() -> None:
    assert _startup.snapshot("tensorflow", object()) is None


def test_an_unreadable_state_file_is_an_error_that_says_what_to_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_startup, "STATE", _startup.State())
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    monkeypatch.setenv(_startup.STATE_VAR, str(bad))
    _startup._read_states()
    assert _startup.STATE.restore == {}
    (error,) = _startup.STATE.errors
    assert str(bad) in error and "repro/seeds/rng_state.json" in error


def test_the_state_file_is_taken_out_of_the_environment_for_children(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    monkeypatch.setattr(_startup, "STATE", _startup.State())
    path = tmp_path / "rng_state.json"
    path.write_text(json.dumps({"format": 1, "generators": {"random": None}}))
    monkeypatch.setenv(_startup.STATE_VAR, str(path))
    _startup._read_states()
    assert _startup.STATE.restore == {"random": None}
    assert _startup.STATE_VAR not in os.environ
