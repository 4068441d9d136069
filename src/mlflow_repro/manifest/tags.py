"""The short `repro.*` tags mirrored from a manifest, for search and the MLflow UI.

Few and grouped, so the UI's tag list reads at a glance: `repro.status`, then `repro.git.*`,
`repro.env.*`, `repro.data.*`, `repro.seed.*`, `repro.gpu`. Tags are for finding runs
(`tags."repro.status" = 'unlocked'`); long values (remote URLs, hashes, wheel lists, generator
states) belong in the manifest. Values are capped well below MLflow's 8000 characters.

The one exception is the image a run ran in: `repro.env.container` says "none" (on the host) or
the image short (`<image> (sha256:<12 hex>)`), and a run in a container adds
`repro.env.image_id` (the full content id) and, where it came from a registry,
`repro.env.image_digest`, so that runs of one image are found by its id
(`tags."repro.env.image_id" = 'sha256:…'`), as a registry or `docker images --digests` shows it.
"""

from __future__ import annotations

from mlflow_repro.manifest.schema import Container, Gpu, Manifest
from mlflow_repro.manifest.status import status
from mlflow_repro.names import TAG_PREFIX


def manifest_tags(manifest: Manifest) -> dict[str, str]:
    """The tags for `manifest`, keys prefixed with `repro.`."""
    code, env, data = manifest.code, manifest.environment, manifest.data
    tags = {
        "status": status(manifest)[0],
        "manifest": str(manifest.schema_version),
        "git.commit": code.commit or code.vcs,
        "git.branch": (code.branch or ("(detached)" if code.detached else "-"))[:250],
        "git.dirty": _flag(code.dirty),
        "env.python": env.python_version,
        "env.lock": env.lock_source if env.lock_strength != "hashes" else "uv.lock (hashes)",
        "env.drift": str(len(env.drift)),
        "env.unlocked": str(len(env.unlocked)),
        "data.files": str(len(data.files)),
        "data.dirty": _flag(data.workspace_differs),
        "seed": "-" if manifest.seeds.seed is None else str(manifest.seeds.seed),
        "seed.source": manifest.seeds.source,
        "gpu": _gpu_summary(manifest.gpu),
        "env.container": container_summary(manifest.platform.container),
    }
    container = manifest.platform.container
    if container is not None and container.image_id:
        tags["env.image_id"] = container.image_id[:250]
        if container.repo_digest:
            tags["env.image_digest"] = container.repo_digest[:500]
    if manifest.errors:
        tags["capture.errors"] = "; ".join(manifest.errors)[:4000]
    return {TAG_PREFIX + k: v for k, v in tags.items()}


def _flag(value: bool | None) -> str:
    return "unknown" if value is None else str(value).lower()


def _gpu_summary(gpu: Gpu) -> str:
    if not gpu.devices:
        return "none"
    names = sorted({d.name for d in gpu.devices})
    return f"{len(gpu.devices)}x {', '.join(names)}"[:250]


def container_summary(container: Container | None) -> str:
    """ "none" on the host; else the image as launched and its short content id."""
    if container is None:
        return "none"
    if container.source == "unidentified" or not container.image_id:
        return "unidentified (no launcher named the image)"
    short = container.image_id[:19]  # "sha256:" and 12 hex, as `docker images` shows ids
    return f"{container.image} ({short})"[:250] if container.image else short
