"""`audit`: the auditor's list for a run or a registered model version, checked now.

Each item is `ok`, `weak` (rebuildable, with a risk the auditor should know) or `missing` (what
is needed to rebuild is not there), with the reason and what to do. The order is the order an
auditor asks in: is the record intact, can the code, environment and data be had, were the
random inputs recorded, how was it launched, on what (the host, or the image: still present or
pullable?), what came out, and was it ever rebuilt.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mlflow_repro.inspect import availability
from mlflow_repro.inspect.records import MISSING, OK, WEAK, AuditItem, AuditReport
from mlflow_repro.inspect.runs import RunRecord, Target, client_for, load_record, replays_of
from mlflow_repro.manifest import Container, Manifest
from mlflow_repro.manifest.schema import on_launching_side
from mlflow_repro.manifest.status import LAUNCH_IN_IMAGE, container_gap
from mlflow_repro.names import REPLAY_DIFFERENCES_TAG, REPLAY_VERDICT_TAG
from mlflow_repro.signing import KEY_VAR, TAMPERED, UNSIGNED, UNVERIFIED, VALID, key_file


def _item(name: str, status: str, reason: str, action: str = "") -> AuditItem:
    return AuditItem(name, status, reason, "" if status == OK else action)


def _record_items(record: RunRecord) -> list[AuditItem]:
    manifest = record.manifest
    assert manifest is not None
    items = [
        _item(
            "manifest",
            OK,
            f"schema {manifest.schema_version}, recorded {manifest.captured_at} by mlflow-repro "
            f"{manifest.mlflow_repro_version}",
        )
    ]
    if record.payload_problems:
        items.append(
            _item(
                "integrity",
                MISSING,
                "payloads changed after the run: " + "; ".join(record.payload_problems),
                "treat the record as altered; restore the artifacts from a backup",
            )
        )
    else:
        items.append(
            _item("integrity", OK, f"{len(manifest.payloads())} payloads match their sha256")
        )
    check = record.signature
    if (check is None or check.status == UNSIGNED) and key_file() is not None:
        # With a team key configured an unsigned record is what a removed signature looks like.
        items.append(
            _item(
                "signature",
                MISSING,
                "unsigned, while a team key is configured: the record was made without the key, "
                "or its repro/manifest.sig was removed; it cannot be told from a changed record",
                "treat the record as unverified; record runs with the team key configured",
            )
        )
    elif check is None or check.status == UNSIGNED:
        items.append(
            _item(
                "signature",
                WEAK,
                "unsigned: whoever can write the run's artifacts could change manifest and "
                "hashes together",
                f"set {KEY_VAR} to a team key (`mlflow-repro keygen`) where runs are recorded",
            )
        )
    elif check.status == VALID:
        items.append(_item("signature", OK, check.detail))
    elif check.status == UNVERIFIED:
        items.append(
            _item("signature", WEAK, check.detail, f"set {KEY_VAR} to the team's public key")
        )
    else:
        assert check.status == TAMPERED
        items.append(
            _item(
                "signature",
                MISSING,
                f"tampered: {check.detail}",
                "do not trust this record; compare it with a backup of the artifact store",
            )
        )
    return items


def _code_items(manifest: Manifest) -> list[AuditItem]:
    code = manifest.code
    if code.vcs != "git" or not code.commit:
        why = {
            "none": "the run was not made in a git repository",
            "unknown": "capture could not read the repository",
        }.get(code.vcs, f"no commit recorded (vcs {code.vcs!r})")
        return [
            _item("commit", MISSING, why, "run from a git checkout with a commit"),
            _item("code", MISSING, why, "run from a git checkout with a commit"),
        ]
    found = availability.find_commit(code, on_launching_side(manifest, code.repo_root))
    branch = code.branch or ("detached HEAD" if code.detached else "?")
    if found.kind == "remote":
        commit = _item("commit", OK, f"{code.commit[:12]} ({branch}) is on {found.where}")
    elif found.kind == "local":
        commit = _item(
            "commit",
            WEAK,
            f"{code.commit[:12]} ({branch}) is only in the local repository {found.where}"
            + (f"; not on {code.remote_url}" if code.remote_url else "; no remote recorded"),
            "push the commit (git push) so it survives this machine",
        )
    else:
        commit = _item(
            "commit",
            MISSING,
            f"{code.commit[:12]} is in no source now: " + "; ".join(found.tried),
            "find a clone that has the commit and push it to the remote",
        )
    if not code.complete:
        left = ", ".join(f"{o.path} ({o.reason})" for o in code.omitted[:5])
        more = f" and {len(code.omitted) - 5} more" if len(code.omitted) > 5 else ""
        state = _item(
            "code",
            MISSING,
            f"uncommitted changes were withheld: {left}{more}",
            "commit those changes (or keep them under the capture caps) and record a new run",
        )
    elif code.dirty:
        parts = ["diff" if code.diff else None, f"{len(code.untracked)} untracked files"]
        state = _item(
            "code",
            OK,
            "dirty; recorded in full: " + ", ".join(p for p in parts if p),
        )
    else:
        state = _item("code", OK, "clean checkout at the commit")
    return [commit, state]


def _environment_items(manifest: Manifest) -> list[AuditItem]:
    env = manifest.environment
    python = _item(
        "python",
        OK if env.python_version else MISSING,
        f"{env.python_implementation} {env.python_version}".strip() or "not recorded",
        "record runs with mlflow-repro installed",
    )
    if env.lock_strength == "hashes" and env.requirements is not None:
        lock = _item(
            "environment",
            OK,
            f"{env.requirement_count} packages locked with hashes ({env.lock_source})",
        )
        risks = []
        if env.drift:
            risks.append(
                "installed differs from the lock: "
                + ", ".join(f"{d.name} {d.locked}->{d.installed}" for d in env.drift[:5])
            )
        if env.unlocked:
            risks.append(
                "installed beside the lock: "
                + ", ".join(f"{k}=={v}" for k, v in list(env.unlocked.items())[:8])
            )
        if risks:
            lock = _item(
                "environment",
                WEAK,
                f"{env.requirement_count} packages locked with hashes; " + "; ".join(risks),
                "install everything the job imports from the lock (uv sync) and record anew",
            )
    elif env.lock_strength == "versions-only":
        lock = _item(
            "environment",
            WEAK,
            f"{env.requirement_count} installed versions recorded, no hashes (no uv.lock)",
            "lock the project with uv (uv lock) so packages are hash-checked",
        )
    else:
        lock = _item(
            "environment",
            MISSING,
            "no lock and no package list recorded",
            "lock the project with uv (uv lock) and record a new run",
        )
    items = [python, lock]
    if env.frameworks:
        unlocked = [b for b in env.frameworks if not b.sha256]
        named = ", ".join(
            f"{b.name} {b.build} ({b.wheel}"
            + (f", sha256 {b.sha256[:12]}… in uv.lock)" if b.sha256 else ", not in uv.lock)")
            for b in env.frameworks
        )
        items.append(
            _item(
                "frameworks",
                WEAK if unlocked else OK,
                named,
                "install the framework from the lock (`uv sync --group ...`) and record anew: "
                "a replay gets only the builds uv.lock names",
            )
        )
    return items


def _data_items(manifest: Manifest) -> list[AuditItem]:
    outs = [f for f in manifest.data.files if f.role == "out" and f.md5]
    if not outs:
        return [_item("data", OK, "no DVC-tracked data recorded")]
    items = []
    host_dvc_root = on_launching_side(manifest, manifest.data.dvc_root)
    for file in outs:
        found = availability.find_data(manifest.data, file, host_dvc_root)
        name = f"data:{file.path}"
        version = f"md5 {file.md5[:12]}"
        if found.kind in ("cache", "remote"):
            items.append(_item(name, OK, f"{version} retrievable from {found.where}"))
        elif found.kind == "unchecked":
            items.append(
                _item(
                    name,
                    WEAK,
                    f"{version} not in the local cache; remote not checked from here: "
                    f"{found.where}",
                    "run `dvc status -c` where the remote is reachable",
                )
            )
        else:
            items.append(
                _item(
                    name,
                    MISSING,
                    f"{version} is in no cache or remote: " + "; ".join(found.tried),
                    "dvc push the data from a machine that has it",
                )
            )
    return items


def _seed_items(manifest: Manifest) -> list[AuditItem]:
    seeds = manifest.seeds
    if seeds.seed is None and seeds.state is None:
        return [
            _item(
                "seeds",
                MISSING,
                "no seed and no generator state recorded",
                "keep automatic seeding on, or call mlflow_repro.seed_everything(seed)",
            )
        ]
    parts = [f"seed {seeds.seed} ({seeds.source})" if seeds.seed is not None else "no seed"]
    if seeds.state is not None:
        parts.append(f"generator states recorded ({', '.join(sorted(seeds.preloaded))})")
    unrecorded = [k for k, v in seeds.preloaded.items() if v == "unrecorded"]
    if unrecorded:
        return [
            _item(
                "seeds",
                WEAK,
                "; ".join(parts) + f"; state not recordable: {', '.join(unrecorded)}",
                "seed those generators explicitly (seed_everything) after import",
            )
        ]
    if seeds.user_seeds:
        parts.append(
            "user seeds: " + ", ".join(f"{c.function}({c.seed})" for c in seeds.user_seeds)
        )
    return [_item("seeds", OK, "; ".join(parts))]


def _launch_items(manifest: Manifest, run: Any) -> list[AuditItem]:
    launch = manifest.launch
    if launch.launcher == "mlflow run":
        command = _item(
            "command",
            OK if launch.entry_point else WEAK,
            f"mlflow run -e {launch.entry_point} --env-manager {launch.env_manager} "
            f"(backend {launch.backend or 'local'})",
            "record runs with mlflow-repro 0.1 or later (schema 2 keeps the launch)",
        )
        declared = launch.parameters
        if declared is None:
            params = _item(
                "parameters",
                WEAK,
                "launch parameters not recorded (schema 1 manifest)",
                "re-record the run",
            )
        else:
            logged = run.data.params
            differ = [k for k, v in declared.items() if k in logged and logged[k] != v]
            params = _item(
                "parameters",
                WEAK if differ else OK,
                f"{len(declared)} launch parameters recorded; {len(logged)} params logged"
                + (f"; logged differently: {', '.join(differ)}" if differ else ""),
                "check what the job logs against what it was launched with",
            )
    else:
        shown = " ".join(launch.command or launch.argv) or ""
        command = _item(
            "command",
            OK if shown else MISSING,
            f"python {shown}" if shown else "no command line recorded",
            "record runs with mlflow-repro installed",
        )
        params = _item("parameters", OK, f"{len(run.data.params)} params logged; argv recorded")
    return [command, params]


def _platform_items(manifest: Manifest, run_id: str) -> list[AuditItem]:
    platform, gpu, seeds = manifest.platform, manifest.gpu, manifest.seeds
    items = [
        _item(
            "platform",
            OK if platform.system else MISSING,
            f"{platform.system} {platform.machine}, {platform.cpu_model or 'CPU ?'}, "
            f"{platform.libc or 'libc ?'}, BLAS: "
            + (", ".join(b.get("internal_api", "?") for b in platform.blas) or "not loaded"),
            "record runs with mlflow-repro installed",
        ),
        _container_item(manifest, run_id),
    ]
    if gpu.devices:
        names = ", ".join(d.name for d in gpu.devices)
        items.append(_item("gpu", OK, f"{names}; driver {gpu.driver_version}"))
    else:
        items.append(_item("gpu", OK, f"no GPU seen ({gpu.source})"))
    frameworks = [f for f in ("torch", "tensorflow") if f in seeds.seeded or f in gpu.frameworks]
    switches = dict(seeds.deterministic)
    threads = {k: v for k, v in platform.env.items() if k.endswith("_NUM_THREADS")}
    loose = [
        f
        for f in frameworks
        if not any(k.startswith(f) and v == "True" for k, v in switches.items())
    ]
    detail = ", ".join(f"{k}={v}" for k, v in {**switches, **threads}.items()) or "none set"
    items.append(
        _item(
            "determinism",
            WEAK if loose else OK,
            f"settings: {detail}"
            + (f"; {', '.join(loose)} ran without deterministic algorithms" if loose else ""),
            "call seed_everything(seed, deterministic=True)",
        )
    )
    return items


def _short_digest(value: str) -> str:
    """`sha256:` and 12 hex wherever a value carries a full digest (ids, repo@digest)."""
    head, sep, tail = value.partition("sha256:")
    return f"{head}{sep}{tail[:12]}" if sep and len(tail) > 12 else value


def build_inputs(build: dict[str, str]) -> str:
    """The recorded build inputs (the image recipe's labels, container/build.py), briefly: the
    base image by digest or id and uv.lock's sha256, and how many more (the Dockerfile, the
    requirements' and wheels' sha256) the manifest holds."""
    if not build:
        return "no build inputs recorded (not built by `mlflow-repro image build`)"
    parts, used = [], 0
    base = build.get("base.digest") or build.get("base.id")
    if base:
        parts.append(f"base {_short_digest(base)}")
        used += ("base.digest" in build) + ("base.id" in build)
    if build.get("lock.sha256"):
        parts.append(f"uv.lock sha256 {build['lock.sha256'][:12]}")
        used += 1
    rest = len(build) - used
    if rest:
        parts.append(f"{rest} more input{'s' if rest != 1 else ''} recorded")
    return "build inputs: " + ", ".join(parts)


def _container_item(manifest: Manifest, run_id: str) -> AuditItem:
    """The image the run ran in: present in the local engine or pullable from its registry now
    (looked up, never pulled); a run on the host has none to check."""
    name = "container image"
    container: Container | None = manifest.platform.container
    if container is None:
        named = manifest.environment.image
        return _item(
            name,
            OK,
            "ran on the host (no image)"
            + (f"; the launcher named image {named} by name only" if named else ""),
        )
    gap = container_gap(manifest)
    if gap is not None:
        return _item(name, MISSING, *gap)
    if container.source == "unidentified":
        return _item(
            name,
            WEAK,
            "ran in a container whose image no launcher named (a CI runner, a dev container): "
            "recorded as on a host, by its OS, glibc, CPU and BLAS; a replay runs on the "
            "replaying machine",
            LAUNCH_IN_IMAGE,
        )
    shown = f"{container.image or 'image'} ({container.image_id[:19]})"
    inputs = build_inputs(container.build)
    found = availability.find_image(container)
    if found.kind == "local":
        also = f"; {_short_digest(container.repo_digest)}" if container.repo_digest else ""
        return _item(name, OK, f"{shown} present in {found.where}{also}; {inputs}")
    if found.kind == "registry":
        return _item(
            name,
            OK,
            f"{shown} pullable from {found.where} as {container.repo_digest} (not present "
            f"locally); {inputs}",
        )
    if found.kind == "unchecked":
        return _item(
            name,
            MISSING,
            f"cannot check {shown}: " + "; ".join(found.tried) + f"; {inputs}",
            "audit where a Docker daemon answers (`docker info`), or where its registry can be "
            "reached",
        )
    ways = []
    if container.repo_digest:
        ways.append(f"`docker pull {container.repo_digest}` from a registry that has it")
    ways.append(
        f"`docker load -i <archive>` of a saved copy (`docker save`; id {container.image_id})"
    )
    if container.build.get("base.id"):  # what replay's --rebuild-image starts from
        rebuild = f"mlflow-repro reproduce {run_id} --rebuild-image"
        ways.append(f"rebuild it from the recorded inputs: `{rebuild}`")
    return _item(
        name,
        MISSING,
        f"{shown} is in no engine or registry now: " + "; ".join(found.tried) + f"; {inputs}",
        "get it back: " + ", or ".join(ways),
    )


def _model_items(client: Any, record: RunRecord) -> list[AuditItem]:
    from mlflow_repro.modelfiles import model_digest

    run = record.run
    recorded = run.data.tags.get("model.digest")
    try:
        models = client.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run.info.run_id}'",
        )
    except Exception as exc:
        return [_item("model", WEAK, f"logged models cannot be listed ({exc})", "check the store")]
    if not models:
        return [_item("model", WEAK, "no logged model", "log the model with the run")]
    from mlflow_repro.modelsign import download

    with tempfile.TemporaryDirectory(prefix="mlflow-repro-audit-") as tmp:
        local = download(client, models[0], Path(tmp) / "m0")
        now = model_digest(local)
        signed = _model_signature_items(client, record, models, local, Path(tmp))
    if recorded is None:
        return [
            _item(
                "model",
                WEAK,
                f"{models[0].name}: files hash to {now[:16]} now; no model.digest tag recorded",
                "tag runs with mlflow_repro.model_digest(...) as the template does",
            ),
            *signed,
        ]
    if recorded != now:
        return [
            _item(
                "model",
                MISSING,
                f"{models[0].name}: files hash to {now[:16]}, the run recorded {recorded[:16]}",
                "the model files were changed after the run: restore them from a backup",
            ),
            *signed,
        ]
    return [_item("model", OK, f"{models[0].name}: files match model.digest {now[:16]}"), *signed]


def _model_signature_items(
    client: Any, record: RunRecord, models: list[Any], first: Path, scratch: Path
) -> list[AuditItem]:
    """With a team key configured: each logged model's OpenSSF signature checked with it, and
    the manifest it binds compared with the run's (a model not signed fails: with a key, that
    is what a removed signature looks like)."""
    from mlflow_repro.modelsign import INSTALL, NotSignable, download, verify_directory

    key = key_file()
    if key is None:
        return []
    manifest_bytes = None  # None: unreadable, and the model's binding fails unchecked
    if record.payloads is not None and (record.payloads / "repro" / "manifest.json").is_file():
        manifest_bytes = (record.payloads / "repro" / "manifest.json").read_bytes()
    items = []
    for index, model in enumerate(models):
        local = first if index == 0 else download(client, model, scratch / f"m{index}")
        try:
            check = verify_directory(
                model.name,
                local,
                manifest_bytes,
                key,
                run_id=record.run_id,
                model_id=model.model_id,
            )
        except NotSignable as exc:
            return [
                _item(
                    "model signature",
                    MISSING,
                    f"the model's OpenSSF signature cannot be checked here: {exc}",
                    INSTALL if "not installed" in str(exc) else "use a P-256 team key",
                )
            ]
        items.append(
            _item(
                "model signature",
                OK if check.ok else MISSING,
                check.detail,
                "treat the model as altered (or unsigned); restore it from a backup, or record "
                "runs with the team key and mlflow-repro[sign] installed",
            )
        )
    return items


def _registry_items(client: Any, target: Target, run: Any) -> list[AuditItem]:
    if target.model_name:
        return [
            _item(
                "registry",
                OK,
                f"{target.model_name} version {target.model_version} comes from run "
                f"{run.info.run_id} (source {target.model_source})",
            )
        ]
    try:
        versions = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    except Exception:
        versions = []
    if not versions:
        return [_item("registry", OK, "not registered")]
    names = ", ".join(f"{v.name}/{v.version}" for v in versions)
    return [_item("registry", OK, f"registered as {names}")]


def _replay_items(client: Any, run: Any) -> list[AuditItem]:
    replays = replays_of(client, run)
    if not replays:
        return [
            _item(
                "replays",
                WEAK,
                "never replayed: rebuildability is recorded, not yet shown",
                f"mlflow-repro reproduce {run.info.run_id}",
            )
        ]
    latest = replays[0]
    verdict = latest.data.tags.get(REPLAY_VERDICT_TAG, "?")
    summary = f"{len(replays)} replays; latest {latest.info.run_id}: {verdict}"
    if verdict in ("identical", "within_tolerance"):
        return [_item("replays", OK, summary)]
    return [
        _item(
            "replays",
            WEAK,
            summary + " (" + latest.data.tags.get(REPLAY_DIFFERENCES_TAG, "")[:300] + ")",
            f"mlflow-repro diff {run.info.run_id} {latest.info.run_id}",
        )
    ]


def audit(target: str, *, tracking_uri: str | None = None) -> AuditReport:
    """Audit a run (`run id`) or a registered model version (`models:/name/version` or
    `models:/name@alias`). Raises UsageError when the target cannot be found (nothing to audit).
    """
    from mlflow_repro.inspect.runs import resolve

    client = client_for(tracking_uri)
    resolved = resolve(client, target)
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-audit-") as tmp:
        record = load_record(client, resolved.run_id, Path(tmp))
        items: list[AuditItem]
        if record.manifest is None:
            found = record.findings[0]
            items = [_item("manifest", MISSING, found.problem, found.hint)]
        else:
            manifest = record.manifest
            items = _record_items(record)
            items += _code_items(manifest)
            items += _environment_items(manifest)
            items += _data_items(manifest)
            items += _seed_items(manifest)
            items += _launch_items(manifest, record.run)
            items += _platform_items(manifest, record.run_id)
            if manifest.errors:
                items.append(
                    _item(
                        "capture",
                        WEAK,
                        "capture reported errors: " + "; ".join(manifest.errors)[:500],
                        "fix the cause and record a new run",
                    )
                )
        items += _model_items(client, record)
        items += _registry_items(client, resolved, record.run)
        if record.manifest is not None:
            items += _replay_items(client, record.run)
    version = f"{resolved.model_name}/{resolved.model_version}" if resolved.model_name else None
    return AuditReport(target=target, run_id=resolved.run_id, items=items, model_version=version)
