"""Capture settings, read from environment variables once per process."""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlflow_repro.names import DISABLE_VAR


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    max_diff_bytes: int = 5 * 2**20
    max_untracked_file_bytes: int = 2**20
    max_untracked_total_bytes: int = 10 * 2**20
    max_untracked_files: int = 500
    # repro/pylock.toml: about 0.1 MB per 20 locked packages (every wheel of every platform);
    # 0.9 MB for this project's template, 1 MB with its torch and tensorflow groups
    max_pylock_bytes: int = 8 * 2**20
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            enabled=os.environ.get(DISABLE_VAR, "").strip().lower() not in {"1", "true", "yes"},
            max_diff_bytes=_int("MLFLOW_REPRO_MAX_DIFF_BYTES", cls.max_diff_bytes),
            max_untracked_file_bytes=_int(
                "MLFLOW_REPRO_MAX_UNTRACKED_FILE_BYTES", cls.max_untracked_file_bytes
            ),
            max_untracked_total_bytes=_int(
                "MLFLOW_REPRO_MAX_UNTRACKED_TOTAL_BYTES", cls.max_untracked_total_bytes
            ),
            max_untracked_files=_int("MLFLOW_REPRO_MAX_UNTRACKED_FILES", cls.max_untracked_files),
            max_pylock_bytes=_int("MLFLOW_REPRO_MAX_PYLOCK_BYTES", cls.max_pylock_bytes),
            timeout_seconds=_float("MLFLOW_REPRO_TIMEOUT_SECONDS", cls.timeout_seconds),
        )
