"""Manifest signatures: made with the team's private key, checked with either half of it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mlflow_repro.errors import UsageError
from mlflow_repro.signing import (
    KEY_VAR,
    TAMPERED,
    UNSIGNED,
    UNVERIFIED,
    VALID,
    generate,
    sign,
    verify,
)

MANIFEST = b'{"schema_version": 2, "code": {"commit": "abc"}}'


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate(tmp_path / "team.key")


def test_keygen_writes_a_private_key_only_its_owner_reads(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in public.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        generate(private)


def test_no_key_configured_means_no_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_VAR, raising=False)
    assert sign(MANIFEST) is None
    assert verify(MANIFEST, None).status == UNSIGNED


def test_a_signature_verifies_with_the_private_or_the_public_key(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = keys
    monkeypatch.setenv(KEY_VAR, str(private))
    signature = sign(MANIFEST)
    assert signature is not None
    assert verify(MANIFEST, signature).status == VALID
    monkeypatch.setenv(KEY_VAR, str(public))
    assert verify(MANIFEST, signature).status == VALID
    monkeypatch.delenv(KEY_VAR)
    assert verify(MANIFEST, signature).status == UNVERIFIED


def test_an_edited_manifest_or_signature_is_tampered(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, str(keys[0]))
    signature = sign(MANIFEST)
    assert signature is not None
    check = verify(MANIFEST.replace(b"abc", b"abd"), signature)
    assert check.status == TAMPERED and "changed after it was signed" in check.detail
    assert verify(MANIFEST, b"not json").status == TAMPERED
    document = json.loads(signature)
    document["signature"] = document["signature"][::-1]
    assert verify(MANIFEST, json.dumps(document).encode()).status == TAMPERED


def test_a_signature_by_another_key_is_tampered(
    keys: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other, _ = generate(tmp_path / "other.key")
    monkeypatch.setenv(KEY_VAR, str(other))
    signature = sign(MANIFEST)
    monkeypatch.setenv(KEY_VAR, str(keys[1]))
    check = verify(MANIFEST, signature)
    assert check.status == TAMPERED and "not by the team key" in check.detail


def test_a_public_key_cannot_sign_and_a_bad_file_is_named(
    keys: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, str(keys[1]))
    with pytest.raises(UsageError, match="holds a public key"):
        sign(MANIFEST)
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    monkeypatch.setenv(KEY_VAR, str(junk))
    with pytest.raises(UsageError, match="no P-256") as err:
        verify(MANIFEST, None)
    assert str(junk) in str(err.value)
    monkeypatch.setenv(KEY_VAR, str(tmp_path / "absent.key"))
    with pytest.raises(UsageError, match="cannot be read"):
        sign(MANIFEST)


def test_keygen_makes_a_p256_key_and_the_manifest_is_signed_with_ecdsa(
    keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key type OpenSSF Model Signing accepts: one team key for manifest and model."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private, public = keys
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    monkeypatch.setenv(KEY_VAR, str(private))
    document = sign(MANIFEST)
    assert document is not None
    assert json.loads(document)["algorithm"] == "ecdsa-p256-sha256"
    monkeypatch.setenv(KEY_VAR, str(public))
    assert verify(MANIFEST, document).status == VALID
    assert verify(MANIFEST + b" ", document).status == TAMPERED


def test_an_ed25519_key_made_before_still_signs_and_verifies_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "old.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    monkeypatch.setenv(KEY_VAR, str(path))
    document = sign(MANIFEST)
    assert document is not None and json.loads(document)["algorithm"] == "ed25519"
    assert verify(MANIFEST, document).status == VALID
    forged = json.loads(document)
    forged["algorithm"] = "ecdsa-p256-sha256"  # claims another algorithm than the key makes
    assert verify(MANIFEST, json.dumps(forged).encode()).status == TAMPERED
