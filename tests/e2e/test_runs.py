"""A record per run (issue 22): the runs of one process each take their own code state, and
a run after `os.chdir` records where its process started; replayed from a fresh clone.

Beside the end-to-end tier (`just test`): it needs the template's copy, not its trained runs.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import run, venv_env
from tests.e2e.conftest import Project, git_state

pytestmark = pytest.mark.e2e

SWEEP_SCRIPT = '''\
"""Three runs in one process: a knob edited between the first two, the working directory moved
inside the repository before the second and outside it before the third."""
import importlib
import os
import sys
import tempfile
from pathlib import Path

import mlflow

sys.path.insert(0, str(Path(__file__).resolve().parent))
import knobs

mlflow.set_experiment("replay")


def one():
    importlib.reload(knobs)
    with mlflow.start_run():
        mlflow.log_param("alpha", knobs.ALPHA)
        mlflow.log_metric("score", knobs.ALPHA * 3)


one()
Path(knobs.__file__).write_text("ALPHA = 0.95\\n")
os.makedirs("outputs", exist_ok=True)
os.chdir("outputs")
one()
os.chdir(tempfile.gettempdir())
one()
'''


def test_each_run_of_a_process_records_its_own_code_and_replays_after_a_chdir(
    project: Project,
) -> None:
    """Issue 22: a file edited between two runs of one process shows in the second run's diff,
    and diff names it first; a run started after os.chdir, inside the repository or outside
    it, records where the process started and replays identical from a fresh clone."""
    from mlflow_repro.manifest import load_manifest

    scripts = project.root / "scripts"
    scripts.mkdir()
    (scripts / "knobs.py").write_text("ALPHA = 0.1\n")
    (scripts / "sweep.py").write_text(SWEEP_SCRIPT)
    run(["git", "add", "scripts"], cwd=project.root)
    run(["git", "commit", "--quiet", "-m", "a sweep"], cwd=project.root)
    env = venv_env(MLFLOW_TRACKING_URI=project.uri, PYTHONDONTWRITEBYTECODE="1")
    run([sys.executable, "scripts/sweep.py"], cwd=project.root, env=env)
    runs = sorted(project.runs(), key=lambda r: r.info.start_time)
    assert [r.data.params["alpha"] for r in runs] == ["0.1", "0.95", "0.95"]
    manifests = [load_manifest(r.info.run_id, tracking_uri=project.uri) for r in runs]
    assert [m.launch.run_index for m in manifests] == [0, 1, 2]
    assert [m.code.dirty for m in manifests] == [False, True, True]
    assert manifests[0].code.diff is None and manifests[1].code.diff is not None
    assert all(m.launch.workdir == "." for m in manifests), [m.launch for m in manifests]
    assert all(m.launch.script == "scripts/sweep.py" for m in manifests)
    assert all(m.code.vcs == "git" and m.code.complete for m in manifests)

    cmd = [sys.executable, "-m", "mlflow_repro", "diff", runs[0].info.run_id]
    done = run([*cmd, runs[1].info.run_id, "--json"], cwd=project.root.parent, env=env, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    first = json.loads(done.stdout)["differences"][0]
    assert first["group"] == "code" and "scripts/knobs.py" in first["name"], first

    before = git_state(project.root)
    for original in runs[1:]:
        done = project.reproduce(original.info.run_id, "--env-manager", "local", "--json", "-q")
        result = json.loads(done.stdout)
        assert result["verdict"]["verdict"] == "identical", result
        [new] = [r for r in project.runs() if r.info.run_id == result["new_run_id"]]
        assert new.data.params["alpha"] == "0.95" and new.data.metrics == original.data.metrics
    assert git_state(project.root) == before
