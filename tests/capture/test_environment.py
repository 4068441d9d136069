"""The environment collector: uv.lock exported with hashes, or installed versions, and drift."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from mlflow_repro.capture.environment import (
    _drift,
    _pins,
    collect_environment,
    installed_distributions,
)
from mlflow_repro.capture.staging import Staging
from tests.conftest import REPO_ROOT


def test_uv_project_exports_the_lock_with_hashes(tmp_path: Path, staging: Staging) -> None:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert errors == []
    assert env.lock_source == "uv.lock" and env.lock_strength == "hashes"
    assert env.lock_file == "uv.lock"
    assert env.lock_file_sha256 == hashlib.sha256((tmp_path / "uv.lock").read_bytes()).hexdigest()
    assert env.requirements is not None
    text = (staging.root / "requirements.lock.txt").read_text()
    assert hashlib.sha256(text.encode()).hexdigest() == env.requirements.sha256
    lines = text.splitlines()
    assert len(lines) == env.requirement_count > 50
    assert all("--hash=sha256:" in line for line in lines)
    assert any(line.startswith("mlflow==") for line in lines)
    assert env.python_version.count(".") == 2


# A platform other than this one, for comparing two locks beyond the markers that hold here
WINDOWS_312 = {
    "python_full_version": "3.12.4",
    "python_version": "3.12",
    "sys_platform": "win32",
    "platform_system": "Windows",
    "platform_machine": "AMD64",
    "os_name": "nt",
    "implementation_name": "cpython",
    "implementation_version": "3.12.4",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
}


def test_a_uv_project_also_records_its_pylock_toml_of_the_same_packages(
    tmp_path: Path, staging: Staging
) -> None:
    """repro/pylock.toml: uv's PEP 751 export with the requirements' flags, hashed like every
    payload; the two name the same packages, versions, markers and files (sha256)."""
    import tomllib

    from mlflow_repro.inspect.packages import parse_pylock, parse_requirements

    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert errors == [] and env.pylock is not None
    assert env.pylock.path == "repro/pylock.toml"
    data = (staging.root / "pylock.toml").read_bytes()
    assert hashlib.sha256(data).hexdigest() == env.pylock.sha256 and len(data) == env.pylock.size
    lock = tomllib.loads(data.decode())
    assert lock["lock-version"] == "1.0" and lock["created-by"] == "uv"
    assert not data.startswith(b"#")  # no header quoting the command line, as the requirements
    names = {package["name"] for package in lock["packages"]}
    assert len(lock["packages"]) == env.requirement_count
    assert "mlflow-repro" not in names  # --no-emit-project
    assert {"pytest", "ruff", "mypy"}.isdisjoint(names)  # --no-dev
    requirements = (staging.root / "requirements.lock.txt").read_text()
    for environment in (None, WINDOWS_312):
        assert parse_pylock(data.decode(), environment) == parse_requirements(
            requirements, environment
        )


def test_a_pylock_over_its_cap_is_not_staged_and_capture_says_why(
    tmp_path: Path, staging: Staging, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow_repro.capture.settings import Settings

    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    monkeypatch.setenv("MLFLOW_REPRO_MAX_PYLOCK_BYTES", "4096")
    settings = Settings.from_env()
    assert settings.max_pylock_bytes == 4096
    env, errors = collect_environment(tmp_path, tmp_path, staging, settings)
    assert env.pylock is None and not (staging.root / "pylock.toml").exists()
    assert env.requirements is not None and env.lock_strength == "hashes"
    [error] = errors
    assert error.startswith("repro/pylock.toml not recorded: uv's export is ")
    assert error.endswith("bytes, over the cap of 4096 (MLFLOW_REPRO_MAX_PYLOCK_BYTES)")


def test_a_failed_pylock_export_leaves_the_requirements_and_names_the_failure(
    tmp_path: Path, staging: Staging, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv older than 0.6.15 knows no pylock.toml format: the run keeps its hashed lock."""
    from mlflow_repro.capture import environment

    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    monkeypatch.setattr(environment, "PYLOCK_TOML", "pylock-unknown")
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert env.pylock is None and env.requirements is not None
    [error] = errors
    assert error.startswith(f"uv export --format pylock.toml of {tmp_path / 'uv.lock'} failed: ")
    assert "exit 2" in error  # uv's own words follow


def test_the_pylock_is_staged_by_the_collector_so_a_late_one_is_discarded(
    tmp_path: Path, staging: Staging
) -> None:
    """The export runs in a thread of its own, but its file is staged by the environment
    collector's thread: past the capture deadline it is discarded with the requirements."""
    import threading

    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    thread = threading.Thread(
        target=collect_environment, args=(tmp_path, tmp_path, staging), name="repro-environment"
    )
    thread.start()
    thread.join()
    assert (staging.root / "pylock.toml").is_file()
    staging.close(discard_owners={"repro-environment"})
    assert not (staging.root / "pylock.toml").exists()
    assert not (staging.root / "requirements.lock.txt").exists()


def test_not_a_uv_project_records_installed_versions_as_weaker(
    tmp_path: Path, staging: Staging
) -> None:
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert errors == []
    assert env.lock_source == "installed-distributions"
    assert env.lock_strength == "versions-only"
    text = (staging.root / "requirements.lock.txt").read_text()
    assert "mlflow==" in text and "--hash" not in text


def test_drift_lists_installed_versions_that_differ_from_the_lock() -> None:
    lines = [
        "numpy==1.0.0 ; python_full_version < '3.0' --hash=sha256:aa",
        "numpy==9.9.9 --hash=sha256:bb",
        "absent==1.0 --hash=sha256:cc",
        "same==2.0 --hash=sha256:dd",
    ]
    pins = _pins(lines)
    assert pins == {"numpy": "9.9.9", "absent": "1.0", "same": "2.0"}
    drift = _drift(pins, {"numpy": "2.0.0", "same": "2.0"})
    assert [(d.name, d.locked, d.installed) for d in drift] == [("numpy", "9.9.9", "2.0.0")]


def test_installed_distributions_sees_this_environment() -> None:
    found = installed_distributions()
    import mlflow

    assert found["mlflow"] == mlflow.__version__


GROUPS_PYPROJECT = """
[project]
name = "p"
version = "0"
[dependency-groups]
dev = ["pytest>=8"]
template = ["numpy>=2"]
torch = ["torch==2.13.0"]
tensorflow = ["tensorflow-cpu==2.21.0", "keras>=3"]
docs = [{include-group = "template"}]
[tool.uv]
default-groups = ["template", "dev"]
"""


def test_an_optional_group_is_exported_when_the_environment_holds_all_of_it(
    tmp_path: Path,
) -> None:
    """PyTorch installed from the lock's `torch` group: the run's lock export must name it."""
    from mlflow_repro.capture.environment import installed_groups

    (tmp_path / "pyproject.toml").write_text(GROUPS_PYPROJECT)
    installed = {"numpy": "2.4.6", "pytest": "8.0", "torch": "2.13.0", "keras": "3.1"}
    # default groups are exported anyway, dev never; tensorflow lacks tensorflow-cpu
    assert installed_groups(tmp_path, installed) == ["torch"]
    installed["tensorflow-cpu"] = "2.21.0"
    assert installed_groups(tmp_path, installed) == ["tensorflow", "torch"]
    assert installed_groups(tmp_path, {"numpy": "2"}) == []
    (tmp_path / "pyproject.toml").write_text("not toml [")
    assert installed_groups(tmp_path, installed) == []


def test_the_export_of_a_held_group_names_its_wheels_with_hashes(
    tmp_path: Path, staging: Staging, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template's own lock: with torch held, torch and its NVIDIA wheels are exported
    hash-pinned (the group is recorded), and nothing is left unlocked."""
    from mlflow_repro.capture import environment

    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    held = dict(installed_distributions(), torch="2.13.0")
    monkeypatch.setattr(environment, "installed_distributions", lambda: held)
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert errors == [] and "torch" in env.groups
    lines = (staging.root / "requirements.lock.txt").read_text().splitlines()
    [torch] = [line for line in lines if line.startswith("torch==")]
    assert torch.startswith("torch==2.13.0 ") and "--hash=sha256:" in torch
    assert any(line.startswith("nvidia-cublas") and "--hash=" in line for line in lines)
    assert "torch" not in env.unlocked
    from mlflow_repro.inspect.packages import parse_pylock

    pylock = parse_pylock((staging.root / "pylock.toml").read_text())
    assert pylock["torch"].version == "2.13.0" and pylock["torch"].hashes


def test_a_framework_build_is_recorded_with_its_wheel_and_the_lock_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's distribution says 2.13.0; its own version file says which build (+cu130); the
    WHEEL file's tag names the wheel, whose sha256 uv.lock holds."""
    from mlflow_repro.capture.environment import framework_builds

    site = tmp_path / "site"
    (site / "torch").mkdir(parents=True)
    (site / "torch" / "version.py").write_text("__version__ = '2.13.0+cu130'\ncuda = '13.0'\n")
    info = site / "torch-2.13.0.dist-info"
    info.mkdir()
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_28_x86_64\n")
    monkeypatch.syspath_prepend(str(site))
    wheel = "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    lock = (
        f'    {{ url = "https://files.pythonhosted.org/packages/01/79/{wheel}", '
        f'hash = "sha256:{"6" * 64}", size = 526574961 }},\n'
    )
    [build] = framework_builds({"torch": "2.13.0"}, lock)
    assert (build.name, build.version, build.build) == ("torch", "2.13.0", "2.13.0+cu130")
    assert build.wheel == wheel and build.sha256 == "6" * 64
    [elsewhere] = framework_builds({"torch": "2.13.0"}, "")  # not in the lock: no hash claimed
    assert elsewhere.sha256 is None and elsewhere.build == "2.13.0+cu130"


# A project whose uv.lock has direct-URL sources with made-up credentials: a password in the
# URL, a token in its query, and a git source (uv masks only that one's password itself).
LOCK_PASSWORD = "tok-Rq83vLm2Zx"
LOCK_QUERY_TOKEN = "tok-Wp5kN7tY4c"
PRIVATE_WHEEL = "https://pkgs.example.invalid/private_pkg-1.0-py3-none-any.whl"
WITH_PASSWORD = PRIVATE_WHEEL.replace("//", f"//bot:{LOCK_PASSWORD}@")
SIGNED = f"https://pkgs.example.invalid/s-2.0.tar.gz?token={LOCK_QUERY_TOKEN}"
PRIVATE_LOCK = f"""\
version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [
    {{ name = "private-pkg" }},
    {{ name = "signed-pkg" }},
]

[package.metadata]
requires-dist = [
    {{ name = "private-pkg", url = "{WITH_PASSWORD}" }},
    {{ name = "signed-pkg", url = "{SIGNED}" }},
]

[[package]]
name = "private-pkg"
version = "1.0"
source = {{ url = "{WITH_PASSWORD}" }}
wheels = [
    {{ url = "{WITH_PASSWORD}", hash = "sha256:{"ab" * 32}" }},
]

[[package]]
name = "signed-pkg"
version = "2.0"
source = {{ url = "{SIGNED}" }}
sdist = {{ hash = "sha256:{"cd" * 32}" }}
"""


def test_credentials_in_the_locks_direct_urls_are_not_staged(
    tmp_path: Path, staging: Staging
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["private-pkg", "signed-pkg"]\n'
    )
    (tmp_path / "uv.lock").write_text(PRIVATE_LOCK)
    env, errors = collect_environment(tmp_path, tmp_path, staging)
    assert errors == [] and env.lock_strength == "hashes" and env.requirements is not None
    staged = (staging.root / "requirements.lock.txt").read_bytes()
    assert LOCK_PASSWORD.encode() not in staged and LOCK_QUERY_TOKEN.encode() not in staged
    # The lines still name what to install, with their hashes; the manifest's sha256 are of the
    # file stored and of the lock as it is in the repository.
    assert f"private-pkg @ {PRIVATE_WHEEL} --hash=sha256:{'ab' * 32}".encode() in staged
    assert b"signed-pkg @ https://pkgs.example.invalid/s-2.0.tar.gz --hash=sha256:" in staged
    assert env.requirements.sha256 == hashlib.sha256(staged).hexdigest()
    assert env.lock_file_sha256 == hashlib.sha256((tmp_path / "uv.lock").read_bytes()).hexdigest()
    # The pylock.toml goes through the same redaction, and is still a lock that reads.
    import tomllib

    assert env.pylock is not None
    pylock = (staging.root / "pylock.toml").read_bytes()
    assert LOCK_PASSWORD.encode() not in pylock and LOCK_QUERY_TOKEN.encode() not in pylock
    assert env.pylock.sha256 == hashlib.sha256(pylock).hexdigest()
    archives = {p["name"]: p["archive"] for p in tomllib.loads(pylock.decode())["packages"]}
    assert archives["private-pkg"] == {"url": PRIVATE_WHEEL, "hashes": {"sha256": "ab" * 32}}
    assert archives["signed-pkg"]["url"] == "https://pkgs.example.invalid/s-2.0.tar.gz"
