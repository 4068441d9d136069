"""The workspace: a fresh clone at the recorded commit, the recorded diff and untracked files on
top. The user's checkout is only ever read (cloned from), never written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Code
from mlflow_repro.replay.source import check_payload

GIT_TIMEOUT = 900.0  # a clone or fetch of a large repository over the network


def _git(*args: str, cwd: Path | None = None) -> process.Result:
    return process.run(["git", *args], cwd=cwd, timeout=GIT_TIMEOUT)


def _has_commit(workspace: Path, commit: str) -> bool:
    return _git("cat-file", "-e", f"{commit}^{{commit}}", cwd=workspace).ok


def _sources(code: Code) -> list[str]:
    """Where the commit may be: the recorded remote, then the local repository it ran in."""
    found = []
    if code.remote_url:
        found.append(code.remote_url)
    if code.repo_root and Path(code.repo_root, ".git").exists():
        found.append(code.repo_root)
    return found


def _clone(code: Code, workspace: Path, run_id: str, commit: str) -> str:
    """Clone the first source that has `commit` into `workspace`; returns that source."""
    tried: list[str] = []
    for source in _sources(code):
        if workspace.exists():
            shutil.rmtree(workspace)
        done = _git("clone", "--quiet", "--no-checkout", source, str(workspace))
        if not done.ok:
            tried.append(f"{source} (clone failed: {done.reason[:200]})")
            continue
        if not _has_commit(workspace, commit):
            _git("fetch", "--quiet", "origin", commit, cwd=workspace)
        if _has_commit(workspace, commit):
            return source
        tried.append(f"{source} (no commit {commit})")
    where = "; ".join(tried) or "no remote URL and no local repository recorded"
    raise ReplayError(
        f"commit {commit} is not in any source: {where}",
        run_id=run_id,
        step="code",
        value=commit,
        hint="push the commit, or replay on the machine that has the repository",
    )


def build_workspace(
    code: Code, payloads: Path, workspace: Path, run_id: str, errors: list[str] | None = None
) -> str:
    """Clone, check out `code.commit` (detached), apply the diff and untracked files.

    Returns the source the commit came from. `workspace` must not exist yet. `errors`: the
    manifest's capture errors, to name the true cause when no commit was recorded.
    """
    commit = code.commit
    if code.vcs == "git" and not commit:
        said = [e for e in errors or [] if "git" in e or e.startswith("code")]
        problem = (
            "the run was made in a git repository, but capture could not read its commit: "
            + "; ".join(said)[:500]
            if said
            else "the run was made in a git repository with no commit yet: there is no commit "
            "to rebuild its code from"
        )
        raise ReplayError(
            problem,
            run_id=run_id,
            step="code",
            value=code.repo_root,
            hint="commit the code (and make git available where runs are recorded), then "
            "record a new run",
        )
    if code.vcs != "git" or not commit:
        raise ReplayError(
            f"the run was not made from a git checkout (code.vcs={code.vcs!r}): there is no "
            "commit to rebuild its code from",
            run_id=run_id,
            step="code",
            value=code.vcs,
            hint="commit the code to git and record a new run",
        )
    if not code.complete:
        from mlflow_repro.manifest.status import code_gaps

        left = (
            ", ".join(f"{o.path} ({o.reason})" for o in code.omitted[:5])
            or "; ".join(e for e in errors or [] if e.startswith("code"))[:500]
        )
        problem = (
            f"the code it ran cannot be rebuilt exactly: {'; '.join(code_gaps(code))} ({left})"
            if code.omitted
            else f"its uncommitted changes were not recorded in full ({left}): the code it ran "
            "cannot be rebuilt exactly"
        )
        raise ReplayError(
            problem,
            run_id=run_id,
            step="code",
            value=left,
            hint="commit those files, track data with DVC (or keep changes under the capture "
            "caps), use a full checkout, and record a new run",
        )
    source = _clone(code, workspace, run_id, commit)
    done = _git("checkout", "--quiet", "--detach", commit, cwd=workspace)
    if not done.ok:
        raise ReplayError(
            f"git checkout {commit} failed: {done.reason}",
            run_id=run_id,
            step="code",
            value=commit,
            hint="check that the clone at the workspace is intact",
        )
    if (workspace / ".gitmodules").is_file():
        # Submodules at the commits the recorded commit points to (local paths need the file
        # transport, which git turns off for submodules by default).
        done = _git(
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "update",
            "--init",
            "--recursive",
            "--quiet",
            cwd=workspace,
        )
        if not done.ok:
            raise ReplayError(
                f"the submodules could not be initialised at their recorded commits: "
                f"{done.reason[:400]}",
                run_id=run_id,
                step="code",
                value=".gitmodules",
                hint="push the submodules' commits to the URLs .gitmodules names",
            )
    if code.diff is not None:
        diff = check_payload(payloads, code.diff, run_id)
        done = _git("apply", "--binary", "--whitespace=nowarn", str(diff), cwd=workspace)
        if not done.ok:
            raise ReplayError(
                f"the recorded diff does not apply to {commit}: {done.reason[:500]}",
                run_id=run_id,
                step="code",
                value=code.diff.path,
                hint="the diff was recorded against this commit; check the payload",
            )
    for untracked in code.untracked:
        data = check_payload(payloads, untracked.payload, run_id).read_bytes()
        target = workspace / untracked.path
        if not target.resolve().is_relative_to(workspace.resolve()):
            raise ReplayError(
                "an untracked path leaves the workspace",
                run_id=run_id,
                step="code",
                value=untracked.path,
                hint="the manifest was edited or is corrupt; not replaying",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return source
