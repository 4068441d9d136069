"""The README's "Add the plugin to your own MLflow project", followed literally.

The install commands are read from that README section (so the README cannot drift from what
is tested) and run as written in a user's own small MLflow project: an MLproject, its own
pyproject.toml and uv.lock (MLflow, no mlflow-repro), its environment made by `uv sync`. Then
the project runs through `mlflow run` and as a plain script, both runs carry their manifest, and
the script's run replays identical from another directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from repro_template import packaging
from tests.conftest import REPO_ROOT, committed_project, copy_template, run

pytestmark = pytest.mark.e2e

SECTION = "## Add the plugin to your own MLflow project"

PROJECT = {
    "pyproject.toml": """\
[project]
name = "my-ml-project"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["mlflow==3.17.2"]

[tool.uv]
package = false
""",
    "MLproject": """\
name: my-ml-project
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: "python train.py --alpha {alpha}"
""",
    "train.py": """\
import argparse
import random

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=0.5)
args = parser.parse_args()
with mlflow.start_run() as run:
    mlflow.log_param("alpha", args.alpha)
    mlflow.log_metric("score", args.alpha * random.random())
    print("RUN_ID=" + run.info.run_id)
""",
    ".gitignore": ".venv/\n",
}


def readme_blocks() -> dict[str, str]:
    """The section's bash blocks, keyed by their first comment line."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    return {block.splitlines()[0].lstrip("# ").strip(): block for block in blocks}


def test_the_section_gives_both_install_ways_and_says_pypi_is_not_yet() -> None:
    blocks = readme_blocks()
    assert set(blocks) == {
        "from the wheel (run `just package` in $MLFLOW_REPRO first)",
        "from the checkout, in your uv project",
    }
    section = (REPO_ROOT / "README.md").read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    assert "not published on PyPI yet" in section
    assert (
        "--require-hashes" in blocks["from the wheel (run `just package` in $MLFLOW_REPRO first)"]
    )
    assert "--extra dvc" in blocks["from the checkout, in your uv project"]


@pytest.mark.parametrize("way", ["wheel", "checkout"])
def test_a_project_installed_as_the_readme_says_records_and_replays(
    way: str, tmp_path: Path
) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is on PATH wherever the suite runs (the README installs it)"
    checkout = copy_template(tmp_path / "mlflow-repro")  # a user's clone of this repository
    project = committed_project(tmp_path / "my-ml-project", PROJECT)
    run([uv, "lock", "--quiet"], cwd=project)
    run(["git", "add", "uv.lock"], cwd=project)
    ident = ["-c", "user.name=Repro Tests", "-c", "user.email=tests@example.invalid"]
    run(["git", *ident, "commit", "-qm", "lock"], cwd=project)
    run([uv, "sync", "--quiet", "--frozen"], cwd=project)  # the project's own environment
    venv = project / ".venv"
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "UV_PYTHON")
    }
    env.update(
        MLFLOW_REPRO=str(checkout),
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    blocks = readme_blocks()
    if way == "wheel":
        packaging.build(checkout, checkout / "dist")  # `just package` in the checkout
        block = blocks["from the wheel (run `just package` in $MLFLOW_REPRO first)"]
    else:
        block = blocks["from the checkout, in your uv project"]
    run(["bash", "-euo", "pipefail", "-c", block], cwd=project, env=env)

    done = run(
        [str(venv / "bin" / "mlflow"), "run", "--env-manager", "local", "-P", "alpha=0.3", "."],
        cwd=project,
        env=env,
    )
    by_mlflow_run = done.stderr.split("Run (ID '")[-1].split("'")[0]
    done = run([str(venv / "bin" / "python"), "train.py", "--alpha", "0.2"], cwd=project, env=env)
    plain = next(line[7:] for line in done.stdout.splitlines() if line.startswith("RUN_ID="))
    check = (
        "import json, sys\n"
        "from mlflow.tracking import MlflowClient\n"
        "c = MlflowClient()\n"
        "out = {}\n"
        "for r in sys.argv[1:]:\n"
        "    tags = c.get_run(r).data.tags\n"
        "    listed = [a.path for a in c.list_artifacts(r, 'repro')]\n"
        "    out[r] = [tags.get('repro.status'), 'repro/manifest.json' in listed]\n"
        "print(json.dumps(out))\n"
    )
    done = run(
        [str(venv / "bin" / "python"), "-c", check, by_mlflow_run, plain], cwd=project, env=env
    )
    found = json.loads(done.stdout)
    for run_id in (by_mlflow_run, plain):
        status, has_manifest = found[run_id]
        assert has_manifest and status in ("reproducible", "unlocked"), (way, run_id, status)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cmd = [str(venv / "bin" / "mlflow-repro"), "reproduce", plain, "--env-manager", "local"]
    done = run([*cmd, "--json", "-q"], cwd=elsewhere, env=env)
    result = json.loads(done.stdout)
    assert result["verdict"]["verdict"] == "identical", result
