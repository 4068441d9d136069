"""The plugin's one import finder: acts on the modules it was told of as they are imported, runs
a waiting action at the first import after its condition holds, never breaks an import, and is
the only finder mlflow-repro puts on `sys.meta_path`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.plugin.importhook import ImportFinder


@pytest.fixture
def finder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ImportFinder]:
    """A finder of its own, and three importable modules in a folder on sys.path."""
    for name in ("alpha", "beta", "gamma"):
        (tmp_path / f"repro_probe_{name}.py").write_text(f"NAME = {name!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    made = ImportFinder()
    yield made
    if made in sys.meta_path:
        sys.meta_path.remove(made)
    for name in ("alpha", "beta", "gamma"):
        sys.modules.pop(f"repro_probe_{name}", None)


def test_a_module_imported_later_is_handed_to_its_wraps_once_executed(
    finder: ImportFinder,
) -> None:
    seen: list[Any] = []
    finder.after_import("repro_probe_alpha", lambda module: seen.append(module.NAME))
    assert seen == [] and sys.meta_path[0] is finder
    import repro_probe_alpha  # type: ignore[import-not-found]  # noqa: F401
    import repro_probe_beta  # type: ignore[import-not-found]  # noqa: F401  (not watched)

    assert seen == ["alpha"]


def test_a_module_already_imported_is_wrapped_now_unless_told_otherwise(
    finder: ImportFinder,
) -> None:
    import repro_probe_alpha  # noqa: F401

    now: list[str] = []
    later: list[str] = []
    finder.after_import("repro_probe_alpha", lambda module: now.append(module.NAME))
    finder.after_import("repro_probe_alpha", lambda m: later.append(m.NAME), now=False)
    assert now == ["alpha"] and later == []


def test_a_failing_wrap_is_printed_and_the_import_goes_on(
    finder: ImportFinder, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(module: Any) -> None:
        raise RuntimeError("cannot adjust")

    finder.after_import("repro_probe_alpha", broken)
    import repro_probe_alpha  # noqa: F401

    assert sys.modules["repro_probe_alpha"].NAME == "alpha"
    assert "repro_probe_alpha not adjusted: cannot adjust" in capsys.readouterr().err


def test_a_waiting_action_runs_once_at_the_first_import_after_its_condition_holds(
    finder: ImportFinder,
) -> None:
    ready = {"now": False}
    ran: list[str] = []
    finder.when_ready(lambda: ready["now"], lambda: ran.append("done"))
    import repro_probe_alpha  # noqa: F401  (not ready yet)

    assert ran == [] and finder.waiting
    ready["now"] = True
    import repro_probe_beta  # noqa: F401
    import repro_probe_gamma  # type: ignore[import-not-found]  # noqa: F401

    assert ran == ["done"] and finder.waiting == []


def test_mlflow_repro_puts_one_finder_on_the_meta_path(tmp_path: Path) -> None:
    """With every user of it active: the replay's registration guard, `mlflow run`'s launch
    guard, automatic seeding of a framework imported later, and the create_run hook."""
    code = (
        "import sys, mlflow, mlflow.projects, mlflow.tracking._model_registry.fluent\n"
        "import mlflow_repro.plugin.state as state\n"
        "ours = [f for f in sys.meta_path if type(f).__module__.startswith('mlflow_repro')]\n"
        "print(len(ours), ours[0] is state.process().finder,"
        " sorted(state.process().finder.wraps))\n"
    )
    env = {**os.environ, "MLFLOW_REPRO_REPLAY_OF": "0" * 32, "MLFLOW_REPRO_AUTO_SEED": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    count, same, *watched = done.stdout.split(" ", 2)
    assert (count, same) == ("1", "True"), done.stdout + done.stderr
    assert "'torch'" in watched[0] and "'mlflow.tracking._model_registry.fluent'" in watched[0]
