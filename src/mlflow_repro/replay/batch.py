"""Many replays at once: the auditor's "re-verify every model in production" in one command.

The runs are named by id, or found by MLflow search (`--experiment`, `--filter`); replays of runs
are never themselves selected. Each replay is its own `mlflow-repro reproduce <id> --json`
process (a replay sets environment variables and starts `mlflow run` in-process: one process
each keeps them apart), at most `jobs` at a time, and one table sums them up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mlflow_repro.errors import UsageError
from mlflow_repro.names import REPLAY_OF_TAG, REPRODUCE_OF_TAG

SCHEMA = "mlflow-repro.replays/1"
COULD_NOT = "could not replay"


@dataclass(frozen=True)
class BatchItem:
    """One replay of the batch: its verdict, or why it could not run."""

    run_id: str
    verdict: str  # identical, within_tolerance, different, or "could not replay"
    new_run_id: str = ""
    seconds: float = 0.0
    differences: list[str] = field(default_factory=list)
    error: str = ""


def select_runs(
    client: Any,
    run_ids: Sequence[str],
    experiments: Sequence[str],
    filter_string: str | None,
    limit: int = 1000,
) -> list[str]:
    """The runs to replay: the ids given (full, or unique prefixes of 8 or more), then those
    the search finds (replays and reproduce-command runs excluded), each once, in order."""
    from mlflow_repro.store import resolve_run_id

    chosen = list(dict.fromkeys(resolve_run_id(client, r) for r in run_ids))
    if not experiments and not filter_string:
        return chosen
    ids = []
    for name in experiments:
        found = client.get_experiment_by_name(name)
        if found is None:
            try:
                found = client.get_experiment(name)
            except Exception:
                found = None
        if found is None:
            raise UsageError(
                f"no experiment named or numbered {name!r}",
                value=name,
                hint="`mlflow experiments search` lists them",
            )
        ids.append(found.experiment_id)
    if not ids:
        ids = [e.experiment_id for e in client.search_experiments()]
    # replays, and the runs `mlflow run -e reproduce` made for the command itself, are not
    # runs to replay
    condition = f'tags."{REPLAY_OF_TAG}" IS NULL AND tags."{REPRODUCE_OF_TAG}" IS NULL'
    where = f"{filter_string} AND {condition}" if filter_string else condition  # no parentheses
    try:
        runs = client.search_runs(ids, where, max_results=limit, order_by=["start_time ASC"])
    except Exception as exc:
        from mlflow_repro.store import is_not_found, is_store_failure, store_error

        if is_store_failure(exc) and not is_not_found(exc):
            raise store_error(exc, client) from None
        raise UsageError(
            f"the search filter was refused: {exc}",
            value=filter_string,
            hint="MLflow's search syntax: tags.\"repro.status\" = 'reproducible'",
        ) from None
    for found_run in runs:
        if found_run.info.run_id not in chosen:
            chosen.append(found_run.info.run_id)
    return chosen


def _one(run_id: str, options: Sequence[str]) -> BatchItem:
    began = time.perf_counter()
    cmd = [sys.executable, "-m", "mlflow_repro", "reproduce", run_id, "--json", *options]
    # Each replay in its own process, which is no `mlflow run -e reproduce` wrapper: the run
    # such a wrapper has (MLFLOW_RUN_ID) is not theirs to describe.
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_RUN_ID"}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    took = round(time.perf_counter() - began, 1)
    try:
        result = json.loads(done.stdout)
        verdict = result["verdict"]
        return BatchItem(
            run_id,
            verdict["verdict"],
            result["new_run_id"],
            took,
            list(verdict["differences"]),
        )
    except (ValueError, KeyError, TypeError):
        lines = [x for x in done.stderr.splitlines() if x.strip()]
        errors = [x for x in lines if "error:" in x] or lines[-1:] or [f"exit {done.returncode}"]
        error = errors[-1].strip().removeprefix("mlflow-repro: error: ")
        return BatchItem(
            run_id, COULD_NOT, seconds=took, error=error.removeprefix(f"run {run_id} ")
        )


def replay_all(
    run_ids: Sequence[str],
    options: Sequence[str],
    jobs: int,
    on_done: Callable[[BatchItem], None] | None = None,
) -> list[BatchItem]:
    """Replay each run (at most `jobs` at once); `options` are passed to each `reproduce`."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_one, run_id, options) for run_id in run_ids]
        items = []
        for future in futures:
            item = future.result()
            if on_done is not None:
                on_done(item)
            items.append(item)
    return items


def exit_status(items: Sequence[BatchItem]) -> int:
    """2 when any replay could not run, else 1 when any differed, else 0."""
    if any(i.verdict == COULD_NOT for i in items):
        return 2
    return 1 if any(i.verdict == "different" for i in items) else 0


def table(items: Sequence[BatchItem]) -> str:
    """One line per replay, and a summary line."""
    rows = [("run", "verdict", "new run", "seconds", "first difference or error")]
    for i in items:
        first = i.error or (i.differences[0] if i.differences else "")
        rows.append((i.run_id, i.verdict, i.new_run_id or "-", f"{i.seconds:.1f}", first[:100]))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = ["  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4] for r in rows]
    counts: dict[str, int] = {}
    for i in items:
        counts[i.verdict] = counts.get(i.verdict, 0) + 1
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    return "\n".join([*lines, f"{len(items)} replays: {summary}"])


def as_json(items: Sequence[BatchItem]) -> str:
    from dataclasses import asdict

    return json.dumps({"schema": SCHEMA, "replays": [asdict(i) for i in items]}, indent=2)
