"""A step display for long replays: each step's name, then its duration or its failure; and
where the re-run's own output goes (a log file unless asked to show it)."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class Progress:
    """`quiet`: no step lines (errors still reach stderr through the exception)."""

    def __init__(self, total: int, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream: TextIO = io.StringIO() if quiet else (stream or sys.stderr)
        self.durations: dict[str, float] = {}

    def note(self, text: str) -> None:
        print(f"      {text}", file=self.stream, flush=True)

    @contextmanager
    def step(self, name: str, what: str) -> Iterator[None]:
        self.done += 1
        print(f"[{self.done}/{self.total}] {name}: {what} ...", file=self.stream, flush=True)
        began = time.perf_counter()
        try:
            yield
        except BaseException:
            took = time.perf_counter() - began
            print(f"[{self.done}/{self.total}] {name}: failed after {took:.1f}s", file=self.stream)
            raise
        took = time.perf_counter() - began
        self.durations[name] = round(took, 3)
        print(
            f"[{self.done}/{self.total}] {name}: done in {took:.1f}s", file=self.stream, flush=True
        )


@contextmanager
def output_to(log: Path | None, progress: Progress) -> Iterator[None]:
    """Send this process's and its children's stdout and stderr (uv's package lines, pip and
    MLflow warnings, the job's own output) to `log` for the duration, keeping the progress lines
    on the terminal. `log=None`: leave the output where it is (`-v`)."""
    if log is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = progress.stream
    if terminal is sys.stderr:
        progress.stream = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            if progress.stream is not terminal:
                progress.stream.close()
                progress.stream = terminal
