"""Reading and writing manifests: JSON, migrations from older schema versions, type validation.

Writers always write `SCHEMA_VERSION`. A reader takes any older version through the migrations
below (one function per step, applied in order) and refuses only a newer one, which it cannot
understand. Keys a newer writer added inside a known section are ignored; a field whose value has
the wrong type is a `ManifestError` naming the field, never a half-built record.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from mlflow_repro.errors import ManifestError
from mlflow_repro.manifest.schema import SCHEMA_VERSION, Manifest

T = TypeVar("T")


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 added the launch record replay needs (parameters as launched, env manager,
    backend, the run's position in its process). Schema 1 did not record them: they stay
    unknown (`parameters` None), and replay says so instead of guessing."""
    launch = dict(data.get("launch") or {})
    launch.setdefault("parameters", None)
    launch.setdefault("env_manager", None)
    launch.setdefault("backend", None)
    launch.setdefault("run_index", 0)
    return {**data, "launch": launch, "schema_version": 2}


# MIGRATIONS[n] turns a version-n document into a version-(n+1) one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def to_dict(manifest: Manifest) -> dict[str, Any]:
    return dataclasses.asdict(manifest)


def to_json(manifest: Manifest) -> str:
    return json.dumps(to_dict(manifest), indent=2, sort_keys=True) + "\n"


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """`data` brought to the current schema version, or a ManifestError saying why not."""
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ManifestError(
            "the manifest has no valid schema_version",
            value=version,
            hint="it was not written by mlflow-repro, or it was edited",
        )
    if version > SCHEMA_VERSION:
        raise ManifestError(
            f"manifest schema_version {version} is newer than this mlflow-repro reads "
            f"({SCHEMA_VERSION})",
            hint="upgrade mlflow-repro to read it",
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version = data["schema_version"]
    return data


def from_dict(data: Any) -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError(f"a manifest is a JSON object, not {type(data).__name__}")
    return _build(Manifest, migrate(data), "manifest")


def from_json(text: str) -> Manifest:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"the manifest is not valid JSON ({exc})") from None
    return from_dict(data)


def _build(cls: type[T], data: Any, where: str) -> T:
    """A dataclass tree from plain dicts, every value checked against its field's type."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where} should be an object, not {type(data).__name__}", value=data)
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in data
    }
    return cls(**kwargs)


_SCALARS: dict[type, tuple[type, ...]] = {
    str: (str,),
    bool: (bool,),
    int: (int,),
    float: (float, int),
}


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise ManifestError(f"{where} may not be null")
        inner = [a for a in options if a is not type(None)]
        return _convert(inner[0], value, where)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ManifestError(f"{where} should be a list", value=value)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        _, item = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ManifestError(f"{where} should be an object", value=value)
        return {str(k): _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)  # type: ignore[arg-type]
    if hint is Any:
        return value
    allowed = _SCALARS.get(hint)
    if allowed is not None:
        wrong_bool = isinstance(value, bool) and hint is not bool
        if wrong_bool or not isinstance(value, allowed):
            raise ManifestError(f"{where} should be {hint.__name__}", value=value)
        return float(value) if hint is float else value  # type: ignore[arg-type]
    return value
