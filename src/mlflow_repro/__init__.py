"""mlflow-repro: make every MLflow run rebuildable.

The public API is what `__all__` lists (pinned by tests/test_public_api.py); every other module
is an implementation detail. Names are loaded on first use: importing the package (which MLflow
does at `import mlflow`, through the plugin) stays cheap.

    from mlflow_repro import load_manifest, reproduce
    manifest = load_manifest("<run id>")        # or a path to a manifest.json
    result = reproduce("<run id>")              # ReplayResult; result.verdict.verdict
    report = audit("models:/classifier@prod")   # AuditReport; report.verdict, report.items
    why = diff_runs("<run a>", "<run b>")       # RunDiff; why.likely_cause
    check = parity("<run id>", against="serving/requirements.txt")  # ParityReport
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlflow_repro.errors import DataStepError, ManifestError, ReplayError, ReproError, UsageError

if TYPE_CHECKING:
    from mlflow_repro.inspect.audit import audit
    from mlflow_repro.inspect.diff import diff_runs
    from mlflow_repro.inspect.parity import parity
    from mlflow_repro.inspect.records import (
        AuditItem,
        AuditReport,
        Difference,
        ParityItem,
        ParityReport,
        RunDiff,
    )
    from mlflow_repro.manifest import Manifest, load_manifest
    from mlflow_repro.modelfiles import model_digest
    from mlflow_repro.replay.reproduce import reproduce
    from mlflow_repro.replay.result import ReplayResult, Verdict
    from mlflow_repro.seeding import numpy_generator, seed_everything, torch_generator

_LAZY = {
    "audit": "mlflow_repro.inspect.audit",
    "diff_runs": "mlflow_repro.inspect.diff",
    "parity": "mlflow_repro.inspect.parity",
    "AuditItem": "mlflow_repro.inspect.records",
    "AuditReport": "mlflow_repro.inspect.records",
    "Difference": "mlflow_repro.inspect.records",
    "ParityItem": "mlflow_repro.inspect.records",
    "ParityReport": "mlflow_repro.inspect.records",
    "RunDiff": "mlflow_repro.inspect.records",
    "Manifest": "mlflow_repro.manifest",
    "load_manifest": "mlflow_repro.manifest",
    "model_digest": "mlflow_repro.modelfiles",
    "ReplayResult": "mlflow_repro.replay.result",
    "Verdict": "mlflow_repro.replay.result",
    "reproduce": "mlflow_repro.replay.reproduce",
    "seed_everything": "mlflow_repro.seeding",
    "numpy_generator": "mlflow_repro.seeding",
    "torch_generator": "mlflow_repro.seeding",
}


def _version() -> str:
    """The version has one home, pyproject.toml; installed metadata carries it here."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlflow-repro")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'mlflow_repro' has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "AuditItem",
    "AuditReport",
    "DataStepError",
    "Difference",
    "Manifest",
    "ManifestError",
    "ParityItem",
    "ParityReport",
    "ReplayError",
    "ReplayResult",
    "ReproError",
    "RunDiff",
    "UsageError",
    "Verdict",
    "__version__",
    "audit",
    "diff_runs",
    "load_manifest",
    "model_digest",
    "numpy_generator",
    "parity",
    "reproduce",
    "seed_everything",
    "torch_generator",
]
