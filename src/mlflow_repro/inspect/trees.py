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
    """A local repository that has every commit (one `cat-file --batch-check` per candidate)."""
    wanted = "".join(f"{c.commit}^{{commit}}\n" for c in codes if c.commit)
    if not wanted or any(not c.commit for c in codes):
        return None
    for code in codes:
        root = Path(code.repo_root) if code.repo_root else None
        if root is None or not (root / ".git").exists():
            continue
        done = process.run(
            ["git", "-C", str(root), "cat-file", "--batch-check"], input=wanted.encode()
        )
        if done.ok and b"missing" not in done.stdout:
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
    if code.untracked:
        files = [payloads / u.payload.path for u in code.untracked]
        if not all(f.is_file() for f in files):
            return None
        listed = "".join(f"{f}\n" for f in files).encode("utf-8", "surrogateescape")
        blobs = git("hash-object", "-w", "--stdin-paths", stdin=listed)
        shas = blobs.text.split()
        if not blobs.ok or len(shas) != len(files):
            return None
        entries = b"".join(
            f"100644 {sha}\t".encode() + u.path.encode("utf-8", "surrogateescape") + b"\0"
            for sha, u in zip(shas, code.untracked, strict=True)
        )
        if not git("update-index", "--add", "-z", "--index-info", stdin=entries).ok:
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
    if (repository / ".git").is_dir():
        git_dir_path = str((repository / ".git").resolve())
    else:  # a worktree or submodule: .git is a file naming the real directory
        found = process.run(["git", "-C", str(repository), "rev-parse", "--absolute-git-dir"])
        if not found.ok:
            return None, f"{repository}: {found.reason}"
        git_dir_path = found.text.strip()
    objects = Path(git_dir_path) / "objects"
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-trees-") as tmp:
        scratch = Path(tmp)
        (scratch / "objects").mkdir()

        def build(code: Code, payloads: Path, name: str) -> str | None:
            env = {
                "GIT_DIR": git_dir_path,
                "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
                "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects),
                "GIT_INDEX_FILE": str(scratch / f"index-{name}"),
            }
            return _tree(code, payloads, env, scratch)

        # The two trees are independent (own index; objects written by content): in parallel.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
            built = list(pool.map(build, (a, b), (payloads_a, payloads_b), ("a", "b")))
        for tree, name in zip(built, ("A", "B"), strict=True):
            if tree is None:
                return None, f"the code of run {name} could not be rebuilt as a tree"
        trees = [t for t in built if t is not None]
        env = {
            "GIT_DIR": git_dir_path,
            "GIT_OBJECT_DIRECTORY": str(scratch / "objects"),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(objects),
        }
        names = process.run(
            ["git", "diff", "--no-renames", "--name-status", "-z", *trees], cwd=scratch, env=env
        )
        patches = process.run(
            ["git", "diff", "--no-renames", "--no-ext-diff", "--no-textconv", "--binary", *trees],
            cwd=scratch,
            env=env,
        )
        if not names.ok or not patches.ok:
            return None, names.reason or patches.reason
        fields = names.text.split("\0")
        pairs = [(st, path) for st, path in zip(fields[0::2], fields[1::2], strict=False) if path]
        # One patch per file, in the order --name-status lists them.
        chunks = [
            c if i == 0 else "diff --git " + c
            for i, c in enumerate(patches.stdout.decode("utf-8", "replace").split("\ndiff --git "))
            if c
        ]
        changes = []
        for (status, path), chunk in zip(pairs, chunks, strict=False):
            lines = chunk.splitlines()
            text = "\n".join(lines[:MAX_HUNK_LINES])
            if len(lines) > MAX_HUNK_LINES:
                text += f"\n... {len(lines) - MAX_HUNK_LINES} more lines"
            kind = {"A": "added", "D": "deleted"}.get(status[:1], "modified")
            changes.append(FileChange(path, kind, text))
    return changes, ""
