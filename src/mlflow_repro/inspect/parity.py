"""`parity`: does a serving environment match the one a run (or model version) was trained in?

Training side: the run's recorded lock (`repro/requirements.lock.txt`: versions and hashes),
the packages installed beside it, the Python version and the project's own wheel (sha256).
Serving side: a requirements file (versions and, when it has them, hashes), a PEP 751
`pylock.toml` (versions and every file's sha256; known by its name or its `lock-version`), or
an interpreter (its installed distributions and Python; default: this one). An installed
distribution keeps no hash of the wheel it came from unless it was installed from a file
(`direct_url.json`), so against an interpreter packages from an index are compared by version.

Against a requirements file or a pylock.toml, what the run's logged model needs is read too
(its MLmodel, `requirements.txt` and `python_env.yaml`): a serving file pins what it serves
with, not the training tools. Every package both sides name is compared; of the rest, the
model's own libraries (mlflow and each flavor's library, as MLmodel records them) must be pinned
(`missing`), the model's other requirements may be left to the installer (`unpinned`), and what
only training had (in the lock, not in the model's requirements) is `training-only`. Neither of
the last two fails the check; each is summed up in one line. A pylock.toml is a lock: every file
it names may be installed, so each of its sha256 must be one the run's lock has for that version
(`hash-differs` names the others); a requirements file's hashes need only one in common.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow_repro import process
from mlflow_repro.errors import ManifestError, UsageError
from mlflow_repro.inspect.imageprobe import DEFAULT_IMPORTS, IMAGE_LOCK, MAX_LOCK_BYTES, ImageFacts
from mlflow_repro.inspect.packages import (
    NotAPylock,
    Pin,
    is_pylock,
    parse_pylock,
    parse_requirements,
)
from mlflow_repro.inspect.records import ParityItem, ParityReport
from mlflow_repro.inspect.runs import Target, client_for, load_record, resolve
from mlflow_repro.manifest import Manifest
from mlflow_repro.uvexport import marker_holds, marker_of, normalize

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


def _compare(
    name: str, trained: Pin, serving: Pin | None, hashed: bool, locked: bool = False
) -> ParityItem:
    """`locked`: the serving side is a lock (pylock.toml) naming every file it may install,
    so each of its sha256 must be one training's lock has for that version."""
    if serving is None:
        return ParityItem(name, "missing", trained.version, None, "not in the serving environment")
    if serving.version != trained.version:
        return ParityItem(name, "version-differs", trained.version, serving.version)
    if locked and trained.hashes and serving.hashes:
        unknown = sorted(serving.hashes - trained.hashes)
        if not unknown:
            return ParityItem(name, "match", trained.version, serving.version, "version and hash")
        return ParityItem(
            name,
            "hash-differs",
            trained.version,
            serving.version,
            f"same version; the serving lock names {len(unknown)} file(s) the run's lock does "
            f"not: sha256 {', '.join(h[:12] + '...' for h in unknown[:3])}",
        )
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


def _requires_python(text: str) -> str | None:
    import tomllib

    value = tomllib.loads(text).get("requires-python")
    return str(value) if value else None


def _python_against_lock(trained: str, requires: str | None) -> ParityItem:
    """A pylock.toml names no Python version, only the range it was locked for
    (`requires-python`): the run's Python outside it is a mismatch, inside it unchecked."""
    if not requires:
        return ParityItem("python", "unchecked", trained, None, "the lock names no Python")
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        inside = SpecifierSet(requires).contains(trained, prereleases=True)
    except InvalidSpecifier:
        return ParityItem("python", "unchecked", trained, requires, "unreadable requires-python")
    if inside:
        return ParityItem(
            "python", "unchecked", trained, requires, "the lock names a range, not a version"
        )
    return ParityItem(
        "python", "version-differs", trained, requires, "outside the lock's requires-python"
    )


# A flavor in MLmodel -> the distribution that loads it (the flavor's own library).
FLAVOR_PACKAGES = {
    "sklearn": "scikit-learn",
    "pytorch": "torch",
    "keras": "keras",
    "tensorflow": "tensorflow",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "onnx": "onnx",
    "statsmodels": "statsmodels",
    "transformers": "transformers",
    "spark": "pyspark",
    "spacy": "spacy",
    "prophet": "prophet",
    "paddle": "paddlepaddle",
    "h2o": "h2o",
}
MODEL_FILES = ("MLmodel", "requirements.txt", "python_env.yaml")
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)")


@dataclass(frozen=True)
class ModelNeeds:
    """What a logged model says it needs to be served."""

    described: str  # which model(s): "model 'model' (m-...)"
    pins: dict[str, Pin] = field(default_factory=dict)  # its requirements.txt, `==` lines
    names: frozenset[str] = frozenset()  # every package its requirements.txt names
    core: dict[str, str] = field(default_factory=dict)  # mlflow and each flavor's library
    python: str | None = None  # python_env.yaml
    # name -> the environment marker of its requirements.txt line (`; sys_platform == "win32"`)
    markers: dict[str, str] = field(default_factory=dict)


def read_model_needs(folder: Path, described: str) -> ModelNeeds | None:
    """The needs a model's files in `folder` state (MLmodel, requirements.txt, python_env.yaml);
    None when it holds none of them."""
    import yaml

    found = {name: folder / name for name in MODEL_FILES if (folder / name).is_file()}
    if not found:
        return None
    pins: dict[str, Pin] = {}
    names: set[str] = set()
    markers: dict[str, str] = {}
    if "requirements.txt" in found:
        text = found["requirements.txt"].read_text("utf-8")
        pins = parse_requirements(text)
        for line in text.splitlines():
            match = NAME.match(line.strip())
            if match and not line.strip().startswith(("-", ".", "#")):
                names.add(normalize(match.group(1)))
                if marker_of(line.strip()):
                    markers.setdefault(normalize(match.group(1)), marker_of(line.strip()))
        names |= set(pins)
    core: dict[str, str] = {}
    if "MLmodel" in found:
        meta = yaml.safe_load(found["MLmodel"].read_text("utf-8")) or {}
        if meta.get("mlflow_version"):
            core["mlflow"] = str(meta["mlflow_version"])
        for flavor, conf in (meta.get("flavors") or {}).items():
            package = FLAVOR_PACKAGES.get(flavor)
            if package is None or not isinstance(conf, dict):
                continue
            versions = [str(v) for k, v in conf.items() if k.endswith("_version") and v]
            core[package] = versions[0] if versions else ""
    python = None
    if "python_env.yaml" in found:
        env = yaml.safe_load(found["python_env.yaml"].read_text("utf-8")) or {}
        python = str(env["python"]) if env.get("python") else None
    return ModelNeeds(described, pins, frozenset(names | set(core)), core, python, markers)


def _merge(needs: list[ModelNeeds]) -> ModelNeeds | None:
    if len(needs) <= 1:
        return needs[0] if needs else None
    pins: dict[str, Pin] = {}
    core: dict[str, str] = {}
    for need in needs:
        pins = {**need.pins, **pins}
        core = {**need.core, **core}
    return ModelNeeds(
        " and ".join(n.described for n in needs),
        pins,
        frozenset().union(*(n.names for n in needs)),
        core,
        next((n.python for n in needs if n.python), None),
        {k: v for n in reversed(needs) for k, v in n.markers.items()},
    )


def _download_needs(client: Any, location: str, described: str) -> ModelNeeds | None:
    """The model's needs, its three small files downloaded from `location` (not its weights)."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="mlflow-repro-model-") as tmp:
        for name in MODEL_FILES:
            try:
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{location.rstrip('/')}/{name}",
                    dst_path=tmp,
                    tracking_uri=client.tracking_uri,
                )
            except Exception:  # absent (or unreadable): the model's needs without it
                continue
        return read_model_needs(Path(tmp), described)


def model_needs(client: Any, run: Any, target: Target) -> ModelNeeds | None:
    """What the model of `target` needs: the registered version's model when the target names
    one, else every model the run logged (MLflow 3's logged models; else a folder of the run's
    artifacts holding an MLmodel, as MLflow 2 logged them). None when there is none."""
    source = target.model_source or ""
    if source.startswith("models:/m-"):
        model = client.get_logged_model(source.removeprefix("models:/"))
        return _download_needs(
            client, model.artifact_location, f"model {model.name!r} ({model.model_id})"
        )
    if source.startswith("runs:/"):
        return _download_needs(client, source, f"model {source}")
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    found = [
        _download_needs(client, m.artifact_location, f"model {m.name!r} ({m.model_id})")
        for m in models
    ]
    if not models:
        for folder in client.list_artifacts(run.info.run_id):
            if folder.is_dir and any(
                a.path.endswith("/MLmodel")
                for a in client.list_artifacts(run.info.run_id, folder.path)
            ):
                location = f"runs:/{run.info.run_id}/{folder.path}"
                found.append(_download_needs(client, location, f"model {folder.path!r}"))
    return _merge([n for n in found if n is not None])


def against_model(
    trained: dict[str, Pin],
    needs: ModelNeeds,
    serving: dict[str, Pin],
    skip: set[str],
    locked: bool = False,
) -> list[ParityItem]:
    """Each package of training or the model, against a serving requirements file (or
    pylock.toml: `locked`) read with the model's needs: compared where both name it; else
    missing (the model's own libraries), unpinned (the model's other requirements) or
    training-only."""
    items = []
    for name in sorted((set(trained) | needs.names) - skip):
        pin = trained.get(name) or needs.pins.get(name)
        if pin is None and needs.core.get(name):
            pin = Pin(needs.core[name], frozenset())
        have = serving.get(name)
        if have is not None and pin is not None:
            items.append(_compare(name, pin, have, True, locked))
        elif have is not None:
            items.append(
                ParityItem(name, "unchecked", None, have.version, "the model names no version")
            )
        elif name in needs.core:
            items.append(
                ParityItem(
                    name,
                    "missing",
                    pin.version if pin else None,
                    None,
                    "the model's own library (MLmodel): the serving file must pin it",
                )
            )
        elif name in needs.names:
            items.append(
                ParityItem(
                    name,
                    "unpinned",
                    pin.version if pin else None,
                    None,
                    "the model needs it; the serving file leaves its version to the installer",
                )
            )
        else:
            items.append(
                ParityItem(
                    name,
                    "training-only",
                    pin.version if pin else None,
                    None,
                    "in the run's lock, not in the model's requirements",
                )
            )
    return items


def read_training(client: Any, resolved: Target) -> tuple[Any, Manifest, dict[str, Pin]]:
    """The run's record, its manifest and what it was trained with: its recorded lock (versions
    and hashes) and the packages installed beside it. Raises when there is nothing to compare."""
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
    return record, manifest, with_unlocked(trained, manifest)


def with_unlocked(trained: dict[str, Pin], manifest: Manifest) -> dict[str, Pin]:
    """The lock's pins and, by version, what was installed beside the lock."""
    extra = {
        normalize(k): Pin(v, frozenset())
        for k, v in manifest.environment.unlocked.items()
        if normalize(k) not in trained
    }
    return {**trained, **extra}


def _needs(client: Any, run: Any, resolved: Target) -> tuple[ModelNeeds | None, str]:
    """The model's needs, or why they could not be read (a store failure: one line, scrubbed)."""
    try:
        return model_needs(client, run, resolved), ""
    except Exception as exc:
        from mlflow_repro.store import is_store_failure, scrub

        if not (is_store_failure(exc) or isinstance(exc, (OSError, ValueError))):
            raise
        return None, scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:300]


def model_summary(needs: ModelNeeds) -> str:
    """One line on what the logged model needs: its requirements, own libraries and Python."""
    own = ", ".join(f"{k} {v}".strip() for k, v in sorted(needs.core.items()))
    model = f"{needs.described}: {len(needs.names)} requirements" + (
        f"; its own libraries (MLmodel): {own}" if own else ""
    )
    if needs.python:
        model += f"; Python {needs.python} (python_env.yaml)"
    return model


def parity(
    target: str,
    *,
    against: str | Path | None = None,
    python: str | None = None,
    tracking_uri: str | None = None,
) -> ParityReport:
    """Compare the training environment of `target` (a run id or models:/ URI) with a serving
    environment: the requirements file or pylock.toml `against`, else the interpreter `python`
    (default: this one). Raises UsageError when the target, the file or the interpreter cannot
    be read, or when the run recorded no lock to compare with."""
    if against is not None and python is not None:
        raise UsageError(
            "give either --against or --python, not both",
            value=f"{against} / {python}",
            hint="compare with one serving environment at a time",
        )
    client = client_for(tracking_uri)
    resolved = resolve(client, target)
    record, manifest, trained = read_training(client, resolved)
    env = manifest.environment
    needs, unread = _needs(client, record.run, resolved) if against is not None else (None, "")
    locked, requires_python = False, None
    if against is not None:
        path = Path(against)
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"the requirements file cannot be read ({exc})",
                value=str(path),
                hint="pass the serving environment's requirements file (name==version lines) "
                "or its pylock.toml",
            ) from None
        if is_pylock(path.name, text):
            try:
                serving = parse_pylock(text)
            except NotAPylock as exc:
                raise UsageError(
                    f"the pylock.toml cannot be read: {exc}",
                    value=str(path),
                    hint="pass a PEP 751 lock (uv export --format pylock.toml) or a "
                    "requirements file",
                ) from None
            locked, requires_python = True, _requires_python(text)
            described = f"pylock.toml {path}"
        else:
            serving = parse_requirements(text)
            described = f"requirements {path}"
        serving_python, hashed = None, True
        project_hashes = {k: p.hashes for k, p in serving.items()}
    else:
        interpreter = python or sys.executable
        serving_python, serving, wheels = _interpreter(interpreter)
        hashed = False
        described = f"interpreter {interpreter}"
        project_hashes = {k: frozenset([v]) for k, v in wheels.items()}
    items = []
    if locked:
        items.append(_python_against_lock(env.python_version, requires_python))
    elif serving_python is None:
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
    notes, model = [], ""
    if needs is not None:
        model = model_summary(needs)
        if needs.python and needs.python != env.python_version:
            notes.append(
                f"the model's python_env.yaml names Python {needs.python}, the run had "
                f"{env.python_version}"
            )
        items += against_model(trained, needs, serving, wheel_names, locked)
    else:
        if unread:
            notes.append(
                f"the logged model's needs could not be read ({unread}): the whole training "
                "lock is compared"
            )
        elif against is not None:
            notes.append("no logged model found for the run: the whole training lock is compared")
        for name in sorted(trained):
            if name in wheel_names:
                continue
            items.append(_compare(name, trained[name], serving.get(name), hashed, locked))
    for wheel in env.wheels:
        name = normalize(wheel.name)
        found = project_hashes.get(name, frozenset())
        if needs is not None and name not in needs.names and name not in serving:
            items.append(
                ParityItem(
                    f"wheel:{wheel.name}",
                    "training-only",
                    wheel.sha256,
                    None,
                    "the project's wheel; not in the model's requirements",
                )
            )
            continue
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
    known = set(trained) | (needs.names if needs is not None else set())
    for name in sorted(set(serving) - known - wheel_names):
        items.append(ParityItem(name, "extra", None, serving[name].version, "only in serving"))
    return ParityReport(
        target=target,
        run_id=resolved.run_id,
        against=described,
        items=items,
        model=model,
        notes=notes,
    )


# A framework the run used (environment.frameworks) -> the module imported in the image before
# its BLAS libraries are listed (each framework's wheel may bring its own BLAS or OpenMP)
FRAMEWORK_MODULES = {
    "torch": "torch",
    "tensorflow": "tensorflow",
    "tensorflow-cpu": "tensorflow",
    "jax": "jax",
    "jaxlib": "jax",
}


def image_imports(manifest: Manifest) -> tuple[str, ...]:
    """What the image probe imports before listing BLAS: numpy, scipy.linalg and scikit-learn,
    and each framework the run recorded."""
    extra = [FRAMEWORK_MODULES.get(normalize(f.name), "") for f in manifest.environment.frameworks]
    return tuple(dict.fromkeys([*DEFAULT_IMPORTS, *(m for m in extra if m)]))


def _image_pins(facts: ImageFacts) -> tuple[dict[str, Pin], dict[str, str]]:
    """Each distribution installed in the image with the sha256 that names its file: the one its
    `direct_url.json` records (installed from a file), else the image lock's hashes for that
    version (the recipe installed them hash-checked); none otherwise. And where each hash came
    from."""
    lock = parse_requirements(facts.lock, facts.markers or None) if facts.lock else {}
    pins: dict[str, Pin] = {}
    source: dict[str, str] = {}
    for raw, version in facts.distributions.items():
        name = normalize(raw)
        if name in pins:
            continue
        wheel = facts.wheels.get(raw)
        locked = lock.get(name)
        if wheel:
            pins[name] = Pin(version, frozenset([wheel]))
            source[name] = "direct_url.json"
        elif locked is not None and locked.version == version and locked.hashes:
            pins[name] = Pin(version, locked.hashes)
            source[name] = "lock"
        else:
            pins[name] = Pin(version, frozenset())
            if locked is not None and locked.version != version:
                source[name] = f"lock names {locked.version}"
    return pins, source


def _blas_groups(libraries: list[dict[str, str]]) -> dict[str, str]:
    """BLAS and OpenMP libraries by `<user_api>:<internal_api> <prefix>` -> their distinct
    versions, sorted (numpy and scipy each load an OpenBLAS with the same prefix; two copies of
    one version, as torch's and scikit-learn's libgomp, are the same library); thread counts and
    the CPU architecture OpenBLAS chose belong to the machine, not to the image: left out."""
    grouped: dict[str, list[str]] = {}
    for lib in libraries:
        key = (
            f"{lib.get('user_api', 'blas')}:{lib.get('internal_api', '?')} {lib.get('prefix', '?')}"
        )
        grouped.setdefault(key, []).append(lib.get("version", "?"))
    return {key: ", ".join(sorted(set(versions))) for key, versions in grouped.items()}


def _system_items(manifest: Manifest, facts: ImageFacts) -> list[ParityItem]:
    """Python, the machine, the C library and BLAS: like with like, as capture records them."""
    env, plat = manifest.environment, manifest.platform
    items = []
    if not env.python_version or not facts.python:
        items.append(
            ParityItem("python", "unchecked", env.python_version or None, facts.python or None)
        )
    else:
        same = facts.python == env.python_version
        detail = "" if same else "another Python than training had: a real difference"
        if env.python_implementation and facts.implementation not in (
            "",
            env.python_implementation,
        ):
            same, detail = (
                False,
                f"{env.python_implementation} trained, {facts.implementation} in the image",
            )
        items.append(
            ParityItem(
                "python",
                "match" if same else "version-differs",
                env.python_version,
                facts.python,
                detail,
            )
        )
    for name, trained, image in (
        ("machine", plat.machine, facts.machine),
        ("libc", plat.libc, facts.libc),
    ):
        if not trained or not image:
            side = "the run" if not trained else "the image"
            items.append(
                ParityItem(
                    name, "unchecked", trained or None, image or None, f"{side} records none"
                )
            )
        else:
            items.append(
                ParityItem(name, "match" if trained == image else "version-differs", trained, image)
            )
    imported = ", ".join(facts.imported) or "nothing"
    if facts.blas_source != "threadpoolctl":
        built = ", ".join(f"{k} {v}" for k, v in sorted(facts.numpy_blas.items())) or "unknown"
        items.append(
            ParityItem(
                "blas",
                "unchecked",
                "; ".join(f"{k} {v}" for k, v in _blas_groups(plat.blas).items()) or None,
                None,
                f"threadpoolctl is not installed in the image ({facts.blas_source}): the "
                f"libraries loaded cannot be listed as the run recorded them; numpy's build "
                f"configuration says {built}",
            )
        )
        return items
    if not plat.blas:
        found = _blas_groups(facts.blas)
        items.append(
            ParityItem(
                "blas",
                "unchecked",
                None,
                "; ".join(f"{k} {v}" for k, v in found.items()) or None,
                "the run recorded no BLAS library (none was loaded when it was captured)",
            )
        )
        return items
    trained_blas, image_blas = _blas_groups(plat.blas), _blas_groups(facts.blas)
    for key in sorted(set(trained_blas) | set(image_blas)):
        a, b = trained_blas.get(key), image_blas.get(key)
        if a is None:
            items.append(
                ParityItem(key, "extra", None, b, f"loaded in the image after importing {imported}")
            )
        elif b is None:
            items.append(
                ParityItem(
                    key, "missing", a, None, f"not loaded in the image after importing {imported}"
                )
            )
        else:
            items.append(ParityItem(key, "match" if a == b else "version-differs", a, b))
    return items


def image_parity(
    manifest: Manifest,
    trained: dict[str, Pin],
    facts: ImageFacts,
    needs: ModelNeeds | None = None,
    *,
    target: str = "",
    run_id: str = "",
    unread: str = "",
) -> ParityReport:
    """Compare the training environment a run recorded (`manifest`, and `trained`: its lock's
    pins with the packages installed beside it, see `with_unlocked`) with what an image holds
    (`facts`), without running anything: Python, the machine, the C library, BLAS, and package by
    package the version and, where both sides record it, the wheel's sha256. With the model's
    `needs`, a package only training had and the image lacks is `training-only`; one the model
    needs is `missing`. What cannot be compared is listed as `unchecked`, never as a match."""
    env = manifest.environment
    items = _system_items(manifest, facts)
    serving, hash_source = _image_pins(facts)
    wheel_names = {normalize(w.name) for w in env.wheels}
    if needs is not None:
        # a requirement whose marker does not hold in the image (`sys_platform == "win32"`) is
        # not one serving there needs
        held = frozenset(
            n for n in needs.names if marker_holds(needs.markers.get(n, ""), facts.markers or None)
        )
        needs = dataclasses.replace(needs, names=held)
    names = (set(trained) | (needs.names if needs is not None else set())) - wheel_names
    unhashed: list[str] = []
    for name in sorted(names):
        pin = trained.get(name) or (needs.pins.get(name) if needs is not None else None)
        if pin is None and needs is not None and needs.core.get(name):
            pin = Pin(needs.core[name], frozenset())
        have = serving.get(name)
        if have is not None and pin is not None:
            item = _compare(name, pin, have, True)
            if item.status == "match" and item.detail == "version":
                if not pin.hashes:
                    why = "the run's lock records no sha256 for it"
                else:
                    unhashed.append(name)
                    why = "the image records no sha256 for it"
                    if name in hash_source:
                        why += f" ({hash_source[name]}, {have.version} installed)"
                item = ParityItem(
                    name, "match", pin.version, have.version, f"version; sha256 not compared: {why}"
                )
            items.append(item)
        elif have is not None:
            items.append(
                ParityItem(name, "unchecked", None, have.version, "the model names no version")
            )
        elif needs is not None and name in needs.core:
            items.append(
                ParityItem(
                    name,
                    "missing",
                    pin.version if pin else None,
                    None,
                    "the model's own library (MLmodel); not installed in the image",
                )
            )
        elif needs is not None and name in needs.names:
            items.append(
                ParityItem(
                    name,
                    "missing",
                    pin.version if pin else None,
                    None,
                    "the model needs it; not installed in the image",
                )
            )
        elif needs is not None:
            items.append(
                ParityItem(
                    name,
                    "training-only",
                    pin.version if pin else None,
                    None,
                    "in the run's lock, not in the model's requirements; not in the image",
                )
            )
        else:
            items.append(
                ParityItem(
                    name,
                    "missing",
                    pin.version if pin else None,
                    None,
                    "not installed in the image",
                )
            )
    for wheel in env.wheels:
        name = normalize(wheel.name)
        found = serving[name].hashes if name in serving else frozenset()
        if name not in serving and needs is not None and name not in needs.names:
            items.append(
                ParityItem(
                    f"wheel:{wheel.name}",
                    "training-only",
                    wheel.sha256,
                    None,
                    "the project's wheel; not in the model's requirements",
                )
            )
            continue
        if name not in serving:
            status, detail = "missing", "not installed in the image"
        elif wheel.sha256 is None:
            status, detail = "unchecked", "the training run recorded no sha256 for it"
        elif wheel.sha256 in found:
            status, detail = "match", "same wheel file (sha256)"
        elif not found:
            status, detail = "unchecked", "the image records no sha256 for it"
        else:
            status, detail = "hash-differs", "another build of the project's wheel"
        items.append(
            ParityItem(f"wheel:{wheel.name}", status, wheel.sha256, next(iter(found), None), detail)
        )
    for name in sorted(set(serving) - names - wheel_names):
        items.append(ParityItem(name, "extra", None, serving[name].version, "only in the image"))
    if unhashed:
        where = (
            f"the image has no {IMAGE_LOCK} (the recipe's hash-checked lock)"
            if facts.lock is None
            else f"its {IMAGE_LOCK} is over {MAX_LOCK_BYTES} bytes, not read"
            if facts.lock == ""
            else f"its {IMAGE_LOCK} names no sha256 for these versions"
        )
        items.append(
            ParityItem(
                "sha256",
                "unchecked",
                None,
                None,
                f"{len(unhashed)} package(s) compared by version only, their wheel hashes could "
                f"not be compared: {where} and they were not installed from a file "
                f"({', '.join(unhashed[:5])}{' ...' if len(unhashed) > 5 else ''})",
            )
        )
    notes = [
        f"read in the image with {facts.executable or 'its python'}: the interpreter on its "
        "PATH, which serving in it runs"
    ]
    container = manifest.platform.container
    if container is not None and container.image_id:
        if container.image_id == facts.image_id:
            notes.append(f"the run ran in this image (same id {facts.image_id})")
        else:
            notes.append(
                f"the run ran in another image ({container.image or '?'}, id {container.image_id})"
            )
    elif container is None:
        notes.append("the run ran on a host, not in a container")
    broken = {  # not installed there is no news; installed and failing to import is
        k: v for k, v in facts.import_failures.items() if not v.startswith("ModuleNotFoundError")
    }
    if broken:
        failed = "; ".join(f"{k}: {v}" for k, v in sorted(broken.items()))
        notes.append(f"not importable in the image (BLAS listed without them): {failed}")
    model = ""
    if needs is not None:
        model = model_summary(needs)
        if needs.python and facts.python and needs.python != facts.python:
            notes.append(
                f"the model's python_env.yaml names Python {needs.python}, the image has "
                f"{facts.python}"
            )
    elif unread:
        notes.append(
            f"the logged model's needs could not be read ({unread}): the whole training lock "
            "is compared"
        )
    else:
        notes.append("no logged model found for the run: the whole training lock is compared")
    return ParityReport(
        target=target,
        run_id=run_id,
        against=facts.named,
        items=items,
        model=model,
        notes=notes,
    )


def parity_image(target: str, image: str, *, tracking_uri: str | None = None) -> ParityReport:
    """Compare the training environment of `target` (a run id or models:/ URI) with what the
    local Docker image `image` holds (a name:tag, repository@digest or id), reading the image
    with one `docker run --network none` of its Python; nothing of the model runs. Raises
    UsageError when the target or the image cannot be read (no daemon, no such image, no
    Python in it) or the run recorded no lock."""
    from mlflow_repro.inspect.imageprobe import probe_image

    client = client_for(tracking_uri)
    resolved = resolve(client, target)
    record, manifest, trained = read_training(client, resolved)
    needs, unread = _needs(client, record.run, resolved)
    facts = probe_image(image, image_imports(manifest))
    return image_parity(
        manifest, trained, facts, needs, target=target, run_id=resolved.run_id, unread=unread
    )
