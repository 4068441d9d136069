"""Fixtures shared by the whole suite: hermetic git, a private tracking store, a template copy."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command, returning its output; on an unexpected exit show everything it printed."""
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{cmd} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's and the system's git config out of every test (dvc-data/scmrepo style)."""
    config = tmp_path_factory.mktemp("gitconfig") / "gitconfig"
    config.write_text(
        "[user]\n\tname = Repro Tests\n\temail = tests@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private embedded sqlite tracking store for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def tracked_files(root: Path) -> list[str]:
    out = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root)
    return [p for p in out.stdout.split("\0") if p and (root / p).is_file()]


def copy_template(dest: Path) -> Path:
    """Copy the template as git sees it (tracked and new, non-ignored files) into a new repo.

    The copy is committed so that `mlflow run` finds a clean git checkout, as a user's clone is.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for rel in tracked_files(REPO_ROOT):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / rel, target)
    run(["git", "init", "-q"], cwd=dest)
    run(["git", "add", "-A"], cwd=dest)
    run(["git", "commit", "-qm", "template copy"], cwd=dest)
    return dest


@pytest.fixture(scope="session")
def template_with_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A committed copy of the template with its DVC data in place (shared, read-only use)."""
    with pytest.MonkeyPatch.context() as mp:
        config = tmp_path_factory.mktemp("gitconfig-session") / "gitconfig"
        config.write_text("[user]\n\tname = Repro Tests\n\temail = tests@example.invalid\n")
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        dest = copy_template(tmp_path_factory.mktemp("template") / "project")
        data = REPO_ROOT / "data" / "breast_cancer.csv"
        if data.is_file():
            shutil.copy2(data, dest / "data" / "breast_cancer.csv")
        else:
            run(["dvc", "repro", "--quiet"], cwd=dest)
        yield dest


def venv_env(**extra: str) -> dict[str, str]:
    """The current environment plus `extra`, for subprocesses."""
    env = dict(os.environ)
    env.update(extra)
    return env
