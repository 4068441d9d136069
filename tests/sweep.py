"""A sweep: many training processes starting MLflow runs at once, and the check that every run
ended with its own complete manifest. Shared by tests/e2e/test_server.py and
benchmarks/sweep_load.py.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One process of the sweep: its index is its param; its seed (MLFLOW_REPRO_SEED, set per
# process) lands in its manifest, so a manifest logged to another process's run shows.
SCRIPT = """\
import json, os, sys, time
import mlflow
index = int(sys.argv[1])
mlflow.set_experiment(experiment_id=os.environ["SWEEP_EXPERIMENT_ID"])
wall, cpu = time.perf_counter(), time.process_time()
with mlflow.start_run() as run:
    started = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    time.sleep(float(os.environ.get("SWEEP_TRAIN_SECONDS", "0")))  # training
    mlflow.log_param("index", index)
    mlflow.log_metric("loss", 1.0 / (index + 1))
print("SWEEP " + json.dumps({"index": index, "run_id": run.info.run_id, **started}))
"""


@dataclass(frozen=True)
class Process:
    index: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        """What the process printed about its run (empty when it printed nothing)."""
        lines = [line[6:] for line in self.stdout.splitlines() if line.startswith("SWEEP ")]
        return dict(json.loads(lines[-1])) if lines else {}


def seed_of(index: int) -> int:
    return 1000 + index


def write_script(project: Path) -> Path:
    path = project / "sweep_train.py"
    path.write_text(SCRIPT)
    return path


def launch(
    project: Path,
    uri: str,
    experiment_id: str,
    count: int,
    env: Mapping[str, str],
    prefix: Sequence[str] = (),
) -> list[subprocess.Popen[str]]:
    """Start `count` processes at once; `env` is the base environment (the plugin's switches),
    `prefix` goes before the command (`nice -n 10`)."""
    procs = []
    for index in range(count):
        child = {
            **env,
            "MLFLOW_TRACKING_URI": uri,
            "SWEEP_EXPERIMENT_ID": experiment_id,
            "MLFLOW_REPRO_SEED": str(seed_of(index)),
        }
        procs.append(
            subprocess.Popen(
                [*prefix, sys.executable, "sweep_train.py", str(index)],
                cwd=project,
                env=child,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def wait(procs: Iterable[subprocess.Popen[str]], timeout: float = 600) -> list[Process]:
    deadline = time.monotonic() + timeout
    done = []
    for index, proc in enumerate(procs):
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        done.append(Process(index, proc.returncode, out, err))
    return done


def run_sweep(
    project: Path,
    uri: str,
    experiment_id: str,
    count: int,
    env: Mapping[str, str],
    prefix: Sequence[str] = (),
) -> tuple[list[Process], float]:
    """Launch the sweep and wait for it; returns the processes and the wall time."""
    start = time.perf_counter()
    procs = wait(launch(project, uri, experiment_id, count, env, prefix))
    return procs, time.perf_counter() - start


def problems(uri: str, experiment_id: str, count: int, dest: Path) -> list[str]:
    """Everything wrong with the sweep's runs: a run missing or duplicated, a manifest missing,
    incomplete, or another process's, a payload whose bytes differ from what the manifest
    records, a file under repro/ the manifest does not name. Empty when all is well."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([experiment_id], max_results=1000)
    found: list[str] = []
    by_index: dict[int, list[Any]] = {}
    for run_ in runs:
        by_index.setdefault(int(run_.data.params.get("index", -1)), []).append(run_)
    for index in range(count):
        if len(by_index.get(index, [])) != 1:
            found.append(f"process {index}: {len(by_index.get(index, []))} runs")
    for index, group in sorted(by_index.items()):
        for run_ in group:
            found += [f"process {index}: {p}" for p in run_problems(client, run_, index, dest)]
    return found


def run_problems(client: Any, run_: Any, index: int, dest: Path) -> list[str]:
    from mlflow_repro.manifest import Manifest
    from mlflow_repro.manifest.status import status

    run_id, tags = run_.info.run_id, run_.data.tags
    local = Path(client.download_artifacts(run_id, "repro", str(dest / run_id)))
    if not (local / "manifest.json").is_file():
        return [f"run {run_id} has no repro/manifest.json (status tag {tags.get('repro.status')})"]
    manifest = Manifest.from_json((local / "manifest.json").read_text())
    found = []
    if manifest.seeds.seed != seed_of(index):
        found.append(f"run {run_id} carries the manifest of seed {manifest.seeds.seed}")
    if tags.get("repro.seed") != str(seed_of(index)):
        found.append(f"run {run_id} tag repro.seed = {tags.get('repro.seed')}")
    if tags.get("repro.status") != status(manifest)[0] or manifest.errors:
        found.append(f"run {run_id}: status {tags.get('repro.status')}, errors {manifest.errors}")
    root = local.parent
    for payload in manifest.payloads():
        path = root / payload.path
        data = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(data).hexdigest() != payload.sha256:
            found.append(f"run {run_id}: payload {payload.path} missing or not as recorded")
    logged = {p.relative_to(root).as_posix() for p in local.rglob("*") if p.is_file()}
    extra = logged - {p.path for p in manifest.payloads()} - {"repro/manifest.json"}
    if extra:
        found.append(f"run {run_id}: repro/ holds files the manifest does not name: {extra}")
    return found
