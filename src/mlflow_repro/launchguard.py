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
waits, then finds it built.

An environment build that fails (uv cannot get the recorded Python, a package will not install)
raises out of MLflow after it created the run, which then stays RUNNING for ever, and `mlflow
run` prints a traceback. The wrap marks that run FAILED, with the reason in the tag
`repro.launch.error`, and raises an `ExecutionException` that says so in one message. Nothing
else about `mlflow run` changes.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

from mlflow_repro.names import LAUNCH_ERROR_TAG

MODULE = "mlflow.projects.backend.local"

# The run MLflow's local backend created in this thread (get_or_create_run), for the build wrap.
_created = threading.local()


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
    make_run = getattr(module, "get_or_create_run", None)
    if make_run is not None and not getattr(make_run, "__mlflow_repro__", False):

        @functools.wraps(make_run)
        def remembered(*args: Any, **kwargs: Any) -> Any:
            active = make_run(*args, **kwargs)
            _created.run_id = str(active.info.run_id)
            return active

        remembered.__mlflow_repro__ = True  # type: ignore[attr-defined]
        module.get_or_create_run = remembered

    @functools.wraps(create)
    def locked(*args: Any, **kwargs: Any) -> Any:
        env_dir = Path(kwargs["env_dir"]) if "env_dir" in kwargs else Path(args[2])
        env_dir.parent.mkdir(parents=True, exist_ok=True)
        python = getattr(
            kwargs.get("python_env") or (args[1] if len(args) > 1 else None), "python", None
        )
        try:
            with open(f"{env_dir}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                return create(*args, **kwargs)
        except Exception as exc:
            raise build_failed(exc, getattr(_created, "run_id", None), python) from None

    locked.__mlflow_repro__ = True  # type: ignore[attr-defined]
    module._create_virtualenv = locked


def mark_failed(exc: BaseException, run_id: str | None, what: str) -> tuple[str, str]:
    """The run MLflow created before a launch step failed marked FAILED, the reason tagged
    (`repro.launch.error` = "<what>: <reason>"), unless it already ended: (the reason, credentials
    withheld; where the run stands, said for a person)."""
    from mlflow_repro.secrets import redact_urls

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = redact_urls(f"{type(exc).__name__}: " + "; ".join(lines[:2]))[:500]
    if not run_id:
        return reason, "no run was created"
    where = f"run {run_id} is marked FAILED (tag {LAUNCH_ERROR_TAG})"
    try:
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_tag(run_id, LAUNCH_ERROR_TAG, f"{what}: {reason}")
            client.set_terminated(run_id, "FAILED")
    except Exception as marking:  # the message still goes out; say what was not done
        where = f"run {run_id} could not be marked FAILED ({type(marking).__name__})"
    return reason, where


def build_failed(exc: BaseException, run_id: str | None, python: str | None) -> Exception:
    """The run MLflow created marked FAILED (reason tagged), and one message for `mlflow run`
    (an ExecutionException, printed as `=== ... ===`) or replay (which names it)."""
    from mlflow.projects import ExecutionException

    reason, where = mark_failed(exc, run_id, "environment build failed")
    fixes = (
        f"if uv could not find or download Python {python} (its own error is printed above), "
        f"install it first (`uv python install {python}`, or pyenv) or run with "
        "`--env-manager local` in an environment that holds the project's lock"
        if python
        else "its own error is printed above"
    )
    failure: Exception = ExecutionException(
        f"mlflow-repro: the run's environment could not be built ({reason}); {where}; {fixes}"
    )
    return failure


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
        from mlflow_repro.plugin.importhook import after_import

        after_import(MODULE, _wrap)
        # a docker_env run: the image read on this side and passed into the container
        from mlflow_repro.container import hostside

        hostside.install()
    except Exception as exc:
        print(f"mlflow-repro: `mlflow run` guard not installed: {exc}", file=sys.stderr)
