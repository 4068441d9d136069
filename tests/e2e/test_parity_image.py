"""`parity --image` on real images: the template's image (the recipe, from the template's
uv.lock) against a run of the template on the host (its Python is another build: named), against the
same run's record as capture reads it inside the image (matches, hashes and all), and a serving
image derived from it with another scikit-learn wheel (named)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.container import docker
from mlflow_repro.container.build import BuiltImage, cache_root
from mlflow_repro.errors import UsageError
from mlflow_repro.inspect.imageprobe import probe_image
from mlflow_repro.inspect.parity import (
    image_imports,
    image_parity,
    model_needs,
    parity_image,
    read_training,
)
from mlflow_repro.inspect.render import parity_text
from mlflow_repro.inspect.runs import client_for, resolve
from mlflow_repro.manifest import Container, Platform
from tests.conftest import run
from tests.containers import ContainerRuns

pytestmark = pytest.mark.e2e

OTHER_SKLEARN = "1.7.2"  # the template's lock has 1.9.1

# What capture records of the platform and the Python, asked inside the image after importing
# what the template's training imports (numpy, scipy, scikit-learn load their BLAS and OpenMP)
CAPTURE_IN_IMAGE = """
import dataclasses, json, platform, numpy, scipy.linalg, sklearn
from mlflow_repro.capture.platform import collect_platform
found, _ = collect_platform()
print(json.dumps({"platform": dataclasses.asdict(found),
                  "python": platform.python_version(),
                  "implementation": platform.python_implementation()}))
"""


def mismatched(report: Any) -> list[tuple[str, str, str | None, str | None]]:
    return [(i.name, i.status, i.training, i.serving) for i in report.mismatches]


def test_a_host_run_against_the_template_image_names_python_and_nothing_else(
    container_runs: ContainerRuns, template_image: BuiltImage
) -> None:
    started = time.monotonic()
    report = parity_image(
        container_runs.host_run, template_image.id, tracking_uri=container_runs.uri
    )
    text = parity_text(report)
    print(text, f"\n({time.monotonic() - started:.1f} s)")
    assert report.against == f"image {template_image.id}"
    python = {i.name: i for i in report.items}["python"]
    assert (python.status, python.serving) == ("version-differs", "3.11.2"), text
    assert python.training != "3.11.2"
    # the image was built from the same uv.lock: every package the model needs matches, by
    # version and by the sha256 the image's requirements.lock.txt keeps
    assert [m[0] for m in mismatched(report)] == ["python"], text
    sklearn = {i.name: i for i in report.items}["scikit-learn"]
    assert (sklearn.status, sklearn.detail) == ("match", "version and hash"), text
    assert report.exit_code == 1


def test_the_runs_record_as_captured_inside_the_image_matches_it(
    container_runs: ContainerRuns, template_image: BuiltImage
) -> None:
    """The matching case, made honestly: the Python and platform as capture's own collectors
    read them inside the image; the packages from the run's lock, which is the lock the image
    was built from (its label says so)."""
    started = time.monotonic()
    client = client_for(container_runs.uri)
    resolved = resolve(client, container_runs.host_run)
    record, manifest, pins = read_training(client, resolved)
    assert template_image.inputs["lock.sha256"] == manifest.environment.lock_file_sha256
    done = docker.run(template_image.id, ["-c", CAPTURE_IN_IMAGE], entrypoint="python")
    assert done.ok, done.reason
    inside = json.loads(done.text.strip().splitlines()[-1])
    captured = Platform(
        **{k: v for k, v in inside["platform"].items() if k != "container"},
        # what `mlflow run`'s launching side passes in (container/hostside.py)
        container=Container(image=template_image.tag, image_id=template_image.id),
    )
    in_image = dataclasses.replace(
        manifest,
        environment=dataclasses.replace(
            manifest.environment,
            python_version=inside["python"],
            python_implementation=inside["implementation"],
        ),
        platform=captured,
    )
    needs = model_needs(client, record.run, resolved)
    assert needs is not None
    facts = probe_image(template_image.tag, image_imports(in_image))
    assert facts.image_id == template_image.id
    assert facts.lock is not None and "--hash=sha256:" in facts.lock
    report = image_parity(in_image, pins, facts, needs, target=resolved.given, run_id="r")
    text = parity_text(report)
    print(text, f"\n({time.monotonic() - started:.1f} s)")
    assert report.verdict == "match", text
    found = {i.name: i for i in report.items}
    assert found["scikit-learn"].detail == "version and hash"
    assert found["libc"].status == found["python"].status == "match"
    assert any(k.startswith("blas:openblas") and i.status == "match" for k, i in found.items())
    assert "sha256" not in found  # every hash was compared
    assert f"the run ran in this image (same id {template_image.id})" in report.notes


def other_sklearn_wheel() -> Path:
    """scikit-learn OTHER_SKLEARN's wheel for CPython 3.11 on manylinux x86_64, downloaded once
    (cached beside the recipe's wheelhouse)."""
    folder = Path(cache_root()) / "test-wheels"
    found = sorted(folder.glob(f"scikit_learn-{OTHER_SKLEARN}-cp311-*.whl"))
    if found:
        return found[0]
    pip = shutil.which("pip") or "pip"
    cmd = [pip, "download", f"scikit-learn=={OTHER_SKLEARN}", "--no-deps", "--only-binary"]
    cmd += [":all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64"]
    run([*cmd, "-d", str(folder)], cwd=folder.parent if folder.parent.is_dir() else Path("/"))
    return sorted(folder.glob(f"scikit_learn-{OTHER_SKLEARN}-cp311-*.whl"))[0]


@pytest.fixture(scope="module")
def other_sklearn_image(
    template_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A serving image FROM the template's image (by id) with another scikit-learn wheel
    installed over it, offline (`docker build --network none`)."""
    context = tmp_path_factory.mktemp("derived")
    wheel = other_sklearn_wheel()
    shutil.copy2(wheel, context / wheel.name)
    (context / "Dockerfile").write_text(
        f"FROM {template_image.id}\n"
        f"COPY {wheel.name} /tmp/\n"
        f"RUN /opt/venv/bin/uv pip install --python /opt/venv/bin/python --offline --no-deps "
        f"/tmp/{wheel.name} && rm /tmp/{wheel.name}\n"
    )
    done = docker.build(context, tag="mlflow-repro-test:other-sklearn", labels={})
    assert done.ok, done.reason
    return str(done.text.strip().splitlines()[-1].strip())


def test_a_serving_image_with_another_scikit_learn_is_named(
    container_runs: ContainerRuns, other_sklearn_image: str
) -> None:
    started = time.monotonic()
    report = parity_image(
        container_runs.host_run, other_sklearn_image, tracking_uri=container_runs.uri
    )
    text = parity_text(report)
    print(text, f"\n({time.monotonic() - started:.1f} s)")
    assert ("scikit-learn", "version-differs", "1.9.1", OTHER_SKLEARN) in mismatched(report), text
    assert f"scikit-learn: training 1.9.1, serving {OTHER_SKLEARN}" in text


def test_an_image_that_is_not_there_is_an_error_naming_it(
    container_runs: ContainerRuns, docker_daemon: str
) -> None:
    with pytest.raises(UsageError, match="no such image in the local Docker engine") as caught:
        parity_image(
            container_runs.host_run,
            "mlflow-repro-test:never-built",
            tracking_uri=container_runs.uri,
        )
    assert "mlflow-repro-test:never-built" in str(caught.value)
