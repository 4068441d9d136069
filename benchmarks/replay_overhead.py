"""What replay costs, as ratios against a plain `mlflow run` measured in the same run.

    uv run python benchmarks/replay_overhead.py [--repeats N] [--no-cold]

On a clone of this repository's HEAD (the template) with its DVC data, one original run is made
with `mlflow run --env-manager uv`. Then, in turn, N times each:

- baseline: a plain `mlflow run --env-manager uv -P conf_file=confs/training.yaml .` of the same
  commit (what a user would time by hand);
- replay: `mlflow-repro reproduce <original>` (manifest, fresh clone, lock and interpreter
  checks, DVC data, the same `mlflow run`, verification).

Warm: MLflow's environment directory already holds the uv environment for this python_env.yaml
(both sides reuse it). Cold: each measurement gets an empty MLFLOW_ENV_ROOT, so both build the
environment from the uv package cache (this machine has no network; an empty uv cache would
measure downloads). Target: replay / baseline under 1.5x warm.

Printed: medians in seconds; `replay / baseline` (the ratio the target is about);
`overhead = replay - its own run step`, and that overhead as a share of the baseline. The
machines are noisy: only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = "confs/training.yaml"
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def _project(tmp: Path) -> Path:
    project = tmp / "project"
    _run(["git", "clone", "--quiet", str(ROOT), str(project)], tmp, dict(os.environ))
    data = ROOT / "data" / "breast_cancer.csv"
    if data.is_file():
        shutil.copy2(data, project / "data" / data.name)
    else:
        _run([sys.executable, "-m", "dvc", "repro", "--quiet"], project, dict(os.environ))
    return project


def mlflow_run(project: Path, env: dict[str, str]) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "mlflow", "run", "--env-manager", "uv", "-P"]
    began = time.perf_counter()
    done = _run([*cmd, f"conf_file={CONF}", "."], project, env)
    run_id = done.stderr.split("Run (ID '")[-1].split("'")[0]
    return time.perf_counter() - began, run_id


def reproduce(project: Path, run_id: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall time of the replay, and the duration of its own run step (from repro/replay.json)."""
    from mlflow.tracking import MlflowClient

    began = time.perf_counter()
    cmd = [sys.executable, "-m", "mlflow_repro", "reproduce", run_id]
    done = _run(cmd, project.parent, env)
    took = time.perf_counter() - began
    if ": identical (" not in done.stdout:
        raise SystemExit(f"the replay did not come out identical:\n{done.stdout}")
    new_id = done.stdout.split("new run ")[1].split(":")[0]
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    with tempfile.TemporaryDirectory() as into:
        path = client.download_artifacts(new_id, "repro/replay.json", into)
        record = json.loads(Path(path).read_text())
    shutil.rmtree(record["workspace"], ignore_errors=True)
    return took, float(record["durations"]["run"])


def measure(project: Path, run_id: str, env: dict[str, str], repeats: int, cold: bool) -> dict:
    plain: list[float] = []
    replay: list[float] = []
    run_step: list[float] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as envs_a, tempfile.TemporaryDirectory() as envs_b:
            plain_env = dict(env, MLFLOW_ENV_ROOT=envs_a) if cold else env
            replay_env = dict(env, MLFLOW_ENV_ROOT=envs_b) if cold else env
            plain.append(mlflow_run(project, plain_env)[0])
            took, step = reproduce(project, run_id, replay_env)
            replay.append(took)
            run_step.append(step)
    base, whole = statistics.median(plain), statistics.median(replay)
    overhead = statistics.median(r - s for r, s in zip(replay, run_step, strict=True))
    return {"baseline_s": base, "replay_s": whole, "overhead_s": overhead}


def report(label: str, figures: dict[str, float], target: str) -> None:
    base, whole, overhead = figures["baseline_s"], figures["replay_s"], figures["overhead_s"]
    print(f"{label}: plain mlflow run (baseline)   {base:7.1f} s")
    print(
        f"{label}: mlflow-repro reproduce        {whole:7.1f} s   ratio {whole / base:.2f}x{target}"
    )
    print(
        f"{label}: overhead (replay - run step)  {overhead:7.1f} s   "
        f"{overhead / base:.2f}x baseline"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="measurements per side (median)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-environment figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        project = _project(Path(tmp))
        env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp}/bench.db")
        _, original = mlflow_run(project, env)  # also builds the warm environment
        warm = measure(project, original, env, args.repeats, cold=False)
        report("warm", warm, "   (target < 1.5x)")
        if not args.no_cold:
            cold = measure(project, original, env, 1, cold=True)
            report("cold", cold, "")


if __name__ == "__main__":
    main()
