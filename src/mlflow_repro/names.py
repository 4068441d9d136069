"""The names mlflow-repro's parts share: environment variables and MLflow tags.

Plugin, capture and replay meet here (and in the manifest), never by importing one another.
This module holds constants only: `_startup` imports it at `import mlflow`.
"""

# Environment variables a user sets
DISABLE_VAR = "MLFLOW_REPRO_DISABLE"  # "1": no capture, no automatic seeding
SEED_VAR = "MLFLOW_REPRO_SEED"  # the seed to apply (replay sets it to the recorded one)
AUTO_SEED_VAR = "MLFLOW_REPRO_AUTO_SEED"  # "0": no automatic seeding at import

# Environment variables mlflow-repro sets for its own child processes
STATE_VAR = "MLFLOW_REPRO_RNG_STATE"  # path of a logged repro/seeds/rng_state.json to restore
CAPTURED_RUN_VAR = "MLFLOW_REPRO_CAPTURED_RUN"  # inherited by children: capture a run once
REPLAY_TOKEN_VAR = "MLFLOW_REPRO_REPLAY_TOKEN"  # set by replay for a plain script: tags its runs
REPLAY_OF_VAR = "MLFLOW_REPRO_REPLAY_OF"  # set by replay: the run replayed (registration guard)
REPLAY_REGISTER_VAR = "MLFLOW_REPRO_REPLAY_REGISTER"  # "1": a replay registers its model

# Tags
TAG_PREFIX = "repro."
CAPTURE_ID_TAG = "repro.capture.id"  # one id per capturing process
CAPTURE_ERRORS_TAG = "repro.capture.errors"
STATUS_TAG = "repro.status"  # set once repro/ is logged: what the run claims
REPLAY_TOKEN_TAG = "repro.replay.token"  # how replay finds the run a re-run script started
NOTE_TAG = "mlflow.note.content"  # MLflow's run description, shown first on the run page
REPLAY_TAG_PREFIX = "repro.replay."  # repro.replay.of / .verdict / .differences / .workspace
