"""The code each run ran, rebuilt as git trees (commit + recorded diff + untracked files), and the
changes between the two trees, file by file.

The trees are built in a temporary object directory that borrows the user's objects as
alternates, with a temporary index: the user's repository, index and work tree are never
written.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.manifest import Code

MAX_HUNK_LINES = 40


@dataclass(frozen=True)
class FileChange:
    path: str
    status: str  # "added", "deleted" or "modified"
    patch: str  # the unified diff, cut to MAX_HUNK_LINES lines


def _repository(*codes: Code) -> Path | None:
    """A local repository that has every commit."""
    for code in codes:
        root = Path(code.repo_root) if code.repo_root else None
        if root is None or not (root / ".git").exists():
            continue
        if all(
            c.commit
            and process.run(["git", "-C", str(root), "cat-file", "-e", f"{c.commit}^{{commit}}"]).ok
            for c in codes
        ):
            return root
    return None


def _tree(code: Code, payloads: Path, env: dict[str, str], cwd: Path) -> str | None:
    def git(*args: str, stdin: bytes | None = None) -> process.Result:
        return process.run(["git", *args], cwd=cwd, env=env, input=stdin)

    if not git("read-tree", str(code.commit)).ok:
        return None
    if code.diff is not None:
        patch = payloads / code.diff.path
        if not patch.is_file() or not git("apply", "--cached", "--binary", str(patch)).ok:
            return None
    for untracked in code.untracked:
        data = payloads / untracked.payload.path
        if not data.is_file():
            return None
        blob = git("hash-object", "-w", "--stdin", stdin=data.read_bytes())
        if not blob.ok:
            return None
        sha = blob.text.strip()
        if not git("update-index", "--add", "--cacheinfo", f"100644,{sha},{untracked.path}").ok:
            return None
    tree = git("write-tree")
    return tree.text.strip() if tree.ok else None


def tree_changes(
    a: Code, payloads_a: Path, b: Code, payloads_b: Path
) -> tuple[list[FileChange] | None, str]:
    """The files that differ between the code of run A and run B, or None and why not."""
    repository = _repository(a, b)
    if repository is None:
        return None, "no local repository holds both commits: trees not rebuilt"
    git_dir = process.run(["git", "-C", str(repository), "rev-parse", "--absolute-git-dir"])
    if not git_dir.ok:
        return None, f"{repository}: {git_dir.reason}"
    objects = Path(git_dir.text.strip()) / "objects"
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-trees-") as tmp:
        scratch = Path(tmp)
        (scratch / "objects").mkdir()
        trees = []
        for code, payloads, name in ((a, payloads_a, "a"), (b, payloads_b, "b")):
            env = {
                "GIT_DIR": git_dir.text.strip(),
                "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
                "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects),
                "GIT_INDEX_FILE": str(scratch / f"index-{name}"),
            }
            tree = _tree(code, payloads, env, scratch)
            if tree is None:
                return None, f"the code of run {name.upper()} could not be rebuilt as a tree"
            trees.append(tree)
        env = {
            "GIT_DIR": git_dir.text.strip(),
            "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects),
        }
        names = process.run(
            ["git", "diff", "--no-renames", "--name-status", "-z", *trees], cwd=scratch, env=env
        )
        if not names.ok:
            return None, names.reason
        fields = names.text.split("\0")
        changes = []
        for status, path in zip(fields[0::2], fields[1::2], strict=False):
            if not path:
                continue
            patch = process.run(
                [
                    "git",
                    "diff",
                    "--no-renames",
                    "--no-ext-diff",
                    "--no-textconv",
                    *trees,
                    "--",
                    path,
                ],
                cwd=scratch,
                env=env,
            )
            lines = patch.text.splitlines()
            text = "\n".join(lines[:MAX_HUNK_LINES])
            if len(lines) > MAX_HUNK_LINES:
                text += f"\n... {len(lines) - MAX_HUNK_LINES} more lines"
            kind = {"A": "added", "D": "deleted"}.get(status[:1], "modified")
            changes.append(FileChange(path, kind, text))
    return changes, ""
