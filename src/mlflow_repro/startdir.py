"""Where this process started: fixed once, when the plugin loads (at `import mlflow`).

A fact of the process, not state: capture reads it to find a relative `argv[0]` and the
tracking store's relative paths after the script's own `os.chdir`. Imports only os and sys.
"""

from __future__ import annotations

import os
import sys


def _start_directory() -> str | None:
    """The directory this process started in, where its relative `argv[0]` and the relative
    paths it was given mean something: the working directory as the plugin loads (at `import
    mlflow`, before the script's own `os.chdir` as a rule), or the shell's `$PWD` when the script
    is not found from there but is from it (a chdir before `import mlflow`)."""
    try:
        here: str | None = os.getcwd()
    except OSError:
        here = None
    script = sys.argv[0] if sys.argv else ""
    relative = bool(script) and not os.path.isabs(script) and script.endswith(".py")
    if relative and (here is None or not os.path.exists(os.path.join(here, script))):
        pwd = os.environ.get("PWD", "")
        if pwd and os.path.exists(os.path.join(pwd, script)):
            return pwd
    return here


START_DIR = _start_directory()
