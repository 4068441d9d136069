"""The manifest's schema: one frozen dataclass per section.

Every field has a default, so `Section()` is the honest "nothing known" value a failed collector
leaves behind. Reading and writing live in `codec.py`, the tags in `tags.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
MANIFEST_ARTIFACT = "repro/manifest.json"


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
    """How the run was started: everything replay needs to start it again the same way."""

    launcher: str = "python"  # "mlflow run" or "python"
    entry_point: str | None = None
    # `mlflow run`: the parameters as launched (the entry point's declared ones, as strings);
    # None when not recorded (schema 1).
    parameters: dict[str, str] | None = None
    env_manager: str | None = None  # `mlflow run --env-manager` (local, uv, virtualenv, conda)
    backend: str | None = None  # `mlflow run --backend` (local, kubernetes, ...)
    # This run's position among the runs its process started (0 for the first): a script that
    # starts several runs is replayed and compared run for run.
    run_index: int = 0
    argv: list[str] = field(default_factory=list)
    # The interpreter's arguments as typed (sys.orig_argv without the interpreter): keeps
    # `-m package.module` and interpreter options that argv loses. Credentials withheld.
    command: list[str] = field(default_factory=list)
    # Where the process started (its relative argv[0] and paths mean something there),
    # relative to the repository root; None when it lies outside the repository.
    workdir: str | None = None
    script: str | None = None  # the script (sys.argv[0]) relative to the repository root
    # An interactive session (capture/interactive.py): "jupyter", "ipython" or "repl"; the cells
    # it executed (repro/session/cells.py, as of the run's end), why replay cannot run them as a
    # script (None: it can), and the notebook when a Jupyter server named it.
    session: str | None = None
    session_cells: Payload | None = None
    session_note: str | None = None
    notebook: str | None = None


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
class FrameworkBuild:
    """The exact build of an ML framework the run imported from: the distribution's version, the
    framework's own (for torch the local version: `2.13.0+cu130`, `2.13.0+cpu`), the wheel file
    installed (its tags) and that wheel's sha256 as uv.lock records it (None when the lock does
    not name that file: installed from elsewhere)."""

    name: str = ""
    version: str = ""
    build: str = ""
    wheel: str = ""
    sha256: str | None = None


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
    # repro/pylock.toml: uv's PEP 751 export of the same packages as `requirements` (each file's
    # URL and sha256), an audit copy for tools that read the standard; None when not recorded
    # (no uv.lock, or a manifest written before it was: no migration, absence says so)
    pylock: Payload | None = None
    # optional dependency groups of uv.lock (beyond the default ones) that the environment holds,
    # exported with them: PyTorch or TensorFlow installed from the lock (`uv sync --group torch`)
    groups: list[str] = field(default_factory=list)
    frameworks: list[FrameworkBuild] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    # installed beside the lock (pip-installed, in no group of it uv installed): name -> version
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
class Container:
    """The image a run ran in, by content: read from the engine by the launching side (`mlflow
    run`'s host process, plugin/hostside.py) and passed into the container as
    MLFLOW_REPRO_CONTAINER, never only a mutable tag. `source` "launcher": all of the above;
    "unidentified": the process runs in a container (/.dockerenv) and no launcher said which image
    (the record is incomplete: replay cannot choose the image)."""

    source: str = "launcher"  # "launcher" or "unidentified"
    image: str = ""  # the reference the launch named (docker_env image, or the backend's image)
    image_id: str = ""  # its content id, "sha256:<64 hex>" (the same id: the same layers)
    repo_digest: str | None = None  # "<repository>@sha256:<64 hex>": pullable from a registry
    # the image MLflow built FROM it with the project copied in (`mlflow.docker.image.id`): new
    # with every run (the code is in it), so replay runs in `image_id` with its own copy
    run_image_id: str | None = None
    # the recipe's build inputs, from the image's io.mlflow-repro.* labels (container/build.py):
    # base image by id/digest, uv.lock and requirements sha256, wheel sha256s, the Dockerfile
    build: dict[str, str] = field(default_factory=dict)
    network: str | None = None  # `docker run --network` as launched (host, none, ...)
    # the directory on the launching machine that MLflow copied into the image (as
    # /mlflow/projects/code/): where that run's checkout, DVC cache and remotes are
    project_dir: str | None = None


# Where MLflow's docker machinery copies the project in the image (MLFLOW_DOCKER_WORKDIR_PATH)
CONTAINER_WORKDIR = "/mlflow/projects/code"


def on_launching_side(manifest: Manifest, path: str | None) -> str | None:
    """`path` as recorded (the checkout or DVC root of the run) where the launching machine has
    it: a run in a container recorded its copy at /mlflow/projects/code, which is the launcher's
    `container.project_dir` there; anything else is returned as it is."""
    container = manifest.platform.container
    if path is None or container is None or not container.project_dir:
        return path
    inside = Path(path)
    if inside == Path(CONTAINER_WORKDIR) or inside.is_relative_to(CONTAINER_WORKDIR):
        return str(Path(container.project_dir) / inside.relative_to(CONTAINER_WORKDIR))
    return path


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
    container: Container | None = None  # None: not in a container


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
        from mlflow_repro.manifest.codec import to_dict

        return to_dict(self)

    def to_json(self) -> str:
        from mlflow_repro.manifest.codec import to_json

        return to_json(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Read any schema version this mlflow-repro knows (older ones through a migration),
        checking every field's type; a ManifestError says which field is wrong."""
        from mlflow_repro.manifest.codec import from_dict

        return from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        from mlflow_repro.manifest.codec import from_json

        return from_json(text)

    def payloads(self) -> list[Payload]:
        """Every file the manifest says was logged beside it."""
        found = [self.code.diff, self.environment.requirements, self.environment.pylock]
        found += [u.payload for u in self.code.untracked]
        found += [self.seeds.state, self.launch.session_cells]
        return [p for p in found if p is not None]

    def tags(self) -> dict[str, str]:
        """The short `repro.*` tags mirrored from the manifest, for search and the UI."""
        from mlflow_repro.manifest.tags import manifest_tags

        return manifest_tags(self)
