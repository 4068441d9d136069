"""The image recipe: an image for any uv project whose uv.lock holds mlflow, built from that lock
so that a run in it can be replayed in it.

- The base: a Debian root filesystem from Debian's packages (`mmdebstrap --variant=minbase`,
  SOURCE_DATE_EPOCH fixed: the tar is byte-identical while the mirror serves the same packages),
  cached, and loaded as a one-layer image whose configuration this module writes itself (a fixed
  creation time), so the same tar always gives the same image id (`docker import` would stamp
  the time of the import and give a new id each time).
- The build names its base by content: `FROM <repository>@sha256:<digest>` when the engine knows a
  repository digest, else `FROM sha256:<image id>`; never a tag that can move.
- The runtime set is `uv export`ed from uv.lock (uvexport.py: default groups plus the ones asked,
  no dev, without the project), every line hash-pinned; the wheels are downloaded on the host
  (`pip download --require-hashes`, into a cache, for the base's Python and glibc) and installed
  in the image by uv, offline, hash-checked, with no network during `docker build` at all. The
  project's own wheel is built reproducibly (SOURCE_DATE_EPOCH, hash-pinned build requirements)
  and installed with `--no-deps`.
- Every input is written into the image as an `io.mlflow-repro.*` label (the Dockerfile text
  included), so `rebuild` can repeat the build from an image's labels or a manifest's record.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import platform
import re
import shutil
import sys
import tarfile
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow_repro import process
from mlflow_repro.container import docker
from mlflow_repro.container.docker import LABEL_PREFIX, ImageInfo
from mlflow_repro.errors import ReproError
from mlflow_repro.uvexport import export_command, normalize, requirement_lines

__all__ = [
    "BASE_PACKAGES",
    "DEFAULT_BASE_TAG",
    "RECIPE",
    "BuiltImage",
    "ImageBuildError",
    "base_image",
    "build_image",
    "cache_root",
    "dockerfile_text",
    "rebuild",
]

RECIPE = "mlflow-repro-image/1"  # changes whenever the Dockerfile this module writes changes
DEFAULT_SUITE = "bookworm"
DEFAULT_BASE_TAG = f"mlflow-repro-base:{DEFAULT_SUITE}"
BASE_PACKAGES = ("python3", "python3-venv", "git", "ca-certificates")
# 2023-06-10, bookworm's release day: the base's file times and its image's creation time
BASE_EPOCH = 1686355200
REQUIREMENTS_IN_IMAGE = "/opt/mlflow-repro/requirements.lock.txt"
VENV = "/opt/venv"
WORKDIR = "/mlflow/projects/code"
BUILD_CONSTRAINTS = "build-constraints.txt"

Progress = Callable[[str], None]


class ImageBuildError(ReproError):
    """The image recipe cannot build (or repeat) an image: a tool missing or failing, an input
    that is not there or is not the one recorded."""


@dataclass(frozen=True)
class BuiltImage:
    id: str  # "sha256:<64 hex>"
    tag: str
    inputs: dict[str, str]  # the build inputs, as the image's labels hold them (prefix stripped)
    dockerfile: str

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_PREFIX + k: v for k, v in self.inputs.items()}


def _quiet(_: str) -> None:
    return None


def cache_root() -> Path:
    """Where the recipe keeps what it can reuse (base root filesystems, the wheelhouse):
    $MLFLOW_REPRO_CACHE, else $XDG_CACHE_HOME/mlflow-repro, else ~/.cache/mlflow-repro."""
    if os.environ.get("MLFLOW_REPRO_CACHE"):
        return Path(os.environ["MLFLOW_REPRO_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "mlflow-repro"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _docker() -> str:
    found = docker.binary()
    if found is None:
        raise ImageBuildError(
            "there is no `docker` client on PATH",
            hint="install Docker (`just docker` installs Debian's docker.io) and start dockerd",
        )
    return found


def _need_daemon() -> None:
    problem = docker.daemon_problem()
    if problem:
        raise ImageBuildError(
            problem,
            hint="start the daemon (as root: `dockerd --bridge=none --iptables=false "
            "--ip-masq=false &`, or `systemctl start docker`) or set DOCKER_HOST",
        )


def _checked(done: process.Result, what: str, hint: str | None = None) -> process.Result:
    if not done.ok:
        raise ImageBuildError(f"{what} failed", value=done.reason, hint=hint)
    return done


# --------------------------------------------------------------------------------------- base


def _docker_arch() -> str:
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )


def _rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def base_config(rootfs_sha256: str, suite: str, epoch: int = BASE_EPOCH) -> bytes:
    """The base image's configuration: fixed bytes for a given root filesystem, so its image id
    (the sha256 of these bytes) is the same wherever the same tar is loaded."""
    created = _rfc3339(epoch)
    command = f"mmdebstrap --variant=minbase --include={','.join(BASE_PACKAGES)} {suite}"
    config = {
        "architecture": _docker_arch(),
        "os": "linux",
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["bash"],
            "Labels": {
                LABEL_PREFIX + "rootfs.sha256": rootfs_sha256,
                LABEL_PREFIX + "rootfs.suite": suite,
                LABEL_PREFIX + "rootfs.command": command,
                # rootfs.*: images built FROM the base inherit these beside their own inputs
                LABEL_PREFIX + "rootfs.source-date-epoch": str(epoch),
                LABEL_PREFIX + "rootfs.recipe": RECIPE,
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{rootfs_sha256}"]},
        "history": [{"created": created, "created_by": command}],
    }
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def rootfs_tar(
    suite: str = DEFAULT_SUITE,
    *,
    cache_dir: Path | None = None,
    epoch: int = BASE_EPOCH,
    progress: Progress = _quiet,
) -> Path:
    """The suite's minbase root filesystem tar, from the cache or made by mmdebstrap (root)."""
    folder = (cache_dir or cache_root()) / "base"
    tar = folder / f"{suite}.tar"
    if tar.is_file():
        progress(f"base: reusing {tar}")
        return tar
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise ImageBuildError(
            "mmdebstrap is not installed: the base image is built from Debian's packages",
            hint="`just docker` installs it (apt-get install mmdebstrap)",
        )
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{suite}.tar.partial"
    progress(f"base: mmdebstrap {suite} (minbase + {', '.join(BASE_PACKAGES)}; about 30-80 s)")
    cmd = [mmdebstrap, "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES)]
    cmd += ["--format=tar", suite, str(partial)]
    done = process.run(cmd, timeout=1800, env={"SOURCE_DATE_EPOCH": str(epoch)})
    _checked(done, f"mmdebstrap of {suite}", "it needs root and a reachable Debian mirror")
    partial.replace(tar)
    return tar


def base_image(
    tag: str = DEFAULT_BASE_TAG,
    suite: str = DEFAULT_SUITE,
    cache_dir: Path | None = None,
    *,
    progress: Progress = _quiet,
) -> ImageInfo:
    """The base image: Debian `suite` minbase with python3, python3-venv, git and
    ca-certificates, tagged `tag`. Its root filesystem tar is cached (reused when there); the
    image is loaded only when the engine does not hold it already (its id is the sha256 of a
    configuration written from the tar's sha256, which label io.mlflow-repro.rootfs.sha256
    records)."""
    _need_daemon()
    tar = rootfs_tar(suite, cache_dir=cache_dir, progress=progress)
    digest = sha256_file(tar)
    config = base_config(digest, suite)
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    if docker.inspect_image(image_id) is None:
        progress(f"base: loading {tar.name} ({tar.stat().st_size // 2**20} MiB) as {tag}")
        with tempfile.TemporaryDirectory(dir=tar.parent) as tmp:
            archive = Path(tmp) / "image.tar"
            with tarfile.open(archive, "w") as out:
                cfg = tarfile.TarInfo(f"{image_id[7:]}.json")
                cfg.size, cfg.mtime = len(config), BASE_EPOCH
                out.addfile(cfg, io.BytesIO(config))
                out.add(tar, arcname=f"{digest}/layer.tar")
                manifest = json.dumps(
                    [
                        {
                            "Config": f"{image_id[7:]}.json",
                            "RepoTags": [tag],
                            "Layers": [f"{digest}/layer.tar"],
                        }
                    ]
                ).encode()
                info = tarfile.TarInfo("manifest.json")
                info.size, info.mtime = len(manifest), BASE_EPOCH
                out.addfile(info, io.BytesIO(manifest))
            _checked(
                process.run([_docker(), "load", "-i", str(archive)], timeout=900), "docker load"
            )
    _checked(process.run([_docker(), "tag", image_id, tag], timeout=60), f"docker tag {tag}")
    found = docker.inspect_image(image_id)
    if found is None:
        raise ImageBuildError("the base image is not in the engine after loading", value=image_id)
    progress(f"base: {tag} = {found.id}")
    return found


# ------------------------------------------------------------------------------------ inputs


def project_name(project: Path) -> str:
    """The project's name: MLproject's `name:`, else pyproject's [project].name."""
    mlproject = project / "MLproject"
    if mlproject.is_file():
        for line in mlproject.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^name:\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
            if match:
                return match.group(1).strip()
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        if name:
            return str(name)
    return project.resolve().name


def default_tag(project: Path) -> str:
    """`<project name>-env:<uv.lock sha256[:12]>` (a repository name as Docker spells them)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", project_name(project).lower()).strip("-._") or "project"
    return f"{name}-env:{sha256_file(_lock(project))[:12]}"


def _lock(project: Path) -> Path:
    lock = project / "uv.lock"
    if not lock.is_file():
        raise ImageBuildError(
            f"{lock} not found: the image is built from the project's uv.lock",
            hint="run `uv lock` in the project and commit uv.lock",
        )
    return lock


def export_requirements(project: Path, groups: list[str]) -> str:
    """The runtime set, hash-pinned: default groups plus `groups`, no dev, not the project."""
    extra = [arg for group in groups for arg in ("--group", group)]
    done = process.run(export_command(*extra), cwd=project, timeout=300)
    _checked(done, "`uv export` of uv.lock", "check that uv.lock is up to date (`uv lock --check`)")
    return done.text


def commit_epoch(project: Path) -> str:
    """SOURCE_DATE_EPOCH for the project's wheel: the committer time of HEAD (as `just package`)."""
    done = process.run(["git", "log", "-1", "--format=%ct", "HEAD"], cwd=project, timeout=30)
    if not done.ok or not done.text.strip().isdigit():
        raise ImageBuildError(
            f"cannot read the commit time of HEAD in {project}",
            value=done.reason or done.text.strip(),
            hint="build from a git checkout with a commit (the wheel's timestamps come from it)",
        )
    return done.text.strip()


def build_wheel(project: Path, out_dir: Path, epoch: str) -> Path:
    """The project's wheel, as `just package` builds it (src/repro_template/packaging.py): uv
    build with SOURCE_DATE_EPOCH and, when the project has build-constraints.txt, hash-pinned
    build requirements."""
    cmd = [process.uv_binary() or "uv", "build", "--wheel", "--no-progress"]
    constraints = project / BUILD_CONSTRAINTS
    if constraints.is_file():
        cmd += ["--build-constraints", str(constraints), "--require-hashes"]
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd += ["--out-dir", str(out_dir), str(project)]
    done = process.run(cmd, cwd=project, timeout=900, env={"SOURCE_DATE_EPOCH": epoch})
    _checked(done, f"`uv build --wheel` of {project}")
    wheels = sorted(out_dir.glob("*.whl"))
    if len(wheels) != 1:
        raise ImageBuildError(f"expected one wheel from uv build, found {len(wheels)}")
    return wheels[0]


@dataclass(frozen=True)
class Target:
    """The base image's Python, for choosing and installing wheels."""

    markers: dict[str, str]  # PEP 508 marker environment inside the image
    glibc: str  # "2.36"

    @property
    def python(self) -> str:
        return self.markers.get("python_full_version", "")


TARGET_PROBE = (
    "import json, os, platform, sys\n"
    "i = sys.implementation\n"
    "v = '%d.%d.%d' % i.version[:3]\n"
    "print(json.dumps({'markers': {'implementation_name': i.name,"
    " 'implementation_version': v, 'os_name': os.name,"
    " 'platform_machine': platform.machine(), 'platform_release': platform.release(),"
    " 'platform_system': platform.system(), 'platform_version': platform.version(),"
    " 'python_full_version': platform.python_version(),"
    " 'platform_python_implementation': platform.python_implementation(),"
    " 'python_version': '.'.join(platform.python_version_tuple()[:2]),"
    " 'sys_platform': sys.platform},"
    " 'glibc': (os.confstr('CS_GNU_LIBC_VERSION') or ' ').split(' ')[1]}))\n"
)


def probe_target(image_id: str) -> Target:
    """The base image's Python and glibc, asked inside it (no network)."""
    done = docker.run(image_id, ["python3", "-c", TARGET_PROBE], timeout=120)
    _checked(done, f"running python3 in the base image {image_id}", "the base needs python3")
    data = json.loads(done.text.strip().splitlines()[-1])
    return Target(markers={str(k): str(v) for k, v in data["markers"].items()}, glibc=data["glibc"])


def _pip_platforms(target: Target) -> list[str]:
    machine = target.markers["platform_machine"]
    major, minor = (int(x) for x in target.glibc.split(".")[:2])
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 4, -1)]
    return [*tags, f"manylinux2014_{machine}", "linux_" + machine]


def _host_pip() -> list[str]:
    """A pip to download with: this interpreter's, else the first python3 along PATH that has
    one (a uv-made .venv has no pip; the system's or pyenv's python3 after it usually has)."""
    folders = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin"]
    candidates = [sys.executable, *(str(Path(d) / "python3") for d in folders if d)]
    for python in dict.fromkeys(candidates):
        if not os.access(python, os.X_OK):
            continue
        if process.run([python, "-m", "pip", "--version"], timeout=60).ok:
            return [python, "-m", "pip"]
    raise ImageBuildError(
        "no pip on this machine to download the locked wheels with",
        hint="install pip for python3 (apt-get install python3-pip)",
    )


def _without_marker(line: str) -> str:
    requirement, _, hashes = line.partition(" --hash")
    return requirement.split(";", 1)[0].strip() + (f" --hash{hashes}" if hashes else "")


def _hashes(line: str) -> set[str]:
    return set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))


def wheelhouse(
    requirements: str,
    target: Target,
    dest: Path,
    *,
    cache_dir: Path | None = None,
    progress: Progress = _quiet,
) -> list[Path]:
    """The locked files for `target` in `dest` (hard links into the cache, which keeps every file
    it downloaded): a requirement whose marker does not hold inside the image is left out; one
    with a cached file of one of its hashes is not downloaded again; the rest are downloaded by
    the host's pip with --require-hashes (pip checks each file's sha256)."""
    from mlflow_repro.uvexport import marker_holds, marker_of

    python = target.markers["python_version"]
    cache = (cache_dir or cache_root()) / "wheelhouse" / f"cp{python.replace('.', '')}"
    cache.mkdir(parents=True, exist_ok=True)
    needed = [
        line
        for line in requirement_lines(requirements)
        if not line.startswith(("#", "-")) and marker_holds(marker_of(line), target.markers)
    ]
    by_hash = {sha256_file(p): p for p in cache.iterdir() if p.is_file()}
    missing = [line for line in needed if not _hashes(line) & by_hash.keys()]
    if missing:
        progress(f"wheelhouse: downloading {len(missing)} of {len(needed)} locked files")
        with tempfile.TemporaryDirectory() as tmp:
            # markers were evaluated for the image above: pip would evaluate them for this host
            plain = [_without_marker(line) for line in missing]
            reqs = Path(tmp) / "requirements.txt"
            reqs.write_text("\n".join(plain) + "\n", encoding="utf-8")
            cmd = [*_host_pip(), "download", "--no-deps", "--require-hashes", "--quiet"]
            cmd += ["--disable-pip-version-check", "--implementation", "cp"]
            cmd += ["--python-version", python, "--abi", f"cp{python.replace('.', '')}"]
            for tag in _pip_platforms(target):
                cmd += ["--platform", tag]
            cmd += ["-r", str(reqs), "-d", str(cache)]
            _checked(
                process.run(cmd, timeout=3600),
                "downloading the locked wheels (pip download --require-hashes)",
                "the host needs PyPI (or the index in PIP_INDEX_URL) for the first build",
            )
        by_hash = {sha256_file(p): p for p in cache.iterdir() if p.is_file()}
    else:
        progress(f"wheelhouse: all {len(needed)} locked files cached in {cache}")
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    for line in needed:
        found = [by_hash[h] for h in sorted(_hashes(line)) if h in by_hash]
        if not found:
            raise ImageBuildError(
                "pip downloaded no file with a locked hash for a requirement",
                value=line.split(" --hash")[0],
                hint="the index may not serve a file for the image's Python and platform",
            )
        source = found[0]
        link = dest / source.name
        try:
            os.link(source, link)
        except OSError:
            shutil.copy2(source, link)
        files.append(link)
    return sorted(files)


def _uv_wheel(files: list[Path], machine: str) -> str | None:
    """The file name of the uv wheel in the wheelhouse (uv installs the rest), or None."""
    for path in files:
        name = path.name
        if normalize(name.split("-")[0]) == "uv" and name.endswith(".whl") and machine in name:
            return name
    return None


# --------------------------------------------------------------------------------- Dockerfile


def dockerfile_text(from_ref: str, uv_wheel: str | None, wheels: list[str], epoch: str) -> str:
    """The Dockerfile: a function of its arguments alone (the same inputs, the same text).
    Everything it installs is in the build context; it needs no network."""
    if not re.fullmatch(r"([^\s@]+@)?sha256:[0-9a-f]{64}", from_ref):
        raise ImageBuildError(
            "the base must be named by its id or repository digest, never by a tag",
            value=from_ref,
        )
    build = "/opt/mlflow-repro/build"
    wheel_dir = "/opt/mlflow-repro/wheels"
    own = " ".join(f"{wheel_dir}/{name}" for name in wheels)
    lines = [
        f"# {RECIPE}: generated by mlflow-repro from uv.lock; its inputs are in the image's",
        "# io.mlflow-repro.* labels. Installs offline and hash-checked: no network needed.",
        "# Stage 1 installs the locked set (the wheelhouse stays out of the image); the final",
        "# stage takes /opt/venv and adds the project's own wheels (a new wheel: one small step).",
        f"FROM {from_ref} AS install",
        f"COPY requirements.lock.txt {REQUIREMENTS_IN_IMAGE}",
        f"COPY wheelhouse {build}/wheelhouse",
        f"ENV SOURCE_DATE_EPOCH={epoch} UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never "
        "UV_LINK_MODE=copy PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
    ]
    if uv_wheel:  # uv from the lock's own uv wheel; it stays in /opt/venv/bin
        version = uv_wheel.split("-")[1]
        member = f"uv-{version}.data/scripts/uv"
        install = [
            f"python3 -m venv --without-pip {VENV}",
            f"python3 -c \"import zipfile; zipfile.ZipFile('{build}/wheelhouse/{uv_wheel}')"
            f".extract('{member}', '/tmp/uv')\"",
            f"chmod 755 /tmp/uv/{member}",
            f"/tmp/uv/{member} pip install --python {VENV}/bin/python --offline --no-index "
            f"--find-links {build}/wheelhouse --require-hashes --compile-bytecode "
            f"-r {REQUIREMENTS_IN_IMAGE}",
        ]
        own_install = (
            f"SOURCE_DATE_EPOCH={epoch} UV_NO_CACHE=1 {VENV}/bin/uv pip install --python "
            f"{VENV}/bin/python --offline --no-index --no-deps --compile-bytecode {own}"
        )
    else:  # no uv in the lock: the venv's own pip (python3-venv ships it), as strict
        install = [
            f"python3 -m venv {VENV}",
            f"{VENV}/bin/pip install --no-index --find-links {build}/wheelhouse "
            f"--require-hashes -r {REQUIREMENTS_IN_IMAGE}",
        ]
        own_install = f"{VENV}/bin/pip install --no-index --no-deps {own}"
    lines.append("RUN " + " \\\n && ".join(install))
    lines += [
        f"FROM {from_ref}",
        f"COPY --from=install {VENV} {VENV}",
        f"COPY requirements.lock.txt {REQUIREMENTS_IN_IMAGE}",
    ]
    if wheels:
        lines += [f"COPY wheels {wheel_dir}", f"RUN {own_install}"]
    lines += [f"ENV PATH={VENV}/bin:$PATH", f"WORKDIR {WORKDIR}", ""]
    return "\n".join(lines)


def from_reference(info: ImageInfo) -> tuple[str, str]:
    """(FROM reference, digest label): the repository digest when the engine knows one, else
    the content id; never a tag."""
    digest = info.repo_digest or ""
    return (digest or info.id), digest


def _resolve_base(base: str) -> ImageInfo:
    info = docker.inspect_image(base)
    if info is None:
        raise ImageBuildError(
            f"the base image {base} is not in the Docker engine",
            value=base,
            hint="build it with `mlflow-repro image base` (or `just base-image`), or pull it",
        )
    return info


def _encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def decode_dockerfile(inputs: dict[str, str]) -> str:
    """The Dockerfile text a build recorded (label io.mlflow-repro.dockerfile, base64)."""
    return base64.b64decode(inputs.get("dockerfile", "")).decode()


def _docker_build(context: Path, tag: str, labels: dict[str, str], no_cache: bool) -> str:
    """`docker build` with no network; returns the image id. `no_cache`: repeat every step (the
    engine's build cache would otherwise hand back the first build's image)."""
    if no_cache:
        cmd = [_docker(), "build", "--quiet", "--no-cache", "--network", "none", "-t", tag]
        cmd += ["-f", str(context / "Dockerfile")]
        for key, value in sorted(labels.items()):
            cmd += ["--label", f"{key}={value}"]
        done = process.run([*cmd, str(context)], timeout=1800, env={"DOCKER_BUILDKIT": "0"})
    else:
        done = docker.build(context, tag=tag, labels=labels)
    _checked(done, f"docker build of {tag}")
    image_id = done.text.strip().splitlines()[-1].strip()
    found = docker.inspect_image(image_id)
    if found is None:
        raise ImageBuildError(
            "docker build reported an image the engine does not hold", value=image_id
        )
    return found.id


@dataclass(frozen=True)
class _Prepared:
    inputs: dict[str, str]
    dockerfile: str
    context: Path


def _prepare(
    project: Path,
    base_info: ImageInfo,
    base: str,
    groups: list[str],
    wheels: list[Path] | None,
    work: Path,
    progress: Progress,
    epoch: str | None = None,
) -> _Prepared:
    project = project.resolve()
    lock_sha = sha256_file(_lock(project))
    from_ref, digest = from_reference(base_info)
    context = work / "context"
    context.mkdir(parents=True)
    progress("requirements: uv export of uv.lock (hash-pinned, no dev, without the project)")
    requirements = export_requirements(project, groups)
    (context / "requirements.lock.txt").write_text(requirements, encoding="utf-8")
    target = probe_target(base_info.id)
    progress(f"base: Python {target.python}, glibc {target.glibc}")
    files = wheelhouse(requirements, target, context / "wheelhouse", progress=progress)
    (context / "wheels").mkdir()
    if wheels is None:
        epoch = epoch or commit_epoch(project)
        progress(f"wheel: uv build --wheel of {project} (SOURCE_DATE_EPOCH={epoch})")
        wheels = [build_wheel(project, work / "dist", epoch)]
    else:
        epoch = epoch or (commit_epoch(project) if (project / ".git").exists() else str(BASE_EPOCH))
    own: list[str] = []
    for wheel in wheels:
        if not wheel.is_file():
            raise ImageBuildError(
                f"wheel {wheel} not found", hint="build it first (`just package`)"
            )
        shutil.copy2(wheel, context / "wheels" / wheel.name)
        own.append(f"{wheel.name} {sha256_file(wheel)}")
    uv_wheel = _uv_wheel(files, target.markers["platform_machine"])
    text = dockerfile_text(from_ref, uv_wheel, [w.name for w in wheels], epoch)
    (context / "Dockerfile").write_text(text, encoding="utf-8")
    inputs = {
        "base": base,
        "base.id": base_info.id,
        "base.digest": digest,
        "base.python": target.python,
        "lock.sha256": lock_sha,
        "requirements.sha256": hashlib.sha256(requirements.encode()).hexdigest(),
        "groups": ",".join(groups),
        "wheels": ";".join(own),
        "dockerfile": _encode(text),
        "source-date-epoch": epoch,
        "recipe": RECIPE,
        "project": project_name(project),
    }
    return _Prepared(inputs, text, context)


def build_image(
    project: Path,
    *,
    base: str = DEFAULT_BASE_TAG,
    tag: str | None = None,
    groups: list[str] | None = None,
    wheels: list[Path] | None = None,
    progress: Progress = _quiet,
) -> BuiltImage:
    """Build the project's environment image from its uv.lock on `base` (any reference the engine
    resolves; the Dockerfile names it by digest or id). `groups`: dependency groups beyond the
    default ones; `wheels`: the project's own wheels (default: built from the project)."""
    _need_daemon()
    base_info = _resolve_base(base)
    tag = tag or default_tag(project)
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-image-") as tmp:
        prepared = _prepare(
            project, base_info, base, list(groups or []), wheels, Path(tmp), progress
        )
        progress(f"docker build {tag} (no network; about 20-60 s)")
        image_id = _docker_build(prepared.context, tag, _labels(prepared.inputs), no_cache=False)
    progress(f"built {tag} = {image_id}")
    return BuiltImage(image_id, tag, prepared.inputs, prepared.dockerfile)


def _labels(inputs: dict[str, str]) -> dict[str, str]:
    return {LABEL_PREFIX + k: v for k, v in inputs.items()}


def rebuild(
    project: Path,
    inputs: dict[str, str],
    *,
    tag: str,
    wheels: list[Path] | None = None,
    progress: Progress = _quiet,
) -> BuiltImage:
    """Repeat a recorded build (an image's io.mlflow-repro.* labels, or a manifest's
    `platform.container.build`) in a checkout of the project at the recorded commit.

    Refuses unless every input is the recorded one: the base image by its recorded id (or
    digest), uv.lock and the re-exported requirements by their sha256, the rebuilt (or given)
    wheels by theirs, and the same Dockerfile text. The engine's build cache may serve a
    step whose inputs it already built (it keys COPY by the files' content and RUN by the
    step before it): the same bytes from the same inputs. Replay rebuilds only an image the
    engine no longer holds, so the steps after the last shared one run again.

    The new image's id differs from the original's even so: an image id is the sha256 of the
    image's configuration, which holds the creation time of the image and of each step's history
    entry, and each layer the classic builder commits is a tar of the files as written during
    this build (their modification times, and the bytecode uv compiles, whose headers hold
    them). What is installed comes from the same hash-checked files (every wheel's sha256 is in
    the requirements, checked by uv), on the same base layers, by the same Dockerfile: the
    labels of the two images are equal, and so are the installed distributions' files.
    """
    _need_daemon()
    missing = [
        k
        for k in ("base.id", "lock.sha256", "requirements.sha256", "dockerfile")
        if not inputs.get(k)
    ]
    if missing:
        raise ImageBuildError(
            "the recorded build inputs are incomplete",
            value=", ".join(missing),
            hint="only an image built by `mlflow-repro image build` can be rebuilt",
        )
    if inputs.get("recipe") and inputs["recipe"] != RECIPE:
        raise ImageBuildError(
            f"the image was built by recipe {inputs['recipe']}, this is {RECIPE}",
            value=inputs["recipe"],
            hint="rebuild with the mlflow-repro version that built it",
        )
    base_id, digest = inputs["base.id"], inputs.get("base.digest", "")
    base_info = docker.inspect_image(base_id) or (docker.inspect_image(digest) if digest else None)
    if base_info is None or base_info.id != base_id:
        how = (
            f"`docker pull {digest}`"
            if digest
            else "`mlflow-repro image base` (the same root filesystem tar gives the same id) or "
            "`docker load` of a saved copy"
        )
        raise ImageBuildError(
            f"the base image {base_id} ({inputs.get('base', '?')}) is not in the Docker engine",
            value=base_id,
            hint=f"get it back with {how}",
        )
    lock_sha = sha256_file(_lock(project))
    if lock_sha != inputs["lock.sha256"]:
        raise ImageBuildError(
            f"uv.lock changed since the build: sha256 {lock_sha[:12]}, recorded "
            f"{inputs['lock.sha256'][:12]}",
            value=str(project / "uv.lock"),
            hint="check out the commit the image was built from",
        )
    groups = [g for g in inputs.get("groups", "").split(",") if g]
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-rebuild-") as tmp:
        prepared = _prepare(
            project,
            base_info,
            inputs.get("base", base_id),
            groups,
            wheels,
            Path(tmp),
            progress,
            epoch=inputs.get("source-date-epoch") or None,
        )
        changed = [
            key
            for key in ("base.digest", "requirements.sha256", "wheels", "source-date-epoch")
            if prepared.inputs.get(key, "") != inputs.get(key, "")
        ]
        if changed:
            shown = "; ".join(
                f"{k}: {inputs.get(k, '')!r} recorded, {prepared.inputs.get(k, '')!r} now"
                for k in changed
            )
            raise ImageBuildError(
                "the build inputs differ from the recorded ones",
                value=shown,
                hint="rebuild in a checkout of the recorded commit (the same uv.lock and code)",
            )
        if prepared.dockerfile != decode_dockerfile(inputs):
            raise ImageBuildError(
                "the Dockerfile this recipe writes differs from the recorded one",
                value=RECIPE,
                hint="rebuild with the mlflow-repro version that built the image",
            )
        # the labels are the recorded inputs (`base` as first given), so the two images compare
        labels = {**prepared.inputs, **{k: v for k, v in inputs.items() if k in prepared.inputs}}
        progress(f"docker build {tag} again from the recorded inputs (no network)")
        image_id = _docker_build(prepared.context, tag, _labels(labels), no_cache=False)
    progress(f"rebuilt {tag} = {image_id}")
    return BuiltImage(image_id, tag, labels, prepared.dockerfile)
