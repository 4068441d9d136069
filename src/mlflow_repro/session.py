"""This process's capture: made once, shared by every run the process starts, and the runs'
numbering.

The plugin (new runs) and the resumed-run lifecycle (`mlflow run` children) both take it from
here. Each run gets the next `run_index` (0 for the first), which its own manifest records.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from typing import TYPE_CHECKING

from mlflow_repro.names import DISABLE_VAR

if TYPE_CHECKING:
    from mlflow_repro.capture import Captured

CAPTURE_ID = uuid.uuid4().hex  # one id per capturing process: the tag repro.capture.id


def _start_directory() -> str | None:
    """The directory this process started in, where its relative `argv[0]` and the relative
    paths it was given mean something: the working directory as the plugin loads (at `import
    mlflow`, before the script's own `os.chdir` as a rule), or the shell's `$PWD` when the script
    is not found from there but is from it (a chdir before `import mlflow`)."""
    try:
        here: str | None = os.getcwd()
    except OSError:
        here = None
    script = sys.argv[0] if sys.argv else ""
    relative = bool(script) and not os.path.isabs(script) and script.endswith(".py")
    if relative and (here is None or not os.path.exists(os.path.join(here, script))):
        pwd = os.environ.get("PWD", "")
        if pwd and os.path.exists(os.path.join(pwd, script)):
            return pwd
    return here


START_DIR = _start_directory()

_capture_lock = threading.Lock()  # held for the whole capture: later callers wait for it
_count_lock = threading.Lock()
_captured: Captured | None = None
_runs_started = 0


def enabled() -> bool:
    return os.environ.get(DISABLE_VAR, "").strip().lower() not in {"1", "true", "yes"}


def process_capture() -> Captured:
    """This process's capture, made by the first caller."""
    global _captured
    with _capture_lock:
        if _captured is None:
            from mlflow_repro.capture import capture

            _captured = capture()
        return _captured


def captured() -> Captured | None:
    """The capture if one was made, else None (never starts one)."""
    return _captured


def next_run_index() -> int:
    """0 for the first run this process starts, then 1, 2, ..."""
    global _runs_started
    with _count_lock:
        index = _runs_started
        _runs_started += 1
        return index
