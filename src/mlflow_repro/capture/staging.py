"""A directory of payload files waiting to be logged under `repro/` in a run."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

from mlflow_repro.manifest import Payload


class Staging:
    """Collects payload bytes in a private temporary directory, hashing each one."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mlflow-repro-")
        self.root = Path(self._dir.name)
        self._lock = threading.Lock()

    def add(self, relative: str, data: bytes) -> Payload:
        """Store `data` as `repro/<relative>`; returns its Payload record."""
        target = self.root / relative
        with self._lock:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return Payload(
            path=f"repro/{relative}", sha256=hashlib.sha256(data).hexdigest(), size=len(data)
        )

    def cleanup(self) -> None:
        self._dir.cleanup()
