"""Session fixtures for the container tests: a Docker daemon, the base image, the template's
image and a loopback registry.

`docker_daemon` uses a daemon that already answers `docker info`; else, as root with Debian's
docker.io installed, it starts `dockerd --bridge=none --iptables=false --ip-masq=false` (no
bridge network: containers get `--network none` or `host`) with its data root in the user's
cache (~/.cache/mlflow-repro/docker: images and the build cache survive between sessions, so a
second session reuses the base and the template image's build steps) and its exec root, pid file
and socket in a short temporary folder (a unix socket path must stay under 108 bytes). The
daemon is stopped at the end and what it left mounted under the exec root is unmounted.

Where there is no root or no dockerd the tests skip naming what is missing; with
MLFLOW_REPRO_REQUIRE_DOCKER=1 (`just test`) they fail instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mlflow_repro.container.build import BuiltImage

__all__ = ["base_image", "docker_daemon", "registry", "template_image"]

BASE_TAG = "mlflow-repro-base:bookworm"


def free_port() -> int:
    # tests.conftest has one too; it imports this module, so this one is its own
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _missing(what: str) -> None:
    if os.environ.get("MLFLOW_REPRO_REQUIRE_DOCKER") == "1":
        pytest.fail(f"Docker is needed here (MLFLOW_REPRO_REQUIRE_DOCKER=1): {what}")
    pytest.skip(f"no Docker: {what}")


def _docker_answers(env: dict[str, str] | None = None) -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        timeout=30,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return done.returncode == 0


def _mounts_under(root: Path) -> list[str]:
    """Mount points at or under `root`, deepest first."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == str(root) or point.startswith(f"{root}/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def _unmount_under(root: Path) -> None:
    for point in _mounts_under(root):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False, timeout=30)


def _data_root() -> Path:
    from mlflow_repro.container.build import cache_root

    return cache_root() / "docker"


@contextlib.contextmanager
def _own_daemon() -> Iterator[str]:
    """dockerd as this session's: yields its DOCKER_HOST."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or shutil.which("docker") is None:
        _missing("dockerd/docker are not installed (`just docker`: apt-get install docker.io)")
    if os.geteuid() != 0:
        _missing("no daemon answers `docker info`, and starting dockerd needs root")
    assert dockerd is not None
    data_root = _data_root()
    data_root.mkdir(parents=True, exist_ok=True)
    # One daemon per data root: another session holding it (a second pytest) gets a private one
    lock = (data_root.parent / "docker.lock").open("w")
    private: Path | None = None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        private = Path(tempfile.mkdtemp(prefix="mlflow-repro-docker-"))
        data_root = private
    run_dir = Path(tempfile.mkdtemp(prefix="mrd-", dir="/tmp"))
    host = f"unix://{run_dir}/docker.sock"
    log = (run_dir / "dockerd.log").open("wb")
    cmd = [dockerd, "--bridge=none", "--iptables=false", "--ip-masq=false"]
    cmd += ["--data-root", str(data_root), "--exec-root", str(run_dir / "exec")]
    cmd += ["--pidfile", str(run_dir / "dockerd.pid"), "-H", host]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not _docker_answers({"DOCKER_HOST": host}):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (run_dir / "dockerd.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"dockerd did not start ({' '.join(cmd)}):\n{tail}")
            time.sleep(0.5)
        yield host
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()
        _unmount_under(run_dir)
        shutil.rmtree(run_dir, ignore_errors=True)
        if private is not None:
            _unmount_under(private)
            shutil.rmtree(private, ignore_errors=True)
        lock.close()


@pytest.fixture(scope="session")
def docker_daemon() -> Iterator[str]:
    """A Docker daemon for the session: its DOCKER_HOST ("" for the default socket), also set in
    os.environ so that every `docker` the tests and mlflow-repro start speaks to it."""
    if _docker_answers():
        yield os.environ.get("DOCKER_HOST", "")
        return
    with _own_daemon() as host, pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_HOST", host)
        yield host


@pytest.fixture(scope="session")
def base_image(docker_daemon: str) -> str:
    """The base image's tag (Debian bookworm minbase; its root filesystem cached between
    sessions, loaded once into the daemon)."""
    from mlflow_repro.container.build import base_image as build_base

    if shutil.which("mmdebstrap") is None and not _base_cached():
        _missing("mmdebstrap is not installed (`just docker` installs it)")
    build_base(BASE_TAG, progress=_say)
    return BASE_TAG


def _base_cached() -> bool:
    from mlflow_repro.container.build import cache_root

    return (cache_root() / "base" / "bookworm.tar").is_file()


def _say(line: str) -> None:
    print(f"[containers] {line}", flush=True)


@pytest.fixture(scope="session")
def template_image(base_image: str, template_with_data: Path) -> BuiltImage:
    """The template's environment image, built once per session by the recipe from a committed
    copy of the repository (the plugin's wheel built from it): `BuiltImage` (id, tag, inputs)."""
    from mlflow_repro.container.build import build_image

    return build_image(template_with_data, base=base_image, progress=_say)


@pytest.fixture(scope="session")
def registry(docker_daemon: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A loopback registry (Debian's docker-registry, distribution 2.8): yields "127.0.0.1:PORT"
    (the daemon trusts loopback registries over plain HTTP)."""
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if binary is None:
        _missing(
            "docker-registry is not installed (`just docker`: apt-get install docker-registry)"
        )
    assert binary is not None
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (root / "registry.log").open("wb")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"docker-registry did not start:\n{(root / 'registry.log').read_text()}"
                )
            time.sleep(0.2)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


EXPERIMENT = "containers"
REPOSITORY = "repro-template-env"


@dataclass
class ContainerRuns:
    """A template run made in an image of its own (the session's template image plus a label,
    pushed to the loopback registry), and a run of the same clone on the host."""

    root: Path  # a user's clone of the template
    uri: str
    image_id: str
    digest: str  # <registry>/<repository>@sha256:...
    registry: str
    run_id: str
    output: str
    recipe_image: str  # the session's template image, which this module's image derives from
    host_run: str  # a run of the same clone on this host (`--env-manager local`)


def mlflow_run(setup_root: Path, uri: str, *args: str) -> tuple[str, str]:
    """`mlflow run` of the template's main entry point: the run id, and what it printed."""
    from tests.conftest import run, venv_env

    cmd = [sys.executable, "-m", "mlflow", "run", "--experiment-name", EXPERIMENT, *args]
    cmd += ["-P", "conf_file=confs/training.yaml", "."]
    done = run(cmd, cwd=setup_root, env=venv_env(MLFLOW_TRACKING_URI=uri), timeout=900)
    found = re.search(r"(?:Run \(ID|run with ID) '([0-9a-f]{32})'", done.stderr)
    assert found, done.stderr
    return found.group(1), done.stderr


@pytest.fixture(scope="session")
def container_runs(
    template_image: Any,
    registry: str,
    template_with_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ContainerRuns]:
    from mlflow.tracking import MlflowClient

    from mlflow_repro.container import docker
    from tests.conftest import run, venv_env

    base = tmp_path_factory.mktemp("containers")
    root = base / "project"
    run(["git", "clone", "--quiet", str(template_with_data), str(root)], cwd=base)
    shutil.copy2(template_with_data / "data" / "breast_cancer.csv", root / "data")
    # into the clone's DVC cache, where a user's `dvc pull` or `dvc repro` would have put it
    run([sys.executable, "-m", "dvc", "commit", "--force", "--quiet"], cwd=root)
    uri = f"sqlite:///{base / 'mlflow.db'}"
    MlflowClient(uri).create_experiment(EXPERIMENT, artifact_location=str(base / "artifacts"))
    # this module's image (deleted by the last test), pushed to the loopback registry: it then
    # has a repository digest
    dockerfile = f"FROM {template_image.id}\nLABEL test.purpose=gone-and-rebuilt\n"
    built = subprocess.run(
        ["docker", "build", "--quiet", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        check=True,
        env=venv_env(DOCKER_BUILDKIT="0"),
    )
    own = built.stdout.strip().splitlines()[-1]
    pushed = f"{registry}/{REPOSITORY}:test"
    run(["docker", "tag", own, pushed], cwd=base)
    run(["docker", "push", "--quiet", pushed], cwd=base, timeout=600)
    info = docker.inspect_image(pushed)
    assert info is not None and info.repo_digest, "the pushed image has no repository digest"
    config = json.dumps({"image": info.repo_digest})
    run_id, output = mlflow_run(
        root, uri, "-b", "repro-docker", "--backend-config", config, "-A", "network=none"
    )
    assert info.id == own and own != template_image.id
    host_run, _ = mlflow_run(root, uri, "--env-manager", "local")
    yield ContainerRuns(
        root, uri, own, info.repo_digest, registry, run_id, output, template_image.id, host_run
    )
