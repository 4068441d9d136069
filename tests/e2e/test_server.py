"""A team's setup: `mlflow server` on PostgreSQL with proxied artifacts, started by the tests
(tests/postgres.py, tests/conftest.py `team_server`). A sweep of 32 processes through a
PostgreSQL restart; capture under faults (the server gone while capture logs, an artifact store
that refuses writes, a hanging nvidia-smi), each leaving earlier runs as they were and no run
claiming a manifest it does not hold; replay and inspect against the server.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.manifest import Manifest
from tests import sweep
from tests.conftest import Repo, TeamServer, run, venv_env
from tests.e2e.conftest import train
from tests.e2e.test_capture import check_plain_script_run, check_template_run, with_local_changes

pytestmark = pytest.mark.e2e

# MLflow's client retries a refused connection or a 5xx for minutes by default (7 retries,
# backoff factor 2): the fault tests keep a single quick retry, so that a fault outlasts it.
QUICK = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
QUIET = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@pytest.fixture(autouse=True)
def _quiet_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's repository holding the sweep's training script, committed."""
    root = tmp_path_factory.mktemp("sweep") / "project"
    root.mkdir()
    sweep.write_script(root)
    ident = ["-c", "user.name=Repro Tests", "-c", "user.email=tests@example.invalid"]
    run(["git", "init", "-q"], cwd=root)
    run(["git", "add", "-A"], cwd=root)
    run(["git", *ident, "commit", "-qm", "sweep script"], cwd=root)
    return root


def experiment(server: TeamServer, name: str) -> str:
    from mlflow.tracking import MlflowClient

    return str(MlflowClient(tracking_uri=server.uri).create_experiment(name))


@pytest.fixture(scope="module")
def earlier(mlflow_server: TeamServer, project: Path) -> tuple[str, str]:
    """One run logged before any fault: its experiment and run id; it must stay whole."""
    exp = experiment(mlflow_server, "earlier")
    [proc], _ = sweep.run_sweep(project, mlflow_server.uri, exp, 1, venv_env(**QUIET))
    assert proc.returncode == 0, proc.stderr
    return exp, str(proc.report["run_id"])


def assert_whole(server: TeamServer, earlier: tuple[str, str], dest: Path) -> None:
    assert sweep.problems(server.uri, earlier[0], 1, dest) == []


def test_a_plain_script_run_on_the_server_gets_a_complete_manifest(
    mlflow_server: TeamServer, repo: Repo, tmp_path: Path
) -> None:
    """As against sqlite (test_capture.py): the edit in the diff, the untracked file, every
    payload as recorded, the tags mirroring the manifest; here through the server."""
    check_plain_script_run(with_local_changes(repo), mlflow_server.uri, tmp_path / "dl")


def test_a_sweep_of_32_processes_through_a_postgresql_restart_loses_nothing(
    mlflow_server: TeamServer, project: Path, earlier: tuple[str, str], tmp_path: Path
) -> None:
    """32 training processes start runs at once; PostgreSQL restarts (every connection cut)
    once a few runs exist. Every run ends with its own complete manifest and payloads: none
    lost, none duplicated, none another process's (each manifest carries its process's seed)."""
    from mlflow.tracking import MlflowClient

    exp = experiment(mlflow_server, "sweep")
    procs = sweep.launch(project, mlflow_server.uri, exp, 32, venv_env(**QUIET))
    client, deadline = MlflowClient(tracking_uri=mlflow_server.uri), time.monotonic() + 300
    while not client.search_runs([exp]) and time.monotonic() < deadline:
        time.sleep(0.1)
    claimed = len(client.search_runs([exp], "tags.\"repro.status\" != ''"))
    mlflow_server.database.restart()
    running = sum(p.poll() is None for p in procs)
    done = sweep.wait(procs)
    assert [p.index for p in done if p.returncode != 0] == [], [p.stderr for p in done][:2]
    print(f"at the restart: {claimed} runs held their manifest, {running} processes ran")
    assert claimed < 32 and running > 0, "the restart came in the middle of the sweep"
    assert sweep.problems(mlflow_server.uri, exp, 32, tmp_path) == []
    assert_whole(mlflow_server, earlier, tmp_path / "earlier")


class Proxy:
    """A loopback TCP relay in front of the tracking server that goes away (its port refuses
    connections, open ones are cut) when a request carries `marker`, for `seconds`."""

    def __init__(self, target: str, marker: bytes, seconds: float) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target, self.marker, self.seconds = (host, int(port)), marker, seconds
        self.cut_at: float | None = None
        self._open: list[socket.socket] = []
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed: the server is away; come back later on the same port
                assert self.cut_at is not None
                time.sleep(max(0.0, self.cut_at + self.seconds - time.monotonic()))
                self._listener = self._listen(self.port)
                continue
            upstream = socket.create_connection(self.target)
            self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, watch: bool) -> None:
        try:
            while data := source.recv(65536):
                if watch and self.cut_at is None and self.marker in data:
                    self._go_away()
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def _go_away(self) -> None:
        self.cut_at = time.monotonic()
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone won't
        self._listener.close()
        for end in self._open:
            end.close()


def test_the_server_gone_while_capture_logs_is_printed_and_logged_once_back(
    mlflow_server: TeamServer, project: Path, earlier: tuple[str, str], tmp_path: Path
) -> None:
    """The server goes away as the first `repro/` file is uploaded and is back 4 s later. The
    training goes on and finishes; what was not logged is printed; the upload is tried again
    as the process exits, and the run then holds its complete manifest."""
    exp = experiment(mlflow_server, "server-gone")
    proxy = Proxy(mlflow_server.uri, b"/artifacts/repro/", seconds=4)
    env = venv_env(**QUIET, **QUICK, SWEEP_TRAIN_SECONDS="6")
    [proc], _ = sweep.run_sweep(project, proxy.uri, exp, 1, env)
    assert proxy.cut_at is not None, "the server never went away"
    assert proc.returncode == 0, proc.stderr
    run_id = proc.report["run_id"]
    assert f"not logged to run {run_id}: " in proc.stderr
    assert f"repro/ logged to run {run_id} on a second try" in proc.stderr
    assert sweep.problems(mlflow_server.uri, exp, 1, tmp_path) == []
    assert_whole(mlflow_server, earlier, tmp_path / "earlier")


def test_an_artifact_store_that_refuses_writes_leaves_the_run_marked_incomplete(
    mlflow_server: TeamServer, project: Path, earlier: tuple[str, str], tmp_path: Path
) -> None:
    """The store cannot write the experiment's artifacts (a file stands where its folder goes):
    the run finishes, says what was not logged, and is tagged `incomplete` with the reason,
    its description saying so; it holds no manifest and claims none."""
    from mlflow.tracking import MlflowClient

    exp = experiment(mlflow_server, "refused")
    mlflow_server.artifacts.mkdir(exist_ok=True)  # the server makes it at the first upload
    (mlflow_server.artifacts / exp).write_text("in the way\n")
    try:
        [proc], _ = sweep.run_sweep(project, mlflow_server.uri, exp, 1, venv_env(**QUIET, **QUICK))
    finally:
        (mlflow_server.artifacts / exp).unlink()
    assert proc.returncode == 0, proc.stderr
    run_id = proc.report["run_id"]
    run_ = MlflowClient(tracking_uri=mlflow_server.uri).get_run(run_id)
    assert run_.info.status == "FINISHED"
    assert run_.data.tags["repro.status"] == "incomplete"
    assert "publish: " in run_.data.tags["repro.capture.errors"]
    description = run_.data.tags["mlflow.note.content"]  # what the run page shows first
    assert description.startswith("**mlflow-repro: incomplete**: `repro/` could not be logged")
    assert not (mlflow_server.artifacts / exp).exists()  # nothing was written
    assert f"not logged to run {run_id}: " in proc.stderr
    assert f"not logged to run {run_id} (second try, at exit)" in proc.stderr
    assert_whole(mlflow_server, earlier, tmp_path / "earlier")


def test_a_hanging_nvidia_smi_is_cut_and_the_run_says_so(
    mlflow_server: TeamServer, project: Path, tmp_path: Path
) -> None:
    """An `nvidia-smi` that never answers (a stand-in first on PATH): capture stops it at its
    bound, the run finishes with its manifest, which names the timeout (status incomplete)."""
    from mlflow.tracking import MlflowClient

    stand_in = tmp_path / "bin" / "nvidia-smi"
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\nsleep 600\n")
    stand_in.chmod(0o755)
    exp = experiment(mlflow_server, "hanging-gpu")
    env = venv_env(**QUIET, PATH=f"{stand_in.parent}:{venv_env()['PATH']}")
    procs = sweep.wait(sweep.launch(project, mlflow_server.uri, exp, 1, env), timeout=300)
    assert procs[0].returncode == 0, procs[0].stderr
    client = MlflowClient(tracking_uri=mlflow_server.uri)
    local = Path(client.download_artifacts(procs[0].report["run_id"], "repro", str(tmp_path)))
    manifest = Manifest.from_json((local / "manifest.json").read_text())
    assert any("nvidia-smi" in e and "timed out" in e for e in manifest.errors), manifest.errors
    assert manifest.gpu.devices == []
    tags = client.get_run(procs[0].report["run_id"]).data.tags
    assert tags["repro.status"] == "incomplete"


@pytest.fixture(scope="module")
def template_run(mlflow_server: TeamServer, template_with_data: Path) -> tuple[Path, str]:
    """The template trained through `mlflow run` against the server: its clone and run id."""
    return template_with_data, train(template_with_data, mlflow_server.uri, "local", "template")


def mlflow_repro(server: TeamServer, cwd: Path, *args: str, check: bool = True) -> Any:
    env = venv_env(MLFLOW_TRACKING_URI=server.uri, **QUIET)
    return run([sys.executable, "-m", "mlflow_repro", *args], cwd=cwd, env=env, check=check)


def test_a_run_on_the_server_replays_identical_and_inspects(
    mlflow_server: TeamServer, template_run: tuple[Path, str], tmp_path: Path
) -> None:
    """The template's `mlflow run` against the server gets its complete manifest; it replays
    `identical` from another directory, in a fresh clone; audit, diff and parity read the
    server's PostgreSQL store and proxied artifacts."""
    _, original = template_run
    check_template_run(mlflow_server.uri, original, tmp_path / "original")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = mlflow_repro(mlflow_server, elsewhere, "reproduce", original, "--json", "-q")
    result = json.loads(done.stdout)
    assert result["verdict"]["verdict"] == "identical", result
    replay = result["new_run_id"]

    # (exit 1: the clone's data was copied in, not through DVC, so no cache holds its md5)
    done = mlflow_repro(mlflow_server, elsewhere, "audit", original, "--json", check=False)
    audit = json.loads(done.stdout)
    items = {item["name"]: item for item in audit["items"]}
    assert audit["run_id"] == original
    assert items["integrity"]["status"] == "ok" and items["model"]["status"] == "ok"
    assert items["replays"]["reason"] == f"1 replays; latest {replay}: identical"

    diff = json.loads(
        mlflow_repro(mlflow_server, elsewhere, "diff", original, replay, "--json").stdout
    )
    code = [d for d in diff["differences"] if d["group"] in ("code", "environment", "data")]
    assert code == [], diff["differences"]
    assert all(m["a"] == m["b"] for m in diff["metrics"]), diff["metrics"]

    # the interpreter that trained it (--env-manager local: this one) serves it, package by package
    done = mlflow_repro(mlflow_server, elsewhere, "parity", original, "--json", check=False)
    parity = json.loads(done.stdout)
    assert parity["run_id"] == original and parity["items"]
    differ = [i for i in parity["items"] if i["status"] not in ("match", "extra")]
    assert [i["name"] for i in differ if i["name"] != "python"] == [], differ


def test_credentials_in_the_server_uri_are_never_printed_and_not_found_stays_not_found(
    mlflow_server: TeamServer, tmp_path: Path
) -> None:
    """The server answers (it checks no credentials): a run it does not have is "no run", told
    apart from a store that does not answer, and the password in the URI (percent-encoded and
    raw characters) appears in nothing any command prints."""
    password = "Srv%2Fpl4nted-pw"
    host = mlflow_server.uri.split("://", 1)[1]
    env = venv_env(MLFLOW_TRACKING_URI=f"http://ml:{password}@{host}", **QUIET)
    missing = "0123456789abcdef0123456789abcdef"
    for args, said in [
        (["audit", missing], f"no run with this id in the tracking store '{mlflow_server.uri}'"),
        (["diff", missing, missing], "no run with this id"),
        (["reproduce", missing], "no run with this id"),
        (["reproduce", "--experiment", "no-such-experiment"], "no experiment named"),
    ]:
        cmd = [sys.executable, "-m", "mlflow_repro", *args]
        done = run(cmd, cwd=tmp_path, env=env, check=False)
        output = done.stdout + done.stderr
        assert done.returncode == 2 and said in output, (args, output)
        assert "did not answer" not in output and "Traceback" not in output, (args, output)
        for piece in (password, "Srv/pl4nted-pw", "pl4nted"):
            assert piece not in output, (args, piece, output)
