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

from mlflow_repro.names import REPLAY_OF_VAR, REPLAY_REGISTER_VAR

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
        tags["repro.replay.of"] = replay_of
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


class _WrapAfterLoad:
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        try:
            _wrap(module)
        except Exception as exc:  # never break the user's import
            print(f"mlflow-repro: registration guard not installed: {exc}", file=sys.stderr)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._loader, item)


class _Finder:
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _WrapAfterLoad(spec.loader)  # type: ignore[assignment]
                return spec
        return None


def install() -> None:
    """Hold registration back in this process when replay started it (never raises)."""
    if not os.environ.get(REPLAY_OF_VAR):
        return
    try:
        module = sys.modules.get(MODULE)
        if module is not None:
            _wrap(module)
        elif not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())
    except Exception as exc:
        print(f"mlflow-repro: registration guard not installed: {exc}", file=sys.stderr)
