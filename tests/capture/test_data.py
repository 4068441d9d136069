"""The DVC collector reads dvc.lock and *.dvc as text and compares the workspace by size."""

from __future__ import annotations

import sys
from pathlib import Path

from mlflow_repro.capture.data import collect_data
from tests.conftest import REPO_ROOT, Repo


def test_template_data_versions_come_from_dvc_lock() -> None:
    data, errors = collect_data(REPO_ROOT, REPO_ROOT)
    assert errors == []
    by_path = {f.path: f for f in data.files}
    out = by_path["data/breast_cancer.csv"]
    assert out.role == "out" and out.source == "dvc.lock:prepare"
    assert out.md5 == "5afc23b9622f8f9ffa60824f4e97d0d5" and out.size == 121385
    assert by_path["src/repro_template/jobs/prepare.py"].role == "dep"


def test_dvc_file_outputs_and_workspace_changes(repo: Repo) -> None:
    root = repo.root
    (root / ".dvc").mkdir()
    repo.write(
        "raw.dvc",
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 5\n  hash: md5\n  path: raw.csv\n",
    )
    repo.write(
        "images.dvc",
        "outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n"
        "  size: 10\n  nfiles: 2\n  hash: md5\n  path: images\n",
    )
    repo.commit("dvc files")
    data, _ = collect_data(root, root)
    by_path = {f.path: f for f in data.files}
    assert by_path["raw.csv"].workspace == "missing"
    assert by_path["images"].workspace == "missing"
    assert data.workspace_differs is True

    (root / "raw.csv").write_text("a,b\n1")  # 5 bytes, as locked
    (root / "images").mkdir()
    data, _ = collect_data(root, root)
    assert {f.workspace for f in data.files} == {"same-size", "present"}
    assert data.workspace_differs is False

    (root / "raw.csv").write_text("a,b\n12")
    data, _ = collect_data(root, root)
    assert data.workspace_differs is True


def test_no_dvc(repo: Repo) -> None:
    data, errors = collect_data(repo.root, repo.root)
    assert data.dvc_root is None and data.files == [] and errors == []


def test_a_broken_lock_is_an_error_not_an_exception(repo: Repo) -> None:
    (repo.root / ".dvc").mkdir()
    repo.write("dvc.lock", "stages: [unclosed\n")
    data, errors = collect_data(repo.root, repo.root)
    assert data.files == [] and len(errors) == 1 and "dvc.lock" in errors[0]


def test_capture_path_does_not_import_dvc() -> None:
    assert "dvc" not in sys.modules or "dvc.repo" not in sys.modules
    collect_data(REPO_ROOT, REPO_ROOT)
    assert "dvc.repo" not in sys.modules
    assert Path(REPO_ROOT / "dvc.lock").is_file()


def test_stage_wdir_makes_lock_paths_relative_to_it(repo: Repo) -> None:
    root = repo.root
    (root / ".dvc").mkdir()
    repo.write(
        "sub/dvc.yaml",
        "stages:\n  s:\n    wdir: work\n    cmd: x\n    deps: [in.txt]\n    outs: [out.txt]\n",
    )
    repo.write(
        "sub/dvc.lock",
        "schema: '2.0'\nstages:\n  s:\n    cmd: x\n"
        "    deps:\n    - path: in.txt\n      md5: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "      size: 3\n    outs:\n    - path: out.txt\n"
        "      md5: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n      size: 4\n",
    )
    repo.write("sub/work/in.txt", "abc")
    repo.write("sub/work/out.txt", "abcd")
    repo.commit("nested stage with wdir")
    data, errors = collect_data(root, root)
    assert errors == []
    assert {f.path: f.workspace for f in data.files} == {
        "sub/work/in.txt": "same-size",
        "sub/work/out.txt": "same-size",
    }
    assert data.workspace_differs is False


def test_an_import_url_source_is_recorded_without_its_credentials(repo: Repo) -> None:
    (repo.root / ".dvc").mkdir()
    repo.write(
        "table.csv.dvc",
        "deps:\n- etag: abc123\n  size: 5\n"
        "  path: https://bot:s3cr3tT0ken@data.example.invalid/t.csv?sig=AbC123XyZ\n"
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 5\n"
        "  hash: md5\n  path: table.csv\n",
    )
    repo.commit("import-url")
    data, errors = collect_data(repo.root, repo.root)
    assert errors == []
    [source] = [f for f in data.files if f.role == "dep"]
    assert source.path == "https://data.example.invalid/t.csv"
    assert source.workspace == "unknown"
