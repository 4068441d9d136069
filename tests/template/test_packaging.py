"""`just package`: reproducible wheels from hash-checked build dependencies, recorded by capture."""

from __future__ import annotations

import json
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from repro_template import packaging
from repro_template.errors import PackageError
from tests.conftest import REPO_ROOT, copy_template, run, venv_env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_template(tmp_path / "project")


def test_two_builds_of_the_same_commit_are_byte_identical(tmp_path: Path) -> None:
    result = packaging.verify(REPO_ROOT, tmp_path)
    assert result.identical, result.differences
    assert result.first.wheel.read_bytes() == result.second.wheel.read_bytes()
    assert result.first.wheel.name.startswith("mlflow_repro-")
    requirements = result.first.requirements.read_text()
    assert "mlflow==" in requirements and "--hash=sha256:" in requirements
    assert "hatchling" not in requirements
    names = {m.filename.split("/")[0] for m in zipfile.ZipFile(result.first.wheel).infolist()}
    assert names == {"mlflow_repro", "mlflow_repro-0.1.0.dist-info"}  # the template stays out


def test_one_changed_byte_of_source_changes_the_wheel(project: Path, tmp_path: Path) -> None:
    epoch = packaging.commit_epoch(project)
    before = packaging.build(project, tmp_path / "a", epoch)
    source = project / "src" / "mlflow_repro" / "replay" / "__init__.py"
    data = bytearray(source.read_bytes())
    data[4] = ord("X") if data[4] != ord("X") else ord("Y")
    source.write_bytes(bytes(data))
    after = packaging.build(project, tmp_path / "b", epoch)
    assert before.sha256 != after.sha256
    differences = packaging.diff_wheels(before.wheel, after.wheel)
    assert "mlflow_repro/replay/__init__.py: content" in differences
    assert not any(d.startswith("mlflow_repro/cli.py") for d in differences)


def test_a_tampered_build_constraint_hash_is_refused(project: Path, tmp_path: Path) -> None:
    constraints = project / packaging.BUILD_CONSTRAINTS
    text = constraints.read_text()
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("hatchling=="))
    for i in range(index + 1, len(lines)):
        if "--hash=sha256:" not in lines[i]:
            break
        head, digest = lines[i].rsplit("sha256:", 1)
        lines[i] = head + "sha256:" + "0" * 64 + digest[64:]
    constraints.write_text("\n".join(lines) + "\n")
    with pytest.raises(PackageError) as info:
        packaging.build(project, tmp_path / "out")
    message = str(info.value).lower()
    assert "hash" in message and "hatchling" in message
    assert not list((tmp_path / "out").glob("*.whl"))


def test_missing_build_constraints_say_how_to_make_them(project: Path, tmp_path: Path) -> None:
    (project / packaging.BUILD_CONSTRAINTS).unlink()
    with pytest.raises(PackageError, match="just package-constraints"):
        packaging.build(project, tmp_path / "out")


def test_build_backend_stays_out_of_runtime_dependencies() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    runtime = " ".join(pyproject["project"]["dependencies"]).lower()
    assert "hatchling" not in runtime
    constraints = (REPO_ROOT / packaging.BUILD_CONSTRAINTS).read_text()
    pinned = [line for line in constraints.splitlines() if "==" in line]
    assert any(line.startswith("hatchling==") for line in pinned)
    # every pinned build requirement is followed by at least one hash line
    blocks = constraints.split("\n")
    for i, line in enumerate(blocks):
        if "==" in line:
            assert blocks[i + 1].strip().startswith("--hash=sha256:"), line


def _zip(
    path: Path, members: dict[str, bytes], date: tuple[int, ...] = (2020, 1, 1, 0, 0, 0)
) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=date), data)  # type: ignore[arg-type]
    return path


def test_diff_wheels_names_what_differs(tmp_path: Path) -> None:
    a = _zip(tmp_path / "a.whl", {"p/x.py": b"1", "p/y.py": b"2", "p/gone.py": b""})
    b = _zip(tmp_path / "b.whl", {"p/x.py": b"1", "p/y.py": b"3", "p/new.py": b""})
    assert packaging.diff_wheels(a, b) == [
        "only in a.whl: p/gone.py",
        "only in b.whl: p/new.py",
        "p/y.py: content",
    ]
    c = _zip(tmp_path / "c.whl", {"p/x.py": b"1"}, date=(2021, 1, 1, 0, 0, 0))
    d = _zip(tmp_path / "d.whl", {"p/x.py": b"1"})
    assert packaging.diff_wheels(c, d)[0].startswith("p/x.py: timestamp")


def test_capture_records_the_installed_wheel_and_its_sha256(tmp_path: Path) -> None:
    built = packaging.build(REPO_ROOT, tmp_path / "dist")
    target = tmp_path / "site"
    run(
        ["uv", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(built.wheel)],
        cwd=tmp_path,
    )
    code = (
        "import json, mlflow_repro\n"
        "from mlflow_repro.capture.environment import installed_wheels\n"
        "print(json.dumps([mlflow_repro.__file__, [w.__dict__ for w in installed_wheels()]]))\n"
    )
    done = run([sys.executable, "-c", code], cwd=tmp_path, env=venv_env(PYTHONPATH=str(target)))
    module_file, wheels = json.loads(done.stdout)
    assert module_file.startswith(str(target))
    [wheel] = [w for w in wheels if w["name"] == "mlflow-repro"]
    assert wheel["sha256"] == built.sha256
    assert wheel["url"].endswith(built.wheel.name)

    # A run made with the wheel's code carries the wheel's sha256 in its manifest and tags.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    script = (
        "import mlflow, mlflow_repro\n"
        f"assert mlflow_repro.__file__.startswith({str(target)!r})\n"
        "with mlflow.start_run() as r: print('RUN_ID=' + r.info.run_id)\n"
    )
    done = run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=venv_env(PYTHONPATH=str(target), MLFLOW_TRACKING_URI=uri),
    )
    run_id = next(x[7:] for x in done.stdout.splitlines() if x.startswith("RUN_ID="))
    from mlflow.tracking import MlflowClient

    from mlflow_repro.manifest import Manifest

    client = MlflowClient(tracking_uri=uri)
    local = client.download_artifacts(run_id, "repro/manifest.json", str(tmp_path / "dl"))
    manifest = Manifest.from_json(Path(local).read_text())
    recorded = {w.name: w for w in manifest.environment.wheels}
    assert recorded["mlflow-repro"].sha256 == built.sha256


def test_the_checksum_file_covers_the_wheel_and_its_requirements(tmp_path: Path) -> None:
    """dist/SHA256SUMS in sha256sum's format, checkable with `sha256sum -c` from dist/; a stale
    one from an earlier build is replaced, never a reason to refuse the folder (nor is the
    `.gitignore` uv build leaves there: `just package` twice builds twice)."""
    out = tmp_path / "dist"
    out.mkdir()
    (out / packaging.CHECKSUMS).write_text(f"{'0' * 64}  old.whl\n")
    built = packaging.build(REPO_ROOT, out)
    assert built.checksums == out / "SHA256SUMS"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".gitignore", "SHA256SUMS", built.wheel.name, "requirements.txt"]
    )
    lines = built.checksums.read_text().splitlines()
    assert lines == [
        f"{built.sha256}  {built.wheel.name}",
        f"{packaging.sha256(built.requirements)}  requirements.txt",
    ]
    done = run(["sha256sum", "-c", "SHA256SUMS"], cwd=out)
    assert done.stdout.splitlines() == [f"{built.wheel.name}: OK", "requirements.txt: OK"]
    built.requirements.write_text(built.requirements.read_text() + "# changed\n")
    assert run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, check=False).returncode == 1
    # The command prints where it is and how to check it.
    done = run(
        [sys.executable, "-m", "repro_template", "package", "--out-dir", str(out)],
        cwd=REPO_ROOT,
    )
    assert f"checksums: {out / 'SHA256SUMS'} (check a copy: cd {out} && sha256sum -c" in done.stdout
    assert run(["sha256sum", "-c", "SHA256SUMS"], cwd=out).returncode == 0


def test_out_dir_that_holds_other_files_is_never_cleared(project: Path) -> None:
    with pytest.raises(PackageError, match="is the project or contains it"):
        packaging.build(project, project)
    with pytest.raises(PackageError, match="refusing to clear --out-dir"):
        packaging.build(project, project / "src")
    assert (project / "src" / "mlflow_repro" / "__init__.py").is_file()


def test_the_wheel_metadata_is_valid_and_ready_to_publish(tmp_path: Path) -> None:
    """What `twine check` and PyPI read, checked against the core metadata specification
    (`packaging.metadata`, validating): the name, the version from its one home, a summary,
    the licence with its file, classifiers, the Python requirement,
    the extra, the command and the MLflow plugin entry point; and a changelog to release from."""
    from packaging.metadata import Metadata

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wheel = packaging.build(REPO_ROOT, tmp_path / "dist").wheel
    info = f"mlflow_repro-{project['version']}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        metadata = Metadata.from_email(archive.read(f"{info}/METADATA"), validate=True)
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        licence = archive.read(f"{info}/licenses/LICENSE").decode()
    assert metadata.name == "mlflow-repro" and str(metadata.version) == project["version"]
    assert wheel.name == f"mlflow_repro-{project['version']}-py3-none-any.whl"
    assert metadata.summary  # no long description: pyproject.toml must build alone (mlflow run)
    assert metadata.license_expression == "Apache-2.0" and "Apache License" in licence
    assert metadata.license_files == ["LICENSE"]
    assert metadata.classifiers and "Development Status :: 3 - Alpha" in metadata.classifiers
    assert str(metadata.requires_python) == ">=3.11"
    assert metadata.provides_extra == ["dvc", "sign"]
    assert "repro = mlflow_repro.plugin:ReproRunContext" in entry_points
    assert "mlflow-repro = mlflow_repro.cli:main" in entry_points
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog") and "\n## [Unreleased]\n" in changelog
    assert "keepachangelog.com" in changelog
