"""Uploads of `repro/` that failed (a tracking server gone for a moment, an artifact store that
refused a write): tried once more as the process exits, when the server may be back.

The retry runs from threading's exit hook (before MLflow's atexit `end_run`), in a daemon thread
joined for `RETRY_SECONDS` at most, so that a server still away cannot hold the exit for long.
What the second try could not log is printed; what it logged clears the failure from the run's
`repro.capture.errors` and sets its `repro.status`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import TYPE_CHECKING, Any

from mlflow_repro.plugin.state import process

if TYPE_CHECKING:
    from mlflow_repro.capture import Captured
    from mlflow_repro.manifest import Manifest

RETRY_SECONDS = 30.0


def retry_at_exit(
    client: Any, run: Any, captured: Captured, manifest: Manifest, *, with_tags: bool
) -> None:
    """Remember a failed `publish` to try again as the process exits."""
    state = process()
    with state.retry_lock:
        if not state.retries:
            at_exit(_retry_all)
        state.retries.append((client, run, captured, manifest, with_tags))
    print(
        f"mlflow-repro: repro/ for run {run.info.run_id} will be tried again as this process exits",
        file=sys.stderr,
    )


def at_exit(hook: Any) -> None:
    """Run `hook` as the process exits, from threading's exit hooks: before interpreter shutdown
    starts refusing new threads and executor work (artifact uploads use them) and before the
    atexit hook with which MLflow ends the run; atexit is the fallback where that hook is
    missing."""
    import atexit

    register = getattr(threading, "_register_atexit", None)
    try:
        register(hook) if register else atexit.register(hook)
    except Exception:
        atexit.register(hook)


def _retry_all() -> None:
    state = process()
    with state.retry_lock:
        pending, state.retries[:] = list(state.retries), []
    if not pending:
        return
    thread = threading.Thread(
        target=_retry, args=(pending,), daemon=True, name="mlflow-repro-retry"
    )
    try:
        thread.start()
    except RuntimeError:  # registered during shutdown (atexit fallback): no new threads then
        _retry(pending)
        return
    thread.join(RETRY_SECONDS)
    if thread.is_alive():
        runs = ", ".join(run.info.run_id for _, run, *_ in pending)
        print(
            f"mlflow-repro: gave up retrying repro/ for run {runs} after {RETRY_SECONDS:.0f} s "
            "(the tracking server is still unreachable); those runs hold no manifest",
            file=sys.stderr,
        )


def _retry(pending: list[tuple[Any, Any, Captured, Manifest, bool]]) -> None:
    from mlflow_repro.names import CAPTURE_ERRORS_TAG
    from mlflow_repro.plugin.publish import publish

    for client, run, captured, manifest, with_tags in pending:
        run_id = run.info.run_id
        try:
            with contextlib.suppress(Exception):  # its tags now: a description written meanwhile
                run = client.get_run(run_id)
            if not publish(
                client,
                run,
                captured,
                manifest,
                with_tags=with_tags,
                attempt=" (second try, at exit)",
            ):
                continue
            # the failure's note gone (if it could be written), the capture's own errors kept
            if manifest.errors:
                client.set_tag(run_id, CAPTURE_ERRORS_TAG, manifest.tags()[CAPTURE_ERRORS_TAG])
            elif CAPTURE_ERRORS_TAG in run.data.tags:  # as read just before this try
                client.delete_tag(run_id, CAPTURE_ERRORS_TAG)
            print(f"mlflow-repro: repro/ logged to run {run_id} on a second try", file=sys.stderr)
        except Exception as exc:  # never fail the user's exit
            print(f"mlflow-repro: retry for run {run_id} failed: {exc}", file=sys.stderr)
