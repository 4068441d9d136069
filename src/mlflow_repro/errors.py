"""The exceptions mlflow-repro raises on purpose, under one root.

Each carries what a person needs as fields: the problem, the run it concerns, the step that
failed, the offending value and a hint on what to do next; the message is built from them, and
the command line prints it and exits with status 2 instead of showing a traceback. Errors about
a bad argument are also `ValueError`s, so code that caught `ValueError` before still does.

    ReproError                  root: problem, run_id, step, value, hint
     +-- ManifestError          (also ValueError) a manifest is missing, unreadable, of a schema
     |                          this version cannot migrate, or fails type validation
     +-- ReplayError            a run cannot be replayed as recorded: no such run, a missing
     |    |                     commit, data, interpreter or a hash that does not match
     |    +-- DataStepError     the DVC data could not be restored (or DVC is not installed)
     +-- UsageError             (also ValueError) an argument is wrong: a seed out of range, a
                                backend config that is not JSON, a workspace that exists

The template's errors (`repro_template.errors`) derive from ReproError too.
"""

from __future__ import annotations

from typing import Any


class ReproError(Exception):
    """Root of every error mlflow-repro raises deliberately."""

    def __init__(
        self,
        problem: str,
        *,
        run_id: str | None = None,
        step: str | None = None,
        value: Any = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.run_id = run_id
        self.step = step
        self.value = value
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """`run <id> <step>: <problem> (value: <value>); <hint>`, leaving out what is unknown
        and a value the problem already quotes."""
        where = " ".join(p for p in (self.run_id and f"run {self.run_id}", self.step) if p)
        text = f"{where}: {self.problem}" if where else self.problem
        if self.value is not None and str(self.value) not in self.problem:
            text += f" (value: {self.value!r})"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def __str__(self) -> str:
        return self.message


class ManifestError(ReproError, ValueError):
    """A manifest cannot be found, read, migrated or validated."""


class ReplayError(ReproError):
    """A logged run cannot be rebuilt as recorded."""


class DataStepError(ReplayError):
    """The run's DVC-tracked data could not be restored."""


class UsageError(ReproError, ValueError):
    """An argument given to mlflow-repro is wrong."""
