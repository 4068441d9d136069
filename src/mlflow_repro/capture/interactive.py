"""The code an interactive session ran: Jupyter and IPython cells, in order; a plain REPL.

A run started from a notebook has no script to re-run: its code is the cells the kernel executed,
and IPython keeps them (`history_manager.input_hist_raw`, the `In` list, this session's only).
They are recorded as one payload, `repro/session/cells.py`, screened for secrets like any other.
When every cell is plain Python (no `%magic` or `!shell` line: IPython's translation of each cell
is the cell itself), replay can run them in order as a script; otherwise, or where the cells are
not known (a plain REPL: readline's history mixes in earlier sessions), the run is `incomplete`
with the reason. A Jupyter server tells the kernel its notebook (`JPY_SESSION_NAME`): recorded
when it lies in the repository.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro.names import SESSION_CELLS

CELLS_PAYLOAD = SESSION_CELLS  # under repro/


@dataclass(frozen=True)
class Session:
    kind: str  # "jupyter", "ipython" or "repl"
    cells: list[str]  # as typed, in order; empty when not known
    plain: bool  # every cell is plain Python: a script runs them
    why_not: str | None  # why replay cannot run them, or None
    notebook: str | None  # the notebook's path, as the Jupyter server named it


def _ipython() -> Any:
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None)
    try:
        return get() if get is not None else None
    except Exception:
        return None


def current() -> Session | None:
    """The interactive session this process is, or None for a script (or `python -c`)."""
    shell = _ipython()
    if shell is not None:
        kind = "jupyter" if "ipykernel" in type(shell).__module__ else "ipython"
        history = shell.history_manager
        raw = [str(c) for c in history.input_hist_raw[1:]]
        parsed = [str(c) for c in history.input_hist_parsed[1:]]
        magic = [i + 1 for i, (r, p) in enumerate(zip(raw, parsed, strict=False)) if r != p]
        why = (
            f"cells {', '.join(map(str, magic[:5]))} use IPython syntax (magics, !shell): "
            "they cannot run as a Python script"
            if magic
            else None
        )
        notebook = os.environ.get("JPY_SESSION_NAME") or None
        return Session(kind, raw, not magic, why, notebook)
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return Session(
            "repl",
            [],
            False,
            "a plain Python prompt: its lines are not recorded (readline's history mixes in "
            "earlier sessions)",
            None,
        )
    return None


def as_script(cells: list[str]) -> str:
    """The cells as one Python file, each headed by its number (as Jupyter shows `In [n]`)."""
    parts = [f"# In [{i}]:\n{cell.rstrip()}\n" for i, cell in enumerate(cells, start=1)]
    return "\n".join(parts)


def notebook_in(root: str | None, notebook: str | None) -> str | None:
    """The notebook's path relative to the repository, when it lies there."""
    if not root or not notebook:
        return None
    try:
        return Path(notebook).resolve().relative_to(Path(root).resolve()).as_posix()
    except (ValueError, OSError):
        return None
