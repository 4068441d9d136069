"""The launching side of a run in a container: the image read by content and passed in, the
project's .dockerignore honoured, MLflow's generated Dockerfile kept out of the run's git."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.container import docker, hostside
from mlflow_repro.names import CONTAINER_VAR

IMAGE_ID = "sha256:" + "ab" * 32
BUILT_ID = "sha256:" + "cd" * 32


def test_dockerignore_rules_leave_out_directories_whole_and_allow_exceptions(
    tmp_path: Path,
) -> None:
    (tmp_path / ".dockerignore").write_text(
        "# comment\n.venv/\n/mlflow.db\n**/__pycache__/\n*.log\n!keep.log\n"
    )
    rules = hostside.read_dockerignore(tmp_path)
    assert hostside.ignored(rules, ".venv")
    assert hostside.ignored(rules, ".venv/lib/python3.11/site.py")
    assert hostside.ignored(rules, "mlflow.db")
    assert hostside.ignored(rules, "src/pkg/__pycache__/m.pyc")
    assert hostside.ignored(rules, "__pycache__")
    assert hostside.ignored(rules, "run.log")
    assert not hostside.ignored(rules, "keep.log")
    assert not hostside.ignored(rules, "src/pkg/m.py")
    assert not hostside.ignored(rules, ".git/HEAD")


def test_the_copy_mlflow_builds_from_has_no_ignored_files_and_git_ignores_its_dockerfile(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").write_text("big")
    (project / "src").mkdir()
    (project / "src" / "train.py").write_text("print(1)\n")
    (project / ".git" / "info").mkdir(parents=True)
    (project / ".dockerignore").write_text(".venv/\n")
    copy = hostside.pruned_copy(project)
    try:
        assert (copy / "src" / "train.py").read_text() == "print(1)\n"
        assert not (copy / ".venv").exists()
        exclude = (copy / ".git" / "info" / "exclude").read_text()
        assert f"/{hostside.GENERATED_DOCKERFILE}" in exclude.splitlines()
        assert not (project / ".git" / "info" / "exclude").exists()  # the user's is untouched
    finally:
        import shutil

        shutil.rmtree(copy.parent)


def _fake_inspect(monkeypatch: pytest.MonkeyPatch) -> None:
    def inspect(reference: str, timeout: float = 30.0) -> docker.ImageInfo | None:
        if reference in ("env:1", IMAGE_ID):
            return docker.ImageInfo(
                id=IMAGE_ID,
                repo_tags=["env:1"],
                repo_digests=["127.0.0.1:5000/env@sha256:" + "ee" * 32],
                labels={"io.mlflow-repro.lock.sha256": "f" * 64, "other": "x"},
            )
        return None

    monkeypatch.setattr(docker, "inspect_image", inspect)


def test_the_docker_run_command_carries_the_image_read_by_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_inspect(monkeypatch)
    built = types.SimpleNamespace(id=BUILT_ID, tags=["repro-template:abc1234"])
    calls: dict[str, Any] = {}

    def build_docker_image(**kwargs: Any) -> Any:
        calls.update(kwargs)
        return built

    def get_docker_command(**kwargs: Any) -> list[str]:
        return ["docker", "run", "--rm", "-e", "MLFLOW_RUN_ID=r1", kwargs["image"].tags[0]]

    docker_module = types.SimpleNamespace(
        build_docker_image=build_docker_image, _create_docker_build_ctx=lambda w, d: "ctx"
    )
    local_module = types.SimpleNamespace(_get_docker_command=get_docker_command)
    hostside.wrap_docker(docker_module)
    hostside.wrap_local(local_module)
    image = docker_module.build_docker_image(
        work_dir="/p",
        repository_uri="repro-template",
        base_image="env:1",
        run_id="r1",
        build_image=True,
        docker_auth=None,
    )
    assert image is built and calls["base_image"] == "env:1"
    run = types.SimpleNamespace(info=types.SimpleNamespace(run_id="r1"))
    cmd = local_module._get_docker_command(
        image=image, active_run=run, docker_args={"network": "host"}
    )
    assert cmd[-1] == "repro-template:abc1234"  # the image stays last
    passed = [a for a in cmd if a.lstrip("'").startswith(CONTAINER_VAR + "=")]
    assert len(passed) == 1 and cmd[cmd.index(passed[0]) - 1] == "-e"
    import shlex

    record = json.loads(shlex.split(passed[0])[0].split("=", 1)[1])
    assert record["image"] == "env:1"
    assert record["image_id"] == IMAGE_ID
    assert record["repo_digest"].endswith("@sha256:" + "ee" * 32)
    assert record["run_image_id"] == BUILT_ID
    assert record["build"] == {"lock.sha256": "f" * 64}  # the recipe's labels only
    assert record["network"] == "host"
    assert record["project_dir"] == str(Path("/p").resolve())


def test_wrapping_twice_wraps_once() -> None:
    module = types.SimpleNamespace(_get_docker_command=lambda **kw: ["x"])
    hostside.wrap_local(module)
    first = module._get_docker_command
    hostside.wrap_local(module)
    assert module._get_docker_command is first


def test_an_image_build_that_fails_after_mlflow_made_the_run_marks_it_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.projects import ExecutionException
    from mlflow.tracking import MlflowClient

    from tests.conftest import NO_CAPTURE

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient()
    made = client.create_run(client.create_experiment("e"), tags=NO_CAPTURE)

    def build_docker_image(**kwargs: Any) -> Any:
        raise RuntimeError("Cannot connect to the Docker daemon\nat unix:///var/run/docker.sock")

    module = types.SimpleNamespace(build_docker_image=build_docker_image)
    hostside.wrap_docker(module)  # as in a native docker_env `mlflow run`
    with pytest.raises(ExecutionException, match="is marked FAILED"):
        module.build_docker_image(
            work_dir=str(tmp_path),
            repository_uri="p",
            base_image="env:1",
            run_id=made.info.run_id,
            build_image=True,
            docker_auth=None,
        )
    after = client.get_run(made.info.run_id)
    assert after.info.status == "FAILED"
    assert after.data.tags["repro.launch.error"] == (
        "image build failed: RuntimeError: Cannot connect to the Docker daemon; "
        "at unix:///var/run/docker.sock"
    )
