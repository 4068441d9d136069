"""`mlflow run -b repro-docker --backend-config '{"image": IMAGE}'`: a project run in an image.

An MLproject holds one environment (MLflow refuses `python_env` beside `docker_env`), and the
template's is `python_env.yaml`, so that `mlflow run .` works on a machine with no Docker. This
backend (entry point `mlflow.project_backend: repro-docker`) runs the same project, unchanged,
as MLflow runs a `docker_env` project: MLflow's local backend with the project's docker_env set
to IMAGE, so MLflow builds `FROM IMAGE` with the project copied in and runs the entry point in
it (`mlflow.project.env` = docker, `mlflow.docker.image.*` tags). What differs from a docker_env
MLproject, and why:

- the image is always built with the project copied in (`--build-image`: else the code is not
  in it), and named by content: the backend config may name a tag, the record holds its id;
- the entry point's command runs through `sh -c` in the container, as MLflow runs a python_env
  project's command through a shell on the host (`PYTHONPATH=src python -m ...` stays valid);
- a `sqlite:///` tracking store is mounted as its directory at the same path (MLflow mounts the
  file alone, and the host's journal would not be the container's);
- `environment` in the backend config: variables set in the container (replay's seed and
  generator state, for instance), `[name, value]` pairs or a mapping.

Everything is checked before MLflow creates a run: no image named, no Docker daemon, no such
image; each an ExecutionException naming the value and what to do.
"""

from __future__ import annotations

import os
import shlex
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.projects.backend.abstract_backend import AbstractBackend

from mlflow_repro.names import DOCKER_BACKEND

IMAGE_KEY = "image"
ENVIRONMENT_KEY = "environment"
BACKEND_TAG = "mlflow.project.backend"
_one_at_a_time = threading.Lock()  # the patches below are module-wide while a run is launched


def _environment(config: dict[str, Any]) -> list[list[str]]:
    value = config.get(ENVIRONMENT_KEY) or []
    pairs = []
    if isinstance(value, dict):
        value = [[k, v] for k, v in value.items()]
    for item in value:
        if not (isinstance(item, list | tuple) and len(item) == 2):
            from mlflow.projects import ExecutionException

            raise ExecutionException(
                f"repro-docker: backend config {ENVIRONMENT_KEY!r} holds {item!r}; give "
                "[name, value] pairs or a mapping of names to values"
            )
        pairs.append([str(item[0]), str(item[1])])
    # MLflow writes `-e NAME=VALUE` into a command line bash runs: a value is quoted for it
    return [[name, shlex.quote(value)] for name, value in pairs]


def checked_image(config: dict[str, Any]) -> str:
    """The image the backend config names, present on the engine; else an ExecutionException
    (no run has been created yet)."""
    from mlflow.projects import ExecutionException

    from mlflow_repro.container import docker

    image = config.get(IMAGE_KEY)
    if not isinstance(image, str) or not image.strip():
        raise ExecutionException(
            f"repro-docker: the backend config names no image (got {image!r}); pass "
            '--backend-config \'{"image": "<name:tag or sha256:id>"}\' (`just image` builds '
            "the template's from uv.lock). Nothing was started and no run was created."
        )
    problem = docker.daemon_problem()
    if problem:
        raise ExecutionException(
            f"repro-docker: {problem}. Start Docker (docs/deployment.md, Containers) and run "
            "again. Nothing was started and no run was created."
        )
    if docker.inspect_image(image) is None:
        raise ExecutionException(
            f"repro-docker: the Docker engine holds no image {image!r}; build it (`just image`), "
            "pull it or `docker load` it, then run again. Nothing was started and no run was "
            "created."
        )
    return image.strip()


def sqlite_mount(tracking_uri: str) -> tuple[list[str], dict[str, str]] | None:
    """A `sqlite:///` store as `docker run` should see it: its directory mounted at the same
    absolute path (the database and its journal together), the URI made absolute."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    parsed = urllib.parse.urlparse(tracking_uri)
    raw = tracking_uri[len("sqlite:///") :].split("?", 1)[0]
    path = Path(raw if raw.startswith("/") else os.path.abspath(raw))
    query = f"?{parsed.query}" if parsed.query else ""
    return ["-v", f"{path.parent}:{path.parent}"], {
        "MLFLOW_TRACKING_URI": f"sqlite:///{path}{query}"
    }


@contextmanager
def _patched(image: str, environment: list[list[str]]) -> Iterator[None]:
    import mlflow.projects.backend.local as local
    import mlflow.projects.docker as docker_module

    from mlflow_repro.container import hostside

    hostside.wrap_now()
    load_project = local.load_project
    entry_command = local.get_entry_point_command
    tracking_cmd = docker_module.get_docker_tracking_cmd_and_envs
    build = docker_module.build_docker_image

    def as_docker_project(work_dir: Any) -> Any:
        project = load_project(work_dir)
        declared = (project.docker_env or {}).get("environment") or []
        project.docker_env = {
            **(project.docker_env or {}),
            "image": image,
            "environment": [*declared, *environment],
        }
        if not project.name:
            project.name = Path(str(work_dir)).resolve().name.lower() or "mlflow-project"
        return project

    def through_a_shell(project: Any, entry_point: Any, parameters: Any, storage_dir: Any) -> Any:
        commands = entry_command(project, entry_point, parameters, storage_dir)
        return ["sh -c " + shlex.quote(" ".join(commands))]

    def tracking(uri: str) -> Any:
        mount = sqlite_mount(uri)
        return mount if mount is not None else tracking_cmd(uri)

    def build_and_tag(**kwargs: Any) -> Any:
        from mlflow.tracking import MlflowClient

        # the backend tag MLflow sets only once the run is over: the job's capture reads it
        MlflowClient().set_tag(kwargs["run_id"], BACKEND_TAG, DOCKER_BACKEND)
        return build(**kwargs)  # a failure marks the run FAILED (hostside.py)

    with _one_at_a_time:
        local.load_project = as_docker_project
        local.get_entry_point_command = through_a_shell
        docker_module.get_docker_tracking_cmd_and_envs = tracking
        docker_module.build_docker_image = build_and_tag
        try:
            yield
        finally:
            local.load_project = load_project
            local.get_entry_point_command = entry_command
            docker_module.get_docker_tracking_cmd_and_envs = tracking_cmd
            docker_module.build_docker_image = build


class ReproDockerBackend(AbstractBackend):  # type: ignore[misc]
    """MLflow's local backend, the project run in the image the backend config names."""

    def run(
        self,
        project_uri: Any,
        entry_point: Any,
        params: Any,
        version: Any,
        backend_config: Any,
        tracking_uri: Any,
        experiment_id: Any,
    ) -> Any:
        from mlflow.projects.backend.local import LocalBackend
        from mlflow.projects.utils import (
            PROJECT_BUILD_IMAGE,
            PROJECT_ENV_MANAGER,
            PROJECT_SYNCHRONOUS,
        )

        config = dict(backend_config or {})
        asked_to_wait = bool(config.get(PROJECT_SYNCHRONOUS))
        image = checked_image(config)
        environment = _environment(config)
        config[PROJECT_BUILD_IMAGE] = True
        # `mlflow run` asks backends other than local for an asynchronous run, which MLflow's
        # local backend makes by starting `mlflow run --run-id` again as a plain local run (out
        # of the image): this one runs in the image and waits, as local does
        config[PROJECT_SYNCHRONOUS] = True
        config[PROJECT_ENV_MANAGER] = "local"  # the image is the environment: nothing to build
        with _patched(image, environment):
            submitted = LocalBackend().run(
                project_uri, entry_point, params, version, config, tracking_uri, experiment_id
            )
        if not asked_to_wait:
            # `mlflow run` waits (and marks the run FINISHED or FAILED) only for the backends it
            # knows to be synchronous: this one waits here, as `mlflow run` would for local
            from mlflow.projects import _wait_for

            _wait_for(submitted)
        return submitted
