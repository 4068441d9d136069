"""Publishing: each run gets its own manifest.json beside the process's shared payloads; a
failure becomes the run's `repro.capture.errors` tag, never an exception; tags stay within
MLflow's limits."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mlflow_repro.capture import Captured
from mlflow_repro.manifest import Code, Launch, Manifest, SeedCall, Seeds
from mlflow_repro.plugin.publish import MAX_TAG_KEY, MAX_TAG_VALUE, publish, within_limits
from tests.captures import small_capture

ERRORS_TAG = "repro.capture.errors"


class Client:
    """The parts of MlflowClient that publish uses, recorded."""

    tracking_uri = "sqlite:///unused.db"

    def __init__(self) -> None:
        self.tags: dict[str, dict[str, str]] = {}

    def log_batch(self, run_id: str, tags: list[Any]) -> None:
        self.tags.setdefault(run_id, {}).update({t.key: t.value for t in tags})

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.tags.setdefault(run_id, {})[key] = value


class Repository:
    """An artifact repository that copies what it is given into a folder, or raises."""

    def __init__(self, root: Path, error: Exception | None = None) -> None:
        self.root, self.error = root, error

    def log_artifacts(self, local_dir: str, artifact_path: str) -> None:
        if self.error:
            raise self.error
        for path in Path(local_dir).rglob("*"):
            if path.is_file():
                self._copy(path, f"{artifact_path}/{path.relative_to(local_dir).as_posix()}")

    def log_artifact(self, local_file: str, artifact_path: str) -> None:
        if self.error:
            raise self.error
        self._copy(Path(local_file), f"{artifact_path}/{Path(local_file).name}")

    def _copy(self, source: Path, relative: str) -> None:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())


def a_run(run_id: str, root: Path) -> Any:
    return SimpleNamespace(
        info=SimpleNamespace(run_id=run_id, artifact_uri=str(root / run_id)),
        data=SimpleNamespace(tags={}),
    )


@pytest.fixture
def captured() -> Iterator[Captured]:
    made = small_capture(errors=["data: dvc.lock: not YAML"])
    yield made
    made.staging.cleanup()


def use_repositories(monkeypatch: pytest.MonkeyPatch, error: Exception | None = None) -> None:
    from mlflow.store.artifact import artifact_repository_registry

    def get(artifact_uri: str, tracking_uri: str | None = None) -> Repository:
        return Repository(Path(artifact_uri), error)

    monkeypatch.setattr(artifact_repository_registry, "get_artifact_repository", get)


def logged(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_each_run_gets_its_own_manifest_beside_the_shared_payloads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch)
    client = Client()
    for index in (0, 1):
        manifest = captured.for_run(Launch(run_index=index))
        publish(client, a_run(f"run{index}", tmp_path), captured, manifest)
    for index in (0, 1):
        root = tmp_path / f"run{index}"
        assert logged(root) == {"repro/git.diff", "repro/manifest.json"}
        manifest = Manifest.from_json((root / "repro/manifest.json").read_text())
        assert manifest.launch.run_index == index
        assert dataclasses.replace(manifest, launch=captured.manifest.launch) == captured.manifest
    assert captured.run_staging is not None
    assert logged(captured.run_staging.root) == {"git.diff"}  # the staging is left as it was
    # The repro.* tags were set with the run (start_run), all but the status, which claims the
    # manifest: it comes with the description once repro/ is logged.
    for index in (0, 1):
        assert set(client.tags[f"run{index}"]) == {"mlflow.note.content", "repro.status"}
        assert client.tags[f"run{index}"]["repro.status"] == "incomplete"  # the capture's errors
        note = client.tags[f"run{index}"]["mlflow.note.content"]
        assert note.startswith("**mlflow-repro: ")
        assert f"`mlflow-repro reproduce run{index}`" in note


def test_a_description_the_user_wrote_is_never_replaced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch)
    client = Client()
    run = a_run("mine", tmp_path)
    run.data.tags["mlflow.note.content"] = "my own notes"
    publish(client, run, captured, captured.manifest, with_tags=True)
    assert "mlflow.note.content" not in client.tags["mine"]
    assert client.tags["mine"]["repro.status"] in ("reproducible", "unlocked", "incomplete")


def test_a_manifest_without_payloads_logs_only_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch)
    manifest = dataclasses.replace(captured.for_run(Launch()), code=Code())
    publish(Client(), a_run("r", tmp_path), captured, manifest)
    assert logged(tmp_path / "r") == {"repro/manifest.json"}


def test_a_failing_artifact_repository_is_printed_and_marks_the_run_incomplete(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    captured: Captured,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_repositories(monkeypatch, OSError("disk full"))
    client = Client()
    manifest = dataclasses.replace(captured.manifest, errors=[])  # would be reproducible
    assert not publish(client, a_run("r", tmp_path), captured, manifest)  # nothing raised
    description = client.tags["r"].pop("mlflow.note.content")
    assert client.tags["r"] == {
        "repro.status": "incomplete",
        ERRORS_TAG: "publish: OSError: disk full",
    }
    assert description.startswith("**mlflow-repro: incomplete**: `repro/` could not be logged")
    assert "holds no manifest" in description and "OSError: disk full" in description
    printed = capsys.readouterr().err
    assert "repro/ (repro/git.diff, repro/manifest.json) not logged to run r" in printed
    assert "OSError: disk full" in printed


def test_a_failed_upload_keeps_the_capture_errors_in_the_tag(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch, OSError("disk full"))
    client = Client()
    publish(client, a_run("r", tmp_path), captured, captured.manifest)
    errors = client.tags["r"][ERRORS_TAG]
    assert errors == "data: dvc.lock: not YAML; publish: OSError: disk full"


def test_a_store_that_refuses_even_the_incomplete_mark_is_printed(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    captured: Captured,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_repositories(monkeypatch, ConnectionError("server gone"))

    class Gone(Client):
        def log_batch(self, run_id: str, tags: list[Any]) -> None:
            raise ConnectionError("server gone")

    assert not publish(Gone(), a_run("r", tmp_path), captured, captured.manifest)
    printed = capsys.readouterr().err
    assert "not logged to run r: ConnectionError: server gone" in printed
    assert "run r could not be marked incomplete either: ConnectionError" in printed


def test_a_failing_tracking_store_is_named_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch)

    class Failing(Client):
        def log_batch(self, run_id: str, tags: list[Any]) -> None:
            raise ConnectionError("store unreachable")

    client = Failing()
    assert publish(client, a_run("r", tmp_path), captured, captured.manifest, with_tags=True)
    assert "publish: tags: ConnectionError: store unreachable" in client.tags["r"][ERRORS_TAG]
    assert (tmp_path / "r/repro/manifest.json").is_file()


def huge_manifest(captured: Captured) -> Manifest:
    manifest = captured.manifest
    return dataclasses.replace(
        manifest,
        errors=[f"collector {i}: " + "x" * 300 for i in range(200)],
        seeds=Seeds(user_seeds=[SeedCall("numpy.random.seed", str(i)) for i in range(5000)]),
        environment=dataclasses.replace(manifest.environment, image="registry/" + "i" * 9000),
        code=dataclasses.replace(
            manifest.code, remote_url="https://git.example/" + "r" * 9000, branch="b" * 9000
        ),
    )


def within_mlflow_limits(tags: dict[str, str]) -> bool:
    return all(len(k) <= MAX_TAG_KEY and len(v) <= MAX_TAG_VALUE for k, v in tags.items())


def test_over_long_tags_are_cut_to_mlflow_limits_when_published(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch)
    client = Client()
    publish(client, a_run("r", tmp_path), captured, huge_manifest(captured), with_tags=True)
    tags = client.tags["r"]
    assert within_mlflow_limits(tags)
    # manifest/tags.py caps each value already (the branch at 250); within_limits is the net
    assert len(tags["repro.git.branch"]) <= 250 and tags[ERRORS_TAG].startswith("collector 0")


def test_the_errors_tag_stays_within_limits_when_publishing_fails_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch, OSError("e" * 9000))
    client = Client()
    publish(client, a_run("r", tmp_path), captured, huge_manifest(captured))
    assert within_mlflow_limits(client.tags["r"])


def test_within_limits_cuts_keys_and_values_and_keeps_the_rest() -> None:
    tags = within_limits({"k" * 300: "v", "short": "s" * 9000, "ok": "fine"})
    assert [len(k) for k in tags] == [MAX_TAG_KEY, 5, 2]
    assert len(tags["short"]) == MAX_TAG_VALUE and tags["ok"] == "fine"


def test_the_published_manifest_is_json_of_the_run_manifest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, captured: Captured
) -> None:
    use_repositories(monkeypatch)
    manifest = captured.for_run(Launch(launcher="mlflow run", parameters={"alpha": "0.5"}))
    publish(Client(), a_run("r", tmp_path), captured, manifest)
    document = json.loads((tmp_path / "r/repro/manifest.json").read_text())
    assert document["launch"]["parameters"] == {"alpha": "0.5"}


def test_the_description_names_the_image_a_run_ran_in_by_id() -> None:
    from mlflow_repro.manifest import Container, Manifest, Platform
    from mlflow_repro.plugin.publish import run_description

    image_id = "sha256:" + "b" * 64
    tagged = Container(image="env:1", image_id=image_id, repo_digest="reg/env@sha256:" + "c" * 64)
    text = run_description(Manifest(platform=Platform(container=tagged)), "r1")
    assert f"- image: `env:1`, id `{image_id}`, `reg/env@sha256:{'c' * 64}`" in text
    unknown = Manifest(platform=Platform(container=Container(source="unidentified")))
    assert "- image: a container no launcher named" in run_description(unknown, "r1")
    assert "- image:" not in run_description(Manifest(), "r1")
