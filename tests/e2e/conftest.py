"""Trained originals shared by the end-to-end tests that only read them (or replay them).

Training the template costs 20-30 s a run on this machine; most tests need a real run to look
at, not a run of their own. `trained` makes three, once per session, in a user's clone of the
template: tests read them, replay them, or copy one's manifest into a run of their own
(`copy_run`) when they need to change what it says. Tests that change code or data before
training still train their own.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NO_CAPTURE, run, venv_env

EXPERIMENT = "shared"


@dataclass(frozen=True)
class Trained:
    """A user's clone of the template (its origin holds the commit) and its tracking store."""

    root: Path
    uri: str
    uv_run: str  # `mlflow run --env-manager uv -P conf_file=confs/training.yaml .`, the first
    uv_run_output: str  # what it printed: it brought the clone's data from DVC itself
    local_run: str  # the same with --env-manager local

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def get(self, run_id: str) -> Any:
        return self.client().get_run(run_id)


def train_with_output(
    root: Path,
    uri: str,
    env_manager: str,
    experiment: str = EXPERIMENT,
    conf: str = "confs/training.yaml",
    **env: str,
) -> tuple[str, str]:
    """`mlflow run` of the template's main entry point: the run id MLflow printed, and stderr."""
    cmd = [sys.executable, "-m", "mlflow", "run", "--experiment-name", experiment]
    cmd += ["--env-manager", env_manager, "-P", f"conf_file={conf}", "."]
    done = run(cmd, cwd=root, env=venv_env(MLFLOW_TRACKING_URI=uri, **env))
    return done.stderr.split("Run (ID '")[-1].split("'")[0], done.stderr


def train(root: Path, uri: str, env_manager: str, experiment: str = EXPERIMENT, **env: str) -> str:
    """`mlflow run` of the template's main entry point; returns the run id MLflow printed."""
    return train_with_output(root, uri, env_manager, experiment, **env)[0]


@pytest.fixture(scope="session")
def trained(
    template_with_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Trained]:
    base = tmp_path_factory.mktemp("trained")
    root = base / "project"
    with pytest.MonkeyPatch.context() as mp:
        config = base / "gitconfig"
        config.write_text("[user]\n\tname = Repro Tests\n\temail = tests@example.invalid\n")
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        run(["git", "clone", "--quiet", str(template_with_data), str(root)], cwd=base)
        uri = f"sqlite:///{base / 'mlflow.db'}"
        # A fresh clone has no data: the first run brings it from DVC (its remote is empty, so
        # the stage rebuilds it into the clone's DVC cache too, where audit and replay find it).
        uv_run, uv_run_output = train_with_output(root, uri, "uv")
        yield Trained(
            root=root,
            uri=uri,
            uv_run=uv_run,
            uv_run_output=uv_run_output,
            local_run=train(root, uri, "local"),
        )


def copy_run(
    trained: Trained,
    source: str,
    change: Callable[[dict[str, Any]], None],
    *,
    sign: bool = False,
    after: Callable[[Path], None] | None = None,
) -> str:
    """A new run holding `source`'s `repro/` artifacts with its manifest changed by `change`:
    what a manifest could say (another machine, another lock), without training again.
    `sign`: signed with the key MLFLOW_REPRO_SIGNING_KEY names; `after(repro_folder)` then
    edits the folder as someone with write access to the artifacts could."""
    from mlflow_repro.signing import sign as signature_of

    client = trained.client()
    original = client.get_run(source)
    new = client.create_run(original.info.experiment_id, tags={"copied.from": source, **NO_CAPTURE})
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(source, "repro", tmp))
        manifest = json.loads((local / "manifest.json").read_text())
        change(manifest)
        (local / "manifest.json").write_text(json.dumps(manifest))
        (local / "manifest.sig").unlink(missing_ok=True)
        if sign:
            signature = signature_of((local / "manifest.json").read_bytes())
            assert signature is not None, "sign=True needs MLFLOW_REPRO_SIGNING_KEY"
            (local / "manifest.sig").write_bytes(signature)
        if after is not None:
            after(local)
        client.log_artifacts(new.info.run_id, str(local), "repro")
    client.set_terminated(new.info.run_id, "FINISHED")
    return str(new.info.run_id)


def all_runs(uri: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(experiments)) if experiments else []


def git_state(project: Path) -> tuple[str, str]:
    head = run(["git", "rev-parse", "HEAD"], cwd=project).stdout
    return head, run(["git", "status", "--porcelain", "-uall"], cwd=project).stdout


class Project:
    """A user's clone of the template (its origin holds the commit), and a tracking store."""

    def __init__(self, root: Path, uri: str) -> None:
        self.root, self.uri = root, uri

    def train(self, env_manager: str = "local", **env: str) -> str:
        return train(self.root, self.uri, env_manager, "replay", **env)

    def reproduce(self, run_id: str, *args: str, check: bool = True) -> Any:
        cmd = [sys.executable, "-m", "mlflow_repro", "reproduce", run_id, *args]
        return run(
            cmd, cwd=self.root.parent, env=venv_env(MLFLOW_TRACKING_URI=self.uri), check=check
        )

    def runs(self) -> list[Any]:
        return all_runs(self.uri)


@pytest.fixture
def project(template_with_data: Path, tmp_path: Path) -> Project:
    root = tmp_path / "project"
    run(["git", "clone", "--quiet", str(template_with_data), str(root)], cwd=tmp_path)
    shutil.copy2(template_with_data / "data" / "breast_cancer.csv", root / "data")
    return Project(root, f"sqlite:///{tmp_path / 'mlflow.db'}")
