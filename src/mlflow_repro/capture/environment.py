"""Collect the environment: Python build, the uv-locked requirements with hashes, and drift."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sysconfig
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging
from mlflow_repro.installed import (
    FRAMEWORKS,
    dist_info_folders,
    framework_builds,
    installed_distributions,
)
from mlflow_repro.manifest import Drift, Environment, InstalledWheel
from mlflow_repro.process import MAX_OUTPUT_BYTES, Result, run
from mlflow_repro.uvexport import (
    PIN,
    PYLOCK_TOML,
    export_command,
    marker_holds,
    marker_of,
    normalize,
    requirement_lines,
    uv_binary,
)

REQUIREMENTS = "requirements.lock.txt"
PYLOCK = "pylock.toml"


def find_lock(start: Path, stop: Path | None) -> Path | None:
    """The nearest uv.lock from `start` up to `stop` (the repository root) inclusive."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / "uv.lock").is_file():
            return folder / "uv.lock"
        if stop is not None and folder == stop.resolve():
            return None
    return None


def _archive_sha256(direct_url: dict[str, Any]) -> tuple[str | None, str]:
    info = direct_url.get("archive_info") or {}
    recorded = (info.get("hashes") or {}).get("sha256")
    if not recorded and str(info.get("hash", "")).startswith("sha256="):
        recorded = info["hash"].split("=", 1)[1]
    if recorded:
        return recorded, "installer"
    url = str(direct_url.get("url", ""))
    if url.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        file = Path(unquote(urlsplit(url).path))
        if file.is_file() and file.suffix == ".whl":
            return hashlib.sha256(file.read_bytes()).hexdigest(), "file"
    return None, "none"


def installed_wheels() -> list[InstalledWheel]:
    """Distributions installed from an archive (not an index), with the archive's sha256."""
    from mlflow_repro.secrets import strip_url_credentials

    found: dict[str, InstalledWheel] = {}
    for name, version, info in dist_info_folders():
        direct = info / "direct_url.json"
        if name in found or not direct.is_file():
            continue
        try:
            data = json.loads(direct.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if "archive_info" not in data:
            continue  # editable or VCS installs: the code is the checkout, not a wheel
        digest, source = _archive_sha256(data)
        found[name] = InstalledWheel(
            name=name,
            version=version,
            url=strip_url_credentials(str(data.get("url", ""))),
            sha256=digest,
            hash_source=source,
        )
    return sorted(found.values(), key=lambda w: w.name)


def _pins(lines: list[str]) -> dict[str, str]:
    """Name -> locked version for the lines that apply here (a lock may fork by marker)."""
    pins = {}
    for line in lines:
        match = PIN.match(line)
        if match and marker_holds(marker_of(line)):
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def _drift(locked: dict[str, str], installed: dict[str, str]) -> list[Drift]:
    return [
        Drift(name=name, locked=version, installed=installed.get(name))
        for name, version in sorted(locked.items())
        # Locked but absent is not drift (dev tools, other platforms' markers): a different
        # installed version is.
        if name in installed and installed[name] != version
    ]


_LOCKED_NAME = re.compile(r'^\[\[package\]\]\r?\nname = "([^"]+)"', re.MULTILINE)
# The installer the environment was made with, not something a job imports (venv seeds pip).
_INSTALLERS = frozenset({"pip"})


def _locked_names(lock: Path) -> set[str]:
    """Every package uv.lock names, in any group (dev tools included): read as text, fast."""
    try:
        return {normalize(n) for n in _LOCKED_NAME.findall(lock.read_text("utf-8"))}
    except (OSError, UnicodeDecodeError):
        return set()


def _installers(names: set[str]) -> dict[str, str]:
    """Name -> the tool that installed it (the dist-info's INSTALLER file: uv, pip, ...)."""
    found: dict[str, str] = {}
    for name, _, folder in dist_info_folders():
        if name in names and name not in found:
            try:
                found[name] = (folder / "INSTALLER").read_text("utf-8").strip()
            except OSError:
                found[name] = ""
    return found


def _unlocked(lines: list[str], installed: dict[str, str], lock: Path) -> dict[str, str]:
    """Installed beside the lock: distributions the export (what replay installs) does not name,
    except those uv installed from another group of this uv.lock (dev tools), the project and
    the installer. A package pip-installed next to a uv environment is listed unless the export
    names it; a framework whose whole group is installed is exported with that group (then a
    build other than the lock's shows as drift, which replay refuses)."""
    exported = {normalize(m.group(1)) for m in map(PIN.match, lines) if m}
    project = _project_name(lock.parent)
    others = {n for n in installed if n not in exported and n != project and n not in _INSTALLERS}
    in_lock = _locked_names(lock) & others
    by = _installers(in_lock)
    return {
        name: installed[name]
        for name in sorted(others)
        if not (name in in_lock and by.get(name) == "uv")
    }


def _project_name(root: Path | None) -> str | None:
    if root is None or not (root / "pyproject.toml").is_file():
        return None
    import tomllib

    try:
        name = tomllib.loads((root / "pyproject.toml").read_text("utf-8"))["project"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return normalize(str(name))


def _image() -> str | None:
    """The container image the launcher names, credential-free (a registry URL may carry a
    user and token: `https://user:<token>@registry/img`)."""
    from mlflow_repro.secrets import strip_url_credentials

    value = os.environ.get("MLFLOW_REPRO_IMAGE", "").strip()
    if not value:
        return None
    if "://" in value:
        return strip_url_credentials(value)
    if "@" in value.split("/", 1)[0] and ":" in value.split("@", 1)[0]:
        return value.split("@", 1)[1]  # user:token@registry/img
    return value


def _python(**fields: Any) -> Environment:
    build = platform.python_build()
    return Environment(
        wheels=installed_wheels(),
        image=_image(),
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
        python_build=f"{build[0]} ({build[1]})",
        python_compiler=platform.python_compiler(),
        **fields,
    )


_GROUP_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)")


def installed_groups(project: Path, installed: dict[str, str]) -> list[str]:
    """The optional dependency groups of `project/pyproject.toml` this environment holds: those
    beyond uv's default groups (and never `dev`) whose every requirement is installed. A job that
    installed PyTorch from the lock (`uv sync --group torch`) ran with the `torch` group: its
    locked requirements must name torch and its NVIDIA wheels, with their hashes."""
    import tomllib

    try:
        data = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))
    except (OSError, ValueError):
        return []
    groups = data.get("dependency-groups") or {}
    defaults = ((data.get("tool") or {}).get("uv") or {}).get("default-groups", ["dev"])
    if defaults == "all" or not isinstance(groups, dict):
        return []
    found = []
    for group, entries in sorted(groups.items()):
        if group in defaults or group == "dev" or not isinstance(entries, list):
            continue
        names = [m.group(1) for e in entries if isinstance(e, str) and (m := _GROUP_NAME.match(e))]
        if names and all(normalize(n) in installed for n in names):
            found.append(group)
    return found


def _selection(groups: Sequence[str]) -> list[str]:
    """What to export besides the runtime set: no network, and the optional groups held."""
    return ["--offline", *(arg for group in groups for arg in ("--group", group))]


def export_lock(lock: Path, groups: Sequence[str] = ()) -> tuple[list[str] | None, str | None]:
    """The lock's requirements, one line each with their hashes, via `uv export` (no network);
    the default groups and `groups`."""
    from mlflow_repro.secrets import redact_requirement_urls

    if uv_binary() is None:
        return None, "uv not found: cannot export uv.lock (install uv: pip install uv)"
    done = run(export_command(*_selection(groups)), cwd=lock.parent, timeout=10)
    if not done.ok:
        return None, f"uv export of {lock} failed: {done.error}"
    # uv copies a direct-URL source as uv.lock has it (`pkg @ https://user:<token>@host/...`,
    # `?token=...`; it masks only a git source's password): the staged file, and the sha256 the
    # manifest records for it, are of the lines without them.
    return requirement_lines(redact_requirement_urls(done.stdout.decode())), None


class PylockExport:
    """`uv export --format pylock.toml` (PEP 751) of the same selection as the requirements:
    started in a thread of its own, so that the two uv processes run side by side and the
    environment collector waits for the slower one, not for both in turn. The pylock cannot be
    derived from the requirements (it names each wheel's and sdist's URL, size and upload time,
    which the requirements export leaves out), so it is uv's own export."""

    def __init__(self, lock: Path, groups: Sequence[str]) -> None:
        self.lock = lock
        self._done: Result | None = None
        self._thread = threading.Thread(
            target=self._export, args=(list(groups),), daemon=True, name="repro-pylock-export"
        )
        self._thread.start()

    def _export(self, groups: list[str]) -> None:
        command = export_command(*_selection(groups), format=PYLOCK_TOML)
        self._done = run(command, cwd=self.lock.parent, timeout=10)

    def result(self, cap: int) -> tuple[bytes | None, str | None]:
        """The export, its URLs redacted as the requirements' are, or why there is none: uv
        failed (older than 0.6.15), or it is larger than `cap` bytes."""
        from mlflow_repro.secrets import redact_requirement_urls

        self._thread.join()  # bounded: `run` stops uv after 10 s
        done = self._done
        if done is None or not done.ok:
            why = done.error if done is not None else "the export thread failed"
            return None, f"uv export --format pylock.toml of {self.lock} failed: {why}"
        size = len(done.stdout)
        if size > min(cap, MAX_OUTPUT_BYTES - 1):
            return None, (
                f"repro/{PYLOCK} not recorded: uv's export is {size} bytes, over the cap of {cap} "
                "(MLFLOW_REPRO_MAX_PYLOCK_BYTES)"
            )
        try:
            text = done.stdout.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, f"repro/{PYLOCK} not recorded: uv's export is not UTF-8 ({exc})"
        return redact_requirement_urls(text).encode("utf-8"), None


def collect_environment(
    start: Path, repo_root: Path | None, staging: Staging, settings: Settings | None = None
) -> tuple[Environment, list[str]]:
    settings = settings or Settings()
    errors: list[str] = []
    installed = installed_distributions()
    lock = find_lock(start, repo_root)
    lines: list[str] | None = None
    groups: list[str] = []
    pylock: PylockExport | None = None
    if lock is not None:
        groups = installed_groups(lock.parent, installed)
        if uv_binary() is not None:
            pylock = PylockExport(lock, groups)
        lines, error = export_lock(lock, groups)
        if error:
            errors.append(error)
    if lines is not None and lock is not None:
        payload = staging.add(REQUIREMENTS, ("\n".join(lines) + "\n").encode())
        where = (
            lock.relative_to(repo_root) if repo_root and lock.is_relative_to(repo_root) else lock
        )
        try:
            lock_text = lock.read_text("utf-8") if set(FRAMEWORKS) & set(installed) else ""
        except (OSError, UnicodeDecodeError):
            lock_text = ""
        environment = _python(
            frameworks=framework_builds(installed, lock_text),
            lock_source="uv.lock",
            lock_strength="hashes",
            lock_file=str(where),
            lock_file_sha256=hashlib.sha256(lock.read_bytes()).hexdigest(),
            requirements=payload,
            requirement_count=len(lines),
            groups=groups,
            drift=_drift(_pins(lines), installed),
            unlocked=_unlocked(lines, installed, lock),
        )
        if pylock is not None:  # waited for last: it ran while the rest was read
            data, error = pylock.result(settings.max_pylock_bytes)
            if data is not None:
                environment = replace(environment, pylock=staging.add(PYLOCK, data))
            if error:
                errors.append(error)
        return environment, errors
    # No usable lock: what is installed, exact versions but no hashes (weaker).
    purelib = sysconfig.get_paths().get("purelib", "")
    lines = [f"{name}=={version}" for name, version in sorted(installed.items())]
    header = f"# installed distributions (no uv.lock found); versions only, from {purelib}\n"
    payload = staging.add(REQUIREMENTS, (header + "\n".join(lines) + "\n").encode())
    return _python(
        lock_source="installed-distributions",
        lock_strength="versions-only",
        requirements=payload,
        requirement_count=len(lines),
    ), errors
