"""The run `mlflow run -e reproduce` makes for the reproduce command: left uncaptured, and it
says what it did, the replay's verdict or why there was none."""

from __future__ import annotations

import os

import pytest

from mlflow_repro.errors import ReplayError
from mlflow_repro.names import CAPTURED_RUN_VAR
from mlflow_repro.replay import wrapper
from mlflow_repro.replay.result import ReplayResult, Verdict
from tests.conftest import NO_CAPTURE


def test_outside_mlflow_run_there_is_no_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv(CAPTURED_RUN_VAR, raising=False)
    assert wrapper.current() is None
    assert CAPTURED_RUN_VAR not in os.environ


def test_the_wrapper_is_marked_captured_so_the_plugin_leaves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_RUN_ID", "f" * 32)
    monkeypatch.delenv(CAPTURED_RUN_VAR, raising=False)
    assert wrapper.current() == "f" * 32
    assert os.environ[CAPTURED_RUN_VAR] == "f" * 32


def _runs(entry_point: str = "reproduce") -> tuple[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    original = client.create_run("0", tags={**NO_CAPTURE, "mlflow.runName": "training"})
    tags = {**NO_CAPTURE, "mlflow.project.entryPoint": entry_point}
    outer = client.create_run("0", tags=tags)
    return original.info.run_id, outer.info.run_id


def test_a_replay_is_named_with_its_verdict_and_links(tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    original, outer = _runs()
    verdict = Verdict("different", metrics_compared=3, differences=["metric m: 1 != 2"])
    wrapper.record(outer, ReplayResult(original, "a" * 32, "/w", verdict))
    tags = MlflowClient().get_run(outer).data.tags
    assert tags["mlflow.runName"] == "training · reproduce"
    assert (tags["repro.reproduce.of"], tags["repro.reproduce.replay"]) == (original, "a" * 32)
    assert tags["repro.replay.verdict"] == "different"
    note = tags["mlflow.note.content"]
    assert note.startswith(f"**mlflow-repro: reproduce of run [{original}](#/experiments/0/runs/")
    assert "different**" in note and "1 differences" in note


def test_a_replay_that_could_not_be_made_leaves_its_error_on_the_wrapper(
    tracking_uri: str,
) -> None:
    from mlflow.tracking import MlflowClient

    original, outer = _runs()
    error = ReplayError("the recorded commit is in no source", run_id=original, hint="push it")
    wrapper.record_failure(outer, original[:8], error)  # as typed: a prefix
    tags = MlflowClient().get_run(outer).data.tags
    assert "the recorded commit is in no source" in tags["repro.reproduce.error"]
    assert tags["repro.reproduce.of"] == original  # the full id
    assert "repro.replay.verdict" not in tags and "repro.reproduce.replay" not in tags
    assert ": no replay**" in tags["mlflow.note.content"]
    assert "push it" in tags["mlflow.note.content"]


def test_a_job_that_calls_reproduce_from_its_own_run_keeps_its_run_as_it_was(
    tracking_uri: str,
) -> None:
    from mlflow.tracking import MlflowClient

    original, outer = _runs(entry_point="main")
    wrapper.record(outer, ReplayResult(original, "a" * 32, "/w", Verdict("identical")))
    wrapper.record_failure(outer, original, ReplayError("no"))
    tags = MlflowClient().get_run(outer).data.tags
    assert not [k for k in tags if k.startswith("repro.") and k != "repro.capture"]
    assert "mlflow.note.content" not in tags
