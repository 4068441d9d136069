"""Kubernetes: a replay on MLflow's `kubernetes` backend, checked before any run exists, with
replay's own variables written into the Job.

What MLflow 3.17.2 does with `mlflow run --backend kubernetes` (`mlflow/projects/__init__.py`,
`_run`): it creates the run first, and only then checks the project's `docker_env` (a
`python_env` project fails there with an AttributeError), imports the `docker` and `kubernetes`
packages, runs `docker info`, reads the backend config (`_parse_kubernetes_config`:
`kube-job-template-path`, a file that must exist, and `repository-uri` are required,
`kube-context` is optional), builds `FROM <docker_env image>` with the project directory copied
to /mlflow/projects/code/ (only with `build_image=True`: otherwise the base image runs as it is,
without the project's code), pushes it and submits the template as a Job
(`mlflow/projects/kubernetes.py`): the Job's name, and the first container's name, image
(`<repository-uri>:<commit[:7]>@<digest>`) and command (the entry point's words, each
shell-quoted, executed without a shell) are replaced; MLFLOW_RUN_ID, MLFLOW_TRACKING_URI (or
KUBE_MLFLOW_TRACKING_URI) and MLFLOW_EXPERIMENT_ID are appended to its env. A failure once the
run exists leaves it RUNNING. Each check below stands for one of those failures, or for a Job
that would start and then be lost (a tracking store or artifact location only this machine sees).

Nothing else of this process's environment reaches the Job: `job_config` writes replay's
variables (the recorded seed and settings, the replay marker) into a copy of the template, and
copies the recorded generator state into the build context, where the Job reads it.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mlflow_repro import process
from mlflow_repro.errors import ReplayError
from mlflow_repro.names import STATE_VAR
from mlflow_repro.store import shown_uri

TEMPLATE_KEY = "kube-job-template-path"
REPOSITORY_KEY = "repository-uri"
CONTEXT_KEY = "kube-context"
REQUIRED_KEYS = (TEMPLATE_KEY, REPOSITORY_KEY)
# What MLflow appends to the first container's env (mlflow/projects/utils.py, get_run_env_vars)
MLFLOW_JOB_VARIABLES = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")
CONTAINER_WORKDIR = "/mlflow/projects/code/"  # MLflow's MLFLOW_DOCKER_WORKDIR_PATH
# MLflow names the Job f"{project}-{%Y-%m-%d-%H-%M-%S-%f}"; a Job name is at most 63 characters
# (its pods carry it as a label value), the container name (the project's) a DNS-1123 label.
LAUNCH_TIME_SUFFIX = len("-2024-01-31-23-59-59-999999")
MAX_PROJECT_NAME = 63 - LAUNCH_TIME_SUFFIX
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
SECRET_VARIABLE = re.compile(r"(?i)passw|pwd|secret|token|credential|(?:^|_)key(?:$|_)")
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
STATE_DIR = ".mlflow-repro-replay"  # the generator state, inside the image's build context
HINT_CONFIG = (
    "pass --backend-config with kube-job-template-path, repository-uri and kube-context "
    "(docs/kubernetes/backend-config.json, docs/deployment.md)"
)
HINT_LOCAL = "replay it with --backend local; nothing was started"


@dataclass(frozen=True)
class Job:
    """A kubernetes launch that passed the checks."""

    config: dict[str, Any]  # the backend config as given
    template: dict[str, Any]  # the Job template it names, as read
    template_path: Path
    project_name: str
    base_image: str  # the MLproject's docker_env image, which MLflow builds on
    command: list[str]  # the container's command, as MLflow will write it


def _refuse(problem: str, value: Any, hint: str, run_id: str) -> ReplayError:
    return ReplayError(problem, run_id=run_id, step="run", value=value, hint=hint)


def check(
    directory: Path,
    entry_point: str,
    parameters: Mapping[str, str],
    backend_config: Any,
    *,
    run_id: str,
    experiment_id: str | None = None,
) -> Job:
    """Everything MLflow's kubernetes backend needs, checked before it creates the run; a
    ReplayError naming the value and what to do otherwise. Reads files and this machine's
    configuration only (`docker info` is the one program run); contacts no cluster."""
    _packages(run_id)
    config = backend_configuration(backend_config, run_id)
    path, template = job_template(config, run_id)
    name, image, command = _project(directory, entry_point, parameters, run_id)
    validate_job(template, name, command, path, run_id)
    _tracking(run_id)
    if experiment_id is not None:
        _artifact_location(experiment_id, run_id)
    _docker(run_id)
    _kube_context(config.get(CONTEXT_KEY), run_id)
    return Job(config, template, path, name, image, command)


def _packages(run_id: str) -> None:
    for module, why in (
        ("docker", "builds and pushes the Job's image"),
        ("kubernetes", "submits the Job and follows it"),
    ):
        if importlib.util.find_spec(module) is None:
            raise _refuse(
                f"MLflow's kubernetes backend needs the Python package {module!r} ({why}), and it "
                "is not installed in this environment",
                module,
                f"`pip install {module}` beside mlflow; nothing was started",
                run_id,
            )


def backend_configuration(backend_config: Any, run_id: str) -> dict[str, Any]:
    """The backend config, with the keys MLflow requires as non-empty strings."""
    if not backend_config:
        raise _refuse(
            "the kubernetes backend needs a backend config, and none was given",
            None,
            HINT_CONFIG,
            run_id,
        )
    if not isinstance(backend_config, Mapping):
        raise _refuse(
            f"the backend config is a JSON {type(backend_config).__name__}, not an object",
            backend_config,
            HINT_CONFIG,
            run_id,
        )
    config = dict(backend_config)
    for key in REQUIRED_KEYS:
        if key not in config:
            raise _refuse(
                f"the backend config has no {key!r} (its keys: {sorted(config)})",
                key,
                HINT_CONFIG,
                run_id,
            )
    for key in (*REQUIRED_KEYS, CONTEXT_KEY):
        if key in config and (not isinstance(config[key], str) or not config[key].strip()):
            raise _refuse(
                f"the backend config's {key!r} is {config[key]!r}, not a non-empty string",
                config[key],
                HINT_CONFIG,
                run_id,
            )
    repository = config[REPOSITORY_KEY]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last or "@" in repository or repository != repository.lower():
        raise _refuse(
            f"repository-uri {repository!r} is not an image repository: MLflow tags the image "
            f"'{repository}:<commit[:7]>', so it must be lowercase, without a tag or digest",
            repository,
            "e.g. registry.example.com/ml/repro-template",
            run_id,
        )
    return config


def job_template(config: Mapping[str, Any], run_id: str) -> tuple[Path, dict[str, Any]]:
    """The Job template the config names (a relative path is read from the current directory, as
    MLflow reads it), in the form MLflow fills in."""
    import yaml

    path = Path(config[TEMPLATE_KEY]).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.is_file():
        raise _refuse(
            f"the Job template {str(path)!r} (kube-job-template-path) does not exist"
            + ("" if Path(config[TEMPLATE_KEY]).is_absolute() else f", read from {Path.cwd()}"),
            config[TEMPLATE_KEY],
            "MLflow reads a relative path from the directory it runs in: run from the "
            "repository root or give an absolute path (docs/kubernetes/job-template.yaml)",
            run_id,
        )
    try:
        template = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _refuse(
            f"the Job template {str(path)!r} cannot be read as YAML ({exc})",
            str(path),
            "docs/kubernetes/job-template.yaml is a working example",
            run_id,
        ) from None
    where = f"the Job template {str(path)!r}"
    if not isinstance(template, dict):
        raise _refuse(f"{where} is not a mapping", str(path), "start from the example", run_id)
    kind = (template.get("apiVersion"), template.get("kind"))
    if kind != ("batch/v1", "Job"):
        raise _refuse(
            f"{where} is apiVersion {kind[0]!r} kind {kind[1]!r}, not a batch/v1 Job",
            f"{kind[0]}/{kind[1]}",
            "MLflow submits the template with BatchV1Api.create_namespaced_job",
            run_id,
        )
    metadata = template.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("namespace"), str):
        raise _refuse(
            f"{where} has no metadata.namespace, where MLflow creates the Job",
            str(path),
            "set metadata.namespace (e.g. mlflow)",
            run_id,
        )
    containers = _get(template, "spec", "template", "spec", "containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        raise _refuse(
            f"{where} has no spec.template.spec.containers[0], the container MLflow fills in",
            str(path),
            "start from docs/kubernetes/job-template.yaml",
            run_id,
        )
    return path, template


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _project(
    directory: Path, entry_point: str, parameters: Mapping[str, str], run_id: str
) -> tuple[str, str, list[str]]:
    """The project's name, docker_env image and the container command MLflow would write."""
    from shlex import split

    from mlflow.exceptions import MlflowException
    from mlflow.projects._project_spec import load_project

    try:
        project = load_project(str(directory))
        found = project.get_entry_point(entry_point)
    except (MlflowException, OSError, ValueError) as exc:
        raise _refuse(
            f"the MLproject in {directory} cannot be read ({exc})", entry_point, HINT_LOCAL, run_id
        ) from None
    if project.docker_env is None:
        declared = Path(project.env_config_path).name if project.env_config_path else "none"
        raise _refuse(
            f"the MLproject in {directory} has a {project.env_type} ({declared}), and MLflow's "
            "kubernetes backend runs only docker_env projects (MLflow would create the run, then "
            "fail in validate_docker_env and leave it RUNNING)",
            declared,
            "an MLproject holds one environment: to run on Kubernetes it names a docker_env image "
            "holding the locked environment (docs/kubernetes/Dockerfile builds one from uv.lock); "
            f"this run's MLproject does not, so {HINT_LOCAL}",
            run_id,
        )
    name = project.name
    if not isinstance(name, str) or not DNS_LABEL.fullmatch(name) or len(name) > MAX_PROJECT_NAME:
        raise _refuse(
            f"the project name {name!r} cannot name a Kubernetes Job: MLflow names the Job "
            f"'<name>-<launch time>' and its container '<name>', so the name must be lowercase "
            f"letters, digits and '-', at most {MAX_PROJECT_NAME} characters",
            name,
            f"rename the project in the MLproject; {HINT_LOCAL}",
            run_id,
        )
    with tempfile.TemporaryDirectory(prefix="mlflow-repro-kube-") as storage:
        try:
            line = found.compute_command(dict(parameters), storage)
        except (MlflowException, OSError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise _refuse(
                f"entry point {entry_point!r} cannot build its command ({exc})",
                entry_point,
                HINT_LOCAL,
                run_id,
            ) from None
    command = container_command(line)
    words = split(line)
    if words and ASSIGNMENT.match(words[0]):
        raise _refuse(
            f"entry point {entry_point!r} starts with the variable assignment {words[0]!r}, and "
            "Kubernetes executes a command without a shell: the container would look for a "
            f"program named {words[0]!r}",
            words[0],
            "set the variable in the image (ENV, as docs/kubernetes/Dockerfile sets PYTHONPATH) "
            f"or the Job template's env, and drop it from the command; {HINT_LOCAL}",
            run_id,
        )
    for word, written in zip(words, command, strict=True):
        if word != written:
            raise _refuse(
                f"the word {word!r} of entry point {entry_point!r} would reach the container as "
                f"{written!r}: MLflow quotes each word for a shell, and Kubernetes runs none",
                word,
                "keep shell syntax, spaces and quotes out of the command and its parameter "
                f"values; {HINT_LOCAL}",
                run_id,
            )
    return name, str(project.docker_env["image"]), command


def container_command(line: str) -> list[str]:
    """The container's command for an entry point's command line, as MLflow writes it."""
    from mlflow.projects.kubernetes import _get_run_command

    return list(_get_run_command([line]))


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    log = logging.getLogger(logger)
    before, log.disabled = log.disabled, True
    try:
        yield
    finally:
        log.disabled = before


def mlflow_job(
    template: Mapping[str, Any],
    project_name: str,
    image_tag: str,
    image_digest: str,
    command: list[str],
    env_vars: Mapping[str, str],
) -> dict[str, Any]:
    """The Job MLflow submits, by MLflow's own function (on a copy of the template)."""
    from mlflow.projects.kubernetes import _get_kubernetes_job_definition

    with _quiet("mlflow.projects.kubernetes"):  # it logs "Creating Job" while only building it
        job = _get_kubernetes_job_definition(
            project_name,
            image_tag,
            image_digest,
            list(command),
            dict(env_vars),
            copy.deepcopy(dict(template)),
        )
    return dict(job)


def as_v1_job(job: Mapping[str, Any]) -> Any:
    """The Job as the Kubernetes client's model (`kubernetes.client.V1Job`): required fields
    and types checked by the client's own deserializer."""
    from kubernetes.client import ApiClient

    with ApiClient() as api:
        return api._ApiClient__deserialize(dict(job), "V1Job")


def unknown_fields(job: Mapping[str, Any], model: Any) -> list[str]:
    """Paths of the fields the client's model dropped (unknown to Kubernetes: a typo) or changed
    (a value of another type)."""
    from kubernetes.client import ApiClient

    with ApiClient() as api:
        kept = api.sanitize_for_serialization(model)
    return _differences(job, kept, "")


def _differences(given: Any, kept: Any, where: str) -> list[str]:
    if isinstance(given, dict):
        kept = kept if isinstance(kept, dict) else {}
        return [
            found
            for key, value in given.items()
            if value is not None
            for found in (
                _differences(value, kept[key], f"{where}.{key}".lstrip("."))
                if key in kept
                else [f"{where}.{key}".lstrip(".")]
            )
        ]
    if isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            return [where]
        return [f for i, v in enumerate(given) for f in _differences(v, kept[i], f"{where}[{i}]")]
    return [] if str(given) == str(kept) else [where]


def validate_job(
    template: Mapping[str, Any], name: str, command: list[str], path: Path, run_id: str
) -> None:
    """The Job MLflow would build from the template is one Kubernetes accepts, and one a replay
    can use: never restarted or retried under the same MLflow run, MLflow's own variables left to
    MLflow, no credential written in it."""
    where = f"the Job template {str(path)!r}"
    stand_in = {key: "checked" for key in MLFLOW_JOB_VARIABLES}
    try:
        image = "registry.invalid/check:0000000"
        job = mlflow_job(template, name, image, "sha256:0", command, stand_in)
        model = as_v1_job(job)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
        raise _refuse(
            f"{where} does not make a valid Job ({type(exc).__name__}: {exc})",
            str(path),
            "start from docs/kubernetes/job-template.yaml",
            run_id,
        ) from None
    dropped = unknown_fields(job, model)
    if dropped:
        raise _refuse(
            f"{where} has fields a batch/v1 Job does not have, or values of the wrong type: "
            + ", ".join(dropped[:5]),
            dropped[0],
            "check their spelling against `kubectl explain job.spec --recursive`",
            run_id,
        )
    pod = model.spec.template.spec
    if pod.restart_policy != "Never" or model.spec.backoff_limit != 0:
        policy = pod.restart_policy or "unset"
        limit = "unset (6)" if model.spec.backoff_limit is None else model.spec.backoff_limit
        raise _refuse(
            f"{where} has restartPolicy {policy} and backoffLimit {limit}: a failed pod would "
            "run again under the same MLflow run, logging into it twice",
            f"restartPolicy={policy}, backoffLimit={limit}",
            "set spec.template.spec.restartPolicy: Never and spec.backoffLimit: 0",
            run_id,
        )
    env = _get(template, "spec", "template", "spec", "containers")[0].get("env") or []
    for item in env:
        if not isinstance(item, dict):
            continue
        variable = str(item.get("name"))
        if variable in MLFLOW_JOB_VARIABLES:
            raise _refuse(
                f"{where} sets {variable}, which MLflow appends itself (its value would be the "
                "one that counts, and the template's misleading)",
                variable,
                "remove it; for the tracking server's address as the cluster sees it, set "
                "KUBE_MLFLOW_TRACKING_URI where replay runs",
                run_id,
            )
        if "value" in item and SECRET_VARIABLE.search(variable):
            raise _refuse(
                f"{where} writes the value of {variable} into the Job spec, which anyone who can "
                "read Jobs can read",
                variable,
                "take it from a Secret (valueFrom.secretKeyRef or envFrom.secretRef)",
                run_id,
            )


def tracking_uri() -> str:
    """The tracking URI MLflow gives the Job: KUBE_MLFLOW_TRACKING_URI, else this process's."""
    import mlflow

    return os.environ.get("KUBE_MLFLOW_TRACKING_URI") or str(mlflow.get_tracking_uri())


def _tracking(run_id: str) -> None:
    uri = tracking_uri()
    parts = urlsplit(uri)
    shown = shown_uri(uri)
    hint = (
        "set KUBE_MLFLOW_TRACKING_URI (MLflow gives it to the Job instead of MLFLOW_TRACKING_URI) "
        "or MLFLOW_TRACKING_URI to the team's tracking server as the cluster reaches it "
        "(docs/deployment.md)"
    )
    if uri != "databricks" and not parts.netloc and parts.scheme in ("", "file", "sqlite"):
        raise _refuse(
            f"the Job would log to {shown!r}, a store on this machine that a pod cannot reach",
            shown,
            hint,
            run_id,
        )
    if parts.hostname in LOOPBACK:
        raise _refuse(
            f"the Job would log to {shown!r}: in a pod, {parts.hostname} is the pod itself",
            shown,
            hint,
            run_id,
        )
    if parts.username or parts.password:
        raise _refuse(
            f"the tracking URI {shown!r} carries credentials, which MLflow would write into the "
            "Job spec",
            shown,
            "drop them from the URI; the Job takes MLFLOW_TRACKING_USERNAME/PASSWORD or "
            "MLFLOW_TRACKING_TOKEN from a Secret (docs/kubernetes/job-template.yaml)",
            run_id,
        )


def _artifact_location(experiment_id: str, run_id: str) -> None:
    from mlflow.tracking import MlflowClient

    try:
        location = str(MlflowClient().get_experiment(experiment_id).artifact_location)
    except Exception:  # MLflow will say why when it creates the run, before any Job
        return
    if urlsplit(location).scheme in ("", "file"):
        raise _refuse(
            f"experiment {experiment_id} keeps its artifacts at {location!r}, a path: the Job "
            "would write the model and repro/ into its own container, where they are lost",
            location,
            "serve artifacts through the tracking server (`mlflow server --artifacts-destination "
            "s3://...`: its experiments get mlflow-artifacts:/ locations) or use an object store "
            "(docs/deployment.md)",
            run_id,
        )


def _docker(run_id: str) -> None:
    """What MLflow's validate_docker_installation checks, before the run rather than after."""
    hint = (
        "replay from a machine with a Docker engine and push access to repository-uri "
        "(docs/deployment.md); nothing was started"
    )
    if shutil.which("docker") is None:
        raise _refuse(
            "MLflow builds and pushes the Job's image with Docker, and there is no `docker` on "
            "PATH",
            "docker",
            hint,
            run_id,
        )
    done = process.run(["docker", "info"], timeout=60)
    if not done.ok:
        raise _refuse(
            f"MLflow builds and pushes the Job's image with Docker, and `docker info` failed "
            f"({done.reason})",
            "docker info",
            hint,
            run_id,
        )


def _kube_context(context: str | None, run_id: str) -> None:
    """The kube context MLflow will load: the one named (else the kubeconfig's current one) must
    be in the kubeconfig, unless this process runs in a pod (MLflow falls back to the in-cluster
    configuration). Reads the kubeconfig MLflow reads; contacts no cluster."""
    from kubernetes.config import kube_config

    location = kube_config.KUBE_CONFIG_DEFAULT_LOCATION  # what MLflow's load_kube_config reads
    try:
        contexts, current = kube_config.list_kube_config_contexts()
    except Exception:  # no or no valid kubeconfig: the same as no context in it
        contexts, current = [], None
    names = [str(c.get("name")) for c in contexts or [] if isinstance(c, dict)]
    wanted = context or (current or {}).get("name")
    if wanted in names or os.environ.get("KUBERNETES_SERVICE_HOST"):
        return
    if context:
        problem = f"the kube context {context!r} is not in the kubeconfig ({location})"
    else:
        problem = f"the kubeconfig ({location}) has no current context, and no kube-context is set"
    raise _refuse(
        problem,
        context or location,
        f"contexts there: {names or 'none'}; set kube-context in the backend config, or KUBECONFIG "
        "before starting replay",
        run_id,
    )


def with_environment(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """A copy of the template whose first container also sets `values` (replacing any entry of
    the same name); MLflow appends its own variables after them."""
    job = copy.deepcopy(dict(template))
    container = job["spec"]["template"]["spec"]["containers"][0]
    kept = [
        item
        for item in container.get("env") or []
        if not (isinstance(item, dict) and item.get("name") in values)
    ]
    container["env"] = kept + [{"name": k, "value": v} for k, v in sorted(values.items())]
    return job


def _into_build_context(state: Path, directory: Path) -> tuple[Path, str]:
    """The generator state, copied where MLflow's image build takes it (the project directory)
    and the re-run's git does not see it (under .git/ when the project directory is the
    repository root; a project in a subdirectory has no .git in the image). Returns the copy and
    its path in the container."""
    base = directory / ".git" if (directory / ".git").is_dir() else directory
    target = base / STATE_DIR / state.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(state, target)
    return target, CONTAINER_WORKDIR + target.relative_to(directory).as_posix()


@contextmanager
def in_build_context(values: Mapping[str, str], directory: Path) -> Iterator[dict[str, str]]:
    """`values` as a container sees them: the generator state (STATE_VAR) copied into the
    build context and named by its path in the container; the copy removed afterwards."""
    values = dict(values)
    placed: Path | None = None
    try:
        if values.get(STATE_VAR):
            placed, values[STATE_VAR] = _into_build_context(Path(values[STATE_VAR]), directory)
        yield values
    finally:
        if placed is not None:
            shutil.rmtree(placed.parent, ignore_errors=True)


@contextmanager
def job_config(job: Job, values: Mapping[str, str], directory: Path) -> Iterator[dict[str, Any]]:
    """The backend config MLflow gets: the template a copy that sets replay's variables in the
    Job, the generator state (STATE_VAR) in the build context; removed again afterwards."""
    import yaml

    values = dict(values)
    scratch = Path(tempfile.mkdtemp(prefix="mlflow-repro-kube-"))
    placed: Path | None = None
    try:
        if values.get(STATE_VAR):
            placed, values[STATE_VAR] = _into_build_context(Path(values[STATE_VAR]), directory)
        path = scratch / job.template_path.name
        path.write_text(yaml.safe_dump(with_environment(job.template, values), sort_keys=False))
        yield {**job.config, TEMPLATE_KEY: str(path)}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if placed is not None:
            shutil.rmtree(placed.parent, ignore_errors=True)


def submission_errors() -> tuple[type[BaseException], ...]:
    """What MLflow's kubernetes backend raises besides ExecutionException: the image build or
    push (docker), the Job's creation or status (kubernetes)."""
    errors: list[type[BaseException]] = []
    try:
        from docker.errors import DockerException

        errors.append(DockerException)
    except ImportError:
        pass
    try:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config.config_exception import ConfigException

        errors += [ApiException, ConfigException]
    except ImportError:
        pass
    return tuple(errors)
