"""Run a function on a module as soon as it is imported (or now, if it already is).

The plugin adjusts two MLflow functions, only in the processes that need it (replayguard: model
registration in a replay; launchguard: `mlflow run` without pyenv). One finder on `sys.meta_path`
serves them, and it looks only at the module names registered here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

_WRAPS: dict[str, list[Callable[[Any], None]]] = {}


def _apply(name: str, module: Any) -> None:
    for wrap in _WRAPS.get(name, []):
        try:
            wrap(module)
        except Exception as exc:  # never break the user's import
            print(f"mlflow-repro: {name} not adjusted: {exc}", file=sys.stderr)


class _WrapAfterLoad:
    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        _apply(self._name, module)

    def __getattr__(self, item: str) -> Any:
        return getattr(self._loader, item)


class _Finder:
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _WRAPS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _WrapAfterLoad(spec.loader, fullname)  # type: ignore[assignment]
                return spec
        return None


def after_import(name: str, wrap: Callable[[Any], None]) -> None:
    """Call `wrap(module)` once module `name` is imported: now if it already is."""
    _WRAPS.setdefault(name, []).append(wrap)
    module = sys.modules.get(name)
    if module is not None:
        _apply(name, module)
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


class _ReadyCheck:
    """A finder that never finds anything: at each import it asks whether `ready()` holds yet,
    runs `action()` once it does, and leaves `sys.meta_path`. For a module MLflow is still
    loading when it loads the plugin (`mlflow.tracking.client` is half loaded then): the next
    import after it completes comes soon, during the rest of `import mlflow`."""

    def __init__(self, ready: Callable[[], bool], action: Callable[[], None]) -> None:
        self._ready, self._action = ready, action

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if self._ready():
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            self._action()
        return None


def when_ready(ready: Callable[[], bool], action: Callable[[], None]) -> None:
    """Call `action()` now if `ready()`, else at the first import after it becomes true."""
    if ready():
        action()
    else:
        sys.meta_path.insert(0, _ReadyCheck(ready, action))
