"""Tamper evidence: a signature over a run's manifest, made with a team key.

A payload hash only catches accidents: whoever can edit a run's artifacts can edit the manifest's
hashes too. A signature made with a key the artifact store never sees cannot be redone there.

`MLFLOW_REPRO_SIGNING_KEY` names a PEM key file. A private key (`mlflow-repro keygen`) lets
capture sign: `repro/manifest.sig` holds the signature of the exact bytes of
`repro/manifest.json` (which names every payload's sha256, so the payloads are covered too). A
public key is enough to verify (audit, replay). Signing never breaks a run: a key that cannot be
read becomes a capture error. `cryptography` comes with mlflow; nothing is added.

One key type for both signatures: an elliptic-curve key on NIST P-256 (P-384 and P-521 too), the
kind OpenSSF Model Signing accepts, so the same team key signs the manifest (ECDSA, here) and the
model (`modelsign.py`, in the OMS format any `model_signing` verifies). Ed25519 keys, which
`keygen` made before, still sign and verify manifests (ECDSA and Ed25519 are told apart by the
signature document's `algorithm`), but OMS does not accept them: with one, models are not
signed and audit says why.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro.errors import UsageError

KEY_VAR = "MLFLOW_REPRO_SIGNING_KEY"
SIGNATURE_ARTIFACT = "repro/manifest.sig"
ALGORITHM = "ed25519"  # the manifest signature of an Ed25519 key (before P-256 keys)
ECDSA = {
    "secp256r1": "ecdsa-p256-sha256",
    "secp384r1": "ecdsa-p384-sha384",
    "secp521r1": "ecdsa-p521-sha512",
}  # curve name -> the algorithm named in manifest.sig

# SignatureCheck.status
UNSIGNED = "unsigned"  # no signature logged
VALID = "valid"  # signed with the configured key, manifest unchanged since
TAMPERED = "tampered"  # the signature does not match the manifest (or another key signed it)
UNVERIFIED = "unverified"  # signed, but no key is configured here to check it


@dataclass(frozen=True)
class SignatureCheck:
    status: str
    detail: str
    key_fingerprint: str | None = None  # sha256 (16 hex) of the public key that signed


def key_file() -> Path | None:
    """The configured key file, or None when no team key is configured."""
    value = os.environ.get(KEY_VAR, "").strip()
    return Path(value).expanduser() if value else None


def load_key(path: Path) -> Any:
    """The key in `path`: a P-256/384/521 or Ed25519 private or public key (PEM); UsageError
    otherwise."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"the signing key file cannot be read ({exc.strerror})",
            value=str(path),
            hint=f"point {KEY_VAR} at a key made by `mlflow-repro keygen`",
        ) from None
    key: Any = None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            key = None
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name not in ECDSA:
            raise UsageError(
                f"the signing key is on curve {key.curve.name}; P-256, P-384 or P-521 is needed",
                value=str(path),
                hint=f"point {KEY_VAR} at a key made by `mlflow-repro keygen`",
            )
        return key
    if not isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        raise UsageError(
            "the signing key file holds no P-256 (or P-384, P-521, Ed25519) key in PEM form",
            value=str(path),
            hint=f"point {KEY_VAR} at a key made by `mlflow-repro keygen`",
        )
    return key


def is_private(key: Any) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    return isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)


def public_of(key: Any) -> Any:
    return key.public_key() if is_private(key) else key


def algorithm_of(key: Any) -> str:
    """The signature algorithm a key makes: `ecdsa-p256-sha256` (P-256), ..., or `ed25519`."""
    from cryptography.hazmat.primitives.asymmetric import ec

    public = public_of(key)
    return ECDSA[public.curve.name] if isinstance(public, ec.EllipticCurvePublicKey) else ALGORITHM


def _hash_of(algorithm: str) -> Any:
    from cryptography.hazmat.primitives import hashes

    made = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
    return made[algorithm.rsplit("-", 1)[1]]


def _public_bytes(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public = public_of(key)
    if isinstance(public, ec.EllipticCurvePublicKey):  # the uncompressed point
        point: bytes = public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return point
    raw: bytes = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw


def fingerprint(key: Any) -> str:
    return hashlib.sha256(_public_bytes(key)).hexdigest()[:16]


def sign(manifest_bytes: bytes) -> bytes | None:
    """The signature document for `manifest_bytes`, or None when no key is configured.

    Raises UsageError when the configured file is unreadable or holds only a public key.
    """
    from cryptography.hazmat.primitives.asymmetric import ec

    path = key_file()
    if path is None:
        return None
    key = load_key(path)
    if not is_private(key):
        raise UsageError(
            "the signing key file holds a public key: capture needs the private key to sign",
            value=str(path),
            hint=f"point {KEY_VAR} at the private key where runs are recorded",
        )
    algorithm = algorithm_of(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(manifest_bytes, ec.ECDSA(_hash_of(algorithm)))
    else:
        signature = key.sign(manifest_bytes)
    document = {
        "algorithm": algorithm,
        "key": fingerprint(key),
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")


def verify(manifest_bytes: bytes, signature_document: bytes | None) -> SignatureCheck:
    """Check a logged signature against the configured key.

    Raises UsageError only when the configured key file is unusable (that is the caller's
    setup, not the run's state).
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    path = key_file()
    key = load_key(path) if path is not None else None
    if signature_document is None:
        return SignatureCheck(UNSIGNED, "no repro/manifest.sig was logged")
    try:
        document = json.loads(signature_document.decode("utf-8"))
        signed_by = str(document["key"])
        raw = base64.b64decode(str(document["signature"]), validate=True)
        algorithm = document.get("algorithm")
        if algorithm not in (ALGORITHM, *ECDSA.values()):
            raise ValueError(f"algorithm {algorithm!r}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return SignatureCheck(TAMPERED, f"repro/manifest.sig is not a signature ({exc})")
    if key is None:
        return SignatureCheck(
            UNVERIFIED, f"signed by key {signed_by}, but {KEY_VAR} is not set here", signed_by
        )
    public = public_of(key)
    team = fingerprint(key)
    if signed_by != team:
        detail = f"signed by key {signed_by}, not by the team key {team}"
        return SignatureCheck(TAMPERED, detail, signed_by)
    if algorithm != algorithm_of(key):
        detail = f"signed as {algorithm}, but the team key makes {algorithm_of(key)} signatures"
        return SignatureCheck(TAMPERED, detail, signed_by)
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(raw, manifest_bytes, ec.ECDSA(_hash_of(algorithm)))
        else:
            public.verify(raw, manifest_bytes)
    except InvalidSignature:
        return SignatureCheck(TAMPERED, "the manifest was changed after it was signed", signed_by)
    return SignatureCheck(VALID, f"signed by the team key {signed_by}", signed_by)


def generate(private_path: Path) -> tuple[Path, Path]:
    """Write a new P-256 key pair (PEM, the kind OpenSSF Model Signing accepts):
    `private_path` (PKCS#8, mode 0600) and `<private_path>.pub` (SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise UsageError(
                "the key file already exists; not overwriting a key",
                value=str(path),
                hint="choose another path, or remove the old key if you mean to replace it",
            )
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    public_path.write_bytes(public)
    return private_path, public_path
