"""Collect the launch record of a run `mlflow run` started: entry point, parameters as launched,
env manager and backend, from what MLflow's parent recorded on the run before starting the job."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlflow_repro.manifest import Launch

ENTRY_POINT_TAG = "mlflow.project.entryPoint"
ENV_TAG = "mlflow.project.env"
BACKEND_TAG = "mlflow.project.backend"


def find_mlproject(directory: Path) -> Path | None:
    """The MLproject file of a project directory (MLflow matches its name case-insensitively)."""
    try:
        return next(p for p in directory.iterdir() if p.name.lower() == "mlproject")
    except (OSError, StopIteration):
        return None


def declared_parameters(entry_point: str, directories: list[Path]) -> set[str] | None:
    """The parameters the first MLproject found in `directories` declares for `entry_point`;
    None when none can be read or it does not declare that entry point (a script run as one)."""
    import yaml

    for directory in directories:
        path = find_mlproject(directory)
        if path is None:
            continue
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
            entry = spec["entry_points"][entry_point]
            return {str(name) for name in entry.get("parameters") or {}}
        except (OSError, ValueError, yaml.YAMLError, LookupError, TypeError, AttributeError):
            return None
    return None


def project_launch(
    tags: Mapping[str, str], params: Mapping[str, str], directories: list[Path]
) -> Launch:
    """The launch record of a run resumed through MLFLOW_RUN_ID, from its tags and params.

    `params` are read at capture, while the job may already log params of its own: only those
    the MLproject declares for the entry point count (all of them when it cannot be read).
    """
    entry_point = tags.get(ENTRY_POINT_TAG)
    if not entry_point:  # a plain process handed a run id through MLFLOW_RUN_ID
        return Launch(launcher="python")
    declared = declared_parameters(entry_point, directories)
    return Launch(
        launcher="mlflow run",
        entry_point=entry_point,
        parameters={k: str(v) for k, v in params.items() if declared is None or k in declared},
        # MLflow tags the environment only when it builds one, and the backend only once the
        # backend returns (after the job, for local runs): an absent tag means local.
        env_manager=tags.get(ENV_TAG, "local"),
        backend=tags.get(BACKEND_TAG, "local"),
    )
