"""Launch: the re-run through `mlflow run`, with the recorded entry point, parameters, seeds and
the environment settings that change floating-point bits."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest


def check_environment(manifest: Manifest, workspace: Path, run_id: str) -> None:
    """The recorded lock and interpreter are what the workspace will use, or a clear error."""
    env = manifest.environment
    if env.lock_source == "uv.lock" and env.lock_file and env.lock_file_sha256:
        lock = workspace / env.lock_file
        found = hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else "missing"
        if found != env.lock_file_sha256:
            raise ReplayError(
                f"run {run_id}: {env.lock_file} in the rebuilt workspace has sha256 {found}, the "
                f"run recorded {env.lock_file_sha256}: not the environment it ran in"
            )
    version = env.python_version
    if version:
        uv = shutil.which("uv") or "uv"
        done = subprocess.run(
            [uv, "python", "find", "--no-project", version],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise ReplayError(
                f"run {run_id} ran on Python {version}, which is not installed here; install it "
                f"(`uv python install {version}`) and replay again"
            )


def replay_environment(manifest: Manifest) -> dict[str, str]:
    """The variables the re-run must see: the seed, PYTHONHASHSEED, thread counts, BLAS settings."""
    return dict(manifest.seeds.replay_env)


def launch(
    workspace: Path,
    original: Any,
    manifest: Manifest,
    *,
    env_manager: str,
    backend: str,
    backend_config: dict[str, Any] | None,
) -> str:
    """Run the recorded entry point with the recorded parameters; returns the new run id."""
    import mlflow.projects
    from mlflow.exceptions import ExecutionException
    from mlflow.projects._project_spec import load_project

    tags = original.data.tags
    entry_point = tags.get("mlflow.project.entryPoint") or manifest.launch.entry_point
    if not entry_point:
        raise ReplayError(
            f"run {original.info.run_id} was not launched by `mlflow run` (launcher: "
            f"{manifest.launch.launcher}); replaying plain scripts is not built yet"
        )
    project = load_project(str(workspace))  # type: ignore[no-untyped-call]
    declared = set(project.get_entry_point(entry_point).parameters)
    parameters = {k: v for k, v in original.data.params.items() if k in declared}
    saved = {k: os.environ.get(k) for k in replay_environment(manifest)}
    os.environ.update(replay_environment(manifest))
    try:
        submitted = mlflow.projects.run(  # type: ignore[no-untyped-call]
            str(workspace),
            entry_point=entry_point,
            parameters=parameters,
            experiment_id=original.info.experiment_id,
            backend=backend,
            backend_config=backend_config,
            env_manager=env_manager,
            synchronous=True,
        )
    except ExecutionException as exc:
        raise ReplayError(f"the re-run failed: {exc}") from exc
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return str(submitted.run_id)
