"""The run `mlflow run . -e reproduce -P run_id=<id>` makes for the reproduce command itself.

MLflow creates a run for every entry point it launches, this one too; left alone it would be a
run of the template like any other, captured and tagged `reproducible`, with no word of the
replay it started. Instead it is told apart before `import mlflow` (the plugin then does not
capture it) and, once the replay is done, it says what it did: its name (`<original> ·
reproduce`), tags linking the original and the replay and carrying the verdict, and a
description with both links; a replay that could not be made puts its error there.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from mlflow_repro.names import (
    CAPTURED_RUN_VAR,
    DESCRIPTION_MARK,
    REPLAY_VERDICT_TAG,
    REPRODUCE_ERROR_TAG,
    REPRODUCE_OF_TAG,
    REPRODUCE_REPLAY_TAG,
)

if TYPE_CHECKING:
    from mlflow_repro.replay.result import ReplayResult

NOTE_TAG = "mlflow.note.content"
RUN_NAME_TAG = "mlflow.runName"


def current() -> str | None:
    """The run `mlflow run` made for this reproduce command (MLFLOW_RUN_ID), if any; marked as
    captured, so that the plugin, loaded at `import mlflow`, leaves it alone. Call it before
    mlflow is imported."""
    run_id = os.environ.get("MLFLOW_RUN_ID", "").strip()
    if not run_id:
        return None
    os.environ[CAPTURED_RUN_VAR] = run_id
    return run_id


def _link(client: Any, run_id: str) -> str:
    from mlflow_repro.replay.reproduce import _run_link  # the replay's own links: one way

    return _run_link(client, run_id)


def _name_of(client: Any, run_id: str) -> str:
    try:
        return str(client.get_run(run_id).data.tags.get(RUN_NAME_TAG) or run_id[:8])
    except Exception:
        return run_id[:8]


def _is_reproduce_run(client: Any, run_id: str) -> bool:
    """Whether `run_id` is the run `mlflow run -e reproduce` made: a job that merely calls
    `mlflow-repro reproduce` from its own run must not have that run renamed or described."""
    entry = client.get_run(run_id).data.tags.get("mlflow.project.entryPoint")
    return bool(entry == "reproduce")


def _full_id(client: Any, run_id: str) -> str:
    try:
        from mlflow_repro.store import resolve_run_id

        return str(resolve_run_id(client, run_id))
    except Exception:
        return run_id  # as typed: it named no run (that is the error recorded)


def record(wrapper: str, result: ReplayResult) -> None:
    """The wrapper run says which replay it made and its verdict (never raises)."""
    from mlflow.entities import RunTag
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient()
        if not _is_reproduce_run(client, wrapper):
            return
        original, new, verdict = result.original_run_id, result.new_run_id, result.verdict
        note = (
            f"{DESCRIPTION_MARK}reproduce of run {_link(client, original)}: "
            f"{verdict.verdict}**\n\nThis run is `mlflow-repro reproduce` itself, launched by "
            f"`mlflow run -e reproduce`: it holds no model and is not a replay. The replay is "
            f"run {_link(client, new)} ({verdict.metrics_compared} metrics, "
            f"{verdict.params_compared} params, {verdict.model_files_compared} model files "
            f"compared, {len(verdict.differences)} differences)."
        )
        tags = {
            REPRODUCE_OF_TAG: original,
            REPRODUCE_REPLAY_TAG: new,
            REPLAY_VERDICT_TAG: verdict.verdict,
            RUN_NAME_TAG: f"{_name_of(client, original)} · reproduce",
            NOTE_TAG: note,
        }
        client.log_batch(wrapper, tags=[RunTag(k, v[:5000]) for k, v in tags.items()])
    except Exception as exc:
        print(f"mlflow-repro: run {wrapper} not described: {exc}", file=sys.stderr)


def record_failure(wrapper: str, original: str, error: BaseException) -> None:
    """The wrapper run says the replay could not be made, and why (never raises)."""
    from mlflow.entities import RunTag
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient()
        if not _is_reproduce_run(client, wrapper):
            return
        original = _full_id(client, original)
        reason = str(error).strip() or type(error).__name__
        note = (
            f"{DESCRIPTION_MARK}reproduce of run {_link(client, original)}: no replay**\n\n"
            f"This run is `mlflow-repro reproduce` itself, launched by `mlflow run -e "
            f"reproduce`; it made no replay:\n\n```\n{reason[:3000]}\n```"
        )
        tags = {
            REPRODUCE_OF_TAG: original,
            REPRODUCE_ERROR_TAG: reason[:5000],
            RUN_NAME_TAG: f"{_name_of(client, original)} · reproduce",
            NOTE_TAG: note,
        }
        client.log_batch(wrapper, tags=[RunTag(k, v[:5000]) for k, v in tags.items()])
    except Exception as exc:
        print(f"mlflow-repro: run {wrapper} not described: {exc}", file=sys.stderr)
