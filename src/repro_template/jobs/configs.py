"""Strict, frozen pydantic configs for the template's jobs, and the loader that reads them.

An unknown key, a wrong type or a missing file is a `ConfigError` that names the file and the
field, raised before any MLflow run is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic as pdt
import yaml

from repro_template.errors import ConfigError


class StrictModel(pdt.BaseModel):
    """Base for every config: unknown keys are errors, values are immutable."""

    model_config = pdt.ConfigDict(extra="forbid", frozen=True, strict=True)


class DataConfig(StrictModel):
    """Where the training table lives and how it is split."""

    path: str = "data/breast_cancer.csv"
    target: str = "target"
    test_size: Annotated[float, pdt.Field(gt=0.0, lt=1.0)] = 0.25
    split_seed: Annotated[int, pdt.Field(ge=0, le=2**32 - 1)] = 42


class RandomForestModel(StrictModel):
    """scikit-learn's RandomForestClassifier; `random_state` is the model's seed."""

    KIND: Literal["RandomForestClassifier"] = "RandomForestClassifier"
    n_estimators: Annotated[int, pdt.Field(ge=1)] = 100
    max_depth: Annotated[int, pdt.Field(ge=1)] | None = None
    random_state: Annotated[int, pdt.Field(ge=0, le=2**32 - 1)] = 42


class LogisticRegressionModel(StrictModel):
    """scikit-learn's LogisticRegression behind a StandardScaler."""

    KIND: Literal["LogisticRegression"] = "LogisticRegression"
    C: Annotated[float, pdt.Field(gt=0.0)] = 1.0
    max_iter: Annotated[int, pdt.Field(ge=1)] = 1000
    random_state: Annotated[int, pdt.Field(ge=0, le=2**32 - 1)] = 42


class NeuralNetModel(StrictModel):
    """A small multilayer perceptron; its seed goes to `seed_everything` before training."""

    hidden_units: Annotated[list[Annotated[int, pdt.Field(ge=1)]], pdt.Field(min_length=1)] = [
        32,
        16,
    ]
    epochs: Annotated[int, pdt.Field(ge=1)] = 30
    batch_size: Annotated[int, pdt.Field(ge=1)] = 32
    learning_rate: Annotated[float, pdt.Field(gt=0.0)] = 1e-3
    seed: Annotated[int, pdt.Field(ge=0, le=2**32 - 1)] = 42
    deterministic: bool = True


class TorchMLPModel(NeuralNetModel):
    """A PyTorch MLP (dependency group `torch`), logged with MLflow's pytorch flavour."""

    KIND: Literal["TorchMLP"] = "TorchMLP"


class KerasMLPModel(NeuralNetModel):
    """A Keras MLP on TensorFlow (dependency group `tensorflow`), logged with MLflow's
    tensorflow flavour."""

    KIND: Literal["KerasMLP"] = "KerasMLP"


ModelConfig = Annotated[
    RandomForestModel | LogisticRegressionModel | TorchMLPModel | KerasMLPModel,
    pdt.Field(discriminator="KIND"),
]


class TrainingJob(StrictModel):
    """Train a classifier on the DVC-tracked table, log it to MLflow and register it."""

    KIND: Literal["TrainingJob"] = "TrainingJob"
    experiment_name: str = "mlflow-repro"
    run_name: str = "training"
    registered_model_name: str | None = "mlflow-repro-classifier"
    data: DataConfig = DataConfig()
    model: ModelConfig = RandomForestModel()


JobConfig = Annotated[TrainingJob, pdt.Field(discriminator="KIND")]


class Config(StrictModel):
    """A whole config file: one job under the key `job`."""

    job: JobConfig


# Pydantic puts the KIND of a tagged-union member into an error's location
# (job.TrainingJob.model...); the user wrote job.model..., so those parts are left out.
_KINDS = {
    kind.model_fields["KIND"].default
    for kind in (
        TrainingJob,
        RandomForestModel,
        LogisticRegressionModel,
        TorchMLPModel,
        KerasMLPModel,
    )
}


def _describe(error: Any) -> str:
    parts = [str(part) for part in error["loc"] if part not in _KINDS]
    where = ".".join(parts) or "<top level>"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key (allowed keys are the fields of the section it sits in)"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    return f"{where}: {error['msg']} (got {error['input']!r})"


def load_config(path: str | Path) -> Config:
    """Read and validate one YAML config file.

    Raises ConfigError naming the file and each offending field.
    """
    shown = str(path)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            shown,
            [
                f"file not found (working directory: {Path.cwd()}); pass a path to a YAML file "
                "such as confs/training.yaml"
            ],
        )
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(shown, [f"cannot be read as YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            shown, [f"top level must be a mapping with the key 'job', got {type(raw).__name__}"]
        )
    try:
        return Config.model_validate(raw)
    except pdt.ValidationError as exc:
        raise ConfigError(shown, [_describe(e) for e in exc.errors()]) from exc
