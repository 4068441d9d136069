"""Checked now, not as recorded: can the commit still be fetched, can each data version still be
retrieved? Reads only (a fetch goes into a temporary bare repository)."""

from __future__ import annotations

import configparser
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.manifest import Code, Data, DataFile
from mlflow_repro.replay.data import cache_dir
from mlflow_repro.secrets import strip_url_credentials

FETCH_TIMEOUT = 120.0


@dataclass(frozen=True)
class Found:
    where: str | None  # the source that has it (credential-free), None when none does
    kind: str  # "remote", "local", "cache", "unchecked" or "none"
    tried: list[str]


def _local_path(source: str) -> Path | None:
    if source.startswith("file://"):
        return Path(source.removeprefix("file://"))
    if "://" in source or (":" in source.split("/")[0] and not source.startswith("/")):
        return None  # a URL or scp-like host:path
    return Path(source)


def _has_commit(repository: Path, commit: str) -> bool:
    done = process.run(["git", "-C", str(repository), "cat-file", "-e", f"{commit}^{{commit}}"])
    return done.ok


def _fetchable(url: str, commit: str) -> tuple[bool, str]:
    """Fetch just `commit` (depth 1) from `url` into a throwaway bare repository."""
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-audit-") as tmp:
        if not process.run(["git", "init", "--quiet", "--bare", tmp]).ok:
            return False, "git init failed"
        done = process.run(
            ["git", "-C", tmp, "fetch", "--quiet", "--depth=1", "--no-tags", url, commit],
            timeout=FETCH_TIMEOUT,
        )
        return done.ok, done.reason[:200]


def find_commit(code: Code) -> Found:
    """The first source holding `code.commit`: the recorded remote, then the local repository."""
    commit = code.commit or ""
    tried: list[str] = []
    if code.remote_url:
        shown = strip_url_credentials(code.remote_url)
        local = _local_path(code.remote_url)
        if local is not None:
            if local.exists() and _has_commit(local, commit):
                return Found(shown, "remote", tried)
            tried.append(f"{shown} (no such commit there)" if local.exists() else f"{shown} (gone)")
        else:
            ok, why = _fetchable(code.remote_url, commit)
            if ok:
                return Found(shown, "remote", tried)
            tried.append(f"{shown} (fetch failed: {why or 'not found'})")
    if code.repo_root:
        root = Path(code.repo_root)
        if (root / ".git").exists() and _has_commit(root, commit):
            return Found(str(root), "local", tried)
        tried.append(f"{root} (gone)" if not root.exists() else f"{root} (no such commit)")
    return Found(None, "none", tried)


def _remotes(dvc_root: Path) -> list[tuple[str, str]]:
    """(name, url) of the repository's DVC remotes, relative local paths resolved against .dvc/."""
    found: dict[str, str] = {}
    for name in ("config", "config.local"):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(dvc_root / ".dvc" / name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        for section in parser.sections():
            label = section.strip("'")
            if label.startswith('remote "') and parser.has_option(section, "url"):
                url = parser.get(section, "url").strip()
                if "://" not in url and not Path(url).is_absolute():
                    url = str((dvc_root / ".dvc" / url).resolve())
                found[label.removeprefix('remote "').rstrip('"')] = url
    return sorted(found.items())


def _in_store(store: Path, md5: str) -> bool:
    """A DVC cache or local remote holds the object (DVC 3 `files/md5/` or DVC 2 layout); for a
    directory, its listing and every file the listing names."""
    import json

    def has(digest: str) -> Path | None:
        for path in (
            store / "files" / "md5" / digest[:2] / digest[2:],
            store / digest[:2] / digest[2:],
        ):
            if path.is_file():
                return path
        return None

    listing = has(md5)
    if not md5.endswith(".dir"):
        return listing is not None
    if listing is None:
        return False
    try:
        entries = json.loads(listing.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return all(has(str(entry.get("md5", ""))) is not None for entry in entries)


def find_data(data: Data, file: DataFile) -> Found:
    """Where the recorded version of `file` can be retrieved from now."""
    tried: list[str] = []
    if not data.dvc_root:
        return Found(None, "none", ["no DVC repository recorded"])
    root = Path(data.dvc_root)
    if not root.exists():
        return Found(None, "none", [f"{root} (gone): its cache and remote settings with it"])
    cache = cache_dir(root)
    if _in_store(cache, file.md5):
        return Found(str(cache), "cache", tried)
    tried.append(f"cache {cache}")
    unchecked = []
    for name, url in _remotes(root):
        local = _local_path(url)
        if local is None:
            unchecked.append(f"{name} ({strip_url_credentials(url)})")
            continue
        if _in_store(local, file.md5):
            return Found(f"remote {name} ({local})", "remote", tried)
        tried.append(f"remote {name} ({local})")
    if unchecked:
        return Found(", ".join(unchecked), "unchecked", tried)
    return Found(None, "none", tried)
