"""Automatic seeding, installed when the plugin loads (at `import mlflow`).

Unseeded runs become reproducible: each random number generator is seeded with one recorded
32-bit seed, either when the plugin loads (generators already imported by then, such as `random`
and NumPy's, which mlflow itself imports) or as it is imported later (PyTorch, TensorFlow). A seed
the user sets afterwards replaces ours as it always would, and the seeding call is observed and
recorded, so the manifest names the seed in effect. Replay sets MLFLOW_REPRO_SEED to the recorded
seed and gets the same streams.

Known gap: a seed set *before* `import mlflow` cannot be seen, and is replaced by ours. Seed after
importing mlflow, call `seed_everything`, or set MLFLOW_REPRO_AUTO_SEED=0. (An interpreter-start
hook, a `.pth` file, would close the gap; see docs/architecture.md for why it is not used yet.)

It imports only `os` and `sys`, so that it stays cheap wherever it is loaded.
MLFLOW_REPRO_AUTO_SEED=0 (or MLFLOW_REPRO_DISABLE=1) turns it off.
"""

from __future__ import annotations

import os
import sys

# mypy reads this block; at run time nothing from typing is imported (startup cost).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SEED_VAR = "MLFLOW_REPRO_SEED"
AUTO_SEED_VAR = "MLFLOW_REPRO_AUTO_SEED"
MAX_SEED = 2**32 - 1


class State:
    """What automatic seeding did in this process (read by capture/seeds.py)."""

    def __init__(self) -> None:
        self.seed: int | None = None
        self.source = "none"  # "environment" (MLFLOW_REPRO_SEED), "fresh", or "none"
        self.seeded: list[str] = []  # modules seeded with `seed`, in import order
        self.user_calls: list[tuple[str, str]] = []  # (function, repr(seed)) from user code
        self.errors: list[str] = []
        self.seeding = False  # True while we call a seeding function ourselves
        self.deterministic = False  # set by seed_everything(deterministic=True): frameworks
        # imported afterwards get their deterministic mode at import, with their seed


STATE = State()


def _observe(name: str, original: object) -> object:
    """Wrap a seeding function so that calls from user code are recorded, then passed on."""

    def seed(*args: object, **kwargs: object) -> object:
        if not STATE.seeding:
            value = args[0] if args else next(iter(kwargs.values()), None)
            STATE.user_calls.append((name, repr(value)))
        return original(*args, **kwargs)  # type: ignore[operator]

    for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:  # noqa: SIM105 (contextlib is not loaded at interpreter start: keep startup cheap)
            setattr(seed, attribute, getattr(original, attribute))
        except (AttributeError, TypeError):
            pass
    seed.__wrapped__ = original  # type: ignore[attr-defined]
    return seed


def make_deterministic(name: str, module: Any) -> None:
    """Switch a framework to its deterministic algorithms (the one place that knows how)."""
    if name == "torch":
        module.use_deterministic_algorithms(True)
        module.backends.cudnn.deterministic = True
        module.backends.cudnn.benchmark = False
    elif name == "tensorflow":
        module.config.experimental.enable_op_determinism()


def _seed_module(name: str, module: object) -> None:
    """Seed the freshly imported generator module and observe later seeding calls."""
    if STATE.seed is None:
        return
    STATE.seeding = True
    try:
        if name == "random":
            module.seed(STATE.seed)  # type: ignore[attr-defined]
            module.seed = _observe("random.seed", module.seed)  # type: ignore[attr-defined]
        elif name == "numpy.random":
            module.seed(STATE.seed)  # type: ignore[attr-defined]
            module.seed = _observe("numpy.random.seed", module.seed)  # type: ignore[attr-defined]
        elif name == "torch":
            module.manual_seed(STATE.seed)  # type: ignore[attr-defined]
            if STATE.deterministic:
                make_deterministic("torch", module)
            module.manual_seed = _observe(  # type: ignore[attr-defined]
                "torch.manual_seed",
                module.manual_seed,  # type: ignore[attr-defined]
            )
        elif name == "tensorflow":
            random = module.random  # type: ignore[attr-defined]
            random.set_seed(STATE.seed)
            if STATE.deterministic:
                make_deterministic("tensorflow", module)
            random.set_seed = _observe("tensorflow.random.set_seed", random.set_seed)
        STATE.seeded.append(name)
    except Exception as exc:  # a generator we cannot seed stays as it was
        STATE.errors.append(f"seeding {name}: {type(exc).__name__}: {exc}")
    finally:
        STATE.seeding = False


class _SeedAfterLoad:
    """A loader that runs the real one, then seeds the module it made."""

    def __init__(self, loader: object, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: object) -> object:
        return self._loader.create_module(spec)  # type: ignore[attr-defined]

    def exec_module(self, module: object) -> None:
        self._loader.exec_module(module)  # type: ignore[attr-defined]
        _seed_module(self._name, module)

    def __getattr__(self, item: str) -> object:  # get_resource_reader, is_package, ...
        return getattr(self._loader, item)


class SeedOnImport:
    """A meta path finder that finds nothing itself: it wraps the real loader of the generator
    modules it watches."""

    targets = frozenset({"random", "numpy.random", "torch", "tensorflow"})

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.targets or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            finders: list[Any] = list(sys.meta_path)
            for finder in finders:
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
            spec.loader = _SeedAfterLoad(loader, fullname)
        return spec


def _choose_seed() -> None:
    raw = os.environ.get(SEED_VAR, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if 0 <= value <= MAX_SEED:
            STATE.seed, STATE.source = value, "environment"
            return
        STATE.errors.append(f"{SEED_VAR}={raw!r} is not an integer in [0, {MAX_SEED}]: ignored")
    STATE.seed, STATE.source = int.from_bytes(os.urandom(4), "little"), "fresh"


def install_hook() -> None:
    """Watch imports of the generator modules (idempotent)."""
    if not any(isinstance(f, SeedOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, SeedOnImport())


def install() -> None:
    flags = (os.environ.get(AUTO_SEED_VAR, "1"), os.environ.get("MLFLOW_REPRO_DISABLE", ""))
    if flags[0].strip().lower() in {"0", "false", "no"} or flags[1].strip().lower() in {
        "1",
        "true",
        "yes",
    }:
        return
    if any(isinstance(f, SeedOnImport) for f in sys.meta_path):
        return
    _choose_seed()
    already = [name for name in SeedOnImport.targets if name in sys.modules]
    install_hook()
    for name in already:  # imported before the plugin loaded: seed them now
        _seed_module(name, sys.modules[name])


install()
