"""The ranking rules of `diff`, on manifests built in memory (the e2e tests use real runs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mlflow_repro.inspect.diff import compare_records
from mlflow_repro.inspect.records import RunDiff
from mlflow_repro.inspect.runs import RunRecord
from mlflow_repro.manifest import (
    Code,
    Container,
    Data,
    DataFile,
    Launch,
    Manifest,
    Platform,
    SeedCall,
    Seeds,
)


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
    result = diff(BASE, other, score=1.0)  # a metric differs (B has none): a cause to find
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


LAUNCHED = dataclasses.replace(
    BASE,
    launch=Launch(launcher="mlflow run", entry_point="main", env_manager="uv", backend="local"),
)


def test_equal_metrics_have_no_cause_and_every_difference_is_listed_ranked() -> None:
    """The issue's case: two runs with equal metrics, made under uv and under virtualenv."""
    import json

    from mlflow_repro.inspect.render import diff_html, diff_text

    other = dataclasses.replace(
        LAUNCHED,
        launch=dataclasses.replace(LAUNCHED.launch, env_manager="virtualenv"),
        seeds=dataclasses.replace(BASE.seeds, seed=8, seeded=["torch"]),
        platform=Platform(system="Linux", env={"OMP_NUM_THREADS": "2"}),
    )
    seeded = dataclasses.replace(LAUNCHED, seeds=dataclasses.replace(BASE.seeds, seeded=["torch"]))
    result = compare_records(record("A", seeded, score=0.9), record("B", other, score=0.9))
    assert result.metrics == [] and result.likely_cause is None
    assert [(d.group, d.name, d.a, d.b) for d in result.differences] == [
        ("seeds", "seed", "7", "8"),
        ("environment", "environment manager", "uv", "virtualenv"),
        ("settings", "OMP_NUM_THREADS", "1", "2"),
    ]
    text = diff_text(result)
    assert "likely cause" not in text
    assert (
        text.splitlines()[1]
        == "no cause to find: the metrics are equal; 3 recorded differences, ranked:"
    )
    assert "    environment manager: uv -> virtualenv" in text
    assert text.index("seed: 7 -> 8") < text.index("environment manager") < text.index("OMP_")
    assert "metrics: equal" in text
    data = json.loads(json.dumps(result.to_dict()))
    assert data["metrics_equal"] is True and data["likely_cause"] is None
    assert not data["same"]
    assert [d["name"] for d in data["differences"]] == [
        "seed",
        "environment manager",
        "OMP_NUM_THREADS",
    ]
    page = diff_html(result)
    assert "Likely cause" not in page and 'class="cause"' not in page
    assert "No cause to find: the metrics are equal. The 3 recorded differences are listed" in page
    assert "<td>environment manager</td><td>uv</td><td>virtualenv</td>" in page


def test_a_metric_difference_has_the_first_ranked_difference_as_its_likely_cause() -> None:
    import json

    from mlflow_repro.inspect.render import diff_html, diff_text

    script = dataclasses.replace(BASE, launch=Launch(launcher="python", command=["train.py"]))
    other = dataclasses.replace(
        LAUNCHED, launch=dataclasses.replace(LAUNCHED.launch, backend="kubernetes")
    )
    result = compare_records(record("A", script, score=0.9), record("B", other, score=0.8))
    assert [(d.group, d.name, d.a, d.b) for d in result.differences] == [
        ("parameters", "entry point", None, "main"),
        ("parameters", "launcher", "python", "mlflow run"),
        ("environment", "environment manager", None, "uv"),
        ("platform", "backend", None, "kubernetes"),
    ]
    assert result.likely_cause == result.differences[0]
    assert diff_text(result).splitlines()[1] == "likely cause: parameters: entry point"
    data = json.loads(json.dumps(result.to_dict()))
    assert data["metrics_equal"] is False
    assert data["likely_cause"] == data["differences"][0]
    assert "Likely cause: <b>parameters: entry point</b>" in diff_html(result)
    assert diff_html(result).count('class="cause"') == 1


IMAGE_A, IMAGE_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def in_image(manifest: Manifest, image_id: str, **fields: Any) -> Manifest:
    container = Container(
        image="template-env:0123456789ab",
        image_id=image_id,
        repo_digest=f"localhost:5000/template-env@sha256:{'c' * 64}",
        run_image_id="sha256:" + "9" * 64,
        network="host",
        **fields,
    )
    return dataclasses.replace(
        manifest,
        platform=dataclasses.replace(manifest.platform, container=container, libc="glibc 2.36"),
        environment=dataclasses.replace(manifest.environment, python_version="3.11.2"),
    )


def test_a_host_run_and_an_image_run_name_the_image_first() -> None:
    """The issue's case: the same commit on the host and in its image. The image holds the
    Python and libc that differ with it: it ranks ahead of them, first among platform causes."""
    from mlflow_repro.inspect.render import diff_html, diff_text

    host = dataclasses.replace(
        LAUNCHED,
        platform=dataclasses.replace(BASE.platform, libc="glibc 2.39"),
        environment=dataclasses.replace(BASE.environment, python_version="3.11.7"),
    )
    result = compare_records(
        record("A", host, score=0.9), record("B", in_image(LAUNCHED, IMAGE_A), score=0.8)
    )
    assert [(d.group, d.name) for d in result.differences] == [
        ("platform", "image"),
        ("environment", "python"),
        ("platform", "libc"),
    ]
    image = result.differences[0]
    assert result.likely_cause == image
    assert (image.a, image.b) == ("on the host", "template-env:0123456789ab (sha256:aaaaaaaaaaaa)")
    assert image.detail.startswith("run A ran on the host; run B ran in image template-env")
    assert IMAGE_A in image.detail and "localhost:5000/template-env@sha256:" in image.detail
    text = diff_text(result)
    assert text.splitlines()[1] == "likely cause: platform: image"
    assert "    image: on the host -> template-env:0123456789ab (sha256:aaaaaaaaaaaa)" in text
    assert "Likely cause: <b>platform: image</b>" in diff_html(result)
    # the other way round, and with equal metrics: listed first, no cause to find
    reverse = compare_records(
        record("A", in_image(LAUNCHED, IMAGE_A), score=0.9), record("B", host, score=0.9)
    )
    assert reverse.likely_cause is None
    assert (reverse.differences[0].name, reverse.differences[0].b) == ("image", "on the host")


def test_two_images_differ_by_id_and_rank_before_the_environment() -> None:
    a, b = in_image(LAUNCHED, IMAGE_A), in_image(LAUNCHED, IMAGE_B)
    b = dataclasses.replace(b, launch=dataclasses.replace(b.launch, env_manager="local"))
    result = compare_records(record("A", a, score=0.9), record("B", b, score=0.8))
    assert [(d.group, d.name) for d in result.differences] == [
        ("platform", "image"),
        ("environment", "environment manager"),
    ]
    assert result.differences[0].detail == f"image {IMAGE_A} vs {IMAGE_B}"
    assert result.likely_cause == result.differences[0]


def test_the_same_image_is_no_difference_whatever_mlflow_built_on_it() -> None:
    """MLflow builds a new image FROM the recorded one with the code copied in, every run
    (`run_image_id`): that is not a platform difference."""
    a = in_image(LAUNCHED, IMAGE_A)
    b = in_image(LAUNCHED, IMAGE_A, build={"lock.sha256": "4" * 64})
    assert b.platform.container is not None
    b = dataclasses.replace(
        b,
        platform=dataclasses.replace(
            b.platform,
            container=dataclasses.replace(
                b.platform.container, run_image_id="sha256:" + "8" * 64, network="none"
            ),
        ),
    )
    result = compare_records(record("A", a, score=0.9), record("B", b, score=0.8))
    assert result.differences == [] and result.likely_cause is None


def test_an_unrecorded_container_is_compared_as_a_host() -> None:
    unknown = dataclasses.replace(
        LAUNCHED, platform=Platform(system="Linux", container=Container(source="unidentified"))
    )
    result = compare_records(record("A", unknown), record("B", in_image(LAUNCHED, IMAGE_A)))
    image = result.differences[0]
    assert (image.name, image.a) == ("image", "in an unrecorded container")
    assert IMAGE_A[:19] in str(image.b)
    versus_host = compare_records(record("A", unknown), record("B", LAUNCHED))
    assert [d.name for d in versus_host.differences if d.name == "image"] == []
    assert any("compared as a host" in n for n in versus_host.notes)
