"""`mlflow run` made safe where MLflow alone is not: no pyenv, and concurrent environment builds.

A project with a `python_env.yaml` gets MLflow's `virtualenv` environment manager by default,
which asks pyenv for the Python version the file names. Without pyenv MLflow creates the run,
then fails inside `pyenv install` with `FileNotFoundError: ... 'None'`, leaving the run RUNNING
for ever. In a process running `mlflow run` (or replay's `mlflow.projects.run`), the plugin wraps
`LocalBackend.run` so that this case stops before the run is created, with an
`ExecutionException` (which `mlflow run` prints as `=== ... ===`, exit 1) that names the fixes.

Runs started at once (a sweep, `reproduce --jobs N`) may need the same environment before it
exists; MLflow builds it with no lock, so two builders collide. The same wrap serializes the
build of each environment directory under a file lock beside it (`<env_dir>.lock`): the second
waits, then finds it built. Nothing else about `mlflow run` changes.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

MODULE = "mlflow.projects.backend.local"


def _mlflow_run_process() -> bool:
    """`mlflow run ...`, or `python -m mlflow run ...` (argv[0] is "-m" while mlflow imports)."""
    argv = sys.argv
    return len(argv) > 1 and argv[1] == "run" and Path(argv[0]).name in {"mlflow", "-m"}


def _python_version(project: Path) -> str | None:
    """The Python version the project's python_env.yaml names, or None when the project has no
    python_env (conda or docker projects, or no MLproject): those are not this guard's."""
    import yaml

    spec = project / "MLproject"
    if not spec.is_file():
        return None
    data = yaml.safe_load(spec.read_text("utf-8")) or {}
    if "python_env" not in data or "docker_env" in data:
        return None
    env_file = project / str(data["python_env"])
    if not env_file.is_file():
        return None
    return str((yaml.safe_load(env_file.read_text("utf-8")) or {}).get("python", "")) or None


def problem(project_uri: str, env_manager: str | None, *, before_run: bool = True) -> str | None:
    """Why MLflow's virtualenv manager cannot build this project's environment here, or None.
    `before_run`: said as `mlflow run` stops (no run was created); replay words its own."""
    if env_manager not in (None, "virtualenv") or shutil.which("pyenv"):
        return None
    project = Path(project_uri)
    if "://" in project_uri or not project.is_dir():
        return None
    version = _python_version(project)
    if version is None:
        return None
    chosen = (
        "MLflow's default environment manager for a project with python_env.yaml, virtualenv,"
        if env_manager is None
        else "--env-manager virtualenv"
    )
    return (
        f"{chosen} needs pyenv to provide Python {version}, and pyenv is not on PATH. "
        + ("Nothing was started and no run was created. " if before_run else "")
        + "Run with `--env-manager uv` (uv installs the "
        f"locked packages, hash-checked, and finds or downloads Python {version}), or "
        "`--env-manager local` inside an environment that holds the project's lock, or install "
        "pyenv (https://github.com/pyenv/pyenv#installation)"
    )


def one_builder_per_environment(module: Any = None) -> None:
    """Wrap MLflow's `_create_virtualenv` (as `mlflow.projects.backend.local` calls it) so that
    each environment directory is built by one process at a time."""
    import fcntl
    import functools

    if module is None:
        import mlflow.projects.backend.local

        module = mlflow.projects.backend.local
    create = getattr(module, "_create_virtualenv", None)
    if create is None or getattr(create, "__mlflow_repro__", False):
        return

    @functools.wraps(create)
    def locked(*args: Any, **kwargs: Any) -> Any:
        env_dir = Path(kwargs["env_dir"]) if "env_dir" in kwargs else Path(args[2])
        env_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{env_dir}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return create(*args, **kwargs)

    locked.__mlflow_repro__ = True  # type: ignore[attr-defined]
    module._create_virtualenv = locked


def _wrap(module: Any) -> None:
    one_builder_per_environment(module)
    backend = getattr(module, "LocalBackend", None)
    original = getattr(backend, "run", None)
    if original is None or getattr(original, "__mlflow_repro__", False):
        return

    def run(self: Any, project_uri: Any, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("backend_config") if "backend_config" in kwargs else args[3]
        try:
            from mlflow.projects.utils import PROJECT_ENV_MANAGER

            found = problem(str(project_uri), (config or {}).get(PROJECT_ENV_MANAGER))
        except Exception:  # the guard never stands in MLflow's way
            found = None
        if found:
            from mlflow.projects import ExecutionException

            raise ExecutionException(found)
        return original(self, project_uri, *args, **kwargs)

    run.__mlflow_repro__ = True  # type: ignore[attr-defined]
    backend.run = run  # type: ignore[union-attr]


def install(force: bool = False) -> None:
    """Guard `mlflow run` in this process (when it is one, or `force`); never raises."""
    if not force and not _mlflow_run_process():
        return
    if os.environ.get("MLFLOW_REPRO_DISABLE") == "1":
        return
    try:
        from mlflow_repro.importhook import after_import

        after_import(MODULE, _wrap)
    except Exception as exc:
        print(f"mlflow-repro: `mlflow run` guard not installed: {exc}", file=sys.stderr)
