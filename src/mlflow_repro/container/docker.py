"""The Docker engine, spoken to the one way mlflow-repro does: the `docker` CLI through
`process.run` (a timeout, bounded output, a `Result`, never an exception). The Python `docker`
package MLflow uses is not needed here: capture, replay, audit and parity read images by their
content id and repository digests, which `docker image inspect` gives."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlflow_repro import process

# Labels the image recipe (build.py) writes: its build inputs, so that the build can be repeated
LABEL_PREFIX = "io.mlflow-repro."


@dataclass(frozen=True)
class ImageInfo:
    """An image as the engine holds it: the content id (sha256 of its configuration: the same id
    means the same layers and settings) and what names it."""

    id: str  # "sha256:<64 hex>"
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)  # "<repository>@sha256:<64 hex>"
    labels: dict[str, str] = field(default_factory=dict)
    os: str = ""
    architecture: str = ""
    created: str = ""

    @property
    def build_inputs(self) -> dict[str, str]:
        """The recipe's labels without their prefix (base, lock sha256, Dockerfile, ...)."""
        return {
            k[len(LABEL_PREFIX) :]: v for k, v in self.labels.items() if k.startswith(LABEL_PREFIX)
        }

    @property
    def repo_digest(self) -> str | None:
        return self.repo_digests[0] if self.repo_digests else None


def binary() -> str | None:
    return shutil.which("docker")


def daemon_problem(timeout: float = 15.0) -> str | None:
    """Why the Docker engine cannot be used from here (no `docker` client, or `docker info`
    failing: the daemon is not running or not reachable through DOCKER_HOST), or None."""
    docker = binary()
    if docker is None:
        return "there is no `docker` client on PATH (install Docker: Debian's docker.io package)"
    done = process.run([docker, "info", "--format", "{{.ServerVersion}}"], timeout=timeout)
    if not done.ok:
        where = os.environ.get("DOCKER_HOST") or "the default socket /var/run/docker.sock"
        return f"`docker info` failed ({done.reason}): no Docker daemon answers at {where}"
    return None


def inspect_image(reference: str, timeout: float = 30.0) -> ImageInfo | None:
    """The image `reference` (a name:tag, a repository@digest or an id) as the engine holds it
    locally; None when it holds no such image or cannot be asked (`daemon_problem` tells which)."""
    docker = binary()
    if docker is None or not reference:
        return None
    done = process.run([docker, "image", "inspect", reference], timeout=timeout)
    if not done.ok:
        return None
    try:
        data = json.loads(done.stdout)[0]
        config = data.get("Config") or {}
        return ImageInfo(
            id=str(data["Id"]),
            repo_tags=[str(t) for t in data.get("RepoTags") or []],
            repo_digests=[str(d) for d in data.get("RepoDigests") or []],
            labels={str(k): str(v) for k, v in (config.get("Labels") or {}).items()},
            os=str(data.get("Os") or ""),
            architecture=str(data.get("Architecture") or ""),
            created=str(data.get("Created") or ""),
        )
    except (ValueError, LookupError, TypeError, AttributeError):
        return None


def pull(reference: str, timeout: float = 600.0) -> process.Result:
    """`docker pull reference` (a repository@digest pulls exactly those bytes)."""
    return process.run([binary() or "docker", "pull", "--quiet", reference], timeout=timeout)


def run(
    image: str,
    argv: list[str],
    *,
    stdin: bytes | None = None,
    network: str = "none",
    entrypoint: str | None = None,
    timeout: float = 300.0,
) -> process.Result:
    """`docker run --rm` of `argv` in `image` (no network by default), `stdin` on its input."""
    cmd = [binary() or "docker", "run", "--rm", "--network", network]
    if stdin is not None:
        cmd.append("-i")
    if entrypoint is not None:
        cmd += ["--entrypoint", entrypoint]
    return process.run([*cmd, image, *argv], timeout=timeout, input=stdin)


def build(
    context: Path,
    *,
    tag: str,
    labels: dict[str, str],
    dockerfile: str = "Dockerfile",
    network: str = "none",
    timeout: float = 1800.0,
) -> process.Result:
    """`docker build` of `context` with no network (every input is in the context), tagged and
    labelled; the image id is on the last line of stdout (`--quiet`)."""
    cmd = [binary() or "docker", "build", "--quiet", "--network", network, "-t", tag]
    cmd += ["-f", str(context / dockerfile)]
    for key, value in sorted(labels.items()):
        cmd += ["--label", f"{key}={value}"]
    return process.run([*cmd, str(context)], timeout=timeout, env={"DOCKER_BUILDKIT": "0"})
