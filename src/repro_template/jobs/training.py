"""The template's training job: fit a scikit-learn classifier and log everything to MLflow."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow_repro import seed_everything
from repro_template.errors import DataError
from repro_template.jobs.configs import (
    KerasMLPModel,
    LogisticRegressionModel,
    ModelConfig,
    NeuralNetModel,
    RandomForestModel,
    TorchMLPModel,
    TrainingJob,
)
from repro_template.jobs.neural import Fitted, fit_keras, fit_torch, require_framework


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


def _fit_sklearn(
    model: RandomForestModel | LogisticRegressionModel, x_train: Any, y_train: Any
) -> Fitted:
    estimator = _estimator(model)
    estimator.fit(x_train, y_train)

    def log_model(**kwargs: Any) -> Any:
        import mlflow.sklearn

        # Our own estimator, saved moments ago: its tree storage type is safe to reload.
        return mlflow.sklearn.log_model(
            estimator, skops_trusted_types=["sklearn.tree._tree.Tree"], **kwargs
        )

    return Fitted(
        scores=lambda x: estimator.predict_proba(x)[:, 1],
        # The pyfunc form predicts class labels; as float64 the schema also admits them without
        # the missing-values warning MLflow prints for integer columns.
        served=lambda x: estimator.predict(x).astype("float64"),
        log_model=log_model,
    )


def _fit(model: ModelConfig, x_train: Any, y_train: Any) -> Fitted:
    if isinstance(model, TorchMLPModel):
        return fit_torch(model, x_train.to_numpy("float32"), y_train.to_numpy())
    if isinstance(model, KerasMLPModel):
        return fit_keras(model, x_train.to_numpy("float32"), y_train.to_numpy())
    return _fit_sklearn(model, x_train, y_train)


def _model_input(model: ModelConfig, features: Any) -> Any:
    """What the logged model takes: the table for scikit-learn, float32 arrays for the MLPs."""
    if isinstance(model, TorchMLPModel | KerasMLPModel):
        return features.to_numpy("float32")
    return features


def logged_model_digest(model_uri: str) -> str:
    """`modelfiles.model_digest` of a logged model, read back from the artifact store."""
    import tempfile

    import mlflow

    from mlflow_repro import model_digest

    with tempfile.TemporaryDirectory(prefix="mlflow-repro-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
        return model_digest(local)


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

    require_framework(job.model, conf_file)
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

    if isinstance(job.model, NeuralNetModel):
        # Before the run starts, so that its manifest records this seed. PyTorch / TensorFlow,
        # imported later, are seeded and made deterministic as they load.
        seed_everything(job.model.seed, deterministic=job.model.deterministic)
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

        fitted = _fit(job.model, x_train, y_train)
        test_scores = fitted.scores(_model_input(job.model, x_test))
        train_scores = fitted.scores(_model_input(job.model, x_train))
        predicted = (test_scores >= 0.5).astype("int64")
        results = {
            "test_accuracy": float(metrics.accuracy_score(y_test, predicted)),
            "test_f1": float(metrics.f1_score(y_test, predicted)),
            "test_roc_auc": float(metrics.roc_auc_score(y_test, test_scores)),
            # continuous, unlike the three above: any change in the scores shows here
            "test_log_loss": float(metrics.log_loss(y_test, test_scores, labels=[0, 1])),
            "train_accuracy": float(
                metrics.accuracy_score(y_train, (train_scores >= 0.5).astype("int64"))
            ),
        }
        mlflow.log_metrics(results)
        example = _model_input(job.model, x_test)[:3]
        info = fitted.log_model(
            name="model",
            signature=infer_signature(example, fitted.served(example)),
            input_example=example,
            registered_model_name=job.registered_model_name,
        )
        # Equal for equal models: the hash of the logged files' content, with the object ids and
        # save times some formats write normalised (see mlflow_repro.modelfiles).
        mlflow.set_tag("model.digest", logged_model_digest(info.model_uri))
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
