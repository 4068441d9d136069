"""The run a re-run script started is chosen by the manifest's run_index among the runs tagged
with the replay token, oldest first; too few is an error that says how many there were."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mlflow_repro.errors import ReplayError
from mlflow_repro.replay.newrun import pick_new_run

FOUND = [SimpleNamespace(info=SimpleNamespace(run_id=f"new-{i}")) for i in range(2)]


@pytest.mark.parametrize("index", [0, 1])
def test_the_run_at_the_recorded_position_is_chosen(index: int) -> None:
    assert pick_new_run(FOUND, index, run_id="old", rerun="`x`").info.run_id == f"new-{index}"


def test_too_few_runs_is_an_error_that_counts_them() -> None:
    with pytest.raises(ReplayError) as info:
        pick_new_run(FOUND, 2, run_id="old", rerun="`python t.py` (exit status 0)")
    message = str(info.value)
    assert "started 2 run(s)" in message and "run 3 of its process" in message
    assert info.value.run_id == "old" and info.value.step == "run" and info.value.hint
