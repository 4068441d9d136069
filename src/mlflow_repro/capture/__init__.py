"""Capture: run every collector (bounded in time, never raising) and assemble the Manifest.

Collectors run in parallel daemon threads; one that fails or overruns leaves its section at the
"nothing known" default and a line in `Manifest.errors` (the `repro.capture.errors` tag).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow_repro.capture.data import collect_data
from mlflow_repro.capture.git import collect_code, relative_workdir, repository_root
from mlflow_repro.capture.hardware import collect_gpu
from mlflow_repro.capture.lock import collect_environment
from mlflow_repro.capture.seeds import collect_seeds
from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging
from mlflow_repro.capture.system import collect_platform
from mlflow_repro.manifest import Code, Data, Environment, Gpu, Launch, Manifest, Platform, Seeds
from mlflow_repro.secrets import redact_argv


@dataclass(frozen=True)
class Captured:
    """A manifest and the directory holding its payloads (to be logged under `repro/`)."""

    manifest: Manifest
    staging: Staging


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
) -> tuple[dict[str, Any], list[str]]:
    finished: dict[str, tuple[Any, list[str]]] = {}

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
            out[name] = defaults[name]
            messages.append(f"{name}: timed out after {timeout:g}s")
        else:
            out[name], errors = finished[name]
            messages += [e if e.startswith(name) else f"{name}: {e}" for e in errors]
    return out, messages


def capture(
    launch: Launch | None = None, start: Path | None = None, settings: Settings | None = None
) -> Captured:
    """Collect everything about this process's code, environment, data and machine."""
    from mlflow_repro import __version__

    began = time.perf_counter()
    settings = settings or Settings.from_env()
    start = start or source_directory()
    staging = Staging()
    top = repository_root(start)
    jobs: dict[str, Callable[[], tuple[Any, list[str]]]] = {
        "code": lambda: collect_code(top, staging, settings),
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
    sections, errors = _bounded(jobs, defaults, settings.timeout_seconds, staging)
    base = launch or Launch()
    launch = Launch(
        launcher=base.launcher,
        entry_point=base.entry_point,
        argv=redact_argv(list(base.argv or sys.argv)),
        command=redact_argv(list(base.command or getattr(sys, "orig_argv", [""])[1:])),
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
    (staging.root / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return Captured(manifest=manifest, staging=staging)
