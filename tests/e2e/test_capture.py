"""Capture end to end: plain scripts and `mlflow run`, embedded sqlite and a real server."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from mlflow_repro.capture.platform import ENV_ALLOWLIST
from mlflow_repro.manifest import Manifest
from tests.conftest import Repo, run, venv_env
from tests.e2e.conftest import Trained

pytestmark = pytest.mark.e2e

SCRIPT = """\
import sys
import mlflow
with mlflow.start_run() as run:
    mlflow.log_metric("m", 1.0)
    print("RUN_ID=" + run.info.run_id)
"""


def run_id_from(stdout: str) -> str:
    return next(line[7:] for line in stdout.splitlines() if line.startswith("RUN_ID="))


def fetch_manifest(uri: str, run_id: str, dest: Path) -> tuple[Manifest, dict[str, str], Path]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    local = Path(client.download_artifacts(run_id, "repro", str(dest)))
    manifest = Manifest.from_json((local / "manifest.json").read_text())
    return manifest, client.get_run(run_id).data.tags, local.parent


def assert_payloads_match(manifest: Manifest, artifacts: Path) -> None:
    """Every payload the manifest names was logged, with exactly the recorded bytes."""
    payloads = manifest.payloads()
    assert payloads, "a manifest always carries at least the requirements"
    for payload in payloads:
        data = (artifacts / payload.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == payload.sha256, payload.path
        assert len(data) == payload.size, payload.path
    logged = {
        p.relative_to(artifacts).as_posix() for p in (artifacts / "repro").rglob("*") if p.is_file()
    }
    assert logged == {p.path for p in payloads} | {"repro/manifest.json"}


def assert_tags_mirror(manifest: Manifest, tags: dict[str, str]) -> None:
    expected = manifest.tags()
    assert {k: tags[k] for k in expected} == expected


def with_local_changes(repo: Repo) -> Repo:
    """A small user project: a committed script, then a local edit and a new untracked file."""
    repo.write("train.py", SCRIPT)
    repo.commit("script")
    repo.write("train.py", SCRIPT + "# tuned locally\n")
    repo.write("extra/notes.txt", "untracked notes\n")
    return repo


@pytest.fixture
def project(repo: Repo) -> Repo:
    return with_local_changes(repo)


def check_plain_script_run(project: Repo, uri: str, dest: Path) -> None:
    """A plain script run with a local edit and an untracked file gets a complete manifest
    (also against the team server: tests/e2e/test_server.py)."""
    done = run(
        [sys.executable, "train.py", "--lr", "0.1"],
        cwd=project.root,
        env=venv_env(MLFLOW_TRACKING_URI=uri),
    )
    manifest, tags, artifacts = fetch_manifest(uri, run_id_from(done.stdout), dest)

    assert manifest.errors == []
    assert manifest.code.commit == project.git("rev-parse", "HEAD")
    assert manifest.code.dirty is True and manifest.code.complete is True
    assert [u.path for u in manifest.code.untracked] == ["extra/notes.txt"]
    assert manifest.launch.launcher == "python"
    assert manifest.launch.argv == ["train.py", "--lr", "0.1"]
    assert manifest.launch.workdir == "."
    assert manifest.environment.lock_source == "installed-distributions"
    assert manifest.data.dvc_root is None
    assert manifest.platform.cpu_count and manifest.platform.system
    assert_payloads_match(manifest, artifacts)
    assert b"# tuned locally" in (artifacts / "repro/git.diff").read_bytes()
    assert_tags_mirror(manifest, tags)


def test_plain_script_run_gets_a_complete_manifest(project: Repo, tmp_path: Path) -> None:
    check_plain_script_run(project, f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "dl")


def check_template_run(uri: str, run_id: str, dest: Path) -> None:
    """An `mlflow run` of the template (local env manager) got a complete manifest (also
    against the team server: tests/e2e/test_server.py)."""
    from mlflow.tracking import MlflowClient

    run_ = MlflowClient(tracking_uri=uri).get_run(run_id)
    manifest, tags, artifacts = fetch_manifest(uri, run_id, dest)

    assert manifest.errors == []
    assert manifest.launch.launcher == "mlflow run" and manifest.launch.entry_point == "main"
    # The launch as MLflow made it, recorded for replay: the declared parameters as launched.
    assert manifest.launch.parameters == {"conf_file": "confs/training.yaml"}
    assert manifest.launch.env_manager == "local" and manifest.launch.backend == "local"
    assert manifest.code.commit == run_.data.tags["mlflow.source.git.commit"]
    assert manifest.environment.lock_source == "uv.lock"
    assert manifest.environment.lock_strength == "hashes"
    assert any(
        f.path == "data/breast_cancer.csv" and f.workspace == "same-size"
        for f in manifest.data.files
    )
    assert_payloads_match(manifest, artifacts)  # repro/pylock.toml among them, by its sha256
    assert_tags_mirror(manifest, tags)
    check_pylock(manifest, artifacts)


def check_pylock(manifest: Manifest, artifacts: Path) -> None:
    """A uv run's repro/pylock.toml: listed with its sha256, a PEP 751 lock that parses, of the
    same packages, versions and files as its repro/requirements.lock.txt."""
    import tomllib

    from mlflow_repro.inspect.packages import parse_pylock, parse_requirements

    env = manifest.environment
    assert env.pylock is not None and env.requirements is not None
    assert env.pylock.path == "repro/pylock.toml" and len(env.pylock.sha256) == 64
    data = (artifacts / env.pylock.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == env.pylock.sha256
    lock = tomllib.loads(data.decode())
    assert lock["lock-version"] == "1.0" and len(lock["packages"]) == env.requirement_count
    requirements = (artifacts / env.requirements.path).read_text()
    assert parse_pylock(data.decode()) == parse_requirements(requirements)


def test_mlflow_run_of_the_template_gets_a_complete_manifest(
    trained: Trained, tmp_path: Path
) -> None:
    check_template_run(trained.uri, trained.local_run, tmp_path / "dl")  # the shared original


def test_disabled_by_environment_variable(project: Repo, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run(
        [sys.executable, "train.py"],
        cwd=project.root,
        env=venv_env(MLFLOW_TRACKING_URI=uri, MLFLOW_REPRO_DISABLE="1"),
    )
    client = MlflowClient(tracking_uri=uri)
    run_id = run_id_from(done.stdout)
    assert not [k for k in client.get_run(run_id).data.tags if k.startswith("repro.")]
    assert client.list_artifacts(run_id, "repro") == []


def test_failing_collectors_become_capture_errors_and_the_run_finishes(
    project: Repo, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    (project.root / ".dvc").mkdir()
    project.write("dvc.lock", "stages: [this is not yaml\n")
    project.write("uv.lock", "this is not a lock file\n")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = run(
        [sys.executable, "train.py"], cwd=project.root, env=venv_env(MLFLOW_TRACKING_URI=uri)
    )
    run_ = MlflowClient(tracking_uri=uri).get_run(run_id_from(done.stdout))
    assert run_.info.status == "FINISHED"
    errors = run_.data.tags["repro.capture.errors"]
    assert "dvc.lock" in errors and "uv export" in errors
    assert run_.data.tags["repro.env.lock"] == "installed-distributions"
    assert run_.data.tags["repro.status"] == "incomplete"


def test_a_broken_plugin_does_not_break_import_mlflow_or_the_run(tmp_path: Path) -> None:
    # The resumed-run path with a run id that does not exist, and the plugin imported before
    # mlflow (a circular import if the plugin imported mlflow itself).
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = (
        "import mlflow_repro.plugin, mlflow\n"
        "from mlflow.tracking.context.registry import _run_context_provider_registry as r\n"
        "assert 'ReproRunContext' in [type(p).__name__ for p in r]\n"
        "print('imported')\n"
    )
    done = run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=uri, MLFLOW_RUN_ID="0" * 32),
    )
    assert "imported" in done.stdout
    assert "capture for run 00000000000000000000000000000000 failed" in done.stderr


def test_no_secret_reaches_the_tracking_store_or_artifacts(repo: Repo, tmp_path: Path) -> None:
    secrets = {
        "env": "sk-live-ENVVALUE0123456789abcdef",
        "url": "ghp_URLTOKEN0123456789abcdefghijklmnop",
        "dotenv": "DOTENVVALUE-never-upload-me",
        "diff": "AKIAQWERTYUIOPASDFGH",
        "argv": "ARGVSECRET-0123456789",
    }
    repo.git("remote", "add", "origin", f"https://user:{secrets['url']}@git.example.com/t/p.git")
    repo.write("train.py", SCRIPT)
    repo.commit("script")
    repo.write(".env", f"SERVICE_TOKEN={secrets['dotenv']}\n")
    repo.write("train.py", SCRIPT + f"aws_key = '{secrets['diff']}'\n")
    workdir = tmp_path / "store"
    workdir.mkdir()
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    done = run(
        [sys.executable, str(repo.root / "train.py"), "--api-token", secrets["argv"]],
        cwd=workdir,
        env={
            # the machine's own allowlisted settings (OPENBLAS_CORETYPE on some CI hosts) out
            **{k: v for k, v in venv_env().items() if k not in ENV_ALLOWLIST},
            "MLFLOW_TRACKING_URI": uri,
            "MY_SERVICE_API_KEY": secrets["env"],
            "OMP_NUM_THREADS": "1",
        },
    )
    manifest, _, _ = fetch_manifest(uri, run_id_from(done.stdout), tmp_path / "dl")
    assert manifest.platform.env == {"OMP_NUM_THREADS": "1"}
    assert {o.path: o.reason for o in manifest.code.omitted} == {
        ".env": "secret-name",
        "diff:train.py": "secret-content",
    }
    assert manifest.code.remote_url == "https://git.example.com/t/p.git"

    files = [p for p in workdir.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in files)
    everything = b"".join(p.read_bytes() for p in files)
    for where, secret in secrets.items():
        assert secret.encode() not in everything, f"the {where} secret leaked"


def test_mlflow_run_of_a_project_that_never_imports_mlflow_repro(
    repo: Repo, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    repo.write("train.py", SCRIPT)
    repo.write(
        "MLproject",
        "name: other\nentry_points:\n  fit:\n    parameters:\n"
        "      alpha: {type: float, default: 0.5}\n"
        "    command: 'python train.py --alpha {alpha}'\n",
    )
    repo.commit("a project that only has mlflow-repro installed")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run(
        [
            sys.executable,
            "-m",
            "mlflow",
            "run",
            "-e",
            "fit",
            "-P",
            "alpha=0.25",
            "--env-manager",
            "local",
            ".",
        ],
        cwd=repo.root,
        env=venv_env(MLFLOW_TRACKING_URI=uri),
    )
    [run_] = MlflowClient(tracking_uri=uri).search_runs(["0"])
    manifest, tags, artifacts = fetch_manifest(uri, run_.info.run_id, tmp_path / "dl")
    assert manifest.launch.launcher == "mlflow run" and manifest.launch.entry_point == "fit"
    assert manifest.launch.argv == ["train.py", "--alpha", "0.25"]
    assert manifest.code.commit == repo.git("rev-parse", "HEAD") and manifest.code.dirty is False
    assert_payloads_match(manifest, artifacts)
    assert_tags_mirror(manifest, tags)
