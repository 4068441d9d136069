"""Parity against an image, on hand-made image facts (tests/e2e/test_parity_image.py reads real
images): packages by version and sha256, Python, the machine, glibc and BLAS, like with like."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlflow_repro import process
from mlflow_repro.container import docker
from mlflow_repro.errors import UsageError
from mlflow_repro.inspect import imageprobe
from mlflow_repro.inspect.imageprobe import ImageFacts, facts_from, probe_image, probe_script
from mlflow_repro.inspect.packages import Pin, parse_requirements
from mlflow_repro.inspect.parity import image_imports, image_parity, read_model_needs
from mlflow_repro.inspect.render import parity_text
from mlflow_repro.manifest import (
    Container,
    Environment,
    FrameworkBuild,
    InstalledWheel,
    Manifest,
    Platform,
)

SKLEARN_172 = "a" * 64
SKLEARN_172_SDIST = "b" * 64
NUMPY = "c" * 64
OTHER_BUILD = "d" * 64
LOCK = f"""\
numpy==2.3.4 \\
    --hash=sha256:{NUMPY}
scikit-learn==1.7.2 \\
    --hash=sha256:{SKLEARN_172} \\
    --hash=sha256:{SKLEARN_172_SDIST}
pywin32==311 ; sys_platform == 'win32' \\
    --hash=sha256:{"e" * 64}
"""
NUMPY_BLAS = {
    "user_api": "blas",
    "internal_api": "openblas",
    "prefix": "libscipy_openblas",
    "version": "0.3.30",
    "num_threads": "8",
    "threading_layer": "pthreads",
    "architecture": "SkylakeX",
}
SCIPY_BLAS = {**NUMPY_BLAS, "version": "0.3.31.188.0"}
OPENMP = {"user_api": "openmp", "internal_api": "openmp", "prefix": "libgomp", "version": "None"}
MANIFEST = Manifest(
    environment=Environment(
        python_version="3.11.2", python_implementation="CPython", lock_source="uv.lock"
    ),
    platform=Platform(
        system="Linux",
        machine="x86_64",
        libc="glibc 2.36",
        blas=[NUMPY_BLAS, SCIPY_BLAS, OPENMP],
    ),
)
TRAINED = parse_requirements(LOCK)
IMAGE_ID = "sha256:" + "1" * 64
FACTS = ImageFacts(
    reference="template:latest",
    image_id=IMAGE_ID,
    repo_digest=None,
    python="3.11.2",
    implementation="CPython",
    executable="/opt/venv/bin/python",
    machine="x86_64",
    libc="glibc 2.36",
    distributions={"numpy": "2.3.4", "scikit-learn": "1.7.2", "mlflow-repro": "0.9.0"},
    # thread counts and the kernel OpenBLAS chose belong to the machine: not compared
    blas=[
        {**SCIPY_BLAS, "num_threads": "2", "architecture": "Haswell"},
        {**NUMPY_BLAS, "num_threads": "2"},
        OPENMP,
    ],
    imported=["numpy", "scipy.linalg", "sklearn"],
    lock=LOCK,
    markers={"sys_platform": "linux", "python_full_version": "3.11.2"},
)


def statuses(facts: ImageFacts, manifest: Manifest = MANIFEST, **kw: Any) -> dict[str, str]:
    report = image_parity(manifest, TRAINED, facts, **kw)
    return {i.name: i.status for i in report.items}


def test_an_image_built_from_the_same_lock_matches_by_version_and_hash() -> None:
    report = image_parity(MANIFEST, TRAINED, FACTS, target="r1", run_id="r1")
    assert report.verdict == "match", report.mismatches
    found = {i.name: i for i in report.items}
    assert found["scikit-learn"].detail == "version and hash"
    assert found["numpy"].detail == "version and hash"
    assert "pywin32" not in found  # its marker holds nowhere here
    assert found["libc"].status == found["machine"].status == found["python"].status == "match"
    assert found["blas:openblas libscipy_openblas"].training == "0.3.30, 0.3.31.188.0"
    assert found["blas:openblas libscipy_openblas"].status == "match"
    assert found["openmp:openmp libgomp"].status == "match"
    assert found["mlflow-repro"].status == "extra"
    # two copies of one OpenMP (torch's and scikit-learn's libgomp) are the same library
    twice = dataclasses.replace(
        MANIFEST,
        platform=dataclasses.replace(MANIFEST.platform, blas=[*MANIFEST.platform.blas, OPENMP]),
    )
    assert statuses(FACTS, twice)["openmp:openmp libgomp"] == "match"
    assert "sha256" not in found  # every hash was compared
    text = parity_text(report)
    assert text.startswith(f"parity of run r1 with image template:latest ({IMAGE_ID})")
    assert "the run ran on a host, not in a container" in text


def test_a_host_run_against_an_image_names_the_python_that_differs() -> None:
    host = dataclasses.replace(
        MANIFEST, environment=dataclasses.replace(MANIFEST.environment, python_version="3.11.7")
    )
    report = image_parity(host, TRAINED, FACTS, run_id="r1")
    assert [(i.name, i.training, i.serving) for i in report.mismatches] == [
        ("python", "3.11.7", "3.11.2")
    ]
    assert report.verdict == "mismatch" and report.exit_code == 1
    assert "version-differs python: training 3.11.7, serving 3.11.2" in parity_text(report)


def test_an_image_with_another_scikit_learn_names_it() -> None:
    # a derived image: `pip install --no-deps` of another wheel over the recipe's venv; its lock
    # still names 1.7.2, which no longer describes what is installed
    other = dataclasses.replace(
        FACTS,
        distributions={**FACTS.distributions, "scikit-learn": "1.5.2"},
        wheels={"scikit-learn": OTHER_BUILD},
    )
    report = image_parity(MANIFEST, TRAINED, other, run_id="r1")
    assert [(i.name, i.status, i.training, i.serving) for i in report.mismatches] == [
        ("scikit-learn", "version-differs", "1.7.2", "1.5.2")
    ]
    assert "scikit-learn: training 1.7.2, serving 1.5.2" in parity_text(report)


def test_the_installed_files_own_hash_wins_over_the_images_lock() -> None:
    # the same version rebuilt and installed from a file: the lock's hashes for 1.7.2 would
    # match, but they do not describe the file that is installed
    rebuilt = dataclasses.replace(FACTS, wheels={"scikit-learn": OTHER_BUILD})
    assert statuses(rebuilt)["scikit-learn"] == "hash-differs"
    same_file = dataclasses.replace(FACTS, wheels={"scikit-learn": SKLEARN_172})
    assert statuses(same_file)["scikit-learn"] == "match"


def test_an_image_without_recorded_hashes_says_they_could_not_be_compared() -> None:
    bare = dataclasses.replace(FACTS, lock=None)
    report = image_parity(MANIFEST, TRAINED, bare, run_id="r1")
    assert report.verdict == "match"  # versions match; hashes are not claimed to
    found = {i.name: i for i in report.items}
    assert found["scikit-learn"].detail.startswith("version; sha256 not compared")
    assert not any(i.detail == "version and hash" for i in report.items)
    hashes = found["sha256"]
    assert hashes.status == "unchecked"
    assert "2 package(s) compared by version only" in hashes.detail
    assert "/opt/mlflow-repro/requirements.lock.txt" in hashes.detail
    assert "unchecked       sha256" in parity_text(report)
    # the image's lock naming another version than installed is not used for its hash
    stale = dataclasses.replace(FACTS, lock=LOCK.replace("numpy==2.3.4", "numpy==2.3.3"))
    found = {i.name: i for i in image_parity(MANIFEST, TRAINED, stale).items}
    assert "lock names 2.3.3, 2.3.4 installed" in found["numpy"].detail
    assert found["sha256"].status == "unchecked"


def test_glibc_machine_and_blas_are_compared_like_with_like() -> None:
    other = dataclasses.replace(
        FACTS,
        libc="glibc 2.41",
        machine="aarch64",
        blas=[NUMPY_BLAS, {**SCIPY_BLAS, "version": "0.3.29"}],
    )
    report = image_parity(MANIFEST, TRAINED, other)
    found = {i.name: i for i in report.items}
    assert (found["libc"].status, found["libc"].serving) == ("version-differs", "glibc 2.41")
    assert found["machine"].status == "version-differs"
    blas = found["blas:openblas libscipy_openblas"]
    assert (blas.status, blas.serving) == ("version-differs", "0.3.29, 0.3.30")
    assert found["openmp:openmp libgomp"].status == "missing"
    mkl = dataclasses.replace(
        FACTS,
        blas=[*FACTS.blas, {"user_api": "blas", "internal_api": "mkl", "prefix": "libmkl_rt"}],
    )
    assert statuses(mkl)["blas:mkl libmkl_rt"] == "extra"


def test_blas_that_cannot_be_listed_or_was_not_recorded_is_unchecked() -> None:
    no_threadpoolctl = dataclasses.replace(
        FACTS,
        blas=[],
        blas_source="numpy.show_config",
        numpy_blas={"name": "scipy-openblas", "version": "0.3.30"},
    )
    report = image_parity(MANIFEST, TRAINED, no_threadpoolctl)
    blas = {i.name: i for i in report.items}["blas"]
    assert blas.status == "unchecked" and "name scipy-openblas, version 0.3.30" in blas.detail
    nothing_recorded = dataclasses.replace(
        MANIFEST, platform=dataclasses.replace(MANIFEST.platform, blas=[], libc="")
    )
    found = statuses(FACTS, nothing_recorded)
    assert found["blas"] == found["libc"] == "unchecked"


def test_with_the_models_needs_training_tools_the_image_lacks_are_training_only(
    tmp_path: Path,
) -> None:
    (tmp_path / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    sklearn_version: 1.7.2\nmlflow_version: 3.17.2\n"
    )
    (tmp_path / "requirements.txt").write_text(
        'mlflow==3.17.2\nscikit-learn==1.7.2\nscipy\nwaitress==3.0.2; sys_platform == "win32"\n'
    )
    (tmp_path / "python_env.yaml").write_text("python: 3.11.7\n")
    needs = read_model_needs(tmp_path, "model 'model' (m-1)")
    assert needs is not None
    trained = {**TRAINED, "pytest": Pin("9.0.0", frozenset()), "mlflow": Pin("3.17.2", frozenset())}
    report = image_parity(MANIFEST, trained, FACTS, needs)
    found = {i.name: i for i in report.items}
    assert found["pytest"].status == "training-only"
    assert found["mlflow"].status == "missing"  # the model's own library, not installed
    assert found["scipy"].status == "missing"  # the model needs it, the image lacks it
    assert "waitress" not in found  # needed on Windows only
    assert "the model's python_env.yaml names Python 3.11.7, the image has 3.11.2" in (report.notes)
    assert report.model.startswith("model 'model' (m-1): 3 requirements")


def test_the_projects_wheel_is_compared_by_its_file() -> None:
    wheel = InstalledWheel("mlflow-repro", "0.9.0", "file:///w.whl", "f" * 64, "installer")
    manifest = dataclasses.replace(
        MANIFEST, environment=dataclasses.replace(MANIFEST.environment, wheels=[wheel])
    )
    assert statuses(FACTS, manifest)["wheel:mlflow-repro"] == "unchecked"
    same = dataclasses.replace(FACTS, wheels={"mlflow-repro": "f" * 64})
    assert statuses(same, manifest)["wheel:mlflow-repro"] == "match"
    other = dataclasses.replace(FACTS, wheels={"mlflow-repro": "0" * 64})
    assert statuses(other, manifest)["wheel:mlflow-repro"] == "hash-differs"


def test_the_report_says_whether_the_run_ran_in_this_image() -> None:
    def ran_in(image_id: str) -> Manifest:
        container = Container(image="template:latest", image_id=image_id)
        return dataclasses.replace(
            MANIFEST, platform=dataclasses.replace(MANIFEST.platform, container=container)
        )

    assert "the run ran in this image" in " ".join(
        image_parity(ran_in(IMAGE_ID), TRAINED, FACTS).notes
    )
    other = image_parity(ran_in("sha256:" + "2" * 64), TRAINED, FACTS)
    assert any(n.startswith("the run ran in another image") for n in other.notes)


def test_the_image_is_named_by_content() -> None:
    assert FACTS.named == f"image template:latest ({IMAGE_ID})"
    by_id = dataclasses.replace(FACTS, reference="1" * 12, repo_digest="reg/t@sha256:" + "9" * 64)
    assert by_id.named == f"image {IMAGE_ID}, reg/t@sha256:{'9' * 64}"


def test_the_probe_reads_what_capture_records_like_with_like() -> None:
    """The probe's script, run with this interpreter, lists libc and BLAS as capture does."""
    done = subprocess.run(
        [sys.executable, "-", "numpy", "scipy.linalg", "sklearn", "no_such_module"],
        input=probe_script().encode(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    data = imageprobe._parse(done.stdout.decode())
    assert data is not None
    info = docker.ImageInfo(id=IMAGE_ID)
    facts = facts_from("here", info, data)
    code = (
        "import json, numpy, scipy.linalg, sklearn\n"
        "from mlflow_repro.capture.platform import collect_platform\n"
        "p, _ = collect_platform()\n"
        "print(json.dumps({'libc': p.libc, 'machine': p.machine, 'blas': p.blas}))\n"
    )
    captured = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, check=True, timeout=120
        ).stdout
    )
    assert facts.libc == captured["libc"] and facts.machine == captured["machine"]
    assert facts.blas == captured["blas"]
    assert facts.import_failures == {
        "no_such_module": "ModuleNotFoundError: No module named 'no_such_module'"
    }
    assert facts.lock is None  # no /opt/mlflow-repro here
    assert facts.distributions["scikit-learn"]
    manifest = dataclasses.replace(
        MANIFEST,
        environment=dataclasses.replace(
            MANIFEST.environment, frameworks=[FrameworkBuild(name="torch")]
        ),
    )
    assert image_imports(manifest) == ("numpy", "scipy.linalg", "sklearn", "torch")


def test_no_daemon_no_image_or_no_python_is_an_error_never_a_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker, "daemon_problem", lambda: "`docker info` failed: no daemon")
    with pytest.raises(UsageError, match=r"no daemon.*start the Docker daemon"):
        probe_image("template:latest")
    monkeypatch.setattr(docker, "daemon_problem", lambda: None)
    monkeypatch.setattr(docker, "inspect_image", lambda ref: None)
    with pytest.raises(UsageError, match="no such image in the local Docker engine") as caught:
        probe_image("gone:1")
    assert "gone:1" in str(caught.value)
    monkeypatch.setattr(docker, "inspect_image", lambda ref: docker.ImageInfo(id=IMAGE_ID))
    tried: list[str | None] = []

    def no_python(image: str, argv: list[str], **kw: Any) -> process.Result:
        tried.append(kw.get("entrypoint"))
        assert image == IMAGE_ID and "network" not in kw  # docker.run's default: none
        return process.Result(False, b"", "exec: python: not found in $PATH", 127)

    monkeypatch.setattr(docker, "run", no_python)
    with pytest.raises(UsageError, match=r"could not be run.*python3: exec"):
        probe_image("template:latest")
    assert tried == ["python", "python3"]

    def python3_only(image: str, argv: list[str], **kw: Any) -> process.Result:
        if kw.get("entrypoint") == "python":
            return process.Result(False, b"", "not found", 127)
        report = {"python": "3.11.2", "libc": "glibc 2.36", "distributions": {"numpy": "2"}}
        return process.Result(
            True, f"noise\n{imageprobe.MARK}{json.dumps(report)}\n".encode(), None
        )

    monkeypatch.setattr(docker, "run", python3_only)
    facts = probe_image("template:latest")
    assert (facts.image_id, facts.python, facts.distributions) == (
        IMAGE_ID,
        "3.11.2",
        {"numpy": "2"},
    )
