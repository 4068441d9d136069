"""The workspace: a fresh clone at the recorded commit, the recorded diff and untracked files on
top. The user's checkout is only ever read (cloned from), never written.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Code
from mlflow_repro.replay.source import check_payload


def _git(
    *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _has_commit(workspace: Path, commit: str) -> bool:
    return _git("cat-file", "-e", f"{commit}^{{commit}}", cwd=workspace).returncode == 0


def _sources(code: Code) -> list[str]:
    """Where the commit may be: the recorded remote, then the local repository it ran in."""
    found = []
    if code.remote_url:
        found.append(code.remote_url)
    if code.repo_root and Path(code.repo_root, ".git").exists():
        found.append(code.repo_root)
    return found


def build_workspace(code: Code, payloads: Path, workspace: Path, run_id: str) -> str:
    """Clone, check out `code.commit` (detached), apply the diff and untracked files.

    Returns the source the commit came from. `workspace` must not exist yet.
    """
    if code.vcs != "git" or not code.commit:
        raise ReplayError(
            f"run {run_id} was not made from a git checkout (code.vcs={code.vcs!r}): there is no "
            "commit to rebuild its code from"
        )
    if not code.complete:
        left = ", ".join(f"{o.path} ({o.reason})" for o in code.omitted[:5])
        raise ReplayError(
            f"run {run_id}: its uncommitted changes were not recorded in full ({left}); the "
            "code it ran cannot be rebuilt exactly"
        )
    tried: list[str] = []
    for source in _sources(code):
        if workspace.exists():
            subprocess.run(["rm", "-rf", str(workspace)], check=False)
        done = _git("clone", "--quiet", "--no-checkout", source, str(workspace))
        if done.returncode != 0:
            tried.append(f"{source} (clone failed: {done.stderr.strip()[:200]})")
            continue
        if not _has_commit(workspace, code.commit):
            _git("fetch", "--quiet", "origin", code.commit, cwd=workspace)
        if _has_commit(workspace, code.commit):
            break
        tried.append(f"{source} (no commit {code.commit})")
    else:
        where = "; ".join(tried) or "no remote URL and no local repository recorded"
        raise ReplayError(
            f"run {run_id}: commit {code.commit} is not in any source: {where}. Push the commit "
            "or replay on the machine that has the repository"
        )
    done = _git("checkout", "--quiet", "--detach", code.commit, cwd=workspace)
    if done.returncode != 0:
        raise ReplayError(f"git checkout {code.commit} failed: {done.stderr.strip()}")
    if code.diff is not None:
        diff = check_payload(payloads, code.diff, run_id)
        done = _git("apply", "--binary", "--whitespace=nowarn", str(diff), cwd=workspace)
        if done.returncode != 0:
            raise ReplayError(
                f"run {run_id}: the recorded diff does not apply to {code.commit}: "
                f"{done.stderr.strip()[:500]}"
            )
    for untracked in code.untracked:
        data = check_payload(payloads, untracked.payload, run_id).read_bytes()
        target = workspace / untracked.path
        if not target.resolve().is_relative_to(workspace.resolve()):
            raise ReplayError(
                f"run {run_id}: untracked path {untracked.path!r} leaves the workspace"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return source
