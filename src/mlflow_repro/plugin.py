"""The MLflow run-context plugin: every new run gets the manifest, with no change to user code.

MLflow instantiates `ReproRunContext` at `import mlflow` (entry point group
`mlflow.run_context_provider`). Two paths, because MLflow has no run-start hook that hands a
plugin the new run id:

- New runs (`mlflow.start_run()`, or `resolve_tags()` then `MlflowClient.create_run` as
  PyTorch Lightning's `MLFlowLogger` does): `tags()` starts the run's capture in the background
  (`runjob.py`) and returns `repro.capture.id`; the wrapped `MlflowClient.create_run` hands the
  new run to that job, which logs `repro/`, then the `repro.*` tags and `repro.status`; the
  wrapped `MlflowClient.set_terminated` (what `end_run` and loggers call) waits for it. An
  upload that fails is tried again as the process exits (`later.py`).
- Runs launched by `mlflow run`: the child resumes a run MLflow already created (MLFLOW_RUN_ID in
  its environment), and providers are not asked: `resumed.py` captures for that run.

This process's capture, its id and its run count live in `session.py`.

Nothing here may raise into MLflow: a broken plugin must not break `import mlflow`.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

try:  # automatic, recorded seeding: installs itself on import; never breaks import mlflow
    import mlflow_repro._startup  # noqa: F401
except Exception as exc:  # pragma: no cover - defensive
    print(f"mlflow-repro: automatic seeding disabled: {exc}", file=sys.stderr)

from mlflow_repro import session
from mlflow_repro.names import (
    CAPTURE_ERRORS_TAG,
    CAPTURE_ID_TAG,
    CAPTURE_SWITCH_TAG,
    REPLAY_TOKEN_TAG,
    REPLAY_TOKEN_VAR,
)


def _mlflow_directory() -> str:
    import mlflow

    return os.path.dirname(os.path.abspath(str(mlflow.__file__))) + os.sep


def _asked_for_a_new_run() -> bool:
    """tags() is also asked for by datasets, logged models and tracing: only new runs get
    capture. A new run: `mlflow.start_run` (fluent; nested runs too), or `resolve_tags` called
    from outside MLflow, as PyTorch Lightning's `MLFlowLogger` and user code do before
    `MlflowClient.create_run` (MLflow's own `resolve_tags` callers are the others)."""
    frame: Any = sys._getframe(2)
    inside = _mlflow_directory()
    if frame is None or frame.f_code.co_name != "resolve_tags":
        return False  # asked directly, not through MLflow's registry
    while frame is not None and frame.f_code.co_name == "resolve_tags":
        frame = frame.f_back
    if frame is None:
        return False
    name, where = frame.f_code.co_name, frame.f_code.co_filename
    return (name == "start_run") if where.startswith(inside) else True


def _called_by_the_user(frame: Any) -> bool:
    """A frame outside MLflow and outside mlflow-repro: `MlflowClient().create_run()` called by
    the user's own code (MLflow's callers, `mlflow run`'s parent and fluent start_run, are
    not: a run `mlflow run` creates is captured by its job)."""
    where = frame.f_code.co_filename if frame is not None else ""
    own = os.path.dirname(os.path.abspath(__file__)) + os.sep
    return bool(where) and not where.startswith((_mlflow_directory(), own))


def _client_loaded() -> bool:
    return hasattr(sys.modules.get("mlflow.tracking.client"), "MlflowClient")


def _install_hooks_if_loaded() -> None:
    """The hooks, as soon as MlflowClient exists: a raw `MlflowClient().create_run()` asks no
    provider, and Lightning's `client.create_run(tags=resolve_tags())` looks the method up
    before it resolves the tags, so both must find them in place before the first run. MLflow
    loads the plugin while `mlflow.tracking.client` is still half loaded: they are installed at
    the first import after it completes (`importhook.when_ready`)."""
    if _client_loaded():
        try:
            _install_hooks()
        except Exception as exc:
            print(f"mlflow-repro: create_run not watched: {exc}", file=sys.stderr)


def _install_hooks() -> None:
    """`MlflowClient.create_run` hands a run created with our capture id to its job;
    `MlflowClient.set_terminated` (what `end_run` and the loggers call) waits for the record
    of the run it ends. Installed once."""
    from mlflow.tracking.client import MlflowClient

    original = MlflowClient.create_run
    if getattr(original, "_mlflow_repro_hook", False):
        return
    terminate = MlflowClient.set_terminated

    @functools.wraps(original)
    def create_run(self: Any, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1)
        run = original(self, *args, **kwargs)
        try:
            tags = kwargs.get("tags") if "tags" in kwargs else (args[2] if len(args) > 2 else None)
            tags = tags or {}
            ours = tags.get(CAPTURE_ID_TAG) == session.CAPTURE_ID
            if ours or (
                _called_by_the_user(caller)
                and str(tags.get(CAPTURE_SWITCH_TAG, "")).lower() != "off"
                and session.enabled()
            ):
                from mlflow_repro import runjob

                if not ours:  # a raw create_run: no provider was asked, the job starts now
                    runjob.begin()
                runjob.created(self, run)
        except Exception as exc:  # the run exists: never fail start_run from here
            print(f"mlflow-repro: capture for run {run.info.run_id} failed: {exc}", file=sys.stderr)
        return run

    @functools.wraps(terminate)
    def set_terminated(self: Any, run_id: str, *args: Any, **kwargs: Any) -> Any:
        try:
            from mlflow_repro import runjob

            runjob.ending(run_id)
        except Exception as exc:  # ending the run goes on
            print(f"mlflow-repro: run {run_id}: {exc}", file=sys.stderr)
        return terminate(self, run_id, *args, **kwargs)

    create_run._mlflow_repro_hook = True  # type: ignore[attr-defined]
    MlflowClient.create_run = create_run
    MlflowClient.set_terminated = set_terminated


MAX_TAG_VALUE = 5000  # MLflow's tag limit (8000), with room; publish.within_limits for the rest


class ReproRunContext:
    """Adds the reproducibility manifest to every new MLflow run.

    It implements MLflow's RunContextProvider interface (`in_context()`, `tags()`) without
    subclassing it: MLflow's registry only calls those two methods, and not importing mlflow
    here means importing this module before mlflow cannot make a circular import.
    """

    def __init__(self) -> None:
        from mlflow_repro import launchguard, replayguard

        replayguard.install()  # only in a process replay started
        launchguard.install()  # only in a process running `mlflow run`
        if session.enabled():
            try:  # the files the process reads in its repository (an audit hook; cheap)
                from mlflow_repro import inputs

                inputs.watch(session.START_DIR)
            except Exception as exc:
                print(f"mlflow-repro: files read are not watched: {exc}", file=sys.stderr)
            from mlflow_repro.importhook import when_ready

            when_ready(_client_loaded, _install_hooks_if_loaded)
        try:
            if os.environ.get("MLFLOW_RUN_ID"):
                from mlflow_repro import resumed

                resumed.start()
        except Exception as exc:
            print(f"mlflow-repro: capture disabled for this process: {exc}", file=sys.stderr)

    def in_context(self) -> bool:
        _install_hooks_if_loaded()  # where MlflowClient was still loading at __init__
        return session.enabled()

    def tags(self) -> dict[str, str]:
        """For a new run: our capture id (the create_run hook recognises the run by it) and a
        replay's token; the run's capture starts now in the background (`runjob`), and its
        `repro.*` tags come with its record, the status last."""
        try:
            if not _asked_for_a_new_run():
                return {}
            _install_hooks()
            from mlflow_repro import runjob

            runjob.begin()
            tags = {CAPTURE_ID_TAG: session.CAPTURE_ID}
            token = os.environ.get(REPLAY_TOKEN_VAR, "").strip()
            if token:  # how replay finds the run a re-run plain script started
                tags[REPLAY_TOKEN_TAG] = token[:MAX_TAG_VALUE]
            return tags
        except Exception as exc:  # MLflow would drop our tags silently: say why instead
            return {CAPTURE_ERRORS_TAG: f"plugin: {type(exc).__name__}: {exc}"[:4000]}
