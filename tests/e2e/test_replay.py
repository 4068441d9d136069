"""Replay end to end: real git, DVC, uv and `mlflow run`; each replay verified value by value.

Bad input must end with a clear message, exit status 2, no new run and the user's checkout as it
was.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from tests.conftest import NO_CAPTURE, run, venv_env
from tests.e2e.conftest import Project, Trained, copy_run, git_state

pytestmark = pytest.mark.e2e


def verdict_of(project: Project, original: str) -> Any:
    """The one replay of `original` in the store."""
    [new] = [r for r in project.runs() if r.data.tags.get("repro.replay.of") == original]
    return new


@pytest.fixture
def shared(trained: Trained) -> Project:
    """The session's trained originals (read, replayed or copied; never changed)."""
    return Project(trained.root, trained.uri)


def test_a_clean_commit_replays_identical_in_a_uv_environment(
    trained: Trained, shared: Project
) -> None:
    project, original = shared, trained.uv_run
    before_runs = {r.info.run_id for r in project.runs()}
    before = git_state(project.root)
    versions = registered_versions(project)
    done = project.reproduce(original)  # the recorded environment manager: uv
    # The job registers its model; a replay adds no version to it (by default).
    assert registered_versions(project) == versions
    # The re-run's own output (the job's prints, MLflow's lines) goes to a log it names.
    log = Path(done.stderr.split("output of the re-run: ")[1].split()[0])
    assert "not registered as 'mlflow-repro-classifier'" in log.read_text()
    assert "finished: test_accuracy=" in log.read_text()
    assert "finished: test_accuracy=" not in done.stdout + done.stderr
    assert ": identical (" in done.stdout
    for step in ("manifest", "code", "environment", "data", "run", "verify"):
        assert f"{step}: done in" in done.stderr
    new = verdict_of(project, original)
    assert {r.info.run_id for r in project.runs()} - before_runs == {new.info.run_id}
    assert new.data.tags["repro.replay.verdict"] == "identical"
    assert new.data.tags["mlflow.project.env"] == "uv"
    old = {r.info.run_id: r for r in project.runs()}[original]
    assert new.data.metrics == old.data.metrics and new.data.params == old.data.params
    assert new.data.tags["model.digest"] == old.data.tags["model.digest"]
    assert "repro.replay.of" not in old.data.tags
    assert old.data.tags["repro.replay.latest"] == "identical"
    assert old.data.tags["repro.replay.latest_run"] == new.info.run_id
    assert (
        f"Latest replay: **identical** (run [{new.info.run_id}](#/experiments/"
        in (old.data.tags["mlflow.note.content"])
    )
    link = f"[{original}](#/experiments/{old.info.experiment_id}/runs/{original})"
    assert new.data.tags["mlflow.note.content"].startswith(f"**Replay of run {link}: identical**")
    assert git_state(project.root) == before  # the user's checkout was only read
    assert "manifest unsigned (no team key configured)" in done.stderr

    # Audited now, the replayed original has nothing missing and shows its replay.
    from mlflow_repro import audit

    report = audit(original, tracking_uri=project.uri)
    items = {i.name: i for i in report.items}
    assert report.verdict == "rebuildable", [i for i in report.items if i.status != "ok"]
    assert items["replays"].status == "ok"
    assert f"latest {new.info.run_id}: identical" in items["replays"].reason


def workspace_of(project: Project, replay: Any) -> Path:
    """Where the replay rebuilt the code (repro/replay.json; the tag names the commit)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=project.uri)
    into = project.root.parent / f"replay-{replay.info.run_id}"
    local = client.download_artifacts(replay.info.run_id, "repro/replay.json", str(into))
    return Path(json.loads(Path(local).read_text())["workspace"])


def registered_versions(project: Project) -> list[tuple[str, str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=project.uri)
    found = client.search_model_versions("name='mlflow-repro-classifier'")
    return sorted((str(v.version), str(v.run_id)) for v in found)


def test_an_uncommitted_change_and_a_new_file_are_replayed(project: Project) -> None:
    conf = project.root / "confs" / "training.yaml"
    conf.write_text(conf.read_text().replace("n_estimators: 100", "n_estimators: 7"))
    (project.root / "NOTES.md").write_text("an untracked note\n")
    original = project.train()
    conf.write_text(conf.read_text().replace("n_estimators: 7", "n_estimators: 100"))
    project.reproduce(original, "--register")  # asked for: the replay registers, marked
    new = verdict_of(project, original)
    [(_, by_original), (version, by_replay)] = registered_versions(project)
    assert (by_original, by_replay) == (original, new.info.run_id)
    from mlflow.tracking import MlflowClient

    marked = MlflowClient(tracking_uri=project.uri).get_model_version(
        "mlflow-repro-classifier", version
    )
    assert marked.tags["repro.replay.of"] == original
    assert marked.description == f"Replay of run {original} (mlflow-repro)."
    assert new.data.params["model.n_estimators"] == "7"
    assert new.data.tags["repro.replay.verdict"] == "identical"
    commit = run(["git", "rev-parse", "HEAD"], cwd=project.root).stdout.strip()
    assert new.data.tags["repro.replay.workspace"] == f"commit {commit[:12]} + recorded changes"
    workspace = workspace_of(project, new)
    assert (workspace / "NOTES.md").read_text() == "an untracked note\n"


CLOCK_SCRIPT = """\
import time
import mlflow
mlflow.set_experiment("replay")
with mlflow.start_run():
    mlflow.log_metric("clock", time.time())
"""

TABLE_SCRIPT = """\
import csv
import mlflow
with open("data/breast_cancer.csv") as table:
    rows = list(csv.reader(table))
mlflow.set_experiment("replay")
with mlflow.start_run():
    mlflow.log_metrics({"rows": len(rows), "last": float(rows[-1][0])})
"""


def script_run(project: Project, script: str) -> str:
    """Run a plain script in the project (this interpreter); returns the id of its run."""
    before = {r.info.run_id for r in project.runs()}
    run([sys.executable, script], cwd=project.root, env=venv_env(MLFLOW_TRACKING_URI=project.uri))
    [new] = [r.info.run_id for r in project.runs() if r.info.run_id not in before]
    return str(new)


STEADY_SCRIPT = """\
import mlflow
mlflow.set_experiment("replay")
with mlflow.start_run():
    mlflow.log_metric("answer", 42.0)
"""


def test_the_reproduce_entry_point_leaves_one_run_that_says_what_it_did(project: Project) -> None:
    """`mlflow run . -e reproduce -P run_id=<id as the UI shows it>`: MLflow makes a run for the
    command itself; it is not captured as a run of the template (no status, nothing to
    reproduce), and it names the replay it made, with the verdict."""
    (project.root / "steady.py").write_text(STEADY_SCRIPT)
    original = script_run(project, "steady.py")
    before = {r.info.run_id for r in project.runs()}
    cmd = [sys.executable, "-m", "mlflow", "run", "-e", "reproduce", "--env-manager", "local"]
    cmd += ["-P", f"run_id={original[:8]}", "-P", "env_manager=local", "."]
    run(cmd, cwd=project.root, env=venv_env(MLFLOW_TRACKING_URI=project.uri))
    made = [r for r in project.runs() if r.info.run_id not in before]
    replay = verdict_of(project, original)
    [outer] = [r for r in made if r.info.run_id != replay.info.run_id]
    assert len(made) == 2 and outer.info.status == "FINISHED"
    tags = outer.data.tags
    assert tags["repro.reproduce.of"] == original
    assert tags["repro.reproduce.replay"] == replay.info.run_id
    assert tags["repro.replay.verdict"] == replay.data.tags["repro.replay.verdict"] == "identical"
    assert not {"repro.status", "repro.manifest", "repro.capture.id"} & set(tags)
    assert tags["mlflow.runName"].endswith(" · reproduce")
    note = tags["mlflow.note.content"]
    assert note.startswith("**mlflow-repro: reproduce of run [") and "identical" in note
    assert f"/runs/{replay.info.run_id})" in note


def test_a_different_result_is_reported_and_exits_1(project: Project) -> None:
    """The replay sets the recorded seed and states; a result that follows an input nothing
    records (the clock) differs, and the replay says which metric."""
    (project.root / "clock.py").write_text(CLOCK_SCRIPT)  # untracked: captured as a payload
    original = script_run(project, "clock.py")
    done = project.reproduce(original, "--env-manager", "local", "--json", "-q", check=False)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)  # --json: the result for a machine; -q: no progress lines
    assert result["schema"] == "mlflow-repro.replay/1"
    assert result["verdict"]["verdict"] == "different"
    assert [d for d in result["verdict"]["differences"] if d.startswith("metric clock:")]
    assert "[1/6]" not in done.stderr and set(result["durations"]) >= {"run", "verify"}
    new = verdict_of(project, original)
    assert new.data.tags["repro.replay.verdict"] == "different"


def test_older_data_is_restored_after_the_data_changed_and_a_later_commit(
    project: Project,
) -> None:
    table = project.root / "data" / "breast_cancer.csv"
    (project.root / "table.py").write_text(TABLE_SCRIPT)
    run(["git", "add", "table.py"], cwd=project.root)
    run(["git", "commit", "--quiet", "-m", "a script reading the table"], cwd=project.root)
    dvc = [sys.executable, "-m", "dvc", "commit", "--force", "--quiet"]
    run(dvc, cwd=project.root)  # the first version, cached
    older = script_run(project, "table.py")
    lines = table.read_text().splitlines(keepends=True)
    table.write_text("".join(lines[:-120]))  # the data changes ...
    run(dvc, cwd=project.root)
    run(["git", "commit", "--quiet", "-am", "fewer rows"], cwd=project.root)  # ... and is committed
    newer = script_run(project, "table.py")
    runs = {r.info.run_id: r for r in project.runs()}
    assert runs[older].data.metrics != runs[newer].data.metrics
    before, data_before = git_state(project.root), table.read_bytes()

    done = project.reproduce(older, "--env-manager", "local")
    assert "data/breast_cancer.csv md5" in done.stderr and "(user-cache)" in done.stderr
    new = verdict_of(project, older)
    assert new.data.tags["repro.replay.verdict"] == "identical"
    assert new.data.metrics == runs[older].data.metrics == {"rows": len(lines), "last": ANY}
    workspace = workspace_of(project, new)
    assert len((workspace / "data" / "breast_cancer.csv").read_text().splitlines()) == len(lines)
    assert git_state(project.root) == before and table.read_bytes() == data_before


PLAIN_SCRIPT = """\
import argparse
import random

import numpy as np
import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float, required=True)
args = parser.parse_args()
with open("data/breast_cancer.csv") as table:
    rows = sum(1 for _ in table)
mlflow.set_experiment("replay")
for fold in range(2):  # never seeded: the draws follow the states recorded at import mlflow
    with mlflow.start_run():
        mlflow.log_params({"scale": args.scale, "fold": fold})
        mlflow.log_metric("python_random", args.scale * random.random())
        mlflow.log_metric("numpy_legacy", args.scale * float(np.random.rand()))
        mlflow.log_metric("rows", rows)
"""


def test_a_plain_script_run_is_replayed_from_its_command_line(project: Project) -> None:
    script = project.root / "scripts" / "draw.py"
    script.parent.mkdir()
    script.write_text(PLAIN_SCRIPT)
    run(["git", "add", "scripts"], cwd=project.root)
    run(["git", "commit", "--quiet", "-m", "a plain script"], cwd=project.root)  # not pushed
    cmd = [sys.executable, "scripts/draw.py", "--scale", "2"]
    run(cmd, cwd=project.root, env=venv_env(MLFLOW_TRACKING_URI=project.uri))
    first, original = sorted(project.runs(), key=lambda r: r.info.start_time)
    assert original.data.metrics["python_random"] != first.data.metrics["python_random"]
    before = git_state(project.root)

    done = project.reproduce(original.info.run_id)  # a uv environment from the recorded uv.lock
    assert ": identical (" in done.stdout, done.stdout + done.stderr
    assert "run: scripts/draw.py --scale 2 (uv) ..." in done.stderr
    [new] = [
        r for r in project.runs() if r.data.tags.get("repro.replay.of") == original.info.run_id
    ]
    assert new.data.tags["repro.replay.verdict"] == "identical"
    assert new.data.metrics == original.data.metrics  # unseeded draws, value by value
    assert new.info.run_name == f"{original.info.run_name} · replay"  # named after it
    assert new.data.params == {"scale": "2.0", "fold": "1"}  # the second run, as the original
    assert new.data.tags["repro.replay.command"] == "scripts/draw.py --scale 2"
    assert new.info.status == "FINISHED"
    workspace = workspace_of(project, new)
    assert (workspace / ".venv").is_dir()  # rebuilt by uv, not this interpreter
    assert git_state(project.root) == before


def bad(project: Project, run_id: str, fragment: str) -> None:
    before_runs = {r.info.run_id for r in project.runs()}
    before = git_state(project.root)
    done = project.reproduce(run_id, check=False)
    assert done.returncode == 2, done.stderr
    assert "mlflow-repro: error:" in done.stderr and fragment in done.stderr
    assert {r.info.run_id for r in project.runs()} == before_runs
    assert git_state(project.root) == before


def test_an_unknown_run_id_is_named(shared: Project) -> None:
    bad(shared, "0" * 32, "no run with this id in the tracking store")


def test_a_run_without_a_manifest_is_refused(shared: Project) -> None:
    """A run made where mlflow-repro was not installed (or capture was disabled)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=shared.uri)
    experiment = client.get_experiment_by_name("shared").experiment_id
    bare = client.create_run(experiment, tags=NO_CAPTURE).info.run_id
    client.set_terminated(bare, "FINISHED")
    bad(shared, bare, "has no repro/manifest.json")


def test_a_commit_missing_from_every_source_is_named(trained: Trained, shared: Project) -> None:
    copy = copy_run(trained, trained.local_run, lambda m: m["code"].update(commit="f" * 40))
    bad(shared, copy, f"commit {'f' * 40} is not in any source")


def test_a_lock_that_does_not_match_is_refused(trained: Trained, shared: Project) -> None:
    change = lambda m: m["environment"].update(lock_file_sha256="0" * 64)  # noqa: E731
    bad(shared, copy_run(trained, trained.local_run, change), "uv.lock in the rebuilt workspace")


def test_a_python_that_is_not_installed_is_named(trained: Trained, shared: Project) -> None:
    change = lambda m: m["environment"].update(python_version="3.9.99")  # noqa: E731
    copy = copy_run(trained, trained.local_run, change)
    bad(shared, copy, "Python 3.9.99, which is not installed here")


def test_data_that_no_source_can_restore_is_named(trained: Trained, shared: Project) -> None:
    def other_data(manifest: dict[str, Any]) -> None:
        for item in manifest["data"]["files"]:
            if item["path"] == "data/breast_cancer.csv":
                item["md5"] = "0" * 32

    copy = copy_run(trained, trained.local_run, other_data)
    bad(shared, copy, "data/breast_cancer.csv: recorded md5 " + "0" * 32)


def test_with_a_team_key_unsigned_and_tampered_manifests_are_refused(
    trained: Trained, shared: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay runs the recorded diff and untracked files as code: with a key configured it
    runs only what the team signed."""
    from mlflow_repro.signing import KEY_VAR, generate

    private, public = generate(tmp_path / "team.key")
    unsigned = copy_run(trained, trained.local_run, lambda m: None)
    monkeypatch.setenv(KEY_VAR, str(private))

    def edit(folder: Path) -> None:
        text = (folder / "manifest.json").read_text()
        (folder / "manifest.json").write_text(text.replace('"dirty": false', '"dirty": true'))

    tampered = copy_run(trained, trained.local_run, lambda m: None, sign=True, after=edit)
    monkeypatch.setenv(KEY_VAR, str(public))  # a replaying machine needs only the public key
    bad(shared, unsigned, "and a team key is configured (MLFLOW_REPRO_SIGNING_KEY)")
    bad(shared, tampered, "the manifest was changed after it was signed")


def test_several_runs_replay_at_once_into_one_table(trained: Trained, shared: Project) -> None:
    """`reproduce A B --jobs 2`: both replays start together, each in its own process and fresh
    clone; one table sums them up (a run that cannot replay is a row, not a crash), exit 2.
    The replayed scikit-learn model is the original's, file by file."""
    from mlflow.tracking import MlflowClient

    from tests.e2e.test_frameworks import logged_files

    missing = "0" * 32
    done = shared.reproduce(trained.local_run, missing, "--jobs", "2", check=False)
    assert done.returncode == 2, done.stderr
    assert "replaying 2 runs, 2 at a time" in done.stderr
    header, *rows, summary = done.stdout.strip().splitlines()
    assert header.split()[:2] == ["run", "verdict"]
    assert summary == "2 replays: 1 could not replay, 1 identical"
    replayed = dict((row.split()[0], row.split()) for row in rows)
    assert replayed[trained.local_run][1] == "identical"
    assert replayed[missing][1:4] == ["could", "not", "replay"]
    assert f"run {missing}: no run with this id in the tracking store" in rows[1]
    new_run = replayed[trained.local_run][2]
    client = MlflowClient(tracking_uri=shared.uri)
    assert client.get_run(new_run).data.tags["repro.replay.of"] == trained.local_run
    a = logged_files(shared.uri, f"runs:/{trained.local_run}/model")
    b = logged_files(shared.uri, f"runs:/{new_run}/model")
    assert set(a) == set(b)
    for path, file in a.items():
        if file.canonical != "logging-metadata":
            assert file.content == b[path].content, path
            if path != "model.skops":  # skops names members after object ids
                assert file.sha256 == b[path].sha256, path
