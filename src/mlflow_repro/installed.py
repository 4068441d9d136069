"""What is installed in this interpreter's environment, read fast: capture records it, replay
checks the environment it will re-run in against the record."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

from mlflow_repro.manifest import FrameworkBuild
from mlflow_repro.uvexport import normalize

__all__ = [
    "FRAMEWORKS",
    "dist_info",
    "dist_info_folders",
    "framework_builds",
    "installed_distributions",
    "supported",
]


def dist_info_folders() -> Iterator[tuple[str, str, Path]]:
    """(normalised name, version, folder) of every `.dist-info` folder on sys.path, in path
    order (the first of a name is the one Python imports)."""
    for entry in sys.path:
        try:
            folders = [p for p in Path(entry or ".").iterdir() if p.name.endswith(".dist-info")]
        except OSError:
            continue
        for folder in folders:
            dist, _, version = folder.name[: -len(".dist-info")].partition("-")
            yield normalize(dist), version, folder


def installed_distributions() -> dict[str, str]:
    """Name -> version of every distribution on sys.path, from dist-info folder names only."""
    found: dict[str, str] = {}
    for name, version, _ in dist_info_folders():
        found.setdefault(name, version)
    return found


def dist_info(name: str) -> Path | None:
    """The `.dist-info` folder of installed distribution `name` (first on sys.path), or None."""
    wanted = normalize(name)
    return next((folder for found, _, folder in dist_info_folders() if found == wanted), None)


# Distributions whose build (not only version) decides the numbers: where the framework writes its
# own version with the build (torch: `2.13.0+cu130`), that file, read as text (never imported).
FRAMEWORKS = {
    "torch": "torch/version.py",
    "tensorflow": None,
    "tensorflow-cpu": None,
    "jax": None,
    "jaxlib": "jaxlib/version.py",
}
_VERSION_LINE = re.compile(r"""^__version__\s*=\s*['"]([^'"]+)['"]""", re.MULTILINE)


def _wheel_name(folder: Path) -> str:
    """`<dist>-<version>-<tag>.whl` from the dist-info's WHEEL file (its first tag)."""
    try:
        tags = [
            line.split(":", 1)[1].strip()
            for line in (folder / "WHEEL").read_text("utf-8").splitlines()
            if line.startswith("Tag:")
        ]
    except OSError:
        return ""
    return f"{folder.name[: -len('.dist-info')]}-{tags[0]}.whl" if tags else ""


def framework_builds(installed: dict[str, str], lock_text: str) -> list[FrameworkBuild]:
    """The exact build of each ML framework installed: version, the framework's own version
    string, the wheel file (by its tags) and its sha256 as uv.lock names it."""
    from urllib.parse import quote

    found = []
    for name, version_file in FRAMEWORKS.items():
        if name not in installed:
            continue
        folder = dist_info(name)
        build = installed[name]
        if folder is not None and version_file:
            try:
                text = (folder.parent / version_file).read_text("utf-8")
                match = _VERSION_LINE.search(text)
                build = match.group(1) if match else build
            except OSError:
                pass
        wheel = _wheel_name(folder) if folder is not None else ""
        sha256 = None
        if wheel and lock_text:
            pattern = rf'/{re.escape(quote(wheel))}", hash = "sha256:([0-9a-f]{{64}})"'
            match = re.search(pattern, lock_text)
            sha256 = match.group(1) if match else None
        found.append(FrameworkBuild(name, installed[name], build, wheel, sha256))
    return found


def supported(wheel: str) -> bool:
    """Whether this interpreter and machine can install `wheel` (by its file name's tags)."""
    from packaging.tags import sys_tags
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        tags = parse_wheel_filename(wheel)[3]
    except InvalidWheelFilename:
        return True  # unreadable: not a reason to refuse
    here = set(sys_tags())
    return any(tag in here for tag in tags)
