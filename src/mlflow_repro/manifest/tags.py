"""The short `repro.*` tags mirrored from a manifest, for search and the MLflow UI.

Tags are for finding runs (`tags."repro.git.dirty" = 'true'`); long values belong in the
manifest. Every value is a string of at most a few thousand characters (MLflow caps tag values at
8000).
"""

from __future__ import annotations

from mlflow_repro.manifest.schema import Gpu, Manifest
from mlflow_repro.names import TAG_PREFIX


def manifest_tags(manifest: Manifest) -> dict[str, str]:
    """The tags for `manifest`, keys prefixed with `repro.`."""
    code, env, data = manifest.code, manifest.environment, manifest.data
    tags = {
        "manifest.version": str(manifest.schema_version),
        "git.commit": code.commit or code.vcs,
        "git.branch": (code.branch or ("(detached)" if code.detached else "-"))[:1000],
        "git.dirty": _flag(code.dirty),
        "git.pushed": _flag(code.pushed),
        "git.remote": (code.remote_url or "-")[:2000],
        "python": env.python_version,
        "lock.source": env.lock_source,
        "lock.sha256": env.requirements.sha256 if env.requirements else "-",
        "lock.drift": str(len(env.drift)),
        "wheels": ", ".join(
            f"{w.name}=={w.version}@{(w.sha256 or 'unhashed')[:16]}" for w in env.wheels
        )[:4000]
        or "-",
        "image": (env.image or "-")[:2000],
        "data.files": str(len(data.files)),
        "data.dirty": _flag(data.workspace_differs),
        "seed": "-" if manifest.seeds.seed is None else str(manifest.seeds.seed),
        "seed.source": manifest.seeds.source,
        "seed.user": ", ".join(f"{c.function}({c.seed})" for c in manifest.seeds.user_seeds)[:1000]
        or "-",
        "seed.rng": manifest.seeds.rng_fingerprint or "-",
        "seed.preloaded": ", ".join(f"{k}@{v}" for k, v in sorted(manifest.seeds.preloaded.items()))
        or "-",
        "seed.pythonhashseed": manifest.seeds.pythonhashseed or "random",
        "platform": f"{manifest.platform.system}-{manifest.platform.machine}",
        "gpu": _gpu_summary(manifest.gpu),
        "capture.seconds": f"{manifest.capture_seconds:.3f}",
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
    return f"{len(gpu.devices)}x {', '.join(names)}"
