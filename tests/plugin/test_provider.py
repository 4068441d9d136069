"""The run-context provider: every run `mlflow.start_run` creates, nested ones too, gets its own
manifest; `tags()` answers only `start_run`, within MLflow's limits, and never raises."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlflow_repro import plugin
from mlflow_repro.capture import Captured
from mlflow_repro.manifest import Manifest
from mlflow_repro.manifest.status import status
from mlflow_repro.plugin import hooks
from mlflow_repro.plugin.publish import MAX_TAG_KEY, MAX_TAG_VALUE
from mlflow_repro.plugin.state import ProcessState
from tests.captures import small_capture


@pytest.fixture
def captured(fresh_process: ProcessState) -> Iterator[Captured]:
    """This process's capture, made already (a small one), and no run started yet."""
    made = small_capture()
    fresh_process.captured = made
    yield made
    made.staging.cleanup()


@pytest.fixture
def states(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each run's own code state, as `run_state` takes it: commits b..., c..., each with its
    own staged diff. Yields the commits handed out, in order."""
    import threading

    from mlflow_repro import capture
    from mlflow_repro.capture import RunState
    from mlflow_repro.capture.staging import Staging
    from mlflow_repro.manifest import Code, Data

    handed: list[str] = []
    lock = threading.Lock()  # the jobs of two runs take their states at once

    def run_state() -> RunState:
        with lock:
            commit = "bc"[len(handed)] * 40
            handed.append(commit)
        staging = Staging()
        diff = staging.add("git.diff", f"diff --git a/{commit[0]}.py b/{commit[0]}.py\n".encode())
        return RunState(Code(vcs="git", commit=commit, dirty=True, diff=diff), Data(), staging, [])

    monkeypatch.setattr(capture, "run_state", run_state)
    yield handed


def test_a_parent_and_its_nested_run_each_get_their_own_manifest_and_code_state(
    tracking_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    captured: Captured,
    states: list[str],
) -> None:
    """Each new run takes the code state at its own start (a notebook or a sweep edits files
    between runs), in the background; ending the run waits for its record."""
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)  # the default artifact root is relative
    with mlflow.start_run() as parent, mlflow.start_run(nested=True) as child:
        pass
    client = MlflowClient()
    assert sorted(states) == ["b" * 40, "c" * 40]  # each its own (taken in either order)
    commits = set()
    for run, index in ((parent, 0), (child, 1)):
        run_id = run.info.run_id
        commit = client.get_run(run_id).data.tags["repro.git.commit"]
        commits.add(commit)
        local = client.download_artifacts(run_id, "repro", str(tmp_path / run_id))
        manifest = Manifest.from_json((Path(local) / "manifest.json").read_text())
        assert manifest.launch.run_index == index
        assert manifest.launch.launcher == "python" and manifest.launch.parameters is None
        assert manifest.code.commit == commit
        assert (
            Path(local) / "git.diff"
        ).read_text() == f"diff --git a/{commit[0]}.py b/{commit[0]}.py\n"
        tags = client.get_run(run_id).data.tags
        assert tags["repro.capture.id"] == captured_id()
        assert tags["repro.git.commit"] == commit
        assert tags["repro.status"] == status(manifest)[0]  # set once repro/ was logged
        assert client.get_run(run_id).info.status == "FINISHED"
    assert commits == {"b" * 40, "c" * 40}


def test_the_tags_given_with_a_new_run_claim_nothing_but_the_capture(
    monkeypatch: pytest.MonkeyPatch, captured: Captured, fresh_process: ProcessState
) -> None:
    """The status and the manifest's tags come once repro/ is logged: at the start only the
    capture id (how the create_run hook knows the run) and a replay's token."""
    monkeypatch.setattr(hooks, "asked_for_a_new_run", lambda: True)
    monkeypatch.setenv("MLFLOW_REPRO_REPLAY_TOKEN", "t" * 9000)
    tags = plugin.ReproRunContext().tags()
    fresh_process.job_here.job.cancel()  # no run follows here
    assert set(tags) == {"repro.capture.id", "repro.replay.token"}
    assert tags["repro.capture.id"] == captured_id()
    assert all(len(k) <= MAX_TAG_KEY and len(v) <= MAX_TAG_VALUE for k, v in tags.items())


def test_tags_are_empty_unless_a_new_run_asks(
    monkeypatch: pytest.MonkeyPatch, captured: Captured, fresh_process: ProcessState
) -> None:
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    fresh_process.captured = None
    provider = plugin.ReproRunContext()
    assert provider.in_context()
    assert provider.tags() == {}  # asked directly, as a dataset or a trace would
    import mlflow.data  # noqa: F401  (datasets resolve tags from inside MLflow)
    from mlflow.tracking.context.registry import resolve_tags

    assert "repro.capture.id" not in _resolved_inside_mlflow()
    assert fresh_process.captured is None  # and nothing was captured for them
    assert "repro.capture.id" in resolve_tags()  # user code creating a run (as Lightning does)
    fresh_process.job_here.job.cancel()


def captured_id() -> str:
    from mlflow_repro.plugin.state import process

    return process().capture_id


def _resolved_inside_mlflow() -> dict[str, str]:
    """Tags resolved from a function that lives in MLflow's package (as datasets do)."""
    import mlflow.tracking.context.registry as registry

    code = compile("def resolve():\n    return resolve_tags()\n", registry.__file__, "exec")
    scope: dict[str, object] = {"resolve_tags": registry.resolve_tags}
    exec(code, scope)
    return scope["resolve"]()  # type: ignore[operator,no-any-return]


def test_a_failing_capture_is_an_errors_tag_on_the_run_not_an_exception(
    tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_process: ProcessState
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    def broken() -> Captured:
        raise RuntimeError("no temporary directory")

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fresh_process, "process_capture", broken)
    with mlflow.start_run() as run:
        pass
    tags = MlflowClient().get_run(run.info.run_id).data.tags
    assert tags["repro.capture.errors"] == "plugin: RuntimeError: no temporary directory"
    assert "repro.status" not in tags


def test_capture_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REPRO_DISABLE", "1")
    assert not plugin.ReproRunContext().in_context()


def test_the_entry_point_loads_the_provider() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="mlflow.run_context_provider") if e.name == "repro"]
    assert entry.load() is plugin.ReproRunContext


LOADED_AT_IMPORT_MLFLOW = """
import sys
before = set(sys.modules)
from mlflow_repro.plugin import ReproRunContext
ReproRunContext()
print(" ".join(sorted(set(sys.modules) - before)))
"""


def test_the_plugin_loads_only_its_own_small_modules_at_import_mlflow() -> None:
    """The provider is made at `import mlflow`, in every MLflow process: what it loads then
    (process state, automatic seeding, the import finder, the hooks, the input watch) costs every
    MLflow user. Only its own small modules and standard ones MLflow loads anyway (re, pathlib,
    typing); the capture, the manifest, numpy and mlflow itself come later, when a run starts."""
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AT_IMPORT_MLFLOW],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_REPRO_AUTO_SEED": "1"},
        check=True,
    )
    loaded = set(done.stdout.split())
    ours = {m for m in loaded if m.startswith("mlflow_repro")}
    assert ours <= {
        "mlflow_repro",
        "mlflow_repro.errors",
        "mlflow_repro.launchguard",
        "mlflow_repro.names",
        "mlflow_repro.startdir",
        "mlflow_repro.rng",
        "mlflow_repro.rng.generators",
        "mlflow_repro.rng.ledger",
        *(f"mlflow_repro.plugin{m}" for m in ("", ".state", ".importhook", ".autoseed")),
        *(f"mlflow_repro.plugin.{m}" for m in ("hooks", "inputs", "replayguard")),
    }, sorted(ours)
    heavy = {"mlflow", "numpy", "json", "subprocess", "dataclasses", "hashlib", "yaml"}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_runs_made_with_the_client_get_their_manifest_unless_switched_off(
    tracking_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    captured: Captured,
    states: list[str],
) -> None:
    """`MlflowClient().create_run(tags=resolve_tags(...))`, as PyTorch Lightning's MLFlowLogger
    makes its run, and a raw `create_run` that asks no provider: each gets its record, waited
    for when the run is ended. `repro.capture: off` (a tool copying runs) records nothing."""
    from mlflow.tracking import MlflowClient
    from mlflow.tracking.context.registry import resolve_tags

    from tests.conftest import NO_CAPTURE

    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    client = MlflowClient()
    experiment = client.create_experiment("client")
    logger_like = client.create_run(experiment, tags=resolve_tags({"logger": "yes"}))
    raw = client.create_run(experiment)
    off = client.create_run(experiment, tags=NO_CAPTURE)
    for made in (logger_like, raw, off):
        client.set_terminated(made.info.run_id)
    assert sorted(states) == ["b" * 40, "c" * 40]
    for made in (logger_like, raw):
        tags = client.get_run(made.info.run_id).data.tags
        assert tags["repro.git.commit"] in states and "repro.status" in tags, tags
        listed = {a.path for a in client.list_artifacts(made.info.run_id, "repro")}
        assert "repro/manifest.json" in listed
    assert client.get_run(logger_like.info.run_id).data.tags["logger"] == "yes"
    assert not any(
        k.startswith("repro.") and k != "repro.capture"
        for k in client.get_run(off.info.run_id).data.tags
    )
    assert client.list_artifacts(off.info.run_id) == []
