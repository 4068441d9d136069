"""Data: every DVC-tracked file restored to its recorded md5, in the workspace.

Sources in order: the user's DVC cache (used as a read-only remote, so nothing is written to it),
the project's own remotes (a relative local remote resolved against the user's repository, as it
was when the run was made), then re-running the stage that produces the file at that commit. The
restored files are hashed and must match the manifest; a directory output (md5 `<hash>.dir`) is
checked through its DVC listing: the listing's own md5 is the recorded hash, and every file under
the directory must be in it with its md5, and nothing else.
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import importlib.util
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.errors import DataStepError
from mlflow_repro.manifest import Data

USER_CACHE_REMOTE = "mlflow-repro-user-cache"
DVC_TIMEOUT = 3600.0  # `dvc repro` re-runs a stage
MAX_MESSAGE_CHARS = 400


@dataclass(frozen=True)
class Restored:
    path: str
    md5: str
    how: str  # "user-cache", "remote", "stage" or "already-present"


def dvc_command() -> list[str] | None:
    """DVC in this interpreter (`pip install 'mlflow-repro[dvc]'`), else the `dvc` on PATH (the
    project's own), else None: capture never needs DVC, so mlflow-repro does not depend on it."""
    if importlib.util.find_spec("dvc") is not None:
        return [sys.executable, "-m", "dvc"]
    found = shutil.which("dvc")
    return [found] if found else None


def dvc_messages(result: process.Result) -> str:
    """What DVC said about a failure, shortened: its ERROR lines, else its last lines."""
    lines = [ln.strip() for ln in (result.stderr + "\n" + result.text).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR")]
    text = " | ".join(errors or lines[-3:]) or result.reason or "no output"
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


def _md5(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir(dvc_root: Path) -> Path:
    """The repository's DVC cache: `cache.dir` from .dvc/config.local or .dvc/config (relative to
    .dvc/), else .dvc/cache."""
    found = dvc_root / ".dvc" / "cache"
    for name in ("config", "config.local"):  # config.local wins, as in DVC
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(dvc_root / ".dvc" / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_option("cache", "dir"):
            found = (dvc_root / ".dvc" / parser.get("cache", "dir").strip()).resolve()
    return found


def _dir_listing(digest: str, caches: list[Path]) -> dict[str, str] | None:
    """relpath -> md5 from the `.dir` object whose own md5 is `digest`, from the first cache
    holding it (DVC 3 layout `files/md5/`, else the DVC 2 layout), or None."""
    for cache in caches:
        for listing in (
            cache / "files" / "md5" / digest[:2] / f"{digest[2:]}.dir",
            cache / digest[:2] / f"{digest[2:]}.dir",
        ):
            if _md5(listing) == digest:
                entries = json.loads(listing.read_text("utf-8"))
                return {entry["relpath"]: entry["md5"] for entry in entries}
    return None


def _matches(path: Path, md5: str, caches: list[Path]) -> bool:
    """The file, or the directory with every file in its recorded listing, as recorded."""
    if not md5.endswith(".dir"):
        return _md5(path) == md5
    listing = _dir_listing(md5.removesuffix(".dir"), caches)
    if listing is None or not path.is_dir():
        return False
    found = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    return found == set(listing) and all(_md5(path / rel) == listing[rel] for rel in listing)


def _configure_remotes(dvc_root: Path, user_dvc_root: Path | None, user_cache: Path | None) -> None:
    """Written into the workspace's .dvc/config.local (one file write, not a `dvc remote` process
    per change): the user's cache as a read-only remote, and every remote given as a relative
    local path resolved against the user's repository, which is what it meant there."""
    remotes: list[tuple[str, str]] = []
    if user_cache is not None and user_cache.is_dir():
        remotes.append((USER_CACHE_REMOTE, str(user_cache)))
    if user_dvc_root is not None:
        parser = configparser.ConfigParser(interpolation=None)
        with contextlib.suppress(configparser.Error, UnicodeDecodeError):  # dvc will say why
            parser.read(dvc_root / ".dvc" / "config", encoding="utf-8")
        for section in parser.sections():
            name = section.strip("'")
            if not (name.startswith('remote "') and parser.has_option(section, "url")):
                continue
            url = parser.get(section, "url").strip()
            if "://" not in url and not Path(url).is_absolute():
                resolved = (user_dvc_root / ".dvc" / url).resolve()
                remotes.append((name.removeprefix('remote "').rstrip('"'), str(resolved)))
    if remotes:
        with (dvc_root / ".dvc" / "config.local").open("a", encoding="utf-8") as config:
            for name, url in remotes:
                config.write(f"['remote \"{name}\"']\n    url = {url}\n")


def restore_data(data: Data, workspace: Path, repo_root: str | None, run_id: str) -> list[Restored]:
    """Bring every recorded DVC output into `workspace` with its recorded md5, or fail naming it."""
    outs = [f for f in data.files if f.role == "out" and f.md5]
    if not outs or data.dvc_root is None:
        return []
    user_root = Path(repo_root) if repo_root else None
    dvc_root = workspace
    if user_root is not None and Path(data.dvc_root).is_relative_to(user_root):
        dvc_root = workspace / Path(data.dvc_root).relative_to(user_root)
    user_cache = cache_dir(Path(data.dvc_root)) if user_root is not None else None
    caches = [cache_dir(dvc_root), *([user_cache] if user_cache else [])]

    def missing() -> list[str]:
        return [f.path for f in outs if not _matches(dvc_root / f.path, f.md5, caches)]

    needed = missing()
    if not needed:
        return [Restored(path=f.path, md5=f.md5, how="already-present") for f in outs]
    dvc = dvc_command()
    if dvc is None:
        raise DataStepError(
            f"{len(needed)} DVC-tracked file(s) must be restored and DVC is not installed here "
            "(neither in this environment nor on PATH)",
            run_id=run_id,
            step="data",
            value=needed[:5],
            hint="install DVC in this environment, e.g. `pip install 'mlflow-repro[dvc]'`",
        )

    how = dict.fromkeys((f.path for f in outs), "already-present")
    steps: list[tuple[str, list[str]]] = []
    _configure_remotes(dvc_root, Path(data.dvc_root) if user_root else None, user_cache)
    if user_cache is not None and user_cache.is_dir():
        steps.append(("user-cache", ["pull", "--remote", USER_CACHE_REMOTE]))
    # Not --quiet: it silences DVC's error messages too, and they are what the user needs.
    steps.append(("remote", ["pull"]))
    steps.append(("stage", ["repro"]))
    problems: list[str] = []
    for name, args in steps:
        before = set(missing())
        if not before:
            break
        done = process.run([*dvc, *args], cwd=dvc_root, timeout=900)
        if not done.ok:
            problems.append(f"dvc {' '.join(args)}: {dvc_messages(done)}")
        for path in before - set(missing()):
            how[path] = name
    wrong = missing()
    if wrong:
        details = "; ".join(
            f"{f.path}: recorded md5 {f.md5}, found {_found(dvc_root / f.path)}"
            for f in outs
            if f.path in wrong
        )
        tried = " | ".join(problems) or "no source had it"
        raise DataStepError(
            f"data could not be restored as recorded ({details}). Tried the DVC cache, the "
            f"remotes and the stage: {tried}",
            run_id=run_id,
            step="data",
            hint="push the data to a DVC remote the project names, or replay where its cache is",
        )
    return [Restored(path=f.path, md5=f.md5, how=how[f.path]) for f in outs]


def _found(path: Path) -> str:
    if path.is_dir():
        return "a directory that does not match that listing (or no cache holds the listing)"
    return _md5(path) or "nothing"
