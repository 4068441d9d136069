"""A record per run (issue 22): the runs of one process each take their own code state, and
a run after `os.chdir` records where its process started; replayed from a fresh clone.

Beside the end-to-end tier (`just test`): it needs the template's copy, not its trained runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import committed_project, run, venv_env
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


LIGHTNING_SCRIPT = '''\
"""A tiny model fitted on the CPU, logged by PyTorch Lightning's MLFlowLogger (which creates its
run with MlflowClient.create_run(tags=resolve_tags(...)), no start_run)."""
import os

import lightning as L
import torch
from lightning.pytorch.loggers import MLFlowLogger


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("loss", loss, on_step=True, on_epoch=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


L.seed_everything(7, workers=True)  # torch was imported before mlflow: the script seeds it
data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
logger = MLFlowLogger(
    experiment_name="lightning", tracking_uri=os.environ["MLFLOW_TRACKING_URI"]
)
trainer = L.Trainer(
    max_epochs=2,
    logger=logger,
    accelerator="cpu",
    deterministic=True,
    enable_checkpointing=False,
    enable_progress_bar=False,
    enable_model_summary=False,
    log_every_n_steps=1,
)
trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=16))
print("RUN_ID=" + logger.run_id)
'''


def test_a_lightning_mlflow_logger_run_gets_its_manifest_and_replays_identical(
    project: Project,
) -> None:
    """Issue 22: Lightning's MLFlowLogger (the real package, from the lock's torch group) on a
    tiny CPU model: its run carries its record, and replays identical from a fresh clone."""
    from mlflow_repro.manifest import load_manifest
    from tests.conftest import require

    require("lightning")
    scripts = project.root / "scripts"
    scripts.mkdir()
    (scripts / "fit.py").write_text(LIGHTNING_SCRIPT)
    run(["git", "add", "scripts"], cwd=project.root)
    run(["git", "commit", "--quiet", "-m", "a Lightning fit"], cwd=project.root)
    env = venv_env(MLFLOW_TRACKING_URI=project.uri)
    done = run([sys.executable, "scripts/fit.py"], cwd=project.root, env=env)
    run_id = next(line[7:] for line in done.stdout.splitlines() if line.startswith("RUN_ID="))
    original = next(r for r in project.runs() if r.info.run_id == run_id)
    assert original.info.status == "FINISHED"
    assert original.data.tags["repro.status"] in ("reproducible", "unlocked"), original.data.tags
    manifest = load_manifest(run_id, tracking_uri=project.uri)
    assert manifest.launch.script == "scripts/fit.py" and manifest.code.complete
    assert "torch" in manifest.environment.groups
    assert len(original.data.metrics) >= 1

    done = project.reproduce(run_id, "--env-manager", "local", "--json", "-q")
    result = json.loads(done.stdout)
    assert result["verdict"]["verdict"] == "identical", result
    [new] = [r for r in project.runs() if r.info.run_id == result["new_run_id"]]
    assert new.data.metrics == original.data.metrics


AUTOLOG_SCRIPT = """\
import mlflow
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

mlflow.sklearn.autolog(log_models=False, log_datasets=False)
X, y = make_classification(n_samples=60, n_features=4, random_state=0)
LogisticRegression(max_iter=200).fit(X, y)
print("RUN_ID=" + mlflow.last_active_run().info.run_id)
"""


def test_an_autologged_run_gets_its_manifest(tmp_path: Path) -> None:
    """mlflow.<flavor>.autolog() starts its run through start_run: recorded like any other.
    (Hugging Face's MLflowCallback does the same; transformers is not in the lock: README.)"""
    from mlflow.tracking import MlflowClient

    root = committed_project(tmp_path / "autolog", {"train.py": AUTOLOG_SCRIPT})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run([sys.executable, "train.py"], cwd=root, env=venv_env(MLFLOW_TRACKING_URI=uri))
    run_id = next(line[7:] for line in done.stdout.splitlines() if line.startswith("RUN_ID="))
    client = MlflowClient(tracking_uri=uri)
    tags = client.get_run(run_id).data.tags
    assert tags["repro.git.dirty"] == "false" and "repro.status" in tags, tags
    assert "repro/manifest.json" in {a.path for a in client.list_artifacts(run_id, "repro")}


NOTEBOOK_CELLS = [
    "import mlflow\nmlflow.set_experiment('notebook')",
    "ALPHA = 0.1\nwith mlflow.start_run() as run:\n    mlflow.log_param('alpha', ALPHA)\n"
    "    mlflow.log_metric('score', ALPHA * 3)\nfirst = run.info.run_id",
    # the same cell, edited and run again
    "ALPHA = 0.7\nwith mlflow.start_run() as run:\n    mlflow.log_param('alpha', ALPHA)\n"
    "    mlflow.log_metric('score', ALPHA * 3)\nsecond = run.info.run_id",
    "print('RUNS', first, second)",
]

EXECUTE = """\
import sys
import nbformat
from nbclient import NotebookClient

cells = [nbformat.v4.new_code_cell(source) for source in {cells!r}]
notebook = nbformat.v4.new_notebook(cells=cells)
NotebookClient(
    notebook, timeout=180, kernel_name="python3", resources={{"metadata": {{"path": sys.argv[1]}}}}
).execute()
print(notebook.cells[-1].outputs[0]["text"])
"""


def test_a_notebook_run_by_a_real_kernel_records_its_cells_and_replays_them(
    tmp_path: Path,
) -> None:
    """Issue 22: two runs of one Jupyter kernel, a cell edited between them: each run records
    the cells executed up to its end (repro/session/cells.py), and the second replays
    identical from a fresh clone as a script of those cells."""
    from mlflow.tracking import MlflowClient

    from mlflow_repro.manifest import load_manifest
    from tests.conftest import require

    require("nbclient")
    root = committed_project(tmp_path / "notebooks", {"README.md": "notebook project\n"})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = venv_env(MLFLOW_TRACKING_URI=uri)
    executor = [sys.executable, "-c", EXECUTE.format(cells=NOTEBOOK_CELLS), str(root)]
    done = run(executor, cwd=tmp_path, env=env)
    first, second = done.stdout.split("RUNS", 1)[1].split()[:2]

    manifests = [load_manifest(r, tracking_uri=uri) for r in (first, second)]
    for manifest in manifests:
        assert manifest.launch.session == "jupyter" and manifest.launch.session_note is None
        assert manifest.launch.session_cells is not None and manifest.launch.script is None
        assert manifest.code.vcs == "git" and manifest.launch.workdir == "."
    client = MlflowClient(tracking_uri=uri)
    texts = [
        Path(client.download_artifacts(r, "repro/session/cells.py", str(tmp_path / r))).read_text()
        for r in (first, second)
    ]
    assert "ALPHA = 0.1" in texts[0] and "ALPHA = 0.7" not in texts[0]  # as of run 1's end
    assert "ALPHA = 0.1" in texts[1] and "ALPHA = 0.7" in texts[1]
    assert texts[1].index("ALPHA = 0.1") < texts[1].index("ALPHA = 0.7")  # in order
    status = client.get_run(second).data.tags["repro.status"]
    assert status in ("reproducible", "unlocked"), status  # no uv.lock here: unlocked

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cmd = [sys.executable, "-m", "mlflow_repro", "reproduce", second, "--env-manager", "local"]
    done = run([*cmd, "--json", "-q"], cwd=elsewhere, env=env)
    result = json.loads(done.stdout)
    assert result["verdict"]["verdict"] == "identical", result
    replayed = client.get_run(result["new_run_id"])
    assert replayed.data.params == {"alpha": "0.7"}
