"""This process's capture: made once, shared by every run the process starts, and the runs'
numbering.

The plugin (new runs) and the resumed-run lifecycle (`mlflow run` children) both take it from
here. Each run gets the next `run_index` (0 for the first), which its own manifest records.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import TYPE_CHECKING

from mlflow_repro.names import DISABLE_VAR

if TYPE_CHECKING:
    from mlflow_repro.capture import Captured

CAPTURE_ID = uuid.uuid4().hex  # one id per capturing process: the tag repro.capture.id

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
