"""The plugin as a user installs it: its wheel into a fresh environment that holds only MLflow.

It must add at most two distributions (itself and uv: nothing of the template), and a plain
`mlflow.start_run()` script there must still get a complete manifest.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from repro_template import packaging
from tests.conftest import REPO_ROOT, Repo, run, venv_env

pytestmark = pytest.mark.e2e

MLFLOW = "mlflow==3.17.2"
SCRIPT = """\
import mlflow
with mlflow.start_run() as run:
    mlflow.log_metric("m", 1.0)
    print("RUN_ID=" + run.info.run_id)
"""


def freeze(uv: str, python: Path) -> set[str]:
    out = run([uv, "pip", "freeze", "--python", str(python)], cwd=python.parent).stdout
    return {line.split("==")[0].split(" @ ")[0].lower() for line in out.splitlines() if line}


def test_the_wheel_adds_two_distributions_and_captures_a_complete_manifest(
    repo: Repo, tmp_path: Path
) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is on PATH wherever the suite runs (the README installs it)"
    wheel = packaging.build(REPO_ROOT, tmp_path / "dist").wheel
    venv = tmp_path / "venv"
    run([uv, "venv", "--quiet", "--python", "3.11", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    run([uv, "pip", "install", "--quiet", "--python", str(python), MLFLOW], cwd=tmp_path)
    before = freeze(uv, python)
    run([uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)], cwd=tmp_path)
    added = freeze(uv, python) - before
    print("added:", sorted(added))
    assert added == {"mlflow-repro", "uv"}
    assert not {"dvc", "scikit-learn", "pydantic-settings"} & added

    repo.write("train.py", SCRIPT)
    repo.commit("script")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = venv_env(MLFLOW_TRACKING_URI=uri, VIRTUAL_ENV=str(venv))
    env.pop("PYTHONPATH", None)
    done = run([str(python), "train.py"], cwd=repo.root, env=env)
    run_id = next(line[7:] for line in done.stdout.splitlines() if line.startswith("RUN_ID="))
    code = (
        "import json, sys\n"
        "from mlflow_repro import load_manifest\n"
        "m = load_manifest(sys.argv[1])\n"
        "print(json.dumps({'errors': m.errors, 'commit': m.code.commit, 'complete':"
        " m.code.complete, 'lock': m.environment.lock_source, 'python':"
        " m.environment.python_version, 'system': m.platform.system, 'seeds': m.seeds.source,"
        " 'file': __import__('mlflow_repro').__file__, 'version': m.mlflow_repro_version}))\n"
    )
    shown = run([str(python), "-c", code, run_id], cwd=repo.root, env=env).stdout
    manifest = json.loads(shown.splitlines()[-1])
    assert manifest["errors"] == []
    assert manifest["commit"] == repo.git("rev-parse", "HEAD") and manifest["complete"] is True
    assert manifest["lock"] == "installed-distributions"  # no uv.lock in that project
    assert manifest["python"].startswith("3.11") and manifest["system"] == "Linux"
    assert manifest["seeds"].startswith("automatic")
    assert manifest["file"].startswith(str(venv))  # the installed wheel, not this checkout
    import tomllib

    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert manifest["version"] == version  # "recorded by mlflow-repro X": the one version
