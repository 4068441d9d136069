"""The code of two runs rebuilt as git trees and compared, without writing to the user's repo."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mlflow_repro.inspect.trees import tree_changes
from mlflow_repro.manifest import Code, Payload, UntrackedFile
from tests.conftest import Repo


def _objects(repo: Repo) -> str:
    return repo.git("count-objects", "-v")


def test_commit_plus_diff_plus_untracked_against_another_commit(repo: Repo, tmp_path: Path) -> None:
    first = repo.git("rev-parse", "HEAD")
    repo.write("model.py", "alpha = 1\nbeta = 2\n")
    second = repo.commit("model")
    # Run B: the second commit with an uncommitted change and a new file.
    repo.write("model.py", "alpha = 1\nbeta = 3\n")
    payloads = tmp_path / "payloads"
    (payloads / "repro" / "untracked").mkdir(parents=True)
    diff = subprocess.run(
        ["git", "diff", "--binary", second], cwd=repo.root, capture_output=True, check=True
    ).stdout
    (payloads / "repro" / "git.diff").write_bytes(diff)
    (payloads / "repro" / "untracked" / "notes.txt").write_text("new\n")
    repo.git("checkout", "--", "model.py")
    status, objects = repo.git("status", "--porcelain"), _objects(repo)

    a = Code(vcs="git", repo_root=str(repo.root), commit=first)
    b = Code(
        vcs="git",
        repo_root=str(repo.root),
        commit=second,
        diff=Payload("repro/git.diff"),
        untracked=[UntrackedFile("notes.txt", Payload("repro/untracked/notes.txt"))],
    )
    changes, why = tree_changes(a, payloads, b, payloads)
    assert why == "" and changes is not None
    by_path = {c.path: c for c in changes}
    assert set(by_path) == {"model.py", "notes.txt"}
    assert by_path["model.py"].status == "added"  # not in the first commit
    assert "+beta = 3" in by_path["model.py"].patch
    assert by_path["notes.txt"].status == "added" and "+new" in by_path["notes.txt"].patch

    # The same commit on both sides, B with the change: only the changed line.
    same, _ = tree_changes(
        Code(vcs="git", repo_root=str(repo.root), commit=second), payloads, b, payloads
    )
    assert same is not None
    [model] = [c for c in same if c.path == "model.py"]
    assert model.status == "modified" and "-beta = 2" in model.patch and "+beta = 3" in model.patch

    assert repo.git("status", "--porcelain") == status  # work tree and index untouched
    assert _objects(repo) == objects  # no object written to the user's repository


def test_without_a_repository_holding_both_commits_it_says_so(repo: Repo, tmp_path: Path) -> None:
    head = repo.git("rev-parse", "HEAD")
    a = Code(vcs="git", repo_root=str(repo.root), commit=head)
    b = Code(vcs="git", repo_root=str(tmp_path / "gone"), commit="0" * 40)
    changes, why = tree_changes(a, tmp_path, b, tmp_path)
    assert changes is None and "no local repository holds both commits" in why
