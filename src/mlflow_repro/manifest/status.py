"""One word for a run's rebuildability as recorded (the `repro.status` tag), with the reasons.

- `reproducible`: a git commit with every uncommitted change recorded, an environment locked
  with hashes and nothing installed beside the lock or drifted from it, seeds or generator
  states recorded, and no capture error.
- `unlocked`: the code is complete, but the environment is not fully locked (no uv.lock, drift,
  or packages installed beside the lock).
- `incomplete`: something a rebuild needs was not recorded (no commit, withheld changes, no
  seeds, a capture error, a sparse checkout, files read that git ignores and DVC does not track,
  an image named by the launcher whose id it could not read).

A run in a container no launcher named (a CI runner, a dev container: `/.dockerenv` and no
record passed in) is recorded as a host run is, by its OS, glibc, CPU and BLAS: the image itself
is no part of the promise there, as a host's installation is not (audit says so, `weak`).

This is what the manifest says; `mlflow-repro audit` checks the same things as they are now.
"""

from __future__ import annotations

from mlflow_repro.manifest.schema import Code, Manifest

REPRODUCIBLE, UNLOCKED, INCOMPLETE = "reproducible", "unlocked", "incomplete"


def status(manifest: Manifest) -> tuple[str, list[str]]:
    """The status word and the reasons for it (empty when reproducible)."""
    code, env, seeds = manifest.code, manifest.environment, manifest.seeds
    incomplete = []
    if code.vcs != "git" or not code.commit:
        incomplete.append("no git commit recorded" if code.vcs != "unknown" else "code not read")
    elif not code.complete:
        incomplete += code_gaps(code)
    launch = manifest.launch
    if launch.session is not None and (launch.session_note or launch.session_cells is None):
        incomplete.append(f"interactive session: {launch.session_note or 'no cells recorded'}")
    if seeds.seed is None and seeds.state is None:
        incomplete.append("no seed or generator state recorded")
    if manifest.errors:
        incomplete.append(f"{len(manifest.errors)} capture errors")
    gap = container_gap(manifest)
    if gap is not None:
        incomplete.append(f"{gap[0]}: {gap[1]}")
    if incomplete:
        return INCOMPLETE, incomplete
    unlocked = []
    if env.lock_strength != "hashes":
        unlocked.append("no uv.lock: package versions without hashes")
    if env.drift:
        unlocked.append(f"{len(env.drift)} packages differ from the lock")
    if env.unlocked:
        names = ", ".join(list(env.unlocked)[:3])
        more = f" and {len(env.unlocked) - 3} more" if len(env.unlocked) > 3 else ""
        unlocked.append(f"installed beside the lock: {names}{more}")
    if unlocked:
        return UNLOCKED, unlocked
    return REPRODUCIBLE, []


# What to do about a container run whose image is not known by content
LAUNCH_IN_IMAGE = (
    "launch it through `mlflow run` with mlflow-repro installed on the launching side (it reads "
    "the image id there and passes it in), or with the repro-docker backend"
)


def container_gap(manifest: Manifest) -> tuple[str, str] | None:
    """Why the image a containerised run ran in cannot be chosen again, and what to do; None on
    the host, or with the image recorded by its content id."""
    container = manifest.platform.container
    if container is None:
        return None
    if container.source == "unidentified" and not container.image:
        return None  # like a host: its platform is recorded, no image was promised
    if not container.image_id:
        return f"ran in image {container.image or '?'} with no image id recorded", LAUNCH_IN_IMAGE
    return None


def code_gaps(code: Code) -> list[str]:
    """Why the recorded code cannot be rebuilt exactly, one reason per kind of gap."""
    by_reason: dict[str, list[str]] = {}
    for item in code.omitted:
        by_reason.setdefault(item.reason, []).append(item.path)

    def some(paths: list[str]) -> str:
        return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")

    gaps = []
    if "sparse-checkout" in by_reason:
        gaps.append("made in a sparse checkout (files outside its cone were absent)")
    if "ignored-input" in by_reason:
        paths = by_reason["ignored-input"]
        gaps.append(f"read files git ignores and DVC does not track ({some(paths)})")
    rest = [o.path for o in code.omitted if o.reason not in ("sparse-checkout", "ignored-input")]
    if rest or not gaps:
        gaps.append(f"uncommitted changes withheld ({some(rest)})")
    return gaps
