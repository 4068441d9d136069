"""OpenSSF Model Signing of a model directory: signed with a P-256 team key over its files and
the run's manifest copy, checked with the public key; a changed, added or removed file is named,
another key fails, and a key OMS does not take is said so."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlflow_repro.modelfiles import model_digest
from mlflow_repro.modelsign import (
    BINDING_FILE,
    MANIFEST_COPY,
    SIGNATURE_FILE,
    NotSignable,
    sign_directory,
    verify_directory,
)
from mlflow_repro.signing import generate

MANIFEST = b'{"schema_version": 2}\n'


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A model directory signed with a new team key: (directory, private key, public key)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    (model / "model.bin").write_bytes(b"\x00weights\x01")
    private, public = generate(tmp_path / "keys" / "team.key")
    sign_directory(model, MANIFEST, private, run_id="r" * 32, model_id="m-1")
    return model, private, public


def test_a_signed_directory_verifies_and_binds_the_manifest(
    signed: tuple[Path, Path, Path],
) -> None:
    model, _, public = signed
    assert (model / MANIFEST_COPY).read_bytes() == MANIFEST
    assert (model / SIGNATURE_FILE).is_file() and (model / BINDING_FILE).is_file()
    check = verify_directory("model", model, MANIFEST, public, run_id="r" * 32, model_id="m-1")
    assert check.ok and check.detail == "model: OMS signature valid, manifest and run bound"


def test_the_private_key_a_recording_machine_holds_verifies_too(
    signed: tuple[Path, Path, Path],
) -> None:
    model, private, _ = signed
    assert verify_directory("model", model, MANIFEST, private).ok


def test_a_model_and_manifest_copied_into_another_run_fail(
    signed: tuple[Path, Path, Path],
) -> None:
    model, _, public = signed
    check = verify_directory("model", model, MANIFEST, public, run_id="o" * 32, model_id="m-1")
    assert not check.ok and check.changed == [BINDING_FILE]
    assert "a model and manifest copied from another run" in check.detail


def test_an_unreadable_run_manifest_fails_the_binding(signed: tuple[Path, Path, Path]) -> None:
    model, _, public = signed
    check = verify_directory("model", model, None, public)
    assert not check.ok and "the binding is unchecked" in check.detail


def test_signing_files_leave_the_models_digest_as_it_was(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.bin").write_bytes(b"weights")
    before = model_digest(model)
    private, _ = generate(tmp_path / "team.key")
    sign_directory(model, MANIFEST, private)
    assert model_digest(model) == before


def test_a_changed_added_or_removed_file_is_named(signed: tuple[Path, Path, Path]) -> None:
    model, _, public = signed
    (model / "model.bin").write_bytes(b"\x00weights\x02")
    (model / "extra.txt").write_text("planted")
    (model / "MLmodel").unlink()
    check = verify_directory("model", model, MANIFEST, public)
    assert not check.ok
    assert set(check.changed) == {"model.bin", "extra.txt (extra)", "MLmodel (missing)"}
    assert check.detail.startswith("model: changed since it was signed: ")


def test_a_run_manifest_other_than_the_bound_one_is_named(
    signed: tuple[Path, Path, Path],
) -> None:
    model, _, public = signed
    check = verify_directory("model", model, MANIFEST.replace(b"2", b"3"), public)
    assert not check.ok and check.changed == ["repro/manifest.json"]


def test_another_key_does_not_verify(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    model, _, _ = signed
    _, other = generate(tmp_path / "other.key")
    check = verify_directory("model", model, MANIFEST, other)
    assert not check.ok and "does not verify with the team key" in check.detail


def test_an_unsigned_directory_is_not_ok(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    _, public = generate(tmp_path / "team.key")
    check = verify_directory("model", tmp_path / "model", MANIFEST, public)
    assert not check.ok and "the model is not signed" in check.detail


def test_an_ed25519_key_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = tmp_path / "old.key"
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "model").mkdir()
    with pytest.raises(NotSignable, match=r"NIST P-256/384/521 keys only.*mlflow-repro keygen"):
        sign_directory(tmp_path / "model", MANIFEST, key)


def test_without_the_sign_extra_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "model_signing", None)  # as if not installed
    private, _ = generate(tmp_path / "team.key")
    (tmp_path / "model").mkdir()
    with pytest.raises(NotSignable, match=r"not installed.*pip install 'mlflow-repro\[sign\]'"):
        sign_directory(tmp_path / "model", MANIFEST, private)
