"""compare_runs: every metric (exact unless a tolerance is given), every param, NaN and metrics
or params present in one run only."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest

from mlflow_repro.replay.verify import compare_runs


class NoModels:
    """A client whose runs logged no models (model files are compared end to end elsewhere)."""

    tracking_uri = "sqlite:///unused.db"

    def search_logged_models(self, **_: Any) -> list[Any]:
        return []


def run(metrics: dict[str, float], params: dict[str, str] | None = None) -> Any:
    return SimpleNamespace(
        info=SimpleNamespace(run_id="r", experiment_id="0"),
        data=SimpleNamespace(metrics=metrics, params=params or {}),
    )


def compare(a: Any, b: Any, **tol: float) -> Any:
    return compare_runs(NoModels(), a, b, **tol)


def test_equal_runs_are_identical() -> None:
    verdict = compare(
        run({"acc": 0.9, "loss": 0.1}, {"lr": "0.1"}), run({"acc": 0.9, "loss": 0.1}, {"lr": "0.1"})
    )
    assert verdict.verdict == "identical" and verdict.differences == []
    assert (verdict.metrics_compared, verdict.params_compared) == (2, 1)


def test_a_metric_difference_names_both_values() -> None:
    verdict = compare(run({"acc": 0.9}), run({"acc": 0.9000000000000001}))
    assert verdict.verdict == "different"
    assert verdict.differences == ["metric acc: 0.9 -> 0.9000000000000001"]


@pytest.mark.parametrize(("tol", "new"), [({"rel_tol": 1e-3}, 0.9005), ({"abs_tol": 0.01}, 0.905)])
def test_a_difference_within_tolerance_is_listed_not_failed(
    tol: dict[str, float], new: float
) -> None:
    verdict = compare(run({"acc": 0.9}), run({"acc": new}), **tol)
    assert verdict.verdict == "within_tolerance" and verdict.differences == []
    assert verdict.tolerated == [f"metric acc: 0.9 -> {new!r}"]


def test_a_difference_beyond_the_tolerance_still_differs() -> None:
    verdict = compare(run({"acc": 0.9}), run({"acc": 0.95}), rel_tol=1e-3, abs_tol=1e-3)
    assert verdict.verdict == "different" and verdict.tolerated == []


def test_nan_equals_nan_but_not_a_number() -> None:
    assert compare(run({"x": math.nan}), run({"x": math.nan})).verdict == "identical"
    verdict = compare(run({"x": math.nan}), run({"x": 1.0}), abs_tol=10.0)
    assert verdict.verdict == "different" and verdict.differences == ["metric x: nan -> 1.0"]


def test_a_metric_or_param_in_one_run_only_is_a_difference() -> None:
    verdict = compare(
        run({"acc": 1.0, "old": 2.0}, {"a": "1"}), run({"acc": 1.0, "new": 3.0}, {"b": "2"})
    )
    assert verdict.verdict == "different"
    assert "metric old: only in the original run" in verdict.differences
    assert "metric new: only in the new run" in verdict.differences
    assert "param a: '1' -> None" in verdict.differences
    assert "param b: None -> '2'" in verdict.differences


def test_params_are_compared_as_the_strings_mlflow_stores() -> None:
    verdict = compare(run({}, {"lr": "0.1"}), run({}, {"lr": "0.10"}))
    assert verdict.differences == ["param lr: '0.1' -> '0.10'"]


def test_logging_metadata_files_never_decide_and_a_missing_model_file_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """registered_model_meta appears where a version was registered (the original), not in a
    replay that registered none; MLmodel names the run. Neither is compared."""
    from mlflow_repro.modelfiles import ModelFile
    from mlflow_repro.replay import verify

    def files(*names: str, meta: bool = False) -> dict[str, ModelFile]:
        found = {n: ModelFile(n, 10, "s" * 64, "c" * 64, "bytes") for n in names}
        found["MLmodel"] = ModelFile("MLmodel", 5, "m" * 64, "m" * 64, "logging-metadata")
        if meta:
            found["registered_model_meta"] = ModelFile(
                "registered_model_meta", 5, "r" * 64, "r" * 64, "logging-metadata"
            )
        return found

    models = {"orig": {"model": files("model.skops", meta=True)}}
    models["same"] = {"model": files("model.skops")}
    models["less"] = {"model": files("other.bin")}
    monkeypatch.setattr(verify, "_models", lambda client, r: models[r.info.run_id])

    def named(run_id: str) -> Any:
        return SimpleNamespace(
            info=SimpleNamespace(run_id=run_id, experiment_id="0"),
            data=SimpleNamespace(metrics={}, params={}),
        )

    same = compare(named("orig"), named("same"))
    assert same.verdict == "identical" and same.model_files_compared == 1
    less = compare(named("orig"), named("less"))
    assert less.verdict == "different"
    assert less.differences == [
        "model file model/model.skops only in one run",
        "model file model/other.bin only in one run",
    ]


def test_a_model_file_is_named_once_by_model_and_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay verdict's lines name a file as `<model>/<path>`: MLflow's default model name
    `model` once, not "normalised: model model: model.skops"."""
    from mlflow_repro.modelfiles import ModelFile
    from mlflow_repro.replay import verify

    def skops(sha256: str, content: str) -> dict[str, ModelFile]:
        return {"model.skops": ModelFile("model.skops", 10, sha256 * 64, content * 64, "skops")}

    models = {
        "orig": {"model": skops("a", "c")},
        "refit": {"model": skops("b", "c")},  # other bytes, the same content: normalised
        "other": {"model": skops("b", "d")},  # other content: a difference
        "none": {},
    }
    monkeypatch.setattr(verify, "_models", lambda client, r: models[r.info.run_id])

    def named(run_id: str) -> Any:
        return SimpleNamespace(
            info=SimpleNamespace(run_id=run_id, experiment_id="0"),
            data=SimpleNamespace(metrics={}, params={}),
        )

    refit = compare(named("orig"), named("refit"))
    assert refit.verdict == "identical" and refit.differences == []
    assert refit.normalised == [
        "model file model/model.skops: bytes differ, content equal (object ids renumbered)"
    ]
    other = compare(named("orig"), named("other"))
    assert other.differences == [f"model file model/model.skops: sha256 {'c' * 16} -> {'d' * 16}"]
    gone = compare(named("orig"), named("none"))
    assert gone.differences == ["model 'model': logged only by the original run"]
    for line in [*refit.normalised, *other.differences, *gone.differences]:
        assert "model model" not in line
