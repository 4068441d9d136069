"""Many replays: which runs are chosen, how the table and the exit status sum them up."""

from __future__ import annotations

import pytest

from mlflow_repro.errors import UsageError
from mlflow_repro.replay.batch import COULD_NOT, BatchItem, exit_status, select_runs, table
from tests.conftest import NO_CAPTURE


@pytest.fixture
def store(tracking_uri: str) -> dict[str, str]:
    """Four runs in two experiments: two reproducible, one unlocked, and a replay of the first."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    prod = client.create_experiment("prod")
    dev = client.create_experiment("dev")
    made = {
        "a": client.create_run(
            prod, tags={"repro.status": "reproducible", **NO_CAPTURE}
        ).info.run_id,
        "b": client.create_run(prod, tags={"repro.status": "unlocked", **NO_CAPTURE}).info.run_id,
        "c": client.create_run(
            dev, tags={"repro.status": "reproducible", **NO_CAPTURE}
        ).info.run_id,
    }
    made["replay"] = client.create_run(
        prod, tags={"repro.status": "reproducible", "repro.replay.of": made["a"], **NO_CAPTURE}
    ).info.run_id
    return made


def test_runs_are_chosen_by_id_experiment_and_filter_never_replays_of_runs(
    store: dict[str, str], tracking_uri: str
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    assert select_runs(client, ["x", "y", "x"], [], None) == ["x", "y"]
    assert set(select_runs(client, [], ["prod"], None)) == {store["a"], store["b"]}
    good = "tags.\"repro.status\" = 'reproducible'"
    assert set(select_runs(client, [], [], good)) == {store["a"], store["c"]}
    assert select_runs(client, [], ["prod"], good) == [store["a"]]
    assert select_runs(client, [store["c"]], ["prod"], good) == [store["c"], store["a"]]
    with pytest.raises(UsageError, match="no experiment named or numbered 'nope'"):
        select_runs(client, [], ["nope"], None)
    with pytest.raises(UsageError, match="the search filter was refused"):
        select_runs(client, [], [], "tags.status ===")


def test_the_table_and_exit_status_sum_the_batch_up() -> None:
    same = BatchItem("r1", "identical", "n1", 12.0)
    other = BatchItem("r2", "different", "n2", 9.5, ["metric test_f1: 0.9 -> 0.8"])
    failed = BatchItem(
        "r3", COULD_NOT, seconds=1.0, error="mlflow-repro: error: run r3: no such run"
    )
    assert exit_status([same]) == 0
    assert exit_status([same, other]) == 1
    assert exit_status([same, other, failed]) == 2
    text = table([same, other, failed])
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["run", "verdict", "new", "run"]
    assert "metric test_f1: 0.9 -> 0.8" in lines[2] and "no such run" in lines[3]
    assert lines[-1] == "3 replays: 1 could not replay, 1 different, 1 identical"
