"""Verify: compare the new run with the original, value by value and hash by hash."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlflow_repro.modelfiles import NORMALISED, ModelFile, model_files
from mlflow_repro.replay.result import DIFFERENT, IDENTICAL, WITHIN_TOLERANCE, Verdict


def _models(client: Any, run: Any) -> dict[str, dict[str, ModelFile]]:
    """The run's logged models (by name), each as its files' hashes."""
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    out: dict[str, dict[str, ModelFile]] = {}
    with quiet_downloads():
        for model in found:
            out[model.name] = _model_files(client, model)
    return out


@contextmanager
def quiet_downloads() -> Iterator[None]:
    """MLflow's per-download progress bars are noise between the replay's steps and its
    verdict: off inside this block."""
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    name = MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name
    bars = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if bars is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = bars


def _model_files(client: Any, model: Any) -> dict[str, ModelFile]:
    import mlflow

    with tempfile.TemporaryDirectory(prefix="mlflow-repro-verify-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location, dst_path=tmp, tracking_uri=client.tracking_uri
        )
        return {f.path: f for f in model_files(local)}


def _compare_metrics(
    old: dict[str, float], new: dict[str, float], rel: float, abs_: float
) -> tuple[list[str], list[str]]:
    differences, tolerated = [], []
    for key in sorted(set(old) | set(new)):
        if key not in new or key not in old:
            differences.append(
                f"metric {key}: only in the {'original' if key in old else 'new'} run"
            )
            continue
        a, b = old[key], new[key]
        if a == b or (math.isnan(a) and math.isnan(b)):
            continue
        if (rel or abs_) and math.isclose(a, b, rel_tol=rel, abs_tol=abs_):
            tolerated.append(f"metric {key}: {a!r} -> {b!r}")
        else:
            differences.append(f"metric {key}: {a!r} -> {b!r}")
    return differences, tolerated


def compare_runs(
    client: Any, original: Any, new: Any, *, rel_tol: float = 0.0, abs_tol: float = 0.0
) -> Verdict:
    """Every metric (exact unless a tolerance is given), every param, every logged model file."""
    differences, tolerated = _compare_metrics(
        original.data.metrics, new.data.metrics, rel_tol, abs_tol
    )
    old_params, new_params = original.data.params, new.data.params
    for key in sorted(set(old_params) | set(new_params)):
        if old_params.get(key) != new_params.get(key):
            differences.append(f"param {key}: {old_params.get(key)!r} -> {new_params.get(key)!r}")
    old_models, new_models = _models(client, original), _models(client, new)
    compared, normalised = 0, []
    for name in sorted(set(old_models) | set(new_models)):
        if name not in old_models or name not in new_models:
            where = "original" if name in old_models else "new"
            differences.append(f"model {name!r}: logged only by the {where} run")
            continue
        a, b = old_models[name], new_models[name]
        for path in sorted(set(a) | set(b)):
            either = a.get(path) or b[path]
            if either.canonical == "logging-metadata":
                # MLmodel, registered_model_meta: name the run, model id and registered version
                # (a replay registers none by default); never part of the comparison.
                continue
            # A file as the model's name and its path in it (`model/model.skops`): the model
            # is named once (MLflow's default name "model" said twice read "model model").
            shown = f"{name}/{path}"
            if path not in a or path not in b:
                differences.append(f"model file {shown} only in one run")
            else:
                compared += 1
                if a[path].content != b[path].content:
                    differences.append(
                        f"model file {shown}: sha256 {a[path].content[:16]} -> "
                        f"{b[path].content[:16]}"
                    )
                elif a[path].sha256 != b[path].sha256:
                    normalised.append(
                        f"model file {shown}: bytes differ, content equal "
                        f"({NORMALISED.get(either.canonical, either.canonical)})"
                    )
    verdict = DIFFERENT if differences else (WITHIN_TOLERANCE if tolerated else IDENTICAL)
    return Verdict(
        verdict=verdict,
        metrics_compared=len(set(original.data.metrics) | set(new.data.metrics)),
        params_compared=len(set(old_params) | set(new_params)),
        model_files_compared=compared,
        differences=differences,
        tolerated=tolerated,
        normalised=normalised,
    )


def compare_frameworks(old: Any, new: Any) -> list[str]:
    """The framework builds the re-run's manifest records against the original's: another
    build or another wheel (by its sha256 in uv.lock) is another environment."""
    before = {b.name: b for b in old.environment.frameworks}
    after = {b.name: b for b in new.environment.frameworks}
    differences = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a is None or b is None:
            differences.append(
                f"environment: {name} {(a or b).build} only in the "  # type: ignore[union-attr]
                f"{'original' if a else 'new'} run"
            )
        elif (a.build, a.wheel, a.sha256) != (b.build, b.wheel, b.sha256):
            differences.append(
                f"environment: {name} {a.build} ({a.wheel}, sha256 {str(a.sha256)[:16]}) -> "
                f"{b.build} ({b.wheel}, sha256 {str(b.sha256)[:16]})"
            )
    return differences
