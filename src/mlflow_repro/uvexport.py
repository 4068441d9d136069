"""The one `uv export` of uv.lock that every part uses, and how its output is read.

python_env.yaml, the captured `repro/requirements.lock.txt` (and its PEP 751 twin
`repro/pylock.toml`) and the requirements shipped beside the wheel must all describe the same
set: the runtime dependencies (`--no-dev`, as `uv sync --no-dev` installs them for
`mlflow run --env-manager uv`), without the project itself, with every hash. Only the format
differs between the two captured files: the same flags select the same packages.
"""

from __future__ import annotations

import re

from mlflow_repro.process import uv_binary

__all__ = [
    "PIN",
    "PYLOCK_TOML",
    "REQUIREMENTS_TXT",
    "export_command",
    "marker_holds",
    "marker_of",
    "normalize",
    "requirement_lines",
    "uv_binary",
]

# `name==version` at the start of a requirement line (extras allowed): capture's drift and
# unlocked checks and inspect's parity and diff read lines with the same pattern.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\]+)")

REQUIREMENTS_TXT = "requirements-txt"
PYLOCK_TOML = "pylock.toml"  # PEP 751; `uv export --format pylock.toml` since uv 0.6.15

# Which packages: the same for every format (a format changes how they are written, never which).
SELECTION = ("--frozen", "--no-dev", "--no-emit-project")
# No header (it would quote the command line) and no `# via` comments, in either format.
PLAIN = ("--no-header", "--no-annotate")


def export_command(*extra: str, format: str = REQUIREMENTS_TXT) -> list[str]:
    """`uv export` of the runtime set, as requirements (default) or as `pylock.toml`."""
    return [uv_binary() or "uv", "export", *SELECTION, "--format", format, *PLAIN, *extra]


def requirement_lines(text: str) -> list[str]:
    """One line per requirement, its `--hash` continuation lines joined onto it."""
    joined = text.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (`Scikit_Learn` -> `scikit-learn`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_of(line: str) -> str:
    """The environment marker of a requirement line (`; sys_platform == 'win32'`), or ""."""
    requirement = line.split(" --hash", 1)[0]
    return requirement.split(";", 1)[1].strip() if ";" in requirement else ""


def marker_holds(marker: str, environment: dict[str, str] | None = None) -> bool:
    """Whether `marker` holds for `environment` (default: this interpreter); an unreadable
    marker is taken to hold (the line is kept, never silently dropped)."""
    if not marker:
        return True
    from packaging.markers import InvalidMarker, Marker

    try:
        return bool(Marker(marker).evaluate(environment))
    except (InvalidMarker, ValueError, KeyError):
        return True
