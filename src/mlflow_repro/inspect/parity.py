"""`parity`: does a serving environment match the one a run (or model version) was trained in?

Training side: the run's recorded lock (`repro/requirements.lock.txt`: versions and hashes),
the packages installed beside it, the Python version and the project's own wheel (sha256).
Serving side: a requirements file (versions and, when it has them, hashes), or an interpreter
(its installed distributions and Python; default: this one). An installed distribution keeps no
hash of the wheel it came from unless it was installed from a file (`direct_url.json`), so
against an interpreter packages from an index are compared by version.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.errors import ManifestError, UsageError
from mlflow_repro.inspect.packages import Pin, parse_requirements
from mlflow_repro.inspect.records import ParityItem, ParityReport
from mlflow_repro.inspect.runs import client_for, load_record, resolve
from mlflow_repro.uvexport import normalize

PROBE = r"""
import json, platform, importlib.metadata as md
dists, wheels = {}, {}
for d in md.distributions():
    name = d.metadata.get("Name")
    if not name:
        continue
    dists[name] = d.version
    text = d.read_text("direct_url.json")
    if text:
        info = json.loads(text).get("archive_info", {})
        digest = (info.get("hashes") or {}).get("sha256") or info.get("hash", "").partition("=")[2]
        if digest:
            wheels[name] = digest
print(json.dumps({"python": platform.python_version(), "dists": dists, "wheels": wheels}))
"""


def _interpreter(python: str) -> tuple[str, dict[str, Pin], dict[str, str]]:
    done = process.run([python, "-c", PROBE], timeout=60.0)
    if not done.ok:
        raise UsageError(
            f"the serving interpreter could not be inspected: {done.reason}",
            value=python,
            hint="pass the python executable of the serving environment with --python",
        )
    data = json.loads(done.text)
    pins = {normalize(k): Pin(v, frozenset()) for k, v in data["dists"].items()}
    wheels = {normalize(k): v for k, v in data["wheels"].items()}
    return str(data["python"]), pins, wheels


def _compare(name: str, trained: Pin, serving: Pin | None, hashed: bool) -> ParityItem:
    if serving is None:
        return ParityItem(name, "missing", trained.version, None, "not in the serving environment")
    if serving.version != trained.version:
        return ParityItem(name, "version-differs", trained.version, serving.version)
    if hashed and trained.hashes and serving.hashes:
        if trained.hashes & serving.hashes:
            return ParityItem(name, "match", trained.version, serving.version, "version and hash")
        return ParityItem(
            name,
            "hash-differs",
            trained.version,
            serving.version,
            "same version, no sha256 in common: another build of it",
        )
    return ParityItem(name, "match", trained.version, serving.version, "version")


def parity(
    target: str,
    *,
    against: str | Path | None = None,
    python: str | None = None,
    tracking_uri: str | None = None,
) -> ParityReport:
    """Compare the training environment of `target` (a run id or models:/ URI) with a serving
    environment: the requirements file `against`, else the interpreter `python` (default: this
    one). Raises UsageError when the target, the file or the interpreter cannot be read, or when
    the run recorded no lock to compare with."""
    if against is not None and python is not None:
        raise UsageError(
            "give either --against or --python, not both",
            value=f"{against} / {python}",
            hint="compare with one serving environment at a time",
        )
    client = client_for(tracking_uri)
    resolved = resolve(client, target)
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-parity-") as tmp:
        record = load_record(client, resolved.run_id, Path(tmp))
        manifest = record.manifest
        if record.findings or manifest is None or record.payloads is None:
            wrong = record.findings[0]
            raise ManifestError(
                f"nothing to compare with: {wrong.problem}",
                run_id=resolved.run_id,
                hint=wrong.hint,
            )
        env = manifest.environment
        lock = record.payloads / env.requirements.path if env.requirements else None
        if lock is None or not lock.is_file():
            raise UsageError(
                "the run recorded no lock of its packages (no uv.lock where it ran)",
                run_id=resolved.run_id,
                value=env.lock_source,
                hint="lock the project with uv and record a new training run",
            )
        trained = parse_requirements(lock.read_text("utf-8"))
    trained.update(
        {
            normalize(k): Pin(v, frozenset())
            for k, v in env.unlocked.items()
            if normalize(k) not in trained
        }
    )
    if against is not None:
        path = Path(against)
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"the requirements file cannot be read ({exc})",
                value=str(path),
                hint="pass the serving environment's requirements file (name==version lines)",
            ) from None
        serving = parse_requirements(text)
        serving_python, hashed = None, True
        described = f"requirements {path}"
        project_hashes = {k: p.hashes for k, p in serving.items()}
    else:
        interpreter = python or sys.executable
        serving_python, serving, wheels = _interpreter(interpreter)
        hashed = False
        described = f"interpreter {interpreter}"
        project_hashes = {k: frozenset([v]) for k, v in wheels.items()}
    items = []
    if serving_python is None:
        items.append(
            ParityItem(
                "python",
                "unchecked",
                env.python_version,
                None,
                "a requirements file names no Python",
            )
        )
    else:
        same = serving_python == env.python_version
        items.append(
            ParityItem(
                "python", "match" if same else "version-differs", env.python_version, serving_python
            )
        )
    wheel_names = {normalize(w.name) for w in env.wheels}
    for name in sorted(trained):
        if name in wheel_names:
            continue
        items.append(_compare(name, trained[name], serving.get(name), hashed))
    for wheel in env.wheels:
        name = normalize(wheel.name)
        found = project_hashes.get(name, frozenset())
        if wheel.sha256 is None:
            status, detail = "unchecked", "the training run recorded no sha256 for it"
        elif name not in serving:
            status, detail = "missing", "not in the serving environment"
        elif wheel.sha256 in found:
            status, detail = "match", "same wheel file (sha256)"
        elif not found:
            status, detail = "unchecked", "the serving side records no wheel hash for it"
        else:
            status, detail = "hash-differs", "another build of the project's wheel"
        items.append(
            ParityItem(f"wheel:{wheel.name}", status, wheel.sha256, next(iter(found), None), detail)
        )
    for name in sorted(set(serving) - set(trained) - wheel_names):
        items.append(ParityItem(name, "extra", None, serving[name].version, "only in serving"))
    return ParityReport(target=target, run_id=resolved.run_id, against=described, items=items)
