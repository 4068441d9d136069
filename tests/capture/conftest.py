"""Real temporary git repositories for the collectors."""

from __future__ import annotations

import pytest

from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging


@pytest.fixture
def staging() -> Staging:
    s = Staging()
    yield s  # type: ignore[misc]
    s.cleanup()


@pytest.fixture
def settings() -> Settings:
    return Settings()
