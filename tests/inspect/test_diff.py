"""The ranking rules of `diff`, on manifests built in memory (the e2e tests use real runs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mlflow_repro.inspect.diff import compare_records
from mlflow_repro.inspect.records import RunDiff
from mlflow_repro.inspect.runs import RunRecord
from mlflow_repro.manifest import Code, Data, DataFile, Manifest, Platform, SeedCall, Seeds


def record(
    run_id: str, manifest: Manifest, params: dict[str, str] | None = None, **metrics: float
) -> RunRecord:
    run = SimpleNamespace(
        info=SimpleNamespace(run_id=run_id),
        data=SimpleNamespace(params=params or {}, metrics=metrics),
    )
    return RunRecord(run=run, manifest=manifest, payloads=Path("/nonexistent"))


BASE = Manifest(
    code=Code(vcs="git", commit="a" * 40),
    seeds=Seeds(
        seed=7,
        source="automatic:fresh",
        preloaded={"random": "1111", "numpy.random": "2222"},
        user_seeds=[SeedCall("numpy.random.seed", "1")],
    ),
    data=Data(dvc_root="/p", files=[DataFile("data/t.csv", "0" * 32)]),
    platform=Platform(system="Linux", env={"OMP_NUM_THREADS": "1"}),
)


def diff(a: Manifest, b: Manifest, **kw: Any) -> RunDiff:
    return compare_records(record("A", a, **kw), record("B", b))


def test_an_automatic_seed_no_generator_took_and_overwritten_states_are_noise() -> None:
    other = dataclasses.replace(
        BASE,
        seeds=dataclasses.replace(
            BASE.seeds, seed=8, preloaded={"random": "3", "numpy.random": "4"}
        ),
        platform=Platform(system="Linux", env={"OMP_NUM_THREADS": "2"}),
    )
    result = diff(BASE, other)
    assert result.likely_cause is not None
    assert (result.likely_cause.group, result.likely_cause.name) == ("settings", "OMP_NUM_THREADS")
    assert {d.group for d in result.differences if "seed" in d.name or "state" in d.name} == {
        "noise"
    }
    assert result.differences[-1].group == "noise"


def test_a_seed_a_generator_took_ranks_before_settings() -> None:
    seeded = dataclasses.replace(BASE.seeds, seeded=["torch"], user_seeds=[])
    other = dataclasses.replace(
        BASE,
        seeds=dataclasses.replace(seeded, seed=8),
        platform=Platform(system="Linux", env={"OMP_NUM_THREADS": "2"}),
    )
    result = diff(dataclasses.replace(BASE, seeds=seeded), other)
    assert (result.differences[0].group, result.differences[0].name) == ("seeds", "seed")
    assert [d.group for d in result.differences] == ["seeds", "settings"]


def test_data_ranks_before_parameters_and_metrics_are_beside() -> None:
    other = dataclasses.replace(
        BASE, data=Data(dvc_root="/p", files=[DataFile("data/t.csv", "1" * 32)])
    )
    a = record("A", BASE, {"alpha": "1"}, score=1.0)
    b = record("B", other, {"alpha": "2"}, score=2.0)
    result = compare_records(a, b)
    assert [(d.group, d.name) for d in result.differences] == [
        ("data", "data/t.csv"),
        ("parameters", "param alpha"),
    ]
    assert [(m.name, m.a, m.b) for m in result.metrics] == [("score", "1.0", "2.0")]


def test_without_a_repository_commits_are_compared_and_a_note_says_why() -> None:
    other = dataclasses.replace(BASE, code=Code(vcs="git", commit="b" * 40))
    result = diff(BASE, other)
    assert (result.differences[0].group, result.differences[0].name) == ("code", "commit")
    assert any("trees not rebuilt" in note for note in result.notes)


def test_identical_manifests_differ_in_nothing_and_nan_metrics_are_equal() -> None:
    a = record("A", BASE, score=float("nan"))
    b = record("B", BASE, score=float("nan"))
    result = compare_records(a, b)
    assert result.differences == [] and result.metrics == []


def test_blas_libraries_are_compared_by_library_not_by_load_order() -> None:
    """numpy and scipy each load an OpenBLAS; which comes first varies between runs (CI found a
    replay `diff` naming a version change that was only the other library first)."""
    numpy_blas = {"internal_api": "openblas", "prefix": "libscipy_openblas", "version": "0.3.31"}
    scipy_blas = {"internal_api": "openblas", "prefix": "libscipy_openblas", "version": "0.3.30"}

    def with_blas(*libraries: dict[str, str]) -> Manifest:
        return dataclasses.replace(
            BASE, platform=dataclasses.replace(BASE.platform, blas=list(libraries))
        )

    assert (
        diff(with_blas(numpy_blas, scipy_blas), with_blas(scipy_blas, numpy_blas)).differences == []
    )
    newer = {**scipy_blas, "version": "0.3.32"}
    changed = diff(with_blas(numpy_blas, scipy_blas), with_blas(numpy_blas, newer))
    assert [(d.name, d.a, d.b) for d in changed.differences] == [
        (
            "BLAS openblas libscipy_openblas",
            "0.3.30, ? threads; 0.3.31, ? threads",
            "0.3.31, ? threads; 0.3.32, ? threads",
        )
    ]
