"""A model a regulator can verify: OpenSSF Model Signing (OMS v1.0) over a run's logged models.

With a team key configured (`MLFLOW_REPRO_SIGNING_KEY`, a P-256/384/521 key: `mlflow-repro
keygen`), each model the run logged is signed as the run ends, after its manifest is final:

- `mlflow-repro-manifest.json` is written into the model directory: the run's
  `repro/manifest.json`, byte for byte (it names the code, the lock, the data versions and the
  seeds, and the sha256 of every payload), so the model's signature binds the manifest too;
- `mlflow-repro-run.json` beside it names the run and the logged model signed (and the
  manifest's sha256): a signed model and manifest copied into another run do not pass there;
- `model.sig`, in the model directory, is the OMS signature (a Sigstore bundle holding a DSSE
  envelope whose in-toto statement lists every file of the model with its sha256), made with
  the `model_signing` library (`mlflow-repro[sign]`). It leaves out itself and
  `registered_model_meta`, which MLflow writes into a registered version's download.

Anyone can then check a model downloaded with MLflow's client, with no mlflow-repro installed:
`model_signing verify key MODEL_DIR --signature MODEL_DIR/model.sig --public_key team.pub`.
`audit` does the same and also checks that the copy is the run's manifest, naming any file that
changed. Both files are signing metadata: left out of `model.digest` and of replay's comparison
(`modelfiles.LOGGING_METADATA`). The run's tag `repro.model.signature` says what was done.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_repro.signing import KEY_VAR, key_file

SIGNATURE_FILE = "model.sig"
MANIFEST_COPY = "mlflow-repro-manifest.json"
BINDING_FILE = "mlflow-repro-run.json"
SIGN_SECONDS = 120.0  # how long ending a run waits for its models to be signed
IGNORED = (SIGNATURE_FILE, "registered_model_meta")
SIGNATURE_TAG = "repro.model.signature"
INSTALL = "pip install 'mlflow-repro[sign]' (or add model-signing to the project's dependencies)"


class NotSignable(Exception):
    """The configured key or this environment cannot make or check an OMS signature."""


def _library() -> Any:
    try:
        import model_signing
    except ImportError as exc:
        raise NotSignable(
            f"the model_signing library is not installed ({exc}); {INSTALL}"
        ) from None
    return model_signing


def _ec_key(path: Path, *, private: bool) -> None:
    """Raise NotSignable unless `path` holds the elliptic-curve key OMS needs."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from mlflow_repro.signing import is_private, load_key

    key = load_key(path)
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        raise NotSignable(
            f"{KEY_VAR} holds an Ed25519 key; OpenSSF Model Signing takes NIST P-256/384/521 keys "
            "only: make one with `mlflow-repro keygen` (the manifest signature takes it too)"
        )
    if private and not is_private(key):
        raise NotSignable(f"{KEY_VAR} holds a public key: signing needs the private key")


def check_signable(private_key: Path) -> None:
    """Raise NotSignable unless this environment and key can make an OMS signature (before any
    download)."""
    _library()
    _ec_key(private_key, private=True)


def sign_directory(
    model_dir: Path,
    manifest_bytes: bytes,
    private_key: Path,
    *,
    run_id: str = "",
    model_id: str = "",
) -> None:
    """Write the manifest copy, the run binding and the OMS signature into `model_dir`."""
    import hashlib
    import json

    lib = _library()
    _ec_key(private_key, private=True)
    (model_dir / MANIFEST_COPY).write_bytes(manifest_bytes)
    binding = {
        "run_id": run_id,
        "model_id": model_id,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
    }
    (model_dir / BINDING_FILE).write_text(json.dumps(binding, indent=1, sort_keys=True) + "\n")
    hashing = lib.hashing.Config().set_ignored_paths(paths=list(IGNORED))
    config = lib.signing.Config().use_elliptic_key_signer(private_key=private_key)
    config.set_hashing_config(hashing).sign(model_dir, model_dir / SIGNATURE_FILE)


@dataclass(frozen=True)
class ModelCheck:
    """One model's OMS signature, checked: `ok`, or the problems found (files named)."""

    model: str
    ok: bool
    detail: str
    changed: list[str] = field(default_factory=list)  # files whose content is not as signed


# model_signing's ValueError holds the repr of a list of messages, quotes escaped or not
_MISMATCH = re.compile(r"Hash mismatch for \\?'([^'\\]+)\\?'")
_LISTED = re.compile(r"(Extra|Missing) files (?:found )?in model \\?'[^']*?\\?': ([^'\"\\\]]+)")


def _named_files(message: str) -> list[str]:
    named = _MISMATCH.findall(message)
    for kind, files in _LISTED.findall(message):
        named += [f"{f.strip()} ({kind.lower()})" for f in files.split(",") if f.strip()]
    return named


def _public_pem(key_path: Path, into: Path) -> Path:
    """The public half of the key in `key_path` as a PEM file (model_signing's verifier reads
    public keys only; recording machines are configured with the private one)."""
    from cryptography.hazmat.primitives import serialization

    from mlflow_repro.signing import is_private, load_key

    key = load_key(key_path)
    if not is_private(key):
        return key_path
    public = into / "team.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return public


def verify_directory(
    model: str,
    model_dir: Path,
    manifest_bytes: bytes | None,
    key: Path,
    *,
    run_id: str | None = None,
    model_id: str | None = None,
) -> ModelCheck:
    """Check the OMS signature of a downloaded model directory with the team `key` (either
    half), that its manifest copy is `manifest_bytes` (the run's repro/manifest.json: None, when
    the run's manifest could not be read, is a failed check) and that it was signed for
    `run_id`'s model `model_id`. Raises NotSignable when the check cannot be made here (no
    library, an Ed25519 key)."""
    import json

    lib = _library()
    _ec_key(key, private=False)
    signature = model_dir / SIGNATURE_FILE
    if not signature.is_file():
        return ModelCheck(model, False, f"{model}: no {SIGNATURE_FILE}: the model is not signed")
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-key-") as tmp:
        public_key = _public_pem(key, Path(tmp))
        try:
            config = lib.verifying.Config().use_elliptic_key_verifier(public_key=public_key)
            config.verify(model_dir, signature)
        except Exception as exc:  # ValueError for a mismatch, others for a key or a bundle
            message = str(exc)
            named = _named_files(message)
            if named:
                detail = f"{model}: changed since it was signed: {', '.join(named)}"
            elif message.startswith("Signature mismatch"):
                detail = f"{model}: its files are not those signed ({message[:300]})"
            else:
                detail = (
                    f"{model}: the signature does not verify with the team key ({message[:300]})"
                )
            return ModelCheck(model, False, detail, named)
    copy, bound = model_dir / MANIFEST_COPY, model_dir / BINDING_FILE
    if not copy.is_file() or not bound.is_file():
        return ModelCheck(model, False, f"{model}: signed without the run's manifest and binding")
    if manifest_bytes is None:
        return ModelCheck(
            model, False, f"{model}: the run's manifest could not be read: the binding is unchecked"
        )
    if copy.read_bytes() != manifest_bytes:
        return ModelCheck(
            model,
            False,
            f"{model}: the run's repro/manifest.json is not the one its model's signature binds",
            ["repro/manifest.json"],
        )
    try:
        binding = json.loads(bound.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError):
        binding = {}
    for name, expected in (("run_id", run_id), ("model_id", model_id)):
        if expected is not None and binding.get(name) != expected:
            return ModelCheck(
                model,
                False,
                f"{model}: signed for {name} {binding.get(name)!r}, not {expected!r}: a model "
                "and manifest copied from another run",
                [BINDING_FILE],
            )
    return ModelCheck(model, True, f"{model}: OMS signature valid, manifest and run bound")


def logged_models(client: Any, run: Any) -> list[Any]:
    """Every model the run logged (MLflow 3 logged models whose source is the run; all pages)."""
    found: list[Any] = []
    token = None
    while True:
        page = client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
            page_token=token,
        )
        found += list(page)
        token = getattr(page, "token", None)
        if not token:
            return found


def download(client: Any, model: Any, into: Path) -> Path:
    import mlflow

    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location,
            dst_path=str(into),
            tracking_uri=client.tracking_uri,
        )
    )


def _sign_models(client: Any, run_id: str, private_key: Path) -> str | None:
    check_signable(private_key)  # before anything is downloaded
    run = client.get_run(run_id)
    models = logged_models(client, run)
    if not models:
        return None
    signed = 0
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-sign-") as tmp:
        manifest = Path(client.download_artifacts(run_id, "repro/manifest.json", tmp))
        manifest_bytes = manifest.read_bytes()
        try:
            for index, model in enumerate(models):
                local = download(client, model, Path(tmp) / f"m{index}")
                sign_directory(
                    local, manifest_bytes, private_key, run_id=run_id, model_id=model.model_id
                )
                for name in (MANIFEST_COPY, BINDING_FILE, SIGNATURE_FILE):
                    client.log_model_artifact(model.model_id, str(local / name))
                shutil.rmtree(local, ignore_errors=True)
                signed += 1
        except Exception as exc:
            raise RuntimeError(f"{signed} of {len(models)} model(s) signed, then: {exc}") from exc
    from mlflow_repro.signing import fingerprint, load_key

    return f"oms: {len(models)} model(s) signed by key {fingerprint(load_key(private_key))}"


def sign_run(client: Any, run_id: str, timeout: float = SIGN_SECONDS) -> str | None:
    """Sign every model run `run_id` logged (as the run ends; never raises, waits `timeout` at
    most: a store that hangs leaves the run's models unsigned, and the tag says nothing).
    Returns what the `repro.model.signature` tag now says, or None when no key is configured
    or no model was logged."""
    import sys
    import threading

    from mlflow_repro.secrets import redact_urls

    outcome: list[str | None] = []

    def work() -> None:
        try:
            private_key = key_file()
            if private_key is None:
                outcome.append(None)
                return
            value = _sign_models(client, run_id, private_key)
        except NotSignable as exc:
            value = f"not signed: {exc}"
        except Exception as exc:
            value = f"not signed: {type(exc).__name__}: {exc}"
        outcome.append(value)
        if value is None:
            return
        try:
            client.set_tag(run_id, SIGNATURE_TAG, redact_urls(value)[:5000])
        except Exception as exc:
            print(f"mlflow-repro: run {run_id}: {value} (tag not set: {exc})", file=sys.stderr)

    if not os.environ.get(KEY_VAR, "").strip():
        return None  # no key: nothing to do, and no thread
    thread = threading.Thread(target=work, daemon=True, name="mlflow-repro-sign")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        print(
            f"mlflow-repro: run {run_id}: its models are still being signed after {timeout:.0f} s; "
            "ending the run goes on (the signing, until the process exits)",
            file=sys.stderr,
        )
        return None
    return redact_urls(outcome[0]) if outcome and outcome[0] else None
