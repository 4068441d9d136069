"""What capture costs, as ratios against baselines measured in the same run.

    uv run python benchmarks/capture_overhead.py [--repeats N]

1. First `start_run` of a process, cold: plugin on minus plugin off, against MLflow's own
   GitRunContext cold cost (the anchor; target ratio <= 1).
2. Later runs in the same process: added milliseconds per start_run (target <= 3 ms). The
   capture itself (a later run's code state included) and the upload run beside the user's
   code (runjob.py): what ending a run waits for them is printed too, not a target.
3. Scaling: capture time in repositories of 100 and 10,000 tracked files with the same five
   changed files (target <= 1.5x), and a later run's own code state (`run_state`) in both.
4. `import mlflow`: the plugin's own import time as a share of the whole import.

Machines here are noisy: every figure is a median of fresh processes, and only ratios within
this run mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_RUN = """
import json, sys, time
import mlflow
from mlflow.tracking.context.git_context import GitRunContext
t = time.perf_counter(); GitRunContext().tags(); git = time.perf_counter() - t
mlflow.set_experiment("bench")
t = time.perf_counter()
with mlflow.start_run():
    first = time.perf_counter() - t
# Later runs: the plugin switched on and off in turn within this one process (it reads
# MLFLOW_REPRO_DISABLE at every run), so both sides share the process's noise.
import os, statistics
later = {"": [], "1": []}
ends = {"": [], "1": []}
for _ in range(int(sys.argv[1])):
    for flag, times in later.items():
        os.environ["MLFLOW_REPRO_DISABLE"] = flag
        t = time.perf_counter()
        run = mlflow.start_run()
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        mlflow.end_run()  # waits for the run's record (capture and upload, in the background)
        ends[flag].append(time.perf_counter() - t)
added = statistics.median(later[""]) - statistics.median(later["1"]) if later[""] else 0.0
waited = statistics.median(ends[""]) - statistics.median(ends["1"]) if ends[""] else 0.0
print(json.dumps({"git": git, "first": first, "later_added": added, "end_waited": waited}))
"""


def _python(code: str, *args: str, env: dict[str, str], cwd: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def first_and_later(repeats: int, later_runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp}/bench.db")
        _python(FIRST_RUN, "0", env=env, cwd=ROOT)  # create the database once
        on: list[float] = []
        off: list[float] = []
        git: list[float] = []
        later: list[float] = []
        waited: list[float] = []
        for _ in range(repeats):
            for disabled, firsts in (("", on), ("1", off)):
                flag_env = dict(env, MLFLOW_REPRO_DISABLE=disabled)
                result = _python(FIRST_RUN, str(later_runs), cwd=ROOT, env=flag_env)
                firsts.append(float(result["first"]))  # type: ignore[arg-type]
                git.append(float(result["git"]))  # type: ignore[arg-type]
                later.append(float(result["later_added"]))  # type: ignore[arg-type]
                waited.append(float(result["end_waited"]))  # type: ignore[arg-type]
    return {
        "git_context_ms": statistics.median(git) * 1000,
        "first_added_ms": (statistics.median(on) - statistics.median(off)) * 1000,
        "later_added_ms": statistics.median(later) * 1000,
        "end_waited_ms": statistics.median(waited) * 1000,
    }


SCALING = """
import json, statistics, sys, time
from pathlib import Path
from mlflow_repro.capture import capture, run_state
times, states = [], []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    c = capture(start=Path.cwd())
    times.append(time.perf_counter() - t)
    c.staging.cleanup()
    t = time.perf_counter()
    run_state().staging.cleanup()
    states.append(time.perf_counter() - t)
print(json.dumps({"median": statistics.median(times), "state": statistics.median(states)}))
"""


def make_repo(root: Path, files: int) -> Path:
    root.mkdir(parents=True)
    for i in range(files):
        folder = root / f"pkg{i // 500}"
        folder.mkdir(exist_ok=True)
        (folder / f"m{i}.py").write_text(f"VALUE = {i}\n")
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b", "-c", "gc.auto=0"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], cwd=root, check=True)
    for i in range(5):
        (root / "pkg0" / f"m{i}.py").write_text(f"VALUE = {i + 1000}\n")
    return root


def scaling(repeats: int) -> dict[str, float]:
    out = {}
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        for files in (100, 10_000):
            repo = make_repo(Path(tmp) / f"r{files}", files)
            result = _python(SCALING, str(repeats), env=dict(os.environ), cwd=repo)
            out[f"capture_{files}_files_ms"] = float(result["median"]) * 1000  # type: ignore[arg-type]
            out[f"state_{files}_files_ms"] = float(result["state"]) * 1000  # type: ignore[arg-type]
    return out


def import_share() -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import mlflow"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    total = plugin = 0
    for line in done.stderr.splitlines():
        self_us, cumulative, name = (p.strip() for p in line.split(":", 1)[1].split("|"))
        if not self_us.isdigit():
            continue  # the header line
        if name.strip().startswith("mlflow_repro"):
            plugin += int(self_us)
        if name == "mlflow":
            total = int(cumulative)
    return {"import_mlflow_ms": total / 1000, "plugin_import_ms": plugin / 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    first = first_and_later(args.repeats, later_runs=20)
    scale = scaling(args.repeats)
    imports = import_share()
    print(f"GitRunContext cold (anchor)       {first['git_context_ms']:8.1f} ms")
    print(
        f"capture added to first start_run  {first['first_added_ms']:8.1f} ms   "
        f"ratio {first['first_added_ms'] / first['git_context_ms']:.2f}x anchor (target <= 1)"
    )
    print(f"capture added to later start_run  {first['later_added_ms']:8.2f} ms   (target <= 3 ms)")
    print(
        f"  end_run waits for the record    {first['end_waited_ms']:8.2f} ms   (in the background)"
    )
    small, large = scale["capture_100_files_ms"], scale["capture_10000_files_ms"]
    print(f"capture, 100 tracked files        {small:8.1f} ms")
    print(
        f"capture, 10,000 tracked files     {large:8.1f} ms   ratio {large / small:.2f}x (<= 1.5x)"
    )
    state_small, state_large = scale["state_100_files_ms"], scale["state_10000_files_ms"]
    print(f"a later run's code state, 100     {state_small:8.1f} ms   (in the background)")
    print(f"a later run's code state, 10,000  {state_large:8.1f} ms")
    print(f"import mlflow                     {imports['import_mlflow_ms']:8.1f} ms")
    print(
        f"  of which mlflow-repro modules   {imports['plugin_import_ms']:8.2f} ms   "
        f"ratio {imports['plugin_import_ms'] / imports['import_mlflow_ms']:.4f}"
    )


if __name__ == "__main__":
    main()
