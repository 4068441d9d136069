"""Payloads of a collector that overran the deadline are discarded, and no more are accepted."""

from __future__ import annotations

import threading

import pytest

from mlflow_repro.capture.staging import Staging, StagingClosed


def test_close_discards_late_writers_and_refuses_more(staging: Staging) -> None:
    staging.add("kept.txt", b"on time")

    def late() -> None:
        staging.add("late.txt", b"overran")

    thread = threading.Thread(target=late, name="repro-slow")
    thread.start()
    thread.join()
    staging.close(discard_owners={"repro-slow"})
    assert (staging.root / "kept.txt").read_bytes() == b"on time"
    assert not (staging.root / "late.txt").exists()
    with pytest.raises(StagingClosed):
        staging.add("after.txt", b"x")
