"""Planted credentials never reach the tracking store, the artifacts or the console.

A real git repository gets made-up credentials of 27 kinds (tests/capture/test_secrets.py) in
ten places: environment variables, the command line (both value forms and a URL), the git
remote URL, the container image name, a tracked change, untracked files of common formats, files
whose names say "secret", tool config files, the tracking URI, and what mlflow-repro prints.
Then the forms that once slipped through (issue 23): a notebook's cell source and outputs
(tracked and untracked), `pass:`, `-p` and `--pw`, a URL with an empty user or a raw `#` in its
password, a direct-URL source in uv.lock, a base64-encoded private key, a 64-digit hex key in an
f-string, and a token in a file's name. A real run is captured into a sqlite store; then every
byte of the store, every artifact (and its path) and every line printed is searched for every
planted value.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from tests.capture.test_secrets import ALNUM, FAKE_PEM, HEX, TOKENS, _fake
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


# Issue 23: made-up values in the forms that once reached the store.
LATER = {
    "notebook-source": "Zq7v4Lm2Rt9xWp3k",
    "notebook-tracked": "Hd5sK8wQ2nVb7Yc4",
    "notebook-output-key": "Tb4nQ8zW2kLx6RvP9mYc3HdJ7sFg",  # random-looking, no format
    "notebook-output-password": "Xk9#mQ2!zzR4",
    "yaml-pass": "Pv9!cT3wMq7e",
    "argv-p": "Jr6tWq2Lz8Np",
    "argv-pw": "Gc3vBn7Xk5Ds",
    "argv-pw-equals": "Fm8kPq4Ty2Wz",
    "empty-user-url": "Rw2xLc9Vt6Hq",
    "raw-hash-password": "Nb4Ws7Kx3Qm9",  # the part before the `#`
    "lock-url-password": "Lp5Hd8Rz3Vc7",
    "lock-url-query": "Qt7Mx2Wb9Kd4",
    "base64-private-key": base64.b64encode(FAKE_PEM).decode(),
    "hex-f-string": _fake("", HEX[::-1], 64),
    "file-name": _fake("ghp_", ALNUM[::-1], 36),
}


def _notebook(source: str, output: str = "") -> str:
    import json

    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": source.splitlines(keepends=True),
        "outputs": [{"output_type": "stream", "name": "stdout", "text": output}] if output else [],
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4}, indent=1) + "\n"


def _uv_project(v: dict[str, str]) -> tuple[str, str]:
    """pyproject.toml and a uv.lock whose direct-URL sources hold credentials (uv export copies
    them into the requirements it writes)."""
    wheel = (
        f"https://ci:{v['lock-url-password']}@pkgs.example.invalid/private_pkg-1.0-py3-none-any.whl"
    )
    sdist = f"https://pkgs.example.invalid/signed-2.0.tar.gz?token={v['lock-url-query']}"
    pyproject = (
        '[project]\nname = "demo"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["private-pkg", "signed"]\n'
    )
    lock = f"""\
version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [{{ name = "private-pkg" }}, {{ name = "signed" }}]

[package.metadata]
requires-dist = [
    {{ name = "private-pkg", url = "{wheel}" }},
    {{ name = "signed", url = "{sdist}" }},
]

[[package]]
name = "private-pkg"
version = "1.0"
source = {{ url = "{wheel}" }}
wheels = [{{ url = "{wheel}", hash = "sha256:{"ab" * 32}" }}]

[[package]]
name = "signed"
version = "2.0"
source = {{ url = "{sdist}" }}
sdist = {{ hash = "sha256:{"cd" * 32}" }}
"""
    return pyproject, lock


def test_no_planted_credential_reaches_the_store_the_artifacts_or_the_console(
    repo: Repo, tmp_path: Path
) -> None:
    t = {kind: secret(kind) for kind in TOKENS}
    planted = set(t.values())
    assert len(planted) >= 25
    v = LATER
    assert len(set(v.values()) - planted) == len(v) == 15

    repo.write("train.py", SCRIPT)
    repo.write("model.py", "ALPHA = 0.5\n")
    repo.write("explore.ipynb", _notebook("import pandas as pd\n"))
    repo.write("cache.py", 'CACHE = "redis://cache:6379/0"\n')
    pyproject, lock = _uv_project(v)
    repo.write("pyproject.toml", pyproject)
    repo.write("uv.lock", lock)
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
    # Each kind below in a file of its own: only it can have that file withheld.
    repo.write("cache.py", f'CACHE = "redis://:{v["empty-user-url"]}@cache:6379/0"\n')
    # Notebooks: a keyword and literal in a cell (JSON-escaped quotes), a tracked one too, a key
    # printed on a line of its own and a password echoed in an output.
    repo.write("explore.ipynb", _notebook(f'API_TOKEN = "{v["notebook-tracked"]}"\n'))
    repo.write("analysis.ipynb", _notebook(f'MY_TOKEN = "{v["notebook-source"]}"\nrun()\n'))
    repo.write("keys.ipynb", _notebook("print(key)\n", f"key:\n{v['notebook-output-key']}\n"))
    password = f"Your new password is: {v['notebook-output-password']}\n"
    repo.write("reset.ipynb", _notebook("reset()\n", password))
    repo.write("db.yaml", f"db:\n  user: ml\n  pass: {v['yaml-pass']}\n")
    repo.write("deploy/values.yaml", f"tls:\n  key: {v['base64-private-key']}\n")
    repo.write("client.py", f"def connect(key=f\"{{'{v['hex-f-string']}'}}\"):\n    ...\n")
    repo.write(f"notes-{v['file-name']}.txt", "rotate the key in this file's name\n")
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
    argv += ["-p", v["argv-p"], "--pw", v["argv-pw"], f"--pw={v['argv-pw-equals']}"]
    argv += ["--cache", f"http://ml:{v['raw-hash-password']}#x7@cache.example.invalid/0"]
    trained = run(argv, cwd=repo.root, env=env)
    printed = trained.stdout + trained.stderr
    assert "trained with 13 arguments" in trained.stdout

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
    stored += [str(p).encode() for p in (repo.root / "mlruns").rglob("*")]
    # What each new place was screened from was captured (else the search below proves nothing).
    [manifest_file] = [p for p in artifacts if p.name == "manifest.json"]
    recorded = json.loads(manifest_file.read_text())
    omitted = {o["path"]: o["reason"] for o in recorded["code"]["omitted"]}
    for path in (
        "diff:explore.ipynb",
        "diff:cache.py",
        "analysis.ipynb",
        "keys.ipynb",
        "reset.ipynb",
        "db.yaml",
        "deploy/values.yaml",
        "client.py",
    ):
        assert omitted.get(path) == "secret-content", (path, omitted)
    assert sum(p.startswith("<withheld-sha256:") for p in omitted) == 1
    argv_recorded = recorded["launch"]["argv"]
    assert argv_recorded[6:] == [
        "-p",
        "<withheld>",
        "--pw",
        "<withheld>",
        "--pw=<withheld>",
        "--cache",
        "http://cache.example.invalid/0",
    ]
    [requirements] = [p for p in artifacts if p.name == "requirements.lock.txt"]
    assert "private-pkg @ https://pkgs.example.invalid/private_pkg" in requirements.read_text()
    [pylock] = [p for p in artifacts if p.name == "pylock.toml"]  # the same lock, PEP 751
    assert 'url = "https://pkgs.example.invalid/private_pkg' in pylock.read_text()
    leaks = sorted(
        kind
        for kind, value in [*t.items(), *v.items()]
        if any(value.encode() in blob for blob in stored) or value in printed
    )
    assert leaks == []
