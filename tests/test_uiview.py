"""The runs list that answers "which runs can we rebuild?" (MLflow's shared view of an
experiment), the addresses the commands print, and what a replay writes where the UI shows it.
The browser's side is tests/e2e/test_ui.py."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro import uiview
from mlflow_repro.replay.reproduce import _record, replay_name, with_latest_line
from mlflow_repro.replay.result import ReplayResult, Verdict
from tests.conftest import NO_CAPTURE, REPO_ROOT

SRC = REPO_ROOT / "src" / "mlflow_repro"
HEADLINE = "**mlflow-repro: reproducible**"
OURS = f"{HEADLINE}\n\nRebuild and verify: `mlflow-repro reproduce r`.\n\n- code: commit `abc`"


def test_the_view_is_json_the_ui_reads_with_the_repro_columns_first() -> None:
    state = json.loads(uiview.view_json())
    columns = [
        "tags.`repro.status`",
        "tags.`repro.replay.latest`",
        "tags.`repro.replay.verdict`",
        "tags.`repro.replay.of`",
    ]
    assert state["selectedColumns"][:4] == state["columnOrder"] == columns
    assert set(state["columnWidths"]) == set(columns)
    assert (state["orderByKey"], state["orderByAsc"]) == ("attributes.start_time", False)
    assert uiview.VIEW_TAG == "mlflow.sharedViewState.mlflow-repro"
    assert uiview.list_route("7") == (
        "#/experiments/7/runs?viewStateShareKey=mlflow-repro&workflowType=machine_learning"
    )
    assert uiview.run_route("7", "r1") == "#/experiments/7/runs/r1"


@pytest.mark.parametrize(
    ("uri", "address"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://ml:s3cret@mlflow.example.com/", "https://mlflow.example.com"),
        ("https://mlflow.example.com/team?token=x", "https://mlflow.example.com/team"),
        ("sqlite:///mlflow.db", None),
        ("postgresql://ml:pw@db/mlflow", None),
        ("databricks", None),
        ("./mlruns", None),
    ],
)
def test_only_a_tracking_server_has_a_ui_address(uri: str, address: str | None) -> None:
    assert uiview.ui_address(uri) == address


def test_an_experiment_gets_the_view_once_and_a_description_linking_it(tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    mine, ours = client.create_experiment("mine"), client.create_experiment("ours")
    client.set_experiment_tag(mine, "mlflow.note.content", "my experiment")
    for experiment in (mine, ours):
        assert uiview.ensure_list_view(client, experiment)
        tags = client.get_experiment(experiment).tags
        assert json.loads(tags[uiview.VIEW_TAG]) == uiview.view_state()
    assert client.get_experiment(mine).tags["mlflow.note.content"] == "my experiment"
    described = client.get_experiment(ours).tags["mlflow.note.content"]
    assert described.startswith("**mlflow-repro: which runs can be rebuilt?**")
    assert f"]({uiview.list_route(ours)})" in described

    class ReadOnly:  # there already: nothing written; a store refusing writes: no view
        def __init__(self, tags: dict[str, str]) -> None:
            self.tags = tags

        def get_experiment(self, _: str) -> Any:
            return self

        def set_experiment_tag(self, *_: str) -> None:
            raise PermissionError("read-only")

    assert uiview.ensure_list_view(ReadOnly(client.get_experiment(ours).tags), ours)
    assert not uiview.ensure_list_view(ReadOnly({}), ours)


def test_the_addresses_for_a_local_store_say_how_to_serve_it(tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    run = client.create_run("0", tags=NO_CAPTURE).info.run_id
    found = uiview.addresses(client, {"run page": run})
    assert found[:2] == [
        ("run page", f"http://127.0.0.1:5000/#/experiments/0/runs/{run}?{uiview.WORKFLOW}"),
        ("list view", f"http://127.0.0.1:5000/{uiview.list_route('0')}"),
    ]
    assert found[2] == (
        "",
        f"(this store has no UI address: `mlflow ui --backend-store-uri {tracking_uri}` serves "
        "one at http://127.0.0.1:5000)",
    )
    assert uiview.addresses(client, {"run page": "f" * 32}) == []  # no such run: nothing


def test_the_latest_replay_line_goes_under_the_headline_replacing_the_last() -> None:
    line = "Latest replay: **identical** (run [n1](#/experiments/1/runs/n1))"
    first = with_latest_line(OURS, line)
    assert first.split("\n\n")[:2] == [HEADLINE, line]
    assert first.split("\n\n")[2:] == OURS.split("\n\n")[1:]
    again = with_latest_line(first, line.replace("n1", "n2"))
    assert again == first.replace("n1", "n2")
    at_the_end = f"{OURS}\n\n{line}"  # where replays put it before
    assert with_latest_line(at_the_end, line) == first


def test_a_replay_is_named_after_the_run_it_replays(tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    named = client.create_run("0", run_name="training", tags=NO_CAPTURE)
    assert replay_name(client.get_run(named.info.run_id), named.info.run_id) == "training · replay"
    assert replay_name(None, "0123456789abcdef") == "01234567 · replay"


def test_recording_a_replay_names_it_describes_both_and_gives_the_view(tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment = client.create_experiment("e")
    tags = {**NO_CAPTURE, "mlflow.note.content": OURS}
    original = client.create_run(experiment, run_name="training", tags=tags).info.run_id
    mine = client.create_run(experiment, tags={**NO_CAPTURE, "mlflow.note.content": "my notes"})
    for replayed in (original, mine.info.run_id):
        new = client.create_run(experiment, run_name="training", tags=NO_CAPTURE).info.run_id
        _record(client, ReplayResult(replayed, new, "/w", Verdict("identical", 3)), "c" * 40)
        assert client.get_run(new).info.run_name.endswith(" · replay")
    note = client.get_run(original).data.tags["mlflow.note.content"]
    assert note.split("\n\n")[1].startswith("Latest replay: **identical** (run [")
    assert client.get_run(mine.info.run_id).data.tags["mlflow.note.content"] == "my notes"
    assert uiview.VIEW_TAG in client.get_experiment(experiment).tags


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return names


def test_the_plugin_never_imports_the_view_and_the_view_no_plugin() -> None:
    for path in [*(SRC / "plugin").glob("*.py"), *(SRC / "capture").glob("*.py")]:
        assert not {n for n in imported(path) if n.startswith("mlflow_repro.uiview")}, path
    forbidden = ("mlflow_repro.plugin", "mlflow_repro.capture", "mlflow_repro.rng")
    assert not {n for n in imported(SRC / "uiview.py") if n.startswith(forbidden)}


def test_reproduce_and_audit_print_the_run_pages_and_the_list_view(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    from mlflow_repro import cli
    from mlflow_repro.replay import reproduce

    client = MlflowClient(tracking_uri)
    original = client.create_run("0", tags=NO_CAPTURE).info.run_id
    new = client.create_run("0", tags=NO_CAPTURE).info.run_id
    result = ReplayResult(original, new, "/w", Verdict("identical", 3))
    monkeypatch.setattr(reproduce, "reproduce", lambda *args, **kwargs: result)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    assert cli.main(["reproduce", original]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"replay of {original}: new run {new}: identical")
    local = "http://127.0.0.1:5000/#/experiments/0/runs"
    assert lines[1:4] == [
        f"  replay:    {local}/{new}?workflowType=machine_learning",
        f"  original:  {local}/{original}?workflowType=machine_learning",
        f"  list view: {local}?viewStateShareKey=mlflow-repro&workflowType=machine_learning",
    ]
    assert lines[4].startswith("  (this store has no UI address: `mlflow ui --backend-store-uri")
    assert cli.main(["reproduce", original, "-q"]) == 0
    assert "list view" not in capsys.readouterr().out  # -q: the verdict only

    assert cli.main(["audit", original[:8]]) == 1  # no manifest: not rebuildable
    out = capsys.readouterr().out
    assert f"  run page:  {local}/{original}?workflowType=machine_learning\n" in out
    assert cli.main(["audit", original, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["run_id"] == original  # JSON only


def test_several_replays_print_the_list_view_beside_the_progress_not_in_the_table(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    from mlflow_repro import cli
    from mlflow_repro.replay import batch

    client = MlflowClient(tracking_uri)
    a, b = (client.create_run("0", tags=NO_CAPTURE).info.run_id for _ in range(2))
    items = [batch.BatchItem(a, "identical", new_run_id=b), batch.BatchItem(b, batch.COULD_NOT)]
    monkeypatch.setattr(batch, "replay_all", lambda *args: items)
    assert cli.main(["reproduce", a, b]) == 2
    out, err = capsys.readouterr()
    assert out == batch.table(items) + "\n"
    assert f"  list view: http://127.0.0.1:5000/{uiview.list_route('0')}\n" in err
