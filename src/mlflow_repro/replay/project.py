"""Project: `mlflow run` of the recorded entry point, with the parameters it was launched with,
in the workspace."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest
from mlflow_repro.names import DOCKER_BACKEND


def project_dir(manifest: Manifest, workspace: Path) -> Path:
    """Where the MLproject is: the recorded working directory of the run (`mlflow run` starts the
    job in its project's directory), when it is inside the workspace; else the workspace."""
    workdir = manifest.launch.workdir
    inside = workdir and not Path(workdir).is_absolute() and ".." not in Path(workdir).parts
    if workdir and inside and (workspace / workdir).is_dir():
        return workspace / workdir
    return workspace


def declared_parameters(directory: Path, entry_point: str, run_id: str) -> set[str]:
    """The parameters the entry point declares in the workspace's MLproject, or a ReplayError
    when the entry point is not there to launch."""
    from mlflow.exceptions import MlflowException
    from mlflow.projects._project_spec import load_project

    try:
        project = load_project(str(directory))
        found = project.get_entry_point(entry_point)
    except (MlflowException, OSError, ValueError) as exc:
        raise ReplayError(
            f"entry point {entry_point!r} cannot be launched from the rebuilt workspace {directory}"
            f" ({exc})",
            run_id=run_id,
            step="run",
            value=entry_point,
            hint="the MLproject at the recorded commit should declare it; check the run's code",
        ) from None
    return set(found.parameters) if found is not None else set()


def launch_parameters(
    manifest: Manifest, declared: set[str], logged_params: Mapping[str, Any]
) -> tuple[dict[str, str], str | None]:
    """The parameters to launch with, and a note when they had to be taken from elsewhere.

    The manifest records them as launched. A schema-1 manifest did not: then the original run's
    params that the entry point declares stand in for them, and the note says so."""
    recorded = manifest.launch.parameters
    if recorded is not None:
        return dict(recorded), None
    parameters = {k: str(v) for k, v in logged_params.items() if k in declared}
    note = (
        "the manifest did not record the parameters the run was launched with (schema 1); "
        f"using the original run's params that the entry point declares: {sorted(parameters)}"
    )
    return parameters, note


def launch_project(
    directory: Path,
    entry_point: str,
    parameters: dict[str, str],
    *,
    experiment_id: str,
    env_manager: str,
    backend: str,
    backend_config: dict[str, Any] | None,
    run_id: str,
    build_image: bool = False,
    docker_args: dict[str, Any] | None = None,
) -> str:
    """`mlflow run` (a Python call: synchronous); returns the new run's id. `build_image`: on
    the kubernetes backend, build the Job's image from the docker_env image and the workspace
    (else MLflow runs the docker_env image as it is, without the rebuilt code)."""
    import mlflow.projects
    from mlflow.exceptions import ExecutionException

    from mlflow_repro.launchguard import one_builder_per_environment, problem

    failures: tuple[type[BaseException], ...] = (ExecutionException,)
    hint = "its output is above; the new run is marked FAILED in the tracking store"
    if backend in ("kubernetes", DOCKER_BACKEND):
        from mlflow_repro.replay.kubernetes import submission_errors

        failures += submission_errors()
    if backend == "kubernetes":
        hint = (
            "MLflow creates the run before it builds and pushes the image: a failure there "
            "leaves that run RUNNING (tag mlflow.project.backend = 'kubernetes'); a Job that "
            "failed marks it FAILED, and `kubectl logs` of the Job's pod shows its output"
        )
    cannot = problem(str(directory), env_manager, before_run=False) if backend == "local" else None
    if cannot:
        raise ReplayError(
            cannot,
            run_id=run_id,
            step="run",
            value=env_manager,
            hint="replay again with --env-manager uv; nothing was started",
        )
    one_builder_per_environment()
    try:
        submitted = mlflow.projects.run(
            str(directory),
            entry_point=entry_point,
            parameters=parameters,
            experiment_id=experiment_id,
            backend=backend,
            backend_config=backend_config,
            env_manager=env_manager,
            synchronous=True,
            build_image=build_image,
            docker_args=docker_args,
        )
    except failures as exc:  # ExecutionException names the new run: "Run (ID '...') failed"
        raise ReplayError(
            f"the re-run failed: {exc}",
            run_id=run_id,
            step="run",
            value=entry_point,
            hint=hint,
        ) from exc
    return str(submitted.run_id)
