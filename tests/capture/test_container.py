"""The image a run ran in, as capture records it: only what the launching side passed in."""

from __future__ import annotations

import json

from mlflow_repro.capture.platform import collect_container
from mlflow_repro.names import CONTAINER_VAR

IMAGE_ID = "sha256:" + "ab" * 32


def test_on_a_host_there_is_no_container() -> None:
    assert collect_container({}, inside=False) == (None, [])


def test_in_a_container_no_launcher_named_is_unidentified() -> None:
    container, errors = collect_container({}, inside=True)
    assert container is not None and container.source == "unidentified"
    assert container.image_id == "" and errors == []


def test_the_launchers_record_becomes_the_container_by_content() -> None:
    record = {
        "source": "launcher",
        "image": "repro-template-env:0123",
        "image_id": IMAGE_ID,
        "repo_digest": "127.0.0.1:5000/env@sha256:" + "cd" * 32,
        "run_image_id": "sha256:" + "ef" * 32,
        "build": {"lock.sha256": "f" * 64, "base.id": "sha256:" + "01" * 32},
        "network": "host",
    }
    container, errors = collect_container({CONTAINER_VAR: json.dumps(record)}, inside=True)
    assert errors == []
    assert container is not None
    assert (container.image, container.image_id, container.network) == (
        "repro-template-env:0123",
        IMAGE_ID,
        "host",
    )
    assert container.repo_digest == record["repo_digest"]
    assert container.build["lock.sha256"] == "f" * 64


def test_a_record_without_an_image_id_is_unidentified_and_says_why() -> None:
    raw = json.dumps({"source": "launcher", "image": "only:a-tag"})
    container, errors = collect_container({CONTAINER_VAR: raw}, inside=True)
    assert container is not None and container.source == "unidentified"
    assert container.image == "only:a-tag"
    assert errors and "only:a-tag" in errors[0]


def test_an_unreadable_record_is_a_capture_error_not_a_guess() -> None:
    container, errors = collect_container({CONTAINER_VAR: "{not json"}, inside=True)
    assert container is not None and container.source == "unidentified"
    assert errors and CONTAINER_VAR in errors[0]


def test_a_container_runs_paths_are_its_launching_sides_for_audit_and_replay() -> None:
    from mlflow_repro.manifest import Container, Manifest, Platform
    from mlflow_repro.manifest.schema import on_launching_side

    inside = Manifest(platform=Platform(container=Container(image_id=IMAGE_ID, project_dir="/h/p")))
    assert on_launching_side(inside, "/mlflow/projects/code") == "/h/p"
    assert on_launching_side(inside, "/mlflow/projects/code/sub") == "/h/p/sub"
    assert on_launching_side(inside, "/elsewhere") == "/elsewhere"
    assert on_launching_side(inside, None) is None
    assert on_launching_side(Manifest(), "/mlflow/projects/code") == "/mlflow/projects/code"
