"""Inspect on real runs: audit item by item, diff naming the one thing that changed, parity.

Audits read the session's trained template runs (real git, uv, DVC and mlflow) and copies of
them whose manifest or payloads were changed one thing at a time. The diff pairs are real
script runs in a small git + DVC + uv project that differ in exactly one input each.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.inspect.audit import audit
from mlflow_repro.inspect.diff import diff_runs
from mlflow_repro.inspect.parity import parity
from mlflow_repro.manifest import load_manifest
from mlflow_repro.signing import KEY_VAR, generate
from tests.conftest import Repo, run, venv_env
from tests.e2e.conftest import Trained, copy_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def team_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    private, _ = generate(tmp_path_factory.mktemp("keys") / "team.key")
    return private


def statuses(trained: Trained, run_id: str) -> dict[str, str]:
    report = audit(run_id, tracking_uri=trained.uri)
    assert report.run_id == run_id
    return {item.name: item.status for item in report.items}


def unchanged(manifest: dict[str, Any]) -> None:
    return None


def lost_commit(trained: Trained, tmp: Path) -> Callable[[dict[str, Any]], None]:
    """A commit made in a clone that never pushed it, and that clone deleted since."""
    scratch = tmp / "scratch-clone"
    run(["git", "clone", "--quiet", str(trained.root), str(scratch)], cwd=tmp)
    (scratch / "extra.txt").write_text("never pushed\n")
    run(["git", "add", "extra.txt"], cwd=scratch)
    run(["git", "commit", "-qm", "local only"], cwd=scratch)
    commit = run(["git", "rev-parse", "HEAD"], cwd=scratch).stdout.strip()
    shutil.rmtree(scratch)

    def change(manifest: dict[str, Any]) -> None:
        manifest["code"].update(commit=commit, repo_root=str(scratch), pushed=False)

    return change


def test_one_missing_thing_turns_exactly_its_line(
    trained: Trained, team_key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, str(team_key))
    source = trained.local_run
    baseline = statuses(trained, copy_run(trained, source, unchanged, sign=True))
    for name in ("manifest", "integrity", "signature", "commit", "code", "seeds", "command"):
        assert baseline[name] == "ok", (name, baseline)
    assert baseline["environment"] in ("ok", "weak")  # weak: frameworks pip-installed beside
    assert baseline["data:data/breast_cancer.csv"] == "ok"

    def no_seed(m: dict[str, Any]) -> None:
        m["seeds"].update(seed=None, source="none", state=None, seeded=[])

    def diff_withheld(m: dict[str, Any]) -> None:
        m["code"].update(dirty=True, complete=False)
        m["code"]["omitted"] = [{"path": "keys.env", "reason": "secret-content", "size": 120}]

    def no_lock(m: dict[str, Any]) -> None:
        m["environment"].update(lock_source="none", lock_strength="none", requirements=None)

    def data_gone(m: dict[str, Any]) -> None:
        for entry in m["data"]["files"]:
            if entry["path"] == "data/breast_cancer.csv":
                entry["md5"] = "0123456789abcdef0123456789abcdef"

    def edit_payload(folder: Path) -> None:
        lock = folder / "requirements.lock.txt"
        lock.write_text(lock.read_text().replace("numpy==", "numpy==0.", 1))

    def break_signature(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["captured_at"] = "2020-01-01T00:00:00+00:00"
        (folder / "manifest.json").write_text(json.dumps(manifest))

    cases: list[tuple[str, str, Callable[[dict[str, Any]], None], Any]] = [
        ("seeds", "missing", no_seed, None),
        ("code", "missing", diff_withheld, None),
        ("environment", "missing", no_lock, None),
        ("data:data/breast_cancer.csv", "missing", data_gone, None),
        ("commit", "missing", lost_commit(trained, tmp_path), None),
        ("integrity", "missing", unchanged, edit_payload),
        ("signature", "missing", unchanged, break_signature),
    ]
    for expected_item, expected_status, change, after in cases:
        copied = copy_run(trained, source, change, sign=True, after=after)
        found = statuses(trained, copied)
        changed = {k for k in set(found) | set(baseline) if found.get(k) != baseline.get(k)}
        assert changed == {expected_item}, (expected_item, found, baseline)
        assert found[expected_item] == expected_status

    # Without a key configured, the same signed record is signed but unverified; an unsigned
    # one is named unsigned.
    monkeypatch.delenv(KEY_VAR)
    assert statuses(trained, copy_run(trained, source, unchanged))["signature"] == "weak"


def test_audit_of_a_model_version_resolves_to_its_source_run(trained: Trained) -> None:
    client = trained.client()
    [version] = [
        v
        for v in client.search_model_versions("name='mlflow-repro-classifier'")
        if v.run_id == trained.local_run
    ]
    cmd = [sys.executable, "-m", "mlflow_repro", "audit"]
    done = run(
        [*cmd, f"models:/mlflow-repro-classifier/{version.version}", "--json"],
        cwd=trained.root,
        env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "mlflow-repro.audit/1"
    assert report["run_id"] == trained.local_run
    assert report["model_version"] == f"mlflow-repro-classifier/{version.version}"
    items = {i["name"]: i for i in report["items"]}
    assert items["registry"]["status"] == "ok"
    assert f"comes from run {trained.local_run}" in items["registry"]["reason"]
    assert items["model"]["status"] == "ok"  # files re-hashed now, equal to model.digest
    assert done.returncode == (1 if report["verdict"] == "not rebuildable" else 0)

    text = run(
        [*cmd, "models:/mlflow-repro-classifier/999"],
        cwd=trained.root,
        env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        check=False,
    )
    assert text.returncode == 2
    assert "models:/mlflow-repro-classifier/999" in text.stderr
    assert "has no such version" in text.stderr


def test_parity_names_the_one_package_that_differs(trained: Trained, tmp_path: Path) -> None:
    client = trained.client()
    lock = Path(
        client.download_artifacts(trained.local_run, "repro/requirements.lock.txt", str(tmp_path))
    ).read_text()
    # What training had: the lock, and what was installed beside it (the frameworks, dev tools).
    beside = load_manifest(trained.local_run, tracking_uri=trained.uri).environment.unlocked
    lock += "".join(f"{name}=={version}\n" for name, version in beside.items())
    same = tmp_path / "serving-same.txt"
    same.write_text(lock)
    report = parity(trained.local_run, against=same, tracking_uri=trained.uri)
    assert report.verdict == "match", [i for i in report.mismatches]

    pinned = next(line for line in lock.splitlines() if line.startswith("scikit-learn=="))
    version = pinned.split("==")[1].split()[0]
    changed = tmp_path / "serving.txt"
    changed.write_text(lock.replace(f"scikit-learn=={version}", "scikit-learn==1.0.0"))
    report = parity(trained.local_run, against=changed, tracking_uri=trained.uri)
    assert [(i.name, i.status) for i in report.mismatches] == [("scikit-learn", "version-differs")]

    done = run(
        [
            sys.executable,
            "-m",
            "mlflow_repro",
            "parity",
            trained.local_run,
            "--against",
            str(changed),
        ],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        check=False,
    )
    assert done.returncode == 1
    assert f"scikit-learn: training {version}, serving 1.0.0" in done.stdout
    assert "verdict: mismatch" in done.stdout

    # The interpreter that trained it (the test environment) matches package by package.
    here = parity(trained.local_run, python=sys.executable, tracking_uri=trained.uri)
    assert not [i for i in here.mismatches if i.name != "python"], here.mismatches


def test_parity_against_the_runs_own_pylock_toml_matches_and_names_a_change(
    trained: Trained, tmp_path: Path
) -> None:
    """The serving side as a PEP 751 lock: the run's own repro/pylock.toml matches; a package
    version edited in it, or one file's sha256, is named."""
    client = trained.client()
    text = Path(
        client.download_artifacts(trained.local_run, "repro/pylock.toml", str(tmp_path))
    ).read_text()
    own = tmp_path / "pylock.toml"  # downloaded under its own name: read as a pylock by name
    report = parity(trained.local_run, against=own, tracking_uri=trained.uri)
    assert report.verdict == "match", report.mismatches
    assert report.against == f"pylock.toml {own}"
    status = {i.name: i.status for i in report.items}
    assert status["scikit-learn"] == status["mlflow"] == "match"
    assert status["python"] == "unchecked"  # a lock names a range (requires-python)
    checked = [i for i in report.items if i.detail == "version and hash"]
    assert len(checked) > 50  # compared file by file, not by version alone

    start = text.index('[[packages]]\nname = "scikit-learn"\n')
    entry = text[start : text.index("\n\n", start)]
    version = entry.split('version = "', 1)[1].split('"', 1)[0]
    older = tmp_path / "serving.lock"  # another name: known by its content (lock-version)
    older.write_text(
        text.replace(entry, entry.replace(f'version = "{version}"', 'version = "1.0.0"'))
    )
    report = parity(trained.local_run, against=older, tracking_uri=trained.uri)
    assert [(i.name, i.status, i.training, i.serving) for i in report.mismatches] == [
        ("scikit-learn", "version-differs", version, "1.0.0")
    ]

    digest = entry.split('sha256 = "', 1)[1].split('"', 1)[0]
    rebuilt = tmp_path / "pylock.serving.toml"
    rebuilt.write_text(text.replace(entry, entry.replace(digest, "0" * 64, 1)))
    cmd = [sys.executable, "-m", "mlflow_repro", "parity", trained.local_run, "--against"]
    done = run(
        [*cmd, str(rebuilt)],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith(f"parity of run {trained.local_run} with pylock.toml {rebuilt}")
    assert (
        f"hash-differs    scikit-learn: training {version}, serving {version} (same version; "
        "the serving lock names 1 file(s) the run's lock does not: sha256 000000000000...)"
    ) in done.stdout
    assert "verdict: mismatch" in done.stdout


def test_parity_against_a_two_line_serving_file_reads_what_the_model_needs(
    trained: Trained, tmp_path: Path
) -> None:
    """A serving requirements file pins the model's own libraries, not the training tools: the
    logged model's MLmodel and requirements.txt say what it needs, the rest is summed up."""
    from mlflow_repro.inspect.packages import parse_requirements

    client = trained.client()
    lock = parse_requirements(
        Path(
            client.download_artifacts(
                trained.local_run, "repro/requirements.lock.txt", str(tmp_path)
            )
        ).read_text()
    )
    mlflow_version, sklearn = lock["mlflow"].version, lock["scikit-learn"].version
    two = tmp_path / "requirements.txt"
    two.write_text(f"mlflow=={mlflow_version}\nscikit-learn=={sklearn}\n")
    cmd = [sys.executable, "-m", "mlflow_repro", "parity", trained.local_run[:8], "--against"]
    env = venv_env(MLFLOW_TRACKING_URI=trained.uri)
    done = run([*cmd, str(two)], cwd=tmp_path, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("verdict: match"), done.stdout
    assert (
        f"its own libraries (MLmodel): mlflow {mlflow_version}, scikit-learn {sklearn}"
        in (lines[1])
    )
    assert not [line for line in lines if line.split()[:1] == ["missing"]], done.stdout
    assert len(lines) <= 7, done.stdout  # header, model, python, two summaries, verdict
    assert [line.split()[0] for line in lines if "(--all lists them)" in line] in (
        ["unpinned", "training-only"],
        ["unpinned"],
    ), done.stdout

    other = tmp_path / "other.txt"
    other.write_text(f"mlflow=={mlflow_version}\nscikit-learn==1.0.0\n")
    done = run([*cmd, str(other)], cwd=tmp_path, env=env, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"version-differs scikit-learn: training {sklearn}, serving 1.0.0" in done.stdout
    report = parity(trained.local_run, against=other, tracking_uri=trained.uri)
    assert [(i.name, i.status) for i in report.mismatches] == [("scikit-learn", "version-differs")]
    data = report.to_dict()
    assert "scikit-learn" in data["model"] and data["counts"]["unpinned"] > 0
    # Through the registry: the version's own logged model is read.
    [version] = [
        v
        for v in client.search_model_versions("name='mlflow-repro-classifier'")
        if v.run_id == trained.local_run
    ]
    registered = parity(
        f"models:/mlflow-repro-classifier/{version.version}", against=two, tracking_uri=trained.uri
    )
    assert registered.verdict == "match", registered.mismatches
    assert registered.model.startswith(f"model 'model' ({version.source.removeprefix('models:/')})")


def test_diff_of_runs_with_equal_metrics_finds_no_cause_and_lists_the_environment_manager(
    trained: Trained, tmp_path: Path
) -> None:
    """The template run under uv and under local: the same metrics, another environment
    manager (the issue's "likely cause: seeds", a cause of nothing)."""
    done = run(
        [sys.executable, "-m", "mlflow_repro", "diff", trained.uv_run, trained.local_run],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=trained.uri),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "likely cause" not in done.stdout, done.stdout
    assert "no cause to find: the metrics are equal;" in done.stdout, done.stdout
    assert "    environment manager: uv -> local" in done.stdout
    assert "metrics: equal" in done.stdout
    result = diff_runs(trained.uv_run[:8], trained.local_run[:10], tracking_uri=trained.uri)
    assert (result.run_a, result.run_b) == (trained.uv_run, trained.local_run)
    assert result.likely_cause is None and result.metrics == []
    data = result.to_dict()
    assert data["metrics_equal"] is True and data["likely_cause"] is None
    assert {"group": "environment", "name": "environment manager", "a": "uv", "b": "local"} in [
        {k: d[k] for k in ("group", "name", "a", "b")} for d in data["differences"]
    ]


TRAIN = """\
import os
import sys

import numpy as np
import mlflow

np.random.seed(int(os.environ.get("SEED", "1")))
alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
rows = open("data/table.csv").read().splitlines()
mlflow.set_experiment("pairs")
with mlflow.start_run():
    mlflow.log_param("alpha", alpha)
    mlflow.log_metric("score", float(np.random.rand()) * alpha + len(rows))
"""
PYPROJECT = """\
[project]
name = "pairs"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["six==1.17.0"]
"""


class Pairs:
    """A small project (git, DVC, uv.lock) and runs of it that each differ from `base` in one
    input."""

    def __init__(self, root: Path, uri: str) -> None:
        self.root, self.uri = root, uri
        self.repo = Repo(root)

    def dvc(self, *args: str) -> None:
        run([sys.executable, "-m", "dvc", *args], cwd=self.root)

    def train(self, *argv: str, **env: str) -> str:

        values = {"SEED": "1", "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": self.uri, **env}
        run([sys.executable, "train.py", *argv], cwd=self.root, env=venv_env(**values))
        return self.latest()

    def latest(self) -> str:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.uri)
        experiment = client.get_experiment_by_name("pairs").experiment_id
        [latest] = client.search_runs([experiment], order_by=["start_time DESC"], max_results=1)
        return str(latest.info.run_id)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base_dir = tmp_path_factory.mktemp("pairs")
    root = base_dir / "project"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        config = base_dir / "gitconfig"
        config.write_text("[user]\n\tname = Repro Tests\n\temail = tests@example.invalid\n")
        mp.setenv("GIT_CONFIG_GLOBAL", str(config))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        p = Pairs(root, f"sqlite:///{base_dir / 'mlflow.db'}")
        p.repo.git("init", "-q")
        p.repo.write("train.py", TRAIN)
        p.repo.write("pyproject.toml", PYPROJECT)
        p.repo.write(".gitignore", "mlruns/\n")
        p.repo.write("data/table.csv", "x\n1\n2\n")
        run(["uv", "lock", "--quiet"], cwd=root, env=venv_env(UV_PYTHON=sys.executable))
        p.dvc("init", "--quiet")
        p.dvc("add", "--quiet", "data/table.csv")
        p.repo.commit("pairs project")
        runs = {"base": p.train()}
        runs["seed"] = p.train(SEED="2")
        runs["threads"] = p.train(OMP_NUM_THREADS="2")
        runs["parameter"] = p.train("0.7")

        p.repo.write("train.py", TRAIN.replace("* alpha +", "* alpha * 2 +"))
        runs["code"] = p.train()
        p.repo.git("checkout", "--", "train.py")

        p.repo.write("data/table.csv", "x\n1\n2\n3\n")
        p.dvc("add", "--quiet", "data/table.csv")
        runs["data"] = p.train()
        p.repo.git("checkout", "--", "data/table.csv.dvc")
        p.dvc("checkout", "--quiet", "--force", "data/table.csv")

        p.repo.write("pyproject.toml", PYPROJECT.replace("six==1.17.0", "six==1.16.0"))
        run(["uv", "lock", "--quiet"], cwd=root, env=venv_env(UV_PYTHON=sys.executable))
        runs["package"] = p.train()

        # Outside any git repository: nothing to rebuild the code from.
        loose = base_dir / "loose"
        loose.mkdir()
        (loose / "data").mkdir()
        (loose / "data" / "table.csv").write_text("x\n1\n")
        (loose / "train.py").write_text(TRAIN)
        run([sys.executable, "train.py"], cwd=loose, env=venv_env(MLFLOW_TRACKING_URI=p.uri))
        runs["loose"] = p.latest()
        runs["uri"] = p.uri
    return runs


@pytest.mark.parametrize(
    ("variant", "group", "name"),
    [
        ("seed", "seeds", "seeding calls"),
        ("threads", "settings", "OMP_NUM_THREADS"),
        ("parameter", "parameters", "param alpha"),
        ("code", "code", "train.py"),
        ("data", "data", "data/table.csv"),
        ("package", "environment", "six"),
    ],
)
def test_diff_names_the_one_thing_that_changed_first(
    pairs: dict[str, str], variant: str, group: str, name: str
) -> None:
    result = diff_runs(pairs["base"], pairs[variant], tracking_uri=pairs["uri"])
    assert result.differences, result
    cause = result.differences[0]
    assert (cause.group, cause.name) == (group, name), result.differences[:4]
    # The score follows the seed, alpha, the code and the rows; not the thread count or six:
    # with the metrics equal, the one difference is listed first but is the cause of nothing.
    changes_score = variant in ("seed", "parameter", "code", "data")
    assert [m.name for m in result.metrics] == (["score"] if changes_score else [])
    assert result.likely_cause == (cause if changes_score else None)
    if variant == "code":
        assert '+    mlflow.log_metric("score", float(np.random.rand()) * alpha * 2' in cause.detail
    if variant == "package":
        assert (cause.a, cause.b) == ("1.17.0", "1.16.0")


def test_diff_of_a_run_with_itself_finds_nothing_and_writes_html(
    pairs: dict[str, str], tmp_path: Path
) -> None:
    same = diff_runs(pairs["base"], pairs["base"], tracking_uri=pairs["uri"])
    assert same.differences == [] and same.metrics == []
    page = tmp_path / "diff.html"
    cmd = [sys.executable, "-m", "mlflow_repro", "diff", pairs["base"], pairs["code"]]
    done = run(
        [*cmd, "--html", str(page), "--json"],
        cwd=tmp_path,
        env=venv_env(MLFLOW_TRACKING_URI=pairs["uri"]),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == "mlflow-repro.diff/1" and not data["same"]
    assert data["differences"][0]["name"] == "train.py"
    html = page.read_text()
    assert "Likely cause: <b>code: train.py</b>" in html
    assert "<script" not in html and "http" not in html.split("<body>")[1].split("mlflow-repro")[0]
    assert os.path.getsize(page) < 200_000


def search(uri: str, query: str) -> set[str]:
    """The documented filters, as a user types them (README: Find runs)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("pairs").experiment_id
    return {r.info.run_id for r in client.search_runs([experiment], filter_string=query)}


def test_the_documented_search_filters_find_what_they_say(
    pairs: dict[str, str], trained: Trained
) -> None:
    uri = pairs["uri"]
    variants = {k: v for k, v in pairs.items() if k != "uri"}
    dirty = search(uri, "tags.\"repro.git.dirty\" = 'true'")
    assert dirty == {variants["code"], variants["data"], variants["package"]}
    assert search(uri, "tags.\"repro.env.drift\" != '0'") == {variants["package"]}
    assert search(uri, "tags.\"repro.status\" = 'incomplete'") == {variants["loose"]}
    unlocked = search(uri, "tags.\"repro.status\" = 'unlocked'")
    assert unlocked == set(variants.values()) - {variants["loose"]}  # the test env beside six

    # The seed came from a variable nothing records: its replay differs.
    done = run(
        [
            sys.executable,
            "-m",
            "mlflow_repro",
            "reproduce",
            variants["seed"],
            "--env-manager",
            "local",
        ],
        cwd=Path(uri.removeprefix("sqlite:///")).parent,
        env=venv_env(MLFLOW_TRACKING_URI=uri),
        check=False,
    )
    assert done.returncode == 1, done.stderr
    [replay] = search(uri, "tags.\"repro.replay.verdict\" = 'different'")
    assert search(uri, f"tags.\"repro.replay.of\" = '{variants['seed']}'") == {replay}
    never = search(uri, 'tags."repro.replay.latest" IS NULL AND tags."repro.replay.of" IS NULL')
    assert never == set(variants.values()) - {variants["seed"]}

    # The template's runs are reproducible, the uv environment MLflow builds from the lock and
    # the local runs in .venv alike: the frameworks in .venv come from uv.lock too (groups).
    client = trained.client()
    experiment = client.get_experiment_by_name("shared").experiment_id
    reproducible = {
        r.info.run_id
        for r in client.search_runs([experiment], "tags.\"repro.status\" = 'reproducible'")
    }
    assert {trained.uv_run, trained.local_run} <= reproducible
