"""Requirement files and PEP 751 `pylock.toml` files as inspect reads them: name -> pinned
version and its allowed hashes."""

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


# PEP 751: `pylock.toml`, or `pylock.<name>.toml`
PYLOCK_NAME = re.compile(r"^pylock\.(?:[^.]+\.)?toml$")


class NotAPylock(ValueError):
    """A file that is not a pylock.toml this reads (not TOML, no `lock-version` 1.x)."""


def is_pylock(name: str, text: str) -> bool:
    """Whether a file is a pylock.toml: by its name (PEP 751's `pylock.toml` or
    `pylock.<name>.toml`), else by its content (TOML with a `lock-version` key at the top).
    A requirements file is never valid TOML with that key."""
    if PYLOCK_NAME.match(name):
        return True
    if "lock-version" not in text:
        return False
    import tomllib

    try:
        return "lock-version" in tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False


def parse_pylock(text: str, environment: dict[str, str] | None = None) -> dict[str, Pin]:
    """A PEP 751 lock's `[[packages]]`: each name, version and the sha256 of every file it may
    install (its wheels, sdist or archive). As for requirements, a package whose `marker` does
    not hold for `environment` (default: this interpreter) is left out, the first whose marker
    holds wins, and one with no version (a directory or VCS source) is skipped. Raises
    NotAPylock naming what is wrong."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NotAPylock(f"not valid TOML ({exc})") from None
    version = str(data.get("lock-version", ""))
    if version.split(".", 1)[0] != "1":
        raise NotAPylock(f"lock-version {version or 'absent'}: this reads lock-version 1.x")
    packages = data.get("packages", [])
    if not isinstance(packages, list):
        raise NotAPylock("`packages` is not an array of tables")
    found: dict[str, Pin] = {}
    for index, package in enumerate(packages):
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            raise NotAPylock(f"packages[{index}] has no name")
        if not package.get("version"):
            continue
        marker = str(package.get("marker", ""))
        files = [package.get("sdist"), package.get("archive"), *(package.get("wheels") or [])]
        hashes = frozenset(
            str(f["hashes"]["sha256"]).lower()
            for f in files
            if isinstance(f, dict)
            and isinstance(f.get("hashes"), dict)
            and f["hashes"].get("sha256")
        )
        if marker_holds(marker, environment):
            found.setdefault(
                normalize(package["name"]), Pin(str(package["version"]), hashes, marker)
            )
    return found
