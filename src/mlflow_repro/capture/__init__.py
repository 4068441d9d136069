"""Capture: run every collector (bounded in time, never raising) and assemble the Manifest.

Collectors run in parallel daemon threads; one that fails or overruns leaves its section at the
"nothing known" default and a line in `Manifest.errors` (the `repro.capture.errors` tag).

What cannot change within a process (Python, the installed packages, the platform, the GPU) is
captured once (`capture`); what can (the code's state and the DVC data versions: a notebook or a
sweep edits files between runs) is taken again for each later run (`run_state`).
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

from mlflow_repro.capture.code import collect_code, repository_root
from mlflow_repro.capture.data import collect_data
from mlflow_repro.capture.environment import collect_environment
from mlflow_repro.capture.gpu import collect_gpu
from mlflow_repro.capture.platform import collect_platform
from mlflow_repro.capture.seeds import collect_seeds
from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging
from mlflow_repro.manifest import Code, Data, Environment, Gpu, Launch, Manifest, Platform, Seeds
from mlflow_repro.rng.ledger import Ledger
from mlflow_repro.secrets import redact_argv

RUN_SECTIONS = ("code", "data")  # what `run_state` takes again for each run


@dataclass(frozen=True)
class RunState:
    """What can change between two runs of one process, taken at a run's start: the code (commit,
    dirty flag, diff, untracked files) and the DVC data versions, with the code's payloads."""

    code: Code
    data: Data
    staging: Staging  # repro/git.diff, repro/untracked/...
    errors: list[str]


@dataclass(frozen=True)
class Captured:
    """This process's manifest and the directories holding its payloads: `staging` those of the
    process (the lock, the generator states), `run_staging` those of one run's code state. Each
    run logs both under `repro/`, beside a manifest.json of its own (`for_run`)."""

    manifest: Manifest
    staging: Staging
    run_staging: Staging | None = None
    session_staging: Staging | None = None  # an interactive session's cells, for one run

    def for_run(self, launch: Launch, state: RunState | None = None) -> Manifest:
        """The manifest of one run: `launch` says how that run was started (the process's argv,
        command, working directory and script are kept); `state`, taken at that run's start,
        replaces the first run's code and data."""
        process = self.manifest.launch
        own = dataclasses.replace(
            launch,
            argv=process.argv,
            command=process.command,
            workdir=process.workdir,
            script=process.script,
        )
        manifest = dataclasses.replace(self.manifest, launch=own)
        if state is None:
            return manifest
        kept = [
            e for e in manifest.errors if not e.startswith(tuple(f"{n}:" for n in RUN_SECTIONS))
        ]
        return dataclasses.replace(
            manifest, code=state.code, data=state.data, errors=kept + state.errors
        )

    def with_state(self, state: RunState) -> Captured:
        """This capture with `state`'s code payloads in place of the first run's."""
        return dataclasses.replace(self, run_staging=state.staging)

    def payload_roots(self) -> list[Path]:
        more = [s.root for s in (self.run_staging, self.session_staging) if s is not None]
        return [self.staging.root, *more]

    def with_session(self, manifest: Manifest) -> tuple[Captured, Manifest]:
        """For an interactive session: its cells so far staged (screened for secrets) and
        named in `manifest`'s launch; unchanged for a script."""
        from mlflow_repro.capture import interactive
        from mlflow_repro.secrets import has_secret_content

        session = interactive.current()
        if session is None:
            return self, manifest
        note, cells = session.why_not, None
        staging = Staging()
        if session.cells:
            text = interactive.as_script(session.cells).encode("utf-8", "surrogateescape")
            if has_secret_content(text):
                note = "the cells hold a credential: they were not recorded"
            else:
                cells = staging.add(interactive.CELLS_PAYLOAD, text)
        elif note is None:
            note = "no cells recorded"
        staging.close(discard_owners=set())
        launch = dataclasses.replace(
            manifest.launch,
            session=session.kind,
            session_cells=cells,
            session_note=note,
            notebook=interactive.notebook_in(manifest.code.repo_root, session.notebook),
            script=None,
        )
        own = dataclasses.replace(self, session_staging=staging)
        return own, dataclasses.replace(manifest, launch=launch)


def start_directory() -> Path:
    """Where this process started (`startdir.START_DIR`), else the working directory now."""
    from mlflow_repro.startdir import START_DIR

    return Path(START_DIR) if START_DIR else Path.cwd()


def script_path() -> Path | None:
    """The running script (`sys.argv[0]`), resolved from where the process started: a script
    that changes its working directory before `start_run` is still found."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is None or ("IPython" in sys.modules and _interactive_shell()):
        return None  # a kernel's argv[0] is ipykernel's launcher: the code is its cells
    script = script if script.is_absolute() else start_directory() / script
    return script.resolve() if script.is_file() else None


def _interactive_shell() -> bool:
    from mlflow_repro.capture.interactive import current

    session = current()
    return session is not None and session.kind != "repl"


def source_directory() -> Path:
    """Where the running code lives: the directory of sys.argv[0] (as MLflow's git context
    does), else the directory the process started in."""
    script = script_path()
    return script.parent if script is not None else start_directory()


def _within(path: Path | None, root: str | None) -> str | None:
    """`path` relative to `root` (POSIX), or None when either is unknown or it lies outside."""
    if path is None or root is None:
        return None
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix() or "."
    except (ValueError, OSError):
        return None


def _bounded(
    jobs: dict[str, Callable[[], tuple[Any, list[str]]]],
    defaults: dict[str, Any],
    timeout: float,
    staging: Staging | list[Staging],
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
    for each in staging if isinstance(staging, list) else [staging]:
        each.close(discard_owners={f"repro-{name}" for name in late})
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


def _run_jobs(
    start: Path, top: Path | None, staging: Staging, settings: Settings, partial: dict[str, Any]
) -> dict[str, Callable[[], tuple[Any, list[str]]]]:
    return {
        "code": lambda: collect_code(top, staging, settings, partial),
        "data": lambda: collect_data(start, top),
    }


def run_state(settings: Settings | None = None) -> RunState:
    """The code and data of a run starting now (in a process that captured before)."""
    settings = settings or Settings.from_env()
    start = source_directory()
    top = repository_root(start)
    staging = Staging()
    partial: dict[str, Any] = {}
    jobs = _run_jobs(start, top, staging, settings, partial)
    sections, errors = _bounded(
        jobs, {"code": Code(), "data": Data()}, settings.timeout_seconds, staging, partial
    )
    return RunState(sections["code"], sections["data"], staging, errors)


def capture(
    start: Path | None = None, settings: Settings | None = None, ledger: Ledger | None = None
) -> Captured:
    """Collect everything about this process's code, environment, data and machine (its launch
    record as a plain process's first run: `Captured.for_run` makes each run's own); the seeds
    from the process's seed `ledger` (the plugin passes its own)."""
    from mlflow_repro import __version__

    began = time.perf_counter()
    settings = settings or Settings.from_env()
    start = start or source_directory()
    staging, run_staging = Staging(), Staging()
    top = repository_root(start)
    partial: dict[str, Any] = {}
    jobs: dict[str, Callable[[], tuple[Any, list[str]]]] = {
        **_run_jobs(start, top, run_staging, settings, partial),
        "environment": lambda: collect_environment(start, top, staging, settings),
        "platform": collect_platform,
        "seeds": lambda: collect_seeds(staging, ledger),
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
    sections, errors = _bounded(
        jobs, defaults, settings.timeout_seconds, [staging, run_staging], partial
    )
    root = sections["code"].repo_root
    launch = Launch(
        argv=redact_argv(list(sys.argv)),
        command=redact_argv(list(getattr(sys, "orig_argv", [""])[1:])),
        # where the process started, not where the run found it: a script may chdir first
        workdir=_within(start_directory(), root),
        script=_within(script_path(), root),
    )
    manifest = Manifest(
        mlflow_repro_version=__version__,
        captured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        capture_seconds=round(time.perf_counter() - began, 4),
        launch=launch,
        errors=errors,
        **sections,
    )
    return Captured(manifest=manifest, staging=staging, run_staging=run_staging)
