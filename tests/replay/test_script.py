"""Plain script replay: the recorded command line is moved into the workspace, or refused with a
reason before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Code, Launch, Manifest, Seeds
from mlflow_repro.replay.launch import replay_environment
from mlflow_repro.replay.script import absolute_uri, script_command


def manifest(**launch: object) -> Manifest:
    return Manifest(code=Code(repo_root="/home/ada/project"), launch=Launch(**launch))


def test_the_command_runs_in_the_recorded_directory_with_paths_moved(tmp_path: Path) -> None:
    recorded = manifest(
        argv=["/home/ada/project/pkg/train.py", "--lr", "0.1"],
        command=["-m", "pkg.train", "--data", "/home/ada/project/data/x.csv", "--lr", "0.1"],
        workdir="src",
    )
    args, cwd = script_command(recorded, tmp_path, "r1")
    assert args == ["-m", "pkg.train", "--data", str(tmp_path / "data/x.csv"), "--lr", "0.1"]
    assert cwd == tmp_path / "src"


def test_argv_is_used_when_no_command_was_recorded(tmp_path: Path) -> None:
    args, cwd = script_command(
        manifest(argv=["train.py", "--lr", "0.1"], workdir="."), tmp_path, "r"
    )
    assert args == ["train.py", "--lr", "0.1"] and cwd == tmp_path


@pytest.mark.parametrize(
    ("launch", "fragment"),
    [
        ({"argv": [], "workdir": "."}, "recorded no command line"),
        ({"argv": ["t.py", "--token", "<withheld>"], "workdir": "."}, "withheld as secrets"),
        ({"argv": ["t.py"], "workdir": "../elsewhere"}, "started outside its git repository"),
        ({"argv": ["t.py"], "workdir": None}, "started outside its git repository"),
        ({"command": ["-m", "ipykernel_launcher", "-f", "k.json"], "workdir": "."}, "interactive"),
        ({"command": ["-"], "workdir": "."}, "interactive session"),
    ],
)
def test_what_cannot_be_rerun_is_refused_with_the_reason(
    tmp_path: Path, launch: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ReplayError, match=fragment) as info:
        script_command(manifest(**launch), tmp_path, "run-7")
    assert "run-7" in str(info.value)


def test_the_replay_environment_points_at_the_recorded_states(tmp_path: Path) -> None:
    from mlflow_repro.manifest import Payload

    seeds = Seeds(
        seed=5,
        replay_env={"MLFLOW_REPRO_SEED": "5", "PYTHONHASHSEED": "0"},
        state=Payload(path="repro/seeds/rng_state.json", sha256="0" * 64, size=1),
    )
    env = replay_environment(Manifest(seeds=seeds), tmp_path)
    assert env == {
        "MLFLOW_REPRO_SEED": "5",
        "PYTHONHASHSEED": "0",
        "MLFLOW_REPRO_RNG_STATE": str(tmp_path / "repro/seeds/rng_state.json"),
    }


def test_a_relative_tracking_uri_is_made_absolute_for_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_uri("sqlite:///mlflow.db") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert absolute_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    assert absolute_uri("mlruns") == str(tmp_path / "mlruns")
    assert absolute_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_uv_rebuilds_the_recorded_lock_with_the_groups_the_run_held(tmp_path: Path) -> None:
    """A script run whose environment held torch from the lock's `torch` group is re-run in an
    environment uv builds with that group too (else its imports, and its builds, would differ)."""
    from mlflow_repro.manifest import Environment
    from mlflow_repro.replay.script import interpreter

    env = Environment(
        python_version="3.11.7", lock_file="sub/uv.lock", groups=["tensorflow", "torch"]
    )
    command = interpreter(Manifest(environment=env), tmp_path, "uv", "r1")
    assert command[1:5] == ["run", "--frozen", "--project", str(tmp_path / "sub")]
    assert command[5:9] == ["--group", "tensorflow", "--group", "torch"]
    assert command[-4:] == ["--python", "3.11.7", "--", "python"]
