"""`diff`: why two runs differ, from their manifests (and MLflow's params and metrics).

Every recorded difference is listed, grouped and ranked so that the likely cause of a metric
difference comes first: code, then data, parameters (and how the run was launched), seeds, the
environment (its manager, Python, packages), floating-point settings, platform (and backend),
GPU. The container image a run ran in (or the host) is a platform difference ranked ahead of the
environment: an image holds the Python, the packages, libc and BLAS, so another image explains
those differences. When the metrics are equal there is no cause to find
(`RunDiff.likely_cause` is None); the differences are still listed, ranked the same way. Files that
only record another group's change (dvc.lock and `*.dvc` for data; uv.lock, pyproject.toml and
requirement files for packages) rank with that group, after its own entries. Differences that
cannot change a result are left out: capture times, run ids, and the state of a generator the
job seeded itself afterwards (ranked last when shown at all).
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from mlflow_repro.inspect.records import Difference, RunDiff
from mlflow_repro.inspect.runs import RunRecord, client_for, load_record
from mlflow_repro.inspect.trees import tree_changes
from mlflow_repro.manifest import Manifest

RANK = {
    "code": 0,
    "data": 1,
    "parameters": 2,
    "seeds": 3,
    "environment": 4,
    "settings": 5,
    "platform": 6,
    "gpu": 7,
    "noise": 9,
}
# The image difference (group "platform") ranks after seeds and before the environment
IMAGE = "image"
IMAGE_RANK = RANK["environment"] - 0.5
DATA_FILES = ("dvc.lock", "dvc.yaml")
ENV_FILES = ("uv.lock", "pyproject.toml", "python_env.yaml", ".python-version", "conda.yaml")


def _file_group(path: str) -> str:
    name = PurePosixPath(path).name
    if name in DATA_FILES or name.endswith(".dvc"):
        return "data"
    if name in ENV_FILES or (name.startswith("requirements") and name.endswith(".txt")):
        return "environment"
    return "code"


def _shown(value: Any) -> str | None:
    return None if value is None else str(value)


def _pins(record: RunRecord) -> dict[str, tuple[str, frozenset[str]]] | None:
    """name -> (version, hashes) from the run's recorded lock, or None when not recorded."""
    from mlflow_repro.inspect.packages import parse_requirements

    manifest, folder = record.manifest, record.payloads
    if manifest is None or folder is None or manifest.environment.requirements is None:
        return None
    path = folder / manifest.environment.requirements.path
    if not path.is_file():
        return None
    return {
        name: (pin.version, pin.hashes)
        for name, pin in parse_requirements(path.read_text("utf-8")).items()
    }


def _code(a: RunRecord, b: RunRecord, notes: list[str]) -> list[Difference]:
    ma, mb = a.manifest, b.manifest
    assert ma is not None and mb is not None and a.payloads and b.payloads
    ca, cb = ma.code, mb.code
    same_commit = ca.commit == cb.commit
    same_changes = (ca.diff.sha256 if ca.diff else None) == (
        cb.diff.sha256 if cb.diff else None
    ) and sorted((u.path, u.payload.sha256) for u in ca.untracked) == sorted(
        (u.path, u.payload.sha256) for u in cb.untracked
    )
    if same_commit and same_changes:
        return []
    out = []
    if ca.commit and cb.commit:
        changes, why = tree_changes(ca, a.payloads, cb, b.payloads)
    else:
        changes, why = None, "a run has no commit recorded"
    if changes is None:
        notes.append(f"code: {why}; compared by commit and recorded-change hashes only")
        if not same_commit:
            out.append(Difference("code", "commit", ca.commit, cb.commit))
        if not same_changes:
            out.append(
                Difference(
                    "code",
                    "uncommitted changes",
                    ca.diff.sha256[:12] if ca.diff else "none",
                    cb.diff.sha256[:12] if cb.diff else "none",
                )
            )
        return out
    if not same_commit:
        notes.append(f"code: commit {ca.commit} vs {cb.commit}; trees rebuilt with their changes")
    for change in changes:
        out.append(
            Difference(
                _file_group(change.path),
                change.path,
                None if change.status == "added" else "present",
                None if change.status == "deleted" else "present",
                change.patch,
            )
        )
    return out


def _data(ma: Manifest, mb: Manifest) -> list[Difference]:
    fa = {f.path: f.md5 for f in ma.data.files if f.role == "out"}
    fb = {f.path: f.md5 for f in mb.data.files if f.role == "out"}
    return [
        Difference("data", path, fa.get(path), fb.get(path), "DVC md5")
        for path in sorted(set(fa) | set(fb))
        if fa.get(path) != fb.get(path)
    ]


def _parameters(a: RunRecord, b: RunRecord) -> list[Difference]:
    ma, mb = a.manifest, b.manifest
    assert ma is not None and mb is not None
    pa, pb = a.run.data.params, b.run.data.params
    out = [
        Difference("parameters", f"param {key}", pa.get(key), pb.get(key))
        for key in sorted(set(pa) | set(pb))
        if pa.get(key) != pb.get(key)
    ]
    la, lb = ma.launch, mb.launch
    if la.entry_point != lb.entry_point:
        out.append(Difference("parameters", "entry point", la.entry_point, lb.entry_point))
    launched_a, launched_b = la.parameters or {}, lb.parameters or {}
    for key in sorted(set(launched_a) | set(launched_b)):
        if launched_a.get(key) != launched_b.get(key) and f"param {key}" not in {
            d.name for d in out
        }:
            out.append(
                Difference(
                    "parameters", f"launch -P {key}", launched_a.get(key), launched_b.get(key)
                )
            )
    if la.launcher != lb.launcher:
        out.append(Difference("parameters", "launcher", la.launcher, lb.launcher))
    if la.launcher == lb.launcher == "python" and la.command != lb.command:
        out.append(
            Difference("parameters", "command line", " ".join(la.command), " ".join(lb.command))
        )
    return out


def _seeds(ma: Manifest, mb: Manifest) -> list[Difference]:
    sa, sb = ma.seeds, mb.seeds
    out = []
    if sa.seed != sb.seed:
        # A seed no generator took (an automatic seed, with only preloaded generators in use)
        # cannot have changed a result.
        used = bool(sa.seeded or sb.seeded)
        out.append(
            Difference(
                "seeds" if used else "noise",
                "seed",
                _shown(sa.seed),
                _shown(sb.seed),
                f"{sa.source} / {sb.source}" + ("" if used else "; applied to no generator"),
            )
        )
    calls_a = [f"{c.function}({c.seed})" for c in sa.user_seeds]
    calls_b = [f"{c.function}({c.seed})" for c in sb.user_seeds]
    if calls_a != calls_b:
        out.append(Difference("seeds", "seeding calls", ", ".join(calls_a), ", ".join(calls_b)))
    if sa.pythonhashseed != sb.pythonhashseed:
        out.append(Difference("seeds", "PYTHONHASHSEED", sa.pythonhashseed, sb.pythonhashseed))
    if sa.deterministic != sb.deterministic:
        keys = sorted(set(sa.deterministic) | set(sb.deterministic))
        for key in keys:
            if sa.deterministic.get(key) != sb.deterministic.get(key):
                out.append(
                    Difference(
                        "settings", key, sa.deterministic.get(key), sb.deterministic.get(key)
                    )
                )
    # Generator states at load: a cause when the job drew from them unseeded; when it seeded
    # (seed_everything or its own calls, the same in both runs) they were overwritten.
    seeded_itself = bool(calls_a or sa.source.startswith("seed_everything")) and not [
        d for d in out if d.group != "noise"
    ]
    for name in sorted(set(sa.preloaded) | set(sb.preloaded)):
        if sa.preloaded.get(name) != sb.preloaded.get(name):
            out.append(
                Difference(
                    "noise" if seeded_itself else "seeds",
                    f"{name} state at load",
                    sa.preloaded.get(name),
                    sb.preloaded.get(name),
                    "overwritten by the job's own seeding" if seeded_itself else "",
                )
            )
    return out


def _environment(a: RunRecord, b: RunRecord, notes: list[str]) -> list[Difference]:
    ma, mb = a.manifest, b.manifest
    assert ma is not None and mb is not None
    ea, eb = ma.environment, mb.environment
    out = []
    # How the environment was built (`mlflow run --env-manager`: uv, virtualenv, local, conda;
    # none recorded for a plain script), before what was in it.
    if ma.launch.env_manager != mb.launch.env_manager:
        out.append(
            Difference(
                "environment",
                "environment manager",
                ma.launch.env_manager,
                mb.launch.env_manager,
                "mlflow run --env-manager",
            )
        )
    if ea.python_version != eb.python_version:
        out.append(Difference("environment", "python", ea.python_version, eb.python_version))
    pins_a, pins_b = _pins(a), _pins(b)
    if pins_a is None or pins_b is None:
        if (ea.requirements and ea.requirements.sha256) != (
            eb.requirements and eb.requirements.sha256
        ):
            notes.append("environment: a run has no recorded lock; packages not compared")
    else:
        for name in sorted(set(pins_a) | set(pins_b)):
            va, vb = pins_a.get(name), pins_b.get(name)
            if va == vb:
                continue
            if va and vb and va[0] == vb[0]:
                out.append(
                    Difference("environment", name, va[0], vb[0], "same version, other hashes")
                )
            else:
                out.append(
                    Difference("environment", name, va[0] if va else None, vb[0] if vb else None)
                )
    drift_a = {d.name: d.installed for d in ea.drift}
    drift_b = {d.name: d.installed for d in eb.drift}
    for name in sorted(set(drift_a) | set(drift_b)):
        if drift_a.get(name) != drift_b.get(name):
            out.append(
                Difference(
                    "environment", f"{name} (installed)", drift_a.get(name), drift_b.get(name)
                )
            )
    for name in sorted(set(ea.unlocked) | set(eb.unlocked)):
        if ea.unlocked.get(name) != eb.unlocked.get(name):
            out.append(
                Difference(
                    "environment",
                    f"{name} (unlocked)",
                    ea.unlocked.get(name),
                    eb.unlocked.get(name),
                    "installed beside the lock",
                )
            )
    return out


def _image_side(manifest: Manifest) -> tuple[str | None, str]:
    """(what identifies where the run ran, as shown): None on the host, the image id in an
    image; "unidentified" for a container whose image no launcher named."""
    container = manifest.platform.container
    if container is None:
        return None, "on the host"
    if container.source == "unidentified" or not container.image_id:
        return "unidentified", "in an unrecorded container"
    return container.image_id, f"{container.image or 'image'} ({container.image_id[:19]})"


def _image(ma: Manifest, mb: Manifest, notes: list[str]) -> list[Difference]:
    """The image each run ran in, by content id: host vs image, or two image ids. The image
    MLflow builds FROM it with the project copied in (`run_image_id`) is new every run and not
    compared; nor are two containers one of which is unidentified (a note says so)."""
    (ka, shown_a), (kb, shown_b) = _image_side(ma), _image_side(mb)
    if ka == kb and ka != "unidentified":
        return []
    if "unidentified" in (ka, kb) and (ka == kb or None in (ka, kb)):
        # an unrecorded container is recorded as a host is: nothing to tell the two apart by
        which = "A and B" if ka == kb else ("A" if ka == "unidentified" else "B")
        notes.append(
            f"platform: run {which} ran in a container whose image no launcher named; "
            "compared as a host"
        )
        return []

    def told(manifest: Manifest, label: str) -> str:
        container = manifest.platform.container
        if container is None:
            return f"run {label} ran on the host"
        if container.source == "unidentified" or not container.image_id:
            return f"run {label} ran in a container whose image no launcher named"
        said = f"run {label} ran in image {container.image or '?'}, id {container.image_id}"
        return said + (f", {container.repo_digest}" if container.repo_digest else "")

    if ka is not None and kb is not None:
        detail = f"image {ka} vs {kb}"
    else:
        detail = f"{told(ma, 'A')}; {told(mb, 'B')}"
    return [Difference("platform", IMAGE, shown_a, shown_b, detail)]


def _rank(difference: Difference) -> float:
    if difference.group == "platform" and difference.name == IMAGE:
        return IMAGE_RANK
    return RANK.get(difference.group, 8)


def _settings_and_platform(ma: Manifest, mb: Manifest) -> list[Difference]:
    pa, pb = ma.platform, mb.platform
    out = [
        Difference("settings", name, pa.env.get(name), pb.env.get(name), "environment variable")
        for name in sorted(set(pa.env) | set(pb.env))
        if pa.env.get(name) != pb.env.get(name)
    ]

    def blas(p: Any) -> dict[str, str]:
        # by library, whatever the order of loading; numpy and scipy each load an OpenBLAS whose
        # file names can share a prefix (`libscipy_openblas`): all under one name, sorted
        grouped: dict[str, list[str]] = {}
        for b in p.blas:
            grouped.setdefault(f"{b.get('internal_api', '?')} {b.get('prefix', '?')}", []).append(
                f"{b.get('version', '?')}, {b.get('num_threads', '?')} threads"
            )
        return {name: "; ".join(sorted(values)) for name, values in grouped.items()}

    ba, bb = blas(pa), blas(pb)
    out += [
        Difference("settings", f"BLAS {name}", ba.get(name), bb.get(name))
        for name in sorted(set(ba) | set(bb))
        if ba.get(name) != bb.get(name)
    ]
    for field in ("system", "release", "machine", "libc", "cpu_model", "cpu_count"):
        va, vb = getattr(pa, field), getattr(pb, field)
        if va != vb:
            out.append(Difference("platform", field, _shown(va), _shown(vb)))
    if set(pa.cpu_flags) != set(pb.cpu_flags):
        only_a = sorted(set(pa.cpu_flags) - set(pb.cpu_flags))
        only_b = sorted(set(pb.cpu_flags) - set(pa.cpu_flags))
        out.append(
            Difference("platform", "cpu flags", " ".join(only_a[:20]), " ".join(only_b[:20]))
        )
    if ma.launch.backend != mb.launch.backend:
        out.append(
            Difference(
                "platform", "backend", ma.launch.backend, mb.launch.backend, "mlflow run --backend"
            )
        )
    ga, gb = ma.gpu, mb.gpu
    if ga.driver_version != gb.driver_version:
        out.append(Difference("gpu", "driver", ga.driver_version, gb.driver_version))
    names_a = ", ".join(d.name for d in ga.devices) or None
    names_b = ", ".join(d.name for d in gb.devices) or None
    if names_a != names_b:
        out.append(Difference("gpu", "devices", names_a, names_b))
    if ga.frameworks != gb.frameworks:
        out.append(Difference("gpu", "framework builds", str(ga.frameworks), str(gb.frameworks)))
    return out


def _metrics(a: RunRecord, b: RunRecord) -> list[Difference]:
    ma, mb = a.run.data.metrics, b.run.data.metrics
    return [
        Difference("metrics", key, _shown(ma.get(key)), _shown(mb.get(key)))
        for key in sorted(set(ma) | set(mb))
        if ma.get(key) != mb.get(key)
        and not (ma.get(key) != ma.get(key) and mb.get(key) != mb.get(key))
    ]


def compare_records(a: RunRecord, b: RunRecord) -> RunDiff:
    """The ranked differences between two loaded runs."""
    notes: list[str] = []
    unreadable = [
        f"run {label} {record.run_id}: {finding.problem}"
        for record, label in ((a, "A"), (b, "B"))
        for finding in record.findings
    ]
    if unreadable or a.manifest is None or b.manifest is None:
        # Comparing what remains would call an unread or altered record "no difference".
        return RunDiff(a.run_id, b.run_id, [], _metrics(a, b), notes, unreadable)
    found = _code(a, b, notes)
    found += _data(a.manifest, b.manifest)
    found += _parameters(a, b)
    found += _seeds(a.manifest, b.manifest)
    found += _environment(a, b, notes)
    found += _image(a.manifest, b.manifest, notes)
    found += _settings_and_platform(a.manifest, b.manifest)
    # Stable sort: within a group, the group's own entries (data versions, packages) come
    # before the files that only record them (dvc.lock, uv.lock), which are appended later.
    own = {id(d): not (d.group != "code" and d.detail.startswith(("diff --git",))) for d in found}
    ranked = sorted(found, key=lambda d: (_rank(d), not own[id(d)]))
    return RunDiff(a.run_id, b.run_id, ranked, _metrics(a, b), notes)


def diff_runs(run_a: str, run_b: str, *, tracking_uri: str | None = None) -> RunDiff:
    """What differs between runs `run_a` and `run_b` (full ids or unique prefixes), likely
    cause first.

    Raises UsageError when a run does not exist or a prefix is ambiguous; a record that is
    absent, unreadable or altered (the reader's findings) is named in `unreadable`, and nothing
    else is compared.
    """
    from mlflow_repro.store import resolve_run_id

    client = client_for(tracking_uri)
    run_a, run_b = resolve_run_id(client, run_a), resolve_run_id(client, run_b)
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-diff-") as tmp:
        a = load_record(client, run_a, Path(tmp) / "a")
        b = load_record(client, run_b, Path(tmp) / "b")
        return compare_records(a, b)
