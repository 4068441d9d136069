"""The typed records inspect returns; the CLI prints them, `--json` writes `to_dict()`.

The JSON forms are documented in docs/inspect.md (`schema` names their version).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

OK, WEAK, MISSING = "ok", "weak", "missing"
STATUSES = (OK, WEAK, MISSING)
AUDIT_SCHEMA = "mlflow-repro.audit/1"
DIFF_SCHEMA = "mlflow-repro.diff/1"
PARITY_SCHEMA = "mlflow-repro.parity/1"
PARITY_STATUSES = (
    "match",
    "version-differs",
    "hash-differs",
    "missing",
    "extra",
    "unchecked",
    "unpinned",
    "training-only",
)
NOT_MISMATCHES = frozenset({"match", "unchecked", "extra", "unpinned", "training-only"})


@dataclass(frozen=True)
class AuditItem:
    """One line of the auditor's list."""

    name: str  # e.g. "commit", "data:data/table.csv"
    status: str  # "ok", "weak" or "missing"
    reason: str  # what was found
    action: str = ""  # what to do (empty when ok)


@dataclass(frozen=True)
class AuditReport:
    """The audit of one run: its items in the auditor's order, and the verdict they give."""

    target: str  # as given: a run id or models:/name/version | models:/name@alias
    run_id: str
    items: list[AuditItem] = field(default_factory=list)
    model_version: str | None = None  # "name/version" when the target was a registry URI

    @property
    def missing(self) -> list[AuditItem]:
        return [i for i in self.items if i.status == MISSING]

    @property
    def weak(self) -> list[AuditItem]:
        return [i for i in self.items if i.status == WEAK]

    @property
    def verdict(self) -> str:
        """`rebuildable` (nothing missing; maybe weak spots) or `not rebuildable`."""
        return "not rebuildable" if self.missing else "rebuildable"

    @property
    def exit_code(self) -> int:
        return 1 if self.missing else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": AUDIT_SCHEMA,
            "target": self.target,
            "run_id": self.run_id,
            "model_version": self.model_version,
            "verdict": self.verdict,
            "counts": {s: sum(i.status == s for i in self.items) for s in STATUSES},
            "items": [asdict(i) for i in self.items],
        }


@dataclass(frozen=True)
class Difference:
    """One thing that differs between two runs."""

    group: str  # code, data, parameters, seeds, environment, settings, platform, gpu
    name: str  # what differs: a file, a package, a variable, a param
    a: str | None  # its value in run A (None: absent)
    b: str | None  # in run B
    detail: str = ""  # hunks for code, hashes for packages, ...


@dataclass(frozen=True)
class RunDiff:
    """Why two runs differ: the differences ranked likely cause first, metrics beside."""

    run_a: str
    run_b: str
    differences: list[Difference] = field(default_factory=list)  # ranked: likely cause first
    metrics: list[Difference] = field(default_factory=list)  # shown beside, not ranked
    notes: list[str] = field(default_factory=list)  # what could not be compared, and why
    # A record that is absent, unreadable or altered: nothing was compared, whatever else says
    unreadable: list[str] = field(default_factory=list)

    @property
    def likely_cause(self) -> Difference | None:
        """The first-ranked difference when a metric differs; None when the metrics are equal
        (there is no difference in the result to find a cause of) or nothing differs."""
        return self.differences[0] if self.differences and self.metrics else None

    def to_dict(self) -> dict[str, Any]:
        cause = self.likely_cause
        return {
            "schema": DIFF_SCHEMA,
            "run_a": self.run_a,
            "run_b": self.run_b,
            "same": not self.differences and not self.unreadable,
            "metrics_equal": not self.metrics,
            "likely_cause": asdict(cause) if cause is not None else None,
            "could_not_compare": list(self.unreadable),
            "differences": [asdict(d) for d in self.differences],
            "metrics": [asdict(d) for d in self.metrics],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ParityItem:
    """One package (or the Python, or the project's wheel) compared between training and
    serving."""

    name: str  # a package name, "python" or "wheel:<name>"
    # "match", "version-differs", "hash-differs", "missing", "extra", "unchecked"; against a
    # requirements file with the logged model's needs read: "unpinned" (the model needs it, the
    # file does not pin it) and "training-only" (in the run's lock, not needed by the model)
    status: str
    training: str | None
    serving: str | None
    detail: str = ""


@dataclass(frozen=True)
class ParityReport:
    """A serving environment compared with the training environment of a run."""

    target: str
    run_id: str
    against: str  # "interpreter <path>", "requirements <file>" or "pylock.toml <file>"
    items: list[ParityItem] = field(default_factory=list)
    # What the logged model needs (against a requirements file): which model, how many
    # requirements, its own libraries; empty when not read (an interpreter, or no model found)
    model: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[ParityItem]:
        """What differs in a way that can change predictions (extras, packages the serving file
        leaves the installer to choose and training-only ones are shown, not counted)."""
        return [i for i in self.items if i.status not in NOT_MISMATCHES]

    @property
    def verdict(self) -> str:
        return "match" if not self.mismatches else "mismatch"

    @property
    def exit_code(self) -> int:
        return 1 if self.mismatches else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": PARITY_SCHEMA,
            "target": self.target,
            "run_id": self.run_id,
            "against": self.against,
            "model": self.model,
            "verdict": self.verdict,
            "counts": {s: sum(i.status == s for i in self.items) for s in PARITY_STATUSES},
            "items": [asdict(i) for i in self.items],
            "notes": list(self.notes),
        }
