"""A run's `repro/pylock.toml` is a payload like the others: changed after the run, the one
reader (manifest/reader.py) names it, and so audit, `load_manifest` and replay refuse the record.
Unit level: a real sqlite store, a manifest listing the payloads it holds."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.manifest import Environment, Manifest, ManifestError, Payload, load_manifest
from tests.conftest import NO_CAPTURE

WHEEL = "https://files.pythonhosted.org/packages/n/numpy-2.4.6-cp311-cp311-linux_x86_64.whl"
REQUIREMENTS = "numpy==2.4.6 --hash=sha256:" + "ab" * 32 + "\n"
PYLOCK = f"""\
lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "numpy"
version = "2.4.6"
index = "https://pypi.org/simple"
wheels = [{{ url = "{WHEEL}", hashes = {{ sha256 = "{"ab" * 32}" }} }}]
"""


def _payload(name: str, text: str) -> Payload:
    data = text.encode()
    return Payload(f"repro/{name}", hashlib.sha256(data).hexdigest(), len(data))


def a_run_with_a_pylock(tmp_path: Path) -> tuple[Any, str, str]:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    run_id = client.create_run(experiment, tags=NO_CAPTURE).info.run_id
    manifest = Manifest(
        environment=Environment(
            python_version="3.11.7",
            lock_source="uv.lock",
            lock_strength="hashes",
            requirements=_payload("requirements.lock.txt", REQUIREMENTS),
            requirement_count=1,
            pylock=_payload("pylock.toml", PYLOCK),
        )
    )
    client.log_text(run_id, REQUIREMENTS, "repro/requirements.lock.txt")
    client.log_text(run_id, PYLOCK, "repro/pylock.toml")
    client.log_text(run_id, manifest.to_json(), "repro/manifest.json")
    client.set_terminated(run_id, "FINISHED")
    return client, uri, run_id


def test_a_changed_pylock_toml_fails_the_reader_audit_and_replay(tmp_path: Path) -> None:
    from mlflow_repro.errors import ReplayError
    from mlflow_repro.inspect.audit import audit
    from mlflow_repro.manifest.reader import read_logged
    from mlflow_repro.replay.source import load_original

    client, uri, run_id = a_run_with_a_pylock(tmp_path)
    assert read_logged(client, run_id, tmp_path / "as-logged").findings == []
    assert load_manifest(run_id, tracking_uri=uri).environment.pylock is not None
    integrity = {i.name: i for i in audit(run_id, tracking_uri=uri).items}["integrity"]
    assert integrity.status == "ok" and integrity.reason == "2 payloads match their sha256"

    # One version changed in the lock, as someone with write access to the artifacts could.
    changed = PYLOCK.replace('version = "2.4.6"', 'version = "2.4.7"')
    client.log_text(run_id, changed, "repro/pylock.toml")
    recorded, now = _payload("pylock.toml", PYLOCK).sha256, _payload("pylock.toml", changed).sha256
    problem = f"repro/pylock.toml: sha256 {now[:12]}..., recorded {recorded[:12]}..."

    assert read_logged(client, run_id, tmp_path / "changed").payload_problems == [problem]
    with pytest.raises(ManifestError, match=r"repro/pylock\.toml: sha256"):
        load_manifest(run_id, tracking_uri=uri)
    integrity = {i.name: i for i in audit(run_id, tracking_uri=uri).items}["integrity"]
    assert integrity.status == "missing" and problem in integrity.reason
    with pytest.raises(ReplayError, match=r"repro/pylock\.toml: sha256") as refused:
        load_original(client, run_id, tmp_path / "replay")
    assert "not replaying" in str(refused.value)


def test_a_removed_pylock_toml_is_named_too(tmp_path: Path) -> None:
    from mlflow_repro.manifest.reader import read_logged

    client, _, run_id = a_run_with_a_pylock(tmp_path)
    artifacts = Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    (artifacts / "repro" / "pylock.toml").unlink()
    assert read_logged(client, run_id, tmp_path / "removed").payload_problems == [
        "repro/pylock.toml: listed in the manifest, not among the artifacts"
    ]
