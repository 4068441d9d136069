"""Collect the seeds in effect at run start, the determinism switches, and an RNG fingerprint.

Reads what `mlflow_repro._startup` (automatic seeding at import) and `seed_everything` recorded;
frameworks are inspected only when the user's code already imported them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from typing import Any

from mlflow_repro._startup import STATE
from mlflow_repro.capture.staging import Staging
from mlflow_repro.capture.system import ENV_ALLOWLIST
from mlflow_repro.manifest import Payload, SeedCall, Seeds
from mlflow_repro.names import SEED_VAR

STATE_PAYLOAD = "seeds/rng_state.json"
STATE_FORMAT = 1

# Set by the plugin as it starts capturing a run `mlflow run` created: that run starts at
# `import mlflow`, and the capture thread must not read generators the job is already drawing from.
RUN_START_FINGERPRINT: str | None = None


def rng_fingerprint() -> str:
    """A short hash of the states of the generators loaded in this process."""
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


def _preloaded(staging: Staging | None) -> tuple[dict[str, str], Payload | None]:
    digests = {
        name: "unrecorded" if state is None else state_digest(state)
        for name, state in STATE.preloaded.items()
    }
    states = {name: state for name, state in STATE.preloaded.items() if state is not None}
    if staging is None or not states:
        return digests, None
    document = {"format": STATE_FORMAT, "generators": states}
    data = (json.dumps(document, sort_keys=True, indent=1) + "\n").encode()
    return digests, staging.add(STATE_PAYLOAD, data)


def collect_seeds(staging: Staging | None = None) -> tuple[Seeds, list[str]]:
    """The seeds section; with `staging`, the preloaded generators' states become a payload."""
    from mlflow_repro import seeding

    errors = list(STATE.errors)
    if seeding.LAST is not None:
        seed: int | None = seeding.LAST.seed
        source = f"seed_everything:{seeding.LAST.source}"
        later = STATE.seeded[seeding.LAST.mark :]
        seeded = seeding.LAST.seeded + [n for n in later if n not in seeding.LAST.seeded]
    elif STATE.seed is not None:
        seed, source, seeded = STATE.seed, f"automatic:{STATE.source}", list(STATE.seeded)
    else:
        seed, source, seeded = None, "none", []
    replay_env = {k: os.environ[k] for k in ENV_ALLOWLIST if k in os.environ}
    if seed is not None:
        replay_env[SEED_VAR] = str(seed)
    preloaded, state = _preloaded(staging)
    return Seeds(
        seed=seed,
        source=source,
        seeded=seeded,
        preloaded=preloaded,
        state=state,
        restored=list(STATE.restored),
        user_seeds=[SeedCall(function=f, seed=v) for f, v in STATE.user_calls],
        deterministic=_deterministic(),
        rng_fingerprint=RUN_START_FINGERPRINT or rng_fingerprint(),
        pythonhashseed=os.environ.get("PYTHONHASHSEED"),
        hash_randomization=bool(sys.flags.hash_randomization),
        replay_env=replay_env,
    ), errors
