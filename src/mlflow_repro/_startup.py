"""Automatic seeding, installed when the plugin loads (at `import mlflow`), and the seed ledger.

Unseeded runs become reproducible without changing what a program does with a seed of its own:

- Generators imported *after* the plugin loads (PyTorch and TensorFlow, usually) are seeded, as
  they are imported, with one recorded 32-bit seed (MLFLOW_REPRO_SEED, else fresh).
- Generators imported *before* it loads (`random` and NumPy's legacy generator, which mlflow
  itself imports, and anything the user imported and maybe seeded first) are never reseeded:
  their state at plugin load is kept (`LEDGER.preloaded`), logged as `repro/seeds/rng_state.json`,
  and restored from that file when MLFLOW_REPRO_RNG_STATE names it (replay does).

Every seeding function is observed, so seeds the user sets later are recorded, never replaced.
What happened is kept in one `Ledger` (`LEDGER`): this module, `seed_everything` and the
resumed-run capture write it through its methods; `capture/seeds.py` reads it.

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


class SeedEverything:
    """The last `seed_everything` call of this process."""

    def __init__(
        self, seed: int, source: str, deterministic: bool, seeded: list[str], mark: int
    ) -> None:
        self.seed = seed
        self.source = source  # "argument", "environment" or "fresh"
        self.deterministic = deterministic
        self.seeded = seeded  # generators it seeded itself (those already imported)
        self.mark = mark  # len(Ledger.seeded) at the call: generators seeded later follow it


class _Ours:
    """`with LEDGER.ours():` seeding calls made inside are mlflow-repro's, not the user's."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __enter__(self) -> None:
        self._ledger._ours += 1

    def __exit__(self, *exc: object) -> None:
        self._ledger._ours -= 1


class Ledger:
    """Everything about seeding in this process. Read its attributes; write through its methods."""

    def __init__(self) -> None:
        self.seed: int | None = None  # the seed in effect for generators imported from now on
        self.source = "none"  # "environment" (MLFLOW_REPRO_SEED), "fresh", or "none"
        self.deterministic = False  # frameworks imported from now on get their deterministic mode
        self.seeded: list[str] = []  # generators seeded as they were imported, in import order
        # Imported before the plugin: name -> state at load, as plain JSON data (None where a
        # framework's state cannot be read: TensorFlow).
        self.preloaded: dict[str, Any] = {}
        self.restore: dict[str, Any] = {}  # states read from MLFLOW_REPRO_RNG_STATE
        self.restored: list[str] = []  # generators set from those states
        self.user_calls: list[tuple[str, str]] = []  # (function, repr(seed)) from user code
        self.errors: list[str] = []
        self.explicit: SeedEverything | None = None
        # Taken as a resumed run's capture starts (at `import mlflow`): the capture thread must
        # not read generators the job is already drawing from.
        self.run_start_fingerprint: str | None = None
        self._ours = 0

    @property
    def seeding(self) -> bool:
        """True while mlflow-repro itself calls a seeding function."""
        return self._ours > 0

    def ours(self) -> _Ours:
        return _Ours(self)

    def choose_seed(self, seed: int, source: str) -> None:
        self.seed, self.source = seed, source

    def add_error(self, message: str) -> None:
        self.errors.append(message)

    def add_seeded(self, name: str) -> None:
        self.seeded.append(name)

    def add_preloaded(self, name: str, state: Any) -> None:
        self.preloaded[name] = state

    def expect_states(self, states: dict[str, Any]) -> None:
        self.restore = states

    def add_restored(self, name: str) -> None:
        self.restored.append(name)

    def add_user_call(self, function: str, seed: str) -> None:
        self.user_calls.append((function, seed))

    def record_seed_everything(
        self, seed: int, source: str, deterministic: bool, seeded: list[str]
    ) -> None:
        # Generators imported from now on get this seed (and deterministic mode) as they load;
        # a replay's recorded load-time states no longer apply.
        self.seed, self.deterministic, self.restore = seed, deterministic, {}
        self.explicit = SeedEverything(seed, source, deterministic, seeded, len(self.seeded))

    def mark_run_start(self, fingerprint: str) -> None:
        self.run_start_fingerprint = fingerprint


LEDGER = Ledger()


def _observe(name: str, original: object) -> object:
    """Wrap a seeding function so that calls from user code are recorded, then passed on."""

    def seed(*args: object, **kwargs: object) -> object:
        if not LEDGER.seeding:
            value = args[0] if args else next(iter(kwargs.values()), None)
            LEDGER.add_user_call(name, repr(value))
        return original(*args, **kwargs)  # type: ignore[operator]

    for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
        try:  # noqa: SIM105 (contextlib is not loaded at interpreter start: keep startup cost low)
            setattr(seed, attribute, getattr(original, attribute))
        except (AttributeError, TypeError):
            pass
    seed.__wrapped__ = original  # type: ignore[attr-defined]
    return seed


class Generator:
    """One generator module and how to seed, observe, snapshot and restore it."""

    name = ""
    seeder: tuple[str, ...] = ("seed",)  # the seeding function's attribute path in the module

    def _owner(self, module: Any) -> Any:
        for attribute in self.seeder[:-1]:
            module = getattr(module, attribute)
        return module

    def seed(self, module: Any, seed: int) -> None:
        getattr(self._owner(module), self.seeder[-1])(seed)

    def seed_everything(self, module: Any, seed: int) -> None:
        """Seed for `seed_everything`: also whatever the framework seeds beside the generator."""
        self.seed(module, seed)

    def make_deterministic(self, module: Any) -> None:
        """Switch the framework to its deterministic algorithms (nothing to do for most)."""

    def watch(self, module: Any) -> None:
        """Wrap the seeding function so that calls from user code are recorded."""
        owner, attribute = self._owner(module), self.seeder[-1]
        label = ".".join((self.name, *self.seeder))
        setattr(owner, attribute, _observe(label, getattr(owner, attribute)))

    def snapshot(self, module: Any) -> Any:
        """The generator's state as plain JSON data (None for one that cannot be read back)."""
        return None

    def restore(self, module: Any, state: Any) -> None:
        raise ValueError(f"no state can be restored for {self.name}")


class _Random(Generator):
    name = "random"

    def snapshot(self, module: Any) -> Any:
        version, internal, gauss_next = module.getstate()
        return {"version": version, "internal": list(internal), "gauss_next": gauss_next}

    def restore(self, module: Any, state: Any) -> None:
        module.setstate((state["version"], tuple(state["internal"]), state["gauss_next"]))


class _NumpyRandom(Generator):
    name = "numpy.random"

    def snapshot(self, module: Any) -> Any:
        state = module.get_state(legacy=False)
        key = state["state"]["key"]
        return {**state, "state": {**state["state"], "key": [int(k) for k in key]}}

    def restore(self, module: Any, state: Any) -> None:
        module.set_state(state)


class _Torch(Generator):
    name = "torch"
    seeder = ("manual_seed",)  # CPU and every CUDA device

    def make_deterministic(self, module: Any) -> None:
        module.use_deterministic_algorithms(True)
        module.backends.cudnn.deterministic = True
        module.backends.cudnn.benchmark = False

    def snapshot(self, module: Any) -> Any:
        # The CPU generator only: CUDA ones are not initialised at `import mlflow`.
        import base64

        return {"cpu": base64.b64encode(module.get_rng_state().numpy().tobytes()).decode()}

    def restore(self, module: Any, state: Any) -> None:
        import base64

        raw = bytearray(base64.b64decode(state["cpu"]))
        module.set_rng_state(module.frombuffer(raw, dtype=module.uint8).clone())


class _TensorFlow(Generator):
    # No snapshot: op seeds derive from a graph seed TensorFlow does not expose.
    name = "tensorflow"
    seeder = ("random", "set_seed")

    def seed_everything(self, module: Any, seed: int) -> None:
        # Keras keeps a seed of its own beside TensorFlow's; only this call sets both. Never at
        # import: it would import Keras with TensorFlow.
        module.keras.utils.set_random_seed(seed)

    def make_deterministic(self, module: Any) -> None:
        module.config.experimental.enable_op_determinism()


GENERATORS: dict[str, Generator] = {
    g.name: g for g in (_Random(), _NumpyRandom(), _Torch(), _TensorFlow())
}


def snapshot(name: str, module: Any) -> Any:
    """The state of generator `name` (a module or an object with its API) as plain JSON data."""
    return GENERATORS[name].snapshot(module)


def _restore(generator: Generator, module: Any) -> bool:
    """Set the generator to the state MLFLOW_REPRO_RNG_STATE holds for it, if any."""
    state = LEDGER.restore.get(generator.name)
    if state is None:
        return False
    generator.restore(module, state)
    LEDGER.add_restored(generator.name)
    return True


def _on_import(generator: Generator, module: Any) -> None:
    """A generator module was just imported (after the plugin loaded): restore or seed it, and
    observe later seeding calls."""
    if LEDGER.seed is None:
        return
    with LEDGER.ours():
        try:
            if not _restore(generator, module):
                generator.seed(module, LEDGER.seed)
                if LEDGER.deterministic:
                    generator.make_deterministic(module)
                LEDGER.add_seeded(generator.name)
            generator.watch(module)
        except Exception as exc:  # a generator we cannot seed stays as it was
            LEDGER.add_error(f"seeding {generator.name}: {type(exc).__name__}: {exc}")


def _keep_preloaded(generator: Generator, module: Any) -> None:
    """A generator imported before the plugin loaded: never reseeded (the program may have seeded
    it); restored on replay, its state recorded, later seeding calls observed."""
    with LEDGER.ours():
        try:
            _restore(generator, module)
            LEDGER.add_preloaded(generator.name, generator.snapshot(module))
        except Exception as exc:
            LEDGER.add_error(
                f"recording the state of {generator.name}: {type(exc).__name__}: {exc}"
            )
        try:
            generator.watch(module)
        except Exception as exc:
            LEDGER.add_error(f"observing {generator.name}'s seeding: {type(exc).__name__}: {exc}")


class _SeedAfterLoad:
    """A loader that runs the real one, then seeds the module it made."""

    def __init__(self, loader: object, generator: Generator) -> None:
        self._loader = loader
        self._generator = generator

    def create_module(self, spec: object) -> object:
        return self._loader.create_module(spec)  # type: ignore[attr-defined]

    def exec_module(self, module: object) -> None:
        self._loader.exec_module(module)  # type: ignore[attr-defined]
        _on_import(self._generator, module)

    def __getattr__(self, item: str) -> object:  # get_resource_reader, is_package, ...
        return getattr(self._loader, item)


class SeedOnImport:
    """A meta path finder that finds nothing itself: it wraps the real loader of the generator
    modules it watches."""

    def __init__(self) -> None:
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        generator = GENERATORS.get(fullname)
        if generator is None or fullname in self._busy:
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
            spec.loader = _SeedAfterLoad(loader, generator)
        return spec


def _choose_seed() -> None:
    raw = os.environ.get(SEED_VAR, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if 0 <= value <= MAX_SEED:
            LEDGER.choose_seed(value, "environment")
            return
        LEDGER.add_error(f"{SEED_VAR}={raw!r} is not an integer in [0, {MAX_SEED}]: ignored")
    LEDGER.choose_seed(int.from_bytes(os.urandom(4), "little"), "fresh")


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
        LEDGER.expect_states(states)
    except Exception as exc:
        LEDGER.add_error(
            f"{STATE_VAR}={path!r} could not be read ({type(exc).__name__}: {exc}): generators "
            "keep their own state; pass the repro/seeds/rng_state.json of the run to replay"
        )


def install_hook() -> None:
    """Watch imports of the generator modules (idempotent)."""
    if not any(isinstance(f, SeedOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, SeedOnImport())


def _turned_off() -> bool:
    auto = os.environ.get(AUTO_SEED_VAR, "1").strip().lower() in {"0", "false", "no"}
    return auto or os.environ.get(DISABLE_VAR, "").strip().lower() in {"1", "true", "yes"}


def install() -> None:
    if _turned_off() or any(isinstance(f, SeedOnImport) for f in sys.meta_path):
        return
    _choose_seed()
    _read_states()
    already = [g for name, g in sorted(GENERATORS.items()) if name in sys.modules]
    install_hook()
    for generator in already:
        _keep_preloaded(generator, sys.modules[generator.name])


install()


def rng_fingerprint() -> str:
    """A short hash of the states of the generators loaded in this process (here, beside the
    ledger, so that a run's start can take it without importing capture)."""
    import hashlib

    digest = hashlib.sha256()
    random = sys.modules.get("random")
    if random is not None:
        digest.update(repr(random.getstate()).encode())
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        state = numpy_random.get_state(legacy=True)
        digest.update(state[1].tobytes() + repr(state[2:]).encode())
    torch = sys.modules.get("torch")
    if torch is not None:
        digest.update(torch.get_rng_state().numpy().tobytes())
    return digest.hexdigest()[:16]
