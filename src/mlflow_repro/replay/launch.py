"""Launch: how the re-run is started, every choice read from the manifest (or given by the
caller), and the dispatch to `mlflow run` (project.py) or the recorded command line (script.py),
with the recorded seeds, generator states and floating-point settings in the environment (on the
kubernetes backend: in the Job, kubernetes.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest
from mlflow_repro.names import DOCKER_BACKEND, REPLAY_OF_VAR, REPLAY_REGISTER_VAR, STATE_VAR
from mlflow_repro.replay import kubernetes, project, script
from mlflow_repro.replay.image import ImagePlan


@dataclass(frozen=True)
class Plan:
    """The re-run as it will be started."""

    entry_point: str | None  # None: a plain script
    parameters: dict[str, str]
    env_manager: str
    backend: str
    directory: Path  # the MLproject's directory (a plain script: the workspace)
    notes: list[str] = field(default_factory=list)  # choices the manifest could not settle
    job: kubernetes.Job | None = None  # the kubernetes backend: what `checked` found
    image: ImagePlan | None = None  # the image the re-run runs in (the repro-docker backend)


def checked(
    plan: Plan, backend_config: dict[str, Any] | None, *, run_id: str, experiment_id: str
) -> Plan:
    """The plan with everything its backend needs checked, before the data step and before any
    run exists (kubernetes: the backend config, the Job template, docker_env, Docker, the kube
    context); a ReplayError otherwise. Other backends need nothing more."""
    if plan.backend != "kubernetes" or plan.entry_point is None:
        return plan
    job = kubernetes.check(
        plan.directory,
        plan.entry_point,
        plan.parameters,
        backend_config,
        run_id=run_id,
        experiment_id=experiment_id,
    )
    return replace(plan, job=job)


def plan_launch(
    manifest: Manifest,
    workspace: Path,
    logged_params: Mapping[str, Any],
    run_id: str,
    *,
    env_manager: str | None = None,
    backend: str | None = None,
    image: ImagePlan | None = None,
) -> Plan:
    """Like with like: by default the entry point, parameters, environment manager and backend
    the manifest recorded. `logged_params` (the original run's params) are read only for a
    schema-1 manifest, which did not record the parameters as launched. Raises before anything
    is created when the re-run cannot be started."""
    launch = manifest.launch
    backend = backend or launch.backend or "local"
    if image is not None:
        if backend not in ("local", DOCKER_BACKEND):
            raise ReplayError(
                f"the re-run must run in image {image.image_id}, and --backend {backend} runs it "
                "elsewhere",
                run_id=run_id,
                step="run",
                value=backend,
                hint="replay it with --backend local (the image runs on this machine's Docker) "
                "or --backend repro-docker; nothing was started",
            )
        if launch.entry_point is None:
            raise ReplayError(
                "the run was not started by `mlflow run`, and replay runs a re-run in an image "
                "only through `mlflow run` (its repro-docker backend)",
                run_id=run_id,
                step="run",
                value=image.image_id,
                hint="replay it on this host, without --image; nothing was started",
            )
        backend = DOCKER_BACKEND
    elif backend == DOCKER_BACKEND:
        raise ReplayError(
            "the run was launched with the repro-docker backend, and its manifest records no "
            "image to replay it in",
            run_id=run_id,
            step="run",
            value=backend,
            hint="name one with --image; nothing was started",
        )
    if launch.entry_point is None:
        env_manager = env_manager or script.default_env_manager(manifest)
        script.check_script(manifest, workspace, env_manager, backend, run_id)
        return Plan(None, {}, env_manager, backend, workspace)
    notes = []
    if env_manager is None:
        env_manager = launch.env_manager or "local"
        if launch.env_manager is None:
            notes.append("the manifest did not record the environment manager; using local")
    directory = project.project_dir(manifest, workspace)
    declared = project.declared_parameters(directory, launch.entry_point, run_id)
    parameters, note = project.launch_parameters(manifest, declared, logged_params)
    notes += [note] if note else []
    if image is not None:
        env_manager = "local"  # the image is the environment; MLflow builds none
        notes.append(image.note)
    if backend == "kubernetes":
        notes.append(
            "backend kubernetes: the re-run's environment is the MLproject's docker_env image "
            f"with the workspace copied in; the environment manager ({env_manager}) is not used"
        )
    return Plan(launch.entry_point, parameters, env_manager, backend, directory, notes, image=image)


def describe(plan: Plan, manifest: Manifest) -> str:
    if plan.entry_point is None:
        return script.describe(manifest, plan.env_manager)
    if plan.backend == "kubernetes":
        return f"mlflow run -e {plan.entry_point} --backend kubernetes (a Job on the cluster)"
    if plan.image is not None:
        return (
            f"mlflow run -e {plan.entry_point} --backend {DOCKER_BACKEND} in {plan.image.image_id}"
        )
    return (
        f"mlflow run -e {plan.entry_point} --env-manager {plan.env_manager} "
        f"(backend {plan.backend})"
    )


def replay_environment(manifest: Manifest, payloads: Path) -> dict[str, str]:
    """The variables the re-run must see: the seed, the generator states at `import mlflow`,
    PYTHONHASHSEED, thread counts, BLAS settings."""
    env = dict(manifest.seeds.replay_env)
    if manifest.seeds.state is not None:
        env[STATE_VAR] = str(payloads / manifest.seeds.state.path)
    return env


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def launch(
    plan: Plan,
    workspace: Path,
    manifest: Manifest,
    payloads: Path,
    *,
    experiment_id: str,
    backend_config: dict[str, Any] | None,
    run_id: str,
    register: bool = False,
) -> str:
    """Start the re-run as planned; returns the new run's id. The re-run registers no model
    version unless `register` (then each version is tagged as a replay): see replayguard.
    On the kubernetes backend, everything the Job needs is checked first (a ReplayError, and no
    run created, when something is missing), and the variables go into the Job."""
    values = replay_environment(manifest, payloads)
    values[REPLAY_OF_VAR] = run_id
    values[REPLAY_REGISTER_VAR] = "1" if register else "0"
    if plan.backend == "kubernetes" and plan.entry_point is not None:
        job = (
            plan.job
            or checked(plan, backend_config, run_id=run_id, experiment_id=experiment_id).job
        )
        assert job is not None
        with kubernetes.job_config(job, values, plan.directory) as config:
            return _project(plan, plan.entry_point, experiment_id, run_id, config, True)
    if plan.image is not None and plan.entry_point is not None:
        with kubernetes.in_build_context(values, plan.directory) as inside:
            config = {
                **(backend_config or {}),
                "image": plan.image.image_id,
                "environment": dict(sorted(inside.items())),
            }
            return _project(
                plan,
                plan.entry_point,
                experiment_id,
                run_id,
                config,
                True,
                docker_args={"network": plan.image.network},
            )
    with _environment(values):
        if plan.entry_point is None:
            return script.launch_script(
                workspace,
                manifest,
                env_manager=plan.env_manager,
                experiment_id=experiment_id,
                run_id=run_id,
                payloads=payloads,
            )
        return _project(plan, plan.entry_point, experiment_id, run_id, backend_config, False)


def _project(
    plan: Plan,
    entry_point: str,
    experiment_id: str,
    run_id: str,
    backend_config: dict[str, Any] | None,
    build_image: bool,
    docker_args: dict[str, Any] | None = None,
) -> str:
    return project.launch_project(
        plan.directory,
        entry_point,
        plan.parameters,
        experiment_id=experiment_id,
        env_manager=plan.env_manager,
        backend=plan.backend,
        backend_config=backend_config,
        run_id=run_id,
        build_image=build_image,
        docker_args=docker_args,
    )
