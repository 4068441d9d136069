"""`seed_everything`: one seed for Python, NumPy, PyTorch and TensorFlow, deterministic modes on.

Modelled on Lightning's `fabric/utilities/seed.py`: it returns the seed it used, checks bounds
with a precise error, hands the seed to child processes through the environment (MLFLOW_REPRO_SEED)
and treats every framework as optional. What it did is recorded for the manifest.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

from mlflow_repro.names import SEED_VAR
from mlflow_repro.plugin.state import process
from mlflow_repro.rng.generators import GENERATORS, MAX_SEED

CUBLAS_WORKSPACE_CONFIG = ":4096:8"


def validate_seed(seed: Any) -> int:
    """The seed as an int, or a ValueError that says what was wrong and what is allowed."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(
            f"seed must be an integer between 0 and {MAX_SEED}, got {seed!r} "
            f"({type(seed).__name__}); pass e.g. seed_everything(42)"
        )
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(
            f"seed {seed} is out of bounds: it must be between 0 and {MAX_SEED} (a 32-bit "
            "unsigned integer, the range NumPy accepts)"
        )
    return seed


def seed_everything(seed: int | None = None, *, deterministic: bool = True) -> int:
    """Seed `random`, NumPy's legacy global generator, PyTorch and TensorFlow (when installed).

    Frameworks already imported are seeded now; one imported later is seeded (and switched to
    its deterministic mode) by the import hook as it loads, so that calling this never pays for
    importing a framework the program does not use.

    With `seed=None` the seed comes from MLFLOW_REPRO_SEED (set by replay, or by a parent that
    called this), else a fresh random one. With `deterministic=True`, PyTorch and TensorFlow are
    switched to their deterministic algorithms and CUBLAS_WORKSPACE_CONFIG is set for cuBLAS.
    Returns the seed used; children started afterwards inherit it through MLFLOW_REPRO_SEED.
    """
    source = "argument"
    if seed is None:
        raw = os.environ.get(SEED_VAR, "").strip()
        if raw:
            try:
                seed, source = int(raw), "environment"
            except ValueError:
                raise ValueError(
                    f"{SEED_VAR}={raw!r} is not an integer: set it to a seed between 0 and "
                    f"{MAX_SEED}, or unset it"
                ) from None
        else:
            seed, source = int.from_bytes(os.urandom(4), "little"), "fresh"
    seed = validate_seed(seed)
    if deterministic:
        # Must be in the environment before the first cuBLAS handle is created.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    import numpy.random  # noqa: F401 (a dependency of mlflow-repro, and cheap: always seeded)

    from mlflow_repro.plugin.autoseed import install, watch_imports

    state = process()
    # Before `import mlflow` too: what the plugin does as it loads happens first (the replay's
    # states read, the generators loaded so far recorded and observed), then this call's seed.
    install(state)
    ledger = state.ledger
    seeded = []
    with ledger.ours():  # these calls are ours, not the user's: not recorded as user seeds
        for name, generator in GENERATORS.items():
            module = sys.modules.get(name)
            if module is None:
                continue
            generator.seed_everything(module, seed)
            if deterministic:
                generator.make_deterministic(module)
            seeded.append(name)
    ledger.record_seed_everything(seed, source, deterministic, seeded)
    watch_imports(state)  # frameworks imported from now on get this seed
    os.environ[SEED_VAR] = str(seed)
    return seed


def _current_seed(seed: int | None) -> int:
    if seed is not None:
        return validate_seed(seed)
    ledger = process().ledger
    if ledger.seed is not None:
        return ledger.seed
    raise ValueError("no seed given and none in effect: call seed_everything() first")


def numpy_generator(seed: int | None = None) -> Any:
    """A `numpy.random.Generator` (PCG64) seeded with `seed`, else the seed in effect."""
    import numpy

    return numpy.random.default_rng(_current_seed(seed))


def torch_generator(seed: int | None = None) -> Any:
    """A `torch.Generator` seeded with `seed`, else the seed in effect: pass it to a DataLoader
    (`generator=`) so that shuffling and worker seeds follow the run's seed."""
    import torch

    generator = torch.Generator()
    generator.manual_seed(_current_seed(seed))
    return generator


def seed_worker(worker_id: int) -> None:
    """`worker_init_fn` for DataLoader workers: seed `random` and NumPy from torch's worker seed."""
    import numpy
    import torch

    worker_seed = torch.initial_seed() % 2**32
    with process().ledger.ours():
        numpy.random.seed(worker_seed)
        random.seed(worker_seed)
