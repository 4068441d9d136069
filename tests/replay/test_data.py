"""Data restore with real DVC: a directory output is checked file by file against its listing."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mlflow_repro.capture.data import collect_data
from mlflow_repro.errors import ReplayError
from mlflow_repro.replay.data import _matches, cache_dir, restore_data
from tests.conftest import Repo, run


def dvc(repo: Repo, *args: str) -> None:
    run([sys.executable, "-m", "dvc", *args], cwd=repo.root)


@pytest.fixture
def tracked_directory(repo: Repo) -> Repo:
    dvc(repo, "init", "--quiet")
    repo.write("images/a.txt", "first\n")
    repo.write("images/sub/b.txt", "second\n")
    dvc(repo, "add", "--quiet", "images")
    repo.commit("images under DVC")
    return repo


def clone(repo: Repo, tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    workspace = tmp_path / "workspace"
    run(["git", "clone", "--quiet", str(repo.root), str(workspace)], cwd=tmp_path)
    return workspace


def test_a_directory_output_is_restored_and_checked_file_by_file(
    tracked_directory: Repo, tmp_path: Path
) -> None:
    data, errors = collect_data(tracked_directory.root, tracked_directory.root)
    [images] = [f for f in data.files if f.path == "images"]
    assert errors == [] and images.md5 and images.md5.endswith(".dir")
    workspace = clone(tracked_directory, tmp_path)

    [restored] = restore_data(data, workspace, str(tracked_directory.root), "run-1")
    assert (restored.path, restored.md5, restored.how) == ("images", images.md5, "user-cache")
    assert (workspace / "images" / "sub" / "b.txt").read_text() == "second\n"


def test_a_relative_remote_means_the_users_repository_not_the_clone(
    tracked_directory: Repo, tmp_path: Path
) -> None:
    dvc(tracked_directory, "remote", "add", "--default", "storage", "../../storage")
    tracked_directory.commit("a remote beside the repository")
    dvc(tracked_directory, "push", "--quiet")
    shutil.rmtree(tracked_directory.root / ".dvc" / "cache")  # only the remote has it now
    data, _ = collect_data(tracked_directory.root, tracked_directory.root)
    workspace = clone(tracked_directory, tmp_path / "elsewhere")
    [restored] = restore_data(data, workspace, str(tracked_directory.root), "run-3")
    assert restored.how == "remote"
    assert (workspace / "images" / "a.txt").read_text() == "first\n"


def test_one_more_file_or_a_changed_one_does_not_match(
    tracked_directory: Repo, tmp_path: Path
) -> None:
    data, _ = collect_data(tracked_directory.root, tracked_directory.root)
    [images] = [f for f in data.files if f.path == "images"]
    caches = [tracked_directory.root / ".dvc" / "cache"]
    folder = tracked_directory.root / "images"
    assert _matches(folder, images.md5, caches)
    (folder / "extra.txt").write_text("not in the listing\n")
    assert not _matches(folder, images.md5, caches)
    (folder / "extra.txt").unlink()
    (folder / "a.txt").write_text("changed\n")
    assert not _matches(folder, images.md5, caches)
    assert not _matches(folder, images.md5, [tmp_path / "no-cache"])


def test_a_directory_no_source_can_give_is_named(tracked_directory: Repo, tmp_path: Path) -> None:
    data, _ = collect_data(tracked_directory.root, tracked_directory.root)
    workspace = clone(tracked_directory, tmp_path)
    shutil.rmtree(tracked_directory.root / ".dvc" / "cache")  # no cache, no remote, no stage
    with pytest.raises(
        ReplayError, match=r"run run-2 data: .*images: recorded md5 \w+\.dir, found nothing"
    ):
        restore_data(data, workspace, str(tracked_directory.root), "run-2")


def test_the_cache_directory_follows_the_dvc_config(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    assert cache_dir(tmp_path) == tmp_path / ".dvc" / "cache"
    (tmp_path / ".dvc" / "config").write_text("[cache]\n    dir = ../shared-cache\n")
    assert cache_dir(tmp_path) == (tmp_path / "shared-cache").resolve()
    (tmp_path / ".dvc" / "config.local").write_text("[cache]\n    dir = /srv/dvc-cache\n")
    assert cache_dir(tmp_path) == Path("/srv/dvc-cache")
