"""Model-file hashes: raw bytes, and content with the object ids and save times removed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from mlflow_repro.modelfiles import model_digest, model_files


def keras_archive(path: Path, object_id: int, saved: str, weights: bytes = b"W") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"layers": [{"shared_object_id": object_id}, {"shared_object_id": object_id + 8}]}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3", "date_saved": saved}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
    return path


def sklearn_model(directory: Path, random_state: int) -> Path:
    import mlflow.sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=random_state)
    mlflow.sklearn.save_model(
        model.fit(x, y), str(directory), skops_trusted_types=["sklearn.tree._tree.Tree"]
    )
    return directory


def renumber_skops(source: Path, target: Path) -> None:
    """The same skops file as another process would write it: every object id shifted."""
    import re

    def shift(match: re.Match[str]) -> str:
        return str(int(match.group(0)) + 4096)

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "schema.json":
                text = re.sub(r"(?<=\"__id__\": )\d+", shift, data.decode())
                data = re.sub(r"(?<=\"file\": \")\d+(?=\.npy)", shift, text).encode()
            new.writestr(re.sub(r"^\d+(?=\.npy$)", shift, info.filename), data)


def test_equal_sklearn_models_have_equal_content_whatever_their_object_ids(
    tmp_path: Path,
) -> None:
    a = {f.path: f for f in model_files(sklearn_model(tmp_path / "a", 1))}
    b = {f.path: f for f in model_files(sklearn_model(tmp_path / "b", 1))}
    assert a["model.skops"].canonical == "skops"
    assert a["model.skops"].content == b["model.skops"].content
    assert a["MLmodel"].canonical == "logging-metadata"
    assert model_digest(list(a.values())) == model_digest(list(b.values()))

    renumber_skops(tmp_path / "a" / "model.skops", tmp_path / "model.skops")
    [moved] = [f for f in model_files(tmp_path) if f.path == "model.skops"]
    assert moved.sha256 != a["model.skops"].sha256
    assert moved.content == a["model.skops"].content


def test_a_different_model_has_a_different_digest(tmp_path: Path) -> None:
    a = model_files(sklearn_model(tmp_path / "a", 1))
    c = model_files(sklearn_model(tmp_path / "c", 2))
    assert model_digest(a) != model_digest(c)


def test_keras_archives_differ_in_ids_and_save_time_only(tmp_path: Path) -> None:
    first = keras_archive(tmp_path / "a" / "data" / "model.keras", 140001, "2026-11-23@10:00:00")
    second = keras_archive(tmp_path / "b" / "data" / "model.keras", 150007, "2026-11-24@11:00:00")
    [a], [b] = model_files(tmp_path / "a"), model_files(tmp_path / "b")
    assert a.canonical == "keras" and a.sha256 != b.sha256 and a.content == b.content
    other = keras_archive(tmp_path / "c" / "data" / "model.keras", 140001, "x", weights=b"V")
    [c] = model_files(other.parents[1])
    assert c.content != a.content  # the weights are content
    assert first.read_bytes() != second.read_bytes()  # the archives themselves differ


def test_keras_ids_are_renumbered_by_structure_not_erased(tmp_path: Path) -> None:
    """Two layers sharing one object differ from two layers with their own objects."""
    shared = tmp_path / "s" / "model.keras"
    shared.parent.mkdir()
    with zipfile.ZipFile(shared, "w") as archive:
        archive.writestr("config.json", '[{"shared_object_id": 5}, {"shared_object_id": 5}]')
    separate = tmp_path / "p" / "model.keras"
    separate.parent.mkdir()
    with zipfile.ZipFile(separate, "w") as archive:
        archive.writestr("config.json", '[{"shared_object_id": 5}, {"shared_object_id": 6}]')
    [s], [p] = model_files(shared.parent), model_files(separate.parent)
    assert s.content != p.content


def test_other_files_are_compared_by_their_bytes(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "model.pt2").write_bytes(b"exported program")
    (tmp_path / "requirements.txt").write_text("torch==2.13.0\n")
    files = model_files(tmp_path)
    assert [f.path for f in files] == ["data/model.pt2", "requirements.txt"]
    assert all(f.canonical == "bytes" and f.content == f.sha256 for f in files)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        model_files(tmp_path / "nowhere")


def pt2_archive(path: Path, checkout: str, serialization_id: str, weight: bytes = b"W") -> Path:
    """An exported program as torch writes it: stack traces name the source files' paths."""
    path.parent.mkdir(parents=True, exist_ok=True)
    trace = f'File "{checkout}/src/job.py", line 6, in forward\n    return x - self.mean'
    program = {
        "graph_module": {
            "graph": {"nodes": [{"target": "sub", "metadata": {"stack_trace": trace}}]}
        },
        "torch_version": "2.13.0",
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/models/model.json", json.dumps(program))
        archive.writestr("model/data/weights/weight_0", weight)
        archive.writestr("model/.data/serialization_id", serialization_id)
    return path


def test_pt2_programs_from_other_checkouts_have_equal_content(tmp_path: Path) -> None:
    """A replay exports from a fresh clone: other paths, another serialization id, same model."""
    from mlflow_repro.modelfiles import NORMALISED

    pt2_archive(tmp_path / "a" / "data" / "model.pt2", "/home/ana/project", "1208098156")
    pt2_archive(tmp_path / "b" / "data" / "model.pt2", "/tmp/replay/workspace", "9655401")
    [fa], [fb] = model_files(tmp_path / "a"), model_files(tmp_path / "b")
    assert fa.canonical == fb.canonical == "pt2"
    assert fa.sha256 != fb.sha256 and fa.content == fb.content
    assert "stack traces" in NORMALISED["pt2"]
    pt2_archive(tmp_path / "c" / "data" / "model.pt2", "/home/ana/project", "1", weight=b"X")
    [fc] = model_files(tmp_path / "c")
    assert fc.content != fa.content  # a weight changed: a different model
    assert (
        model_digest(tmp_path / "a") == model_digest(tmp_path / "b") != model_digest(tmp_path / "c")
    )
