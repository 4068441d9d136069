"""The plugin's process state: one `ProcessState` per process, which the provider takes as
MLflow instantiates it (at `import mlflow`) and every part of the plugin reaches through
`process()`.

What it holds, and who writes it:
- the capture id (`repro.capture.id`), the seed `ledger` (automatic seeding, `seed_everything`);
- this process's one capture, made by its first run (`process_capture`), and the runs'
  numbering (`next_run_index`: 0 for the first run, which its manifest records);
- the new runs' jobs (`runjob.py`): the one `tags()` started in each thread, by run id;
- the resumed run's capture thread and the manifests logged (`resumed.py`);
- the uploads to try again at exit (`later.py`);
- the files the process opened in its repository (`inputs.py`);
- the one import finder (`importhook.py`).

A test takes a fresh one with `tests.conftest.fresh_process` (one attribute, `_PROCESS`).
Imports only os, sys, threading and uuid at load.
"""

from __future__ import annotations

import os
import threading
import uuid

from mlflow_repro.names import DISABLE_VAR
from mlflow_repro.plugin.importhook import ImportFinder
from mlflow_repro.rng.ledger import Ledger
from mlflow_repro.startdir import START_DIR

# mypy reads this block; at run time nothing from typing is imported (startup cost).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mlflow_repro.capture import Captured
    from mlflow_repro.manifest import Manifest


class ProcessState:
    """Everything the plugin keeps for the life of one process."""

    def __init__(self) -> None:
        self.capture_id = uuid.uuid4().hex  # one id per capturing process
        self.start_dir = START_DIR
        self.ledger = Ledger()
        self.finder = ImportFinder()
        self.autoseed_done = False  # automatic seeding installed (autoseed.install, once)
        self.generators_watched = False  # the generators' imports are watched (autoseed)
        # this process's capture, shared by its runs, and their numbering
        self._capture_lock = threading.Lock()  # held for the whole capture: later callers wait
        self.captured: Captured | None = None
        self._count_lock = threading.Lock()
        self.runs_started = 0
        # new runs (runjob.py)
        self.jobs_lock = threading.Lock()
        self.job_here = threading.local()  # `.job`: the job tags() started in this thread
        self.jobs_by_run: dict[str, Any] = {}
        self.jobs_begun = 0
        # the run `mlflow run` created (resumed.py)
        self.resumed_threads: list[threading.Thread] = []
        self.resumed_published: dict[str, Manifest] = {}  # run id -> manifest logged to it
        # uploads to try again at exit (later.py): (client, run, captured, manifest, with_tags)
        self.retry_lock = threading.Lock()
        self.retries: list[tuple[Any, Any, Captured, Manifest, bool]] = []
        # files opened in the repository (inputs.py)
        self.inputs_lock = threading.Lock()
        self.inputs_root: str | None = None  # the repository watched, once set
        self.opened: set[str] = set()
        self.written: set[str] = set()  # opened for writing: outputs, even when read back

    @staticmethod
    def enabled() -> bool:
        return os.environ.get(DISABLE_VAR, "").strip().lower() not in {"1", "true", "yes"}

    def process_capture(self) -> Captured:
        """This process's capture, made by the first caller (later callers wait for it)."""
        with self._capture_lock:
            if self.captured is None:
                from mlflow_repro.capture import capture

                self.captured = capture(ledger=self.ledger)
            return self.captured

    def next_run_index(self) -> int:
        """0 for the first run this process starts, then 1, 2, ..."""
        with self._count_lock:
            index = self.runs_started
            self.runs_started += 1
            return index


_PROCESS: ProcessState | None = None
_made = threading.Lock()


def process() -> ProcessState:
    """This process's state (made by the first caller: the provider, at `import mlflow`)."""
    global _PROCESS
    if _PROCESS is None:
        with _made:
            if _PROCESS is None:
                _PROCESS = ProcessState()
    return _PROCESS
