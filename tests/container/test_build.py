"""The image recipe without a daemon: the Dockerfile's text, the labels, the base named by
content, and what `rebuild` refuses (docker and the slow steps faked)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro.container import build, docker
from mlflow_repro.container.build import ImageBuildError, Target
from mlflow_repro.container.docker import LABEL_PREFIX, ImageInfo

BASE_ID = "sha256:" + "a" * 64
DIGEST = "registry.example:5000/base@sha256:" + "b" * 64
UV_WHEEL = "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
TARGET = Target(
    markers={
        "python_version": "3.11",
        "python_full_version": "3.11.2",
        "platform_machine": "x86_64",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    },
    glibc="2.36",
)


def test_dockerfile_is_a_function_of_its_inputs() -> None:
    one = build.dockerfile_text(BASE_ID, UV_WHEEL, ["pkg-1.0-py3-none-any.whl"], "1700000000")
    two = build.dockerfile_text(BASE_ID, UV_WHEEL, ["pkg-1.0-py3-none-any.whl"], "1700000000")
    assert one == two
    assert f"FROM {BASE_ID} AS install" in one
    assert "--offline --no-index" in one and "--require-hashes" in one
    assert "COPY requirements.lock.txt /opt/mlflow-repro/requirements.lock.txt" in one
    assert "ENV PATH=/opt/venv/bin:$PATH" in one and "WORKDIR /mlflow/projects/code" in one
    other = build.dockerfile_text(BASE_ID, UV_WHEEL, ["pkg-1.1-py3-none-any.whl"], "1700000000")
    assert other != one


def test_dockerfile_without_uv_uses_the_venvs_pip_hash_checked() -> None:
    text = build.dockerfile_text(BASE_ID, None, [], "0")
    assert "/opt/venv/bin/pip install --no-index" in text and "--require-hashes" in text


@pytest.mark.parametrize("ref", ["mlflow-repro-base:bookworm", "debian", "sha256:abc"])
def test_from_never_names_a_tag(ref: str) -> None:
    with pytest.raises(ImageBuildError, match="never by a tag"):
        build.dockerfile_text(ref, UV_WHEEL, [], "0")


def test_from_reference_prefers_the_repository_digest() -> None:
    assert build.from_reference(ImageInfo(id=BASE_ID)) == (BASE_ID, "")
    info = ImageInfo(id=BASE_ID, repo_tags=["base:1"], repo_digests=[DIGEST])
    assert build.from_reference(info) == (DIGEST, DIGEST)
    text = build.dockerfile_text(DIGEST, UV_WHEEL, [], "0")
    assert f"FROM {DIGEST}\n" in text


def test_base_config_gives_the_same_id_for_the_same_tar() -> None:
    one = build.base_config("c" * 64, "bookworm")
    assert one == build.base_config("c" * 64, "bookworm")
    assert one != build.base_config("d" * 64, "bookworm")
    assert b'"diff_ids":["sha256:' + b"c" * 64 + b'"]' in one


def test_marker_is_dropped_for_the_download_only() -> None:
    line = "colorama==0.4.6 ; sys_platform == 'win32' --hash=sha256:" + "e" * 64
    assert build._without_marker(line) == "colorama==0.4.6 --hash=sha256:" + "e" * 64


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "MLproject").write_text("name: demo-project\nentry_points: {}\n")
    (project / "uv.lock").write_text("version = 1\n")
    return project


class Fakes:
    """docker and the slow steps replaced: what the recipe would have built."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.images: dict[str, ImageInfo] = {
            "base:1": ImageInfo(id=BASE_ID, repo_tags=["base:1"]),
            BASE_ID: ImageInfo(id=BASE_ID, repo_tags=["base:1"]),
        }
        self.requirements = "numpy==2.0.0 --hash=sha256:" + "1" * 64 + "\n"
        self.built: list[dict[str, Any]] = []
        self.wheel_bytes = b"wheel v1"
        house = tmp_path / "house"
        house.mkdir()
        (house / UV_WHEEL).write_bytes(b"uv")

        def fake_wheelhouse(requirements: str, target: Target, dest: Path, **_: Any) -> list[Path]:
            dest.mkdir(parents=True, exist_ok=True)
            (dest / UV_WHEEL).write_bytes(b"uv")
            return [dest / UV_WHEEL]

        def fake_wheel(project: Path, out_dir: Path, epoch: str) -> Path:
            out_dir.mkdir(parents=True, exist_ok=True)
            wheel = out_dir / "demo-1.0-py3-none-any.whl"
            wheel.write_bytes(self.wheel_bytes)
            return wheel

        def fake_build(context: Path, tag: str, labels: dict[str, str], no_cache: bool) -> str:
            self.built.append({"tag": tag, "labels": labels, "no_cache": no_cache})
            assert (context / "Dockerfile").is_file()
            return "sha256:" + hashlib.sha256(repr((tag, no_cache)).encode()).hexdigest()

        monkeypatch.setattr(build, "_need_daemon", lambda: None)
        monkeypatch.setattr(docker, "inspect_image", lambda ref, timeout=30.0: self.images.get(ref))
        monkeypatch.setattr(build, "export_requirements", lambda project, groups: self.requirements)
        monkeypatch.setattr(build, "probe_target", lambda image_id: TARGET)
        monkeypatch.setattr(build, "wheelhouse", fake_wheelhouse)
        monkeypatch.setattr(build, "build_wheel", fake_wheel)
        monkeypatch.setattr(build, "commit_epoch", lambda project: "1700000000")
        monkeypatch.setattr(build, "_docker_build", fake_build)


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Fakes:
    return Fakes(monkeypatch, tmp_path)


def test_labels_hold_every_input(fakes: Fakes, tmp_path: Path) -> None:
    project = _project(tmp_path)
    built = build.build_image(project, base="base:1", groups=["torch"])
    lock_sha = hashlib.sha256(b"version = 1\n").hexdigest()
    assert built.tag == f"demo-project-env:{lock_sha[:12]}"
    inputs = built.inputs
    assert inputs["base"] == "base:1" and inputs["base.id"] == BASE_ID
    assert inputs["base.digest"] == ""
    assert inputs["lock.sha256"] == lock_sha
    assert inputs["requirements.sha256"] == hashlib.sha256(fakes.requirements.encode()).hexdigest()
    assert inputs["groups"] == "torch"
    wheel_sha = hashlib.sha256(b"wheel v1").hexdigest()
    assert inputs["wheels"] == f"demo-1.0-py3-none-any.whl {wheel_sha}"
    assert inputs["source-date-epoch"] == "1700000000"
    assert inputs["recipe"] == build.RECIPE
    assert base64.b64decode(inputs["dockerfile"]).decode() == built.dockerfile
    assert f"FROM {BASE_ID} AS install" in built.dockerfile
    assert "base:1" not in built.dockerfile  # the tag given is recorded, never built FROM
    labels = fakes.built[-1]["labels"]
    assert labels == {LABEL_PREFIX + k: v for k, v in inputs.items()}
    assert fakes.built[-1]["no_cache"] is False


def test_same_inputs_same_dockerfile(fakes: Fakes, tmp_path: Path) -> None:
    project = _project(tmp_path)
    one = build.build_image(project, base="base:1", tag="t:1")
    two = build.build_image(project, base=BASE_ID, tag="t:2")
    assert one.dockerfile == two.dockerfile
    assert {k: v for k, v in one.inputs.items() if k != "base"} == {
        k: v for k, v in two.inputs.items() if k != "base"
    }


def test_rebuild_repeats_with_the_recorded_labels(fakes: Fakes, tmp_path: Path) -> None:
    project = _project(tmp_path)
    original = build.build_image(project, base="base:1", tag="t:1")
    again = build.rebuild(project, original.inputs, tag="t:again")
    assert again.inputs == original.inputs
    assert again.dockerfile == original.dockerfile
    # the engine's cache is keyed by content: a step it holds from the same inputs is reused
    assert fakes.built[-1]["no_cache"] is False


def test_rebuild_refuses_a_changed_lock(fakes: Fakes, tmp_path: Path) -> None:
    project = _project(tmp_path)
    original = build.build_image(project, base="base:1", tag="t:1")
    (project / "uv.lock").write_text("version = 1\n# changed\n")
    with pytest.raises(ImageBuildError, match=r"uv\.lock changed") as caught:
        build.rebuild(project, original.inputs, tag="t:again")
    assert "check out the commit" in str(caught.value)


def test_rebuild_refuses_changed_requirements_or_wheel(fakes: Fakes, tmp_path: Path) -> None:
    project = _project(tmp_path)
    original = build.build_image(project, base="base:1", tag="t:1")
    fakes.wheel_bytes = b"wheel v2"
    with pytest.raises(ImageBuildError, match="differ from the recorded") as caught:
        build.rebuild(project, original.inputs, tag="t:again")
    assert "wheels" in str(caught.value) and "requirements" not in str(caught.value.value)
    fakes.wheel_bytes = b"wheel v1"
    fakes.requirements += "pandas==2.2.0 --hash=sha256:" + "2" * 64 + "\n"
    with pytest.raises(ImageBuildError, match=r"requirements\.sha256"):
        build.rebuild(project, original.inputs, tag="t:again")


def test_rebuild_refuses_a_missing_base_naming_it(fakes: Fakes, tmp_path: Path) -> None:
    project = _project(tmp_path)
    original = build.build_image(project, base="base:1", tag="t:1")
    fakes.images.clear()
    with pytest.raises(ImageBuildError) as caught:
        build.rebuild(project, original.inputs, tag="t:again")
    message = str(caught.value)
    assert BASE_ID in message and "base:1" in message
    assert "mlflow-repro image base" in message
    inputs = {**original.inputs, "base.digest": DIGEST}
    with pytest.raises(ImageBuildError, match="docker pull"):
        build.rebuild(project, inputs, tag="t:again")
    assert len(fakes.built) == 1  # nothing was built after the first


def test_rebuild_refuses_another_recipe(fakes: Fakes, tmp_path: Path) -> None:
    project = _project(tmp_path)
    original = build.build_image(project, base="base:1", tag="t:1")
    with pytest.raises(ImageBuildError, match="recipe"):
        build.rebuild(project, {**original.inputs, "recipe": "mlflow-repro-image/0"}, tag="x:1")


def test_missing_base_is_named(fakes: Fakes, tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="nope:1 is not in the Docker engine"):
        build.build_image(_project(tmp_path), base="nope:1")


def test_pip_platforms_cover_older_manylinux() -> None:
    tags = build._pip_platforms(TARGET)
    assert tags[0] == "manylinux_2_36_x86_64" and "manylinux_2_17_x86_64" in tags
    assert "manylinux2014_x86_64" in tags


def test_cli_parses_build(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow_repro.container import cli

    seen: dict[str, Any] = {}

    def fake_build_image(project: Path, **kwargs: Any) -> build.BuiltImage:
        seen.update(kwargs, project=project)
        return build.BuiltImage(BASE_ID, "t:1", {"base": "b", "dockerfile": "eA=="}, "x\n")

    monkeypatch.setattr(build, "build_image", fake_build_image)
    argv = ["build", "--base", "b", "--tag", "t:1", "--group", "torch", "--wheel", "w.whl"]
    assert cli.main(argv) == 0
    assert seen["base"] == "b" and seen["groups"] == ["torch"] and seen["wheels"] == [Path("w.whl")]
    out = capsys.readouterr().out
    assert f"image: {BASE_ID}" in out and "tag: t:1" in out


def test_cli_error_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow_repro.container import cli

    def broken(project: Path, **kwargs: Any) -> build.BuiltImage:
        raise ImageBuildError("no daemon", hint="start one")

    monkeypatch.setattr(build, "build_image", broken)
    assert cli.main(["build"]) == 2
    assert "no daemon; start one" in capsys.readouterr().err
