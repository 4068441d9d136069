"""The code step refuses with the true cause when no commit was recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Code
from mlflow_repro.replay.workspace import build_workspace


def refusal(code: Code, tmp_path: Path, errors: list[str] | None = None) -> str:
    with pytest.raises(ReplayError) as caught:
        build_workspace(code, tmp_path, tmp_path / "workspace", "r1", errors)
    assert not (tmp_path / "workspace").exists()
    return str(caught.value)


def test_a_repository_with_no_commit_yet_is_named(tmp_path: Path) -> None:
    message = refusal(Code(vcs="git", repo_root="/p", commit=None), tmp_path)
    assert "a git repository with no commit yet" in message
    assert "was not made from a git checkout" not in message


def test_git_missing_at_capture_is_named(tmp_path: Path) -> None:
    code = Code(vcs="git", repo_root="/p", commit=None, complete=False)
    message = refusal(code, tmp_path, ["git: not found", "data: dvc.lock: not YAML"])
    assert "capture could not read its commit: git: not found" in message
    assert "dvc.lock" not in message


def test_no_repository_at_all_is_named(tmp_path: Path) -> None:
    assert "was not made from a git checkout" in refusal(Code(vcs="none"), tmp_path)


def test_changes_lost_to_a_capture_failure_are_named(tmp_path: Path) -> None:
    code = Code(vcs="git", repo_root="/p", commit="a" * 40, complete=False)
    message = refusal(code, tmp_path, ["code: timed out after 10s; kept what it had read before"])
    assert "not recorded in full (code: timed out after 10s" in message
