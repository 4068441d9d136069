"""A model a regulator can verify: OpenSSF Model Signing (OMS v1.0) over a run's logged models.

With a team key configured (`MLFLOW_REPRO_SIGNING_KEY`, a P-256/384/521 key: `mlflow-repro
keygen`), each model the run logged is signed as the run ends, after its manifest is final:

- `mlflow-repro-manifest.json` is written into the model directory: the run's
  `repro/manifest.json`, byte for byte (it names the code, the lock, the data versions and the
  seeds, and the sha256 of every payload), so the model's signature binds the manifest too;
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

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_repro.signing import KEY_VAR, key_file

SIGNATURE_FILE = "model.sig"
MANIFEST_COPY = "mlflow-repro-manifest.json"
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


def sign_directory(model_dir: Path, manifest_bytes: bytes, private_key: Path) -> None:
    """Write the manifest copy and the OMS signature into `model_dir`."""
    lib = _library()
    _ec_key(private_key, private=True)
    (model_dir / MANIFEST_COPY).write_bytes(manifest_bytes)
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


def verify_directory(
    model: str, model_dir: Path, manifest_bytes: bytes | None, public_key: Path
) -> ModelCheck:
    """Check the OMS signature of a downloaded model directory with `public_key`, and that its
    manifest copy is `manifest_bytes` (the run's repro/manifest.json). Raises NotSignable when
    the check cannot be made here (no library, an Ed25519 key)."""
    lib = _library()
    _ec_key(public_key, private=False)
    signature = model_dir / SIGNATURE_FILE
    if not signature.is_file():
        return ModelCheck(model, False, f"{model}: no {SIGNATURE_FILE}: the model is not signed")
    try:
        config = lib.verifying.Config().use_elliptic_key_verifier(public_key=public_key)
        config.verify(model_dir, signature)
    except Exception as exc:  # the library raises ValueError for a mismatch, others for a key
        message = str(exc)
        named = _named_files(message)
        if named:
            detail = f"{model}: changed since it was signed: {', '.join(named)}"
        else:
            detail = f"{model}: the signature does not verify with the team key ({message[:300]})"
        return ModelCheck(model, False, detail, named)
    copy = model_dir / MANIFEST_COPY
    if not copy.is_file():
        return ModelCheck(model, False, f"{model}: signed without the run's manifest copy")
    if manifest_bytes is not None and copy.read_bytes() != manifest_bytes:
        return ModelCheck(
            model,
            False,
            f"{model}: the run's repro/manifest.json is not the one its model's signature binds",
            ["repro/manifest.json"],
        )
    return ModelCheck(model, True, f"{model}: OMS signature valid, manifest bound")


def logged_models(client: Any, run: Any) -> list[Any]:
    """The models the run logged (MLflow 3 logged models whose source is the run)."""
    return list(
        client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
        )
    )


def download(client: Any, model: Any, into: Path) -> Path:
    import mlflow

    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=model.artifact_location,
            dst_path=str(into),
            tracking_uri=client.tracking_uri,
        )
    )


def sign_run(client: Any, run_id: str) -> str | None:
    """Sign every model run `run_id` logged (as the run ends; never raises). Returns what the
    `repro.model.signature` tag now says, or None when no key is configured or no model was
    logged."""
    private_key = key_file()
    if private_key is None:
        return None
    try:
        run = client.get_run(run_id)
        models = logged_models(client, run)
        if not models:
            return None
        with tempfile.TemporaryDirectory(prefix="mlflow-repro-sign-") as tmp:
            manifest = Path(client.download_artifacts(run_id, "repro/manifest.json", tmp))
            manifest_bytes = manifest.read_bytes()
            for index, model in enumerate(models):
                local = download(client, model, Path(tmp) / f"m{index}")
                sign_directory(local, manifest_bytes, private_key)
                for name in (MANIFEST_COPY, SIGNATURE_FILE):
                    client.log_model_artifact(model.model_id, str(local / name))
                shutil.rmtree(local, ignore_errors=True)
        from mlflow_repro.signing import fingerprint, load_key

        value = f"oms: {len(models)} model(s) signed by key {fingerprint(load_key(private_key))}"
    except NotSignable as exc:
        value = f"not signed: {exc}"
    except Exception as exc:
        value = f"not signed: {type(exc).__name__}: {exc}"
    try:
        client.set_tag(run_id, SIGNATURE_TAG, value[:5000])
    except Exception as exc:
        import sys

        print(f"mlflow-repro: run {run_id}: {value} (tag not set: {exc})", file=sys.stderr)
    return value
