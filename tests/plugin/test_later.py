"""A `repro/` upload that failed is tried once more as the process exits: logged then, the run
gets its status and loses the failure from its errors tag; still refused, it is printed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.capture import Captured
from mlflow_repro.manifest import Manifest
from mlflow_repro.manifest.status import status
from mlflow_repro.plugin import later
from mlflow_repro.plugin.publish import publish
from mlflow_repro.plugin.state import ProcessState
from tests.captures import small_capture
from tests.plugin.test_publish import Client, Repository, a_run, logged

ERRORS_TAG = "repro.capture.errors"


class DeletingClient(Client):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def delete_tag(self, run_id: str, key: str) -> None:
        del self.tags[run_id][key]  # MLflow's raises for a tag the run does not have

    def get_run(self, run_id: str) -> Any:
        run = a_run(run_id, self.root)
        run.data.tags = dict(self.tags.get(run_id, {}))
        return run


@pytest.fixture
def captured() -> Iterator[Captured]:
    made = small_capture()
    yield made
    made.staging.cleanup()


@pytest.fixture
def store(
    monkeypatch: pytest.MonkeyPatch, fresh_process: ProcessState
) -> dict[str, Exception | None]:
    """The artifact store: refuses writes while `store["error"]` is set."""
    from mlflow.store.artifact import artifact_repository_registry

    state: dict[str, Exception | None] = {"error": ConnectionError("server gone")}

    def get(artifact_uri: str, tracking_uri: str | None = None) -> Repository:
        return Repository(Path(artifact_uri), state["error"])

    monkeypatch.setattr(artifact_repository_registry, "get_artifact_repository", get)
    monkeypatch.setattr(later, "at_exit", lambda hook: None)  # the test calls it
    return state


def fail_then_retry(
    client: Any,
    run: Any,
    captured: Captured,
    store: dict[str, Exception | None],
    back: bool,
    meanwhile: Callable[[], None] = lambda: None,
) -> Manifest:
    """A publish that fails, `meanwhile` (the rest of the process), the retry at exit with the
    store `back` or not; returns the manifest published."""
    manifest = dataclasses.replace(captured.manifest, errors=[])
    assert not publish(client, run, captured, manifest)
    later.retry_at_exit(client, run, captured, manifest, with_tags=False)
    meanwhile()
    if back:
        store["error"] = None
    later._retry_all()
    return manifest


def test_a_failed_upload_is_logged_at_exit_once_the_server_is_back(
    tmp_path: Path,
    captured: Captured,
    store: dict[str, Exception | None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, run = DeletingClient(tmp_path), a_run("r", tmp_path)
    fail_then_retry(client, run, captured, store, back=True)
    assert logged(tmp_path / "r") == {"repro/git.diff", "repro/manifest.json"}
    manifest = Manifest.from_json((tmp_path / "r/repro/manifest.json").read_text())
    assert client.tags["r"]["repro.status"] == status(manifest)[0]
    assert ERRORS_TAG not in client.tags["r"]  # the failure's note cleared
    # the incomplete description written at the failure is replaced by the real one
    assert client.tags["r"]["mlflow.note.content"].startswith("**mlflow-repro: ")
    assert "`mlflow-repro reproduce r`" in client.tags["r"]["mlflow.note.content"]
    printed = capsys.readouterr().err
    assert "not logged to run r: ConnectionError: server gone" in printed
    assert "repro/ for run r will be tried again as this process exits" in printed
    assert "repro/ logged to run r on a second try" in printed


def test_a_store_still_refusing_at_exit_leaves_the_run_incomplete_and_says_so(
    tmp_path: Path,
    captured: Captured,
    store: dict[str, Exception | None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, run = DeletingClient(tmp_path), a_run("r", tmp_path)
    fail_then_retry(client, run, captured, store, back=False)
    assert not (tmp_path / "r").exists()
    assert client.tags["r"]["repro.status"] == "incomplete"
    assert "ConnectionError: server gone" in client.tags["r"][ERRORS_TAG]
    printed = capsys.readouterr().err
    assert "not logged to run r (second try, at exit): ConnectionError" in printed
    assert "on a second try" not in printed


def test_a_description_the_user_wrote_meanwhile_is_kept_by_the_retry(
    tmp_path: Path, captured: Captured, store: dict[str, Exception | None]
) -> None:
    client, run = DeletingClient(tmp_path), a_run("r", tmp_path)
    manifest = fail_then_retry(
        client,
        run,
        captured,
        store,
        back=True,
        meanwhile=lambda: client.set_tag("r", "mlflow.note.content", "my notes on this run"),
    )
    assert client.tags["r"]["mlflow.note.content"] == "my notes on this run"
    assert client.tags["r"]["repro.status"] == status(manifest)[0]
