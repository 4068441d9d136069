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


def test_frameworks_come_from_the_lock_groups_the_jobs_name() -> None:
    """`just install-frameworks` and a job's own install both take the frameworks from uv.lock's
    dependency groups (uv, hash-checked, --frozen), never pip beside the lock; every group a job
    names is a group of pyproject.toml and is locked."""
    import re
    import tomllib

    from repro_template.jobs.prerequisites import FRAMEWORKS

    groups = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]
    named = {group for _, group, _, _ in FRAMEWORKS.values()}
    assert named == {"torch", "tensorflow"} and named <= set(groups)
    lock = (REPO_ROOT / "uv.lock").read_text()
    for group in named:
        assert re.search(rf"^{group} = \[\s*\{{ name = ", lock, re.MULTILINE), group
    recipe = (REPO_ROOT / "justfile").read_text().split("install-frameworks: install", 1)[1]
    recipe = recipe.split("\n\n", 1)[0]
    assert "uv sync --frozen" in recipe and "pip" not in recipe
    assert sorted(re.findall(r"--group (\S+)", recipe)) == sorted(named)
