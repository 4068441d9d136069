"""Capture: run every collector (bounded in time, never raising) and assemble the Manifest.

Collectors run in parallel daemon threads; one that fails or overruns leaves its section at the
"nothing known" default and a line in `Manifest.errors` (the `repro.capture.errors` tag).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow_repro.capture.code import collect_code, relative_workdir, repository_root
from mlflow_repro.capture.data import collect_data
from mlflow_repro.capture.environment import collect_environment
from mlflow_repro.capture.gpu import collect_gpu
from mlflow_repro.capture.platform import collect_platform
from mlflow_repro.capture.seeds import collect_seeds
from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging
from mlflow_repro.manifest import Code, Data, Environment, Gpu, Launch, Manifest, Platform, Seeds
from mlflow_repro.secrets import redact_argv


@dataclass(frozen=True)
class Captured:
    """This process's manifest and the directory holding its payloads. Every run of the process
    logs those payloads under `repro/`, beside a manifest.json of its own (`for_run`)."""

    manifest: Manifest
    staging: Staging

    def for_run(self, launch: Launch) -> Manifest:
        """The manifest of one run: `launch` says how that run was started; the process's argv,
        command and working directory are kept."""
        process = self.manifest.launch
        own = dataclasses.replace(
            launch, argv=process.argv, command=process.command, workdir=process.workdir
        )
        return dataclasses.replace(self.manifest, launch=own)


def source_directory() -> Path:
    """Where the running code lives: the directory of sys.argv[0] (as MLflow's git context
    does), else the working directory."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.exists():
        return script.resolve().parent
    return Path.cwd()


def _bounded(
    jobs: dict[str, Callable[[], tuple[Any, list[str]]]],
    defaults: dict[str, Any],
    timeout: float,
    staging: Staging,
    partial: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run the collectors in parallel under one deadline. A collector past it gets its default,
    or what it had already put in `partial` under its name (the code collector's commit, branch,
    remote and dirty flag, read before its diff and untracked files)."""
    finished: dict[str, tuple[Any, list[str]]] = {}
    partial = partial if partial is not None else {}

    def work(name: str, job: Callable[[], tuple[Any, list[str]]]) -> None:
        try:
            finished[name] = job()
        except Exception as exc:
            finished[name] = (defaults[name], [f"{name}: {type(exc).__name__}: {exc}"])

    threads = [
        threading.Thread(target=work, args=(name, job), daemon=True, name=f"repro-{name}")
        for name, job in jobs.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = {name for name in jobs if name not in finished}
    # A collector past the deadline may still be writing: its payloads are discarded so that
    # what gets logged is exactly what the manifest lists.
    staging.close(discard_owners={f"repro-{name}" for name in late})
    out: dict[str, Any] = {}
    messages: list[str] = []
    for name in jobs:
        if name in late:
            out[name] = partial.get(name, defaults[name])
            kept = "; kept what it had read before" if name in partial else ""
            messages.append(f"{name}: timed out after {timeout:g}s{kept}")
        else:
            out[name], errors = finished[name]
            messages += [e if e.startswith(name) else f"{name}: {e}" for e in errors]
    return out, messages


def capture(start: Path | None = None, settings: Settings | None = None) -> Captured:
    """Collect everything about this process's code, environment, data and machine (its launch
    record as a plain process's first run: `Captured.for_run` makes each run's own)."""
    from mlflow_repro import __version__

    began = time.perf_counter()
    settings = settings or Settings.from_env()
    start = start or source_directory()
    staging = Staging()
    top = repository_root(start)
    partial: dict[str, Any] = {}
    jobs: dict[str, Callable[[], tuple[Any, list[str]]]] = {
        "code": lambda: collect_code(top, staging, settings, partial),
        "environment": lambda: collect_environment(start, top, staging),
        "data": lambda: collect_data(start, top),
        "platform": collect_platform,
        "seeds": lambda: collect_seeds(staging),
        "gpu": lambda: collect_gpu(timeout=min(5.0, settings.timeout_seconds)),
    }
    defaults = {
        "code": Code(),
        "environment": Environment(),
        "data": Data(),
        "platform": Platform(),
        "seeds": Seeds(),
        "gpu": Gpu(),
    }
    sections, errors = _bounded(jobs, defaults, settings.timeout_seconds, staging, partial)
    launch = Launch(
        argv=redact_argv(list(sys.argv)),
        command=redact_argv(list(getattr(sys, "orig_argv", [""])[1:])),
        workdir=relative_workdir(sections["code"].repo_root),
    )
    manifest = Manifest(
        mlflow_repro_version=__version__,
        captured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        capture_seconds=round(time.perf_counter() - began, 4),
        launch=launch,
        errors=errors,
        **sections,
    )
    return Captured(manifest=manifest, staging=staging)
