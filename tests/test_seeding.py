"""seed_everything: one validated seed for every generator, handed on to children, recorded."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mlflow_repro import seed_everything, seeding
from mlflow_repro.plugin.state import ProcessState
from mlflow_repro.rng.generators import GENERATORS
from mlflow_repro.rng.ledger import Ledger


@pytest.fixture(autouse=True)
def ledger(monkeypatch: pytest.MonkeyPatch, fresh_process: ProcessState) -> Ledger:
    monkeypatch.delenv("MLFLOW_REPRO_SEED", raising=False)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    # The seeding functions observed into the fresh ledger, as the plugin does at load.
    for name, module in (("random", random), ("numpy.random", np.random)):
        monkeypatch.setattr(module, "seed", module.seed)  # the plugin's observer back after
        GENERATORS[name].watch(module, fresh_process.ledger)
    return fresh_process.ledger


def test_returns_the_seed_and_seeds_python_and_numpy(ledger: Ledger) -> None:
    assert seed_everything(1234) == 1234
    assert random.random() == random.Random(1234).random()
    assert np.random.rand() == np.random.RandomState(1234).rand()
    assert ledger.explicit is not None and ledger.explicit.source == "argument"
    assert {"random", "numpy.random"} <= set(ledger.explicit.seeded)
    assert ledger.seed == 1234


def test_hands_the_seed_to_children_and_sets_cublas_workspace() -> None:
    import os

    seed_everything(7)
    assert os.environ["MLFLOW_REPRO_SEED"] == "7"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_seed_from_the_environment(monkeypatch: pytest.MonkeyPatch, ledger: Ledger) -> None:
    monkeypatch.setenv("MLFLOW_REPRO_SEED", "99")
    assert seed_everything() == 99
    assert ledger.explicit is not None and ledger.explicit.source == "environment"


def test_fresh_seed_when_none_is_given(ledger: Ledger) -> None:
    seed = seed_everything()
    assert 0 <= seed <= 2**32 - 1
    assert ledger.explicit is not None and ledger.explicit.source == "fresh"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (-1, "out of bounds"),
        (2**32, "out of bounds"),
        (1.5, "must be an integer"),
        (True, "must be an integer"),
        ("42", "must be an integer"),
    ],
)
def test_bounds_and_types_are_checked_precisely(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        seed_everything(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value) or str(bad) in str(info.value)


def test_a_bad_environment_seed_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REPRO_SEED", "abc")
    with pytest.raises(ValueError, match="MLFLOW_REPRO_SEED='abc' is not an integer"):
        seed_everything()


def test_its_own_seeding_is_not_taken_for_the_users(ledger: Ledger) -> None:
    seed_everything(5)
    assert ledger.user_calls == []
    np.random.seed(6)  # the user's own call, after: observed
    assert ledger.user_calls[-1] == ("numpy.random.seed", "6")


def test_the_manifest_names_seed_everything_and_generators_seeded_after_it(
    ledger: Ledger,
) -> None:
    from mlflow_repro.capture.seeds import collect_seeds

    seed_everything(8, deterministic=False)
    ledger.add_seeded("torch")  # imported afterwards: the import hook seeded it with 8
    seeds, _ = collect_seeds(None, ledger)
    assert seeds.seed == 8 and seeds.source == "seed_everything:argument"
    assert seeds.seeded[-1] == "torch" and "numpy.random" in seeds.seeded
    assert seeds.replay_env["MLFLOW_REPRO_SEED"] == "8"


def test_numpy_generator_follows_the_seed() -> None:
    seed_everything(11)
    a = seeding.numpy_generator().random(3)
    b = seeding.numpy_generator(11).random(3)
    assert (a == b).all()
    assert (seeding.numpy_generator(12).random(3) != a).any()


def test_torch_generator_follows_the_seed() -> None:
    torch = pytest.importorskip("torch", reason="torch is an optional extra")
    seed_everything(3)
    assert torch.equal(
        torch.rand(2, generator=seeding.torch_generator()),
        torch.rand(2, generator=seeding.torch_generator(3)),
    )
