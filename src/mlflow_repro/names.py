"""The names mlflow-repro's parts share: environment variables and MLflow tags.

Plugin, capture and replay meet here (and in the manifest), never by importing one another.
This module holds constants only: the plugin imports it at `import mlflow`.
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
# Given with `MlflowClient.create_run(tags=...)`: "off" records nothing for that run (a tool that
# copies or imports runs made elsewhere: the code here is not theirs)
CAPTURE_SWITCH_TAG = "repro.capture"
STATUS_TAG = "repro.status"  # set once repro/ is logged: what the run claims
REPLAY_TOKEN_TAG = "repro.replay.token"  # how replay finds the run a re-run script started
NOTE_TAG = "mlflow.note.content"  # MLflow's run description, shown first on the run page
DESCRIPTION_MARK = "**mlflow-repro: "  # how the run descriptions mlflow-repro writes begin
LAUNCH_ERROR_TAG = "repro.launch.error"  # why `mlflow run` failed before the job started

# What replay writes: on the new run, and on the original (`latest`, `latest_run`)
REPLAY_TAG_PREFIX = "repro.replay."
REPLAY_OF_TAG = "repro.replay.of"  # also on a model version a replay registers
REPLAY_VERDICT_TAG = "repro.replay.verdict"
REPLAY_DIFFERENCES_TAG = "repro.replay.differences"
REPLAY_WORKSPACE_TAG = "repro.replay.workspace"
REPLAY_IMAGE_TAG = "repro.replay.image"  # a re-run in an image: same, rebuilt, or another
REPLAY_COMMAND_TAG = "repro.replay.command"  # a plain script's re-run command line
REPLAY_LATEST_TAG = "repro.replay.latest"
REPLAY_LATEST_RUN_TAG = "repro.replay.latest_run"
# On the run `mlflow run -e reproduce` makes for the command itself (replay/wrapper.py)
REPRODUCE_OF_TAG = "repro.reproduce.of"  # the run it replayed
REPRODUCE_REPLAY_TAG = "repro.reproduce.replay"  # the replay's run
REPRODUCE_ERROR_TAG = "repro.reproduce.error"  # why no replay was made

# An interactive session's cells: logged as repro/<SESSION_CELLS>, written by replay as a script
SESSION_CELLS = "session/cells.py"
SESSION_SCRIPT = ".mlflow-repro-session.py"

# Containers: what `mlflow run`'s host process read of the image from the engine (JSON: the
# manifest's platform.container fields), passed into the container as `docker run -e`
CONTAINER_VAR = "MLFLOW_REPRO_CONTAINER"
DOCKER_BACKEND = "repro-docker"  # the project backend that runs a project in an image
