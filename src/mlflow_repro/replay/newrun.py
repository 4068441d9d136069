"""Finding the run a re-run started: a re-run plain script starts its runs itself; the plugin
tags each with the replay token, and the manifest's `launch.run_index` says which of them
stands for the original (a script that starts several runs is compared run for run)."""

from __future__ import annotations

from typing import Any

from mlflow_repro.errors import ReplayError
from mlflow_repro.names import REPLAY_TOKEN_TAG


def runs_with_token(client: Any, token: str) -> list[Any]:
    """Every run tagged with `token`, oldest first."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    return list(
        client.search_runs(
            experiments,
            filter_string=f"tags.`{REPLAY_TOKEN_TAG}` = '{token}'",
            order_by=["attributes.start_time ASC"],
        )
    )


def pick_new_run(found: list[Any], run_index: int, *, run_id: str, rerun: str) -> Any:
    """The run at `run_index` among `found` (oldest first), or a ReplayError that says how many
    runs the re-run started."""
    if len(found) <= run_index:
        raise ReplayError(
            f"the re-run {rerun} started {len(found)} run(s) tagged by mlflow-repro; the "
            f"original was run {run_index + 1} of its process",
            run_id=run_id,
            step="run",
            hint="is mlflow-repro installed in that environment (a dependency in its uv.lock), "
            "and does the script still start its runs?",
        )
    return found[run_index]
