"""The manifest round-trips through JSON, refuses unknown schema versions and mirrors tags."""

from __future__ import annotations

import json

import pytest

from mlflow_repro.manifest import (
    SCHEMA_VERSION,
    Code,
    Drift,
    Environment,
    Gpu,
    GpuDevice,
    Manifest,
    Omitted,
    Payload,
    UntrackedFile,
)


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


def test_other_schema_versions_are_refused_with_advice() -> None:
    data = sample().to_dict()
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="upgrade mlflow-repro"):
        Manifest.from_dict(data)


def test_payloads_lists_every_logged_file() -> None:
    paths = {p.path for p in sample().payloads()}
    assert paths == {"repro/git.diff", "repro/requirements.lock.txt", "repro/untracked/n.txt"}


def test_tags_are_short_namespaced_strings() -> None:
    tags = sample().tags()
    assert all(k.startswith("repro.") and isinstance(v, str) for k, v in tags.items())
    assert all(len(v) <= 8000 for v in tags.values())
    assert tags["repro.git.dirty"] == "true"
    assert tags["repro.gpu"] == "1x H100"
    assert tags["repro.capture.errors"] == "gpu: boom"
    assert tags["repro.lock.drift"] == "1"


def test_an_empty_manifest_is_valid_json_with_unknowns() -> None:
    data = json.loads(Manifest().to_json())
    assert data["code"]["vcs"] == "unknown"
    assert Manifest().tags()["repro.git.dirty"] == "unknown"
