"""A directory of payload files waiting to be logged under `repro/` in a run."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

from mlflow_repro.manifest import Payload


class StagingClosed(RuntimeError):
    """A collector that overran its deadline tried to add a payload."""


class Staging:
    """Collects payload bytes in a private temporary directory, hashing each one.

    Each file remembers the thread (collector) that wrote it, so that when a collector overruns
    the capture deadline its files can be discarded: the directory then holds exactly what the
    manifest lists.
    """

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mlflow-repro-")
        self.root = Path(self._dir.name)
        self._lock = threading.Lock()
        self._owners: dict[Path, str] = {}
        self._closed = False

    def add(self, relative: str, data: bytes) -> Payload:
        """Store `data` as `repro/<relative>`; returns its Payload record."""
        target = self.root / relative
        with self._lock:
            if self._closed:
                raise StagingClosed(f"capture deadline passed before {relative} was staged")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self._owners[target] = threading.current_thread().name
        return Payload(
            path=f"repro/{relative}", sha256=hashlib.sha256(data).hexdigest(), size=len(data)
        )

    def close(self, discard_owners: set[str]) -> None:
        """Accept no more payloads; delete those written by the threads named."""
        with self._lock:
            self._closed = True
            for path, owner in self._owners.items():
                if owner in discard_owners:
                    path.unlink(missing_ok=True)

    def cleanup(self) -> None:
        self._dir.cleanup()
