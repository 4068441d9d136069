"""The seed ledger: everything about seeding in one process, kept by the plugin's process state
(`plugin.state.ProcessState.ledger`).

Automatic seeding (`plugin/autoseed.py`), `seed_everything` and the resumed-run capture write it
through its methods; the seeds collector (`capture/seeds.py`) reads it. It imports nothing at
load: the plugin makes one at `import mlflow`.
"""

from __future__ import annotations

# mypy reads this block; at run time nothing from typing is imported (startup cost).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
    """`with ledger.ours():` seeding calls made inside are mlflow-repro's, not the user's."""

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
