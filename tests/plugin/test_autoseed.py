"""Automatic seeding at plugin load (`plugin/autoseed.py`): one adapter per generator
(`rng/generators.py`), one ledger (`rng/ledger.py`) in the process state; preloaded generators
keep their state, which is recorded as plain JSON data and restored from MLFLOW_REPRO_RNG_STATE."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mlflow_repro.capture.seeds import STATE_PAYLOAD, collect_seeds, state_digest
from mlflow_repro.capture.staging import Staging
from mlflow_repro.names import STATE_VAR
from mlflow_repro.plugin import autoseed
from mlflow_repro.plugin.state import ProcessState
from mlflow_repro.rng import generators
from mlflow_repro.rng.generators import GENERATORS
from mlflow_repro.rng.ledger import Ledger
from tests.conftest import require


@pytest.fixture(autouse=True)
def ledger(fresh_process: ProcessState) -> Ledger:
    return fresh_process.ledger


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
    module, generator = sys.modules[name], GENERATORS[name]
    state = json.loads(json.dumps(generator.snapshot(module)))
    expected = draws(name)
    draws(name)  # move on, then go back
    generator.restore(module, state)
    assert draws(name) == expected
    assert state_digest(state) != state_digest(generators.snapshot(name, module))  # drawn since


def test_preloaded_generators_are_kept_recorded_and_restored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ledger: Ledger
) -> None:
    monkeypatch.setattr(np.random, "seed", np.random.seed)  # undo the observer wrapping after
    np.random.seed(11)  # the program's own seed, set before the plugin loaded
    numpy_random = GENERATORS["numpy.random"]
    autoseed.keep_preloaded(numpy_random, np.random, ledger)
    assert np.random.rand() == np.random.RandomState(11).rand()  # not reseeded

    staging = Staging()
    try:
        seeds, errors = collect_seeds(staging, ledger)
        assert errors == [] and seeds.state is not None
        assert seeds.state.path == f"repro/{STATE_PAYLOAD}"
        document = json.loads((staging.root / STATE_PAYLOAD).read_text())
        numpy_state = document["generators"]["numpy.random"]
        assert seeds.preloaded["numpy.random"] == state_digest(numpy_state)
        path = tmp_path / "rng_state.json"
        path.write_text(json.dumps(document))
    finally:
        staging.cleanup()

    monkeypatch.setenv(STATE_VAR, str(path))
    replayed = Ledger()  # the replay's process
    np.random.seed(99)  # a different process state: the file wins
    autoseed.read_states(replayed)
    autoseed.keep_preloaded(numpy_random, np.random, replayed)
    assert replayed.restored == ["numpy.random"]
    assert np.random.rand() == np.random.RandomState(11).rand()


def test_tensorflow_state_is_named_unrecorded() -> None:
    assert generators.snapshot("tensorflow", object()) is None


class Recorder:
    """Stands in for a framework module: records the calls made to it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def call(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args[0] if args else None))


def fake_torch() -> tuple[SimpleNamespace, Recorder]:
    recorder = Recorder()
    cudnn = SimpleNamespace(deterministic=False, benchmark=True)
    module = SimpleNamespace(
        manual_seed=recorder.call("manual_seed"),
        use_deterministic_algorithms=recorder.call("use_deterministic_algorithms"),
        backends=SimpleNamespace(cudnn=cudnn),
    )
    return module, recorder


def fake_tensorflow() -> tuple[SimpleNamespace, Recorder]:
    recorder = Recorder()
    module = SimpleNamespace(
        random=SimpleNamespace(set_seed=recorder.call("set_seed")),
        config=SimpleNamespace(
            experimental=SimpleNamespace(enable_op_determinism=recorder.call("op_determinism"))
        ),
    )
    return module, recorder


@pytest.mark.parametrize(
    ("name", "make", "seeding", "switch", "label"),
    [
        ("torch", fake_torch, "manual_seed", "use_deterministic_algorithms", "torch.manual_seed"),
        ("tensorflow", fake_tensorflow, "set_seed", "op_determinism", "tensorflow.random.set_seed"),
    ],
)
def test_a_framework_imported_later_is_seeded_made_deterministic_and_observed(
    ledger: Ledger, name: str, make: Any, seeding: str, switch: str, label: str
) -> None:
    module, recorder = make()
    ledger.record_seed_everything(5, "argument", True, [])  # deterministic for later imports
    autoseed.on_import(GENERATORS[name], module, ledger)
    assert (seeding, 5) in recorder.calls and switch in [c[0] for c in recorder.calls]
    assert ledger.seeded == [name] and ledger.user_calls == [] and ledger.errors == []

    owner = module.random if name == "tensorflow" else module
    getattr(owner, seeding)(3)  # the user's own call, after: observed and passed on
    assert ledger.user_calls == [(label, "3")]
    assert recorder.calls[-1] == (seeding, 3)


def test_nothing_is_seeded_at_import_when_automatic_seeding_is_off(
    ledger: Ledger,
) -> None:
    module, recorder = fake_torch()
    autoseed.on_import(GENERATORS["torch"], module, ledger)  # no seed chosen
    assert recorder.calls == [] and ledger.seeded == []


def test_a_generator_that_cannot_be_seeded_is_an_error_not_an_exception(
    ledger: Ledger,
) -> None:
    ledger.choose_seed(1, "fresh")
    autoseed.on_import(GENERATORS["torch"], SimpleNamespace(), ledger)  # no manual_seed
    assert ledger.seeded == [] and ledger.errors[0].startswith("seeding torch: AttributeError")


def test_an_unreadable_state_file_is_an_error_that_says_what_to_pass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ledger: Ledger
) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    monkeypatch.setenv(STATE_VAR, str(bad))
    autoseed.read_states(ledger)
    assert ledger.restore == {}
    (error,) = ledger.errors
    assert str(bad) in error and "repro/seeds/rng_state.json" in error


def test_the_state_file_is_taken_out_of_the_environment_for_children(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ledger: Ledger
) -> None:
    path = tmp_path / "rng_state.json"
    path.write_text(json.dumps({"format": 1, "generators": {"random": None}}))
    monkeypatch.setenv(STATE_VAR, str(path))
    autoseed.read_states(ledger)
    assert ledger.restore == {"random": None}
    assert STATE_VAR not in os.environ


def test_the_run_start_fingerprint_in_the_ledger_is_what_capture_records(
    ledger: Ledger,
) -> None:
    ledger.mark_run_start("0123456789abcdef")
    random.random()  # the job draws after the mark: the recorded fingerprint does not move
    seeds, _ = collect_seeds(None, ledger)
    assert seeds.rng_fingerprint == "0123456789abcdef"


SEEDED_BEFORE_IMPORT_MLFLOW = """
import json, os, random
import mlflow_repro
mlflow_repro.seed_everything(7)
import mlflow
import numpy
random.seed(3)
numpy.random.seed(4)
from mlflow_repro.plugin.state import process
ledger = process().ledger
print(json.dumps({"calls": ledger.user_calls, "preloaded": sorted(ledger.preloaded),
                  "errors": ledger.errors, "seed": ledger.seed, "source": ledger.source,
                  "state_var": os.environ.get("MLFLOW_REPRO_RNG_STATE")}))
"""


def test_seed_everything_before_import_mlflow_keeps_the_plugins_own_start(tmp_path: Path) -> None:
    """The README's order (`seed_everything` first, then `import mlflow`): the replay's state
    file is still read and taken out of the environment, the generators loaded by then are
    recorded, and the user's later seeding calls are observed, once each."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", SEEDED_BEFORE_IMPORT_MLFLOW],
        capture_output=True,
        text=True,
        env={**os.environ, STATE_VAR: str(tmp_path / "absent.json"), "MLFLOW_REPRO_AUTO_SEED": "1"},
        cwd=tmp_path,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["calls"] == [["random.seed", "3"], ["numpy.random.seed", "4"]], found
    assert "random" in found["preloaded"] and found["state_var"] is None
    assert [e for e in found["errors"] if "absent.json" in e]
    assert found["seed"] == 7  # seed_everything's seed is the one in effect
