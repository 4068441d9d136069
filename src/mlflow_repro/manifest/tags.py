"""The short `repro.*` tags mirrored from a manifest, for search and the MLflow UI.

Few and grouped, so the UI's tag list reads at a glance: `repro.status`, then `repro.git.*`,
`repro.env.*`, `repro.data.*`, `repro.seed.*`, `repro.gpu`. Tags are for finding runs
(`tags."repro.status" = 'unlocked'`); long values (remote URLs, hashes, wheel lists, generator
states) belong in the manifest. Values are capped well below MLflow's 8000 characters.
"""

from __future__ import annotations

from mlflow_repro.manifest.schema import Gpu, Manifest
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
    }
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
