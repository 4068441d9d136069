"""An interactive session's code: IPython's cells as typed, in order; cells with IPython syntax
cannot run as a script, so the run says so and replay refuses, naming them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.capture import interactive
from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Code, Launch, Manifest, Payload
from mlflow_repro.manifest.status import status
from mlflow_repro.replay.script import script_command


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real IPython shell (its history in a folder of its own)."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    from IPython.core.interactiveshell import InteractiveShell

    made = InteractiveShell.instance()
    yield made
    InteractiveShell.clear_instance()


def test_a_script_is_no_session() -> None:
    assert interactive.current() is None


def test_plain_cells_are_recorded_in_order_and_can_run_as_a_script(shell: Any) -> None:
    shell.run_cell("alpha = 0.1", store_history=True)
    shell.run_cell("beta = alpha * 2", store_history=True)
    found = interactive.current()
    assert found is not None and found.kind == "ipython"
    assert found.cells == ["alpha = 0.1", "beta = alpha * 2"] and found.plain
    assert found.why_not is None
    script = interactive.as_script(found.cells)
    scope: dict[str, Any] = {}
    exec(script, scope)
    assert scope["beta"] == 0.2 and script.index("# In [1]:") < script.index("# In [2]:")


def test_a_magic_makes_the_session_unreplayable_and_replay_says_which_cell(shell: Any) -> None:
    shell.run_cell("alpha = 0.1", store_history=True)
    shell.run_cell("%time beta = alpha * 2", store_history=True)
    found = interactive.current()
    assert found is not None and not found.plain
    assert found.why_not is not None and "cells 2 use IPython syntax" in found.why_not
    launch = Launch(
        session=found.kind,
        session_cells=Payload("repro/session/cells.py", "0" * 64, 10),
        session_note=found.why_not,
        workdir=".",
    )
    manifest = Manifest(code=Code(vcs="git", commit="a" * 40, complete=True), launch=launch)
    word, reasons = status(manifest)
    assert word == "incomplete" and any("interactive session: cells 2" in r for r in reasons)
    with pytest.raises(ReplayError, match="interactive session \\(ipython\\)"):
        script_command(manifest, Path("/workspace"), "r1")
    replayable = dataclasses.replace(
        manifest, launch=dataclasses.replace(launch, session_note=None)
    )
    args, cwd = script_command(replayable, Path("/workspace"), "r1")
    assert args == [".mlflow-repro-session.py"] and cwd == Path("/workspace/.")
