"""The kubernetes backend: the Job MLflow would submit from docs/kubernetes (built by MLflow's own
functions, validated by the Kubernetes client's models; no cluster), and replay's checks, which
refuse before any run exists, naming the value."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient, V1Job
from kubernetes.config import kube_config
from mlflow.projects import _parse_kubernetes_config
from mlflow.projects._project_spec import load_project
from mlflow.projects.docker import _get_docker_image_uri
from mlflow.projects.kubernetes import _get_kubernetes_job_definition, _get_run_command
from mlflow.projects.utils import (
    MLFLOW_DOCKER_WORKDIR_PATH,
    get_entry_point_command,
    get_run_env_vars,
)

from mlflow_repro.errors import ReplayError
from mlflow_repro.manifest import Launch, Manifest, Payload, Seeds
from mlflow_repro.names import REPLAY_OF_VAR, REPLAY_REGISTER_VAR, SEED_VAR, STATE_VAR
from mlflow_repro.replay import kubernetes
from mlflow_repro.replay.launch import Plan, describe, launch, plan_launch, replay_environment
from mlflow_repro.secrets import has_secret_content
from tests.conftest import REPO_ROOT, Repo

DOCS = REPO_ROOT / "docs" / "kubernetes"
CONFIG = json.loads((DOCS / "backend-config.json").read_text())
SERVER = "http://mlflow.mlflow.svc.cluster.local:5000"
DIGEST = "sha256:" + "ab" * 32
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
MLFLOW_VARS = {"MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID"}
# The template's own MLproject made runnable on Kubernetes: a docker_env, and no variable
# assignment in the command (the image sets PYTHONPATH, docs/kubernetes/Dockerfile).
DOCKER_MLPROJECT = """\
name: repro-template
docker_env:
  image: registry.example.com/ml/repro-template-env:0123456789ab
entry_points:
  main:
    parameters:
      conf_file: {type: string, default: confs/training.yaml}
    command: "python -m repro_template train {conf_file}"
"""
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://k8s.invalid:6443"}}]
users: [{name: u, user: {}}]
contexts: [{name: ml-cluster, context: {cluster: c, user: u}}]
current-context: ml-cluster
"""


class Response:
    """What ApiClient.deserialize reads: a body in `data`."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body)


def to_v1_job(job: dict[str, Any]) -> V1Job:
    with ApiClient() as api:
        model = api.deserialize(Response(job), "V1Job")
    assert isinstance(model, V1Job)
    return model


def serialized(model: V1Job) -> Any:
    with ApiClient() as api:
        return api.sanitize_for_serialization(model)


def docs_template() -> dict[str, Any]:
    loaded = yaml.safe_load((DOCS / "job-template.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This machine as a replay on Kubernetes needs it: a Docker engine (`docker info` answers),
    a kubeconfig with the context docs/kubernetes/backend-config.json names, a tracking server
    the cluster reaches; run from the repository root (the config's template path is relative).
    Returns the fake `docker` program."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text('#!/bin/sh\n[ "$1" = info ] && exit 0\nexit 3\n')
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", SERVER)
    for name in ("KUBE_MLFLOW_TRACKING_URI", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(REPO_ROOT)
    return docker


@pytest.fixture
def project(repo: Repo) -> Path:
    repo.write("MLproject", DOCKER_MLPROJECT)
    repo.commit("docker_env")
    return repo.root


def refused(project: Path, config: Any = None, **parameters: str) -> ReplayError:
    with pytest.raises(ReplayError) as info:
        kubernetes.check(
            project,
            "main",
            parameters,
            CONFIG if config is None else config,
            run_id="r1",
        )
    return info.value


# --- docs/kubernetes and the Job MLflow submits -------------------------------------------------


def test_the_docs_backend_config_is_read_by_mlflows_own_parser(cluster: Path) -> None:
    parsed = _parse_kubernetes_config(dict(CONFIG))
    assert parsed["kube-job-template"] == docs_template()
    assert parsed["repository-uri"] == "registry.example.com/ml/repro-template"
    assert parsed["kube-context"] == "ml-cluster"
    path, template = kubernetes.job_template(kubernetes.backend_configuration(CONFIG, "r"), "r")
    assert path == DOCS / "job-template.yaml" and template == parsed["kube-job-template"]


def test_the_job_for_the_main_entry_point_is_a_valid_v1_job(
    cluster: Path, project: Path, tmp_path: Path
) -> None:
    """docs/kubernetes/job-template.yaml through MLflow's functions, with the command MLflow builds
    for the repository's own MLproject `main`, the variables MLflow sets and replay's."""
    mlproject = load_project(str(REPO_ROOT))
    command = _get_run_command(
        get_entry_point_command(mlproject, "main", {"conf_file": "confs/x.yaml"}, str(tmp_path))
    )
    assert command == ["PYTHONPATH=src", "python", "-m", "repro_template", "train", "confs/x.yaml"]
    state = tmp_path / "payloads" / "seeds" / "rng_state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"generators": {}}')
    manifest = Manifest(
        seeds=Seeds(
            replay_env={SEED_VAR: "42", "PYTHONHASHSEED": "0"},
            state=Payload(path="seeds/rng_state.json"),
        )
    )
    values = replay_environment(manifest, tmp_path / "payloads")
    values |= {REPLAY_OF_VAR: "0f" * 16, REPLAY_REGISTER_VAR: "0"}
    job_spec = kubernetes.Job(
        CONFIG, docs_template(), DOCS / "job-template.yaml", "repro-template", "base", command
    )
    with kubernetes.job_config(job_spec, values, project) as config:
        placed = project / ".git" / kubernetes.STATE_DIR / "rng_state.json"
        assert placed.read_text() == '{"generators": {}}'  # in the build context, beside .git
        template = _parse_kubernetes_config(config)["kube-job-template"]
    assert not placed.exists() and not placed.parent.exists()
    tag = _get_docker_image_uri(repository_uri=CONFIG["repository-uri"], work_dir=str(project))
    assert tag == f"{CONFIG['repository-uri']}:{Repo(project).git('rev-parse', 'HEAD')[:7]}"
    env_vars = get_run_env_vars(run_id="9" * 32, experiment_id="7")
    job = _get_kubernetes_job_definition(mlproject.name, tag, DIGEST, command, env_vars, template)

    model = to_v1_job(job)
    assert (model.api_version, model.kind) == ("batch/v1", "Job")
    assert model.metadata.namespace == "mlflow"
    name = model.metadata.name
    assert name.startswith("repro-template-") and len(name) <= 63 and DNS_LABEL.fullmatch(name)
    pod = model.spec.template.spec
    assert (pod.restart_policy, model.spec.backoff_limit) == ("Never", 0)
    assert model.spec.ttl_seconds_after_finished > 0
    [container] = pod.containers
    assert container.name == "repro-template" and DNS_LABEL.fullmatch(container.name)
    assert container.image == f"{tag}@{DIGEST}"
    assert container.command == command
    env = {item.name: item for item in container.env}
    assert env["MLFLOW_TRACKING_URI"].value == SERVER
    assert env["MLFLOW_RUN_ID"].value == "9" * 32 and env["MLFLOW_EXPERIMENT_ID"].value == "7"
    assert env[SEED_VAR].value == "42" and env["PYTHONHASHSEED"].value == "0"
    assert env[REPLAY_OF_VAR].value == "0f" * 16 and env[REPLAY_REGISTER_VAR].value == "0"
    assert env[STATE_VAR].value == (
        f"{MLFLOW_DOCKER_WORKDIR_PATH}.git/{kubernetes.STATE_DIR}/rng_state.json"
    )
    # MLflow's own variables come last: nothing in the template can shadow them
    assert [item.name for item in container.env][-3:] == list(env_vars)
    # credentials only by reference to a Secret, never as a value
    assert [source.secret_ref.name for source in container.env_from] == ["mlflow-tracking"]
    assert all(not kubernetes.SECRET_VARIABLE.search(n) for n, i in env.items() if i.value)
    assert not has_secret_content(json.dumps(job).encode())
    assert container.resources.requests["memory"] == container.resources.limits["memory"]
    assert serialized(model) == job  # the client's model holds every field, unchanged


def test_the_client_models_catch_what_the_round_trip_is_for() -> None:
    """The validation can fail: a misspelled field vanishes from the model, the placeholder
    string of MLflow's documented `env: ["{appended with ...}"]` is no environment variable."""
    job = docs_template()
    job["spec"]["template"]["spec"]["restartPolcy"] = "Never"
    assert kubernetes.unknown_fields(job, to_v1_job(job)) == ["spec.template.spec.restartPolcy"]
    assert serialized(to_v1_job(job)) != job
    documented = docs_template()
    documented["spec"]["template"]["spec"]["containers"][0]["env"] = [
        "{appended with MLFLOW_TRACKING_URI, MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID}"
    ]
    with pytest.raises(ValueError, match="name"):
        to_v1_job(documented)


def test_the_dockerfile_builds_the_recorded_lock_hash_checked() -> None:
    text = (DOCS / "Dockerfile").read_text()
    steps = [line for line in text.splitlines() if line.startswith("RUN uv sync")]
    assert len(steps) == 2 and all("--frozen" in s and "--no-dev" in s for s in steps)
    assert "COPY pyproject.toml uv.lock .python-version ./" in text
    assert f"PYTHONPATH={MLFLOW_DOCKER_WORKDIR_PATH}src" in text  # what `PYTHONPATH=src` did
    uv = re.search(r'name = "uv"\nversion = "([^"]+)"', (REPO_ROOT / "uv.lock").read_text())
    assert uv is not None and f"ARG UV_VERSION={uv.group(1)}" in text  # the uv of the lock
    for name in ("Dockerfile", "job-template.yaml", "backend-config.json"):
        assert not has_secret_content((DOCS / name).read_bytes()), name


# --- replay's checks ----------------------------------------------------------------------------


def test_a_docker_env_project_passes_and_the_job_is_what_mlflow_builds(
    cluster: Path, project: Path
) -> None:
    job = kubernetes.check(project, "main", {"conf_file": "confs/y.yaml"}, CONFIG, run_id="r1")
    assert job.project_name == "repro-template"
    assert job.base_image == "registry.example.com/ml/repro-template-env:0123456789ab"
    assert job.command == ["python", "-m", "repro_template", "train", "confs/y.yaml"]
    assert job.template == docs_template() and job.config == CONFIG


def test_the_repositorys_python_env_project_is_refused_naming_its_environment(
    cluster: Path,
) -> None:
    error = refused(REPO_ROOT)
    assert error.value == "python_env.yaml" and "python_env" in error.problem
    assert "docs/kubernetes/Dockerfile" in str(error) and "--backend local" in str(error)


@pytest.mark.parametrize(
    ("command", "value", "fragment"),
    [
        ("PYTHONPATH=src python -m repro_template train {conf_file}", "PYTHONPATH=src", "shell"),
        ("python train.py {conf_file} && echo done", "&&", "quotes each word"),
    ],
)
def test_a_command_that_needs_a_shell_is_refused(
    cluster: Path, project: Path, command: str, value: str, fragment: str
) -> None:
    text = DOCKER_MLPROJECT.replace("python -m repro_template train {conf_file}", command)
    (project / "MLproject").write_text(text)
    error = refused(project)
    assert error.value == value and value in error.problem and fragment in error.problem


def test_a_parameter_value_with_a_space_would_reach_the_container_quoted(
    cluster: Path, project: Path
) -> None:
    error = refused(project, conf_file="my conf.yaml")
    assert error.value == "my conf.yaml" and "\"'my conf.yaml'\"" in error.problem


@pytest.mark.parametrize("name", ["Repro_Template", "a" * 37])
def test_a_project_name_that_cannot_name_a_job_is_refused(
    cluster: Path, project: Path, name: str
) -> None:
    (project / "MLproject").write_text(DOCKER_MLPROJECT.replace("repro-template", name, 1))
    error = refused(project)
    assert error.value == name and repr(name) in error.problem


def test_the_longest_project_name_mlflow_can_use_passes(cluster: Path, project: Path) -> None:
    name = "a" * kubernetes.MAX_PROJECT_NAME
    (project / "MLproject").write_text(DOCKER_MLPROJECT.replace("repro-template", name, 1))
    assert kubernetes.check(project, "main", {}, CONFIG, run_id="r").project_name == name


@pytest.mark.parametrize(
    ("config", "value", "fragment"),
    [
        ({}, None, "needs a backend config"),
        (["kube-context"], ["kube-context"], "JSON list"),
        ({"repository-uri": "r.example/x"}, "kube-job-template-path", "has no"),
        ({k: v for k, v in CONFIG.items() if k != "repository-uri"}, "repository-uri", "has no"),
        ({**CONFIG, "kube-context": 3}, 3, "not a non-empty string"),
        ({**CONFIG, "repository-uri": "r.example/x:v1"}, "r.example/x:v1", "without a tag"),
        ({**CONFIG, "kube-job-template-path": "docs/nope.yaml"}, "docs/nope.yaml", "not exist"),
    ],
)
def test_a_backend_config_mlflow_cannot_use_is_refused(
    cluster: Path, project: Path, config: Any, value: Any, fragment: str
) -> None:
    with pytest.raises(ReplayError) as info:
        kubernetes.check(project, "main", {}, config, run_id="r1")
    error = info.value
    assert error.value == value and fragment in error.problem and error.step == "run"
    assert error.run_id == "r1" and error.hint


PATH = "<the template's path>"


def template_with(tmp_path: Path, change: Any) -> dict[str, Any]:
    template = docs_template()
    change(template)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(template))
    return {**CONFIG, "kube-job-template-path": str(path)}


def container(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["spec"]["template"]["spec"]["containers"][0]
    return found


@pytest.mark.parametrize(
    ("change", "value", "fragment"),
    [
        (lambda t: t.update(kind="Pod", apiVersion="v1"), "v1/Pod", "not a batch/v1 Job"),
        (lambda t: t["metadata"].pop("namespace"), PATH, "metadata.namespace"),
        (lambda t: t["spec"]["template"]["spec"].update(containers=[]), PATH, "containers"),
        (
            lambda t: container(t).update(env=["{appended with MLFLOW_TRACKING_URI}"]),
            PATH,
            "does not make a valid Job",
        ),
        (
            lambda t: t["spec"].update(backofLimit=0),
            "spec.backofLimit",
            "a batch/v1 Job does not have",
        ),
        (
            lambda t: t["spec"].pop("backoffLimit"),
            "restartPolicy=Never, backoffLimit=unset (6)",
            "same MLflow run",
        ),
        (
            lambda t: t["spec"]["template"]["spec"].update(restartPolicy="OnFailure"),
            "restartPolicy=OnFailure, backoffLimit=0",
            "same MLflow run",
        ),
        (
            lambda t: container(t)["env"].append({"name": "MLFLOW_TRACKING_URI", "value": "x"}),
            "MLFLOW_TRACKING_URI",
            "MLflow appends itself",
        ),
        (
            lambda t: container(t)["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}),
            "AWS_SECRET_ACCESS_KEY",
            "writes the value",
        ),
    ],
)
def test_a_job_template_replay_cannot_use_is_refused(
    cluster: Path, project: Path, tmp_path: Path, change: Any, value: str, fragment: str
) -> None:
    error = refused(project, template_with(tmp_path, change))
    expected = str(tmp_path / "job.yaml") if value is PATH else value
    assert error.value == expected and expected in str(error) and fragment in error.problem


@pytest.mark.parametrize(
    ("variable", "uri", "value"),
    [
        ("MLFLOW_TRACKING_URI", "sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
        ("MLFLOW_TRACKING_URI", "/home/ada/mlruns", "/home/ada/mlruns"),
        ("KUBE_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("MLFLOW_TRACKING_URI", "https://ada:hunter2-x@mlflow.example", "https://mlflow.example"),
    ],
)
def test_a_tracking_store_the_job_cannot_use_is_refused(
    cluster: Path,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    uri: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, uri)
    error = refused(project)
    assert error.value == value and value in error.problem
    assert "hunter2" not in str(error)


def test_the_job_gets_kube_mlflow_tracking_uri_when_set(
    cluster: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/here.db")
    monkeypatch.setenv("KUBE_MLFLOW_TRACKING_URI", SERVER)
    assert kubernetes.tracking_uri() == SERVER
    assert kubernetes.check(project, "main", {}, CONFIG, run_id="r").project_name


def test_no_docker_engine_is_refused(
    cluster: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    error = refused(project)
    assert error.value == "docker info" and "Cannot connect to the Docker daemon" in error.problem
    monkeypatch.setenv("PATH", str(cluster.parent.parent / "nothing-here"))
    error = refused(project)
    assert error.value == "docker" and "no `docker` on PATH" in error.problem


def test_a_kube_context_not_in_the_kubeconfig_is_refused(
    cluster: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = refused(project, {**CONFIG, "kube-context": "prod-east"})
    assert error.value == "prod-east" and "'ml-cluster'" in str(error)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")  # in a pod: MLflow's fallback
    assert kubernetes.check(
        project, "main", {}, {**CONFIG, "kube-context": "prod-east"}, run_id="r"
    )


def test_no_kubeconfig_and_no_context_is_refused(
    cluster: Path, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "none"))
    config = {k: v for k, v in CONFIG.items() if k != "kube-context"}
    error = refused(project, config)
    assert error.value == str(tmp_path / "none") and "no current context" in error.problem


# --- through launch: nothing is created, and what MLflow is handed ------------------------------


def kube_plan(directory: Path) -> Plan:
    return Plan("main", {"conf_file": "confs/z.yaml"}, "uv", "kubernetes", directory)


@pytest.fixture
def no_mlflow_run(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """mlflow.projects.run replaced: the calls it got (each with the Job template it was handed,
    read while the call lasts)."""
    import mlflow.projects

    calls: list[dict[str, Any]] = []

    def run(uri: str, **kwargs: Any) -> SimpleNamespace:
        parsed = _parse_kubernetes_config(dict(kwargs["backend_config"]))
        calls.append({"uri": uri, **kwargs, "template": parsed["kube-job-template"]})
        return SimpleNamespace(run_id="new-run")

    monkeypatch.setattr(mlflow.projects, "run", run)
    return calls


@pytest.mark.parametrize("case", ["no-config", "python_env", "local-store"])
def test_a_refused_kubernetes_launch_creates_no_run(
    cluster: Path,
    project: Path,
    tracking_uri: str,
    no_mlflow_run: list[dict[str, Any]],
    case: str,
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.create_experiment("k8s", artifact_location="s3://bucket/k8s")
    directory = REPO_ROOT if case == "python_env" else project
    config = None if case == "no-config" else CONFIG
    with pytest.raises(ReplayError) as info:
        launch(
            kube_plan(directory),
            directory,
            Manifest(),
            directory,
            experiment_id=experiment,
            backend_config=config,
            run_id="r1",
        )
    expected = {"no-config": None, "python_env": "python_env.yaml", "local-store": tracking_uri}
    assert info.value.value == expected[case]
    assert no_mlflow_run == [] and client.search_runs([experiment]) == []


def test_a_local_artifact_location_is_refused(
    cluster: Path, project: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("KUBE_MLFLOW_TRACKING_URI", SERVER)
    experiment = MlflowClient().create_experiment("k8s", artifact_location="/srv/mlruns")
    with pytest.raises(ReplayError) as info:
        kubernetes.check(project, "main", {}, CONFIG, run_id="r", experiment_id=experiment)
    assert info.value.value == "/srv/mlruns" and "lost" in info.value.problem


def test_launch_hands_mlflow_the_template_with_replay_variables_and_builds_the_image(
    cluster: Path,
    project: Path,
    tracking_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    no_mlflow_run: list[dict[str, Any]],
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("KUBE_MLFLOW_TRACKING_URI", SERVER)
    experiment = MlflowClient().create_experiment("k8s", artifact_location="s3://bucket/k8s")
    manifest = Manifest(seeds=Seeds(replay_env={SEED_VAR: "7"}))
    new = launch(
        kube_plan(project),
        project,
        manifest,
        project,
        experiment_id=experiment,
        backend_config=CONFIG,
        run_id="r1",
    )
    [call] = no_mlflow_run
    assert new == "new-run" and call["uri"] == str(project)
    assert (call["backend"], call["build_image"], call["entry_point"]) == (
        "kubernetes",
        True,
        "main",
    )
    assert call["parameters"] == {"conf_file": "confs/z.yaml"}
    assert call["backend_config"]["repository-uri"] == CONFIG["repository-uri"]
    assert call["backend_config"]["kube-job-template-path"] != CONFIG["kube-job-template-path"]
    assert not Path(call["backend_config"]["kube-job-template-path"]).exists()  # cleaned up
    env = {e["name"]: e.get("value") for e in container(call["template"])["env"]}
    assert env[SEED_VAR] == "7" and env[REPLAY_OF_VAR] == "r1" and env[REPLAY_REGISTER_VAR] == "0"
    assert env["PYTHONUNBUFFERED"] == "1"  # the template's own entries kept
    assert {k: v for k, v in call["template"].items() if k != "spec"} == {
        k: v for k, v in docs_template().items() if k != "spec"
    }
    assert SEED_VAR not in os.environ  # the variables travel in the Job, not this process


def test_the_plan_and_its_description_say_the_job_runs_on_the_cluster(project: Path) -> None:
    manifest = Manifest(
        launch=Launch(launcher="mlflow run", entry_point="main", workdir=".", parameters={})
    )
    plan = plan_launch(manifest, project, {}, "r", backend="kubernetes")
    assert any("docker_env image" in note for note in plan.notes)
    assert (
        describe(plan, manifest) == "mlflow run -e main --backend kubernetes (a Job on the cluster)"
    )


def test_without_the_kubernetes_package_nothing_is_started(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = kubernetes.importlib.util.find_spec
    monkeypatch.setattr(
        kubernetes.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "kubernetes" else real(name, *a),
    )
    error = refused(project)
    assert error.value == "kubernetes" and "pip install kubernetes" in str(error)


def test_in_a_project_without_git_the_state_file_goes_beside_the_code(tmp_path: Path) -> None:
    directory = tmp_path / "sub"
    directory.mkdir()
    state = tmp_path / "rng_state.json"
    state.write_text("{}")
    job = kubernetes.Job(CONFIG, docs_template(), DOCS / "job-template.yaml", "p", "base", [])
    with kubernetes.job_config(job, {STATE_VAR: str(state)}, directory) as config:
        placed = directory / kubernetes.STATE_DIR / "rng_state.json"
        assert placed.read_text() == "{}"
        template = yaml.safe_load(Path(config["kube-job-template-path"]).read_text())
    env = {e["name"]: e["value"] for e in container(template)["env"] if "value" in e}
    assert env[STATE_VAR] == f"{MLFLOW_DOCKER_WORKDIR_PATH}{kubernetes.STATE_DIR}/rng_state.json"
    assert not placed.parent.exists() and state.is_file()


def test_a_failed_image_push_becomes_a_replay_error_that_says_the_run_stays_running(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker.errors
    import mlflow.projects

    from mlflow_repro.replay.project import launch_project

    def push_fails(uri: str, **kwargs: Any) -> None:
        raise docker.errors.APIError("denied: requested access to the resource is denied")

    monkeypatch.setattr(mlflow.projects, "run", push_fails)
    with pytest.raises(ReplayError) as info:
        launch_project(
            project,
            "main",
            {},
            experiment_id="1",
            env_manager="uv",
            backend="kubernetes",
            backend_config=CONFIG,
            run_id="r1",
            build_image=True,
        )
    assert "denied" in info.value.problem and "RUNNING" in str(info.value.hint)
