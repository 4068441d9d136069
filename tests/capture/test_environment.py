"""The environment collector: uv.lock exported with hashes, or installed versions, and drift."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from mlflow_repro.capture.environment import (
    _drift,
    _pins,
    collect_environment,
    installed_distributions,
)
from mlflow_repro.capture.staging import Staging
from tests.conftest import REPO_ROOT


def test_uv_project_exports_the_lock_with_hashes(tmp_path: Path, staging: Staging) -> None:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert errors == []
    assert env.lock_source == "uv.lock" and env.lock_strength == "hashes"
    assert env.lock_file == "uv.lock"
    assert env.lock_file_sha256 == hashlib.sha256((tmp_path / "uv.lock").read_bytes()).hexdigest()
    assert env.requirements is not None
    text = (staging.root / "requirements.lock.txt").read_text()
    assert hashlib.sha256(text.encode()).hexdigest() == env.requirements.sha256
    lines = text.splitlines()
    assert len(lines) == env.requirement_count > 50
    assert all("--hash=sha256:" in line for line in lines)
    assert any(line.startswith("mlflow==") for line in lines)
    assert env.python_version.count(".") == 2


def test_not_a_uv_project_records_installed_versions_as_weaker(
    tmp_path: Path, staging: Staging
) -> None:
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert errors == []
    assert env.lock_source == "installed-distributions"
    assert env.lock_strength == "versions-only"
    text = (staging.root / "requirements.lock.txt").read_text()
    assert "mlflow==" in text and "--hash" not in text


def test_drift_lists_installed_versions_that_differ_from_the_lock() -> None:
    lines = [
        "numpy==1.0.0 ; python_full_version < '3.0' --hash=sha256:aa",
        "numpy==9.9.9 --hash=sha256:bb",
        "absent==1.0 --hash=sha256:cc",
        "same==2.0 --hash=sha256:dd",
    ]
    pins = _pins(lines)
    assert pins == {"numpy": "9.9.9", "absent": "1.0", "same": "2.0"}
    drift = _drift(pins, {"numpy": "2.0.0", "same": "2.0"})
    assert [(d.name, d.locked, d.installed) for d in drift] == [("numpy", "9.9.9", "2.0.0")]


def test_installed_distributions_sees_this_environment() -> None:
    found = installed_distributions()
    import mlflow

    assert found["mlflow"] == mlflow.__version__
