"""What is installed in this interpreter's environment, read fast: capture records it, replay
checks the environment it will re-run in against the record."""

from __future__ import annotations

import sys
from pathlib import Path

from mlflow_repro.uvexport import normalize

__all__ = ["installed_distributions"]


def installed_distributions() -> dict[str, str]:
    """Name -> version of every distribution on sys.path, from dist-info folder names only."""
    found: dict[str, str] = {}
    for entry in sys.path:
        folder = Path(entry or ".")
        try:
            names = [p.name for p in folder.iterdir() if p.name.endswith(".dist-info")]
        except OSError:
            continue
        for name in names:
            stem = name[: -len(".dist-info")]
            dist, _, version = stem.partition("-")
            found.setdefault(normalize(dist), version)
    return found
