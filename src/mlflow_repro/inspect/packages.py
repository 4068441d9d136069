"""Requirement files as inspect reads them: name -> pinned version and its allowed hashes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlflow_repro.uvexport import PIN, marker_holds, marker_of, normalize, requirement_lines

HASH = re.compile(r"--hash[= ]sha256:([0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: frozenset[str]
    marker: str = ""


def parse_requirements(text: str, environment: dict[str, str] | None = None) -> dict[str, Pin]:
    """`name==version` lines (with `--hash` options and markers; continuation lines joined).

    Lines whose environment marker does not hold for `environment` (default: this interpreter)
    are left out (a lock names Windows-only packages too); where a lock forks by marker (one
    name, several lines), the line whose marker holds wins. Lines without `==` are skipped.
    """
    found: dict[str, Pin] = {}
    for line in requirement_lines(text):
        line = line.split(" #", 1)[0].strip()
        match = PIN.match(line)
        if not match:
            continue
        marker = marker_of(line)
        name = normalize(match.group(1))
        pin = Pin(match.group(2), frozenset(h.lower() for h in HASH.findall(line)), marker)
        if marker_holds(marker, environment):
            found.setdefault(name, pin)
    return found
