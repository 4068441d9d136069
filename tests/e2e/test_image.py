"""The image recipe on a real daemon: the template's image (built once per session from a
committed copy of the repository, `template_image`) holds its build inputs as labels, runs the
plugin and the template's packages with no network, keeps the hash-checked requirements, and is
built again from its labels alone."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from mlflow_repro.container import docker
from mlflow_repro.container.build import REQUIREMENTS_IN_IMAGE, BuiltImage, rebuild

pytestmark = pytest.mark.e2e


def test_image_holds_its_inputs_and_runs_offline(template_image: BuiltImage) -> None:
    info = docker.inspect_image(template_image.id)
    assert info is not None and template_image.tag in info.repo_tags
    inputs = info.build_inputs
    # the recipe's inputs, and the base's root filesystem (inherited from the base's labels)
    assert inputs.items() >= template_image.inputs.items()
    assert inputs["rootfs.suite"] == "bookworm" and len(inputs["rootfs.sha256"]) == 64
    for key in ("base.id", "lock.sha256", "requirements.sha256", "wheels", "dockerfile"):
        assert inputs[key], key
    dockerfile = base64.b64decode(inputs["dockerfile"]).decode()
    assert f"FROM {inputs['base.digest'] or inputs['base.id']}" in dockerfile
    assert inputs["wheels"].startswith("mlflow_repro-0.1.0-py3-none-any.whl ")
    assert inputs["base.python"] == "3.11.2"

    done = docker.run(
        template_image.id,
        ["python", "-c", "import sys, mlflow_repro, sklearn, mlflow; print(sys.prefix)"],
        network="none",
    )
    assert done.ok, done.reason
    assert done.text.strip() == "/opt/venv"

    shown = docker.run(template_image.id, ["cat", REQUIREMENTS_IN_IMAGE], network="none")
    assert shown.ok, shown.reason
    assert hashlib.sha256(shown.stdout).hexdigest() == inputs["requirements.sha256"]
    assert "scikit-learn==" in shown.text and "--hash=sha256:" in shown.text


def test_rebuild_from_labels_while_the_image_is_there_is_that_image(
    template_image: BuiltImage, template_with_data: Path
) -> None:
    """The recorded inputs, checked one by one, build the same image again: the engine's cache
    holds every step of those inputs. (Once the image is gone, the rebuild is a new image from
    the same inputs: tests/e2e/test_containers.py.)"""
    info = docker.inspect_image(template_image.id)
    assert info is not None
    again = rebuild(template_with_data, info.build_inputs, tag="mlflow-repro-rebuilt:test")
    rebuilt = docker.inspect_image(again.id)
    assert rebuilt is not None
    assert rebuilt.build_inputs == info.build_inputs
    assert rebuilt.id == info.id
