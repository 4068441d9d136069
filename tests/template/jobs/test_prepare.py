"""The DVC stage `prepare` writes the same bytes every time, the bytes dvc.lock records."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from repro_template.jobs.prepare import main, write_table

ROOT = Path(__file__).resolve().parents[3]


def locked_out(path: str) -> dict[str, object]:
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    outs = lock["stages"]["prepare"]["outs"]
    return next(o for o in outs if o["path"] == path)


def test_table_matches_the_md5_and_size_in_dvc_lock(tmp_path: Path) -> None:
    out = write_table("breast_cancer", tmp_path / "t.csv")
    data = out.read_bytes()
    locked = locked_out("data/breast_cancer.csv")
    assert hashlib.md5(data).hexdigest() == locked["md5"]
    assert len(data) == locked["size"]


def test_two_writes_are_byte_identical(tmp_path: Path) -> None:
    a = write_table("wine", tmp_path / "a.csv").read_bytes()
    b = write_table("wine", tmp_path / "b.csv").read_bytes()
    assert a == b
    assert a.splitlines()[0].endswith(b",target")


def test_stage_dependency_in_dvc_lock_is_this_source() -> None:
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    dep = lock["stages"]["prepare"]["deps"][0]
    source = ROOT / dep["path"]
    assert hashlib.md5(source.read_bytes()).hexdigest() == dep["md5"], (
        "prepare.py changed since dvc.lock was written: run `uv run dvc repro` and commit dvc.lock"
    )


def test_unknown_dataset_is_refused_with_the_choices(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--dataset", "mnist", "--out", str(tmp_path / "x.csv")])
    assert info.value.code != 0
    assert not (tmp_path / "x.csv").exists()
