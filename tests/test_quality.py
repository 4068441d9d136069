"""Lint, format and type checks are part of the suite, so CI runs them too."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO_ROOT, run


@pytest.mark.parametrize(
    "cmd",
    [
        [sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"],
        [sys.executable, "-m", "ruff", "format", "--check", "src", "tests", "benchmarks"],
        [sys.executable, "-m", "mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_quality(cmd: list[str]) -> None:
    run(cmd, cwd=REPO_ROOT)


def test_justfile_has_the_promised_recipes() -> None:
    done = run(["just", "--summary"], cwd=REPO_ROOT)
    recipes = set(done.stdout.split())
    assert {"install", "train", "test", "check", "lock", "ui", "clean", "data"} <= recipes


def test_uv_lock_is_consistent_with_pyproject() -> None:
    run(["uv", "lock", "--check", "--offline"], cwd=REPO_ROOT)


def test_install_frameworks_pins_what_the_framework_groups_pin() -> None:
    """`just install-frameworks` installs with pip exactly the pins of the torch and tensorflow
    dependency groups."""
    import re
    import tomllib

    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]
    pinned = sorted(req for group in ("torch", "tensorflow") for req in extras[group])
    justfile = (REPO_ROOT / "justfile").read_text()
    match = re.search(r'^frameworks := "([^"]+)"', justfile, re.MULTILINE)
    assert match, 'justfile must define frameworks := "..."'
    assert sorted(match.group(1).split()) == pinned
