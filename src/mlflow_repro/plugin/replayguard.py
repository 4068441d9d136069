"""In a process replay started, model registration is held back unless asked for.

A replay re-runs the user's job, which may register its model (`log_model(...,
registered_model_name=...)`, `mlflow.register_model`): every replay would add a version to the
user's registered model. Replay sets `MLFLOW_REPRO_REPLAY_OF` (the original run) for the
process it starts; the plugin, loaded at `import mlflow`, then wraps MLflow's one registration
function, `mlflow.tracking._model_registry.fluent._register_model`:

- by default the model is logged to the replay's run as usual but not registered (the call
  returns None, as `log_model` does without a name), and a line says so;
- with `MLFLOW_REPRO_REPLAY_REGISTER=1` (`reproduce --register`) it is registered, the version
  tagged `repro.replay.of` and described as a replay.

Verification compares the replay's logged model with the original's either way.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mlflow_repro.names import REPLAY_OF_TAG, REPLAY_OF_VAR, REPLAY_REGISTER_VAR

MODULE = "mlflow.tracking._model_registry.fluent"


def _wrap(module: Any) -> None:
    original = getattr(module, "_register_model", None)
    if original is None or getattr(original, "__mlflow_repro__", False):
        return
    replay_of = os.environ.get(REPLAY_OF_VAR, "")

    def _register_model(model_uri: Any, name: Any, *args: Any, **kwargs: Any) -> Any:
        if os.environ.get(REPLAY_REGISTER_VAR) != "1":
            print(
                f"mlflow-repro: replay of run {replay_of}: model {model_uri} not registered as "
                f"{name!r} (reproduce --register to register replays)",
                file=sys.stderr,
            )
            return None
        tags = dict(kwargs.pop("tags", None) or {})
        tags[REPLAY_OF_TAG] = replay_of
        version = original(model_uri, name, *args, tags=tags, **kwargs)
        try:
            from mlflow.tracking import MlflowClient

            MlflowClient().update_model_version(
                name, version.version, description=f"Replay of run {replay_of} (mlflow-repro)."
            )
        except Exception as exc:
            print(f"mlflow-repro: replay version not described: {exc}", file=sys.stderr)
        return version

    _register_model.__mlflow_repro__ = True  # type: ignore[attr-defined]
    module._register_model = _register_model


def install() -> None:
    """Hold registration back in this process when replay started it (never raises)."""
    if not os.environ.get(REPLAY_OF_VAR):
        return
    try:
        from mlflow_repro.plugin.importhook import after_import

        after_import(MODULE, _wrap)
    except Exception as exc:
        print(f"mlflow-repro: registration guard not installed: {exc}", file=sys.stderr)
