"""What `diff` and `audit` cost, as ratios against reading the same runs' manifests through MLflow.

    uv run python benchmarks/inspect_overhead.py [--repeats N]

Two plain-script runs with a recorded diff and an untracked file are made in a fresh git
repository on an embedded sqlite store. Then, in one process, each medians over N repeats:

- baseline: `load_manifest(a)` and `load_manifest(b)` (the manifests read through MLflow);
- `diff_runs(a, b)`: both manifests, their payloads, the two code trees rebuilt and compared;
- `audit(a)`: the whole list, and the same without the checks that reach out now (the commit
  fetch and the DVC cache and remote look-ups), which the target leaves apart.

Target: diff and audit (fetchability checks apart) at most 1.5x the baseline. Machines here are
noisy: only the ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = """\
import mlflow
mlflow.set_experiment("bench")
with mlflow.start_run():
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("score", 0.75)
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _make_runs(root: Path, uri: str) -> tuple[str, str]:
    root.mkdir()
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "bench@example.invalid")
    _git(root, "config", "user.name", "bench")
    (root / "train.py").write_text(SCRIPT)
    (root / "model.py").write_text("alpha = 1\n" * 200)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "bench")
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    ids = []
    for change in ("alpha = 2\n", "alpha = 3\n"):
        (root / "model.py").write_text("alpha = 1\n" * 199 + change)
        (root / "notes.txt").write_text(change)
        subprocess.run([sys.executable, "train.py"], cwd=root, env=env, check=True)
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name("bench").experiment_id
        [latest] = client.search_runs([experiment], order_by=["start_time DESC"], max_results=1)
        ids.append(str(latest.info.run_id))
    return ids[0], ids[1]


def _median(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm: imports, the store's connection
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from mlflow_repro import audit, diff_runs, load_manifest
    from mlflow_repro.inspect import availability

    with tempfile.TemporaryDirectory(prefix="mlflow-repro-bench-") as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        a, b = _make_runs(Path(tmp) / "project", uri)

        baseline = _median(
            lambda: (load_manifest(a, tracking_uri=uri), load_manifest(b, tracking_uri=uri)),
            args.repeats,
        )
        diff = _median(lambda: diff_runs(a, b, tracking_uri=uri), args.repeats)
        full = _median(lambda: audit(a, tracking_uri=uri), args.repeats)
        spent = {"now": 0.0}
        originals = (availability.find_commit, availability.find_data)

        def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*call: Any) -> Any:
                began = time.perf_counter()
                try:
                    return fn(*call)
                finally:
                    spent["now"] += time.perf_counter() - began

            return wrapper

        availability.find_commit = timed(originals[0])  # type: ignore[assignment]
        availability.find_data = timed(originals[1])  # type: ignore[assignment]
        try:
            spent["now"] = 0.0
            with_checks = _median(lambda: audit(a, tracking_uri=uri), args.repeats)
            checks = spent["now"] / (args.repeats + 1)
        finally:
            availability.find_commit, availability.find_data = originals  # type: ignore[assignment]
    figures = {
        "baseline_seconds (two load_manifest)": round(baseline, 4),
        "diff_seconds": round(diff, 4),
        "audit_seconds": round(full, 4),
        "audit_fetchability_checks_seconds": round(checks, 4),
        "diff_ratio (target <= 1.5)": round(diff / baseline, 2),
        "audit_ratio_without_checks (target <= 1.5)": round((with_checks - checks) / baseline, 2),
        "audit_ratio_with_checks": round(full / baseline, 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
