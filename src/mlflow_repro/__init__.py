"""mlflow-repro: make every MLflow run rebuildable.

The public API is what `__all__` lists; everything else is an implementation detail.
"""

from mlflow_repro.errors import ConfigError, DataError, LockError, PackageError, ReproError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "LockError",
    "PackageError",
    "ReproError",
    "__version__",
]
