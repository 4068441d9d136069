"""What a job needs in place before its run starts: its framework and its data.

Both come from what the repository locks, never from a fresh resolve:

- the framework (PyTorch, TensorFlow) from uv.lock's dependency group, hash-checked, installed by
  `uv sync --group <group>` into the environment the job runs in (the one `mlflow run` built, or
  `.venv`), so that `mlflow run -P conf_file=confs/training-torch.yaml .` works with any
  environment manager and the run's manifest records the group with its hashes;
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


def ensure_framework(model: Any, conf_file: str, project: Path | None = None) -> None:
    """Install the config's framework from uv.lock into this environment when it is missing, or
    fail before any run is touched, saying how to get it."""
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
    _say(
        f"{name} is not installed in {sys.prefix}: installing dependency group '{group}' from "
        f"uv.lock, hash-checked ({size} the first time; uv's cache keeps it for later)"
    )
    cmd = [str(uv), "sync", "--frozen", "--inexact", "--no-dev", "--no-install-project"]
    cmd += ["--group", group, "--python", sys.executable]
    if sys.flags.dont_write_bytecode:
        # PYTHONDONTWRITEBYTECODE: no .pyc is ever written, so every process would compile the
        # framework again (TensorFlow: ~10 s an import); compile once here instead.
        cmd.append("--compile-bytecode")
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": sys.prefix}
    done = subprocess.run(cmd, cwd=project, env=env, check=False)  # uv's progress: the terminal
    importlib.invalidate_caches()
    if done.returncode != 0 or importlib.util.find_spec(module) is None:
        raise ConfigError(
            conf_file,
            [
                f"job.model.KIND: {model.KIND} needs {module}; installing dependency group "
                f"'{group}' from uv.lock into {sys.prefix} failed (`{' '.join(cmd)}` exited "
                f"{done.returncode}; its output is above). Check the network and the disk, "
                "then run again"
            ],
        )
    _say(f"{name} installed from uv.lock (group '{group}')")


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
    pulled = _dvc("pull", "--quiet", path, cwd=project)
    how = "pulled from the DVC remote"
    if pulled.returncode != 0 or not target.is_file():
        _say("no copy in the DVC remote: rebuilding it with its stage (dvc repro)")
        rebuilt = _dvc("repro", "--quiet", cwd=project)
        how = "rebuilt by dvc repro"
        if rebuilt.returncode != 0 or not target.is_file():
            raise DataError(
                f"training data '{path}' is not in the workspace and DVC could not bring it: "
                f"dvc pull said {_last_line(pulled)!r}, dvc repro said {_last_line(rebuilt)!r}",
                value=path,
                hint="check the DVC remote in .dvc/config (`dvc remote list`) and run `just data`",
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


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit {done.returncode}"
