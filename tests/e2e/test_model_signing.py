"""A model a regulator can verify: a template run recorded with a P-256 team key has its model
signed in the OpenSSF Model Signing format, bound to the run's manifest. The model directory, as
MLflow's client downloads it (from the run's logged model and from the registered version),
verifies with the standard `model_signing` CLI and with `audit`; one byte changed in a model file
or in the manifest fails both, naming the file; another key fails both."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from tests.conftest import run, venv_env
from tests.e2e.conftest import Project

pytestmark = pytest.mark.e2e


def oms_verify(model_dir: Path, public_key: Path) -> Any:
    """The standard verifier, as a user without mlflow-repro runs it."""
    cmd = [sys.executable, "-m", "model_signing", "verify", "key", str(model_dir)]
    cmd += ["--signature", str(model_dir / "model.sig"), "--public_key", str(public_key)]
    return run(cmd, cwd=model_dir.parent, check=False)


def audit(project: Project, target: str, key: Path) -> Any:
    cmd = [sys.executable, "-m", "mlflow_repro", "audit", target]
    env = venv_env(MLFLOW_TRACKING_URI=project.uri, MLFLOW_REPRO_SIGNING_KEY=str(key))
    return run(cmd, cwd=project.root.parent, env=env, check=False)


def model_line(output: str) -> str:
    """Audit's model signature line (its status first), and the action under it."""
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if " model signature " in line)
    return "\n".join(lines[at : at + 2]).strip()


def test_a_signed_models_directory_verifies_with_the_standard_cli_and_audit(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    from mlflow_repro.signing import generate

    private, public = generate(tmp_path / "keys" / "team.key")
    _, other = generate(tmp_path / "keys" / "other.key")
    run_id = project.train(MLFLOW_REPRO_SIGNING_KEY=str(private))
    client = MlflowClient(tracking_uri=project.uri)
    tags = client.get_run(run_id).data.tags
    assert tags["repro.model.signature"].startswith("oms: 1 model(s) signed by key "), tags

    [model] = client.search_logged_models(
        experiment_ids=[client.get_run(run_id).info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
    )
    downloaded = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location,
            dst_path=str(tmp_path / "dl"),
            tracking_uri=project.uri,
        )
    )
    signing_files = {"model.sig", "mlflow-repro-manifest.json", "mlflow-repro-run.json"}
    assert signing_files <= {p.name for p in downloaded.iterdir()}
    done = oms_verify(downloaded, public)
    assert done.returncode == 0 and "Verification succeeded" in done.stdout + done.stderr
    # The version registered from the run, downloaded through the registry (MLflow adds its
    # registered_model_meta there): the same signature holds.
    [version] = client.search_model_versions(f"run_id = '{run_id}'")
    # MLflow 3.17 resolves a models:/ URI with the default store, whatever registry_uri says.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", project.uri)
    registered = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{version.name}/{version.version}",
            dst_path=str(tmp_path / "registered"),
            tracking_uri=project.uri,
            registry_uri=project.uri,
        )
    )
    assert (registered / "registered_model_meta").is_file()
    assert oms_verify(registered, public).returncode == 0
    ok = model_line(audit(project, run_id, public).stdout)
    assert ok.split()[0] == "ok" and "OMS signature valid, manifest and run bound" in ok, ok

    # Another team's key: both fail.
    assert oms_verify(downloaded, other).returncode != 0
    wrong = audit(project, run_id, other)
    assert wrong.returncode == 1 and model_line(wrong.stdout).split()[0] == "missing"
    assert "does not verify with the team key" in model_line(wrong.stdout)

    # One byte of the model file, in the artifact store: both fail, naming the file.
    stored = Path(unquote(urlparse(model.artifact_location).path))
    weights = next(p for p in stored.iterdir() if p.suffix == ".skops")
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        again = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=model.artifact_location,
                dst_path=str(tmp_path / "dl-changed"),
                tracking_uri=project.uri,
            )
        )
        failed = oms_verify(again, public)
        assert failed.returncode != 0 and weights.name in failed.stdout + failed.stderr
        changed = model_line(audit(project, run_id, public).stdout)
        assert changed.split()[0] == "missing"
        assert f"changed since it was signed: {weights.name}" in changed
    finally:
        weights.write_bytes(original)

    # One byte of the manifest: its copy in the model directory fails the standard verifier;
    # the run's own repro/manifest.json, no longer the one the model binds, fails audit.
    copy = downloaded / "mlflow-repro-manifest.json"
    copy.write_bytes(copy.read_bytes().replace(b'"schema_version"', b'"schema_versioN"', 1))
    failed = oms_verify(downloaded, public)
    assert failed.returncode != 0 and "mlflow-repro-manifest.json" in failed.stdout + failed.stderr
    artifacts = Path(unquote(urlparse(client.get_run(run_id).info.artifact_uri).path))
    manifest = artifacts / "repro" / "manifest.json"
    kept = manifest.read_bytes()
    shutil.copy2(manifest, tmp_path / "manifest.kept")
    manifest.write_bytes(kept.replace(b"{", b"{ ", 1))
    try:
        tampered = model_line(audit(project, run_id, public).stdout)
        assert tampered.split()[0] == "missing"
        assert "repro/manifest.json is not the one its model's signature binds" in tampered
    finally:
        manifest.write_bytes(kept)
