"""Collect the seeds in effect at run start, the determinism switches, and an RNG fingerprint.

Reads the seed ledger (`rng/ledger.py`, held by the plugin's process state and passed in:
automatic seeding at import, `seed_everything`, the user's seeding calls); frameworks are
inspected only when the user's code already imported them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from typing import Any

from mlflow_repro.capture.platform import ENV_ALLOWLIST
from mlflow_repro.capture.staging import Staging
from mlflow_repro.manifest import Payload, SeedCall, Seeds
from mlflow_repro.names import SEED_VAR
from mlflow_repro.rng.generators import rng_fingerprint
from mlflow_repro.rng.ledger import Ledger

STATE_PAYLOAD = "seeds/rng_state.json"
STATE_FORMAT = 1


def _deterministic() -> dict[str, str]:
    found: dict[str, str] = {}
    torch: Any = sys.modules.get("torch")
    if torch is not None:
        switches: tuple[tuple[str, Any], ...] = (
            ("torch.deterministic_algorithms", torch.are_deterministic_algorithms_enabled),
            ("torch.cudnn.deterministic", lambda: torch.backends.cudnn.deterministic),
            ("torch.cudnn.benchmark", lambda: torch.backends.cudnn.benchmark),
            ("torch.cudnn.allow_tf32", lambda: torch.backends.cudnn.allow_tf32),
            ("torch.matmul.allow_tf32", lambda: torch.backends.cuda.matmul.allow_tf32),
            ("torch.num_threads", torch.get_num_threads),
        )
        for key, read in switches:
            try:
                found[key] = str(read())
            except Exception:
                continue
    tensorflow: Any = sys.modules.get("tensorflow")
    if tensorflow is not None:
        # Not exported under tf.config (2.21): the private module has it since 2.8.
        with contextlib.suppress(Exception):
            from tensorflow.python.framework import config as tf_config

            found["tensorflow.op_determinism"] = str(tf_config.is_op_determinism_enabled())
    return found


def state_digest(state: object) -> str:
    """sha256 (16 hex) of a generator state as plain JSON data."""
    text = json.dumps(state, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _preloaded(ledger: Ledger, staging: Staging | None) -> tuple[dict[str, str], Payload | None]:
    digests = {
        name: "unrecorded" if state is None else state_digest(state)
        for name, state in ledger.preloaded.items()
    }
    states = {name: state for name, state in ledger.preloaded.items() if state is not None}
    if staging is None or not states:
        return digests, None
    document = {"format": STATE_FORMAT, "generators": states}
    data = (json.dumps(document, sort_keys=True, indent=1) + "\n").encode()
    return digests, staging.add(STATE_PAYLOAD, data)


def _applied(ledger: Ledger) -> tuple[int | None, str, list[str]]:
    """The seed mlflow-repro applied, its source, and the generators seeded with it."""
    explicit = ledger.explicit
    if explicit is not None:
        later = [n for n in ledger.seeded[explicit.mark :] if n not in explicit.seeded]
        return explicit.seed, f"seed_everything:{explicit.source}", explicit.seeded + later
    if ledger.seed is not None:
        return ledger.seed, f"automatic:{ledger.source}", list(ledger.seeded)
    return None, "none", []


def collect_seeds(
    staging: Staging | None = None, ledger: Ledger | None = None
) -> tuple[Seeds, list[str]]:
    """The seeds section from the process's seed `ledger` (the plugin's process state holds it;
    none: nothing was seeded or observed); with `staging`, the preloaded generators' states
    become a payload."""
    ledger = ledger if ledger is not None else Ledger()
    seed, source, seeded = _applied(ledger)
    replay_env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    if seed is not None:
        replay_env[SEED_VAR] = str(seed)
    preloaded, state = _preloaded(ledger, staging)
    return Seeds(
        seed=seed,
        source=source,
        seeded=seeded,
        preloaded=preloaded,
        state=state,
        restored=list(ledger.restored),
        user_seeds=[SeedCall(function=f, seed=v) for f, v in ledger.user_calls],
        deterministic=_deterministic(),
        rng_fingerprint=ledger.run_start_fingerprint or rng_fingerprint(),
        pythonhashseed=os.environ.get("PYTHONHASHSEED"),
        hash_randomization=bool(sys.flags.hash_randomization),
        replay_env=replay_env,
    ), list(ledger.errors)
