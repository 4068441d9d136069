"""What is inside a container image, read without running a model: one `docker run --rm
--network none` of the image's own Python (`python`, else `python3`: the first on the image's
PATH, which is what serving in it would run) with a standard-library script on its stdin.

The script reports the Python version, the C library as capture records it
(`os.confstr("CS_GNU_LIBC_VERSION")`), every installed distribution (name, version and, for one
installed from a file, the file's sha256 from `direct_url.json`), the BLAS and OpenMP libraries
loaded after importing numpy, scipy.linalg and scikit-learn (and any framework the run used) as
threadpoolctl lists them (what capture records; without threadpoolctl only numpy's build
configuration, which is not compared), and the hash-checked requirements the image recipe keeps
at /opt/mlflow-repro/requirements.lock.txt when there is one. `docker image inspect` names the
image by content (its id and repository digest).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlflow_repro.container import docker
from mlflow_repro.errors import UsageError

# Where an image built by mlflow-repro's recipe (container/build.py) keeps its hash-checked lock
IMAGE_LOCK = "/opt/mlflow-repro/requirements.lock.txt"
MAX_LOCK_BYTES = 8 * 2**20
# Imported in the image before its BLAS libraries are listed: what a scikit-learn model loads
DEFAULT_IMPORTS = ("numpy", "scipy.linalg", "sklearn")
INTERPRETERS = ("python", "python3")
MARK = "MLFLOW-REPRO-IMAGE-FACTS "

# Runs under the image's Python (3.8 or later), standard library only; argv: modules to import.
PROBE = r"""
import json, os, platform, sys
import importlib, importlib.metadata as md

def libc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return " ".join(platform.libc_ver())

dists, wheels = {}, {}
for d in md.distributions():
    name = d.metadata.get("Name")
    if not name or name in dists:
        continue
    dists[name] = d.version
    try:
        text = d.read_text("direct_url.json")
        info = json.loads(text).get("archive_info", {}) if text else {}
    except ValueError:
        info = {}
    digest = (info.get("hashes") or {}).get("sha256") or ""
    if not digest and str(info.get("hash", "")).startswith("sha256="):
        digest = info["hash"].split("=", 1)[1]
    if digest:
        wheels[name] = digest.lower()

imported, failed = [], {}
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
        imported.append(module)
    except BaseException as exc:
        said = str(exc).splitlines()[0][:200] if str(exc) else ""
        failed[module] = type(exc).__name__ + (": " + said if said else "")

blas, blas_source, numpy_blas = [], "none", {}
try:
    from threadpoolctl import threadpool_info
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer",
            "architecture")
    blas = [{k: str(i[k]) for k in keep if k in i} for i in threadpool_info()]
    blas_source = "threadpoolctl"
except ImportError:
    if "numpy" in sys.modules:
        try:
            import numpy
            config = numpy.show_config(mode="dicts")
            found = (config.get("Build Dependencies") or {}).get("blas") or {}
            numpy_blas = {k: str(v) for k, v in found.items() if isinstance(v, (str, int))}
            blas_source = "numpy.show_config"
        except Exception:
            pass
except Exception as exc:
    blas_source = "threadpoolctl failed: " + type(exc).__name__

lock = None
try:
    with open(LOCK, "rb") as f:
        data = f.read(MAX + 1)
    lock = data.decode("utf-8", "replace") if len(data) <= MAX else ""
except OSError:
    pass

env = {
    "implementation_name": sys.implementation.name,
    "implementation_version": platform.python_version(),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(MARK + json.dumps({
    "python": platform.python_version(),
    "implementation": platform.python_implementation(),
    "executable": sys.executable,
    "prefix": sys.prefix,
    "machine": platform.machine(),
    "libc": libc(),
    "distributions": dists,
    "wheels": wheels,
    "imported": imported,
    "import_failures": failed,
    "blas": sorted(blas, key=lambda b: sorted(b.items())),
    "blas_source": blas_source,
    "numpy_blas": numpy_blas,
    "lock": lock,
    "markers": env,
}))
"""


def probe_script() -> str:
    return f"LOCK = {IMAGE_LOCK!r}\nMAX = {MAX_LOCK_BYTES}\nMARK = {MARK!r}\n" + PROBE


@dataclass(frozen=True)
class ImageFacts:
    """What an image holds, as serving in it would see it."""

    reference: str  # as given (a name:tag, repository@digest or id)
    image_id: str  # "sha256:<64 hex>": the image's content
    repo_digest: str | None  # "<repository>@sha256:<64 hex>" when it came from a registry
    python: str  # "3.11.2"
    implementation: str = "CPython"
    executable: str = ""  # the interpreter the probe ran (the image's PATH chose it)
    machine: str = ""  # platform.machine(): "x86_64"
    libc: str = ""  # "glibc 2.36", as capture records it
    distributions: dict[str, str] = field(default_factory=dict)  # name -> version
    wheels: dict[str, str] = field(default_factory=dict)  # name -> sha256 of its file
    blas: list[dict[str, str]] = field(default_factory=list)  # threadpoolctl, as capture
    blas_source: str = "threadpoolctl"  # "threadpoolctl", "numpy.show_config" or "none"
    numpy_blas: dict[str, str] = field(default_factory=dict)  # numpy's build config (fallback)
    imported: list[str] = field(default_factory=list)  # modules imported before listing BLAS
    import_failures: dict[str, str] = field(default_factory=dict)
    lock: str | None = None  # the text of IMAGE_LOCK; None: the image has none ("" too big)
    markers: dict[str, str] = field(default_factory=dict)  # PEP 508 environment in the image

    @property
    def named(self) -> str:
        """The image by content, for a report: `ref (sha256:...; repo@sha256:...)`."""
        shown = ", ".join([self.image_id, *([self.repo_digest] if self.repo_digest else [])])
        bare = self.reference.removeprefix("sha256:")
        if len(bare) >= 12 and self.image_id.removeprefix("sha256:").startswith(bare):
            return f"image {shown}"  # named by its id already
        return f"image {self.reference} ({shown})"


def facts_from(reference: str, info: docker.ImageInfo, data: dict[str, Any]) -> ImageFacts:
    """The record from the engine's `inspect` and the probe's JSON."""
    lock = data.get("lock")
    return ImageFacts(
        reference=reference,
        image_id=info.id,
        repo_digest=info.repo_digest,
        python=str(data.get("python") or ""),
        implementation=str(data.get("implementation") or ""),
        executable=str(data.get("executable") or ""),
        machine=str(data.get("machine") or ""),
        libc=str(data.get("libc") or ""),
        distributions={str(k): str(v) for k, v in (data.get("distributions") or {}).items()},
        wheels={str(k): str(v) for k, v in (data.get("wheels") or {}).items()},
        blas=[{str(k): str(v) for k, v in b.items()} for b in data.get("blas") or []],
        blas_source=str(data.get("blas_source") or "none"),
        numpy_blas={str(k): str(v) for k, v in (data.get("numpy_blas") or {}).items()},
        imported=[str(m) for m in data.get("imported") or []],
        import_failures={str(k): str(v) for k, v in (data.get("import_failures") or {}).items()},
        lock=None if lock is None else str(lock),
        markers={str(k): str(v) for k, v in (data.get("markers") or {}).items()},
    )


def _parse(output: str) -> dict[str, Any] | None:
    for line in reversed(output.splitlines()):
        if line.startswith(MARK):
            try:
                data = json.loads(line[len(MARK) :])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def probe_image(
    reference: str, imports: tuple[str, ...] = DEFAULT_IMPORTS, timeout: float = 180.0
) -> ImageFacts:
    """Read what `reference` holds (see the module's docstring). Raises UsageError when the
    Docker engine cannot be used, the image is not present here, or it has no Python that
    runs the probe: never a report built on nothing."""
    problem = docker.daemon_problem()
    if problem is not None:
        raise UsageError(
            f"the image cannot be inspected: {problem}",
            value=reference,
            hint="start the Docker daemon (dockerd) or point DOCKER_HOST at one, then run "
            "parity again",
        )
    info = docker.inspect_image(reference)
    if info is None:
        raise UsageError(
            "no such image in the local Docker engine",
            value=reference,
            hint="build it, `docker pull` it or `docker load` it first (parity reads a local "
            "image and pulls nothing), or name it by its id or repository@sha256 digest",
        )
    script = probe_script().encode()
    failures = []
    for python in INTERPRETERS:
        done = docker.run(
            info.id, ["-", *imports], stdin=script, entrypoint=python, timeout=timeout
        )
        data = _parse(done.text) if done.ok else None
        if data is not None:
            return facts_from(reference, info, data)
        failures.append(f"{python}: {done.reason or 'printed no report'}")
    raise UsageError(
        "the image's Python could not be run to read what it holds ("
        + "; ".join(f[:300] for f in failures)
        + ")",
        value=reference,
        hint="parity --image needs an image with `python` or `python3` on its PATH (the "
        "interpreter serving runs); compare with its requirements file (--against) otherwise",
    )
