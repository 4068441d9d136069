"""A new run's record, off `start_run`'s critical path.

As a run starts (the provider's `tags()`, just before MLflow creates it), a `RunJob` takes the
run-start RNG fingerprint there and then, and starts a daemon thread. Once MLflow has created the
run, the job is handed it (`attach`), and the thread captures (the process's capture for its
first run; the code and data state again for every later run: a notebook or a sweep edits files
between runs), logs `repro/`, then the tags and the status that claim it (`publish`). The
capture starts as `start_run` returns, so the user's code runs beside it: a file the run's own
code rewrites in its first milliseconds may show as rewritten. The job is joined when the run
ends (`MlflowClient.set_terminated`, which `mlflow.end_run` and the loggers call) or as the
process exits, so no run is marked finished before its record is stored, and a process killed
first leaves no run claiming a status.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from typing import Any

from mlflow_repro.plugin.state import process

JOIN_SECONDS = 60.0  # how long ending a run (or the process) waits for its record
RETURN_SECONDS = 0.5  # how long the capture waits for start_run to return (then goes on anyway)
# The calls that create a run; the capture waits until the creating thread has left them.
_CREATING = frozenset({"start_run", "create_run", "resolve_tags"})
ATTACH_SECONDS = 600.0  # a job whose run was never created gives up (tags() asked, no run came)


class RunJob:
    """The capture and upload of one new run of this process."""

    def __init__(self, fingerprint: str | None, first: bool) -> None:
        self._fingerprint = fingerprint
        self._first = first  # the process capture's code is this run's
        self._attached = threading.Event()
        self._client: Any = None
        self._run: Any = None
        self._index = 0
        self._creator: int | None = None  # the thread that created the run
        self._published: Any = None  # the manifest logged to the run, once it is
        self._own: Any = None  # the Captured its payloads came from
        self.thread = threading.Thread(target=self._work, daemon=True, name="mlflow-repro-run")
        self.thread.start()

    def attach(self, client: Any, run: Any, index: int) -> None:
        """MLflow created the run: log its record."""
        self._client, self._run, self._index = client, run, index
        self._creator = threading.get_ident()
        self._attached.set()

    def _wait_for_start_run_to_return(self) -> None:
        """Until the creating thread has left start_run (create_run, for a logger): imports and
        regular expressions hold the GIL for milliseconds at a time, and a capture beside
        start_run would make start_run itself wait for it. Polled, bounded."""
        import time

        deadline = time.monotonic() + RETURN_SECONDS
        while time.monotonic() < deadline:
            frame = sys._current_frames().get(self._creator or 0)
            inside = False
            while frame is not None and not inside:
                inside = frame.f_code.co_name in _CREATING
                frame = frame.f_back
            if not inside:
                return
            time.sleep(0.001)

    def cancel(self) -> None:
        """No run came (tags() was asked, create_run never called): record nothing."""
        self._attached.set()

    def join(self, timeout: float = JOIN_SECONDS) -> bool:
        """Wait for the record to be stored; whether it was (or nothing was left to do)."""
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def finish(self) -> None:
        """As the run ends: the files it read that its record cannot rebuild (`inputs`) named
        in its manifest, logged again; then, with a team key, its models signed over the final
        manifest (`modelsign`). Never raises."""
        if self._published is None:
            return
        self._amend()
        from mlflow_repro.modelsign import sign_run

        sign_run(self._client, self._run.info.run_id)

    def _amend(self) -> None:
        try:
            from mlflow_repro.plugin.inputs import with_ignored_inputs
            from mlflow_repro.plugin.publish import amend

            manifest, cells = self._published, None
            if manifest.launch.session is not None:  # the cells run since the run started
                own, later = self._own.with_session(manifest)
                if later.launch != manifest.launch:
                    manifest, cells = later, own.session_staging
            manifest = with_ignored_inputs(manifest) or manifest
            payloads = cells.root if cells is not None else None
            if manifest is not self._published and amend(
                self._client, self._run.info.run_id, manifest, payloads
            ):
                self._published = manifest
        except Exception as exc:
            print(
                f"mlflow-repro: run {self._run.info.run_id}: inputs not checked: {exc}",
                file=sys.stderr,
            )

    def _work(self) -> None:
        # Nothing runs beside MLflow's own start_run (a thread beside it would take the GIL
        # from it): the capture starts as the run exists and start_run has returned.
        if not self._attached.wait(ATTACH_SECONDS) or self._run is None:
            return
        run_id = self._run.info.run_id
        self._wait_for_start_run_to_return()
        failure = ""
        try:
            from mlflow_repro.capture import run_state

            captured = process().process_capture()
            # The first run takes the process capture's code; a later one its own, now.
            state = None if self._first else run_state()
        except Exception as exc:  # recorded on the run
            captured, state, failure = None, None, f"plugin: {type(exc).__name__}: {exc}"
        try:
            if captured is None:
                from mlflow_repro.names import CAPTURE_ERRORS_TAG

                print(f"mlflow-repro: capture for run {run_id} failed: {failure}", file=sys.stderr)
                self._client.set_tag(run_id, CAPTURE_ERRORS_TAG, failure[:4000])
                return
            self._publish(captured, state)
        except Exception as exc:  # the user's run goes on whatever happens here
            print(f"mlflow-repro: capture for run {run_id} failed: {exc}", file=sys.stderr)

    def _publish(self, captured: Any, state: Any) -> None:
        from mlflow_repro.manifest import Launch
        from mlflow_repro.plugin.publish import publish

        manifest = captured.for_run(Launch(launcher="python", run_index=self._index), state)
        if self._fingerprint:
            seeds = dataclasses.replace(manifest.seeds, rng_fingerprint=self._fingerprint)
            manifest = dataclasses.replace(manifest, seeds=seeds)
        own = captured.with_state(state) if state is not None else captured
        own, manifest = own.with_session(manifest)  # a notebook's cells so far
        self._own = own
        if publish(self._client, self._run, own, manifest, with_tags=True):
            self._published = manifest
        else:
            from mlflow_repro.plugin.later import retry_at_exit

            retry_at_exit(self._client, self._run, own, manifest, with_tags=True)


def _first_job() -> bool:
    """Whether this is the process's first job (and registers the exit join with it)."""
    state = process()
    with state.jobs_lock:
        state.jobs_begun += 1
        if state.jobs_begun > 1:
            return False
    from mlflow_repro.plugin.later import at_exit

    at_exit(join_all)
    return state.captured is None


def begin() -> None:
    """A run is about to be created in this thread: start its job."""
    fingerprint = None
    try:
        from mlflow_repro.rng.generators import rng_fingerprint

        fingerprint = rng_fingerprint()
    except Exception as exc:
        print(f"mlflow-repro: no run-start RNG fingerprint: {exc}", file=sys.stderr)
    here = process().job_here
    previous = getattr(here, "job", None)
    if previous is not None:  # tags() asked before, and no run came of it
        previous.cancel()
    here.job = RunJob(fingerprint, _first_job())


def created(client: Any, run: Any) -> None:
    """MLflow created `run` with our capture id: hand it to the job its tags() started (a new
    job when tags were resolved in another thread)."""
    state = process()
    job = getattr(state.job_here, "job", None)
    state.job_here.job = None
    if job is None:
        begin()
        job, state.job_here.job = state.job_here.job, None
    with state.jobs_lock:
        state.jobs_by_run[run.info.run_id] = job
    job.attach(client, run, state.next_run_index())


def ending(run_id: str) -> None:
    """The run `run_id` is being marked ended: its record first (bounded)."""
    state = process()
    with state.jobs_lock:
        job = state.jobs_by_run.pop(run_id, None)
    if job is not None and job.join():
        job.finish()
    elif job is not None:
        print(
            f"mlflow-repro: run {run_id} ends while its record is still being logged "
            f"(waited {JOIN_SECONDS:.0f} s); it goes on until the process exits",
            file=sys.stderr,
        )
        with state.jobs_lock:
            state.jobs_by_run[run_id] = job


def join_all() -> None:
    """At exit: every record logged (bounded), jobs that never got a run cancelled."""
    state = process()
    job = getattr(state.job_here, "job", None)
    if job is not None:
        job.cancel()
    with state.jobs_lock:
        by_run = dict(state.jobs_by_run)
        state.jobs_by_run.clear()
    for job in dict.fromkeys(by_run.values()):
        if job.join():
            job.finish()
        else:
            runs = [r for r, j in by_run.items() if j is job]
            print(
                f"mlflow-repro: gave up waiting for the record of run {', '.join(runs)} after "
                f"{JOIN_SECONDS:.0f} s; it holds no manifest",
                file=sys.stderr,
            )
