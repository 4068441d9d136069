"""`audit`'s "container image" item and the availability checks under it, on manifests built in
memory, with the Docker engine and the registry replaced (one real loopback HTTP registry stub
for the v2 HEAD). The e2e container tier runs them against a real daemon and registry."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from mlflow_repro import process
from mlflow_repro.container import docker
from mlflow_repro.inspect import audit as audit_module
from mlflow_repro.inspect import availability
from mlflow_repro.inspect.audit import _container_item, build_inputs
from mlflow_repro.inspect.records import MISSING, OK, WEAK, AuditReport
from mlflow_repro.inspect.render import audit_text
from mlflow_repro.manifest import Container, Environment, Manifest, Platform

IMAGE_ID = "sha256:" + "1" * 64
DIGEST = "sha256:" + "2" * 64
BUILD = {
    "base.id": "sha256:" + "3" * 64,
    "base.digest": "",
    "lock.sha256": "4" * 64,
    "requirements.sha256": "5" * 64,
    "dockerfile": "RlJPTQ==",
    "recipe": "mlflow-repro-image/1",
}


def in_image(repo_digest: str | None = None, **fields: Any) -> Manifest:
    container = Container(
        source="launcher",
        image="template-env:444444444444",
        image_id=IMAGE_ID,
        repo_digest=repo_digest,
        run_image_id="sha256:" + "9" * 64,
        build=BUILD,
        network="host",
    )
    return Manifest(platform=Platform(system="Linux", container=container, **fields))


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A Docker engine answering from `state`: "daemon" (a problem or None), "images" (ids it
    holds); the registry HEAD answering `state["head"]` (status, headers, why)."""
    state: dict[str, Any] = {"daemon": None, "images": set(), "head": (404, {}, "Not Found")}
    heads: list[str] = []
    monkeypatch.setattr(docker, "daemon_problem", lambda timeout=15.0: state["daemon"])
    monkeypatch.setattr(
        docker,
        "inspect_image",
        lambda ref, timeout=30.0: docker.ImageInfo(id=ref) if ref in state["images"] else None,
    )

    def head(url: str, headers: dict[str, str]) -> tuple[int | None, dict[str, str], str]:
        heads.append(url)
        return state["head"]

    monkeypatch.setattr(availability, "_http_head", head)
    monkeypatch.setattr(docker, "binary", lambda: None)  # no `docker manifest inspect`
    state["heads"] = heads
    return state


def test_a_run_on_the_host_has_no_image_to_check() -> None:
    item = _container_item(Manifest(platform=Platform(system="Linux")), "r1")
    assert (item.name, item.status, item.reason) == (
        "container image",
        OK,
        "ran on the host (no image)",
    )
    named = Manifest(environment=Environment(image="team/img:1"))
    assert "named image team/img:1 by name only" in _container_item(named, "r1").reason


def test_an_unidentified_container_is_weak_recorded_as_a_host_and_says_how_to_launch() -> None:
    manifest = Manifest(platform=Platform(container=Container(source="unidentified")))
    item = _container_item(manifest, "r1")
    assert item.status == WEAK
    assert "no launcher named" in item.reason and "recorded as on a host" in item.reason
    assert "mlflow run" in item.action and "repro-docker" in item.action


def test_an_image_the_engine_holds_is_ok_with_its_build_inputs(engine: dict[str, Any]) -> None:
    engine["images"].add(IMAGE_ID)
    item = _container_item(in_image(), "r1")
    assert item.status == OK, item
    assert item.reason.startswith(
        f"template-env:444444444444 ({IMAGE_ID[:19]}) present in the local Docker engine"
    )
    assert f"base {BUILD['base.id'][:19]}" in item.reason
    assert "uv.lock sha256 444444444444" in item.reason
    assert engine["heads"] == []  # present locally: the registry is not asked


def test_an_image_only_its_registry_has_is_ok(engine: dict[str, Any]) -> None:
    engine["head"] = (200, {}, "")
    item = _container_item(in_image(f"localhost:5000/template-env@{DIGEST}"), "r1")
    assert item.status == OK, item
    assert "pullable from registry localhost:5000" in item.reason
    assert engine["heads"] == [f"http://localhost:5000/v2/template-env/manifests/{DIGEST}"]


def test_an_image_neither_has_is_missing_and_says_how_to_get_it_back(
    engine: dict[str, Any],
) -> None:
    reference = f"localhost:5000/template-env@{DIGEST}"
    item = _container_item(in_image(reference), "r1")
    assert item.status == MISSING
    assert f"template-env:444444444444 ({IMAGE_ID[:19]}) is in no engine or registry" in (
        item.reason
    )
    assert "has no such manifest (HTTP 404)" in item.reason
    assert f"`docker pull {reference}`" in item.action
    assert "docker load" in item.action and IMAGE_ID in item.action
    assert "`mlflow-repro reproduce r1 --rebuild-image`" in item.action


def test_without_build_inputs_no_rebuild_is_offered(engine: dict[str, Any]) -> None:
    manifest = in_image()
    assert manifest.platform.container is not None
    bare = Manifest(
        platform=Platform(
            container=Container(
                image=manifest.platform.container.image, image_id=IMAGE_ID, build={}
            )
        )
    )
    item = _container_item(bare, "r1")
    assert item.status == MISSING
    assert "--rebuild-image" not in item.action
    assert "no build inputs recorded" in item.reason
    assert "no repository digest" in item.reason


def test_without_a_daemon_the_item_cannot_check_and_is_never_ok(engine: dict[str, Any]) -> None:
    engine["daemon"] = "`docker info` failed: no Docker daemon answers"
    engine["images"].add(IMAGE_ID)  # whatever it holds, nothing can ask it
    item = _container_item(in_image(), "r1")
    assert item.status == MISSING
    assert item.reason.startswith("cannot check template-env:444444444444")
    assert "no Docker daemon answers" in item.reason
    assert "docker info" in item.action
    # ... unless its registry says it has it: pullable is pullable, daemon or not
    engine["head"] = (200, {}, "")
    item = _container_item(in_image(f"registry.example.com/t/env@{DIGEST}"), "r1")
    assert item.status == OK
    assert engine["heads"][-1] == f"https://registry.example.com/v2/t/env/manifests/{DIGEST}"


@pytest.mark.parametrize(
    ("reference", "base", "path"),
    [
        (f"localhost:5000/a/b@{DIGEST}", "http://localhost:5000", "a/b"),
        (f"127.0.0.1:5001/env@{DIGEST}", "http://127.0.0.1:5001", "env"),
        (f"[::1]:5000/env@{DIGEST}", "http://[::1]:5000", "env"),
        (f"ghcr.io/team/env@{DIGEST}", "https://ghcr.io", "team/env"),
        (f"team/env@{DIGEST}", "https://registry-1.docker.io", "team/env"),
        (f"python@{DIGEST}", "https://registry-1.docker.io", "library/python"),
    ],
)
def test_a_repository_digest_names_its_registry_as_docker_resolves_it(
    reference: str, base: str, path: str
) -> None:
    assert availability._registry_url(reference) == (base, path, DIGEST)


def test_a_registry_asking_for_a_token_gets_an_anonymous_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[dict[str, str]] = []
    challenge = 'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"'

    def head(url: str, headers: dict[str, str]) -> tuple[int | None, dict[str, str], str]:
        seen.append(headers)
        if headers.get("Authorization") == "Bearer t0k":
            return 200, {}, ""
        return 401, {"Www-Authenticate": challenge}, "Unauthorized"

    monkeypatch.setattr(availability, "_http_head", head)
    monkeypatch.setattr(availability, "_anonymous_token", lambda c: "t0k" if c else None)
    assert availability.registry_has(f"reg.example/a@{DIGEST}") == (True, "reg.example")
    assert len(seen) == 2 and "vnd.oci.image.index" in seen[0]["Accept"]


def test_a_registry_with_no_answer_is_asked_through_the_docker_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []
    answer = {"ok": True}

    def run(cmd: list[str], **kw: Any) -> process.Result:
        calls.append(cmd)
        if answer["ok"]:
            return process.Result(True, b"{}", None, 0)
        return process.Result(False, b"", "`docker manifest inspect` exited 1: denied", 1)

    monkeypatch.setattr(availability, "_http_head", lambda u, h: (None, {}, "refused"))
    monkeypatch.setattr(docker, "binary", lambda: "/usr/bin/docker")
    monkeypatch.setattr(process, "run", run)
    reference = f"reg.example/a@{DIGEST}"
    assert availability.registry_has(reference) == (True, "reg.example")
    assert calls == [["/usr/bin/docker", "manifest", "inspect", "--insecure", reference]]
    answer["ok"] = False
    has, why = availability.registry_has(reference)
    assert has is None
    assert "registry reg.example: refused" in why and "denied" in why


class _Registry(http.server.BaseHTTPRequestHandler):
    """A registry v2 that holds one manifest."""

    def do_HEAD(self) -> None:
        found = self.path == f"/v2/team/env/manifests/{DIGEST}"
        ok = found and "manifest.v2+json" in self.headers.get("Accept", "")
        self.send_response(200 if ok else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_loopback_registry_is_asked_over_http(
    registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker, "binary", lambda: None)
    assert availability.registry_has(f"{registry}/team/env@{DIGEST}") == (True, registry)
    has, why = availability.registry_has(f"{registry}/team/other@{DIGEST}")
    assert has is False and "HTTP 404" in why


def test_build_inputs_are_shown_briefly() -> None:
    assert build_inputs({}) == "no build inputs recorded (not built by `mlflow-repro image build`)"
    shown = build_inputs({**BUILD, "base.digest": f"reg/base@{DIGEST}"})
    assert shown == (
        f"build inputs: base reg/base@{DIGEST[:19]}, uv.lock sha256 444444444444, "
        "3 more inputs recorded"
    )


def test_the_item_reads_in_the_text_report(engine: dict[str, Any]) -> None:
    item = _container_item(in_image(f"localhost:5000/template-env@{DIGEST}"), "r1")
    text = audit_text(AuditReport("r1", "r1", [item]))
    assert "missing container image  template-env:444444444444" in text
    assert "-> get it back: `docker pull localhost:5000/template-env@" in text
    assert AuditReport("r1", "r1", [item]).to_dict()["items"][0]["name"] == "container image"


def test_the_item_comes_right_after_platform() -> None:
    items = audit_module._platform_items(Manifest(platform=Platform(system="Linux")), "r1")
    assert [i.name for i in items][:2] == ["platform", "container image"]
