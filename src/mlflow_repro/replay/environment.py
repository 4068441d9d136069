"""Environment step: the recorded lock and interpreter are what the re-run will use."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest
from mlflow_repro.process import run, uv_binary

STEP = "environment"


def check_environment(manifest: Manifest, workspace: Path, run_id: str) -> None:
    """The recorded lock and interpreter are what the workspace will use, or a clear error."""
    env = manifest.environment
    if env.lock_source == "uv.lock" and env.lock_file and env.lock_file_sha256:
        lock = workspace / env.lock_file
        found = hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else "missing"
        if found != env.lock_file_sha256:
            raise ReplayError(
                f"{env.lock_file} in the rebuilt workspace has sha256 {found}, the run recorded "
                f"{env.lock_file_sha256}: not the environment it ran in",
                run_id=run_id,
                step=STEP,
                hint="the recorded commit and diff should hold that lock: check the manifest",
            )
    version = env.python_version
    if version:
        found_python = run(
            [uv_binary() or "uv", "python", "find", "--no-project", version], timeout=60
        )
        if not found_python.ok:
            raise ReplayError(
                f"the run ran on Python {version}, which is not installed here",
                run_id=run_id,
                step=STEP,
                hint=f"install it (`uv python install {version}`) and replay again",
            )
