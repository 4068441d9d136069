"""The manifest round-trips through JSON, migrates older schema versions, refuses newer ones and
wrong types (naming the field), loads from a file or a run, and mirrors tags."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.manifest import (
    SCHEMA_VERSION,
    Code,
    Drift,
    Environment,
    Gpu,
    GpuDevice,
    Manifest,
    ManifestError,
    Omitted,
    Payload,
    UntrackedFile,
    load_manifest,
)
from tests.conftest import NO_CAPTURE


def sample() -> Manifest:
    return Manifest(
        mlflow_repro_version="0.1.0",
        code=Code(
            vcs="git",
            commit="a" * 40,
            branch="main",
            dirty=True,
            diff=Payload("repro/git.diff", "d" * 64, 10),
            untracked=[UntrackedFile("n.txt", Payload("repro/untracked/n.txt", "e" * 64, 3))],
            omitted=[Omitted(".env", "secret-name", 12)],
        ),
        environment=Environment(
            python_version="3.11.7",
            lock_source="uv.lock",
            requirements=Payload("repro/requirements.lock.txt", "f" * 64, 99),
            pylock=Payload("repro/pylock.toml", "c" * 64, 420),
            drift=[Drift("numpy", "2.0", "1.9")],
        ),
        gpu=Gpu(source="nvml", devices=[GpuDevice(0, "H100", 80000, "GPU-1", "9.0")]),
        errors=["gpu: boom"],
    )


def test_round_trip_is_lossless() -> None:
    manifest = sample()
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert isinstance(again.code.untracked[0].payload, Payload)


def test_unknown_fields_from_a_newer_writer_are_ignored() -> None:
    data = sample().to_dict()
    data["code"]["something_new"] = 1
    assert Manifest.from_dict(data).code.commit == "a" * 40


def test_a_newer_schema_version_is_refused_with_advice() -> None:
    data = sample().to_dict()
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ManifestError, match="upgrade mlflow-repro") as info:
        Manifest.from_dict(data)
    assert isinstance(info.value, ValueError)  # callers that caught ValueError still do


def schema_1(manifest: Manifest) -> dict[str, Any]:
    """What a schema-1 writer wrote: no launch parameters, env manager, backend or run index
    (nor a pylock.toml)."""
    data = manifest.to_dict()
    data["schema_version"] = 1
    for key in ("parameters", "env_manager", "backend", "run_index"):
        del data["launch"][key]
    del data["environment"]["pylock"]
    return data


def test_a_manifest_from_before_pylock_toml_loads_with_none_recorded() -> None:
    """`environment.pylock` was added within schema 2 as an optional field: a manifest written
    before (no such key) loads with None, which is what happened (nothing recorded), and lists
    no such payload. No version bump and no migration step: the default is the migration, and an
    older reader ignores the key (a newer writer's addition inside a known section)."""
    data = sample().to_dict()
    del data["environment"]["pylock"]
    old = Manifest.from_dict(data)
    assert old.environment.pylock is None
    assert old.environment.requirements == sample().environment.requirements
    assert "repro/pylock.toml" not in {p.path for p in old.payloads()}
    assert Manifest.from_dict(schema_1(sample())).environment.pylock is None


def test_a_schema_1_manifest_is_migrated_not_refused() -> None:
    old = schema_1(sample())
    old["launch"].update(launcher="mlflow run", entry_point="main")
    migrated = Manifest.from_dict(old)
    assert migrated.schema_version == SCHEMA_VERSION
    assert migrated.launch.entry_point == "main"
    assert migrated.launch.parameters is None  # not recorded then: unknown, not guessed
    assert migrated.launch.run_index == 0
    assert migrated.code == sample().code


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("code", "commit"), 42, "manifest.code.commit should be str"),
        (("code", "dirty"), "yes", "manifest.code.dirty should be bool"),
        (("code", "untracked"), {"a": 1}, "manifest.code.untracked should be a list"),
        (("environment", "requirement_count"), True, "requirement_count should be int"),
        (("environment", "pylock"), "repro/pylock.toml", "manifest.environment.pylock should be"),
        (("launch", "parameters"), {"conf_file": 3}, "launch.parameters.conf_file should be str"),
        (("code", "untracked", 0, "payload", "size"), "big", "payload.size should be int"),
        (("capture_seconds",), "slow", "manifest.capture_seconds should be float"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(path: tuple[Any, ...], value: Any, field: str) -> None:
    data = sample().to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ManifestError, match=re.escape(field)):
        Manifest.from_dict(data)


@pytest.mark.parametrize("version", [None, "2", 0, True])
def test_a_missing_or_malformed_schema_version_is_refused(version: Any) -> None:
    data = sample().to_dict()
    data["schema_version"] = version
    with pytest.raises(ManifestError, match="schema_version"):
        Manifest.from_dict(data)


def test_load_manifest_reads_a_file_or_a_folder(tmp_path: Path) -> None:
    (tmp_path / "repro").mkdir()
    (tmp_path / "repro" / "manifest.json").write_text(json.dumps(schema_1(sample())))
    for source in (tmp_path / "repro" / "manifest.json", tmp_path / "repro", tmp_path):
        assert load_manifest(source).code.commit == "a" * 40
    assert load_manifest(str(tmp_path)).schema_version == SCHEMA_VERSION


def test_load_manifest_names_a_file_that_is_not_a_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON") as info:
        load_manifest(bad)
    assert str(bad) in str(info.value)


def test_load_manifest_of_an_unknown_run_names_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ManifestError, match="no run with this id") as info:
        load_manifest("0" * 32, tracking_uri=uri)
    assert info.value.run_id == "0" * 32 and "0" * 32 in str(info.value)


def test_load_manifest_of_a_run_without_one_says_so(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("t", artifact_location=str(tmp_path / "artifacts"))
    run_id = client.create_run(experiment, tags=NO_CAPTURE).info.run_id
    with pytest.raises(ManifestError, match=r"still RUNNING and holds no repro/manifest\.json"):
        load_manifest(run_id, tracking_uri=uri)
    client.set_terminated(run_id, "FINISHED")
    with pytest.raises(ManifestError, match=r"has no repro/manifest\.json"):
        load_manifest(run_id, tracking_uri=uri)
    # The one reader checks the payloads the manifest lists: none of sample()'s was logged.
    client.log_text(run_id, sample().to_json(), "repro/manifest.json")
    with pytest.raises(ManifestError, match=r"repro/git\.diff: listed in the manifest, not among"):
        load_manifest(run_id, tracking_uri=uri)
    client.log_text(run_id, Manifest().to_json(), "repro/manifest.json")
    assert load_manifest(run_id, tracking_uri=uri) == Manifest()


def test_payloads_lists_every_logged_file() -> None:
    paths = {p.path for p in sample().payloads()}
    assert paths == {
        "repro/git.diff",
        "repro/requirements.lock.txt",
        "repro/pylock.toml",
        "repro/untracked/n.txt",
    }


def test_tags_are_short_namespaced_strings() -> None:
    tags = sample().tags()
    assert all(k.startswith("repro.") and isinstance(v, str) for k, v in tags.items())
    assert all(len(v) <= 8000 for v in tags.values())
    assert tags["repro.git.dirty"] == "true"
    assert tags["repro.gpu"] == "1x H100"
    assert tags["repro.capture.errors"] == "gpu: boom"
    assert tags["repro.env.drift"] == "1"
    assert tags["repro.status"] == "incomplete"  # a capture error
    assert len(tags) <= 16  # few, grouped: long values stay in the manifest


def test_an_empty_manifest_is_valid_json_with_unknowns() -> None:
    data = json.loads(Manifest().to_json())
    assert data["code"]["vcs"] == "unknown"
    assert Manifest().tags()["repro.git.dirty"] == "unknown"


def test_every_tag_stays_within_mlflows_limits_whatever_the_manifest_holds() -> None:
    from dataclasses import replace

    huge = "x" * 20000
    manifest = replace(
        sample(),
        code=replace(sample().code, branch=huge, remote_url=huge),
        environment=replace(sample().environment, image=huge),
        errors=[huge, huge],
    )
    tags = manifest.tags()
    assert all(len(k) <= 250 and len(v) <= 8000 for k, v in tags.items())


def test_the_image_a_run_ran_in_is_tagged_by_content() -> None:
    from dataclasses import replace

    from mlflow_repro.manifest import Container, Platform

    assert sample().tags()["repro.env.container"] == "none"
    assert "repro.env.image_id" not in sample().tags()
    image_id = "sha256:" + "1" * 64
    container = Container(image="template-env:0123456789ab", image_id=image_id)
    tags = replace(sample(), platform=Platform(container=container)).tags()
    assert tags["repro.env.container"] == "template-env:0123456789ab (sha256:111111111111)"
    assert tags["repro.env.image_id"] == image_id
    assert "repro.env.image_digest" not in tags
    digest = f"localhost:5000/template-env@sha256:{'2' * 64}"
    pushed = replace(container, repo_digest=digest)
    tags = replace(sample(), platform=Platform(container=pushed)).tags()
    assert tags["repro.env.image_digest"] == digest
    assert len(tags) <= 18  # the image's three beside the sixteen


def test_a_container_no_launcher_named_is_recorded_as_a_host_and_a_nameless_image_incomplete() -> (
    None
):
    from dataclasses import replace

    from mlflow_repro.manifest import Container, Platform
    from mlflow_repro.manifest.status import status

    clean = replace(sample(), errors=[], code=replace(sample().code, omitted=[]))
    clean = replace(clean, seeds=replace(clean.seeds, seed=1))
    image = Container(image="t:1", image_id="sha256:" + "1" * 64)
    assert status(replace(clean, platform=Platform(container=image)))[0] != "incomplete"
    unknown = replace(clean, platform=Platform(container=Container(source="unidentified")))
    assert status(unknown)[0] != "incomplete"  # as a host: its OS, glibc and BLAS recorded
    nameless = Container(source="unidentified", image="t:1")  # named, its id unreadable
    word, reasons = status(replace(clean, platform=Platform(container=nameless)))
    assert word == "incomplete"
    assert reasons[0].startswith("ran in image t:1 with no image id recorded")
    assert "`mlflow run` with mlflow-repro installed on the launching side" in reasons[0]
    assert "repro-docker backend" in reasons[0]
    assert unknown.tags()["repro.env.container"] == "unidentified (no launcher named the image)"
