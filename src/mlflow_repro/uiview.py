"""Where a person sees runs in the MLflow UI: a run's page, and the runs list that answers
"which runs can we rebuild?".

The list view is MLflow's own shared view (MLflow 3.17's runs page, no fork): the address
`#/experiments/<id>/runs?viewStateShareKey=mlflow-repro` makes the UI read the experiment tag
`mlflow.sharedViewState.mlflow-repro`, a JSON object holding the page's search facets
(`orderByKey`, `lifecycleFilter`, ...) and table state (`selectedColumns`, `columnOrder`,
`columnWidths`); column ids are the UI's canonical keys, "tags.`repro.status`". The view shows
each run's `repro.status`, `repro.replay.latest` (on originals), `repro.replay.verdict` and
`repro.replay.of` (on replays) first, newest run first. The UI applies the view only when the
address carries no search facet of its own (no `searchFilter=`, `orderByKey=`, ...).

`workflowType=machine_learning` in the address opens the UI's "Model training" side: MLflow
3.17 decides an experiment's kind per browser (the GenAI / Model training switch, kept in the
browser's storage; GenAI by default, whose experiment page opens on "Overview"), not from the
experiment tag `mlflow.experimentKind`, which that version no longer reads.

The experiment's description (MLflow's `mlflow.note.content` experiment tag, shown above its
runs list) links the view, unless someone else wrote a description there.

Imported by the commands (`reproduce`, `audit`), never by the plugin at `import mlflow`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from mlflow_repro.names import (
    DESCRIPTION_MARK,
    NOTE_TAG,
    REPLAY_LATEST_TAG,
    REPLAY_OF_TAG,
    REPLAY_VERDICT_TAG,
    STATUS_TAG,
)

VIEW_KEY = "mlflow-repro"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"  # MLflow's prefix, then the share key
WORKFLOW = "workflowType=machine_learning"
LOCAL_UI = "http://127.0.0.1:5000"  # where `mlflow ui` serves by default

# The table's columns, first, in this order (a tag column's id: "tags.`<key>`")
REPRO_COLUMNS = {
    STATUS_TAG: 110,
    REPLAY_LATEST_TAG: 140,
    REPLAY_VERDICT_TAG: 140,
    REPLAY_OF_TAG: 140,  # the first 12 or so characters of the original's id
}


def column_id(tag: str) -> str:
    """The runs table's id of a tag's column, as the UI makes it (its canonical sort key)."""
    return f"tags.`{tag}`"


def view_state() -> dict[str, Any]:
    """The list view: search facets (newest first, active runs) and table state."""
    columns = [column_id(tag) for tag in REPRO_COLUMNS]
    return {
        "searchFilter": "",
        "orderByKey": "attributes.start_time",
        "orderByAsc": False,
        "lifecycleFilter": "Active",
        "selectedColumns": [*columns, "attributes.`Source`", "attributes.`Models`"],
        "columnOrder": columns,
        "columnWidths": {column_id(tag): width for tag, width in REPRO_COLUMNS.items()},
    }


def view_json() -> str:
    """The view as the experiment tag holds it: plain JSON (the UI reads it, or its compressed
    form, which is what its own Share button writes)."""
    return json.dumps(view_state(), sort_keys=True, separators=(",", ":"))


def list_route(experiment_id: str) -> str:
    """The list view's route within the UI (after `#`)."""
    return f"#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}&{WORKFLOW}"


def run_route(experiment_id: str, run_id: str) -> str:
    """A run page's route within the UI (after `#`)."""
    return f"#/experiments/{experiment_id}/runs/{run_id}"


def experiment_description(experiment_id: str) -> str:
    """What the experiment's description says (markdown)."""
    return (
        f"{DESCRIPTION_MARK}which runs can be rebuilt?** "
        f"[The runs list with their status and latest replay verdict]({list_route(experiment_id)})"
    )


def ui_address(tracking_uri: str) -> str | None:
    """The UI's address for a tracking server (`http(s)://...`: MLflow's server serves its UI
    at the tracking URI), without credentials, query or fragment; None for any other store."""
    if not re.match(r"^https?://", tracking_uri, re.I):
        return None
    from mlflow_repro.secrets import WITHHELD, strip_url_credentials

    shown = strip_url_credentials(tracking_uri)
    return None if shown == WITHHELD else shown.rstrip("/")


def ensure_list_view(client: Any, experiment_id: str) -> bool:
    """Give the experiment the list view (the tag, written when missing or out of date) and a
    description linking it (when it has none, or one of ours). False when the view is not
    there and the store refused it (a user without write permission); never raises."""
    try:
        tags = dict(client.get_experiment(experiment_id).tags or {})
    except Exception:
        return False
    there = tags.get(VIEW_TAG) == view_json()
    try:
        if not there:
            client.set_experiment_tag(experiment_id, VIEW_TAG, view_json())
            there = True
        described = str(tags.get(NOTE_TAG) or "")
        if not described.strip() or described.startswith(DESCRIPTION_MARK):
            wanted = experiment_description(experiment_id)
            if described != wanted:
                client.set_experiment_tag(experiment_id, NOTE_TAG, wanted)
    except Exception:
        pass
    return there


def addresses(
    client: Any, runs: dict[str, str], lists_of: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(label, address) to print: each run's page (`runs`: label -> run id) and the list view of
    their experiments and of those of `lists_of` (run ids whose pages are not wanted), which
    this gives them (`ensure_list_view`), all on the UI's "Model training" side (`WORKFLOW`).
    At the tracking server's address; for another store at `mlflow ui`'s default one, then
    ("", how to serve it). Empty when the store has no UI of MLflow's (Databricks) or the runs
    cannot be read; never raises."""
    from mlflow_repro.store import shown_uri, tracking_uri_of

    uri = tracking_uri_of(client)
    base = ui_address(uri)
    local = base is None
    if local and uri.split(":", 1)[0].lower() in ("databricks", "uc"):
        return []
    base = base or LOCAL_UI
    found: list[tuple[str, str]] = []
    experiments: list[str] = []
    try:
        for label, run_id in runs.items():
            experiment = str(client.get_run(run_id).info.experiment_id)
            found.append((label, f"{base}/{run_route(experiment, run_id)}?{WORKFLOW}"))
            if experiment not in experiments:
                experiments.append(experiment)
        for run_id in lists_of:
            experiment = str(client.get_run(run_id).info.experiment_id)
            if experiment not in experiments:
                experiments.append(experiment)
    except Exception:
        return []
    for experiment in experiments:
        if ensure_list_view(client, experiment):
            found.append(("list view", f"{base}/{list_route(experiment)}"))
    if local and found:
        found.append(
            (
                "",
                f"(this store has no UI address: `mlflow ui --backend-store-uri "
                f"{shown_uri(uri)}` serves one at {LOCAL_UI})",
            )
        )
    return found
