"""Bounded subprocesses for collectors: a timeout on every call, never an exception."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Capture only reads: git must not take optional locks (index refresh) in the user's repository,
# nor stop to ask for credentials.
_QUIET_GIT = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class Result:
    ok: bool
    stdout: bytes
    error: str | None


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 5.0) -> Result:
    """Run `cmd`; failures, missing programs and time-outs come back as `ok=False`."""
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **_QUIET_GIT},
        )
    except FileNotFoundError:
        return Result(False, b"", f"{cmd[0]}: not found")
    except subprocess.TimeoutExpired:
        return Result(False, b"", f"`{' '.join(cmd[:3])}` timed out after {timeout:g}s")
    except OSError as exc:
        return Result(False, b"", f"`{' '.join(cmd[:3])}` failed: {exc}")
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        first = message[-1] if message else ""
        return Result(False, done.stdout, f"`{' '.join(cmd[:3])}` exit {done.returncode}: {first}")
    return Result(True, done.stdout, None)
