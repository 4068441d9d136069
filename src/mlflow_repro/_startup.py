"""Automatic seeding, installed when the plugin loads (at `import mlflow`).

Unseeded runs become reproducible without changing what a program does with a seed of its own:

- Generators imported *after* the plugin loads (PyTorch and TensorFlow, usually) are seeded, as
  they are imported, with one recorded 32-bit seed (MLFLOW_REPRO_SEED, else fresh).
- Generators imported *before* it loads (`random` and NumPy's legacy generator, which mlflow
  itself imports, and anything the user imported and maybe seeded first) are never reseeded:
  their state at plugin load is kept (`STATE.preloaded`), logged as `repro/seeds/rng_state.json`,
  and restored from that file when MLFLOW_REPRO_RNG_STATE names it (replay does).

Every seeding function is observed, so seeds the user sets later are recorded, never replaced.

It imports only `os` and `sys` at load (json on a replay, base64 when torch is loaded first), so
that it stays cheap wherever it is loaded. MLFLOW_REPRO_AUTO_SEED=0 (or MLFLOW_REPRO_DISABLE=1)
turns it off.
"""

from __future__ import annotations

import os
import sys

from mlflow_repro.names import AUTO_SEED_VAR, DISABLE_VAR, SEED_VAR, STATE_VAR

# mypy reads this block; at run time nothing from typing is imported (startup cost).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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
        self.preloaded: dict[str, Any] = {}  # imported before the plugin: name -> state at load,
        # as plain JSON data (None where a framework's state cannot be read: TensorFlow)
        self.restore: dict[str, Any] = {}  # states read from MLFLOW_REPRO_RNG_STATE
        self.restored: list[str] = []  # generators set from those states


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


def snapshot(name: str, module: Any) -> Any:
    """The generator's state as plain JSON data (None for one that cannot be read back)."""
    if name == "random":
        version, internal, gauss_next = module.getstate()
        return {"version": version, "internal": list(internal), "gauss_next": gauss_next}
    if name == "numpy.random":
        state = module.get_state(legacy=False)
        key = state["state"]["key"]
        return {**state, "state": {**state["state"], "key": [int(k) for k in key]}}
    if name == "torch":  # the CPU generator only: CUDA ones are not initialised at import mlflow
        import base64

        return {"cpu": base64.b64encode(module.get_rng_state().numpy().tobytes()).decode()}
    return None  # tensorflow: op seeds derive from a graph seed it does not expose


def _set_state(name: str, module: Any, state: Any) -> None:
    if name == "random":
        module.setstate((state["version"], tuple(state["internal"]), state["gauss_next"]))
    elif name == "numpy.random":
        module.set_state(state)
    elif name == "torch":
        import base64

        raw = bytearray(base64.b64decode(state["cpu"]))
        module.set_rng_state(module.frombuffer(raw, dtype=module.uint8).clone())
    else:
        raise ValueError(f"no state can be restored for {name}")


def _watch(name: str, module: Any) -> None:
    """Wrap the module's seeding function so that calls from user code are recorded."""
    if name in ("random", "numpy.random"):
        module.seed = _observe(f"{name}.seed", module.seed)
    elif name == "torch":
        module.manual_seed = _observe("torch.manual_seed", module.manual_seed)
    elif name == "tensorflow":
        random = module.random
        random.set_seed = _observe("tensorflow.random.set_seed", random.set_seed)


def _seed(name: str, module: Any) -> None:
    """Seed the generator with STATE.seed, and switch on its deterministic mode if asked."""
    if name in ("random", "numpy.random"):
        module.seed(STATE.seed)
    elif name == "torch":
        module.manual_seed(STATE.seed)
        if STATE.deterministic:
            make_deterministic("torch", module)
    elif name == "tensorflow":
        module.random.set_seed(STATE.seed)
        if STATE.deterministic:
            make_deterministic("tensorflow", module)


def _restore(name: str, module: Any) -> bool:
    """Set the generator to the state MLFLOW_REPRO_RNG_STATE holds for it, if any."""
    if STATE.restore.get(name) is None:
        return False
    _set_state(name, module, STATE.restore[name])
    STATE.restored.append(name)
    return True


def _seed_module(name: str, module: Any) -> None:
    """A generator module was just imported (after the plugin loaded): restore or seed it, and
    observe later seeding calls."""
    if STATE.seed is None:
        return
    STATE.seeding = True
    try:
        if not _restore(name, module):
            _seed(name, module)
            STATE.seeded.append(name)
        _watch(name, module)
    except Exception as exc:  # a generator we cannot seed stays as it was
        STATE.errors.append(f"seeding {name}: {type(exc).__name__}: {exc}")
    finally:
        STATE.seeding = False


def _keep_preloaded(name: str, module: Any) -> None:
    """A generator imported before the plugin loaded: never reseeded (the program may have seeded
    it); restored on replay, its state recorded, later seeding calls observed."""
    try:
        _restore(name, module)
        STATE.preloaded[name] = snapshot(name, module)
    except Exception as exc:
        STATE.errors.append(f"recording the state of {name}: {type(exc).__name__}: {exc}")
    try:
        _watch(name, module)
    except Exception as exc:
        STATE.errors.append(f"observing {name}'s seeding: {type(exc).__name__}: {exc}")


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


def _read_states() -> None:
    # Taken out of the environment: child processes must not all restart from this state.
    path = os.environ.pop(STATE_VAR, "").strip()
    if not path:
        return
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            states = json.load(handle)["generators"]
        if not isinstance(states, dict):
            raise ValueError("'generators' is not a mapping")
        STATE.restore = states
    except Exception as exc:
        STATE.errors.append(
            f"{STATE_VAR}={path!r} could not be read ({type(exc).__name__}: {exc}): generators "
            "keep their own state; pass the repro/seeds/rng_state.json of the run to replay"
        )


def install_hook() -> None:
    """Watch imports of the generator modules (idempotent)."""
    if not any(isinstance(f, SeedOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, SeedOnImport())


def install() -> None:
    flags = (os.environ.get(AUTO_SEED_VAR, "1"), os.environ.get(DISABLE_VAR, ""))
    if flags[0].strip().lower() in {"0", "false", "no"} or flags[1].strip().lower() in {
        "1",
        "true",
        "yes",
    }:
        return
    if any(isinstance(f, SeedOnImport) for f in sys.meta_path):
        return
    _choose_seed()
    _read_states()
    already = sorted(name for name in SeedOnImport.targets if name in sys.modules)
    install_hook()
    STATE.seeding = True
    try:
        for name in already:
            _keep_preloaded(name, sys.modules[name])
    finally:
        STATE.seeding = False


install()
