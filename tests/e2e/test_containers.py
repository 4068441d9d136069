"""A template run in its image, end to end on a real Docker daemon: the image recorded by id and
registry digest, replayed from a fresh clone in another directory in that same image
(identical), refused once the image is gone (exit 2, no run created), rebuilt from its recorded
inputs on request; diff of a host run and a container run names the image first.

The runs use an image of their own, the session's template image with one label more (a new
id, the same layers and recorded build inputs), so that deleting it leaves the session's image
for the other tests; the rebuild from its recorded inputs gives the recipe's image again."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.container import docker
from tests.conftest import run, venv_env
from tests.containers import EXPERIMENT, REPOSITORY, ContainerRuns

pytestmark = pytest.mark.e2e

Setup = ContainerRuns


@pytest.fixture
def setup(container_runs: ContainerRuns) -> ContainerRuns:
    return container_runs


def reproduce(setup: Setup, cwd: Path, *args: str, check: bool = True) -> Any:
    cmd = [sys.executable, "-m", "mlflow_repro", "reproduce", *args]
    return run(cmd, cwd=cwd, env=venv_env(MLFLOW_TRACKING_URI=setup.uri), check=check)


def manifest_of(setup: Setup, run_id: str, tmp: Path) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    local = MlflowClient(setup.uri).download_artifacts(run_id, "repro/manifest.json", str(tmp))
    return dict(json.loads(Path(local).read_text()))


def test_a_run_in_its_image_records_the_image_by_id_and_registry_digest(
    setup: Setup, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    run_ = MlflowClient(setup.uri).get_run(setup.run_id)
    assert run_.info.status == "FINISHED"
    tags = run_.data.tags
    assert tags["mlflow.project.env"] == "docker"
    assert tags["mlflow.project.backend"] == "repro-docker"
    manifest = manifest_of(setup, setup.run_id, tmp_path)
    container = manifest["platform"]["container"]
    assert container["source"] == "launcher"
    assert container["image_id"] == setup.image_id
    assert container["repo_digest"] == setup.digest
    assert container["image"] == setup.digest
    assert container["network"] == "none"
    lock = hashlib.sha256((setup.root / "uv.lock").read_bytes()).hexdigest()
    assert container["build"]["lock.sha256"] == lock
    assert container["run_image_id"] and container["run_image_id"] != setup.image_id
    # the image's own interpreter, not the host's
    assert manifest["environment"]["python_version"] == "3.11.2"
    # MLflow's generated Dockerfile in the copy does not make the run dirty
    assert manifest["code"]["dirty"] is False, manifest["code"]
    assert tags["repro.status"] == "reproducible", tags.get("repro.capture.errors")
    assert tags["repro.env.image_id"] == setup.image_id
    env = venv_env(MLFLOW_TRACKING_URI=setup.uri)
    # audit: the image is still there
    audit = run([sys.executable, "-m", "mlflow_repro", "audit", setup.run_id], tmp_path, env)
    line = next(x for x in audit.stdout.splitlines() if "container image" in x)
    assert line.split()[0] == "ok" and "present in the local Docker engine" in line, audit.stdout
    # the checkout and DVC cache are the launching side's, not the container's copy
    line = next(x for x in audit.stdout.splitlines() if "data:data/breast_cancer.csv" in x)
    assert line.split()[0] == "ok" and str(setup.root) in line, audit.stdout
    assert container["project_dir"] == str(setup.root.resolve())
    # parity: the image it ran in holds what it trained with (packages by hash, Python, glibc)
    cmd = [sys.executable, "-m", "mlflow_repro", "parity", setup.run_id, "--image", setup.image_id]
    parity = run(cmd, tmp_path, env, check=False)
    assert parity.returncode == 0, parity.stdout + parity.stderr


def test_reproduce_from_a_fresh_clone_elsewhere_runs_in_the_same_image_and_is_identical(
    setup: Setup, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = reproduce(setup, elsewhere, setup.run_id, "--workdir", str(elsewhere / "ws"))
    assert f"{setup.run_id}: new run" in done.stdout
    assert ": identical (" in done.stdout, done.stdout
    assert f"image: same image {setup.digest} ({setup.image_id})" in done.stdout
    new_id = done.stdout.split("new run ")[1].split(":")[0]
    rerun = manifest_of(setup, new_id, tmp_path)
    assert rerun["platform"]["container"]["image_id"] == setup.image_id
    assert (
        rerun["code"]["commit"]
        == manifest_of(setup, setup.run_id, tmp_path / "o")["code"]["commit"]
    )
    assert Path(rerun["code"]["repo_root"]) != setup.root  # rebuilt elsewhere, not the checkout


def test_diff_of_a_host_run_and_a_container_run_names_the_image_first(setup: Setup) -> None:
    host_run = setup.host_run
    cmd = [sys.executable, "-m", "mlflow_repro", "diff", host_run, setup.run_id]
    done = run(cmd, cwd=setup.root, env=venv_env(MLFLOW_TRACKING_URI=setup.uri), check=False)
    text = done.stdout
    assert done.returncode == 1, text  # differences found
    lines = [line.strip() for line in text.splitlines()]
    first = lines.index("platform:")  # the first platform difference is the image
    # this machine may itself be a container no launcher named (/.dockerenv): then as a host
    hosts = ("image: on the host -> ", "image: in an unrecorded container -> ")
    assert lines[first + 1].startswith(hosts), text
    assert setup.digest[:40] in lines[first + 1]
    assert f"vs {setup.image_id}" in lines[first + 2], text


def test_a_host_run_replayed_in_an_image_on_request_says_the_platform_changed(
    setup: Setup, tmp_path: Path
) -> None:
    done = reproduce(setup, tmp_path, setup.host_run, "--image", setup.recipe_image, check=False)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # compared, whatever the verdict
    assert "image: platform changed: the run ran on the host" in done.stdout, done.stdout
    new_id = done.stdout.split("new run ")[1].split(":")[0]
    container = manifest_of(setup, new_id, tmp_path)["platform"]["container"]
    assert container["image_id"] == setup.recipe_image


def _images_after(image_id: str) -> list[str]:
    listed = run(
        ["docker", "image", "ls", "-a", "-q", "--no-trunc", "--filter", f"since={image_id}"],
        cwd=Path.cwd(),
    )
    return [line for line in listed.stdout.split() if line]


def test_a_gone_image_is_refused_then_rebuilt_from_its_recorded_inputs(
    setup: Setup, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    # gone: from the engine (with the images MLflow built on it) and from the registry
    for image in _images_after(setup.image_id):
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, check=False)
    run(["docker", "rmi", "-f", setup.image_id], cwd=tmp_path)
    assert docker.inspect_image(setup.image_id) is None
    digest = setup.digest.split("@", 1)[1]
    request = urllib.request.Request(
        f"http://{setup.registry}/v2/{REPOSITORY}/manifests/{digest}", method="DELETE"
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 202
    before = {r.info.run_id for r in MlflowClient(setup.uri).search_runs([], max_results=1000)}
    experiment = MlflowClient(setup.uri).get_experiment_by_name(EXPERIMENT).experiment_id
    count = len(MlflowClient(setup.uri).search_runs([experiment], max_results=1000))
    refused = reproduce(setup, tmp_path, setup.run_id, check=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert setup.image_id in refused.stderr and "no longer holds" in refused.stderr
    assert "--rebuild-image" in refused.stderr
    assert len(MlflowClient(setup.uri).search_runs([experiment], max_results=1000)) == count
    del before
    rebuilt = reproduce(setup, tmp_path, setup.run_id, "--rebuild-image", check=False)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert ": identical (" in rebuilt.stdout
    assert "image: rebuilt image sha256:" in rebuilt.stdout
    new_id = rebuilt.stdout.split("new run ")[1].split(":")[0]
    container = manifest_of(setup, new_id, tmp_path)["platform"]["container"]
    # another image id (the recipe's image: the engine's cache holds its steps), the same inputs
    assert container["image_id"] == setup.recipe_image != setup.image_id
    assert f"image: rebuilt image {setup.recipe_image} from the recorded inputs" in rebuilt.stdout
    original = manifest_of(setup, setup.run_id, tmp_path / "o")["platform"]["container"]
    assert container["build"] == original["build"]
