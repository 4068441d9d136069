"""Planted credentials never reach the tracking store, the artifacts or the console.

A real git repository gets made-up credentials of 27 kinds (tests/capture/test_secrets.py) in
ten places: environment variables, the command line (both value forms and a URL), the git
remote URL, the container image name, a tracked change, untracked files of common formats, files
whose names say "secret", tool config files, the tracking URI, and what mlflow-repro prints. A
real run is captured into a sqlite store; then every byte of the store, every artifact and every
line printed is searched for every planted value.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.capture.test_secrets import TOKENS
from tests.conftest import Repo, run, venv_env

pytestmark = pytest.mark.e2e

SCRIPT = """\
import sys
import mlflow

mlflow.set_experiment("planted")
with mlflow.start_run():
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("score", 1.0)
print("trained with", len(sys.argv), "arguments")
"""


CONTEXT = {  # kinds planted with text around the credential: the credential part alone
    "aws-secret-access-key": lambda v: v.split(" = ", 1)[1],
    "azure-storage": lambda v: v.split("AccountKey=", 1)[1].rstrip("="),
    "url-with-password": lambda v: v.split("ml:", 1)[1].split("@", 1)[0],
    "private-key-block": lambda v: v.splitlines()[1].rstrip("="),
    "slack-webhook": lambda v: v.rsplit("/", 1)[1],
    "discord-webhook": lambda v: v.rsplit("/", 1)[1],
}


def secret(kind: str) -> str:
    """The credential part of a planted value (what must not appear anywhere)."""
    return CONTEXT.get(kind, lambda v: v)(TOKENS[kind])


def test_no_planted_credential_reaches_the_store_the_artifacts_or_the_console(
    repo: Repo, tmp_path: Path
) -> None:
    t = {kind: secret(kind) for kind in TOKENS}
    planted = set(t.values())
    assert len(planted) >= 25

    repo.write("train.py", SCRIPT)
    repo.write("model.py", "ALPHA = 0.5\n")
    repo.commit("project")
    repo.git(
        "remote", "add", "origin", f"https://ci:{t['github-classic']}@git.example.invalid/r.git"
    )

    # A tracked change holding keys with no keyword near them.
    repo.write(
        "model.py",
        f'ALPHA = 0.5\nENDPOINTS = ["{TOKENS["slack-webhook"]}", "{t["google-api-key"]}"]\n'
        f'HEADERS = {{"Authorization": "Bearer {t["openai"]}"}}\n',
    )
    # Untracked files of common formats, and files whose names or formats hold secrets.
    repo.write("config.yaml", f"service:\n  api_key: {t['stripe-live']}\n  jwt: {t['jwt']}\n")
    repo.write("settings.json", f'{{"upload": "{t["pypi"]}", "npm": "{t["npm"]}"}}\n')
    repo.write("notes.txt", f"keys to rotate: {t['aws-access-key-id']} {t['gitlab']}\n")
    repo.write("conf/app.ini", f"[db]\nurl = {TOKENS['url-with-password']}\n")
    repo.write("deploy.toml", f'token = "{t["digitalocean"]}"\nsas = "{t["azure-storage"]}"\n')
    repo.write("data/users.csv", f"id,key\n1,{t['sendgrid']}\n2,{t['databricks']}\n")
    repo.write(".env", f"HF_TOKEN={t['hugging-face']}\n")
    repo.write("id_ed25519", TOKENS["private-key-block"])
    repo.write(".npmrc", f"//registry.npmjs.org/:_authToken={t['shopify']}\n")
    repo.write(".netrc", f"machine api.example.invalid login bot password {t['stripe-webhook']}\n")
    repo.write("secrets.yaml", f"slack: {t['slack-bot']}\n")
    repo.write("aws.cfg", f"[default]\n{TOKENS['aws-secret-access-key']}\n")

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = venv_env(
        MLFLOW_TRACKING_URI=uri,
        MY_SERVICE_KEY=t["anthropic"],  # not on the allowlist of recorded variables
        GOOGLE_OAUTH=t["google-oauth"],
        DISCORD_HOOK=TOKENS["discord-webhook"],
        MLFLOW_REPRO_IMAGE=f"bot:{t['github-fine-grained']}@registry.example.invalid/train:1",
    )
    argv = [sys.executable, "train.py", "--api-key", t["aws-temporary-key-id"]]
    argv += [f"--token={t['stripe-restricted']}", "--db", TOKENS["url-with-password"]]
    trained = run(argv, cwd=repo.root, env=env)
    printed = trained.stdout + trained.stderr
    assert "trained with 6 arguments" in trained.stdout

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    [made] = client.search_runs([client.get_experiment_by_name("planted").experiment_id])
    run_id = made.info.run_id
    audit = run(
        [sys.executable, "-m", "mlflow_repro", "audit", run_id],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=uri),
        check=False,
    )
    printed += audit.stdout + audit.stderr
    assert "audit of run" in audit.stdout
    # A tracking URI with a password, as a user might set it: every message shows it without.
    # (mysql: no driver installed, so it fails at once; an unreachable postgresql:// URI, now
    # that psycopg is in the dev group, makes MLflow retry the engine for about 100 s.)
    store = f"mysql://ml:{t['discord-webhook']}@127.0.0.1:9/mlflow"
    unreachable = run(
        [sys.executable, "-m", "mlflow_repro", "audit", run_id],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=store),
        check=False,
        timeout=120,
    )
    assert unreachable.returncode == 2
    assert "the tracking store could not be opened" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
    printed += unreachable.stdout + unreachable.stderr

    manifest = client.get_run(run_id)
    assert manifest.data.tags["repro.git.dirty"] == "true"  # the run was captured
    stored = [(tmp_path / "mlflow.db").read_bytes()]
    artifacts = [p for p in (repo.root / "mlruns").rglob("*") if p.is_file()]
    assert any(p.name == "manifest.json" for p in artifacts)
    stored += [p.read_bytes() for p in artifacts]
    leaks = sorted(
        kind
        for kind, value in t.items()
        if any(value.encode() in blob for blob in stored) or value in printed
    )
    assert leaks == []
