"""What a job needs in place before its run starts: its framework and its data.

Both come from what the repository locks, never from a fresh resolve:

- the framework (PyTorch, TensorFlow) from uv.lock's dependency group, hash-checked, by
  `uv sync --group <group>`: into the user's own environment (`.venv`, `--env-manager local`), or,
  when MLflow built the environment (shared by every run of the same python_env.yaml, so never
  changed), into a sibling environment in which the job re-executes itself. So
  `mlflow run -P conf_file=confs/training-torch.yaml .` works with any environment manager and
  the run's manifest records the group with its hashes;
- the training data from DVC: pulled from the remote, else rebuilt by its stage, and checked
  against the md5 that dvc.lock records.

They run before mlflow is imported, so that the plugin's capture (at `import mlflow`, under
`mlflow run`) sees the environment and the data the job will use. Data already in the workspace
is never touched: if it differs from dvc.lock, the manifest says so.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from repro_template.errors import ConfigError, DataError

# model KIND -> (module it imports, uv.lock dependency group, name, what a first install fetches)
FRAMEWORKS = {
    "TorchMLP": (
        "torch",
        "torch",
        "PyTorch",
        "on Linux the CUDA build from PyPI: about 2.7 GB with its NVIDIA libraries",
    ),
    "KerasMLP": ("tensorflow", "tensorflow", "TensorFlow", "about 0.3 GB"),
}


def _say(message: str) -> None:
    print(f"repro_template: {message}", file=sys.stderr, flush=True)


def _in_virtual_environment() -> bool:
    return sys.prefix != sys.base_prefix


def _mlflow_env_root() -> Path:
    """Where MLflow keeps the environments it builds (MLflow's MLFLOW_ENV_ROOT)."""
    default = Path.home() / ".mlflow" / "envs"
    return Path(os.environ.get("MLFLOW_ENV_ROOT") or default).expanduser().resolve()


def _built_by_mlflow() -> bool:
    return Path(sys.prefix).resolve().parent == _mlflow_env_root()


def ensure_framework(model: Any, conf_file: str, project: Path | None = None) -> None:
    """Make the config's framework importable from uv.lock, or fail before any run is touched,
    saying how to get it.

    - In an environment MLflow built (`--env-manager uv` or `virtualenv`), which MLflow shares
      between every run of the same python_env.yaml: never changed. The job re-executes itself
      in a sibling environment, `<that environment>-<group>`, made once by `uv sync` of the
      default groups and the framework's group (so a later scikit-learn run, or its replay,
      still gets exactly the environment it recorded).
    - In the user's own environment (`--env-manager local`, `.venv`): the group is added to it,
      as `just install-frameworks` does.
    """
    if model.KIND not in FRAMEWORKS:
        return
    module, group, name, size = FRAMEWORKS[model.KIND]
    if importlib.util.find_spec(module) is not None:
        return
    project = (project or Path.cwd()).resolve()
    from mlflow_repro.uvexport import uv_binary

    uv = uv_binary()
    problem = None
    if not (project / "uv.lock").is_file():
        problem = f"there is no uv.lock in {project} to install it from"
    elif uv is None:
        problem = "uv is not installed (pip install uv)"
    elif not _in_virtual_environment():
        problem = f"{sys.executable} is not a virtual environment (nothing is installed into it)"
    if problem is not None:
        raise ConfigError(
            conf_file,
            [
                f"job.model.KIND: {model.KIND} needs {module}, which is not installed for "
                f"{sys.executable}, and {problem}. Install it from the lock with "
                f"`just install-frameworks` (dependency group '{group}'), then run "
                f"`just train {conf_file} local`"
            ],
        )
    if _built_by_mlflow():
        _reexec_in(_sibling_environment(str(uv), project, group, name, size, conf_file))
    _say(
        f"{name} is not installed in {sys.prefix}: installing dependency group '{group}' from "
        f"uv.lock, hash-checked ({size} the first time; uv's cache keeps it for later)"
    )
    cmd = [str(uv), "sync", "--frozen", "--inexact", "--no-dev", "--no-install-project"]
    cmd += ["--group", group, "--python", sys.executable]
    if sys.flags.dont_write_bytecode:
        # PYTHONDONTWRITEBYTECODE: no .pyc is ever written, so every process would compile the
        # framework again (TensorFlow: ~10 s an import); compile once in a long-lived env.
        cmd.append("--compile-bytecode")
    _sync(cmd, sys.prefix, project, group, conf_file)
    importlib.invalidate_caches()
    _say(f"{name} installed from uv.lock (group '{group}')")


def _sync(cmd: list[str], target: str, project: Path, group: str, conf_file: str) -> None:
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": target}
    env.pop("VIRTUAL_ENV", None)  # uv warns when it differs from the target
    done = subprocess.run(cmd, cwd=project, env=env, check=False)  # uv's progress: the terminal
    if done.returncode != 0:
        raise ConfigError(
            conf_file,
            [
                f"job.model.KIND needs dependency group '{group}'; installing dependency group "
                f"'{group}' from uv.lock into {target} failed (`{' '.join(cmd)}` exited "
                f"{done.returncode}; its output is above). Check the network and the disk, "
                "then run again"
            ],
        )


def _sibling_environment(
    uv: str, project: Path, group: str, name: str, size: str, conf_file: str
) -> Path:
    """`<MLflow's environment>-<group>-<uv.lock's hash>`: the default groups, `group` and the
    project, from uv.lock; made once (under a file lock, for concurrent runs) and reused. MLflow's
    key covers only python_env.yaml (the default groups), so the name carries the lock's hash:
    a lock that moves the framework gets a new environment."""
    import fcntl

    locked = hashlib.sha256((project / "uv.lock").read_bytes()).hexdigest()[:12]
    target = Path(f"{sys.prefix}-{group}-{locked}")
    done = target / ".mlflow-repro-complete"
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.is_file():
            import shutil

            shutil.rmtree(target, ignore_errors=True)  # an earlier attempt that did not finish
            _say(
                f"{name} is not in MLflow's environment {sys.prefix} (shared by every run of "
                f"this lock; left as it is): making {target} from uv.lock with dependency "
                f"group '{group}', hash-checked ({size} the first time; uv's cache keeps it)"
            )
            venv = [uv, "venv", "--quiet", "--python", sys.executable, str(target)]
            if subprocess.run(venv, check=False).returncode != 0:
                raise ConfigError(conf_file, [f"`{' '.join(venv)}` failed (output above)"])
            cmd = [uv, "sync", "--frozen", "--no-dev", "--group", group]
            _sync(cmd, str(target), project, group, conf_file)
            done.write_text(f"uv.lock group {group}\n")
            _say(f"{name} installed from uv.lock into {target}")
    return target


def _reexec_in(environment: Path) -> None:
    """Run this very command again with `environment`'s Python (never returns)."""
    python = environment / "bin" / "python"
    env = {**os.environ, "VIRTUAL_ENV": str(environment)}
    env["PATH"] = f"{environment / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    _say(f"running the job with {python}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [str(python), *sys.orig_argv[1:]], env)


def _locked_md5(project: Path, path: str) -> str | None:
    """The md5 dvc.lock (or `<path>.dvc`) records for the output `path`, if it records one."""
    import yaml

    wanted = Path(path).as_posix()
    lock = project / "dvc.lock"
    if lock.is_file():
        stages = (yaml.safe_load(lock.read_text("utf-8")) or {}).get("stages") or {}
        for stage in stages.values():
            for out in stage.get("outs") or []:
                if Path(str(out.get("path", ""))).as_posix() == wanted and out.get("md5"):
                    return str(out["md5"])
    single = project / f"{path}.dvc"
    if single.is_file():
        outs = (yaml.safe_load(single.read_text("utf-8")) or {}).get("outs") or []
        if outs and outs[0].get("md5"):
            return str(outs[0]["md5"])
    return None


def _dvc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def ensure_data(path: str, project: Path | None = None) -> None:
    """Bring a DVC-tracked file the workspace lacks into place: `dvc pull`, else `dvc repro`
    (the stage rebuilds it), then check its md5 against dvc.lock. A file already there is left
    as it is; a file DVC does not track is left to the job's own error."""
    project = (project or Path.cwd()).resolve()
    target = project / path
    if target.is_file():
        return
    locked = _locked_md5(project, path)
    if locked is None:
        return
    _say(f"{path} is not in the workspace: bringing it from DVC (dvc pull, else dvc repro)")
    # Not --quiet: DVC then prints nothing at all, its errors included.
    pulled = _dvc("pull", path, cwd=project)
    how = "pulled from the DVC remote"
    if pulled.returncode != 0 or not target.is_file():
        _say("no copy in the DVC remote: rebuilding it with its stage (dvc repro)")
        rebuilt = _dvc("repro", cwd=project)
        how = "rebuilt by dvc repro"
        if rebuilt.returncode != 0 or not target.is_file():
            raise DataError(
                f"training data '{path}' is not in the workspace and DVC could not bring it: "
                f"dvc pull said {_first_error(pulled)!r}, dvc repro said "
                f"{_first_error(rebuilt)!r}",
                value=path,
                hint="run from a git clone of the project (DVC and the run's record need one), "
                "check the DVC remote in .dvc/config (`dvc remote list`), then run `just data`",
            )
    found = hashlib.md5(target.read_bytes()).hexdigest()
    if found != locked:
        raise DataError(
            f"training data '{path}' was {how}, but its md5 is {found} and dvc.lock records "
            f"{locked}: not the data this commit was trained on",
            value=path,
            hint="`dvc status` shows what changed; commit dvc.lock after `dvc repro` if the "
            "new data is intended",
        )
    _say(f"{path} {how}; md5 {found} as dvc.lock records")


def _first_error(done: subprocess.CompletedProcess[str]) -> str:
    """DVC's own first `ERROR:` line (the cause; later ones repeat it), else its last line."""
    lines = [line.strip() for line in f"{done.stderr}\n{done.stdout}".splitlines() if line.strip()]
    at = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), None)
    if at is None:
        return (lines[-1:] or [f"exit {done.returncode}"])[0]
    # "ERROR: ... for following targets:" names them on the next line
    return " ".join(lines[at : at + 2]) if lines[at].endswith(":") else lines[at]
