"""One adapter per random number generator module: how to seed it, observe its seeding
function, snapshot its state as plain JSON data and restore it (`random`, NumPy's legacy global
generator, PyTorch, TensorFlow), and the run-start fingerprint of the generators loaded.

Automatic seeding (`plugin/autoseed.py`) and `seed_everything` drive them; what they do is
written to the process's `Ledger`. Only `sys` is imported at load (base64 when a torch state is
read): the plugin loads this at `import mlflow`.
"""

from __future__ import annotations

import sys

# mypy reads this block; at run time nothing from typing is imported (startup cost).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mlflow_repro.rng.ledger import Ledger

MAX_SEED = 2**32 - 1


def _observe(name: str, original: object, ledger: Ledger) -> object:
    """Wrap a seeding function so that calls from user code are recorded in `ledger`, then
    passed on."""

    def seed(*args: object, **kwargs: object) -> object:
        if not ledger.seeding:
            value = args[0] if args else next(iter(kwargs.values()), None)
            ledger.add_user_call(name, repr(value))
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

    def watch(self, module: Any, ledger: Ledger) -> None:
        """Wrap the seeding function so that calls from user code are recorded in `ledger`."""
        owner, attribute = self._owner(module), self.seeder[-1]
        label = ".".join((self.name, *self.seeder))
        setattr(owner, attribute, _observe(label, getattr(owner, attribute), ledger))

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


def rng_fingerprint() -> str:
    """A short hash of the states of the generators loaded in this process (here, beside the
    adapters, so that a run's start can take it without importing capture)."""
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
