"""Fixtures shared by the whole suite: hermetic git, a private tracking store, a template copy."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.containers import (  # noqa: F401
    base_image,
    container_runs,
    docker_daemon,
    registry,
    template_image,
)
from tests.postgres import Postgres

if TYPE_CHECKING:
    from mlflow_repro.plugin.state import ProcessState

REPO_ROOT = Path(__file__).resolve().parents[1]

# Tags for a run a test makes with MlflowClient.create_run to hold a record of its own making
# (a copy, an empty run): the plugin records nothing for it (as for a tool importing runs).
NO_CAPTURE = {"repro.capture": "off"}

# MLflow's telemetry cannot reach its server from here; when its config fetch fails, its
# background thread unsets _MLFLOW_TELEMETRY_SESSION_ID from os.environ while another thread may
# be iterating os.environ (requests does, on every call): a KeyError in the user's log_param,
# seen once in a 32-process sweep (MLflow 3.17.2, telemetry/client.py _fetch_config). Off for
# the suite and every process it starts, as the benchmarks do.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> ProcessState:
    """A fresh plugin process state (its ledger, capture, run count, jobs, retries) in place of
    this process's, for the test: the one object the plugin keeps. What was installed into the
    interpreter stays this process's (an audit hook cannot be removed, the finder is on
    `sys.meta_path`): the capture id the hooks compare with, the import finder, the input watch
    and whether the generators' imports are watched are the real state's."""
    from mlflow_repro.plugin import state

    real, fresh = state.process(), state.ProcessState()
    fresh.capture_id, fresh.finder = real.capture_id, real.finder
    fresh.autoseed_done, fresh.generators_watched = real.autoseed_done, real.generators_watched
    fresh.inputs_root, fresh.inputs_lock = real.inputs_root, real.inputs_lock
    fresh.opened, fresh.written = real.opened, real.written
    monkeypatch.setattr(state, "_PROCESS", fresh)
    return fresh


def run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command, returning its output; on an unexpected exit show everything it printed."""
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{cmd} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        return run(["git", *args], cwd=self.root).stdout.strip()

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def commit(self, message: str = "commit") -> str:
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = tmp_path / "repo"
    root.mkdir()
    r = Repo(root)
    r.git("init", "-q")
    r.write("train.py", "print('train')\n")
    r.write(".gitignore", "ignored/\n")
    r.commit("initial")
    return r


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's and the system's git config out of every test (dvc-data/scmrepo style)."""
    config = tmp_path_factory.mktemp("gitconfig") / "gitconfig"
    config.write_text(
        "[user]\n\tname = Repro Tests\n\temail = tests@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private embedded sqlite tracking store for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def tracked_files(root: Path) -> list[str]:
    out = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root)
    return [p for p in out.stdout.split("\0") if p and (root / p).is_file()]


def copy_template(dest: Path) -> Path:
    """Copy the template as git sees it (tracked and new, non-ignored files) into a new repo.

    The copy is committed so that `mlflow run` finds a clean git checkout, as a user's clone is.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for rel in tracked_files(REPO_ROOT):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / rel, target)
    run(["git", "init", "-q"], cwd=dest)
    run(["git", "add", "-A"], cwd=dest)
    run(["git", "commit", "-qm", "template copy"], cwd=dest)
    return dest


@pytest.fixture(scope="session")
def template_with_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A committed copy of the template with its DVC data in place (shared, read-only use)."""
    with pytest.MonkeyPatch.context() as mp:
        config = tmp_path_factory.mktemp("gitconfig-session") / "gitconfig"
        config.write_text("[user]\n\tname = Repro Tests\n\temail = tests@example.invalid\n")
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        dest = copy_template(tmp_path_factory.mktemp("template") / "project")
        data = REPO_ROOT / "data" / "breast_cancer.csv"
        if data.is_file():
            shutil.copy2(data, dest / "data" / "breast_cancer.csv")
        else:
            run(["dvc", "repro", "--quiet"], cwd=dest)
        yield dest


def venv_env(**extra: str) -> dict[str, str]:
    """The current environment plus `extra`, for subprocesses."""
    env = dict(os.environ)
    env.update(extra)
    return env


def mlflow_run(
    project: Path,
    uri: str,
    conf: str,
    env_manager: str = "local",
    check: bool = True,
    experiment: str = "e2e",
) -> subprocess.CompletedProcess[str]:
    """`mlflow run` of the template's `main` entry point with `conf`, logging to `uri`."""
    import sys

    cmd = [sys.executable, "-m", "mlflow", "run", "--experiment-name", experiment]
    cmd += ["--env-manager", env_manager, "-P", f"conf_file={conf}", "."]
    return run(cmd, cwd=project, env=venv_env(MLFLOW_TRACKING_URI=uri), check=check)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(store_uri: str, root: Path, *extra: str) -> Iterator[str]:
    """A real `mlflow server` on loopback over `store_uri`; yields its URL; stopped after."""
    import sys
    import time
    import urllib.request

    port = free_port()
    log = (root / f"server-{port}.log").open("w")
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--backend-store-uri", store_uri, "--workers", "1", *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        # MLflow 3's server also starts huey job consumers (AI-gateway jobs): three processes
        # polling all session long, a sixth of a core on this machine. The tests need none.
        env=venv_env(MLFLOW_REPRO_DISABLE="1", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start:\n{Path(log.name).read_text()}")
            time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A PostgreSQL cluster of its own (tests/postgres.py), stopped and removed after."""
    database = Postgres(free_port())
    try:
        database.init()
        database.start()
        yield database
    finally:
        with contextlib.suppress(RuntimeError):  # a test may have stopped it already
            database.stop("immediate")
        database.remove()


@contextlib.contextmanager
def team_server(root: Path) -> Iterator[TeamServer]:
    """The team's setup: `mlflow server` on PostgreSQL, artifacts proxied to a folder it owns."""
    root.mkdir(parents=True, exist_ok=True)
    with postgres_server() as database:
        store = database.create_database("mlflow")
        artifacts = root / "artifacts"
        with serve(store, root, "--artifacts-destination", str(artifacts)) as uri:
            yield TeamServer(uri, root, database, artifacts)


@dataclass(frozen=True)
class TeamServer:
    uri: str  # http://127.0.0.1:PORT, what clients use
    root: Path
    database: Postgres
    artifacts: Path  # the server's --artifacts-destination


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    """A real `mlflow server` on loopback over PostgreSQL with proxied artifacts."""
    with team_server(tmp_path_factory.mktemp("server")) as server:
        yield server


def require(module: str | None) -> None:
    if module is None or importlib.util.find_spec(module) is not None:
        return
    if os.environ.get("MLFLOW_REPRO_REQUIRE_FRAMEWORKS") == "1":
        pytest.fail(f"{module} is not installed: run `just install-frameworks`")
    pytest.skip(f"{module} is not installed (optional extra; `just install-frameworks`)")


def committed_project(root: Path, files: dict[str, str]) -> Path:
    """A new git repository at `root` holding `files`, committed (a user's small project)."""
    root.mkdir(parents=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    ident = ["-c", "user.name=Repro Tests", "-c", "user.email=tests@example.invalid"]
    run(["git", "init", "-q"], cwd=root)
    run(["git", "add", "-A"], cwd=root)
    run(["git", *ident, "commit", "-qm", "project"], cwd=root)
    return root
