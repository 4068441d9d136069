"""What signing a model costs: OpenSSF Model Signing of the template's model and its manifest,
and verifying it, as ratios against logging that model with MLflow, measured in one run.

    uv run python benchmarks/signing_overhead.py [--repeats N]

The template's model (a 100-tree random forest on the breast-cancer table, skops format, as
`confs/training.yaml` trains it) is logged N times to an embedded sqlite store; each time the
logged model's directory is signed (`modelsign.sign_directory`: the manifest copy, the OMS
signature with a P-256 key) and verified (`modelsign.verify_directory`, as audit does), and the
manifest signature of a manifest-sized document is made and checked (`signing.sign`/`verify`).
Medians; the baseline is `mlflow.sklearn.log_model`. No target is asserted: the figures are
printed (machines here are noisy, only ratios within one run mean anything).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ["MLFLOW_REPRO_DISABLE"] = "1"  # the logging alone: no capture beside it
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import mlflow
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from mlflow_repro.modelsign import sign_directory, verify_directory
    from mlflow_repro.signing import KEY_VAR, generate, sign, verify

    x, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y)
    manifest = b'{"schema_version": 2, "payloads": "' + b"0" * 60_000 + b'"}\n'
    logged, signed, verified, manifests = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        private, public = generate(root / "keys" / "team.key")
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        mlflow.set_experiment("bench")
        for index in range(args.repeats):
            with mlflow.start_run():
                began = time.perf_counter()
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    serialization_format="skops",
                    skops_trusted_types=["sklearn.tree._tree.Tree"],
                    input_example=x[:2],
                )
                logged.append(time.perf_counter() - began)
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=info.model_uri, dst_path=str(root / f"dl{index}")
                )
            )
            began = time.perf_counter()
            sign_directory(local, manifest, private)
            signed.append(time.perf_counter() - began)
            began = time.perf_counter()
            check = verify_directory("model", local, manifest, public)
            verified.append(time.perf_counter() - began)
            assert check.ok, check.detail
            os.environ[KEY_VAR] = str(private)
            began = time.perf_counter()
            document = sign(manifest)
            os.environ[KEY_VAR] = str(public)
            assert verify(manifest, document).status == "valid"
            manifests.append(time.perf_counter() - began)
            del os.environ[KEY_VAR]
            shutil.rmtree(local, ignore_errors=True)
    base = statistics.median(logged)
    for label, times in (
        ("mlflow.sklearn.log_model (baseline)", logged),
        ("OMS sign: manifest copy + model.sig", signed),
        ("OMS verify, as audit does", verified),
        ("manifest signature: sign + verify", manifests),
    ):
        median = statistics.median(times)
        print(f"{label:40s} {median * 1000:8.1f} ms   ratio {median / base:5.2f}x baseline")


if __name__ == "__main__":
    main()
