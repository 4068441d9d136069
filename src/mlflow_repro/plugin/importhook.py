"""Act on a module as soon as it is imported, or at the first import after a condition holds.

One finder on `sys.meta_path` serves the whole plugin, and it finds nothing itself:

- `after_import(name, wrap)`: `wrap(module)` once module `name` has been executed (now, if it is
  already imported). The guards use it (replayguard: model registration in a replay; launchguard:
  `mlflow run` without pyenv), and so does automatic seeding, for each generator module
  (`random`, `numpy.random`, `torch`, `tensorflow`) imported after the plugin loaded.
- `when_ready(ready, action)`: `action()` at the first import after `ready()` holds. MLflow loads
  the plugin while `mlflow.tracking.client` is half loaded: the create_run hook goes in as soon
  as it is complete, before any run.

At each import it looks at the module name in a dict (and, while an action waits, asks its
condition): nothing else. Only `sys` is imported at load.
"""

from __future__ import annotations

import sys

# mypy reads this block; at run time nothing from typing is imported (startup cost).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class _WrapAfterLoad:
    """A loader that runs the real one, then the wraps registered for the module it made."""

    def __init__(self, loader: Any, name: str, finder: ImportFinder) -> None:
        self._loader, self._name, self._finder = loader, name, finder

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._finder.apply(self._name, module)

    def __getattr__(self, item: str) -> Any:  # get_resource_reader, is_package, ...
        return getattr(self._loader, item)


class ImportFinder:
    """The plugin's one meta path finder (the process state holds it)."""

    def __init__(self) -> None:
        self.wraps: dict[str, list[Callable[[Any], None]]] = {}
        self.waiting: list[tuple[Callable[[], bool], Callable[[], None]]] = []
        self._busy: set[str] = set()  # names being looked up by the other finders

    def apply(self, name: str, module: Any) -> None:
        for wrap in list(self.wraps.get(name, ())):
            try:
                wrap(module)
            except Exception as exc:  # never break the user's import
                print(f"mlflow-repro: {name} not adjusted: {exc}", file=sys.stderr)

    def _run_ready(self) -> None:
        for item in list(self.waiting):
            ready, action = item
            try:
                if not ready():
                    continue
                if item in self.waiting:
                    self.waiting.remove(item)
                action()
            except Exception as exc:  # never break the user's import
                print(f"mlflow-repro: {exc}", file=sys.stderr)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if self.waiting:
            self._run_ready()
        if fullname not in self.wraps or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            for finder in list(sys.meta_path):
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy.discard(fullname)
        loader = getattr(spec, "loader", None)
        if loader is not None and hasattr(loader, "exec_module"):
            spec.loader = _WrapAfterLoad(loader, fullname, self)  # type: ignore[assignment]
        return spec

    def install(self) -> None:
        """First on `sys.meta_path` (idempotent)."""
        if not any(finder is self for finder in sys.meta_path):
            sys.meta_path.insert(0, self)

    def after_import(self, name: str, wrap: Callable[[Any], None], *, now: bool = True) -> None:
        """Call `wrap(module)` once module `name` is imported: now if it already is (unless
        `now=False`: then only at a later import of it)."""
        self.wraps.setdefault(name, []).append(wrap)
        module = sys.modules.get(name)
        if module is not None and now:
            try:
                wrap(module)
            except Exception as exc:  # never break the caller
                print(f"mlflow-repro: {name} not adjusted: {exc}", file=sys.stderr)
        self.install()

    def when_ready(self, ready: Callable[[], bool], action: Callable[[], None]) -> None:
        """Call `action()` now if `ready()`, else at the first import after it becomes true."""
        if ready():
            action()
            return
        self.waiting.append((ready, action))
        self.install()


def _finder() -> ImportFinder:
    from mlflow_repro.plugin.state import process

    return process().finder


def after_import(name: str, wrap: Callable[[Any], None], *, now: bool = True) -> None:
    """Call `wrap(module)` once module `name` is imported: now if it already is (unless
    `now=False`: then only at a later import of it)."""
    _finder().after_import(name, wrap, now=now)


def when_ready(ready: Callable[[], bool], action: Callable[[], None]) -> None:
    """Call `action()` now if `ready()`, else at the first import after it becomes true."""
    _finder().when_ready(ready, action)
