"""Hashes of a logged model's files: the raw bytes, and the content where a format adds noise.

Two fits of the same model can give files that differ in bytes but not in content:
- skops (`*.skops`, MLflow's default sklearn format) names its array members and `__id__`
  fields after Python object ids;
- Keras (`*.keras`) writes object ids as `shared_object_id` and the save time as `date_saved`;
- PyTorch's exported programs (`*.pt2`, MLflow's default pytorch format) write a random
  `.data/serialization_id` and, in each node's `stack_trace`, the absolute paths of the source
  files that built the model (the checkout's, the environment's): another directory, other bytes;
- MLflow's `MLmodel` and `registered_model_meta` name the run, the model id, the registered
  version and the time: they describe the logging, not the model, and are left out.

`content` renumbers the object ids in order of first appearance and drops `date_saved`, the
serialization id and the stack traces, hashing the archive members (not the zip bytes, whose
member timestamps are the save time). Every other file's content is its bytes. Equal `digest`s
mean equal models; `sha256` says whether the bytes were equal too, and `NORMALISED` names what
was set aside for each kind (the replay verdict quotes it).
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Files MLflow writes about the logging itself (run id, model id, time, registered version), and
# those mlflow-repro adds as the run ends when it signs the model (modelsign.py: the OMS
# signature and the run's manifest it binds; a replay's differ by nature).
LOGGING_METADATA = frozenset(
    {
        "MLmodel",
        "registered_model_meta",
        "model.sig",
        "mlflow-repro-manifest.json",
        "mlflow-repro-run.json",
    }
)

_SKOPS_IDS = re.compile(rb'"__id__": (\d+)|"file": "(\d+)\.npy"')
_KERAS_IDS = re.compile(rb'"shared_object_id": (\d+)')
_NPY_MEMBER = re.compile(r"^(\d+)\.npy$")
_PT2_PROGRAM = re.compile(r"(^|/)models/[^/]+\.json$")

# What `content` sets aside, by canonical kind: said in the replay verdict when bytes differ.
NORMALISED = {
    "skops": "object ids renumbered",
    "keras": "object ids renumbered, save time dropped",
    "pt2": "serialization id and stack traces (source file paths) dropped",
}


@dataclass(frozen=True)
class ModelFile:
    """One file of a logged model."""

    path: str  # relative to the model directory, with "/"
    size: int
    sha256: str  # of the bytes
    content: str  # sha256 of the canonical content (equal to sha256 where nothing is removed)
    canonical: str  # "bytes", "skops", "keras", "pt2" or "logging-metadata" (not in the digest)


def _renumber(text: bytes, pattern: re.Pattern[bytes], ids: dict[bytes, bytes]) -> bytes:
    def replace(match: re.Match[bytes]) -> bytes:
        whole = match.group(0)
        for index in range(1, (match.lastindex or 0) + 1):
            found = match.group(index)
            if found is not None:
                new = ids.setdefault(found, b"id%d" % len(ids))
                start, end = match.span(index)
                offset = match.start(0)
                return whole[: start - offset] + new + whole[end - offset :]
        return whole

    return pattern.sub(replace, text)


def _archive_content(path: Path, kind: str) -> str:
    """sha256 over the archive's members (name and bytes) with object ids renumbered."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    ids: dict[bytes, bytes] = {}
    canonical: dict[str, bytes] = {}
    if kind == "skops":
        schema = _renumber(members.pop("schema.json", b""), _SKOPS_IDS, ids)
        canonical["schema.json"] = schema
        for name, data in members.items():
            found = _NPY_MEMBER.match(name)
            key = found.group(1).encode() if found else None
            if key is not None and key in ids:
                name = ids[key].decode() + ".npy"
            canonical[name] = data
    elif kind == "pt2":
        for name, data in members.items():
            if name.endswith(".data/serialization_id"):
                continue  # random at each save
            if _PT2_PROGRAM.search(name):
                data = json.dumps(_without_stack_traces(json.loads(data)), sort_keys=True).encode()
            canonical[name] = data
    else:  # keras
        for name, data in members.items():
            if name == "config.json":
                data = _renumber(data, _KERAS_IDS, ids)
            elif name == "metadata.json":
                meta = json.loads(data)
                meta.pop("date_saved", None)
                data = json.dumps(meta, sort_keys=True).encode()
            canonical[name] = data
    for name in sorted(canonical):
        data = canonical[name]
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return digest.hexdigest()


def _without_stack_traces(value: object) -> object:
    """The exported program with every node's `stack_trace` (where the code was) removed."""
    if isinstance(value, dict):
        return {k: _without_stack_traces(v) for k, v in value.items() if k != "stack_trace"}
    if isinstance(value, list):
        return [_without_stack_traces(v) for v in value]
    return value


def _canonical_kind(path: Path) -> str:
    if path.name in LOGGING_METADATA:
        return "logging-metadata"
    if path.suffix in {".skops", ".keras", ".pt2"} and zipfile.is_zipfile(path):
        return path.suffix[1:]
    return "bytes"


def model_files(directory: str | Path) -> list[ModelFile]:
    """Every file under a model directory, sorted by path, with raw and content hashes."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"model directory {str(root)!r} does not exist")
    found: list[ModelFile] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = hashlib.sha256(path.read_bytes()).hexdigest()
        kind = _canonical_kind(path)
        content = _archive_content(path, kind) if kind in NORMALISED else raw
        found.append(
            ModelFile(
                path=path.relative_to(root).as_posix(),
                size=path.stat().st_size,
                sha256=raw,
                content=content,
                canonical=kind,
            )
        )
    return found


def model_digest(model: str | Path | list[ModelFile]) -> str:
    """One sha256 over the content of a model's files (logging metadata left out).

    `model` is a local model directory (as `mlflow.artifacts.download_artifacts` returns) or its
    `model_files`. Equal digests mean equal models, whatever ids and save times the framework
    wrote into its archives.
    """
    files = model if isinstance(model, list) else model_files(model)
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path):
        if file.canonical != "logging-metadata":
            digest.update(f"{file.path}\0{file.content}\n".encode())
    return digest.hexdigest()
