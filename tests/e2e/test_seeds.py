"""Automatic seeding end to end: unseeded runs replay with the recorded seed; user seeds win."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlflow_repro.manifest import Manifest
from tests.conftest import run, venv_env

pytestmark = pytest.mark.e2e

UNSEEDED = """\
import random
import numpy as np
import mlflow
with mlflow.start_run() as run:
    mlflow.log_metric("python_random", random.random())
    mlflow.log_metric("numpy_legacy", float(np.random.rand()))
    print("RUN_ID=" + run.info.run_id)
"""

SEEDED_AFTER_IMPORT = """\
import mlflow
import numpy as np
np.random.seed(7)
first = float(np.random.rand())
with mlflow.start_run() as run:
    mlflow.log_metric("first", first)
    mlflow.log_metric("second", float(np.random.rand()))
    print("RUN_ID=" + run.info.run_id)
"""

SEEDED_BEFORE_IMPORT = """\
import numpy as np
np.random.seed(7)
first = float(np.random.rand())
import mlflow
with mlflow.start_run() as run:
    mlflow.log_metric("first", first)
    mlflow.log_metric("second", float(np.random.rand()))
    print("RUN_ID=" + run.info.run_id)
"""


def start(script: Path, uri: str, **env: str) -> tuple[dict[str, float], Manifest]:
    metrics, manifest, _ = start_run_of(script, uri, **env)
    return metrics, manifest


def start_run_of(script: Path, uri: str, **env: str) -> tuple[dict[str, float], Manifest, str]:
    from mlflow.tracking import MlflowClient

    done = run(
        [sys.executable, str(script)],
        cwd=script.parent,
        env=venv_env(MLFLOW_TRACKING_URI=uri, **env),
    )
    run_id = next(x[7:] for x in done.stdout.splitlines() if x.startswith("RUN_ID="))
    client = MlflowClient(tracking_uri=uri)
    path = client.download_artifacts(run_id, "repro/manifest.json", str(script.parent / run_id))
    return client.get_run(run_id).data.metrics, Manifest.from_json(Path(path).read_text()), run_id


def test_an_unseeded_script_gives_the_same_values_with_the_recorded_seed(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    script = tmp_path / "draw.py"
    script.write_text(UNSEEDED)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {"MLFLOW_REPRO_SEED": "", "MLFLOW_REPRO_RNG_STATE": ""}
    first, manifest, run_id = start_run_of(script, uri, **env)
    seeds = manifest.seeds
    assert seeds.source == "automatic:fresh" and seeds.seed is not None
    # mlflow imports random and NumPy before the plugin loads: left as they were, state recorded
    assert set(seeds.preloaded) == {"random", "numpy.random"} and seeds.seeded == []
    assert seeds.state is not None and seeds.user_seeds == [] and seeds.restored == []
    state = MlflowClient(tracking_uri=uri).download_artifacts(
        run_id, seeds.state.path, str(tmp_path / "state")
    )

    replayed, again = start(script, uri, **seeds.replay_env, MLFLOW_REPRO_RNG_STATE=state)
    assert replayed == first  # exact float equality, value by value
    assert again.seeds.seed == seeds.seed and again.seeds.source == "automatic:environment"
    assert sorted(again.seeds.restored) == ["numpy.random", "random"]
    assert again.seeds.preloaded == seeds.preloaded
    assert again.seeds.rng_fingerprint == seeds.rng_fingerprint

    other, different = start(script, uri, **seeds.replay_env)  # the seed alone is not enough
    assert other != first
    assert different.seeds.rng_fingerprint != seeds.rng_fingerprint


@pytest.mark.parametrize("script_text", [SEEDED_AFTER_IMPORT, SEEDED_BEFORE_IMPORT])
def test_a_seed_the_user_set_is_never_overridden(tmp_path: Path, script_text: str) -> None:
    import numpy as np

    script = tmp_path / "seeded.py"
    script.write_text(script_text)
    metrics, manifest = start(script, f"sqlite:///{tmp_path / 'mlflow.db'}")
    expected = np.random.RandomState(7)
    assert metrics == {"first": expected.rand(), "second": expected.rand()}
    seeded_after = script_text is SEEDED_AFTER_IMPORT
    calls = [(c.function, c.seed) for c in manifest.seeds.user_seeds]
    assert calls == ([("numpy.random.seed", "7")] if seeded_after else [])
    # The state in effect when the plugin loaded is recorded: seed 7, one draw made before it
    # loaded when the program seeded first.
    from mlflow_repro.capture.seeds import state_digest
    from mlflow_repro.rng.generators import snapshot

    state = np.random.RandomState(7)
    if not seeded_after:
        state.rand()
    recorded = manifest.seeds.preloaded["numpy.random"]
    assert (recorded == state_digest(snapshot("numpy.random", state))) is not seeded_after


def test_auto_seeding_can_be_turned_off(tmp_path: Path) -> None:
    script = tmp_path / "draw.py"
    script.write_text(UNSEEDED)
    _, manifest = start(script, f"sqlite:///{tmp_path / 'mlflow.db'}", MLFLOW_REPRO_AUTO_SEED="0")
    assert manifest.seeds.source == "none" and manifest.seeds.seed is None
