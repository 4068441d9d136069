"""Automatic seeding, installed as the plugin loads (at `import mlflow`).

Unseeded runs become reproducible without changing what a program does with a seed of its own:

- Generators imported *after* the plugin loads (PyTorch and TensorFlow, usually) are seeded, as
  they are imported, with one recorded 32-bit seed (MLFLOW_REPRO_SEED, else fresh).
- Generators imported *before* it loads (`random` and NumPy's legacy generator, which mlflow
  itself imports, and anything the user imported and maybe seeded first) are never reseeded:
  their state at plugin load is kept (`Ledger.preloaded`), logged as
  `repro/seeds/rng_state.json`, and restored from that file when MLFLOW_REPRO_RNG_STATE names it
  (replay does).

Every seeding function is observed, so seeds the user sets later are recorded, never replaced.
What happened goes into the process state's `ledger`; the generators are `rng/generators.py`'s
adapters; the imports are watched by the plugin's one finder (`importhook.after_import`).

It imports only `os` and `sys` at load (json on a replay), so that it stays cheap wherever it is
loaded. MLFLOW_REPRO_AUTO_SEED=0 (or MLFLOW_REPRO_DISABLE=1) turns it off.
"""

from __future__ import annotations

import os
import sys

from mlflow_repro.names import AUTO_SEED_VAR, DISABLE_VAR, SEED_VAR, STATE_VAR
from mlflow_repro.rng.generators import GENERATORS, MAX_SEED

# mypy reads this block; at run time nothing from typing is imported (startup cost).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mlflow_repro.plugin.state import ProcessState
    from mlflow_repro.rng.generators import Generator
    from mlflow_repro.rng.ledger import Ledger


def _restore(generator: Generator, module: Any, ledger: Ledger) -> bool:
    """Set the generator to the state MLFLOW_REPRO_RNG_STATE holds for it, if any."""
    state = ledger.restore.get(generator.name)
    if state is None:
        return False
    generator.restore(module, state)
    ledger.add_restored(generator.name)
    return True


def on_import(generator: Generator, module: Any, ledger: Ledger) -> None:
    """A generator module was just imported (after the plugin loaded): restore or seed it, and
    observe later seeding calls."""
    if ledger.seed is None:
        return
    with ledger.ours():
        try:
            if not _restore(generator, module, ledger):
                generator.seed(module, ledger.seed)
                if ledger.deterministic:
                    generator.make_deterministic(module)
                ledger.add_seeded(generator.name)
            generator.watch(module, ledger)
        except Exception as exc:  # a generator we cannot seed stays as it was
            ledger.add_error(f"seeding {generator.name}: {type(exc).__name__}: {exc}")


def keep_preloaded(generator: Generator, module: Any, ledger: Ledger) -> None:
    """A generator imported before the plugin loaded: never reseeded (the program may have seeded
    it); restored on replay, its state recorded, later seeding calls observed."""
    with ledger.ours():
        try:
            _restore(generator, module, ledger)
            ledger.add_preloaded(generator.name, generator.snapshot(module))
        except Exception as exc:
            ledger.add_error(
                f"recording the state of {generator.name}: {type(exc).__name__}: {exc}"
            )
        try:
            generator.watch(module, ledger)
        except Exception as exc:
            ledger.add_error(f"observing {generator.name}'s seeding: {type(exc).__name__}: {exc}")


def choose_seed(ledger: Ledger) -> None:
    raw = os.environ.get(SEED_VAR, "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if 0 <= value <= MAX_SEED:
            ledger.choose_seed(value, "environment")
            return
        ledger.add_error(f"{SEED_VAR}={raw!r} is not an integer in [0, {MAX_SEED}]: ignored")
    ledger.choose_seed(int.from_bytes(os.urandom(4), "little"), "fresh")


def read_states(ledger: Ledger) -> None:
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
        ledger.expect_states(states)
    except Exception as exc:
        ledger.add_error(
            f"{STATE_VAR}={path!r} could not be read ({type(exc).__name__}: {exc}): generators "
            "keep their own state; pass the repro/seeds/rng_state.json of the run to replay"
        )


def watch_imports(state: ProcessState) -> list[Generator]:
    """Seed each generator module imported from now on (idempotent); the generators already
    imported, which are not."""
    already = [g for name, g in sorted(GENERATORS.items()) if name in sys.modules]
    if state.generators_watched:
        return already
    state.generators_watched = True
    ledger = state.ledger
    for name, generator in sorted(GENERATORS.items()):

        def seed(module: Any, generator: Generator = generator) -> None:
            on_import(generator, module, ledger)

        state.finder.after_import(name, seed, now=False)
    return already


def turned_off() -> bool:
    auto = os.environ.get(AUTO_SEED_VAR, "1").strip().lower() in {"0", "false", "no"}
    return auto or os.environ.get(DISABLE_VAR, "").strip().lower() in {"1", "true", "yes"}


def install(state: ProcessState) -> None:
    """Choose the seed, read a replay's states, keep the generators already loaded, and seed
    those imported later (once per process: at `import mlflow`, or first thing in a
    `seed_everything` called before it)."""
    if turned_off() or state.autoseed_done:
        return
    state.autoseed_done = True
    choose_seed(state.ledger)
    read_states(state.ledger)
    for generator in watch_imports(state):
        keep_preloaded(generator, sys.modules[generator.name], state.ledger)
