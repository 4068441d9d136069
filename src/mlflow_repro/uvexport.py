"""The one `uv export` of uv.lock that every part uses, and how its output is read.

python_env.yaml, the captured `repro/requirements.lock.txt` and the requirements shipped beside
the wheel must all describe the same set: the runtime dependencies (`--no-dev`, as
`uv sync --no-dev` installs them for `mlflow run --env-manager uv`), without the project itself,
with every hash.
"""

from __future__ import annotations

from mlflow_repro.process import uv_binary

__all__ = ["export_command", "requirement_lines", "uv_binary"]

EXPORT_ARGS = (
    "export",
    "--frozen",
    "--no-dev",
    "--no-emit-project",
    "--format",
    "requirements-txt",
    "--no-header",
    "--no-annotate",
)


def export_command(*extra: str) -> list[str]:
    return [uv_binary() or "uv", *EXPORT_ARGS, *extra]


def requirement_lines(text: str) -> list[str]:
    """One line per requirement, its `--hash` continuation lines joined onto it."""
    joined = text.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]
