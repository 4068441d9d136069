"""The image step of replay: the recorded image by id, or a refusal before anything is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro import process
from mlflow_repro.container import docker
from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Container, Launch, Manifest, Platform
from mlflow_repro.names import DOCKER_BACKEND
from mlflow_repro.replay import image as image_step
from mlflow_repro.replay.launch import plan_launch

IMAGE_ID = "sha256:" + "ab" * 32
OTHER_ID = "sha256:" + "cd" * 32
DIGEST = "127.0.0.1:5000/env@sha256:" + "ee" * 32


def _manifest(container: Container | None) -> Manifest:
    return Manifest(
        platform=Platform(system="Linux", libc="glibc 2.36", container=container),
        launch=Launch(launcher="mlflow run", entry_point="main", parameters={}, backend="local"),
    )


def _recorded(**fields: object) -> Container:
    base = {
        "image": "env:1",
        "image_id": IMAGE_ID,
        "network": "host",
        "build": {"base.id": "sha256:" + "01" * 32, "lock.sha256": "f" * 64},
    }
    return Container(**{**base, **fields})  # type: ignore[arg-type]


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> dict[str, docker.ImageInfo]:
    """A fake engine: the images it holds, by every name."""
    held: dict[str, docker.ImageInfo] = {}
    monkeypatch.setattr(docker, "daemon_problem", lambda timeout=15.0: None)
    monkeypatch.setattr(docker, "inspect_image", lambda ref, timeout=30.0: held.get(ref))
    return held


def test_a_host_run_replays_on_the_host(engine: dict, tmp_path: Path) -> None:
    assert image_step.choose_image(_manifest(None), tmp_path, "r") is None


def test_a_container_run_replays_in_its_image_by_id(engine: dict, tmp_path: Path) -> None:
    engine[IMAGE_ID] = docker.ImageInfo(id=IMAGE_ID)
    plan = image_step.choose_image(_manifest(_recorded()), tmp_path, "r")
    assert plan is not None
    assert (plan.image_id, plan.how, plan.network) == (IMAGE_ID, "recorded", "host")
    assert plan.note == f"same image env:1 ({IMAGE_ID})"


def test_a_gone_image_is_refused_naming_it_and_the_way_back(engine: dict, tmp_path: Path) -> None:
    with pytest.raises(ReplayError) as caught:
        image_step.choose_image(_manifest(_recorded()), tmp_path, "r")
    message = str(caught.value)
    assert IMAGE_ID in message and "no longer holds" in message
    assert "--rebuild-image" in message and "no run was created" in message


def test_a_gone_image_is_pulled_by_its_digest(
    engine: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pull(reference: str, timeout: float = 600.0) -> process.Result:
        engine[reference] = docker.ImageInfo(id=IMAGE_ID, repo_digests=[reference])
        return process.Result(True, b"", None, 0)

    monkeypatch.setattr(docker, "pull", pull)
    plan = image_step.choose_image(_manifest(_recorded(repo_digest=DIGEST)), tmp_path, "r")
    assert plan is not None and (plan.image_id, plan.how) == (IMAGE_ID, "pulled")


def test_a_digest_that_pulls_other_bytes_is_not_the_image(
    engine: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pull(reference: str, timeout: float = 600.0) -> process.Result:
        engine[reference] = docker.ImageInfo(id=OTHER_ID)
        return process.Result(True, b"", None, 0)

    monkeypatch.setattr(docker, "pull", pull)
    with pytest.raises(ReplayError, match=f"pulled as {OTHER_ID}"):
        image_step.choose_image(_manifest(_recorded(repo_digest=DIGEST)), tmp_path, "r")


def test_another_image_on_request_says_the_platform_changed(engine: dict, tmp_path: Path) -> None:
    engine["other:2"] = docker.ImageInfo(id=OTHER_ID)
    plan = image_step.choose_image(_manifest(_recorded()), tmp_path, "r", image="other:2")
    assert plan is not None and plan.how == "requested" and plan.image_id == OTHER_ID
    assert plan.note.startswith("platform changed: the run ran in image env:1")


def test_a_host_run_in_an_image_on_request_says_the_platform_changed(
    engine: dict, tmp_path: Path
) -> None:
    engine["env:1"] = docker.ImageInfo(id=IMAGE_ID)
    plan = image_step.choose_image(_manifest(None), tmp_path, "r", image="env:1")
    assert plan is not None and plan.note.startswith("platform changed: the run ran on the host")


def test_rebuild_of_a_host_run_is_a_usage_mistake(engine: dict, tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="ran on a host"):
        image_step.choose_image(_manifest(None), tmp_path, "r", rebuild=True)


def test_an_unrecorded_container_replays_as_a_host_run_and_a_nameless_image_is_refused(
    engine: dict, tmp_path: Path
) -> None:
    unknown = _manifest(Container(source="unidentified"))
    assert image_step.choose_image(unknown, tmp_path, "r") is None
    nameless = _manifest(Container(source="unidentified", image="env:1"))
    with pytest.raises(ReplayError, match="could not read"):
        image_step.choose_image(nameless, tmp_path, "r")


def test_no_daemon_is_refused_before_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(docker, "daemon_problem", lambda timeout=15.0: "`docker info` failed")
    with pytest.raises(ReplayError, match="docker info"):
        image_step.choose_image(_manifest(_recorded()), tmp_path, "r")


def test_the_plan_runs_in_the_image_through_the_repro_docker_backend(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(
        "name: p\nentry_points:\n  main:\n    command: python train.py\n"
    )
    manifest = _manifest(_recorded())
    chosen = image_step.ImagePlan(IMAGE_ID, "recorded", "same image", "host", IMAGE_ID)
    plan = plan_launch(manifest, tmp_path, {}, "r", image=chosen)
    assert (plan.backend, plan.env_manager, plan.image) == (DOCKER_BACKEND, "local", chosen)
    with pytest.raises(ReplayError, match="--backend kubernetes"):
        plan_launch(manifest, tmp_path, {}, "r", backend="kubernetes", image=chosen)


def test_an_unrecorded_container_run_in_an_image_on_request_is_a_platform_change(
    engine: dict, tmp_path: Path
) -> None:
    engine["env:1"] = docker.ImageInfo(id=IMAGE_ID)
    unknown = _manifest(Container(source="unidentified"))
    plan = image_step.choose_image(unknown, tmp_path, "r", image="env:1")
    assert plan is not None
    assert plan.note.startswith(
        "platform changed: the run ran on the host (in a container no launcher named)"
    )
    with pytest.raises(ReplayError, match="ran on a host"):
        image_step.choose_image(unknown, tmp_path, "r", rebuild=True)
