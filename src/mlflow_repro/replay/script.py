"""Script: a run not made by `mlflow run` (`python train.py --lr 0.1`) re-run from its recorded
command line in the workspace, under uv from the recorded lock or this interpreter."""

from __future__ import annotations

import os
import shlex
import sys
import uuid
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.errors import ReplayError, UsageError
from mlflow_repro.manifest import Manifest
from mlflow_repro.names import (
    CAPTURED_RUN_VAR,
    REPLAY_COMMAND_TAG,
    REPLAY_TOKEN_VAR,
    SESSION_SCRIPT,
)
from mlflow_repro.replay.newrun import pick_new_run, runs_with_token
from mlflow_repro.secrets import WITHHELD

SCRIPT_ENV_MANAGERS = ("uv", "local")


def default_env_manager(manifest: Manifest) -> str:
    """uv rebuilds the environment from the recorded uv.lock; without one, this interpreter."""
    return "uv" if manifest.environment.lock_source == "uv.lock" else "local"


def script_command(manifest: Manifest, workspace: Path, run_id: str) -> tuple[list[str], Path]:
    """The recorded interpreter arguments, paths into the user's repository moved into the
    workspace, and the directory to run them in."""
    launch = manifest.launch
    args = list(launch.command or launch.argv)
    shown = shlex.join(args)

    def refuse(problem: str, hint: str) -> ReplayError:
        return ReplayError(problem, run_id=run_id, step="run", value=shown, hint=hint)

    if launch.session is not None:  # a notebook or IPython: its cells, in order, as a script
        if launch.session_note or launch.session_cells is None:
            raise refuse(
                f"the run was made in an interactive session ({launch.session}), and its code "
                f"cannot be re-run: {launch.session_note or 'no cells recorded'}",
                "move the code into a script or an MLproject entry point",
            )
        args = [SESSION_SCRIPT]

    if not args or not args[0]:
        raise refuse(
            "the run recorded no command line (an interactive session?): there is nothing to "
            "re-run",
            "move the code into a script or an MLproject entry point",
        )
    if args[0] in {"-", "-i"} or any("ipykernel" in a for a in args[:2]):
        raise refuse(
            f"the run was made in an interactive session ({' '.join(args[:3])}): there is no "
            "script to re-run",
            "move the code into a script or an MLproject entry point",
        )
    if any(WITHHELD in a for a in args):
        raise refuse(
            "the run's command line had values withheld as secrets; replay cannot pass them on",
            "re-run it by hand with the values",
        )
    workdir = launch.workdir
    outside = workdir is None or workdir == ".." or workdir.startswith("../")
    if outside and launch.script and launch.argv and launch.argv[0] in args:
        # Started outside its repository (`python project/train.py`), the script inside it:
        # run the script by its place in the workspace, from the workspace's root.
        at = args.index(launch.argv[0])
        args[at] = str(workspace / launch.script)
        workdir = "."
    elif outside:
        raise ReplayError(
            f"the run was started outside its git repository (working directory "
            f"{workdir or 'unknown'} relative to it): its working directory cannot be rebuilt",
            run_id=run_id,
            step="run",
            value=workdir,
            hint="start the script from inside its repository",
        )
    root = Path(manifest.code.repo_root) if manifest.code.repo_root else None

    def moved(arg: str) -> str:
        path = Path(arg)
        if root is not None and path.is_absolute() and path.is_relative_to(root):
            return str(workspace / path.relative_to(root))
        return arg

    return [moved(a) for a in args], workspace / (workdir or ".")


def interpreter(manifest: Manifest, workspace: Path, env_manager: str, run_id: str) -> list[str]:
    """The command that runs Python in the environment `env_manager` gives."""
    if env_manager == "local":
        return [sys.executable]
    if env_manager == "uv":
        python = manifest.environment.python_version
        lock = manifest.environment.lock_file
        project = workspace / Path(lock).parent if lock else workspace
        command = [process.uv_binary() or "uv", "run", "--frozen", "--project", str(project)]
        # the optional groups the run's environment held (a framework installed from the lock)
        command += [arg for group in manifest.environment.groups for arg in ("--group", group)]
        return [*command, *(["--python", python] if python else []), "--", "python"]
    raise UsageError(
        f"a plain script run cannot be replayed with --env-manager {env_manager}",
        run_id=run_id,
        step="run",
        value=env_manager,
        hint="use uv (the recorded uv.lock) or local (this interpreter)",
    )


def check_script(
    manifest: Manifest, workspace: Path, env_manager: str, backend: str, run_id: str
) -> None:
    """The script can be re-run as asked, or an error before anything is created."""
    if backend != "local":
        raise UsageError(
            f"a plain script run can only be replayed on the local backend, not {backend!r}",
            run_id=run_id,
            step="run",
            value=backend,
            hint="leave --backend out",
        )
    _, cwd = script_command(manifest, workspace, run_id)
    if not cwd.is_dir():
        raise ReplayError(
            f"the recorded working directory {cwd.relative_to(workspace)} is not in the rebuilt "
            "workspace",
            run_id=run_id,
            step="run",
            value=str(cwd),
            hint="the run's commit and diff should hold it; check the run's code",
        )
    interpreter(manifest, workspace, env_manager, run_id)


def launch_script(
    workspace: Path,
    manifest: Manifest,
    *,
    env_manager: str,
    experiment_id: str,
    run_id: str,
    payloads: Path | None = None,
) -> str:
    """Run the recorded command line; returns the id of the run it started at the original's
    position. The script starts its runs as it did the first time (MLflow draws run names from
    `random`, so pre-creating the run would shift the script's draws); the plugin tags them with
    this replay's token, by which they are found."""
    from mlflow.tracking import MlflowClient

    args, cwd = script_command(manifest, workspace, run_id)
    cells = manifest.launch.session_cells
    if cells is not None and payloads is not None:  # the session's cells, as recorded
        (cwd / SESSION_SCRIPT).write_bytes((payloads / cells.path).read_bytes())
    command = interpreter(manifest, workspace, env_manager, run_id) + args
    client = MlflowClient()
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        REPLAY_TOKEN_VAR: token,
        "MLFLOW_TRACKING_URI": absolute_uri(str(client.tracking_uri)),
        "MLFLOW_EXPERIMENT_ID": experiment_id,
    }
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", CAPTURED_RUN_VAR):
        env.pop(name, None)
    env.pop("VIRTUAL_ENV", None)  # uv run builds and uses the workspace's own environment
    status, error = process.stream_with_error(command, cwd=cwd, env=env)
    rerun = f"`{shlex.join(command)}` in {cwd} (exit status {status})"
    index = manifest.launch.run_index
    found = runs_with_token(client, token)
    if status != 0 and len(found) <= index:
        # It failed before it started the run: its own error is the cause, not the plugin.
        raise ReplayError(
            f"the re-run {rerun} failed before it started run {index + 1} of its process; "
            f"its error:\n{error}",
            run_id=run_id,
            step="run",
            value=status,
            hint="the re-run's own error names the cause (a file the run read that the record "
            "does not hold, a changed dependency, ...)",
        )
    new_id = str(pick_new_run(found, index, run_id=run_id, rerun=rerun).info.run_id)
    client.set_tag(new_id, REPLAY_COMMAND_TAG, shlex.join(args))
    if status != 0:
        if client.get_run(new_id).info.status == "RUNNING":
            client.set_terminated(new_id, "FAILED")
        raise ReplayError(
            f"the re-run {new_id} failed: {rerun}; its error:\n{error}",
            run_id=run_id,
            step="run",
            value=status,
            hint="the re-run's own error names the cause",
        )
    return new_id


def absolute_uri(uri: str) -> str:
    """A tracking URI that means the same store from another working directory."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    if uri.startswith("file:") or "://" in uri or not uri:
        return uri
    return str(Path(uri).resolve())


def describe(manifest: Manifest, env_manager: str) -> str:
    """The re-run as the progress display shows it: `scripts/draw.py --scale 2 (uv)`."""
    launch = manifest.launch
    return f"{' '.join(launch.command or launch.argv)} ({env_manager})"
