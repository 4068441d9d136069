"""The image step: a run made in a container is replayed in that image, by content.

The manifest's `platform.container` names the image the run ran in by id (and repository digest
where it came from a registry), as the launching side read it from the engine. Replay runs the
re-run in exactly that image (the `repro-docker` backend, `FROM <id>` with the rebuilt workspace
copied in). If the engine no longer holds it and it cannot be pulled by digest, replay refuses
before any run is created, naming the image and how to get it back, unless `rebuild` (then the
image is built again from the recorded build inputs, checked input by input, and the verdict says
"rebuilt image": the same hash-checked packages, not the same image id). A run made on a host can
be replayed in an image on request (`image`): the verdict then says the platform changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Container, Manifest

STEP = "image"
RECORDED, PULLED, REBUILT, REQUESTED = "recorded", "pulled", "rebuilt", "requested"


@dataclass(frozen=True)
class ImagePlan:
    """The image the re-run will run in."""

    image_id: str  # "sha256:<64 hex>": what the backend is given
    how: str  # recorded (present here), pulled (by digest), rebuilt, requested (--image)
    note: str  # one line for the progress, the verdict and the replay's description
    network: str  # `docker run --network` (as recorded; host where none was)
    recorded_id: str | None = None  # what the run ran in (None: on the host)


def _short(image_id: str) -> str:
    return image_id[:19] if image_id.startswith("sha256:") else image_id


def _named(container: Container) -> str:
    return f"{container.image or 'the image'} ({container.image_id})"


def _refuse(problem: str, value: str, hint: str, run_id: str) -> ReplayError:
    return ReplayError(problem, run_id=run_id, step=STEP, value=value, hint=hint)


def _daemon(run_id: str, value: str) -> None:
    from mlflow_repro.container import docker

    problem = docker.daemon_problem()
    if problem:
        raise _refuse(
            f"the re-run must run in an image, and {problem}",
            value,
            "start Docker (docs/deployment.md, Containers) and replay again; nothing was started",
            run_id,
        )


def _requested(image: str, run_id: str) -> str:
    from mlflow_repro.container import docker

    _daemon(run_id, image)
    info = docker.inspect_image(image)
    if info is None:
        raise _refuse(
            f"--image {image!r}: the Docker engine here holds no such image",
            image,
            "build it (`just image`), pull it or `docker load` it; nothing was started",
            run_id,
        )
    return info.id


def choose_image(
    manifest: Manifest,
    workspace: Path,
    run_id: str,
    *,
    image: str | None = None,
    rebuild: bool = False,
) -> ImagePlan | None:
    """Where the re-run runs: None on the host (a run made on a host, no `image`); else the
    image, present on the engine. A ReplayError, before any run exists, when it cannot be had."""
    from mlflow_repro.container import docker

    container = manifest.platform.container
    unrecorded = container is not None and container.source != "launcher" and not container.image
    if container is None or unrecorded:  # a host, or a container recorded as a host is
        if image is None:
            if rebuild:
                raise _refuse(
                    "--rebuild-image: the run ran on a host, in no image",
                    "--rebuild-image",
                    "replay without it, or in an image of your choice with --image",
                    run_id,
                )
            return None
        found = _requested(image, run_id)
        where = " (in a container no launcher named)" if unrecorded else ""
        return ImagePlan(
            found,
            REQUESTED,
            f"platform changed: the run ran on the host{where} ({manifest.platform.system} "
            f"{manifest.platform.libc}, Python {manifest.environment.python_version}), the "
            f"replay in image {image} ({_short(found)}) as requested",
            "host",
        )
    network = container.network or "host"
    if container.source != "launcher" or not container.image_id:
        if image is None:
            raise _refuse(
                f"the run ran in image {container.image or '(unnamed)'}, whose id its launcher "
                "could not read, so replay cannot choose that image",
                container.image or "unidentified",
                "replay it in an image you name with --image (the verdict will say the platform "
                "may differ); nothing was started",
                run_id,
            )
        found = _requested(image, run_id)
        return ImagePlan(
            found,
            REQUESTED,
            f"platform unknown: the run ran in an unrecorded image, the replay in {image} "
            f"({_short(found)}) as requested",
            network,
        )
    if image is not None:
        found = _requested(image, run_id)
        if found == container.image_id:
            return ImagePlan(
                found, RECORDED, f"same image {_named(container)}", network, container.image_id
            )
        return ImagePlan(
            found,
            REQUESTED,
            f"platform changed: the run ran in image {_named(container)}, the replay in {image} "
            f"({found}) as requested",
            network,
            container.image_id,
        )
    _daemon(run_id, container.image_id)
    if docker.inspect_image(container.image_id) is not None:
        return ImagePlan(
            container.image_id,
            RECORDED,
            f"same image {_named(container)}",
            network,
            container.image_id,
        )
    pulled_reason = ""
    if container.repo_digest:
        done = docker.pull(container.repo_digest)
        info = docker.inspect_image(container.repo_digest) if done.ok else None
        if info is not None and info.id == container.image_id:
            return ImagePlan(
                info.id,
                PULLED,
                f"same image {_named(container)}, pulled by digest {container.repo_digest}",
                network,
                container.image_id,
            )
        pulled_reason = (
            f", and pulling {container.repo_digest} failed ({done.reason})"
            if not done.ok
            else f", and {container.repo_digest} pulled as {info.id if info else '?'}"
        )
    if rebuild:
        return _rebuilt(container, workspace, run_id, network)
    inputs = container.build
    recipe = (
        f"rebuild it from its recorded inputs with --rebuild-image (base {inputs['base.id']}, "
        f"uv.lock sha256 {inputs.get('lock.sha256', '?')[:12]})"
        if "base.id" in inputs
        else "its build inputs were not recorded (it was not built by `mlflow-repro image "
        "build`), so it cannot be rebuilt by replay"
    )
    where = f"`docker pull {container.repo_digest}` or " if container.repo_digest else ""
    raise _refuse(
        f"the run ran in image {_named(container)}, which the Docker engine here no longer "
        f"holds{pulled_reason}",
        container.image_id,
        f"get it back ({where}`docker load` of a saved copy), or {recipe}; nothing was started "
        "and no run was created",
        run_id,
    )


def _rebuilt(container: Container, workspace: Path, run_id: str, network: str) -> ImagePlan:
    from mlflow_repro.container import build
    from mlflow_repro.errors import ReproError

    if "base.id" not in container.build:
        raise _refuse(
            f"--rebuild-image: image {_named(container)} has no recorded build inputs (it was "
            "not built by `mlflow-repro image build`)",
            container.image_id,
            "get the image back (docker pull/load); nothing was started",
            run_id,
        )
    tag = f"mlflow-repro-rebuilt:{container.image_id.removeprefix('sha256:')[:12]}"
    try:
        built = build.rebuild(workspace, dict(container.build), tag=tag)
    except ReproError as exc:
        raise _refuse(
            f"--rebuild-image: the image cannot be rebuilt from its recorded inputs: {exc.problem}",
            str(exc.value or container.image_id),
            (exc.hint or "") + "; nothing was started and no run was created",
            run_id,
        ) from None
    return ImagePlan(
        built.id,
        REBUILT,
        f"rebuilt image {built.id} from the recorded inputs of {_named(container)} (the same "
        "hash-checked packages and base, a new image id)",
        network,
        container.image_id,
    )
