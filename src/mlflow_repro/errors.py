"""The exceptions mlflow-repro raises on purpose.

Every one of them carries a message that says what was wrong, with the value, and what to do
next; the command line prints that message and exits non-zero instead of showing a traceback.

    ReproError
     +-- ConfigError        a job configuration file is missing, unreadable or invalid
     +-- DataError          the training data is missing or does not match what was expected
     +-- LockError          uv.lock / python_env.yaml cannot be read, exported or are out of date
     +-- PackageError       the wheel cannot be built reproducibly (constraints, hashes, uv build)
     +-- ReplayError        a run cannot be replayed (no such run, no manifest, missing commit,
                            data, interpreter or a hash that does not match)
"""

from __future__ import annotations


class ReproError(Exception):
    """Root of every error mlflow-repro raises deliberately."""


class ConfigError(ReproError):
    """A job configuration file is missing, unreadable or does not validate."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration file '{path}':\n{lines}")


class DataError(ReproError):
    """Training data is missing or malformed."""


class LockError(ReproError):
    """The lock file or the environment file generated from it is unusable or stale."""


class PackageError(ReproError):
    """Building or verifying the wheel failed."""


class ReplayError(ReproError):
    """A logged run cannot be rebuilt as recorded."""
