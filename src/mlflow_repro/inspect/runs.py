"""What inspect reads: a target resolved to a run, and that run's manifest with its payloads,
their hashes and the manifest's signature checked (reported, never raised)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro.errors import UsageError
from mlflow_repro.manifest.reader import LoggedRecord, read_logged
from mlflow_repro.names import REPLAY_OF_TAG
from mlflow_repro.store import is_not_found, resolve_run_id, shown_uri, store_error

MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Target:
    """A run, reached directly or through a registered model version."""

    given: str
    run_id: str
    model_name: str | None = None
    model_version: str | None = None
    model_source: str | None = None  # the version's source (models:/m-... or runs:/...)


# A run as inspect sees it: the one reader's record (manifest/reader.py).
RunRecord = LoggedRecord


def client_for(tracking_uri: str | None) -> Any:
    from mlflow_repro.store import tracking_client

    return tracking_client(tracking_uri)


def resolve(client: Any, given: str) -> Target:
    """`given` as a run id (or a unique prefix of one, 8 characters at least) or a
    `models:/name/version` / `models:/name@alias` URI."""
    from mlflow.exceptions import MlflowException

    match = MODEL_URI.match(given.strip())
    if given.startswith("models:/") and match is None:
        raise UsageError(
            "not a registered model URI this command reads",
            value=given,
            hint="write models:/<name>/<version> or models:/<name>@<alias>",
        )
    if match is None:
        return Target(given=given, run_id=resolve_run_id(client, given))
    name, version, alias = match.group("name", "version", "alias")
    try:
        found = (
            client.get_model_version(name, version)
            if version
            else client.get_model_version_by_alias(name, alias)
        )
    except MlflowException as exc:
        if not is_not_found(exc):
            raise store_error(exc, client) from None
        raise UsageError(
            f"the model registry of {shown_uri(client)!r} has no such version ({exc.error_code})",
            value=given,
            hint="list versions with `mlflow models` or the UI's Models page; check the alias",
        ) from None
    if not found.run_id:
        raise UsageError(
            "the model version names no source run: it was not logged from an MLflow run",
            value=given,
            hint="audit the run that produced the model instead",
        )
    return Target(
        given=given,
        run_id=str(found.run_id),
        model_name=name,
        model_version=str(found.version),
        model_source=str(found.source or ""),
    )


def load_record(client: Any, run_id: str, into: Path) -> RunRecord:
    """The run, its manifest and payloads downloaded into `into`, hashes and signature checked:
    the one reader's record. Raises UsageError only when the run does not exist or the store does
    not answer; what is wrong with the record is in its `findings`."""
    return read_logged(client, run_id, into)


def replays_of(client: Any, run: Any) -> list[Any]:
    """Runs that replayed `run` (tagged repro.replay.of), newest first."""
    experiments = [run.info.experiment_id]
    return list(
        client.search_runs(
            experiments,
            filter_string=f"tags.`{REPLAY_OF_TAG}` = '{run.info.run_id}'",
            order_by=["attributes.start_time DESC"],
        )
    )
