"""Every failure tells the truth: an unreadable or altered record is never "no difference", a
removed signature fails where a team key is configured, a failed run or a failed environment
build is said to be one (and not replayed), and a store that does not answer is never "no such
run" and never prints its credentials. Real git, real script runs, a real sqlite store, real
`mlflow run` and the real `mlflow-repro` command line.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.signing import KEY_VAR, generate
from tests.conftest import NO_CAPTURE, committed_project, free_port, run, venv_env

pytestmark = pytest.mark.e2e

SCRIPT = """\
import sys
import mlflow

with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("score", 0.75)
    print("RUN_ID=" + run.info.run_id)
    if "--fail" in sys.argv:
        sys.exit(3)
"""

QUIET = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


@dataclass(frozen=True)
class Recorded:
    root: Path  # a committed git project holding the script
    uri: str
    key: Path  # the team's private key; the signed run was recorded with it
    signed: str  # a finished run, manifest signed
    failed: str  # a run whose script exited 3 inside the run (MLflow: FAILED)

    def client(self) -> Any:
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def main(self, *args: str, **env: str) -> Any:
        """`mlflow-repro ARGS` run in this process (the command as it runs, without the start-up
        of another interpreter): exit status, what it printed on stdout and on stderr."""
        import contextlib
        import io
        from types import SimpleNamespace
        from unittest import mock

        from mlflow_repro.cli import main

        out, err = io.StringIO(), io.StringIO()
        settings = {"MLFLOW_TRACKING_URI": self.uri, **QUIET, **env}
        with mock.patch.dict(os.environ, settings), contextlib.ExitStack() as stack:
            if KEY_VAR not in env:
                os.environ.pop(KEY_VAR, None)
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(err))
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
        return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())

    def cli(self, *args: str, **env: str) -> Any:
        """`mlflow-repro ARGS` as its own process from another directory (everything it prints,
        MLflow's logging included); exit status not checked."""
        elsewhere = self.root.parent / "elsewhere"
        elsewhere.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", "mlflow_repro", *args]
        full = {"MLFLOW_TRACKING_URI": self.uri, **QUIET, **env}
        return run(cmd, cwd=elsewhere, env=venv_env(**full), check=False)


def script_run(root: Path, uri: str, *args: str, **env: str) -> str:
    done = run(
        [sys.executable, "train.py", *args],
        cwd=root,
        env=venv_env(MLFLOW_TRACKING_URI=uri, **env),
        check=False,
    )
    return next(line[7:] for line in done.stdout.splitlines() if line.startswith("RUN_ID="))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    base = tmp_path_factory.mktemp("failures")
    root = committed_project(base / "project", {"train.py": SCRIPT})
    uri = f"sqlite:///{base / 'mlflow.db'}"
    key, _ = generate(base / "keys" / "team.key")
    signed = script_run(root, uri, **{KEY_VAR: str(key)})
    failed = script_run(root, uri, "--fail")
    return Recorded(root, uri, key, signed, failed)


def altered_copy(recorded: Recorded, source: str, change: Callable[[Path], None]) -> str:
    """A finished run holding `source`'s repro/ as someone with write access changed it."""
    client = recorded.client()
    original = client.get_run(source)
    new = client.create_run(original.info.experiment_id, tags={"copied.from": source, **NO_CAPTURE})
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(client.download_artifacts(source, "repro", tmp))
        change(local)
        client.log_artifacts(new.info.run_id, str(local), "repro")
    client.set_terminated(new.info.run_id, "FINISHED")
    return str(new.info.run_id)


def run_count(recorded: Recorded) -> int:
    client = recorded.client()
    experiments = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(experiments))


def truncated(folder: Path) -> None:
    text = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(text[: len(text) // 2])


def not_json(folder: Path) -> None:
    (folder / "manifest.json").write_text("<html>proxy error</html>\n")


@pytest.mark.parametrize("damage", [truncated, not_json], ids=["truncated", "not-json"])
def test_a_damaged_manifest_is_never_no_difference(
    recorded: Recorded, damage: Callable[[Path], None]
) -> None:
    broken = altered_copy(recorded, recorded.signed, damage)
    done = recorded.main("diff", recorded.signed, broken)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "could not compare the records" in done.stdout
    assert "repro/manifest.json is not a valid manifest" in done.stdout
    assert "no difference" not in done.stdout

    done = recorded.main("diff", broken, recorded.signed, "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["same"] is False and result["could_not_compare"], result

    done = recorded.main("audit", broken, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    items = {i["name"]: i for i in json.loads(done.stdout)["items"]}
    assert items["manifest"]["status"] == "missing"
    assert "not a valid manifest" in items["manifest"]["reason"]

    done = recorded.main("parity", broken)
    assert done.returncode == 2 and "not a valid manifest" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_removed_signature_fails_audit_diff_and_replay_where_a_key_is_configured(
    recorded: Recorded,
) -> None:
    unsigned = altered_copy(
        recorded, recorded.signed, lambda folder: (folder / "manifest.sig").unlink()
    )
    key = {KEY_VAR: str(recorded.key)}
    done = recorded.main("audit", unsigned, "--json", **key)
    assert done.returncode == 1, done.stdout + done.stderr
    items = {i["name"]: i for i in json.loads(done.stdout)["items"]}
    assert items["signature"]["status"] == "missing", items["signature"]
    assert "unsigned, while a team key is configured" in items["signature"]["reason"]
    # the same record, signed: its signature holds
    done = recorded.main("audit", recorded.signed, "--json", **key)
    items = {i["name"]: i for i in json.loads(done.stdout)["items"]}
    assert items["signature"]["status"] == "ok", items["signature"]

    done = recorded.main("diff", recorded.signed, unsigned, **key)
    assert done.returncode == 2 and "the manifest is unsigned" in done.stdout, done.stdout

    before = run_count(recorded)
    done = recorded.main("reproduce", unsigned, "--env-manager", "local", **key)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the manifest is unsigned" in done.stderr and "not replaying" in done.stderr
    assert run_count(recorded) == before

    # Without a key configured, the unsigned copy is only weak: nothing says it was signed.
    done = recorded.main("audit", unsigned, "--json")
    items = {i["name"]: i for i in json.loads(done.stdout)["items"]}
    assert items["signature"]["status"] == "weak"


def test_a_run_that_failed_is_not_replayed_unless_asked(recorded: Recorded) -> None:
    assert recorded.client().get_run(recorded.failed).info.status == "FAILED"
    before = run_count(recorded)
    done = recorded.main("reproduce", recorded.failed, "--env-manager", "local")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the original run itself FAILED" in done.stderr and "--failed" in done.stderr
    assert "Traceback" not in done.stderr
    assert run_count(recorded) == before  # refused before anything was rebuilt or run


def test_an_environment_build_that_fails_leaves_no_running_run_and_audit_says_why(
    recorded: Recorded, tmp_path: Path
) -> None:
    """`mlflow run --env-manager uv` of a project whose Python uv cannot get (no download, as
    on a machine without network): MLflow alone leaves the run RUNNING and prints a traceback."""
    project = tmp_path / "envfail"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: envfail\npython_env: python_env.yaml\n"
        "entry_points:\n  main:\n    command: python train.py\n"
    )
    (project / "python_env.yaml").write_text('python: "3.10.99"\ndependencies: [mlflow]\n')
    shutil.copy(recorded.root / "train.py", project / "train.py")
    before = run_count(recorded)
    cmd = [sys.executable, "-m", "mlflow", "run", "--env-manager", "uv", "."]
    env = venv_env(MLFLOW_TRACKING_URI=recorded.uri, UV_PYTHON_DOWNLOADS="never")
    done = run(cmd, cwd=project, env=env, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    assert "mlflow-repro: the run's environment could not be built" in output
    assert "uv python install 3.10.99" in output

    client = recorded.client()
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, order_by=["attributes.start_time DESC"])
    assert len(runs) == before + 1
    made = runs[0]
    assert made.info.status == "FAILED", made.info
    assert made.data.tags["repro.launch.error"].startswith("environment build failed")
    assert f"run {made.info.run_id} is marked FAILED" in output

    done = recorded.main("audit", made.info.run_id, "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    items = {i["name"]: i for i in json.loads(done.stdout)["items"]}
    reason = items["manifest"]["reason"]
    assert "FAILED before a manifest was logged (environment build failed" in reason, reason
    assert "recorded without mlflow-repro" not in done.stdout
    assert "replays" not in items and "mlflow-repro reproduce" not in done.stdout

    done = recorded.main("reproduce", made.info.run_id)
    assert done.returncode == 2 and "FAILED before a manifest was logged" in done.stderr


PASSWORD = "Pl4nted%2Fpass#word"  # a %2F-encoded slash and a raw '#'


def secret_pieces() -> list[str]:
    from urllib.parse import unquote

    pieces = [PASSWORD, unquote(PASSWORD), "Pl4nted%2Fpass", "Pl4nted/pass", "pass#word"]
    return [*pieces, "Pl4nted"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "nowhere.invalid"], ids=["refused", "no-such-host"]
)
def test_a_store_that_does_not_answer_is_named_so_without_its_password(
    recorded: Recorded, host: str
) -> None:
    uri = f"http://alice:{PASSWORD}@{host.format(port=free_port())}"
    quick = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    some_id = recorded.signed
    commands = [
        ["reproduce", some_id],
        ["reproduce", "--experiment", "prod"],
        ["reproduce", "--filter", "tags.\"repro.status\" = 'reproducible'"],
        ["audit", some_id],
        ["diff", some_id, some_id],
        ["parity", some_id],
    ]
    if host.startswith("nowhere"):
        commands = commands[1:2] + commands[3:4]
    for args in commands:
        done = recorded.cli(*args, **quick)
        output = done.stdout + done.stderr
        assert done.returncode == 2, (args, output)
        assert "the tracking store did not answer" in output, (args, output)
        assert "no run with" not in output and "Traceback" not in output, (args, output)
        for piece in secret_pieces():
            assert piece not in output, (args, piece, output)


READS_IGNORED = """\
import json
import mlflow

with mlflow.start_run() as run:
    params = json.load(open("local/params.json"))
    image = open("data/images/a.png", "rb").read()  # DVC's (a directory out): not a gap
    with open("outputs/model.txt", "w") as out:  # written by the run: an output
        out.write("weights")
    mlflow.log_artifact("outputs/model.txt")  # read back to upload it: still an output
    mlflow.log_param("alpha", params["alpha"])
    print("RUN_ID=" + run.info.run_id)
"""

IMAGES_DVC = """\
outs:
- md5: 0123456789abcdef0123456789abcdef.dir
  size: 4
  nfiles: 1
  hash: md5
  path: images
"""


def test_a_run_that_reads_a_file_git_ignores_is_incomplete_and_not_replayed(
    recorded: Recorded, tmp_path: Path
) -> None:
    files = {
        "train.py": READS_IGNORED,
        ".gitignore": "local/\noutputs/\n",
        "data/images.dvc": IMAGES_DVC,
        "data/.gitignore": "/images\n",
        ".dvc/config": "",  # a DVC repository
    }
    root = committed_project(tmp_path / "ignored", files)
    (root / "data" / "images").mkdir()
    (root / "data" / "images" / "a.png").write_bytes(b"\x89PNG")
    (root / "local").mkdir()
    (root / "outputs").mkdir()
    (root / "local" / "params.json").write_text('{"alpha": 0.3}\n')
    done = run(
        [sys.executable, "train.py"], cwd=root, env=venv_env(MLFLOW_TRACKING_URI=recorded.uri)
    )
    run_id = next(line[7:] for line in done.stdout.splitlines() if line.startswith("RUN_ID="))
    assert "read files git ignores and DVC does not track (local/params.json)" in done.stderr
    tags = recorded.client().get_run(run_id).data.tags
    assert tags["repro.status"] == "incomplete", tags
    from mlflow_repro.manifest import load_manifest

    manifest = load_manifest(run_id, tracking_uri=recorded.uri)
    ignored = [o.path for o in manifest.code.omitted if o.reason == "ignored-input"]
    assert ignored == ["local/params.json"], manifest.code.omitted  # not DVC's, not outputs
    assert not manifest.code.complete

    before = run_count(recorded)
    done = recorded.main("reproduce", run_id, "--env-manager", "local")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "read files git ignores and DVC does not track (local/params.json)" in done.stderr
    assert run_count(recorded) == before  # refused before any run was created


def test_a_run_in_a_sparse_checkout_is_incomplete_and_replay_says_so(
    recorded: Recorded, tmp_path: Path
) -> None:
    origin = committed_project(
        tmp_path / "origin",
        {"app/train.py": SCRIPT, "other/data.txt": "outside the cone\n"},
    )
    clone = tmp_path / "sparse"
    run(["git", "clone", "-q", "--no-checkout", str(origin), str(clone)], cwd=tmp_path)
    run(["git", "sparse-checkout", "set", "app"], cwd=clone)
    run(["git", "checkout", "-q", "main"], cwd=clone)
    assert not (clone / "other").exists()
    run_id = script_run(clone / "app", recorded.uri)
    from mlflow_repro.manifest import load_manifest

    manifest = load_manifest(run_id, tracking_uri=recorded.uri)
    assert ("(sparse checkout)", "sparse-checkout") in {
        (o.path, o.reason) for o in manifest.code.omitted
    }
    assert recorded.client().get_run(run_id).data.tags["repro.status"] == "incomplete"
    done = recorded.main("reproduce", run_id, "--env-manager", "local")
    assert done.returncode == 2 and "made in a sparse checkout" in done.stderr, done.stderr


NEEDS_A_VARIABLE = """\
import os
import mlflow

if "PLANTED_SETTING" not in os.environ:
    raise KeyError("PLANTED_SETTING is not set")
with mlflow.start_run() as run:
    mlflow.log_param("setting", "on")
    print("RUN_ID=" + run.info.run_id)
"""


def test_a_rerun_that_fails_before_its_run_names_its_own_error(
    recorded: Recorded, tmp_path: Path
) -> None:
    """The re-run's own error (its traceback's last line), not a guess about the install."""
    root = committed_project(tmp_path / "needs-variable", {"train.py": NEEDS_A_VARIABLE})
    run_id = script_run(root, recorded.uri, PLANTED_SETTING="1")  # not an allowlisted variable
    done = recorded.cli("reproduce", run_id, "--env-manager", "local")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "failed before it started run 1 of its process" in done.stderr, done.stderr
    assert "KeyError: 'PLANTED_SETTING is not set'" in done.stderr
    assert "is mlflow-repro installed" not in done.stderr
