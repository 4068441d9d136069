"""The template's neural-network models: a small MLP in PyTorch or in Keras (TensorFlow).

Both standardise the features inside the model (so the logged model takes the raw table) and
return a `Fitted`: scores for the positive class and a function that logs the model with MLflow's
flavour. The job seeds (`seed_everything(seed, deterministic=...)`) before the run starts, so
that the manifest records that seed; a framework imported afterwards is seeded as it loads.
PyTorch and TensorFlow are optional dependency groups of uv.lock; the command line installs a
missing one from the lock before the run starts (`prerequisites.ensure_framework`).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from repro_template.errors import ConfigError
from repro_template.jobs.configs import KerasMLPModel, TorchMLPModel
from repro_template.jobs.prerequisites import FRAMEWORKS


@dataclass(frozen=True)
class Fitted:
    """A trained model: positive-class scores, what its logged form's `predict` returns (for the
    signature), and how to log it (kwargs for the flavour's `log_model`)."""

    scores: Callable[[Any], Any]
    served: Callable[[Any], Any]
    log_model: Callable[..., Any]


def require_framework(model: Any, conf_file: str) -> None:
    """Fail before any run is touched when the config's framework is not installed (the command
    line installs it from uv.lock first: `prerequisites.ensure_framework`)."""
    if model.KIND not in FRAMEWORKS:
        return
    module, group, _, _ = FRAMEWORKS[model.KIND]
    if importlib.util.find_spec(module) is None:
        raise ConfigError(
            conf_file,
            [
                f"job.model.KIND: {model.KIND} needs {module}, which is not installed for "
                f"{sys.executable}. Install it from uv.lock with `just install-frameworks` "
                f"(dependency group '{group}'), then run `just train {conf_file} local`"
            ],
        )


def _standardise(x_train: Any) -> tuple[Any, Any]:
    import numpy as np

    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale = np.where(scale == 0.0, 1.0, scale)
    return mean.astype("float32"), scale.astype("float32")


def fit_torch(model: TorchMLPModel, x_train: Any, y_train: Any) -> Fitted:
    """Train with Adam on BCE-with-logits; shuffling follows the seed (a seeded Generator)."""
    import torch

    from mlflow_repro import torch_generator

    mean, scale = _standardise(x_train)

    class Standardise(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.from_numpy(mean))
            self.register_buffer("scale", torch.from_numpy(scale))

        def forward(self, x: Any) -> Any:
            return (x - self.mean) / self.scale

    layers: list[Any] = [Standardise()]
    width = x_train.shape[1]
    for units in model.hidden_units:
        layers += [torch.nn.Linear(width, units), torch.nn.ReLU()]
        width = units
    layers.append(torch.nn.Linear(width, 1))
    network = torch.nn.Sequential(*layers)

    features = torch.from_numpy(x_train)
    labels = torch.from_numpy(y_train.astype("float32")).unsqueeze(1)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(features, labels),
        batch_size=model.batch_size,
        shuffle=True,
        generator=torch_generator(model.seed),
    )
    optimiser = torch.optim.Adam(network.parameters(), lr=model.learning_rate)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    network.train()
    for _ in range(model.epochs):
        for batch, target in loader:
            optimiser.zero_grad()
            loss_fn(network(batch), target).backward()
            optimiser.step()
    network.eval()
    served = torch.nn.Sequential(network, torch.nn.Sigmoid())  # the logged model gives P(y=1)

    def scores(x: Any) -> Any:
        with torch.no_grad():
            return served(torch.from_numpy(x)).squeeze(1).numpy()

    def log_model(**kwargs: Any) -> Any:
        import mlflow.pytorch

        return mlflow.pytorch.log_model(served, **kwargs)

    return Fitted(scores=scores, served=scores, log_model=log_model)


def fit_keras(model: KerasMLPModel, x_train: Any, y_train: Any) -> Fitted:
    """Train with Adam on binary cross-entropy; `fit` shuffles with TensorFlow's seeded ops."""
    import tensorflow as tf

    mean, scale = _standardise(x_train)
    layers: list[Any] = [
        tf.keras.Input(shape=(x_train.shape[1],)),
        tf.keras.layers.Normalization(mean=mean, variance=scale**2),
    ]
    layers += [tf.keras.layers.Dense(units, activation="relu") for units in model.hidden_units]
    layers.append(tf.keras.layers.Dense(1, activation="sigmoid"))
    network = tf.keras.Sequential(layers)
    network.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=model.learning_rate),
        loss="binary_crossentropy",
    )
    network.fit(
        x_train,
        y_train.astype("float32"),
        epochs=model.epochs,
        batch_size=model.batch_size,
        shuffle=True,
        verbose=0,
    )

    def scores(x: Any) -> Any:
        return network.predict(x, verbose=0)[:, 0]

    def log_model(**kwargs: Any) -> Any:
        import mlflow.tensorflow

        return mlflow.tensorflow.log_model(network, **kwargs)

    return Fitted(scores=scores, served=scores, log_model=log_model)
