"""The template's own errors: all of them are `mlflow_repro.ReproError`s, so one `except` (and
the command line's exit status 2) covers the plugin and the template alike.

    mlflow_repro.ReproError
     +-- TemplateError
          +-- ConfigError      a job configuration file is missing, unreadable or invalid
          +-- DataError        the training data is missing or does not match what was expected
          +-- LockError        uv.lock / python_env.yaml cannot be read, exported or are stale
          +-- PackageError     the wheel cannot be built reproducibly
"""

from __future__ import annotations

from mlflow_repro import ReproError


class TemplateError(ReproError):
    """Root of the template's errors."""


class ConfigError(TemplateError):
    """A job configuration file is missing, unreadable or does not validate."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid configuration file '{path}':\n{lines}",
            value=path,
            hint="fix the file (tests/confs/valid holds examples that pass)",
        )


class DataError(TemplateError):
    """Training data is missing or malformed."""


class LockError(TemplateError):
    """The lock file or the environment file generated from it is unusable or stale."""


class PackageError(TemplateError):
    """Building or verifying the wheel failed."""
