"""A job's prerequisites: its framework from uv.lock, its data from DVC, before `import mlflow`."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from repro_template.errors import ConfigError, DataError
from repro_template.jobs.prerequisites import FRAMEWORKS, ensure_data, ensure_framework

LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python prepare.py
    outs:
    - path: data/table.csv
      hash: md5
      md5: {md5}
      size: 3
"""


def test_a_config_without_a_framework_needs_nothing(tmp_path: Path) -> None:
    ensure_framework(SimpleNamespace(KIND="RandomForest"), "c.yaml", tmp_path)


def test_an_installed_framework_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`json` stands in for an importable framework module: nothing is run (no uv.lock here)."""
    monkeypatch.setitem(FRAMEWORKS, "JsonModel", ("json", "json", "JSON", "none"))
    ensure_framework(SimpleNamespace(KIND="JsonModel"), "c.yaml", tmp_path)


def test_a_missing_framework_without_a_lock_is_a_config_error_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FRAMEWORKS, "Absent", ("no_such_framework_xyz", "absent", "Absent", "0"))
    with pytest.raises(ConfigError) as raised:
        ensure_framework(SimpleNamespace(KIND="Absent"), "confs/c.yaml", tmp_path)
    text = str(raised.value)
    assert "needs no_such_framework_xyz, which is not installed" in text
    assert f"there is no uv.lock in {tmp_path.resolve()}" in text
    assert "`just train confs/c.yaml local`" in text and "conf=" not in text


def test_a_failed_install_is_a_config_error_and_the_lock_is_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group uv.lock does not have: `uv sync` exits non-zero; the error quotes the command."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("needs a virtual environment")
    from tests.conftest import REPO_ROOT

    for name in ("pyproject.toml", "uv.lock"):
        (tmp_path / name).write_bytes((REPO_ROOT / name).read_bytes())
    before = (tmp_path / "uv.lock").read_bytes()
    monkeypatch.setitem(FRAMEWORKS, "Absent", ("no_such_framework_xyz", "no-such-group", "X", "0"))
    with pytest.raises(ConfigError) as raised:
        ensure_framework(SimpleNamespace(KIND="Absent"), "c.yaml", tmp_path)
    assert "installing dependency group 'no-such-group' from uv.lock" in str(raised.value)
    assert "--group no-such-group" in str(raised.value)
    assert (tmp_path / "uv.lock").read_bytes() == before


def test_data_already_in_the_workspace_is_never_touched(tmp_path: Path) -> None:
    (tmp_path / "dvc.lock").write_text(LOCK.format(md5="0" * 32))
    table = tmp_path / "data" / "table.csv"
    table.parent.mkdir()
    table.write_text("edited by the user\n")
    ensure_data("data/table.csv", tmp_path)
    assert table.read_text() == "edited by the user\n"


def test_a_file_dvc_does_not_track_is_left_to_the_job(tmp_path: Path) -> None:
    ensure_data("data/other.csv", tmp_path)  # no dvc.lock entry: nothing to pull
    assert not (tmp_path / "data").exists()


def test_data_dvc_cannot_bring_is_a_data_error_naming_both_attempts(tmp_path: Path) -> None:
    """Not a DVC repository at all: pull and repro both fail, and the error says what each
    said."""
    (tmp_path / "dvc.lock").write_text(LOCK.format(md5=hashlib.md5(b"a,b").hexdigest()))
    with pytest.raises(DataError) as raised:
        ensure_data("data/table.csv", tmp_path)
    text = str(raised.value)
    assert "not in the workspace and DVC could not bring it" in text
    assert "dvc pull said" in text and "dvc repro said" in text


def test_a_copy_outside_git_names_dvcs_own_error(tmp_path: Path) -> None:
    """A `git archive` copy of the template: DVC refuses to work outside a git repository, and
    the error quotes DVC's own first ERROR line for both attempts (not 'exit 255')."""
    import subprocess

    from tests.conftest import REPO_ROOT

    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    with pytest.raises(DataError) as raised:
        ensure_data("data/breast_cancer.csv", tmp_path)
    text = str(raised.value)
    assert f"dvc pull said 'ERROR: {tmp_path} is not a git repository'" in text, text
    assert f"dvc repro said 'ERROR: {tmp_path} is not a git repository'" in text, text
    assert "exit 255" not in text and "run from a git clone" in text
    assert not (tmp_path / "data" / "breast_cancer.csv").exists()
