"""A small, real `Captured` (one staged payload) for tests of publishing and of the plugin."""

from __future__ import annotations

from mlflow_repro.capture import Captured
from mlflow_repro.capture.staging import Staging
from mlflow_repro.manifest import Code, Manifest


def small_capture(errors: list[str] | None = None) -> Captured:
    """A capture whose manifest lists exactly one payload, `repro/git.diff`, staged as capture
    stages the first run's code payloads (`run_staging`)."""
    staging, run_staging = Staging(), Staging()
    diff = run_staging.add("git.diff", b"diff --git a/train.py b/train.py\n")
    for each in (staging, run_staging):
        each.close(discard_owners=set())
    manifest = Manifest(code=Code(vcs="git", commit="a" * 40, diff=diff), errors=errors or [])
    return Captured(manifest=manifest, staging=staging, run_staging=run_staging)
