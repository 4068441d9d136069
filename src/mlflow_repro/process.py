"""The one way mlflow-repro runs a program: a timeout on every call, bounded output, git kept
read-only and non-interactive, uv found where the `uv` package put it; never an exception.

Capture calls `run` on its path (bytes, short timeouts); replay calls it with text and longer
timeouts, and turns a failed `Result` into its own error with `Result.reason`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# mlflow-repro only reads the user's repositories: git must not take optional locks (an index
# refresh), nor stop to ask for credentials.
GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
MAX_OUTPUT_BYTES = 64 * 2**20  # stdout kept; a larger output is cut (capture caps its payloads)
MAX_REASON_CHARS = 600


@dataclass(frozen=True)
class Result:
    ok: bool
    stdout: bytes
    error: str | None  # the command and why it failed: exit status and its last stderr lines
    returncode: int | None = None
    stderr: str = ""

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def reason(self) -> str:
        """What went wrong, for a message a person reads."""
        return self.error or ""


def uv_binary() -> str | None:
    """The uv executable: the one the `uv` package ships, else the first on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def _shown(cmd: list[str]) -> str:
    return " ".join(Path(cmd[0]).name if i == 0 else a for i, a in enumerate(cmd[:3]))


def run(
    cmd: list[str],
    cwd: Path | None = None,
    timeout: float = 5.0,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
) -> Result:
    """Run `cmd` (with `input` on its stdin, else none); failures, missing programs and
    time-outs come back as `ok=False`."""
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL if input is None else None,
            input=input,
            env={**os.environ, **GIT_ENV, **(env or {})},
        )
    except FileNotFoundError:
        return Result(False, b"", f"{cmd[0]}: not found")
    except subprocess.TimeoutExpired:
        return Result(False, b"", f"`{_shown(cmd)}` timed out after {timeout:g}s")
    except OSError as exc:
        return Result(False, b"", f"`{_shown(cmd)}` failed: {exc}")
    stderr = done.stderr.decode("utf-8", "replace").strip()
    stdout = done.stdout[:MAX_OUTPUT_BYTES]
    if done.returncode != 0:
        tail = " | ".join(stderr.splitlines()[-3:])[-MAX_REASON_CHARS:]
        error = f"`{_shown(cmd)}` exit {done.returncode}: {tail}"
        return Result(False, stdout, error, done.returncode, stderr)
    return Result(True, stdout, None, 0, stderr)


def stream_with_error(
    cmd: list[str], cwd: Path, env: Mapping[str, str], lines: int = 8
) -> tuple[int, str]:
    """`stream`, and the end of what the program wrote to stderr: from its last `Traceback`
    (a Python error names its cause on its last line) or its last `lines` lines. stderr is
    passed through line by line as it comes (to wherever this process's stderr goes)."""
    import collections
    import os

    kept: collections.deque[bytes] = collections.deque(maxlen=200)
    try:
        child = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stderr=subprocess.PIPE)
    except FileNotFoundError:
        return 127, f"{cmd[0]}: not found"
    except OSError as exc:
        return 126, f"{cmd[0]}: {exc.strerror}"
    assert child.stderr is not None
    for line in child.stderr:
        os.write(2, line)
        kept.append(line)
    status = child.wait()
    text = [line.decode("utf-8", "replace").rstrip() for line in kept]
    starts = [i for i, line in enumerate(text) if line.startswith("Traceback (most recent call")]
    tail = text[starts[-1] :] if starts else text[-lines:]
    if len(tail) > lines:  # the frames in between say where, the last lines say what
        tail = [tail[0], "  ...", *tail[-(lines - 2) :]]
    return status, "\n".join(line for line in tail if line.strip())
