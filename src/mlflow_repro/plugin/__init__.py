"""The MLflow run-context plugin: every new run gets the manifest, with no change to user code.

MLflow instantiates `ReproRunContext` at `import mlflow` (entry point group
`mlflow.run_context_provider`); the provider takes the process state (`state.py`: one object,
everything the plugin keeps for the process) and installs the rest. Two paths, because MLflow
has no run-start hook that hands a plugin the new run id:

- New runs (`mlflow.start_run()`, or `resolve_tags()` then `MlflowClient.create_run` as
  PyTorch Lightning's `MLFlowLogger` does, or a raw `create_run`): `tags()` starts the run's
  capture in the background (`runjob.py`) and returns `repro.capture.id`; the wrapped
  `MlflowClient.create_run` hands the new run to that job (`hooks.py`), which logs `repro/`
  (`publish.py`), then the `repro.*` tags and `repro.status`; the wrapped
  `MlflowClient.set_terminated` waits for it. An upload that fails is tried again as the
  process exits (`later.py`).
- Runs launched by `mlflow run`: the child resumes a run MLflow already created (MLFLOW_RUN_ID in
  its environment), and providers are not asked: `resumed.py` captures for that run.

Beside them: automatic seeding (`autoseed.py`), the files the run reads (`inputs.py`), the
replay's registration guard (`replayguard.py`) and `mlflow run`'s launch guard
(`mlflow_repro/launchguard.py`: replay uses it too), all through one import finder
(`importhook.py`).

Nothing here may raise into MLflow: a broken plugin must not break `import mlflow`.
"""

from __future__ import annotations

import os
import sys

from mlflow_repro.names import (
    CAPTURE_ERRORS_TAG,
    CAPTURE_ID_TAG,
    REPLAY_TOKEN_TAG,
    REPLAY_TOKEN_VAR,
)
from mlflow_repro.plugin.state import ProcessState, process

MAX_TAG_VALUE = 5000  # MLflow's tag limit (8000), with room; publish.within_limits for the rest


class ReproRunContext:
    """Adds the reproducibility manifest to every new MLflow run.

    It implements MLflow's RunContextProvider interface (`in_context()`, `tags()`) without
    subclassing it: MLflow's registry only calls those two methods, and not importing mlflow
    here means importing this module before mlflow cannot make a circular import.
    """

    def __init__(self) -> None:
        self.state: ProcessState = process()
        try:  # automatic, recorded seeding; never breaks import mlflow
            from mlflow_repro.plugin import autoseed

            autoseed.install(self.state)
        except Exception as exc:  # pragma: no cover - defensive
            print(f"mlflow-repro: automatic seeding disabled: {exc}", file=sys.stderr)
        try:
            from mlflow_repro import launchguard
            from mlflow_repro.plugin import replayguard

            replayguard.install()  # only in a process replay started
            launchguard.install()  # only in a process running `mlflow run`
        except Exception as exc:  # pragma: no cover - defensive
            print(f"mlflow-repro: guards not installed: {exc}", file=sys.stderr)
        if self.state.enabled():
            try:  # the files the process reads in its repository (an audit hook; cheap)
                from mlflow_repro.plugin import inputs

                inputs.watch(self.state)
            except Exception as exc:
                print(f"mlflow-repro: files read are not watched: {exc}", file=sys.stderr)
            from mlflow_repro.plugin import hooks

            self.state.finder.when_ready(hooks.client_loaded, hooks.install_if_loaded)
        try:
            if os.environ.get("MLFLOW_RUN_ID"):
                from mlflow_repro.plugin import resumed

                resumed.start()
        except Exception as exc:
            print(f"mlflow-repro: capture disabled for this process: {exc}", file=sys.stderr)

    def in_context(self) -> bool:
        from mlflow_repro.plugin import hooks

        hooks.install_if_loaded()  # where MlflowClient was still loading at __init__
        return self.state.enabled()

    def tags(self) -> dict[str, str]:
        """For a new run: our capture id (the create_run hook recognises the run by it) and a
        replay's token; the run's capture starts now in the background (`runjob`), and its
        `repro.*` tags come with its record, the status last."""
        try:
            from mlflow_repro.plugin import hooks

            if not hooks.asked_for_a_new_run():
                return {}
            hooks.install()
            from mlflow_repro.plugin import runjob

            runjob.begin()
            tags = {CAPTURE_ID_TAG: process().capture_id}
            token = os.environ.get(REPLAY_TOKEN_VAR, "").strip()
            if token:  # how replay finds the run a re-run plain script started
                tags[REPLAY_TOKEN_TAG] = token[:MAX_TAG_VALUE]
            return tags
        except Exception as exc:  # MLflow would drop our tags silently: say why instead
            return {CAPTURE_ERRORS_TAG: f"plugin: {type(exc).__name__}: {exc}"[:4000]}
