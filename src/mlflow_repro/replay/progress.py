"""A step display for long replays: each step's name, then its duration or its failure."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
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
