"""Files a run reads that its record cannot rebuild: inputs git ignores and DVC does not track.

A replay rebuilds the commit, the recorded changes, the untracked files capture saw and the
DVC-tracked data; a file git ignores (`local/params.json`) is in none of them, and the replay
would fail or, worse, read another version. Python's audit hooks (PEP 578) see every file the
process opens: `watch()` adds one (at `import mlflow`, once) that notes files opened for reading
inside the repository the process started in, skipping the interpreter's own and its packages'
(a set of strings: a few comparisons per event, nothing else), and those it opened for
writing: a file the run wrote (a model it then logs as an artifact) is its output, not an
input. At a run's end `ignored_inputs()` asks git which of the files read it ignores (`git
check-ignore`, one call); the run's manifest then names them (`omitted`, reason
`ignored-input`) and the run is `incomplete`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlflow_repro.plugin.state import process

if TYPE_CHECKING:
    from mlflow_repro.manifest import Manifest
    from mlflow_repro.plugin.state import ProcessState

LIMIT = 50_000  # files noted at most (a program reading more is named as such)


def _repository_of(start: str) -> str | None:
    """The git work tree holding `start` (its `.git` found by walking up), or None."""
    here = Path(start)
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return str(folder)
    return None


def watch(state: ProcessState) -> None:
    """Note, in `state`, the files opened under the repository the process started in, from now
    on (once per process)."""
    if state.inputs_root is not None or state.start_dir is None:
        return
    root = _repository_of(state.start_dir)
    if root is None:
        return
    prefix = root.rstrip(os.sep) + os.sep
    skip = tuple(
        {p.rstrip(os.sep) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        | {prefix + ".git" + os.sep}
    )

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event != "open":
            return
        try:  # an exception here would abort the user's open(): never
            note(args)
        except Exception:
            return

    def note(args: tuple[object, ...]) -> None:
        path, mode, flags = args[0], args[1], args[2]
        if not isinstance(path, str):
            return
        if isinstance(mode, str):
            writes = any(c in mode for c in "wax+")
        else:
            writes = isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR))
        if not path.startswith(os.sep):
            try:
                path = os.path.join(os.getcwd(), path)
            except OSError:
                return
        if not path.startswith(prefix) or path.startswith(skip) or "__pycache__" in path:
            return
        if len(opened) + len(written) < LIMIT:
            with lock:
                (written if writes else opened).add(path)

    opened, written, lock = state.opened, state.written, state.inputs_lock
    state.inputs_root = root
    sys.addaudithook(hook)


def opened() -> list[str]:
    """The files noted so far, relative to the watched repository."""
    state = process()
    if state.inputs_root is None:
        return []
    root = Path(state.inputs_root)
    with state.inputs_lock:
        paths = sorted(state.opened - state.written)  # a file the run wrote is its output
    return [Path(p).relative_to(root).as_posix() for p in paths]


class CheckFailed(RuntimeError):
    """git could not say which files it ignores: the record cannot claim there are none."""


def ignored_inputs(top: str | None, tracked_by_dvc: set[str], timeout: float = 10.0) -> list[str]:
    """The files this process read under `top` that git ignores and DVC does not track, that
    still exist (a file the run wrote and read back is not an input when it is gone). Raises
    CheckFailed when git cannot tell."""
    state = process()
    if state.inputs_root is None or top is None or Path(state.inputs_root) != Path(top):
        return []
    from mlflow_repro.capture.code import tracking_store_paths
    from mlflow_repro.process import run

    files, folders = tracking_store_paths()
    candidates = []
    for rel in opened():
        path = (Path(top) / rel).resolve()
        # a DVC out may be a directory (`data/images.dvc`): every file under it is tracked
        if any(rel == out or rel.startswith(out + "/") for out in tracked_by_dvc):
            continue
        if path in files or not path.is_file():
            continue
        if any(path.is_relative_to(folder) for folder in folders):
            continue
        candidates.append(rel)
    if not candidates:
        return []
    done = run(
        ["git", "check-ignore", "-z", "--stdin"],
        cwd=Path(top),
        input=b"\0".join(c.encode("utf-8", "surrogateescape") for c in candidates) + b"\0",
        timeout=timeout,
    )
    if done.returncode not in (0, 1):  # 1: none of them is ignored
        raise CheckFailed(f"git check-ignore: {done.reason}")
    if len(state.opened) + len(state.written) >= LIMIT:
        raise CheckFailed(f"more than {LIMIT} files read in the repository: not all were noted")
    return sorted(p.decode("utf-8", "surrogateescape") for p in done.stdout.split(b"\0") if p)


def with_ignored_inputs(manifest: Manifest) -> Manifest | None:
    """`manifest` with the files the run read that git ignores and DVC does not track named
    (`omitted`, reason `ignored-input`: the code is then incomplete), or with the reason they
    could not be checked among its errors; None when there is nothing to add."""
    import dataclasses
    import os

    from mlflow_repro.manifest import Omitted

    code, data = manifest.code, manifest.data
    if code.repo_root is None:
        return None
    dvc = {
        os.path.relpath(os.path.join(data.dvc_root or code.repo_root, f.path), code.repo_root)
        for f in data.files
    }
    try:
        found = [p for p in ignored_inputs(code.repo_root, dvc) if not p.startswith(".dvc/")]
    except Exception as exc:
        return dataclasses.replace(manifest, errors=[*manifest.errors, f"inputs: {exc}"])
    if not found:
        return None
    omitted = [*code.omitted, *(Omitted(path=p, reason="ignored-input") for p in found)]
    code = dataclasses.replace(code, complete=False, omitted=omitted)
    return dataclasses.replace(manifest, code=code)
