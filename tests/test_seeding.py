"""seed_everything: one validated seed for every generator, handed on to children, recorded."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mlflow_repro import _startup, seed_everything, seeding


@pytest.fixture(autouse=True)
def clean_seed_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_REPRO_SEED", raising=False)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(seeding, "LAST", None)
    monkeypatch.setattr(_startup.STATE, "user_calls", [])


def test_returns_the_seed_and_seeds_python_and_numpy() -> None:
    assert seed_everything(1234) == 1234
    assert random.random() == random.Random(1234).random()
    assert np.random.rand() == np.random.RandomState(1234).rand()
    assert seeding.LAST is not None and seeding.LAST.source == "argument"
    assert {"random", "numpy"} <= set(seeding.LAST.seeded)


def test_hands_the_seed_to_children_and_sets_cublas_workspace() -> None:
    import os

    seed_everything(7)
    assert os.environ["MLFLOW_REPRO_SEED"] == "7"
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_seed_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REPRO_SEED", "99")
    assert seed_everything() == 99
    assert seeding.LAST is not None and seeding.LAST.source == "environment"


def test_fresh_seed_when_none_is_given() -> None:
    seed = seed_everything()
    assert 0 <= seed <= 2**32 - 1
    assert seeding.LAST is not None and seeding.LAST.source == "fresh"


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


def test_its_own_seeding_is_not_taken_for_the_users() -> None:
    seed_everything(5)
    assert _startup.STATE.user_calls == []
    np.random.seed(6)  # the user's own call, after: observed
    assert _startup.STATE.user_calls[-1] == ("numpy.random.seed", "6")


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
