"""mlflow-repro: make every MLflow run rebuildable.

The public API is what `__all__` lists; everything else is an implementation detail.
"""

from mlflow_repro.errors import ConfigError, DataError, LockError, PackageError, ReproError


def seed_everything(seed: int | None = None, *, deterministic: bool = True) -> int:
    """Seed Python, NumPy, PyTorch and TensorFlow; see `mlflow_repro.seeding.seed_everything`."""
    from mlflow_repro.seeding import seed_everything as _seed_everything

    return _seed_everything(seed, deterministic=deterministic)


__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "LockError",
    "PackageError",
    "ReproError",
    "__version__",
    "seed_everything",
]
