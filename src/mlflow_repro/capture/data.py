"""Collect DVC data versions from dvc.lock and *.dvc files, read as text (no DVC import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from mlflow_repro.manifest import Data, DataFile
from mlflow_repro.process import run


def find_dvc_root(start: Path, stop: Path | None) -> Path | None:
    here = start.resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
        if stop is not None and folder == stop.resolve():
            return None
    return None


def _workspace(root: Path, path: str, md5: str, size: int | None) -> str:
    target = root / path
    if md5.endswith(".dir"):
        return "present" if target.is_dir() else "missing"
    try:
        actual = target.stat().st_size
    except OSError:
        return "missing"
    return "same-size" if size is None or actual == size else "size-differs"


def _entry(root: Path, base: Path, item: dict[str, Any], source: str, role: str) -> DataFile | None:
    md5 = item.get("md5") or item.get("etag") or item.get("checksum")
    if not md5 or "path" not in item:
        return None
    raw = str(item["path"])
    if "://" in raw:  # `dvc import-url` source: a URL, recorded without credentials or query
        from mlflow_repro.secrets import strip_url_credentials

        rel = strip_url_credentials(raw)
    else:
        rel = Path(os.path.relpath(os.path.normpath(base / raw), root)).as_posix()
    size = item.get("size")
    return DataFile(
        path=rel,
        md5=str(md5),
        size=size,
        source=source,
        role=role,
        workspace=_workspace(root, rel, str(md5), size) if "://" not in raw else "unknown",
    )


def _stage_wdirs(lock: Path) -> dict[str, str]:
    """`wdir` of each stage in the dvc.yaml beside a dvc.lock: lock paths are relative to it."""
    definition = lock.with_name("dvc.yaml")
    if not definition.is_file():
        return {}
    doc = yaml.safe_load(definition.read_text(encoding="utf-8")) or {}
    return {
        name: str(body["wdir"])
        for name, body in (doc.get("stages") or {}).items()
        if isinstance(body, dict) and body.get("wdir")
    }


def _from_lock(root: Path, lock: Path) -> list[DataFile]:
    doc = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    files = []
    wdirs = _stage_wdirs(lock)
    where = lock.relative_to(root).as_posix()
    for stage, body in sorted((doc.get("stages") or {}).items()):
        # foreach/matrix stages are locked as `name@key`; their wdir is the definition's.
        base = lock.parent / wdirs.get(stage.split("@", 1)[0], ".")
        for role, key in (("dep", "deps"), ("out", "outs")):
            for item in body.get(key) or []:
                found = _entry(root, base, item, f"{where}:{stage}", role)
                if found:
                    files.append(found)
    return files


def _from_dvc_file(root: Path, file: Path) -> list[DataFile]:
    doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    where = file.relative_to(root).as_posix()
    base = file.parent / str(doc.get("wdir") or ".")
    files = []
    for role, key in (("dep", "deps"), ("out", "outs")):  # deps: `dvc import` sources
        for item in doc.get(key) or []:
            found = _entry(root, base, item, where, role)
            if found:
                files.append(found)
    return files


def collect_data(start: Path, repo_root: Path | None) -> tuple[Data, list[str]]:
    root = find_dvc_root(start, repo_root)
    if root is None:
        return Data(), []
    errors: list[str] = []
    sources = [p for p in [root / "dvc.lock"] if p.is_file()]
    listed = run(["git", "ls-files", "-z", "--", "*.dvc", "**/dvc.lock"], cwd=root)
    if listed.ok:
        for rel in listed.stdout.decode().split("\0"):
            path = root / rel
            if rel and path.is_file() and path not in sources:
                sources.append(path)
    files: list[DataFile] = []
    for source in sources:
        try:
            files += (
                _from_lock(root, source)
                if source.name == "dvc.lock"
                else _from_dvc_file(root, source)
            )
        except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
            errors.append(f"cannot read {source.relative_to(root)}: {exc}")
    differs = any(f.workspace in {"missing", "size-differs"} for f in files if f.role == "out")
    return Data(dvc_root=str(root), files=files, workspace_differs=differs), errors
