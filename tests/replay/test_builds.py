"""A replay gets the builds the run used, or refuses naming both: never a silent re-resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.errors import ReplayError
from mlflow_repro.installed import installed_distributions
from mlflow_repro.manifest import Drift, Environment, Manifest, Payload
from mlflow_repro.replay.environment import check_builds


def manifest(payloads: Path, lines: list[str], drift: list[Drift] | None = None) -> Manifest:
    path = payloads / "repro" / "requirements.lock.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    requirements = Payload("repro/requirements.lock.txt", "f" * 64, path.stat().st_size)
    env = Environment(
        lock_source="uv.lock", lock_strength="hashes", requirements=requirements, drift=drift or []
    )
    return Manifest(environment=env)


def test_a_build_installed_beside_the_lock_is_refused_naming_both(tmp_path: Path) -> None:
    """The run had torch's CPU build (pip) while uv.lock names the CUDA build: a rebuilt
    environment would hold the other one."""
    drift = [Drift("torch", locked="2.13.0", installed="2.13.0+cpu")]
    recorded = manifest(tmp_path, ["torch==2.13.0 --hash=sha256:aa"], drift)
    with pytest.raises(ReplayError) as raised:
        check_builds(recorded, tmp_path, "uv", "r1")
    message = str(raised.value)
    assert (
        "rebuilds from the recorded lock would install torch 2.13.0 where the run used " in message
    )
    assert "where the run used 2.13.0+cpu" in message
    assert raised.value.step == "environment"
    check_builds(manifest(tmp_path, ["torch==2.13.0 --hash=sha256:aa"]), tmp_path, "uv", "r1")


def test_the_local_environment_must_hold_the_recorded_builds(tmp_path: Path) -> None:
    """--env-manager local re-runs in this interpreter: its packages are compared with the
    recorded pins (drift included), only for packages both name."""
    here = installed_distributions()
    same = [f"mlflow=={here['mlflow']} --hash=sha256:aa", "not-installed-here==1.0"]
    check_builds(manifest(tmp_path, same), tmp_path, "local", "r1")
    other = [f"mlflow=={here['mlflow']}+cu999 --hash=sha256:aa"]
    with pytest.raises(ReplayError) as raised:
        check_builds(manifest(tmp_path, other), tmp_path, "local", "r1")
    assert f"has mlflow {here['mlflow']} where the run used {here['mlflow']}+cu999" in str(
        raised.value
    )
    # a line for another platform (marker false here) is not this platform's build
    other_platform = [*same, "mlflow==0.1 ; sys_platform == 'win32' --hash=sha256:aa"]
    check_builds(manifest(tmp_path, other_platform), tmp_path, "local", "r1")


def test_the_replay_verdict_compares_the_framework_builds_of_both_manifests() -> None:
    from mlflow_repro.manifest import FrameworkBuild
    from mlflow_repro.replay.verify import compare_frameworks

    cuda = FrameworkBuild("torch", "2.13.0", "2.13.0+cu130", "torch-2.13.0-cp311.whl", "a" * 64)
    cpu = FrameworkBuild("torch", "2.13.0+cpu", "2.13.0+cpu", "torch-2.13.0+cpu.whl", None)
    old = Manifest(environment=Environment(frameworks=[cuda]))
    assert compare_frameworks(old, Manifest(environment=Environment(frameworks=[cuda]))) == []
    [found] = compare_frameworks(old, Manifest(environment=Environment(frameworks=[cpu])))
    assert "torch 2.13.0+cu130" in found and "-> 2.13.0+cpu" in found
    [gone] = compare_frameworks(old, Manifest(environment=Environment()))
    assert gone == "environment: torch 2.13.0+cu130 only in the original run"


def test_a_recorded_wheel_this_machine_cannot_install_is_refused(tmp_path: Path) -> None:
    """The same lock line on another machine picks another wheel of it: another build."""
    from mlflow_repro.manifest import FrameworkBuild

    other = "torch-2.13.0-cp311-cp311-manylinux_2_28_s390x.whl"
    env = Environment(
        lock_source="uv.lock",
        lock_strength="hashes",
        frameworks=[FrameworkBuild("torch", "2.13.0", "2.13.0+cu130", other, "a" * 64)],
    )
    with pytest.raises(ReplayError) as raised:
        check_builds(Manifest(environment=env), tmp_path, "uv", "r1")
    assert "would install torch another wheel of torch==2.13.0, for Linux" in str(raised.value)
    assert f"where the run used 2.13.0+cu130 ({other})" in str(raised.value)
