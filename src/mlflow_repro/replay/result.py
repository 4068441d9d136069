"""The typed records a replay returns: the verdict of the comparison and the replay's result."""

from __future__ import annotations

from dataclasses import dataclass, field

IDENTICAL, WITHIN_TOLERANCE, DIFFERENT = "identical", "within_tolerance", "different"


@dataclass(frozen=True)
class Verdict:
    """The outcome of a comparison, with every difference found."""

    verdict: str  # "identical", "within_tolerance" or "different"
    metrics_compared: int = 0
    params_compared: int = 0
    model_files_compared: int = 0
    differences: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)  # metric deltas within the tolerance
    # model files equal in content, not in bytes, and what was set aside to compare them
    normalised: list[str] = field(default_factory=list)
    # a re-run in an image: which, and how it relates to the run's ("same image sha256:...",
    # "rebuilt image ...", "platform changed: ..."); "" on a host
    image: str = ""


@dataclass(frozen=True)
class ReplayResult:
    """One replay: the run replayed, the new run, where it was rebuilt, and the verdict."""

    original_run_id: str
    new_run_id: str
    workspace: str
    verdict: Verdict
    data: list[dict[str, str]] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
