"""Environment step: the recorded lock and interpreter are what the re-run will use."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Manifest
from mlflow_repro.process import run, uv_binary

STEP = "environment"


def check_environment(
    manifest: Manifest, workspace: Path, run_id: str, *, in_image: bool = False
) -> None:
    """The recorded lock and interpreter are what the workspace will use, or a clear error.
    `in_image`: the re-run runs in an image, whose interpreter is its own (checked by image id),
    so this host's Pythons are not asked."""
    env = manifest.environment
    if env.lock_source == "uv.lock" and env.lock_file and env.lock_file_sha256:
        lock = workspace / env.lock_file
        found = hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else "missing"
        if found != env.lock_file_sha256:
            raise ReplayError(
                f"{env.lock_file} in the rebuilt workspace has sha256 {found}, the run recorded "
                f"{env.lock_file_sha256}: not the environment it ran in",
                run_id=run_id,
                step=STEP,
                hint="the recorded commit and diff should hold that lock: check the manifest",
            )
    version = env.python_version
    if version and not in_image:
        found_python = run(
            [uv_binary() or "uv", "python", "find", "--no-project", version], timeout=60
        )
        if not found_python.ok:
            raise ReplayError(
                f"the run ran on Python {version}, which is not installed here",
                run_id=run_id,
                step=STEP,
                hint=f"install it (`uv python install {version}`) and replay again",
            )


def _recorded_pins(manifest: Manifest, payloads: Path) -> dict[str, str]:
    """Name -> the version the run had: the recorded lock's pin for this platform, or what was
    installed where that differed from the lock (drift)."""
    from mlflow_repro.uvexport import PIN, marker_holds, marker_of, normalize, requirement_lines

    env = manifest.environment
    pins: dict[str, str] = {}
    if env.requirements is not None and env.lock_strength == "hashes":
        path = payloads / env.requirements.path
        text = path.read_text("utf-8") if path.is_file() else ""
        for line in requirement_lines(text):
            match = PIN.match(line)
            if match and marker_holds(marker_of(line)):
                pins[normalize(match.group(1))] = match.group(2)
    pins.update({d.name: d.installed for d in env.drift if d.installed})
    return pins


def check_builds(manifest: Manifest, payloads: Path, env_manager: str, run_id: str) -> None:
    """The re-run gets the builds the run used, or a ReplayError naming both: never a silent
    re-resolve. With uv or virtualenv the environment is rebuilt from the recorded lock, so a
    package that had drifted from the lock (a pip-installed CPU build of torch beside a lock that
    names the CUDA build, say) would come back as another build; with `local` the re-run uses
    this interpreter's packages, which must be the recorded ones."""
    from mlflow_repro.installed import (
        FRAMEWORKS,
        framework_builds,
        installed_distributions,
        supported,
    )

    env = manifest.environment
    if env_manager == "local":
        here = installed_distributions()
        pairs = [
            (name, used, here[name])
            for name, used in sorted(_recorded_pins(manifest, payloads).items())
            if name in here and here[name] != used
        ]
        now = {b.name: b for b in framework_builds(here, "")}
        pairs += [
            (b.name, f"{b.build} ({b.wheel})", f"{now[b.name].build} ({now[b.name].wheel})")
            for b in env.frameworks
            if b.name in now
            and b.name not in {p[0] for p in pairs}
            and (b.build, b.wheel) != (now[b.name].build, now[b.name].wheel)
        ]
        where = f"this environment ({sys.prefix}) has"
        fix = (
            "replay in an environment that holds the run's builds, or let replay rebuild the "
            "recorded lock (--env-manager uv)"
        )
    else:
        import platform

        pairs = [(d.name, d.installed or "?", d.locked or "?") for d in env.drift]
        pairs += [
            (
                b.name,
                f"{b.build} ({b.wheel})",
                f"another wheel of {b.name}=={b.version}, for "
                f"{platform.system()} {platform.machine()} and Python {platform.python_version()}",
            )
            for b in env.frameworks
            if b.wheel and not supported(b.wheel) and b.name not in {d.name for d in env.drift}
        ]
        where = f"the environment {env_manager} rebuilds from the recorded lock would install"
        fix = (
            "the run's environment was not its lock: lock the build it used (uv.lock; for a "
            "PyTorch variant an index in [tool.uv.sources]) and train again, or replay in an "
            "environment that holds it with --env-manager local"
        )
    if not pairs:
        return
    builds = {b.name: b for b in env.frameworks}

    def used_build(name: str, used: str) -> str:
        build = builds.get(name)
        if build is None or build.version != used:
            return used
        return f"{used} (build {build.build}, wheel {build.wheel})"

    pairs.sort(key=lambda pair: (pair[0] not in FRAMEWORKS, pair[0]))  # frameworks first
    shown = [
        f"{name} {other} where the run used {used_build(name, used)}"
        for name, used, other in pairs[:6]
    ]
    more = f", and {len(pairs) - 6} more" if len(pairs) > 6 else ""
    raise ReplayError(
        f"the re-run would not get the builds the run used: {where} {', '.join(shown)}{more}",
        run_id=run_id,
        step=STEP,
        hint=fix,
    )
