"""Collect the source tree's state with git: commit, branch, remote, diff, untracked files."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from mlflow_repro.capture.settings import Settings
from mlflow_repro.capture.staging import Staging
from mlflow_repro.manifest import Code, Omitted, Payload, UntrackedFile
from mlflow_repro.process import run
from mlflow_repro.secrets import (
    NO_ALLOWLIST,
    Allowlist,
    has_secret_in_file,
    is_secret_name,
    load_allowlist,
    redact_path,
    strip_url_credentials,
)

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def repository_root(start: Path) -> Path | None:
    """The top of the git work tree holding `start`; without a usable git program, the nearest
    folder with a `.git` entry (so that a missing git is reported, not taken for no repository).
    """
    found = run(["git", "rev-parse", "--show-toplevel"], cwd=start)
    if found.ok:
        return Path(found.stdout.decode().strip())
    if found.returncode is None:  # git could not run at all (not on PATH, timed out)
        for folder in (start, *start.parents):
            if (folder / ".git").exists():
                return folder
    return None


def _status(
    top: Path, timeout: float
) -> tuple[dict[str, str], list[str], list[str], list[str], set[str]]:
    """Headers, changed tracked paths, untracked paths, errors, and the changed paths that are
    submodules with changes of their own (new commits, edits, new files), from one `git status`.
    """
    done = run(
        [
            "git",
            "status",
            "--porcelain=v2",
            "--branch",
            "--no-ahead-behind",  # the upstream is read, not how far ahead: a history walk
            "-z",
            "--untracked-files=all",
            "--no-renames",
        ],
        cwd=top,
        timeout=timeout,
    )
    if not done.ok:
        return {}, [], [], [done.error or "git status failed"], set()
    headers: dict[str, str] = {}
    changed: list[str] = []
    untracked: list[str] = []
    submodules: set[str] = set()
    fields = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    skip = False
    for entry in fields:
        if skip:  # the original path of a rename (not expected with --no-renames)
            changed.append(entry)
            skip = False
            continue
        if entry.startswith("# "):
            key, _, value = entry[2:].partition(" ")
            headers[key] = value
        elif entry.startswith("? "):
            untracked.append(entry[2:])
        elif entry.startswith(("1 ", "u ")):
            parts = entry.split(" ", 8 if entry[0] == "1" else 10)
            changed.append(parts[-1])
            if parts[2].startswith("S") and parts[2] != "S...":  # <sub>: S<commit><mod><untr>
                submodules.add(parts[-1])
        elif entry.startswith("2 "):
            changed.append(entry.split(" ", 9)[-1])
            skip = True
    return headers, changed, untracked, [], submodules


def _config(top: Path) -> dict[str, str]:
    """The git settings capture reads (remote URLs, the sparse-checkout switch), in one call."""
    pattern = r"^(remote\..*\.url|core\.sparsecheckout)$"
    done = run(["git", "config", "--get-regexp", pattern], cwd=top)
    if not done.ok:
        return {}
    pairs = (line.partition(" ") for line in done.stdout.decode().splitlines())
    return {key: value for key, _, value in pairs}


def _remote(config: dict[str, str], branch_upstream: str | None) -> tuple[str | None, str | None]:
    remotes = {
        key[len("remote.") : -len(".url")]: url
        for key, url in config.items()
        if key.startswith("remote.") and key.endswith(".url")
    }
    if not remotes:
        return None, None
    preferred = branch_upstream.split("/", 1)[0] if branch_upstream else None
    name = preferred if preferred in remotes else ("origin" if "origin" in remotes else None)
    name = name or sorted(remotes)[0]
    return name, strip_url_credentials(remotes[name])


def _pushed(top: Path, commit: str) -> bool | None:
    done = run(
        [
            "git",
            "for-each-ref",
            "--contains",
            commit,
            "--count=1",
            "--format=%(refname)",
            "refs/remotes",
        ],
        cwd=top,
    )
    return bool(done.stdout.strip()) if done.ok else None


_C_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def _git_quoted(text: str) -> str | None:
    """`text` as git writes a path that needs quoting in a diff header (C-style, in double
    quotes; bytes of 0x80 and above left alone under core.quotePath=false), or None when git
    writes it bare."""
    raw = text.encode("utf-8", "surrogateescape")
    if not any(b < 0x20 or b in (0x22, 0x5C, 0x7F) for b in raw):
        return None
    out = []
    for b in raw:
        if b in _C_ESCAPES:
            out.append(_C_ESCAPES[b])
        elif b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif b < 0x20 or b == 0x7F:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b) if b < 0x80 else bytes([b]).decode("latin-1"))
    return '"' + "".join(out) + '"'


def _header(path: str) -> bytes:
    quoted_a, quoted_b = _git_quoted(f"a/{path}"), _git_quoted(f"b/{path}")
    if quoted_a is None or quoted_b is None:
        return f"diff --git a/{path} b/{path}".encode("utf-8", "surrogateescape")
    return f"diff --git {quoted_a} {quoted_b}".encode("latin-1")


def _split_diff(diff: bytes, changed: list[str]) -> list[tuple[str | None, bytes]]:
    """Split `git diff` output into (path, chunk) per file.

    A chunk's path is trusted only when its header is exactly the one git writes for a path `p`
    that `git status` reported (NUL-separated, so never quoted there): `diff --git a/<p> b/<p>`,
    or its C-quoted form for names with control characters, quotes or backslashes. Anything
    else comes back with path None and is withheld by the caller: a secret-named file must not
    slip through a re-prefixed header.
    """
    headers = {_header(p): p for p in changed}
    chunks: list[tuple[str | None, bytes]] = []
    for i, piece in enumerate(diff.split(b"\ndiff --git ")):
        chunk = piece if i == 0 else b"diff --git " + piece
        header = chunk.split(b"\n", 1)[0]
        chunks.append((headers.get(header), chunk if chunk.endswith(b"\n") else chunk + b"\n"))
    return chunks


def _chunk_reason(
    top: Path, path: str | None, chunk: bytes, allow: Allowlist = NO_ALLOWLIST
) -> str | None:
    if path is None:
        return "unrecognised-diff-header"
    if is_secret_name(path) or redact_path(path) != path:
        return "secret-name"
    if allow.allows_path(path):
        return None
    binary = b"\nGIT binary patch\n" in chunk
    if binary or path.lower().endswith(".ipynb"):
        # A binary patch is compressed: scan the file itself instead of the encoded bytes. A
        # notebook's chunk holds lines of its JSON, not its cells: the file is screened decoded,
        # cell by cell, and the chunk too (it may remove what the file no longer holds).
        try:
            current = (top / path).read_bytes() if (top / path).is_file() else b""
        except OSError:
            return "unreadable"
        if has_secret_in_file(path, current, allow):
            return "secret-content"
        if binary:
            return None
    return "secret-content" if has_secret_in_file(path, chunk, allow) else None


def _run_diff(top: Path, commit: str | None, settings: Settings) -> Any:
    # Fixed prefixes, no renames, no textconv filters and no external diff tools, whatever the
    # user's git config says: the patch must apply with `git apply` and the headers must parse.
    # No pathspec of the changed paths: measured on a 10,000-file tree, `git diff HEAD -- <paths>`
    # took 40 ms where the whole `git diff HEAD` took 10 ms.
    cmd = [
        "git",
        "-c",
        "core.quotePath=false",
        "diff",
        commit or EMPTY_TREE,
        "--binary",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ]
    return run(cmd, cwd=top, timeout=settings.timeout_seconds)


def _diff(
    top: Path,
    commit: str | None,
    changed: list[str],
    staging: Staging,
    settings: Settings,
    omitted: list[Omitted],
    errors: list[str],
    submodules: set[str] | None = None,
    allow: Allowlist = NO_ALLOWLIST,
    ran: Any = None,
) -> tuple[Payload | None, bool]:
    """Stage the diff of tracked files against `commit`, leaving out secrets and overflow
    (`ran`: the `git diff` of `commit`, already started beside `git status`).

    A submodule's own changes (`Subproject commit ...-dirty`) cannot be rebuilt from this
    repository's diff: they are left out as `submodule-changes` (the code is then incomplete);
    a clean submodule needs nothing (replay initialises it at the recorded commit).
    """
    done = ran.result() if ran is not None else _run_diff(top, commit, settings)
    if not done.ok:
        errors.append(done.error or "git diff failed")
        return None, False
    kept: list[bytes] = []
    total = 0
    complete = True
    for path, chunk in _split_diff(done.stdout, changed) if done.stdout else []:
        # The size cap first: what will not be kept is never scanned (bounded cost).
        if path is not None and path in (submodules or ()):
            reason: str | None = "submodule-changes"
        elif total + len(chunk) > settings.max_diff_bytes:
            reason = "diff-size-cap" if path is not None else "unrecognised-diff-header"
        else:
            reason = _chunk_reason(top, path, chunk, allow)
        if reason:
            shown = path or chunk.split(b"\n", 1)[0].decode("utf-8", "replace")[:200]
            omitted.append(
                Omitted(path=f"diff:{redact_path(shown)}", reason=reason, size=len(chunk))
            )
            complete = False
            continue
        kept.append(chunk)
        total += len(chunk)
    payload = staging.add("git.diff", b"".join(kept)) if kept else None
    return payload, complete


def tracking_store_paths() -> tuple[set[Path], list[Path]]:
    """The local MLflow store's own files (sqlite database, ./mlruns): never code to capture."""
    import sys

    files: set[Path] = set()
    uri = os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        with contextlib.suppress(Exception):
            uri = str(mlflow.get_tracking_uri())
    # MLflow resolves a relative store against the working directory it had when it opened
    # it: where the process started, or where a chdir before the run left it.
    from mlflow_repro.startdir import START_DIR

    bases = list(dict.fromkeys([Path.cwd(), *([Path(START_DIR)] if START_DIR else [])]))
    folders = [base / name for base in bases for name in ("mlruns", "mlartifacts")]
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :])
        for where in [db] if db.is_absolute() else [base / db for base in bases]:
            files |= {Path(f"{where}{end}").resolve() for end in ("", "-journal", "-wal", "-shm")}
    elif uri.startswith("file:"):
        from urllib.parse import unquote, urlsplit

        folders.append(Path(unquote(urlsplit(uri).path)))
    elif uri and "://" not in uri:
        folders.append(Path(uri))  # a bare path is a file store
    return files, [f.resolve() for f in folders]


_SAFE_NAME = re.compile(r"[A-Za-z0-9._\-/+@,=~]+")


def _payload_name(rel: str) -> str:
    """Where an untracked file's bytes go under `repro/`: its own path when every character
    survives an artifact store's upload and download, else a name derived from the path's bytes
    (spaces, newlines, tabs, quotes, non-UTF-8 names); the real name stays in the manifest."""
    if _SAFE_NAME.fullmatch(rel) and ".." not in rel.split("/"):
        return f"untracked/{rel}"
    digest = hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return f"untracked-encoded/{digest}"


def _read_capped(path: Path, limit: int) -> bytes | None:
    """At most `limit` bytes; None when the file holds more (it grew after the size check)."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


def _untracked(
    top: Path,
    paths: list[str],
    staging: Staging,
    settings: Settings,
    omitted: list[Omitted],
    allow: Allowlist = NO_ALLOWLIST,
) -> list[UntrackedFile]:
    import stat

    files: list[UntrackedFile] = []
    total = 0
    store_files, store_dirs = tracking_store_paths()
    for position, rel in enumerate(sorted(paths)):
        if len(files) >= settings.max_untracked_files:
            left = len(paths) - position
            omitted.append(Omitted(path=f"{left} more untracked files", reason="file-count-cap"))
            break
        full = top / rel
        try:
            info = full.lstat()
        except OSError:
            continue
        shown = redact_path(rel)
        if shown != rel:  # the name itself holds a credential: named without it
            omitted.append(Omitted(path=shown, reason="secret-name", size=info.st_size))
            continue
        if not stat.S_ISLNK(info.st_mode):  # a link is never followed (nor resolved: loops)
            try:
                resolved = full.resolve()
            except (OSError, RuntimeError):
                resolved = full
            if resolved in store_files or any(resolved.is_relative_to(d) for d in store_dirs):
                omitted.append(Omitted(path=rel, reason="tracking-store", size=info.st_size))
                continue
        reason = None
        if is_secret_name(rel):
            reason = "secret-name"
        elif stat.S_ISLNK(info.st_mode):
            reason = "symlink"  # never followed: it may point outside the repository
        elif not stat.S_ISREG(info.st_mode):
            reason = "not-a-regular-file"
        elif info.st_size > settings.max_untracked_file_bytes:
            reason = "file-size-cap"
        elif total + info.st_size > settings.max_untracked_total_bytes:
            reason = "total-size-cap"
        data = b""
        if reason is None:
            try:
                read = _read_capped(full, settings.max_untracked_file_bytes)
            except OSError as exc:
                read, reason = None, f"unreadable: {exc.strerror}"
            if read is None:
                reason = reason or "file-size-cap"
            else:
                data = read
        if reason is None and not allow.allows_path(rel) and has_secret_in_file(rel, data, allow):
            reason = "secret-content"
        if reason:
            omitted.append(Omitted(path=rel, reason=reason, size=info.st_size))
            continue
        total += len(data)
        files.append(UntrackedFile(path=rel, payload=staging.add(_payload_name(rel), data)))
    return files


def collect_code(
    top: Path | None,
    staging: Staging,
    settings: Settings,
    partial: dict[str, object] | None = None,
) -> tuple[Code, list[str]]:
    """The state of the git repository at `top` (`vcs="none"` when there is none).

    The commit, branch, remote and dirty flag are read first and put in `partial["code"]`
    (marked incomplete), so that a diff or untracked scan that outlives the capture deadline
    costs only itself.
    """
    if top is None:
        return Code(vcs="none"), []
    errors: list[str] = []
    # `git diff` beside `git status`: each stats every tracked file (measured, 10,000 files:
    # 21 and 13 ms), so one after the other cost their sum. The diff is of HEAD as it is now,
    # and used only when status reports that same commit and changes.
    from concurrent.futures import ThreadPoolExecutor

    now = run(["git", "rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=top)
    base = now.stdout.decode().strip() if now.ok else None
    pool = ThreadPoolExecutor(3, thread_name_prefix="repro-git")
    early = pool.submit(_run_diff, top, base, settings) if base else None
    reading = pool.submit(_config, top)
    contained = pool.submit(_pushed, top, base) if base else None
    pool.shutdown(wait=False)
    headers, changed, untracked_paths, status_errors, submodules = _status(
        top, settings.timeout_seconds
    )
    errors += status_errors
    oid = headers.get("branch.oid")
    commit = oid if oid and oid != "(initial)" else None
    head = headers.get("branch.head")
    detached = head == "(detached)"
    branch = None if detached or not head else head
    config = reading.result()
    remote_name, remote_url = _remote(config, headers.get("branch.upstream"))
    pushed = (
        (contained.result() if contained is not None and commit == base else _pushed(top, commit))
        if commit and remote_name
        else (False if commit else None)
    )
    basics = Code(
        vcs="git",
        repo_root=str(top),
        commit=commit,
        branch=branch,
        detached=detached,
        remote_name=remote_name,
        remote_url=remote_url,
        pushed=pushed,
        dirty=bool(changed or untracked_paths) if not status_errors else None,
        complete=False,  # until the diff and the untracked files are in
    )
    if partial is not None:
        partial["code"] = basics
    omitted: list[Omitted] = []
    if config.get("core.sparsecheckout", "").lower() in ("true", "yes", "on", "1"):
        # Files outside the sparse cone are absent here and present in a replay's full clone:
        # what the run could see cannot be rebuilt from the commit alone.
        omitted.append(Omitted(path="(sparse checkout)", reason="sparse-checkout"))
    diff, complete = None, True
    allow, allow_error = load_allowlist(top)
    if allow_error:
        errors.append(f"code.allowlist: {allow_error}")
    # Without a status, a missing commit would mean "diff against the empty tree": the whole
    # repository. Only a successful status decides there is something to diff.
    # Each part stands alone: commit, branch, remote and dirty flag are kept whatever the diff or
    # the untracked files do; a part that fails is named and marks the code incomplete.
    if not status_errors and (changed or commit is None):
        try:
            ran = early if early is not None and commit == base else None
            diff, complete = _diff(
                top, commit, changed, staging, settings, omitted, errors, submodules, allow, ran
            )
        except Exception as exc:
            errors.append(f"code.diff: {type(exc).__name__}: {exc}")
            diff, complete = None, False
    elif status_errors:
        complete = False
    try:
        untracked = _untracked(top, untracked_paths, staging, settings, omitted, allow)
    except Exception as exc:
        errors.append(f"code.untracked: {type(exc).__name__}: {exc}")
        untracked, complete = [], False
    return dataclasses.replace(
        basics,
        diff=diff,
        complete=complete and all(o.reason == "tracking-store" for o in omitted),
        untracked=untracked,
        omitted=omitted,
    ), errors
