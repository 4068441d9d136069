"""The capture deadline: a collector that overruns it leaves its section at the default, names
itself in the errors, and its staged payloads are discarded; the other sections are kept."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import mlflow_repro.capture as capture_module
from mlflow_repro.capture import capture
from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import StagingClosed
from mlflow_repro.manifest import Code, Data, Environment, Gpu, Platform, Seeds


def test_a_collector_past_the_deadline_gives_its_default_and_loses_its_payloads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    release = threading.Event()
    late_write: list[BaseException] = []

    def slow_code(
        top: Any, staging: Any, settings: Any, partial: Any = None
    ) -> tuple[Code, list[str]]:
        diff = staging.add("git.diff", b"staged before the deadline, by a collector that overran")
        release.wait(10)
        try:
            staging.add("untracked/late.txt", b"after the deadline")
        except StagingClosed as exc:
            late_write.append(exc)
        return Code(vcs="git", diff=diff), []

    def environment(
        start: Any, top: Any, staging: Any, settings: Any = None
    ) -> tuple[Environment, list[str]]:
        lock = staging.add("requirements.lock.txt", b"numpy==2.4.6\n")
        return Environment(lock_source="uv.lock", requirements=lock), []

    monkeypatch.setattr(capture_module, "collect_code", slow_code)
    monkeypatch.setattr(capture_module, "collect_environment", environment)
    monkeypatch.setattr(capture_module, "collect_data", lambda start, top: (Data(dvc_root="."), []))
    monkeypatch.setattr(capture_module, "collect_platform", lambda: (Platform(system="Test"), []))
    monkeypatch.setattr(
        capture_module, "collect_seeds", lambda staging, ledger: (Seeds(seed=3), [])
    )
    monkeypatch.setattr(capture_module, "collect_gpu", lambda timeout: (Gpu(), ["no driver"]))

    captured = capture(start=tmp_path, settings=Settings(timeout_seconds=0.3))
    try:
        manifest = captured.manifest
        assert manifest.code == Code()
        assert "code: timed out after 0.3s" in manifest.errors
        assert "gpu: no driver" in manifest.errors
        assert manifest.environment.lock_source == "uv.lock"
        assert (manifest.data.dvc_root, manifest.platform.system) == (".", "Test")
        assert manifest.seeds.seed == 3

        release.set()
        for thread in threading.enumerate():
            if thread.name == "repro-code":
                thread.join(10)
        assert late_write, "a write after the deadline must be refused"
        staged = {
            f"repro/{p.relative_to(captured.staging.root).as_posix()}"
            for p in captured.staging.root.rglob("*")
            if p.is_file()
        }
        assert staged == {p.path for p in manifest.payloads()} == {"repro/requirements.lock.txt"}
    finally:
        release.set()
        captured.staging.cleanup()


def test_a_diff_past_the_deadline_keeps_the_commit_branch_and_remote(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlflow_repro.capture import code as collector
    from tests.conftest import Repo

    repo = Repo(tmp_path / "repo")
    repo.root.mkdir()
    repo.git("init", "-q")
    repo.write("train.py", "print(1)\n")
    commit = repo.commit()
    repo.git("remote", "add", "origin", "https://git.example.invalid/team/r.git")
    repo.write("train.py", "print(2)\n")
    release = threading.Event()
    real_diff = collector._diff

    def slow_diff(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)  # a diff that takes longer than the capture deadline
        return real_diff(*args, **kwargs)

    monkeypatch.setattr(collector, "_diff", slow_diff)
    try:
        captured = capture(repo.root, Settings(timeout_seconds=1.0))
    finally:
        release.set()
    code = captured.manifest.code
    assert (code.vcs, code.commit, code.branch) == ("git", commit, "main")
    assert code.remote_url == "https://git.example.invalid/team/r.git" and code.dirty is True
    assert not code.complete and code.diff is None
    assert "code: timed out after 1s; kept what it had read before" in captured.manifest.errors
    captured.staging.cleanup()
