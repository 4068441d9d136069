"""The reproducibility manifest: one typed, versioned record per run.

Capture writes it as the artifact `repro/manifest.json` and mirrors its key fields as short
`repro.*` tags; replay, audit and diff read nothing else. Every record is a frozen dataclass whose
fields all have defaults, so `Section()` is the honest "nothing known" value a failed collector
leaves behind.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

SCHEMA_VERSION = 1
MANIFEST_ARTIFACT = "repro/manifest.json"
TAG_PREFIX = "repro."


@dataclass(frozen=True)
class Payload:
    """A file logged under `repro/` in the run, with the hash of its bytes."""

    path: str = ""
    sha256: str = ""
    size: int = 0


@dataclass(frozen=True)
class Omitted:
    """Something capture saw but did not upload, and why."""

    path: str = ""
    reason: str = ""
    size: int | None = None


@dataclass(frozen=True)
class UntrackedFile:
    path: str = ""
    payload: Payload = field(default_factory=Payload)


@dataclass(frozen=True)
class Code:
    """The source tree: commit, branch, remote, and what differs from the commit."""

    vcs: str = "unknown"  # "git", "none" (no repository found) or "unknown" (capture failed)
    repo_root: str | None = None
    commit: str | None = None
    branch: str | None = None
    detached: bool = False
    remote_name: str | None = None
    remote_url: str | None = None
    pushed: bool | None = None
    dirty: bool | None = None
    diff: Payload | None = None
    complete: bool = True  # False when anything of the diff or untracked files was left out
    untracked: list[UntrackedFile] = field(default_factory=list)
    omitted: list[Omitted] = field(default_factory=list)


@dataclass(frozen=True)
class Launch:
    """How the run was started."""

    launcher: str = "python"  # "mlflow run" or "python"
    entry_point: str | None = None
    argv: list[str] = field(default_factory=list)
    # The interpreter's arguments as typed (sys.orig_argv without the interpreter): keeps
    # `-m package.module` and interpreter options that argv loses. Credentials withheld.
    command: list[str] = field(default_factory=list)
    workdir: str | None = None  # the working directory relative to the repository root


@dataclass(frozen=True)
class Drift:
    name: str = ""
    locked: str | None = None
    installed: str | None = None


@dataclass(frozen=True)
class InstalledWheel:
    """A distribution installed from a wheel file rather than an index: the project's own build.

    Serving should install this exact file (same sha256) next to the same requirements.
    """

    name: str = ""
    version: str = ""
    url: str = ""
    sha256: str | None = None
    hash_source: str = "none"  # "installer" (recorded at install) or "file" (hashed now)


@dataclass(frozen=True)
class Environment:
    python_version: str = ""
    python_implementation: str = ""
    python_build: str = ""
    python_compiler: str = ""
    lock_source: str = "none"  # "uv.lock", "installed-distributions" or "none"
    lock_strength: str = "none"  # "hashes" or "versions-only"
    lock_file: str | None = None
    lock_file_sha256: str | None = None
    requirements: Payload | None = None
    requirement_count: int = 0
    drift: list[Drift] = field(default_factory=list)
    # installed beside the lock (pip-installed frameworks, dev tools): name -> version
    unlocked: dict[str, str] = field(default_factory=dict)
    wheels: list[InstalledWheel] = field(default_factory=list)
    image: str | None = None  # the container image, when the launcher says (MLFLOW_REPRO_IMAGE)


@dataclass(frozen=True)
class DataFile:
    path: str = ""
    md5: str = ""
    size: int | None = None
    source: str = ""  # "dvc.lock:<stage>" or "<file>.dvc"
    role: str = "out"  # "out" or "dep"
    workspace: str = "unknown"  # "same-size", "size-differs", "missing", "present"


@dataclass(frozen=True)
class Data:
    dvc_root: str | None = None
    files: list[DataFile] = field(default_factory=list)
    workspace_differs: bool | None = None
    compared_by: str = "size"  # no hashing on the capture path: existence and size only


@dataclass(frozen=True)
class SeedCall:
    """A seeding call made by the user's code (observed, never overridden)."""

    function: str = ""
    seed: str = ""


@dataclass(frozen=True)
class Seeds:
    """The seeds in effect when the run started, and what replay must set to get them again."""

    seed: int | None = None  # the seed mlflow-repro applied (seed_everything or automatic)
    source: str = "none"  # "seed_everything:<argument|environment|fresh>", "automatic:<...>"
    seeded: list[str] = field(default_factory=list)  # generators seeded with `seed`
    # Generators imported before mlflow-repro loaded are never reseeded (the program may have
    # seeded them): the sha256 (16 hex) of their state at load, or "unrecorded" (TensorFlow).
    preloaded: dict[str, str] = field(default_factory=dict)
    state: Payload | None = None  # repro/seeds/rng_state.json: those states, for replay
    restored: list[str] = field(default_factory=list)  # set from MLFLOW_REPRO_RNG_STATE
    user_seeds: list[SeedCall] = field(default_factory=list)  # later calls by the user's code
    deterministic: dict[str, str] = field(default_factory=dict)  # framework switches in force
    rng_fingerprint: str = ""  # sha256 (16 hex) of the generators' states at run start
    pythonhashseed: str | None = None
    hash_randomization: bool = True
    replay_env: dict[str, str] = field(default_factory=dict)  # variables a re-launch must set


@dataclass(frozen=True)
class Platform:
    system: str = ""
    release: str = ""
    version: str = ""
    machine: str = ""
    libc: str = ""
    cpu_model: str = ""
    cpu_count: int | None = None
    cpu_flags: list[str] = field(default_factory=list)
    blas: list[dict[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GpuDevice:
    index: int = 0
    name: str = ""
    memory_total_mib: int | None = None
    uuid: str = ""
    compute_capability: str | None = None


@dataclass(frozen=True)
class Gpu:
    source: str = "none"  # "nvml", "nvidia-smi" or "none"
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    devices: list[GpuDevice] = field(default_factory=list)
    frameworks: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    schema_version: int = SCHEMA_VERSION
    mlflow_repro_version: str = ""
    captured_at: str = ""
    capture_seconds: float = 0.0
    code: Code = field(default_factory=Code)
    launch: Launch = field(default_factory=Launch)
    environment: Environment = field(default_factory=Environment)
    data: Data = field(default_factory=Data)
    seeds: Seeds = field(default_factory=Seeds)
    platform: Platform = field(default_factory=Platform)
    gpu: Gpu = field(default_factory=Gpu)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"manifest schema_version {version!r} is not supported (this mlflow-repro reads "
                f"version {SCHEMA_VERSION}); upgrade mlflow-repro to read it"
            )
        return _build(cls, data)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.from_dict(json.loads(text))

    def payloads(self) -> list[Payload]:
        """Every file the manifest says was logged beside it."""
        found = [self.code.diff, self.environment.requirements]
        found += [u.payload for u in self.code.untracked]
        found.append(self.seeds.state)
        return [p for p in found if p is not None]

    def tags(self) -> dict[str, str]:
        """The short `repro.*` tags mirrored from the manifest, for search and the UI."""
        code, env, data = self.code, self.environment, self.data
        tags = {
            "manifest.version": str(self.schema_version),
            "git.commit": code.commit or code.vcs,
            "git.branch": code.branch or ("(detached)" if code.detached else "-"),
            "git.dirty": _flag(code.dirty),
            "git.pushed": _flag(code.pushed),
            "git.remote": code.remote_url or "-",
            "python": env.python_version,
            "lock.source": env.lock_source,
            "lock.sha256": env.requirements.sha256 if env.requirements else "-",
            "lock.drift": str(len(env.drift)),
            "wheels": ", ".join(
                f"{w.name}=={w.version}@{(w.sha256 or 'unhashed')[:16]}" for w in env.wheels
            )[:4000]
            or "-",
            "image": env.image or "-",
            "data.files": str(len(data.files)),
            "data.dirty": _flag(data.workspace_differs),
            "seed": "-" if self.seeds.seed is None else str(self.seeds.seed),
            "seed.source": self.seeds.source,
            "seed.user": ", ".join(f"{c.function}({c.seed})" for c in self.seeds.user_seeds)[:1000]
            or "-",
            "seed.rng": self.seeds.rng_fingerprint or "-",
            "seed.preloaded": ", ".join(f"{k}@{v}" for k, v in sorted(self.seeds.preloaded.items()))
            or "-",
            "seed.pythonhashseed": self.seeds.pythonhashseed or "random",
            "platform": f"{self.platform.system}-{self.platform.machine}",
            "gpu": _gpu_summary(self.gpu),
            "capture.seconds": f"{self.capture_seconds:.3f}",
        }
        if self.errors:
            tags["capture.errors"] = "; ".join(self.errors)[:4000]
        return {TAG_PREFIX + k: v for k, v in tags.items()}


def _flag(value: bool | None) -> str:
    return "unknown" if value is None else str(value).lower()


def _gpu_summary(gpu: Gpu) -> str:
    if not gpu.devices:
        return "none"
    names = sorted({d.name for d in gpu.devices})
    return f"{len(gpu.devices)}x {', '.join(names)}"


T = TypeVar("T")


def _build(cls: type[T], data: Any) -> T:
    """Rebuild a dataclass tree from plain dicts, ignoring keys a newer writer added."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(inner[0], value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, v) for v in value]
    if dataclasses.is_dataclass(hint):
        return _build(hint, value)  # type: ignore[arg-type]
    return value
