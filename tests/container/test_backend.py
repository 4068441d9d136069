"""The repro-docker backend refuses, before MLflow creates a run, what it cannot run."""

from __future__ import annotations

import pytest
from mlflow.projects import ExecutionException

from mlflow_repro.container import backend, docker


def test_no_image_named_is_refused_with_the_option_to_pass() -> None:
    with pytest.raises(ExecutionException, match=r"names no image.*--backend-config"):
        backend.checked_image({})


def test_no_daemon_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker, "daemon_problem", lambda timeout=15.0: "`docker info` failed")
    with pytest.raises(ExecutionException, match=r"docker info.*no run was created"):
        backend.checked_image({"image": "env:1"})


def test_an_image_the_engine_lacks_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker, "daemon_problem", lambda timeout=15.0: None)
    monkeypatch.setattr(docker, "inspect_image", lambda ref, timeout=30.0: None)
    with pytest.raises(ExecutionException, match=r"no image 'gone:1'.*just image"):
        backend.checked_image({"image": "gone:1"})


def test_a_relative_sqlite_store_is_mounted_as_its_directory_at_the_same_path(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(str(tmp_path))
    mount = backend.sqlite_mount("sqlite:///mlflow.db")
    assert mount is not None
    args, env = mount
    assert args == ["-v", f"{tmp_path}:{tmp_path}"]
    assert env == {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    assert backend.sqlite_mount("sqlite:////data/x/mlflow.db") == (
        ["-v", "/data/x:/data/x"],
        {"MLFLOW_TRACKING_URI": "sqlite:////data/x/mlflow.db"},
    )
    assert backend.sqlite_mount("http://127.0.0.1:5000") is None


def test_environment_values_reach_the_shell_mlflow_runs_quoted() -> None:
    import shlex

    pairs = backend._environment({"environment": {"A": "1", "B": "two words; $(x)"}})
    assert pairs[0] == ["A", "1"]
    name, value = pairs[1]
    assert shlex.split(f"-e {name}={value}") == ["-e", "B=two words; $(x)"]
    with pytest.raises(ExecutionException, match="pairs or a mapping"):
        backend._environment({"environment": ["A=1"]})


def test_an_image_build_that_fails_after_mlflow_made_the_run_marks_it_failed(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.projects.docker as docker_module
    from mlflow.tracking import MlflowClient

    from tests.conftest import NO_CAPTURE

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    client = MlflowClient()
    run = client.create_run(client.create_experiment("e"), tags=NO_CAPTURE)

    def no_space_left(**kwargs: object) -> object:
        raise OSError("no space left on device")

    monkeypatch.setattr(docker_module, "build_docker_image", no_space_left)
    with backend._patched("env:1", []), pytest.raises(ExecutionException) as caught:
        docker_module.build_docker_image(
            work_dir=".",
            repository_uri="p",
            base_image="env:1",
            run_id=run.info.run_id,
            build_image=True,
            docker_auth=None,
        )
    assert "no space left on device" in str(caught.value)
    assert f"run {run.info.run_id} is marked FAILED" in str(caught.value)
    after = client.get_run(run.info.run_id)
    assert after.info.status == "FAILED"
    assert after.data.tags["repro.launch.error"].startswith("image build failed: OSError")
    assert after.data.tags["mlflow.project.backend"] == "repro-docker"
