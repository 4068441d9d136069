"""Launch: the re-run, with the recorded seeds, generator states and the environment settings
that change floating-point bits. A run made by `mlflow run` goes through `mlflow run` with its
recorded entry point and parameters; a plain script run is re-run from its recorded command line
in the workspace, in an environment uv rebuilds from the recorded lock (or this interpreter)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow_repro._startup import STATE_VAR
from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest
from mlflow_repro.plugin import CAPTURED_RUN_VAR
from mlflow_repro.secrets import WITHHELD


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


def replay_environment(manifest: Manifest, payloads: Path) -> dict[str, str]:
    """The variables the re-run must see: the seed, the generator states at `import mlflow`,
    PYTHONHASHSEED, thread counts, BLAS settings."""
    env = dict(manifest.seeds.replay_env)
    if manifest.seeds.state is not None:
        env[STATE_VAR] = str(payloads / manifest.seeds.state.path)
    return env


def default_env_manager(original: Any, manifest: Manifest) -> str:
    """Like with like: the environment manager the original was made with. A plain script gets
    its environment rebuilt from the recorded uv.lock when there is one."""
    recorded = original.data.tags.get("mlflow.project.env")
    if recorded:
        return str(recorded)
    plain = launch_entry_point(original, manifest) is None
    if plain and manifest.environment.lock_source == "uv.lock":
        return "uv"
    return "local"


def launch_entry_point(original: Any, manifest: Manifest) -> str | None:
    return original.data.tags.get("mlflow.project.entryPoint") or manifest.launch.entry_point


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
    workspace: Path,
    original: Any,
    manifest: Manifest,
    payloads: Path,
    *,
    env_manager: str,
    backend: str,
    backend_config: dict[str, Any] | None,
) -> str:
    """Re-run the original in `workspace` with its recorded seeds; returns the new run id."""
    entry_point = launch_entry_point(original, manifest)
    with _environment(replay_environment(manifest, payloads)):
        if entry_point is None:
            _check_backend(backend, original.info.run_id)
            return launch_script(workspace, original, manifest, env_manager=env_manager)
        return _launch_project(
            workspace,
            original,
            entry_point,
            env_manager=env_manager,
            backend=backend,
            backend_config=backend_config,
        )


def _launch_project(
    workspace: Path,
    original: Any,
    entry_point: str,
    *,
    env_manager: str,
    backend: str,
    backend_config: dict[str, Any] | None,
) -> str:
    """`mlflow run` of the recorded entry point with the recorded parameters."""
    import mlflow.projects
    from mlflow.exceptions import ExecutionException
    from mlflow.projects._project_spec import load_project

    project = load_project(str(workspace))  # type: ignore[no-untyped-call]
    declared = set(project.get_entry_point(entry_point).parameters)
    parameters = {k: v for k, v in original.data.params.items() if k in declared}
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
    except ExecutionException as exc:  # its text names the new run: "Run (ID '...') failed"
        raise ReplayError(f"the re-run failed: {exc}") from exc
    return str(submitted.run_id)


def script_command(manifest: Manifest, workspace: Path, run_id: str) -> tuple[list[str], Path]:
    """The recorded interpreter arguments, paths into the user's repository moved into the
    workspace, and the directory to run them in."""
    launch = manifest.launch
    args = list(launch.command or launch.argv)
    if not args or not args[0]:
        raise ReplayError(
            f"run {run_id} recorded no command line (an interactive session?): there is "
            "nothing to re-run"
        )
    if args[0] in {"-", "-i"} or any("ipykernel" in a for a in args[:2]):
        raise ReplayError(
            f"run {run_id} was made in an interactive session ({' '.join(args[:3])}): there is "
            "no script to re-run; move the code into a script or an MLproject entry point"
        )
    if WITHHELD in " ".join(args):
        raise ReplayError(
            f"run {run_id}'s command line had values withheld as secrets ({' '.join(args)}); "
            "replay cannot pass them on: re-run it by hand with the values"
        )
    workdir = launch.workdir
    if workdir is None or workdir == ".." or workdir.startswith("../"):
        raise ReplayError(
            f"run {run_id} was started outside its git repository (working directory "
            f"{workdir or 'unknown'} relative to it): its working directory cannot be rebuilt"
        )
    root = Path(manifest.code.repo_root) if manifest.code.repo_root else None

    def moved(arg: str) -> str:
        path = Path(arg)
        if root is not None and path.is_absolute() and path.is_relative_to(root):
            return str(workspace / path.relative_to(root))
        return arg

    return [moved(a) for a in args], workspace / workdir


def _interpreter(manifest: Manifest, workspace: Path, env_manager: str, run_id: str) -> list[str]:
    if env_manager == "local":
        return [sys.executable]
    if env_manager == "uv":
        python = manifest.environment.python_version
        uv = shutil.which("uv") or "uv"
        lock = manifest.environment.lock_file
        project = workspace / Path(lock).parent if lock else workspace
        command = [uv, "run", "--frozen", "--project", str(project)]
        return [*command, *(["--python", python] if python else []), "--", "python"]
    raise ReplayError(
        f"run {run_id} is a plain script run: --env-manager {env_manager} cannot rebuild its "
        "environment; use uv (from the recorded uv.lock) or local (this interpreter)"
    )


def check_script_launch(
    workspace: Path, original: Any, manifest: Manifest, env_manager: str, backend: str
) -> None:
    """A plain script run can be re-run as asked, or a ReplayError before anything is created."""
    run_id = original.info.run_id
    if launch_entry_point(original, manifest) is not None:
        return
    _check_backend(backend, run_id)
    script_command(manifest, workspace, run_id)
    _interpreter(manifest, workspace, env_manager, run_id)


def _check_backend(backend: str, run_id: str) -> None:
    if backend != "local":
        raise ReplayError(
            f"run {run_id} is a plain script run: it can only be replayed on the local backend, "
            f"not {backend!r}"
        )


def launch_script(workspace: Path, original: Any, manifest: Manifest, *, env_manager: str) -> str:
    """Replay a run that was not made by `mlflow run` (`python train.py --lr 0.1`): its recorded
    command line, run in the workspace, starts its run as it did the first time (MLflow draws the
    run name from `random`, so pre-creating the run would shift the script's draws). The plugin
    tags that run with a token, by which it is found."""
    from mlflow.tracking import MlflowClient

    from mlflow_repro.plugin import REPLAY_TOKEN_TAG, REPLAY_TOKEN_VAR

    run_id = original.info.run_id
    args, cwd = script_command(manifest, workspace, run_id)
    command = _interpreter(manifest, workspace, env_manager, run_id) + args
    client = MlflowClient()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        REPLAY_TOKEN_VAR: token,
        "MLFLOW_TRACKING_URI": absolute_uri(str(client.tracking_uri)),
        "MLFLOW_EXPERIMENT_ID": str(original.info.experiment_id),
    }
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", CAPTURED_RUN_VAR):
        env.pop(name, None)
    env.pop("VIRTUAL_ENV", None)  # uv run builds and uses the workspace's own environment
    try:
        done = subprocess.run(command, cwd=cwd, env=env, check=False)
    except OSError as exc:
        raise ReplayError(f"the re-run could not start `{shlex.join(command)}`: {exc}") from exc
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(
        experiments,
        filter_string=f"tags.`{REPLAY_TOKEN_TAG}` = '{token}'",
        order_by=["attributes.start_time ASC"],
    )
    position = _position_in_process(client, original, experiments)
    if len(found) <= position:
        raise ReplayError(
            f"the re-run `{shlex.join(command)}` in {cwd} exited with status {done.returncode} "
            f"and started {len(found)} run(s) tagged by mlflow-repro; the original was run "
            f"{position + 1} of its process. Is mlflow-repro installed in that environment (a "
            "dependency in its uv.lock), and does the script still start its runs?"
        )
    new_id = str(found[position].info.run_id)
    client.set_tag(new_id, "repro.replay.command", shlex.join(args))
    if done.returncode != 0:
        if client.get_run(new_id).info.status == "RUNNING":
            client.set_terminated(new_id, "FAILED")
        raise ReplayError(
            f"the re-run {new_id} failed: `{shlex.join(command)}` in {cwd} exited with status "
            f"{done.returncode} (its output is above)"
        )
    return new_id


def _position_in_process(client: Any, original: Any, experiments: list[str]) -> int:
    """Which of its process's runs the original was (0 for the first): a script that starts
    several runs is compared run for run. Runs of one process share `repro.capture.id`."""
    from mlflow_repro.plugin import CAPTURE_ID_TAG

    capture_id = original.data.tags.get(CAPTURE_ID_TAG)
    if not capture_id:
        return 0
    siblings = client.search_runs(
        experiments,
        filter_string=f"tags.`{CAPTURE_ID_TAG}` = '{capture_id}'",
        order_by=["attributes.start_time ASC"],
    )
    ids = [r.info.run_id for r in siblings]
    return ids.index(original.info.run_id) if original.info.run_id in ids else 0


def absolute_uri(uri: str) -> str:
    """A tracking URI that means the same store from another working directory."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    if uri.startswith("file:") or "://" in uri or not uri:
        return uri
    return str(Path(uri).resolve())
