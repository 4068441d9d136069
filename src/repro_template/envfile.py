"""Generate `python_env.yaml` from `uv.lock`, and check that the committed one is current.

MLflow keys its environment cache on the contents of python_env.yaml, not on uv.lock
(../shared/facts.md). Listing the hash-pinned export of the lock makes the key follow the lock,
and gives `--env-manager virtualenv` a hash-checked install. The exact Python version comes from
`.python-version`.

`--env-manager virtualenv` runs one `pip install -r` for `build_dependencies`, then one for
`dependencies`, in a folder linked to the project's files. pip's hash-checking mode is all or
nothing per call, and a local directory cannot be hash-pinned, so the locked export (all hashed)
goes first, as `build_dependencies`, and the project itself (`.`, the plugin with its
run-context entry point) second, as `dependencies`: its requirements are satisfied by then, so
that second call adds the project and nothing else. Without the project no plugin would be
installed in that environment and its runs would carry no manifest.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import yaml

from mlflow_repro.uvexport import export_command, requirement_lines
from repro_template.errors import LockError

HEADER = (
    "# Generated from uv.lock, pyproject.toml and .python-version by `just lock`; do not edit.\n"
    "# build_dependencies: `uv export --no-dev --no-emit-project` with their hashes (installed\n"
    "# first, hash-checked; MLflow's environment cache key changes whenever the lock does).\n"
    "# dependencies: this project (the plugin), installed from the checkout once the lock's\n"
    "# packages are in place (pip cannot hash-check a directory); see repro_template/envfile.py\n"
)
PROJECT = "."
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def exact_python_version(project: Path) -> str:
    """The exact interpreter version the project pins in `.python-version`."""
    file = project / ".python-version"
    if not file.is_file():
        raise LockError(f"{file} not found: pin the exact Python version there (e.g. `3.11.7`)")
    version = file.read_text(encoding="utf-8").strip()
    if not EXACT_VERSION.match(version):
        raise LockError(
            f"{file} holds {version!r}, not an exact version: write major.minor.micro "
            "such as 3.11.7 so that every environment gets the same interpreter"
        )
    return version


def locked_requirements(project: Path) -> list[str]:
    """The runtime requirements of uv.lock, one line each with all of their hashes."""
    if not (project / "uv.lock").is_file():
        raise LockError(f"{project / 'uv.lock'} not found: run `uv lock` (or `just lock`) first")
    cmd = export_command()
    try:
        done = subprocess.run(
            cmd, cwd=project, capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LockError(f"`{' '.join(cmd)}` could not run: {exc}") from exc
    if done.returncode != 0:
        raise LockError(f"`uv export` failed (exit {done.returncode}): {done.stderr.strip()}")
    return requirement_lines(done.stdout)


def project_marker(project: Path) -> str:
    """A requirements-file comment carrying the hash of pyproject.toml.

    `--env-manager uv` builds the environment from pyproject.toml too (entry points, the project
    itself), yet MLflow's cache key covers only python_env.yaml: this line makes it follow.
    """
    digest = hashlib.sha256((project / "pyproject.toml").read_bytes()).hexdigest()
    return f"# pyproject.toml sha256:{digest}"


def render_python_env(project: Path) -> str:
    """The text python_env.yaml must hold for the current uv.lock and pyproject.toml."""
    body = {
        "python": exact_python_version(project),
        "build_dependencies": [project_marker(project), *locked_requirements(project)],
        "dependencies": [PROJECT],
    }
    return HEADER + yaml.safe_dump(body, sort_keys=False, width=10_000)


def write_python_env(project: Path) -> Path:
    path = project / "python_env.yaml"
    path.write_text(render_python_env(project), encoding="utf-8")
    return path


def check_python_env(project: Path) -> None:
    """Raise LockError when python_env.yaml is missing or differs from what uv.lock gives."""
    path = project / "python_env.yaml"
    expected = render_python_env(project)
    actual = path.read_text(encoding="utf-8") if path.is_file() else None
    if actual != expected:
        state = "missing" if actual is None else "out of date with uv.lock"
        raise LockError(f"{path} is {state}: run `just lock` and commit the result")
