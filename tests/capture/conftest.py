"""Real temporary git repositories for the collectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging
from tests.conftest import run


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        return run(["git", *args], cwd=self.root).stdout.strip()

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def commit(self, message: str = "commit") -> str:
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = tmp_path / "repo"
    root.mkdir()
    r = Repo(root)
    r.git("init", "-q")
    r.write("train.py", "print('train')\n")
    r.write(".gitignore", "ignored/\n")
    r.commit("initial")
    return r


@pytest.fixture
def staging() -> Staging:
    s = Staging()
    yield s  # type: ignore[misc]
    s.cleanup()


@pytest.fixture
def settings() -> Settings:
    return Settings()
