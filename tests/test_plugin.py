"""The run-context provider: every run `mlflow.start_run` creates, nested ones too, gets its own
manifest; `tags()` answers only `start_run`, within MLflow's limits, and never raises."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlflow_repro import plugin, session
from mlflow_repro.capture import Captured
from mlflow_repro.manifest import Manifest
from mlflow_repro.manifest.status import status
from mlflow_repro.publish import MAX_TAG_KEY, MAX_TAG_VALUE
from tests.captures import small_capture


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    """This process's capture, made already (a small one), and no run started yet."""
    made = small_capture()
    monkeypatch.setattr(session, "_captured", made)
    monkeypatch.setattr(session, "_runs_started", 0)
    yield made
    made.staging.cleanup()


def test_a_parent_and_its_nested_run_each_get_their_own_manifest(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)  # the default artifact root is relative
    with mlflow.start_run() as parent, mlflow.start_run(nested=True) as child:
        pass
    client = MlflowClient()
    for run, index in ((parent, 0), (child, 1)):
        run_id = run.info.run_id
        local = client.download_artifacts(run_id, "repro", str(tmp_path / run_id))
        manifest = Manifest.from_json((Path(local) / "manifest.json").read_text())
        assert manifest.launch.run_index == index
        assert manifest.launch.launcher == "python" and manifest.launch.parameters is None
        assert (Path(local) / "git.diff").is_file()
        tags = client.get_run(run_id).data.tags
        assert tags["repro.capture.id"] == session.CAPTURE_ID
        assert tags["repro.git.commit"] == captured.manifest.code.commit
        assert tags["repro.status"] == status(manifest)[0]  # set once repro/ was logged


def test_the_tags_given_with_a_new_run_claim_no_status(
    monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    """The status says the run holds its manifest: publish sets it after the upload."""
    monkeypatch.setattr(plugin, "_called_by_start_run", lambda: True)
    monkeypatch.setattr(session, "_captured", captured)
    tags = plugin.ReproRunContext().tags()
    assert tags["repro.git.commit"] == captured.manifest.code.commit
    assert "repro.status" not in tags


def test_tags_are_empty_unless_start_run_asks(
    monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setattr(session, "_captured", None)
    provider = plugin.ReproRunContext()
    assert provider.in_context()
    assert provider.tags() == {}  # as datasets, logged models and traces ask
    assert session.captured() is None  # and nothing was captured for them


def test_tags_stay_within_mlflow_limits(
    monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    monkeypatch.setattr(plugin, "_called_by_start_run", lambda: True)
    huge = dataclasses.replace(
        captured.manifest, errors=[f"collector {i}: " + "x" * 300 for i in range(200)]
    )
    monkeypatch.setattr(session, "_captured", dataclasses.replace(captured, manifest=huge))
    monkeypatch.setenv("MLFLOW_REPRO_REPLAY_TOKEN", "t" * 9000)
    tags = plugin.ReproRunContext().tags()
    assert tags["repro.capture.errors"].startswith("collector 0")
    assert all(len(k) <= MAX_TAG_KEY and len(v) <= MAX_TAG_VALUE for k, v in tags.items())


def test_a_failing_capture_is_an_errors_tag_not_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> Captured:
        raise RuntimeError("no temporary directory")

    monkeypatch.setattr(plugin, "_called_by_start_run", lambda: True)
    monkeypatch.setattr(session, "process_capture", broken)
    tags = plugin.ReproRunContext().tags()
    assert tags == {"repro.capture.errors": "plugin: RuntimeError: no temporary directory"}


def test_capture_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REPRO_DISABLE", "1")
    assert not plugin.ReproRunContext().in_context()


def test_the_entry_point_loads_the_provider() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="mlflow.run_context_provider") if e.name == "repro"]
    assert entry.load() is plugin.ReproRunContext


def test_importing_the_plugin_stays_cheap() -> None:
    """MLflow imports it (and so the package and its lazy public API) at `import mlflow`,
    before mlflow itself is fully loaded."""
    import subprocess
    import sys

    code = (
        "import sys, mlflow_repro.plugin\n"
        "heavy = ('mlflow', 'numpy', 'yaml', 'mlflow_repro.capture', 'mlflow_repro.manifest',"
        " 'mlflow_repro.resumed', 'mlflow_repro.publish', 'mlflow_repro.replay')\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
