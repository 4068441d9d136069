"""The template's training job: fit a scikit-learn classifier and log everything to MLflow."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro.errors import DataError
from mlflow_repro.jobs.configs import (
    LogisticRegressionModel,
    RandomForestModel,
    TrainingJob,
)


@dataclass(frozen=True)
class TrainingResult:
    """What a finished training run produced."""

    run_id: str
    metrics: dict[str, float]
    model_uri: str
    registered_version: str | None


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(_flatten(f"{prefix}.{key}" if prefix else key, sub))
        return out
    return {prefix: value}


def _estimator(model: RandomForestModel | LogisticRegressionModel) -> Any:
    if isinstance(model, RandomForestModel):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=model.n_estimators,
            max_depth=model.max_depth,
            random_state=model.random_state,
            n_jobs=1,
        )
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=model.C, max_iter=model.max_iter, random_state=model.random_state),
    )


def load_table(job: TrainingJob) -> Any:
    """Read the training CSV, with a clear error when DVC has not materialised it."""
    import pandas as pd

    path = Path(job.data.path)
    if not path.is_file():
        raise DataError(
            f"training data '{path}' not found (working directory: {Path.cwd()}); "
            "it is versioned with DVC: run `just data` (dvc pull, or dvc repro when the "
            "remote is empty) and try again"
        )
    frame = pd.read_csv(path)
    if job.data.target not in frame.columns:
        raise DataError(
            f"training data '{path}' has no target column {job.data.target!r}; "
            f"columns are {list(frame.columns)[:10]}..."
        )
    return frame


def estimator_digest(estimator: Any) -> str:
    """sha256 of the estimator's pickle (protocol 4): equal for equal fitted models."""
    import hashlib
    import pickle

    return hashlib.sha256(pickle.dumps(estimator, protocol=4)).hexdigest()


def _dataset_source(path: str) -> Any:
    import warnings

    from mlflow.data.dataset_source_registry import resolve_dataset_source

    # A local path matches two equivalent registered sources; MLflow warns and picks one.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The specified dataset source")
        return resolve_dataset_source(str(Path(path).resolve()))


def run_training(job: TrainingJob, conf_file: str) -> TrainingResult:
    """Train, evaluate, log params/metrics/dataset/model to MLflow and register the model.

    Under `mlflow run` the run already exists (MLFLOW_RUN_ID) and is resumed; otherwise a new run
    is started in `job.experiment_name`.
    """
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature
    from sklearn import metrics
    from sklearn.model_selection import train_test_split

    frame = load_table(job)
    features = frame.drop(columns=[job.data.target])
    target = frame[job.data.target]
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        target,
        test_size=job.data.test_size,
        random_state=job.data.split_seed,
        stratify=target,
    )

    if "MLFLOW_RUN_ID" not in os.environ:
        mlflow.set_experiment(job.experiment_name)
    with mlflow.start_run(run_name=job.run_name) as run:
        mlflow.log_params(_flatten("", job.model_dump(mode="json")))
        mlflow.log_artifact(conf_file, artifact_path="config")
        dataset = from_pandas(
            frame,
            source=_dataset_source(job.data.path),
            targets=job.data.target,
            name=job.data.path,
        )
        mlflow.log_input(dataset, context="training")

        estimator = _estimator(job.model)
        estimator.fit(x_train, y_train)
        predicted = estimator.predict(x_test)
        scores = estimator.predict_proba(x_test)[:, 1]
        results = {
            "test_accuracy": float(metrics.accuracy_score(y_test, predicted)),
            "test_f1": float(metrics.f1_score(y_test, predicted)),
            "test_roc_auc": float(metrics.roc_auc_score(y_test, scores)),
            "train_accuracy": float(metrics.accuracy_score(y_train, estimator.predict(x_train))),
        }
        mlflow.log_metrics(results)
        # The skops file MLflow writes names its members after object ids, so its bytes differ
        # between identical models: this digest of the fitted estimator is what compares.
        mlflow.set_tag("model.digest", estimator_digest(estimator))

        info = mlflow.sklearn.log_model(
            estimator,
            name="model",
            # Class labels are integers; as float64 the schema also admits them without the
            # missing-values warning MLflow prints for integer columns.
            signature=infer_signature(x_test, predicted.astype("float64")),
            input_example=x_test.head(3),
            registered_model_name=job.registered_model_name,
            # Our own estimator, saved moments ago: its tree storage type is safe to reload.
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
        version = info.registered_model_version
        return TrainingResult(
            run_id=run.info.run_id,
            metrics=results,
            model_uri=(
                info.model_uri
                if version is None
                else f"models:/{job.registered_model_name}/{version}"
            ),
            registered_version=None if version is None else str(version),
        )
